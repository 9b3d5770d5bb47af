/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "kv-memory-repository.h"

#include "kv-entry.h"
#include "kv-index.h"

#include <string.h>

/* Each key lives in one KvEntry, packed with its value. One index points at the entry's
 * key string: a chunked sorted array (kv-index.c) that keeps keys in bytewise order, so
 * that a lookup costs O(log n) and a prefix selection O(log n + k). A hash set beside it
 * made lookups O(1) but cost 25 bytes a key at a million keys, a third of an entry, for
 * a microsecond a lookup at most against a bus round trip of a hundred. The index owns
 * nothing; the repository frees the entries. */
typedef struct {
  KvRepository parent;
  KvIndex *order; /* entry keys */
  guint64 revision;
} KvMemoryRepository;

static KvEntry *find_entry(KvMemoryRepository *self, const char *key)
{
  const char *stored_key = kv_index_lookup(self->order, key);

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

static GVariant *memory_peek(KvRepository *repository, const char *key)
{
  KvEntry *entry = find_entry((KvMemoryRepository *)repository, key);

  return entry != NULL ? kv_entry_peek_value(entry) : NULL;
}

/* Indexes @entry in place of @old (the entry of an equal key, or NULL), and frees @old. */
static void store(KvMemoryRepository *self, KvEntry *entry, KvEntry *old)
{
  /* Puts the new key pointer in place of an equal old one, without touching the
   * structure of the index. */
  kv_index_put(self->order, kv_entry_key(entry));
  if (old != NULL)
    kv_entry_free(old);
}

/* Puts @value with @revision under @key, or removes @key for a NULL @value. */
static void put(KvMemoryRepository *self, const char *key, GVariant *value, guint64 revision)
{
  KvEntry *old = find_entry(self, key);

  if (value == NULL) {
    if (old != NULL) {
      kv_index_remove(self->order, key);
      kv_entry_free(old);
    }
    return;
  }

  g_autoptr(GVariant) owned = g_variant_ref_sink(value);
  store(self, kv_entry_new(key, owned, revision), old);
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

void kv_memory_repository_load_data(KvRepository *repository, const char *key, const char *type,
                                    gconstpointer data, gsize size, guint64 revision)
{
  KvMemoryRepository *self = (KvMemoryRepository *)repository;

  store(self, kv_entry_new_from_data(key, type, data, size, revision), find_entry(self, key));
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

  return kv_index_lookup(self->order, key) != NULL;
}

static guint memory_count(KvRepository *repository)
{
  KvMemoryRepository *self = (KvMemoryRepository *)repository;

  return kv_index_size(self->order);
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
  KvIndexIter iter;
  const char *key;

  kv_index_seek(self->order, "", FALSE, &iter);
  while ((key = kv_index_iter_next(&iter)) != NULL)
    kv_entry_free(kv_entry_from_key(key));
  kv_index_free(self->order);
  g_free(self);
}

static const KvRepositoryVTable memory_vtable = {
    .lookup = memory_lookup,
    .peek = memory_peek,
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
  self->order = kv_index_new();
  return &self->parent;
}
