/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What a call must be before the service reads or writes anything: its keys, their
 * number, its values. Used by the reads (kv-service.c) and the writes
 * (kv-service-write.c) alike, so that neither needs the other for it. */
#include "kv-service-private.h"

#include "kv-error.h"
#include "kv-value-check.h"

#include <string.h>

gboolean kv_service_validate_key(const char *key, GError **error)
{
  gsize length = strlen(key);

  if (length == 0) {
    g_set_error_literal(error, KV_ERROR, KV_ERROR_INVALID_KEY, "Key must not be empty");
    return FALSE;
  }
  if (length > KV_KEY_MAX_BYTES) {
    g_set_error(error, KV_ERROR, KV_ERROR_INVALID_KEY,
                "Key is %zu bytes long; the limit is %d bytes", length, KV_KEY_MAX_BYTES);
    return FALSE;
  }
  return TRUE;
}

gboolean kv_service_validate_keys(const char *const *keys, GError **error)
{
  for (gsize i = 0; keys[i] != NULL; i++)
    if (!kv_service_validate_key(keys[i], error))
      return FALSE;
  return TRUE;
}

/* Its cost is bounded before any work. */
gboolean kv_service_validate_batch_size(gsize n, GError **error)
{
  if (n <= KV_BATCH_MAX_KEYS)
    return TRUE;
  g_set_error(error, KV_ERROR, KV_ERROR_TOO_LARGE,
              "The call names more than %d keys; one call takes at most %d (split it)",
              KV_BATCH_MAX_KEYS, KV_BATCH_MAX_KEYS);
  return FALSE;
}

gboolean kv_service_validate_value(KvService *self, const char *key, GVariant *value,
                                   GError **error)
{
  return kv_value_check_storable(key, value, self->max_value_size, error);
}
