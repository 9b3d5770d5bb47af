#include "kv-service.h"

#include "kv-error.h"
#include "kv-increment.h"
#include "kv-type-name.h"

#include <string.h>

struct _KvService {
  KvRepository *repository;
  gsize max_value_size;
};

KvService *kv_service_new(KvRepository *repository, gsize max_value_size)
{
  KvService *self = g_new0(KvService, 1);

  self->repository = repository;
  self->max_value_size = max_value_size;
  return self;
}

void kv_service_free(KvService *self)
{
  g_free(self);
}

static gboolean validate_key(const char *key, GError **error)
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

static gboolean validate_value(KvService *self, const char *key, GVariant *value, GError **error)
{
  /* A file descriptor is only an index into one message's fd list: stored, it would
   * mean nothing to the next reader. */
  if (strchr(g_variant_get_type_string(value), 'h') != NULL) {
    g_autofree char *type_name = kv_type_name(value);
    g_set_error(error, KV_ERROR, KV_ERROR_INVALID_VALUE_TYPE,
                "Cannot store a %s under '%s': file descriptors cannot be stored", type_name, key);
    return FALSE;
  }

  gsize size = g_variant_get_size(value);
  if (size > self->max_value_size) {
    g_set_error(error, KV_ERROR, KV_ERROR_TOO_LARGE,
                "Value for '%s' is %zu bytes serialized; the limit is %zu bytes", key, size,
                self->max_value_size);
    return FALSE;
  }
  return TRUE;
}

GVariant *kv_service_get(KvService *self, const char *key, GError **error)
{
  if (!validate_key(key, error))
    return NULL;

  GVariant *value = kv_repository_get(self->repository, key);
  if (value == NULL)
    g_set_error(error, KV_ERROR, KV_ERROR_NOT_FOUND, "Key '%s' not found", key);
  return value;
}

gboolean kv_service_set(KvService *self, const char *key, GVariant *value, GError **error)
{
  g_autoptr(GVariant) owned = g_variant_ref_sink(value);

  if (!validate_key(key, error) || !validate_value(self, key, owned, error))
    return FALSE;
  return kv_repository_set(self->repository, key, owned, error);
}

gboolean kv_service_exists(KvService *self, const char *key, gboolean *out_exists, GError **error)
{
  if (!validate_key(key, error))
    return FALSE;

  *out_exists = kv_repository_exists(self->repository, key);
  return TRUE;
}

gboolean kv_service_delete(KvService *self, const char *key, gboolean *out_existed, GError **error)
{
  if (!validate_key(key, error))
    return FALSE;
  return kv_repository_delete(self->repository, key, out_existed, error);
}

gboolean kv_service_increment(KvService *self, const char *key, gint64 delta, gint64 *out_value,
                              GError **error)
{
  if (!validate_key(key, error))
    return FALSE;

  g_autoptr(GVariant) current = kv_repository_get(self->repository, key);
  g_autoptr(GError) local_error = NULL;
  gint64 result;
  g_autoptr(GVariant) next = kv_increment(current, delta, &result, &local_error);
  if (next == NULL) {
    g_propagate_prefixed_error(error, g_steal_pointer(&local_error),
                               "Cannot increment '%s': ", key);
    return FALSE;
  }
  if (!validate_value(self, key, next, error) ||
      !kv_repository_set(self->repository, key, next, error))
    return FALSE;

  *out_value = result;
  return TRUE;
}

void kv_service_foreach(KvService *self, const char *prefix, gboolean with_values,
                        KvRepositoryForeachFunc func, gpointer user_data)
{
  kv_repository_foreach(self->repository, prefix, with_values, func, user_data);
}

guint kv_service_count(KvService *self)
{
  return kv_repository_count(self->repository);
}

gboolean kv_service_commit(KvService *self, GError **error)
{
  return kv_repository_commit(self->repository, error);
}
