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
  reader->data = data;
  if (size == 0)
    return TRUE;
  reader->offset_size = kv_framing_offset_size(size);
  if (size < reader->offset_size)
    return FALSE;
  reader->entries_end =
      kv_framing_read_offset(data + size - reader->offset_size, reader->offset_size);
  if (reader->entries_end > size || (size - reader->entries_end) % reader->offset_size != 0)
    return FALSE;
  reader->n = (size - reader->entries_end) / reader->offset_size;
  return reader->n > 0;
}

/* The entry at @data (@size bytes), checked. */
static gboolean read_entry(KvChunkReader *reader, const guint8 *data, gsize size,
                           KvChunkEntry *entry)
{
  guint framing = kv_framing_offset_size(size);

  if (size < framing)
    return FALSE;
  gsize body = size - framing;
  gsize key_end = kv_framing_read_offset(data + body, framing);
  if (key_end == 0 || key_end > body || !kv_serialized_string_is_valid(data, key_end))
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
  if (reader->next == reader->n)
    return KV_CHUNK_END;
  gsize start = kv_framing_align8(reader->last_end);
  gsize end = kv_framing_read_offset(
      reader->data + reader->entries_end + reader->next * reader->offset_size, reader->offset_size);
  if (start > end || end > reader->entries_end)
    return KV_CHUNK_DAMAGED;
  reader->next++;
  reader->last_end = end;
  return read_entry(reader, reader->data + start, end - start, entry) ? KV_CHUNK_ENTRY
                                                                      : KV_CHUNK_DAMAGED;
}
