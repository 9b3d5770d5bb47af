#include "kv-service.h"

#include "kv-error.h"
#include "kv-increment.h"
#include "kv-type-name.h"

#include <stdlib.h>
#include <string.h>

struct _KvService {
  KvRepository *repository;
  gsize max_value_size;
  KvServiceChangeFunc on_change;
  gpointer on_change_data;
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

void kv_service_set_change_func(KvService *self, KvServiceChangeFunc func, gpointer user_data)
{
  self->on_change = func;
  self->on_change_data = user_data;
}

/* Applies @changes as one revision and tells the observer about each. */
static gboolean apply(KvService *self, const KvChange *changes, gsize n_changes,
                      guint64 *out_revision, GError **error)
{
  if (!kv_repository_apply(self->repository, changes, n_changes, error))
    return FALSE;

  guint64 revision = kv_repository_revision(self->repository);
  if (self->on_change != NULL)
    for (gsize i = 0; i < n_changes; i++)
      self->on_change(changes[i].key, changes[i].value, revision, self->on_change_data);
  if (out_revision != NULL)
    *out_revision = revision;
  return TRUE;
}

static gboolean apply_one(KvService *self, const char *key, GVariant *value, guint64 *out_revision,
                          GError **error)
{
  KvChange change = {key, value};

  return apply(self, &change, 1, out_revision, error);
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

/* validate_key() for each of @keys: a batch is refused whole. */
static gboolean validate_keys(const char *const *keys, GError **error)
{
  for (gsize i = 0; keys[i] != NULL; i++)
    if (!validate_key(keys[i], error))
      return FALSE;
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

GVariant *kv_service_get_with_revision(KvService *self, const char *key, guint64 *out_revision,
                                       GError **error)
{
  if (!validate_key(key, error))
    return NULL;

  GVariant *value = kv_repository_lookup(self->repository, key, out_revision);
  if (value == NULL)
    g_set_error(error, KV_ERROR, KV_ERROR_NOT_FOUND, "Key '%s' not found", key);
  return value;
}

GVariant *kv_service_get(KvService *self, const char *key, GError **error)
{
  return kv_service_get_with_revision(self, key, NULL, error);
}

GVariant *kv_service_get_many(KvService *self, const char *const *keys, GError **error)
{
  GVariantBuilder found;

  if (!validate_keys(keys, error))
    return NULL;
  g_variant_builder_init(&found, G_VARIANT_TYPE("a{sv}"));
  for (gsize i = 0; keys[i] != NULL; i++) {
    g_autoptr(GVariant) value = kv_repository_get(self->repository, keys[i]);
    if (value != NULL)
      g_variant_builder_add(&found, "{sv}", keys[i], value);
  }
  return g_variant_ref_sink(g_variant_builder_end(&found));
}

static int compare_changes(gconstpointer a, gconstpointer b)
{
  return strcmp(((const KvChange *)a)->key, ((const KvChange *)b)->key);
}

gboolean kv_service_set_many(KvService *self, GVariant *entries, guint64 *out_revision,
                             GError **error)
{
  g_autoptr(GVariant) owned = g_variant_ref_sink(entries);
  gsize n = g_variant_n_children(owned);
  g_autoptr(GPtrArray) values = g_ptr_array_new_with_free_func((GDestroyNotify)g_variant_unref);
  g_autofree KvChange *changes = g_new0(KvChange, MAX(n, 1));

  for (gsize i = 0; i < n; i++) {
    g_variant_get_child(owned, i, "{&sv}", &changes[i].key, &changes[i].value);
    g_ptr_array_add(values, changes[i].value);
    if (!validate_key(changes[i].key, error) ||
        !validate_value(self, changes[i].key, changes[i].value, error))
      return FALSE;
  }
  /* Key order: the order the signals of a batch go out in, and duplicates side by side. */
  qsort(changes, n, sizeof *changes, compare_changes);
  for (gsize i = 1; i < n; i++)
    if (strcmp(changes[i - 1].key, changes[i].key) == 0) {
      g_set_error(error, KV_ERROR, KV_ERROR_INVALID_KEY, "Key '%s' appears twice in the batch",
                  changes[i].key);
      return FALSE;
    }

  if (n == 0) {
    *out_revision = kv_repository_revision(self->repository);
    return TRUE;
  }
  return apply(self, changes, n, out_revision, error);
}

gboolean kv_service_delete_many(KvService *self, const char *const *keys, guint *out_deleted,
                                guint64 *out_revision, GError **error)
{
  g_autoptr(GArray) changes = g_array_new(FALSE, FALSE, sizeof(KvChange));

  if (!validate_keys(keys, error))
    return FALSE;
  for (gsize i = 0; keys[i] != NULL; i++)
    if (kv_repository_exists(self->repository, keys[i])) {
      KvChange change = {keys[i], NULL};
      g_array_append_val(changes, change);
    }
  g_array_sort(changes, compare_changes);
  /* A key named twice is deleted once. */
  for (guint i = 1; i < changes->len;)
    if (strcmp(g_array_index(changes, KvChange, i - 1).key,
               g_array_index(changes, KvChange, i).key) == 0)
      g_array_remove_index(changes, i);
    else
      i++;

  *out_deleted = changes->len;
  if (changes->len == 0) {
    *out_revision = kv_repository_revision(self->repository);
    return TRUE;
  }
  return apply(self, (KvChange *)changes->data, changes->len, out_revision, error);
}

/* The revision @key is at, 0 when it does not exist; CONFLICT unless it is @expected. */
static gboolean check_revision(KvService *self, const char *key, guint64 expected, GError **error)
{
  guint64 current = 0;
  g_autoptr(GVariant) value = kv_repository_lookup(self->repository, key, &current);

  if (current == expected)
    return TRUE;
  if (current == 0)
    g_set_error(error, KV_ERROR, KV_ERROR_CONFLICT,
                "Key '%s' does not exist (revision 0), not at revision %" G_GUINT64_FORMAT, key,
                expected);
  else
    g_set_error(error, KV_ERROR, KV_ERROR_CONFLICT,
                "Key '%s' is at revision %" G_GUINT64_FORMAT ", not %" G_GUINT64_FORMAT, key,
                current, expected);
  return FALSE;
}

gboolean kv_service_compare_and_set(KvService *self, const char *key, guint64 expected_revision,
                                    GVariant *value, guint64 *out_revision, GError **error)
{
  g_autoptr(GVariant) owned = g_variant_ref_sink(value);

  if (!validate_key(key, error) || !validate_value(self, key, owned, error) ||
      !check_revision(self, key, expected_revision, error))
    return FALSE;
  return apply_one(self, key, owned, out_revision, error);
}

gboolean kv_service_compare_and_delete(KvService *self, const char *key, guint64 expected_revision,
                                       guint64 *out_revision, GError **error)
{
  if (!validate_key(key, error) || !check_revision(self, key, expected_revision, error))
    return FALSE;
  if (expected_revision == 0) {
    *out_revision = kv_repository_revision(self->repository);
    return TRUE;
  }
  return apply_one(self, key, NULL, out_revision, error);
}

guint64 kv_service_revision(KvService *self)
{
  return kv_repository_revision(self->repository);
}

gboolean kv_service_set(KvService *self, const char *key, GVariant *value, GError **error)
{
  g_autoptr(GVariant) owned = g_variant_ref_sink(value);

  if (!validate_key(key, error) || !validate_value(self, key, owned, error))
    return FALSE;
  return apply_one(self, key, owned, NULL, error);
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
  *out_existed = kv_repository_exists(self->repository, key);
  /* Deleting a missing key is not an error, and not a change. */
  return !*out_existed || apply_one(self, key, NULL, NULL, error);
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
  if (!validate_value(self, key, next, error) || !apply_one(self, key, next, NULL, error))
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
