/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "kv-history.h"

#include "kv-error.h"

#include <string.h>

/* What an entry costs beyond its key and value: the entry, the GVariant's structures, the
 * array's slot and malloc's own, as measured (10,000 changes of 16-byte keys and values
 * grew kvstored by 3.2 MiB). */
#define ENTRY_OVERHEAD 256

typedef struct {
  GVariant *value; /* NULL: deleted */
  guint64 revision;
  gsize bytes;
  char key[];
} Entry;

struct _KvHistory {
  /* Entry *, in (revision, key) order, from @head on; the slots before @head are
   * dropped entries, reclaimed once they are half the array. */
  GPtrArray *entries;
  guint head;
  guint max_changes;
  gsize max_bytes;
  gsize bytes;
  guint64 committed;
  guint64 oldest;
  gboolean filling;
  KvHistoryReadyFunc ready;
  gpointer ready_data;
};

static void entry_free(gpointer data)
{
  Entry *entry = data;

  if (entry == NULL)
    return;
  g_clear_pointer(&entry->value, g_variant_unref);
  g_free(entry);
}

KvHistory *kv_history_new(guint max_changes, gsize max_bytes)
{
  KvHistory *self = g_new0(KvHistory, 1);

  self->entries = g_ptr_array_new_with_free_func(entry_free);
  self->max_changes = max_changes;
  self->max_bytes = max_bytes;
  return self;
}

void kv_history_start_at(KvHistory *self, guint64 revision)
{
  g_ptr_array_set_size(self->entries, 0);
  self->head = 0;
  self->bytes = 0;
  self->committed = revision;
  self->oldest = revision;
}

void kv_history_free(KvHistory *self)
{
  if (self == NULL)
    return;
  g_ptr_array_unref(self->entries);
  g_free(self);
}

static Entry *entry_at(KvHistory *self, guint i)
{
  return g_ptr_array_index(self->entries, i);
}

static int compare_position(const Entry *entry, guint64 revision, const char *key)
{
  if (entry->revision != revision)
    return entry->revision < revision ? -1 : 1;
  return strcmp(entry->key, key);
}

void kv_history_append(KvHistory *self, const char *key, GVariant *value, guint64 revision)
{
  gsize key_bytes = strlen(key) + 1;
  Entry *entry = g_malloc(sizeof(Entry) + key_bytes);

  memcpy(entry->key, key, key_bytes);
  entry->value = value != NULL ? g_variant_ref_sink(value) : NULL;
  entry->revision = revision;
  entry->bytes = ENTRY_OVERHEAD + key_bytes + (value != NULL ? g_variant_get_size(value) : 0);
  self->bytes += entry->bytes;
  g_ptr_array_add(self->entries, entry);
  /* Batches come in key order; a change that does not (an etcd event) moves back to its
   * place within its revision, so that a resume after a key is exact. */
  for (guint i = self->entries->len - 1;
       i > self->head && compare_position(entry_at(self, i - 1), revision, key) > 0; i--) {
    self->entries->pdata[i] = self->entries->pdata[i - 1];
    self->entries->pdata[i - 1] = entry;
  }
}

/* Drops the first entry kept. */
static void drop_first(KvHistory *self)
{
  Entry *entry = entry_at(self, self->head);

  self->oldest = entry->revision;
  self->bytes -= entry->bytes;
  entry_free(entry);
  self->entries->pdata[self->head++] = NULL;
}

/* Whole committed revisions from the start, while the history holds more than it may. */
static void trim(KvHistory *self)
{
  guint n = self->entries->len - self->head;

  while (n > 0 && entry_at(self, self->head)->revision <= self->committed &&
         (n > self->max_changes || self->bytes > self->max_bytes)) {
    guint64 revision = entry_at(self, self->head)->revision;
    while (n > 0 && entry_at(self, self->head)->revision == revision) {
      drop_first(self);
      n--;
    }
  }
  if (n == 0 && self->max_changes == 0)
    self->oldest = MAX(self->oldest, self->committed);
  if (self->head > 0 && self->head >= self->entries->len / 2) {
    g_ptr_array_remove_range(self->entries, 0, self->head);
    self->head = 0;
  }
}

