/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "kv-service-private.h"

#include "kv-error.h"
#include "kv-increment.h"
#include "kv-value-check.h"

#include <stdlib.h>
#include <string.h>

/* kvstored's own keys keep the leases and locks. */
static void observe_reserved(KvService *self, const char *key, GVariant *value, guint64 revision)
{
  if (strncmp(key, KV_LEASE_PREFIX, strlen(KV_LEASE_PREFIX)) == 0) {
    if (kv_leases_observe(self->leases, key, value, revision) && self->on_leases != NULL)
      self->on_leases(self->on_leases_data);
  } else if (strncmp(key, KV_LOCK_PREFIX, strlen(KV_LOCK_PREFIX)) == 0) {
    kv_locks_observe(self->locks, key, value, revision);
  }
}

void kv_service_tell_change(KvService *self, const char *key, GVariant *value, guint64 revision)
{
  if (kv_key_is_reserved(key))
    observe_reserved(self, key, value, revision);
  if (self->history != NULL)
    kv_history_append(self->history, key, value, revision);
  if (self->on_change != NULL)
    self->on_change(key, value, revision, self->on_change_data);
}

/* A repository that makes changes on its own tells them here. */
static void forward_change(const char *key, GVariant *value, guint64 revision, gpointer user_data)
{
  kv_service_tell_change(user_data, key, value, revision);
}

KvService *kv_service_new(KvRepository *repository, gsize max_value_size)
{
  KvService *self = g_new0(KvService, 1);

  self->repository = repository;
  self->max_value_size = max_value_size;
  self->busy = g_hash_table_new(g_str_hash, g_str_equal);
  self->waiting = g_queue_new();
  self->takes_turns = kv_repository_answers_later(repository);
  self->repository_tells_changes = kv_repository_set_change_func(repository, forward_change, self);
  self->leases = kv_leases_new();
  self->lease_max_keys = KV_LEASE_MAX_KEYS;
  self->locks = kv_locks_new();
  kv_leases_load(self->leases, repository);
  kv_locks_load(self->locks, repository);
  self->defaults = kv_defaults_new_empty();
  return self;
}

void kv_service_free(KvService *self)
{
  if (self == NULL)
    return;
  if (self->repository_tells_changes)
    kv_repository_set_change_func(self->repository, NULL, NULL);
  kv_service_drop_waiting(self);
  g_hash_table_unref(self->busy);
  g_queue_free(self->waiting);
  kv_leases_free(self->leases);
  kv_locks_free(self->locks);
  kv_defaults_free(self->defaults);
  g_free(self);
}

void kv_service_set_defaults(KvService *self, KvDefaults *defaults)
{
  kv_defaults_free(self->defaults);
  self->defaults = defaults;
}

KvDefaults *kv_service_get_defaults(KvService *self)
{
  return self->defaults;
}

const char *kv_service_get_origin(KvService *self, const char *key, const char **out_file,
                                  GError **error)
{
  *out_file = NULL;
  if (!kv_service_validate_key(key, error))
    return NULL;
  if (kv_repository_exists(self->repository, key))
    return "stored";
  return kv_defaults_lookup(self->defaults, key, out_file) != NULL ? "default" : "none";
}

void kv_service_set_change_func(KvService *self, KvServiceChangeFunc func, gpointer user_data)
{
  self->on_change = func;
  self->on_change_data = user_data;
}

