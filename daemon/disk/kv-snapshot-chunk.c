/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "kv-snapshot-chunk.h"

#include "kv-serialized-value.h"
#include "kv-variant-framing.h"

#include <string.h>

/* GVariant's layout (kv-variant-framing.h has the framing): an "a(stv)" puts its entries one after
 * another, each starting on an 8-byte boundary (for the "t"), and after the last the end offset of
 * each; an entry
 * "(stv)" holds the key and its NUL, padding, the revision, then the variant (the value,
 * a NUL, its type string), and last the end offset of the key. */

gboolean kv_chunk_reader_init(KvChunkReader *reader, const guint8 *data, gsize size)
{
  memset(reader, 0, sizeof *reader);
  return kv_framed_array_init(&reader->array, data, size);
}

/* The entry at @data (@size bytes), checked. */
static gboolean read_entry(KvChunkReader *reader, const guint8 *data, gsize size,
                           KvChunkEntry *entry)
{
  gsize key_end, body;

  if (!kv_serialized_tuple_key(data, size, &key_end, &body))
    return FALSE;
  gsize revision_at = kv_framing_align8(key_end);
  if (revision_at > body || body - revision_at < 8)
    return FALSE;
  entry->key = (const char *)data;
  memcpy(&entry->revision, data + revision_at, 8);
  return kv_serialized_variant_read(&reader->checker, data + revision_at + 8,
                                    body - revision_at - 8, &entry->type, &entry->value,
                                    &entry->value_size);
}

KvChunkStatus kv_chunk_reader_next(KvChunkReader *reader, KvChunkEntry *entry)
{
  const guint8 *item;
  gsize size;

  switch (kv_framed_array_next(&reader->array, &item, &size)) {
  case 0:
    return KV_CHUNK_END;
  case 1:
    return read_entry(reader, item, size, entry) ? KV_CHUNK_ENTRY : KV_CHUNK_DAMAGED;
  default:
    return KV_CHUNK_DAMAGED;
  }
}
