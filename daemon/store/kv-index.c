/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "kv-index.h"

#include <string.h>

typedef struct {
  guint len;
  const char *keys[KV_INDEX_CHUNK_KEYS];
} Chunk;

struct _KvIndex {
  GPtrArray *chunks; /* Chunk, none empty, in key order */
  guint size;
};

KvIndex *kv_index_new(void)
{
  KvIndex *self = g_new0(KvIndex, 1);

  self->chunks = g_ptr_array_new_with_free_func(g_free);
  return self;
}

void kv_index_free(KvIndex *self)
{
  if (self == NULL)
    return;
  g_ptr_array_unref(self->chunks);
  g_free(self);
}

guint kv_index_size(const KvIndex *self)
{
  return self->size;
}

static Chunk *chunk_at(const KvIndex *self, guint i)
{
  return g_ptr_array_index(self->chunks, i);
}

/* The first key position in @chunk not before @key (or, with @after, after it), in
 * bytewise order (strcmp compares as unsigned char). */
static guint bound_in_chunk(const Chunk *chunk, const char *key, gboolean after)
{
  guint lo = 0, hi = chunk->len;

  while (lo < hi) {
    guint mid = lo + (hi - lo) / 2;
    int c = strcmp(chunk->keys[mid], key);
    if (c < 0 || (after && c == 0))
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo;
}

/* The first chunk whose last key is not before @key (or, with @after, after it); the
 * number of chunks when there is none. */
static guint find_chunk(const KvIndex *self, const char *key, gboolean after)
{
  guint lo = 0, hi = self->chunks->len;

  /* Past the last key, as every key of a snapshot being loaded is: one comparison. */
  if (hi > 0) {
    const Chunk *last = chunk_at(self, hi - 1);
    int c = strcmp(last->keys[last->len - 1], key);
    if (c < 0 || (after && c == 0))
      return hi;
  }
  while (lo < hi) {
    guint mid = lo + (hi - lo) / 2;
    const Chunk *chunk = chunk_at(self, mid);
    int c = strcmp(chunk->keys[chunk->len - 1], key);
    if (c < 0 || (after && c == 0))
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo;
}

void kv_index_put(KvIndex *self, const char *key)
{
  if (self->chunks->len == 0) {
    Chunk *first = g_new0(Chunk, 1);
    first->keys[first->len++] = key;
    g_ptr_array_add(self->chunks, first);
    self->size++;
    return;
  }
  /* Past every last key: the key goes at the end of the last chunk, found without a
   * search. */
  guint found = find_chunk(self, key, FALSE);
  guint c = MIN(found, self->chunks->len - 1);
  Chunk *chunk = chunk_at(self, c);
  guint pos = found == self->chunks->len ? chunk->len : bound_in_chunk(chunk, key, FALSE);

  if (pos < chunk->len && strcmp(chunk->keys[pos], key) == 0) {
    chunk->keys[pos] = key;
    return;
  }
  if (chunk->len == KV_INDEX_CHUNK_KEYS && (pos == chunk->len || pos == 0)) {
    /* Past either end of a full chunk: a chunk of its own, so that keys added in order
     * (a snapshot being loaded, say) fill every chunk rather than half of each. */
    Chunk *fresh = g_new0(Chunk, 1);
    fresh->keys[fresh->len++] = key;
    g_ptr_array_insert(self->chunks, pos == 0 ? (gint)c : (gint)c + 1, fresh);
    self->size++;
    return;
  }
  if (chunk->len == KV_INDEX_CHUNK_KEYS) {
    /* Split in halves; the key goes into the one that covers it. */
    Chunk *right = g_new0(Chunk, 1);
    guint half = KV_INDEX_CHUNK_KEYS / 2;
    right->len = chunk->len - half;
    memcpy(right->keys, chunk->keys + half, right->len * sizeof(char *));
    chunk->len = half;
    g_ptr_array_insert(self->chunks, (gint)c + 1, right);
    if (pos > half) {
      chunk = right;
      pos -= half;
    }
  }
  memmove(chunk->keys + pos + 1, chunk->keys + pos, (chunk->len - pos) * sizeof(char *));
  chunk->keys[pos] = key;
  chunk->len++;
  self->size++;
}

/* Merges chunk @c into its next one when both fit in one, so that deletions leave no
 * trail of nearly empty chunks. */
static void merge_with_next(KvIndex *self, guint c)
{
  if (c + 1 >= self->chunks->len)
    return;
  Chunk *chunk = chunk_at(self, c), *next = chunk_at(self, c + 1);
  if (chunk->len + next->len > KV_INDEX_CHUNK_KEYS / 2)
    return;
  memcpy(chunk->keys + chunk->len, next->keys, next->len * sizeof(char *));
  chunk->len += next->len;
  g_ptr_array_remove_index(self->chunks, c + 1);
}

/* Where the key equal to @key is: its chunk and slot; FALSE when there is none. */
static gboolean locate(const KvIndex *self, const char *key, guint *out_chunk, guint *out_slot)
{
  guint c = find_chunk(self, key, FALSE);

  if (c == self->chunks->len)
    return FALSE;
  const Chunk *chunk = chunk_at(self, c);
  guint pos = bound_in_chunk(chunk, key, FALSE);
  if (pos == chunk->len || strcmp(chunk->keys[pos], key) != 0)
    return FALSE;
  *out_chunk = c;
  *out_slot = pos;
  return TRUE;
}

const char *kv_index_lookup(const KvIndex *self, const char *key)
{
  guint c, pos;

  return locate(self, key, &c, &pos) ? chunk_at(self, c)->keys[pos] : NULL;
}

gboolean kv_index_remove(KvIndex *self, const char *key)
{
  guint c, pos;

  if (!locate(self, key, &c, &pos))
    return FALSE;
  Chunk *chunk = chunk_at(self, c);
  chunk->len--;
  memmove(chunk->keys + pos, chunk->keys + pos + 1, (chunk->len - pos) * sizeof(char *));
  self->size--;
  if (chunk->len == 0) {
    g_ptr_array_remove_index(self->chunks, c);
    return TRUE;
  }
  if (chunk->len < KV_INDEX_CHUNK_KEYS / 4) {
    merge_with_next(self, c);
    if (c > 0)
      merge_with_next(self, c - 1);
  }
  return TRUE;
}

void kv_index_seek(const KvIndex *self, const char *key, gboolean after, KvIndexIter *iter)
{
  guint c = find_chunk(self, key, after);

  iter->index = self;
  iter->chunk = c;
  iter->slot = c < self->chunks->len ? bound_in_chunk(chunk_at(self, c), key, after) : 0;
}

const char *kv_index_iter_next(KvIndexIter *iter)
{
  if (iter->chunk >= iter->index->chunks->len)
    return NULL;
  const Chunk *chunk = chunk_at(iter->index, iter->chunk);
  const char *key = chunk->keys[iter->slot];
  if (++iter->slot == chunk->len) {
    iter->chunk++;
    iter->slot = 0;
  }
  return key;
}
