/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "kv-service.h"

#include "kv-error.h"
#include "kv-increment.h"
#include "kv-value-check.h"

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

/* kv_service_validate_key() for each of @keys: a batch is refused whole. */
static gboolean validate_keys(const char *const *keys, GError **error)
{
  for (gsize i = 0; keys[i] != NULL; i++)
    if (!kv_service_validate_key(keys[i], error))
      return FALSE;
  return TRUE;
}

/* A batch names at most KV_BATCH_MAX_KEYS keys: its cost is bounded before any work. */
static gboolean validate_batch_size(gsize n, GError **error)
{
  if (n <= KV_BATCH_MAX_KEYS)
    return TRUE;
  g_set_error(error, KV_ERROR, KV_ERROR_TOO_LARGE,
              "The call names more than %d keys; one call takes at most %d (split it)",
              KV_BATCH_MAX_KEYS, KV_BATCH_MAX_KEYS);
  return FALSE;
}

static gboolean validate_value(KvService *self, const char *key, GVariant *value, GError **error)
{
  return kv_value_check_storable(key, value, self->max_value_size, error);
}

GVariant *kv_service_get_with_revision(KvService *self, const char *key, guint64 *out_revision,
                                       GError **error)
{
  if (!kv_service_validate_key(key, error))
    return NULL;

  g_autoptr(GVariant) value = kv_repository_lookup(self->repository, key, out_revision);
  if (value == NULL) {
    g_set_error(error, KV_ERROR, KV_ERROR_NOT_FOUND, "Key '%s' not found", key);
    return NULL;
  }
  /* A reply carries it in a variant. */
  if (!kv_value_check_sendable(key, value, 1, error))
    return NULL;
  return g_steal_pointer(&value);
}

GVariant *kv_service_get(KvService *self, const char *key, GError **error)
{
  return kv_service_get_with_revision(self, key, NULL, error);
}

KvPage *kv_service_get_many(KvService *self, const char *const *keys, gsize max_bytes,
                            KvKeyFilter filter, gpointer filter_data, GError **error)
{
  g_autoptr(GHashTable) seen = g_hash_table_new(g_str_hash, g_str_equal);
  g_autoptr(KvPage) page = kv_page_new(TRUE, KV_BATCH_MAX_KEYS, max_bytes);

  if (!validate_batch_size(g_strv_length((char **)keys), error) || !validate_keys(keys, error))
    return NULL;
  for (gsize i = 0; keys[i] != NULL; i++) {
    if (!g_hash_table_add(seen, (gpointer)keys[i]) ||
        (filter != NULL && !filter(keys[i], filter_data)))
      continue;
    g_autoptr(GVariant) value = kv_repository_get(self->repository, keys[i]);
    if (value == NULL || kv_page_add(page, keys[i], value, error))
      continue;
    if (page->full)
      g_set_error(error, KV_ERROR, KV_ERROR_TOO_LARGE,
                  "The values asked for are more than one reply carries (%zu bytes); ask for "
                  "fewer keys at a time",
                  max_bytes);
    return NULL;
  }
  return g_steal_pointer(&page);
}

typedef struct {
  KvPage *page;
  GError *error;
  KvKeyFilter filter;
  gpointer filter_data;
} PageFill;

static gboolean fill_page(const char *key, GVariant *value, guint64 revision, gpointer user_data)
{
  PageFill *fill = user_data;

  if (fill->filter != NULL && !fill->filter(key, fill->filter_data))
    return TRUE;
  return kv_page_add(fill->page, key, value, &fill->error);
}

KvPage *kv_service_page(KvService *self, const char *prefix, const char *after, guint max_entries,
                        gboolean with_values, gsize max_bytes, KvKeyFilter filter,
                        gpointer filter_data, GError **error)
{
  guint limit = max_entries == 0 ? KV_PAGE_MAX_ENTRIES : MIN(max_entries, KV_PAGE_MAX_ENTRIES);
  PageFill fill = {kv_page_new(with_values, limit, max_bytes), NULL, filter, filter_data};

  kv_repository_foreach(self->repository, prefix, after, with_values, fill_page, &fill);
  if (fill.error != NULL) {
    g_propagate_error(error, fill.error);
    kv_page_free(fill.page);
    return NULL;
  }
  if (fill.page->full)
    fill.page->next = g_strdup(g_ptr_array_index(fill.page->keys, fill.page->keys->len - 1));
  return fill.page;
}