GVariant *kv_service_get_with_revision(KvService *self, const char *key, guint64 *out_revision,
                                       GError **error)
{
  if (!kv_service_validate_key(key, error))
    return NULL;

  g_autoptr(GVariant) value = kv_repository_lookup(self->repository, key, out_revision);
  if (value == NULL && (value = kv_defaults_lookup(self->defaults, key, NULL)) != NULL) {
    g_variant_ref(value);
    if (out_revision != NULL)
      *out_revision = 0;
  }
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
                            const KvKeyFilter *filter, GError **error)
{
  g_autoptr(GHashTable) seen = g_hash_table_new(g_str_hash, g_str_equal);
  g_autoptr(KvPage) page = kv_page_new(TRUE, KV_BATCH_MAX_KEYS, max_bytes);

  if (!kv_service_validate_batch_size(g_strv_length((char **)keys), error) ||
      !kv_service_validate_keys(keys, error))
    return NULL;
  for (gsize i = 0; keys[i] != NULL; i++) {
    if (!g_hash_table_add(seen, (gpointer)keys[i]) ||
        (filter != NULL && !filter->admits(keys[i], filter->data)))
      continue;
    g_autoptr(GVariant) value = kv_repository_peek(self->repository, keys[i]);
    if (value == NULL && (value = kv_defaults_lookup(self->defaults, keys[i], NULL)) != NULL)
      g_variant_ref(value);
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
  const KvKeyFilter *filter;
  gboolean skipping; /* the walk stopped at a hidden key, to go on from ->resume */
  char *resume;      /* where: the first key that may be admitted, or NULL for none */
} PageFill;

static gboolean fill_page(const char *key, GVariant *value, guint64 revision, gpointer user_data)
{
  PageFill *fill = user_data;
  const KvKeyFilter *filter = fill->filter;

  if (filter == NULL || filter->admits(key, filter->data))
    return kv_page_add(fill->page, key, value, &fill->error);
  if (filter->skip == NULL)
    return TRUE;
  /* A hidden range is passed over with one seek, not a step a key. */
  g_autofree char *resume = filter->skip(key, filter->data);
  if (resume != NULL && strcmp(resume, key) <= 0)
    return TRUE;
  fill->skipping = TRUE;
  fill->resume = g_steal_pointer(&resume);
  return FALSE;
}

KvPage *kv_service_page(KvService *self, const char *prefix, const char *after, guint max_entries,
                        gboolean with_values, gsize max_bytes, const KvKeyFilter *filter,
                        GError **error)
{
  guint limit = max_entries == 0 ? KV_PAGE_MAX_ENTRIES : MIN(max_entries, KV_PAGE_MAX_ENTRIES);
  PageFill fill = {kv_page_new(with_values, limit, max_bytes), NULL, filter, FALSE, NULL};

  kv_repository_foreach(self->repository, prefix, after, with_values, fill_page, &fill);
  while (fill.skipping) {
    g_autofree char *from = g_steal_pointer(&fill.resume);
    fill.skipping = FALSE;
    /* Past the prefix's keys: the walk is over. */
    if (from == NULL || !g_str_has_prefix(from, prefix))
      break;
    /* The walk goes on after ->resume, which may be a key itself (a listing of keys
     * alone needs no copy of its value). */
    g_autoptr(GVariant) value = with_values ? kv_repository_get(self->repository, from) : NULL;
    gboolean exists = with_values ? value != NULL : kv_repository_exists(self->repository, from);
    if (exists && !fill_page(from, value, 0, &fill))
      continue;
    kv_repository_foreach(self->repository, prefix, from, with_values, fill_page, &fill);
  }
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
                          gsize max_bytes, const KvKeyFilter *filter, GError **error)
{
  g_autoptr(KvPage) page = kv_service_page(self, prefix, NULL, KV_PAGE_MAX_ENTRIES, with_values,
                                           max_bytes, filter, error);

  if (page != NULL && page->next != NULL) {
    g_set_error(error, KV_ERROR, KV_ERROR_TOO_LARGE,
                "More keys start with '%s' than one reply carries (%u keys or %zu bytes); "
                "page through them with %s",
                prefix, KV_PAGE_MAX_ENTRIES, max_bytes, with_values ? "GetAllPage" : "KeysPage");
    return NULL;
  }
  return g_steal_pointer(&page);
}

GStrv kv_service_prefix_keys(KvService *self, const char *prefix, const KvKeyFilter *filter,
                             GError **error)
{
  g_autoptr(KvPage) page =
      kv_service_page(self, prefix, NULL, KV_BATCH_MAX_KEYS, FALSE, G_MAXSIZE, filter, error);

  if (page == NULL)
    return NULL;
  if (page->next != NULL) {
    g_set_error(error, KV_ERROR, KV_ERROR_TOO_LARGE,
                "More than %d keys start with '%s'; one batch deletes at most %d (delete "
                "longer prefixes, or pages of keys with DeleteMany)",
                KV_BATCH_MAX_KEYS, prefix, KV_BATCH_MAX_KEYS);
    return NULL;
  }
  /* kvstored's own keys go with their leases, never with a prefix. */
  GStrvBuilder *keys = g_strv_builder_new();
  for (guint i = 0; i < page->keys->len; i++)
    if (!kv_key_is_reserved(g_ptr_array_index(page->keys, i)))
      g_strv_builder_add(keys, g_ptr_array_index(page->keys, i));
  GStrv result = g_strv_builder_end(keys);
  g_strv_builder_unref(keys);
  return result;
}

gsize kv_service_max_value_size(KvService *self)
{
  return self->max_value_size;
}

guint64 kv_service_revision(KvService *self)
{
  return kv_repository_revision(self->repository);
}

gboolean kv_service_exists(KvService *self, const char *key, gboolean *out_exists, GError **error)
{
  if (!kv_service_validate_key(key, error))
    return FALSE;

  *out_exists = kv_repository_exists(self->repository, key);
  return TRUE;
}

gboolean kv_service_is_current(KvService *self)
{
  return kv_repository_is_current(self->repository);
}

void kv_service_set_linearizable(KvService *self, gboolean linearizable)
{
  self->linearizable = linearizable;
}

gboolean kv_service_is_linearizable(KvService *self)
{
  return self->linearizable;
}

void kv_service_sync(KvService *self, KvRepositorySyncFunc done, gpointer user_data,
                     GDestroyNotify drop)
{
  kv_repository_sync(self->repository, done, user_data, drop);
}

guint kv_service_count(KvService *self)
{
  return kv_repository_count(self->repository);
}

void kv_service_set_history(KvService *self, KvHistory *history)
{
  self->history = history;
}

KvHistory *kv_service_get_history(KvService *self)
{
  return self->history;
}

void kv_service_set_leases_func(KvService *self, KvServiceLeasesFunc func, gpointer user_data)
{
  self->on_leases = func;
  self->on_leases_data = user_data;
}

void kv_service_set_lease_max_keys(KvService *self, guint max_keys)
{
  self->lease_max_keys = MIN(max_keys, KV_LEASE_MAX_KEYS);
}

void kv_service_set_bound_ttl(KvService *self, guint64 ttl_ms)
{
  self->bound_ttl_ms = ttl_ms;
}

guint64 kv_service_get_bound_ttl(KvService *self)
{
  return self->bound_ttl_ms;
}

gboolean kv_service_shares_store(KvService *self)
{
  return self->repository_tells_changes;
}

KvLeases *kv_service_get_leases(KvService *self)
{
  return self->leases;
}

KvLocks *kv_service_get_locks(KvService *self)
{
  return self->locks;
}

/* The history serves what is committed, and forgets what was rolled back; so do the
 * leases and locks, read again from what the repository kept. */
static void history_commit_ended(KvService *self, guint64 committed, const GError *error)
{
  if (error != NULL) {
    kv_leases_load(self->leases, self->repository);
    kv_locks_load(self->locks, self->repository);
    if (self->on_leases != NULL)
      self->on_leases(self->on_leases_data);
  }
  if (self->history == NULL)
    return;
  if (error == NULL)
    kv_history_commit(self->history, committed);
  else
    kv_history_roll_back(self->history);
}

gboolean kv_service_commit(KvService *self, GError **error)
{
  g_autoptr(GError) local_error = NULL;
  gboolean committed = kv_repository_commit(self->repository, &local_error);

  history_commit_ended(self, kv_repository_revision(self->repository), local_error);
  if (!committed)
    g_propagate_error(error, g_steal_pointer(&local_error));
  return committed;
}

static void on_commit_done(guint64 committed, const GError *error, gpointer user_data)
{
  KvService *self = user_data;

  history_commit_ended(self, committed, error);
  self->commit_done(committed, error, self->commit_done_data);
}

void kv_service_commit_start(KvService *self, KvRepositoryCommitFunc done, gpointer user_data)
{
  self->commit_done = done;
  self->commit_done_data = user_data;
  kv_repository_commit_start(self->repository, on_commit_done, self);
}

void kv_service_commit_wait(KvService *self)
{
  kv_repository_commit_wait(self->repository);
}
