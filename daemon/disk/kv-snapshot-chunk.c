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

void kv_chunk_writer_begin(KvChunkWriter *writer, GByteArray *out)
{
  writer->out = out;
  writer->start = out->len;
  writer->ends = g_array_new(FALSE, FALSE, sizeof(gsize));
}

void kv_chunk_writer_add(KvChunkWriter *writer, const char *key, guint64 revision, GVariant *value)
{
  GByteArray *out = writer->out;
  gsize at = out->len - writer->start;
  gsize key_size = strlen(key) + 1;
  const char *type = g_variant_get_type_string(value);
  gsize type_length = strlen(type);
  gsize value_size = g_variant_get_size(value);
  gsize body = kv_framing_align8(key_size) + 8 + value_size + 1 + type_length;
  gsize size = kv_framing_total_size(body, 1);

  kv_framing_append_zeros(out, kv_framing_align8(at) - at);
  g_byte_array_append(out, (const guint8 *)key, (guint)key_size);
  kv_framing_append_zeros(out, kv_framing_align8(key_size) - key_size);
  g_byte_array_append(out, (const guint8 *)&revision, sizeof revision);
  g_byte_array_append(out, g_variant_get_data(value), (guint)value_size);
  kv_framing_append_zeros(out, 1);
  g_byte_array_append(out, (const guint8 *)type, (guint)type_length);
  kv_framing_append_offset(out, key_size, kv_framing_offset_size(size));
  gsize end = out->len - writer->start;
  g_array_append_val(writer->ends, end);
}

guint kv_chunk_writer_count(const KvChunkWriter *writer)
{
  return writer->ends->len;
}

void kv_chunk_writer_end(KvChunkWriter *writer)
{
  gsize body = writer->out->len - writer->start;
  guint width = kv_framing_offset_size(kv_framing_total_size(body, writer->ends->len));

  for (guint i = 0; i < writer->ends->len; i++)
    kv_framing_append_offset(writer->out, g_array_index(writer->ends, gsize, i), width);
  g_clear_pointer(&writer->ends, g_array_unref);
}
