/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "kv-record.h"

#include "kv-crc32c.h"

#include <string.h>

static void put_u32(guint8 *out, guint32 value)
{
  value = GUINT32_TO_LE(value);
  memcpy(out, &value, sizeof value);
}

static guint32 get_u32(const guint8 *in)
{
  guint32 value;

  memcpy(&value, in, sizeof value);
  return GUINT32_FROM_LE(value);
}

void kv_record_append_file_header_version(GByteArray *buffer, const char magic[8], guint32 version)
{
  guint8 header[KV_RECORD_FILE_HEADER_SIZE] = {0};

  memcpy(header, magic, 8);
  put_u32(header + 8, version);
  g_byte_array_append(buffer, header, sizeof header);
}

void kv_record_append_file_header(GByteArray *buffer, const char magic[8])
{
  kv_record_append_file_header_version(buffer, magic, KV_RECORD_FORMAT_VERSION);
}

gboolean kv_record_check_file_header_versions(const guint8 *data, gsize size, const char magic[8],
                                              const char *path, guint32 newest,
                                              guint32 *out_version, GError **error)
{
  if (size < KV_RECORD_FILE_HEADER_SIZE || memcmp(data, magic, 8) != 0) {
    g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_INVAL,
                "%s is not a kvstore file of this kind (bad magic)", path);
    return FALSE;
  }
  guint32 version = get_u32(data + 8);
  if (version < 1 || version > newest) {
    g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_NOSYS,
                "%s has format version %u; this kvstored reads version%s %s%u", path, version,
                newest > 1 ? "s" : "", newest > 1 ? "1 to " : "", newest);
    return FALSE;
  }
  *out_version = version;
  return TRUE;
}

gboolean kv_record_check_file_header(const guint8 *data, gsize size, const char magic[8],
                                     const char *path, GError **error)
{
  guint32 version;

  return kv_record_check_file_header_versions(data, size, magic, path, KV_RECORD_FORMAT_VERSION,
                                              &version, error);
}

guint kv_record_begin(GByteArray *buffer)
{
  guint start = buffer->len;

  g_byte_array_set_size(buffer, start + KV_RECORD_HEADER_SIZE);
  return start;
}

void kv_record_end(GByteArray *buffer, guint start)
{
  guint8 *header = buffer->data + start;
  gsize size = buffer->len - start - KV_RECORD_HEADER_SIZE;

  put_u32(header, (guint32)size);
  put_u32(header + 4, kv_crc32c(header + KV_RECORD_HEADER_SIZE, size));
  put_u32(header + 8, kv_crc32c(header, 8));
}

void kv_record_append(GByteArray *buffer, GVariant *payload)
{
  guint start = kv_record_begin(buffer);

  /* Not g_variant_store(): the payload's place in the buffer is not aligned as GVariant
   * requires, while g_variant_get_data() serializes into aligned memory. */
  g_byte_array_append(buffer, g_variant_get_data(payload), (guint)g_variant_get_size(payload));
  kv_record_end(buffer, start);
}

static gboolean all_zero(const guint8 *data, gsize size)
{
  for (gsize i = 0; i < size; i++)
    if (data[i] != 0)
      return FALSE;
  return TRUE;
}

KvRecordStatus kv_record_read_bytes(const guint8 *data, gsize size, gsize *offset,
                                    const guint8 **out_payload, gsize *out_size)
{
  gsize at = *offset;
  gsize remaining = size - at;

  if (remaining == 0)
    return KV_RECORD_END;
  /* An append cut short leaves a prefix of the record: a short header, or a payload
   * running past the end. A file system may also leave the unwritten end as zeros. */
  if (remaining < KV_RECORD_HEADER_SIZE)
    return KV_RECORD_TORN;
  const guint8 *header = data + at;
  if (get_u32(header + 8) != kv_crc32c(header, 8))
    return all_zero(header, remaining) ? KV_RECORD_TORN : KV_RECORD_CORRUPT;

  gsize payload_size = get_u32(header);
  if (payload_size > remaining - KV_RECORD_HEADER_SIZE)
    return KV_RECORD_TORN;

  const guint8 *payload = header + KV_RECORD_HEADER_SIZE;
  gboolean last = payload_size == remaining - KV_RECORD_HEADER_SIZE;
  if (get_u32(header + 4) != kv_crc32c(payload, payload_size))
    return last ? KV_RECORD_TORN : KV_RECORD_CORRUPT;
  *out_payload = payload;
  *out_size = payload_size;
  *offset = at + KV_RECORD_HEADER_SIZE + payload_size;
  return KV_RECORD_OK;
}

KvRecordStatus kv_record_read(const guint8 *data, gsize size, gsize *offset,
                              const GVariantType *type, GVariant **out_payload)
{
  gsize at = *offset;
  const guint8 *payload;
  gsize payload_size;
  KvRecordStatus status = kv_record_read_bytes(data, size, &at, &payload, &payload_size);

  if (status != KV_RECORD_OK)
    return status;
  gboolean last = at == size;

  /* Copied: the bytes in the file need not be aligned as GVariant wants. */
  g_autoptr(GBytes) bytes = g_bytes_new(payload, payload_size);
  g_autoptr(GVariant) untrusted = g_variant_ref_sink(g_variant_new_from_bytes(type, bytes, FALSE));
  if (!g_variant_is_normal_form(untrusted))
    return last ? KV_RECORD_TORN : KV_RECORD_CORRUPT;

  /* Checked once, whole: reading it as trusted spares GLib checking every child access
   * again, which dominated loading a large snapshot. */
  *out_payload = g_variant_ref_sink(g_variant_new_from_bytes(type, bytes, TRUE));
  *offset = at;
  return KV_RECORD_OK;
}

gboolean kv_record_find_next(const guint8 *data, gsize size, gsize from, gsize *out_offset)
{
  for (gsize at = from; at + KV_RECORD_HEADER_SIZE <= size; at++) {
    const guint8 *header = data + at;
    if (get_u32(header + 8) != kv_crc32c(header, 8))
      continue;
    gsize payload_size = get_u32(header);
    if (payload_size <= size - at - KV_RECORD_HEADER_SIZE &&
        get_u32(header + 4) == kv_crc32c(header + KV_RECORD_HEADER_SIZE, payload_size)) {
      *out_offset = at;
      return TRUE;
    }
  }
  return FALSE;
}
