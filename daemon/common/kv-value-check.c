/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "kv-value-check.h"

#include "kv-error.h"
#include "kv-type-name.h"
#include "kv-wire.h"

static gboolean check_shape(const char *key, GVariant *value, guint max_depth,
                            const char *when_too_deep, GError **error)
{
  KvWireShape shape = kv_wire_shape(value);

  /* A file descriptor is only an index into one message's fd list: stored, it would mean
   * nothing to the next reader. */
  if (shape.has_fd) {
    g_autofree char *type_name = kv_type_name(value);
    g_set_error(error, KV_ERROR, KV_ERROR_INVALID_VALUE_TYPE,
                "The value of '%s' (%s) holds a file descriptor; file descriptors cannot be "
                "stored",
                key, type_name);
    return FALSE;
  }
  if (shape.depth > max_depth) {
    g_set_error(error, KV_ERROR, KV_ERROR_INVALID_VALUE_TYPE,
                "The value of '%s' is nested %u containers deep; %s at most %u", key, shape.depth,
                when_too_deep, max_depth);
    return FALSE;
  }
  return TRUE;
}

gboolean kv_value_check_sendable(const char *key, GVariant *value, guint outer_depth,
                                 GError **error)
{
  /* Values stored by older versions can break these rules: they can still be deleted,
   * and read where they fit. */
  return check_shape(key, value, KV_WIRE_MAX_DEPTH - outer_depth,
                     "this reply can carry values nested", error);
}

gboolean kv_value_check_storable(const char *key, GVariant *value, gsize max_value_size,
                                 GError **error)
{
  if (!check_shape(key, value, KV_VALUE_MAX_DEPTH, "kvstored stores values nested", error))
    return FALSE;

  gsize size = g_variant_get_size(value);
  if (size > max_value_size) {
    g_set_error(error, KV_ERROR, KV_ERROR_TOO_LARGE,
                "Value for '%s' is %zu bytes serialized; the limit is %zu bytes", key, size,
                max_value_size);
    return FALSE;
  }
  /* On the wire a boolean takes 4 bytes, not 1, and a struct is aligned to 8. */
  gsize wire_size = kv_wire_end(value, 0);
  if (wire_size > KV_VALUE_WIRE_LIMIT(max_value_size)) {
    g_set_error(error, KV_ERROR, KV_ERROR_TOO_LARGE,
                "Value for '%s' is %zu bytes on the D-Bus wire; the limit is %zu bytes", key,
                wire_size, KV_VALUE_WIRE_LIMIT(max_value_size));
    return FALSE;
  }
  return TRUE;
}
