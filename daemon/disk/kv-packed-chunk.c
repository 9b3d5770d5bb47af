/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "kv-packed-chunk.h"

#include <string.h>

static void put_varint(GByteArray *out, guint64 value)
{
  guint8 bytes[10];
  guint n = 0;

  do {
    bytes[n] = (guint8)(value & 0x7f);
    value >>= 7;
    if (value != 0)
      bytes[n] |= 0x80;
    n++;
  } while (value != 0);
  g_byte_array_append(out, bytes, n);
}

/* FALSE past the end, or for more than 64 bits. */
static gboolean get_varint(KvPackedReader *reader, guint64 *out)
{
  guint64 value = 0;

  for (guint shift = 0; shift < 64; shift += 7) {
    if (reader->at == reader->end)
      return FALSE;
    guint8 byte = *reader->at++;
    if (shift == 63 && byte > 1)
      return FALSE;
    value |= (guint64)(byte & 0x7f) << shift;
    if ((byte & 0x80) == 0) {
      *out = value;
      return TRUE;
    }
  }
  return FALSE;
}

static guint64 zigzag(gint64 value)
{
  return ((guint64)value << 1) ^ (guint64)(value >> 63);
}

static gint64 unzigzag(guint64 value)
{
  return (gint64)(value >> 1) ^ -(gint64)(value & 1);
}

void kv_packed_reader_init(KvPackedReader *reader, const guint8 *data, gsize size)
{
  reader->data = reader->at = data;
  /* No arithmetic on the NULL of an empty input. */
  reader->end = size > 0 ? data + size : data;
  reader->key_length = 0;
  reader->key[0] = '\0';
  reader->revision = 0;
  reader->types = g_ptr_array_new_with_free_func(g_free);
  memset(&reader->checker, 0, sizeof reader->checker);
}

void kv_packed_reader_clear(KvPackedReader *reader)
{
  g_clear_pointer(&reader->types, g_ptr_array_unref);
}

/* The @length bytes at the reader, taken; FALSE when fewer are left. */
static gboolean take(KvPackedReader *reader, guint64 length, const guint8 **out)
{
  if (length > (guint64)(reader->end - reader->at))
    return FALSE;
  *out = reader->at;
  reader->at += length;
  return TRUE;
}

static gboolean read_key(KvPackedReader *reader)
{
  guint64 shared, length;
  const guint8 *suffix;

  if (!get_varint(reader, &shared) || !get_varint(reader, &length) || shared > reader->key_length ||
      length > KV_PACKED_KEY_MAX - shared || shared + length == 0 ||
      !take(reader, length, &suffix) || memchr(suffix, '\0', length) != NULL)
    return FALSE;
  memcpy(reader->key + shared, suffix, length);
  reader->key_length = shared + length;
  reader->key[reader->key_length] = '\0';
  return kv_serialized_text_is_utf8((const guint8 *)reader->key, reader->key_length);
}

static gboolean read_type(KvPackedReader *reader, const char **out)
{
  guint64 index, length;
  const guint8 *bytes;

  if (!get_varint(reader, &index) || index > reader->types->len)
    return FALSE;
  if (index < reader->types->len) {
    *out = g_ptr_array_index(reader->types, index);
    return TRUE;
  }
  if (!get_varint(reader, &length) || length == 0 || length >= 256 || !take(reader, length, &bytes))
    return FALSE;
  char *type = g_strndup((const char *)bytes, length);
  g_ptr_array_add(reader->types, type);
  if (strlen(type) != length || !g_variant_type_string_is_valid(type) ||
      !g_variant_type_is_definite(G_VARIANT_TYPE(type)))
    return FALSE;
  *out = type;
  return TRUE;
}

KvPackedStatus kv_packed_reader_next(KvPackedReader *reader, KvPackedEntry *entry)
{
  guint64 delta, size;

  if (reader->at == reader->end)
    return KV_PACKED_END;
  if (!read_key(reader) || !get_varint(reader, &delta) || !read_type(reader, &entry->type) ||
      !get_varint(reader, &size) || !take(reader, size, &entry->value))
    return KV_PACKED_DAMAGED;
  reader->revision += (guint64)unzigzag(delta);
  entry->key = reader->key;
  entry->revision = reader->revision;
  entry->value_size = size;
  return kv_serialized_value_is_normal(entry->type, entry->value, entry->value_size)
             ? KV_PACKED_ENTRY
             : KV_PACKED_DAMAGED;
}

void kv_packed_writer_begin(KvPackedWriter *writer, GByteArray *out)
{
  writer->out = out;
  writer->last_key = g_string_new(NULL);
  writer->last_revision = 0;
  writer->types = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
  writer->n = 0;
}

void kv_packed_writer_add(KvPackedWriter *writer, const char *key, guint64 revision,
                          GVariant *value)
{
  gsize length = strlen(key), shared = 0;
  const char *type = g_variant_get_type_string(value);

  while (shared < length && shared < writer->last_key->len &&
         key[shared] == writer->last_key->str[shared])
    shared++;
  put_varint(writer->out, shared);
  put_varint(writer->out, length - shared);
  g_byte_array_append(writer->out, (const guint8 *)key + shared, (guint)(length - shared));
  put_varint(writer->out, zigzag((gint64)(revision - writer->last_revision)));
  guint index = GPOINTER_TO_UINT(g_hash_table_lookup(writer->types, type));
  if (index != 0) {
    put_varint(writer->out, index - 1);
  } else {
    index = g_hash_table_size(writer->types);
    g_hash_table_insert(writer->types, g_strdup(type), GUINT_TO_POINTER(index + 1));
    put_varint(writer->out, index);
    put_varint(writer->out, strlen(type));
    g_byte_array_append(writer->out, (const guint8 *)type, (guint)strlen(type));
  }
  put_varint(writer->out, g_variant_get_size(value));
  g_byte_array_append(writer->out, g_variant_get_data(value), (guint)g_variant_get_size(value));
  g_string_assign(writer->last_key, key);
  writer->last_revision = revision;
  writer->n++;
}

guint kv_packed_writer_count(const KvPackedWriter *writer)
{
  return writer->n;
}

void kv_packed_writer_end(KvPackedWriter *writer)
{
  g_string_free(writer->last_key, TRUE);
  writer->last_key = NULL;
  g_clear_pointer(&writer->types, g_hash_table_unref);
}
