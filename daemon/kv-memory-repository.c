/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "kv-memory-repository.h"

#include "kv-entry.h"
#include "kv-index.h"

#include <string.h>

/* Each key lives in one KvEntry, packed with its value. Two indexes point at the entry's
 * key string: a hash set for O(1) lookups, and a chunked sorted array (kv-index.c) that
 * keeps keys in bytewise order, so that a prefix selection costs O(log n + k), not a scan
 * of every key. Neither index owns anything; the repository frees the entries. */
typedef struct {
  KvRepository parent;
  GHashTable *lookup; /* set of entry keys */
  KvIndex *order;     /* entry keys */
  guint64 revision;
} KvMemoryRepository;

static KvEntry *find_entry(KvMemoryRepository *self, const char *key)
{
  const char *stored_key = g_hash_table_lookup(self->lookup, key);

  return stored_key != NULL ? kv_entry_from_key(stored_key) : NULL;
}

static GVariant *memory_lookup(KvRepository *repository, const char *key, guint64 *out_revision)
{
  KvEntry *entry = find_entry((KvMemoryRepository *)repository, key);

  if (entry == NULL)
    return NULL;
  if (out_revision != NULL)
    *out_revision = kv_entry_revision(entry);
  return kv_entry_dup_value(entry);
}

/* Puts @value with @revision under @key, or removes @key for a NULL @value. */
static void put(KvMemoryRepository *self, const char *key, GVariant *value, guint64 revision)
{
  KvEntry *old = find_entry(self, key);

  if (value == NULL) {
    if (old != NULL) {
      g_hash_table_remove(self->lookup, key);
      kv_index_remove(self->order, key);
      kv_entry_free(old);
    }
    return;
  }

  g_autoptr(GVariant) owned = g_variant_ref_sink(value);
  KvEntry *entry = kv_entry_new(key, owned, revision);
  char *entry_key = (char *)kv_entry_key(entry);
  /* Both calls put the new key pointer in place of an equal old one, without touching
   * the structure of either index. */
  g_hash_table_add(self->lookup, entry_key);
  kv_index_put(self->order, entry_key);
  if (old != NULL)
    kv_entry_free(old);
}

static gboolean memory_apply(KvRepository *repository, const KvChange *changes, gsize n_changes,
                             GError **error)
{
  KvMemoryRepository *self = (KvMemoryRepository *)repository;

  self->revision++;
  for (gsize i = 0; i < n_changes; i++)
    put(self, changes[i].key, changes[i].value, self->revision);
  return TRUE;
}

void kv_memory_repository_load(KvRepository *repository, const char *key, GVariant *value,
                               guint64 revision)
{
  put((KvMemoryRepository *)repository, key, value, revision);
}

void kv_memory_repository_set_revision(KvRepository *repository, guint64 revision)
{
  ((KvMemoryRepository *)repository)->revision = revision;
}

static guint64 memory_revision(KvRepository *repository)
{
  return ((KvMemoryRepository *)repository)->revision;
}

static gboolean memory_exists(KvRepository *repository, const char *key)
{
  KvMemoryRepository *self = (KvMemoryRepository *)repository;

  return g_hash_table_contains(self->lookup, key);
}

static guint memory_count(KvRepository *repository)
{
  KvMemoryRepository *self = (KvMemoryRepository *)repository;

  return g_hash_table_size(self->lookup);
}

static void memory_foreach(KvRepository *repository, const char *prefix, const char *after,
                           gboolean with_values, KvRepositoryForeachFunc func, gpointer user_data)
{
  KvMemoryRepository *self = (KvMemoryRepository *)repository;
  /* Every key with the prefix sorts at or after the prefix itself, and they all come
   * before the first key without it; a page resumes at the first key past @after. */
  gboolean resume = after != NULL && strcmp(after, prefix) >= 0;
  KvIndexIter iter;
  const char *key;

  kv_index_seek(self->order, resume ? after : prefix, resume, &iter);
  while ((key = kv_index_iter_next(&iter)) != NULL) {
    if (!g_str_has_prefix(key, prefix))
      break;

    KvEntry *entry = kv_entry_from_key(key);
    g_autoptr(GVariant) value = with_values ? kv_entry_dup_value(entry) : NULL;
    if (!func(key, value, kv_entry_revision(entry), user_data))
      break;
  }
}

static gboolean memory_commit(KvRepository *repository, GError **error)
{
  return TRUE; /* memory is all there is */
}

static void memory_free(KvRepository *repository)
{
  KvMemoryRepository *self = (KvMemoryRepository *)repository;
  GHashTableIter iter;
  gpointer key;

  g_hash_table_iter_init(&iter, self->lookup);
  while (g_hash_table_iter_next(&iter, &key, NULL))
    kv_entry_free(kv_entry_from_key(key));
  g_hash_table_unref(self->lookup);
  kv_index_free(self->order);
  g_free(self);
}

static const KvRepositoryVTable memory_vtable = {
    .lookup = memory_lookup,
    .apply = memory_apply,
    .exists = memory_exists,
    .count = memory_count,
    .revision = memory_revision,
    .foreach = memory_foreach,
    .commit = memory_commit,
    .free = memory_free,
};

KvRepository *kv_memory_repository_new(void)
{
  KvMemoryRepository *self = g_new0(KvMemoryRepository, 1);

  self->parent.vtable = &memory_vtable;
  self->lookup = g_hash_table_new(g_str_hash, g_str_equal);
  self->order = kv_index_new();
  return &self->parent;
}