void kv_history_commit(KvHistory *self, guint64 revision)
{
  self->committed = MAX(self->committed, revision);
  trim(self);
}

void kv_history_roll_back(KvHistory *self)
{
  while (self->entries->len > self->head &&
         entry_at(self, self->entries->len - 1)->revision > self->committed) {
    self->bytes -= entry_at(self, self->entries->len - 1)->bytes;
    g_ptr_array_set_size(self->entries, self->entries->len - 1);
  }
}

guint64 kv_history_committed(KvHistory *self)
{
  return self->committed;
}

guint64 kv_history_oldest(KvHistory *self)
{
  return self->oldest;
}

gboolean kv_history_check(KvHistory *self, guint64 since, const char *after, GError **error)
{
  /* Within revision @oldest, whose changes are gone. */
  gboolean inside_oldest = since == self->oldest && after != NULL && *after != '\0';

  if (since > self->committed) {
    g_set_error(error, KV_ERROR, KV_ERROR_INVALID_ARGS,
                "Revision %" G_GUINT64_FORMAT
                " is ahead of the store, which is at revision %" G_GUINT64_FORMAT
                ": it is another store (restored from an older backup?); read everything again",
                since, self->committed);
    return FALSE;
  }
  if (inside_oldest) {
    g_set_error(error, KV_ERROR, KV_ERROR_COMPACTED,
                "The changes of revision %" G_GUINT64_FORMAT
                " after key '%s' are no longer kept: the history starts after that revision; "
                "read everything again",
                since, after);
    return FALSE;
  }
  if (since < self->oldest) {
    g_set_error(error, KV_ERROR, KV_ERROR_COMPACTED,
                "The changes after revision %" G_GUINT64_FORMAT
                " are no longer kept: the history starts after revision %" G_GUINT64_FORMAT
                "; read everything again",
                since, self->oldest);
    return FALSE;
  }
  return TRUE;
}

/* The index of the first entry after (@since, @after). */
static guint find_start(KvHistory *self, guint64 since, const char *after)
{
  guint low = self->head, high = self->entries->len;

  while (low < high) {
    guint middle = low + (high - low) / 2;
    const Entry *entry = entry_at(self, middle);
    gboolean before =
        entry->revision < since ||
        (entry->revision == since && (after == NULL || strcmp(entry->key, after) <= 0));
    if (before)
      low = middle + 1;
    else
      high = middle;
  }
  return low;
}

void kv_history_foreach(KvHistory *self, const char *prefix, guint64 since, const char *after,
                        KvHistoryFunc func, gpointer user_data)
{
  /* An empty @after is none: the whole of @since was seen. */
  const char *last_seen = after != NULL && *after != '\0' ? after : NULL;

  for (guint i = find_start(self, since, last_seen); i < self->entries->len; i++) {
    const Entry *entry = entry_at(self, i);
    if (entry->revision > self->committed)
      return;
    if (!g_str_has_prefix(entry->key, prefix))
      continue;
    if (!func(entry->key, entry->value, entry->revision, user_data))
      return;
  }
}

void kv_history_foreach_uncommitted(KvHistory *self, KvHistoryFunc func, gpointer user_data)
{
  for (guint i = find_start(self, self->committed, NULL); i < self->entries->len; i++) {
    const Entry *entry = entry_at(self, i);
    if (!func(entry->key, entry->value, entry->revision, user_data))
      return;
  }
}

guint kv_history_max_changes(KvHistory *self)
{
  return self->max_changes;
}

guint kv_history_n_changes(KvHistory *self)
{
  return self->entries->len - self->head;
}

gsize kv_history_bytes(KvHistory *self)
{
  return self->bytes;
}

void kv_history_set_filling(KvHistory *self, gboolean filling)
{
  gboolean was = self->filling;

  self->filling = filling;
  if (was && !filling && self->ready != NULL)
    self->ready(self->ready_data);
}

gboolean kv_history_is_filling(KvHistory *self)
{
  return self->filling;
}

void kv_history_set_ready_func(KvHistory *self, KvHistoryReadyFunc func, gpointer user_data)
{
  self->ready = func;
  self->ready_data = user_data;
}
