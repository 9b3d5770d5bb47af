/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The keys of the memory repository in bytewise order, for lookups and prefix
 * selections: a sorted array of key pointers cut into chunks of at most
 * KV_INDEX_CHUNK_KEYS. About 8-11 bytes a key, where a GTree node costs 48 and a
 * GHashTable slot 24 at a million keys. The index borrows the keys: they must stay valid
 * while they are in it. */
typedef struct _KvIndex KvIndex;

#define KV_INDEX_CHUNK_KEYS 256

/* A position in the index; changing the index invalidates it. */
typedef struct {
  const KvIndex *index;
  guint chunk;
  guint slot;
} KvIndexIter;

KvIndex *kv_index_new(void);

void kv_index_free(KvIndex *self);

/* Puts @key in place of an equal key, or adds it. */
void kv_index_put(KvIndex *self, const char *key);

/* Removes the key equal to @key; FALSE when there is none. */
gboolean kv_index_remove(KvIndex *self, const char *key);

/* The stored key equal to @key, or NULL: O(log n). */
const char *kv_index_lookup(const KvIndex *self, const char *key);

/* The number of keys. */
guint kv_index_size(const KvIndex *self);

/* Positions @iter at the first key not before @key or, with @after, after @key. */
void kv_index_seek(const KvIndex *self, const char *key, gboolean after, KvIndexIter *iter);

/* The key at @iter, which then moves on; NULL past the last key. */
const char *kv_index_iter_next(KvIndexIter *iter);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(KvIndex, kv_index_free)

G_END_DECLS