KvPage *kv_service_select(KvService *self, const char *prefix, gboolean with_values,
                          gsize max_bytes, KvKeyFilter filter, gpointer filter_data, GError **error)
{
  g_autoptr(KvPage) page = kv_service_page(self, prefix, NULL, KV_PAGE_MAX_ENTRIES, with_values,
                                           max_bytes, filter, filter_data, error);

  if (page != NULL && page->next != NULL) {
    g_set_error(error, KV_ERROR, KV_ERROR_TOO_LARGE,
                "More keys start with '%s' than one reply carries (%u keys or %zu bytes); "
                "page through them with %s",
                prefix, KV_PAGE_MAX_ENTRIES, max_bytes, with_values ? "GetAllPage" : "KeysPage");
    return NULL;
  }
  return g_steal_pointer(&page);
}

GStrv kv_service_prefix_keys(KvService *self, const char *prefix, KvKeyFilter filter,
                             gpointer filter_data, GError **error)
{
  g_autoptr(KvPage) page = kv_service_page(self, prefix, NULL, KV_BATCH_MAX_KEYS, FALSE, G_MAXSIZE,
                                           filter, filter_data, error);

  if (page == NULL)
    return NULL;
  if (page->next != NULL) {
    g_set_error(error, KV_ERROR, KV_ERROR_TOO_LARGE,
                "More than %d keys start with '%s'; one batch deletes at most %d (delete "
                "longer prefixes, or pages of keys with DeleteMany)",
                KV_BATCH_MAX_KEYS, prefix, KV_BATCH_MAX_KEYS);
    return NULL;
  }
  g_ptr_array_add(page->keys, NULL);
  return (GStrv)g_ptr_array_steal(page->keys, NULL);
}

static int compare_changes(gconstpointer a, gconstpointer b)
{
  return strcmp(((const KvChange *)a)->key, ((const KvChange *)b)->key);
}

gboolean kv_service_set_many(KvService *self, KvChange *changes, gsize n, guint64 *out_revision,
                             GError **error)
{
  if (!validate_batch_size(n, error))
    return FALSE;
  for (gsize i = 0; i < n; i++)
    if (!kv_service_validate_key(changes[i].key, error) ||
        !validate_value(self, changes[i].key, changes[i].value, error))
      return FALSE;
  /* Key order: the order the signals of a batch go out in, and duplicates side by side.
   * Clients often send them in order already: then one pass suffices. */
  gsize sorted = 1;
  while (sorted < n && compare_changes(&changes[sorted - 1], &changes[sorted]) < 0)
    sorted++;
  if (sorted < n)
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

  if (!validate_batch_size(g_strv_length((char **)keys), error) || !validate_keys(keys, error))
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
  GVariant *value = kv_repository_lookup(self->repository, key, &current);

  /* Only its revision counts here. */
  g_clear_pointer(&value, g_variant_unref);
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

  if (!kv_service_validate_key(key, error) || !validate_value(self, key, owned, error) ||
      !check_revision(self, key, expected_revision, error))
    return FALSE;
  return apply_one(self, key, owned, out_revision, error);
}

gboolean kv_service_compare_and_delete(KvService *self, const char *key, guint64 expected_revision,
                                       guint64 *out_revision, GError **error)
{
  if (!kv_service_validate_key(key, error) || !check_revision(self, key, expected_revision, error))
    return FALSE;
  if (expected_revision == 0) {
    *out_revision = kv_repository_revision(self->repository);
    return TRUE;
  }
  return apply_one(self, key, NULL, out_revision, error);
}

gsize kv_service_max_value_size(KvService *self)
{
  return self->max_value_size;
}

guint64 kv_service_revision(KvService *self)
{
  return kv_repository_revision(self->repository);
}

gboolean kv_service_set(KvService *self, const char *key, GVariant *value, GError **error)
{
  g_autoptr(GVariant) owned = g_variant_ref_sink(value);

  if (!kv_service_validate_key(key, error) || !validate_value(self, key, owned, error))
    return FALSE;
  return apply_one(self, key, owned, NULL, error);
}

gboolean kv_service_exists(KvService *self, const char *key, gboolean *out_exists, GError **error)
{
  if (!kv_service_validate_key(key, error))
    return FALSE;

  *out_exists = kv_repository_exists(self->repository, key);
  return TRUE;
}

gboolean kv_service_delete(KvService *self, const char *key, gboolean *out_existed, GError **error)
{
  if (!kv_service_validate_key(key, error))
    return FALSE;
  *out_existed = kv_repository_exists(self->repository, key);
  /* Deleting a missing key is not an error, and not a change. */
  return !*out_existed || apply_one(self, key, NULL, NULL, error);
}

gboolean kv_service_increment(KvService *self, const char *key, gint64 delta, gint64 *out_value,
                              GError **error)
{
  if (!kv_service_validate_key(key, error))
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

guint kv_service_count(KvService *self)
{
  return kv_repository_count(self->repository);
}

gboolean kv_service_commit(KvService *self, GError **error)
{
  return kv_repository_commit(self->repository, error);
}
