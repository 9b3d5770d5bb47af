/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "kv-serialized-value.h"

#include "kv-variant-framing.h"

#include <string.h>

gboolean kv_serialized_text_is_utf8(const guint8 *data, gsize size)
{
  gsize i = 0;
  guint64 high = 0;

  /* Keys and strings are mostly ASCII: eight bytes at a time, and GLib only for the rest. */
  for (; i + 8 <= size; i += 8) {
    guint64 word;
    memcpy(&word, data + i, sizeof word);
    high |= word;
  }
  for (; i < size; i++)
    high |= data[i];
  return (high & G_GUINT64_CONSTANT(0x8080808080808080)) == 0 ||
         g_utf8_validate_len((const char *)data, size, NULL);
}

gboolean kv_serialized_string_is_valid(const guint8 *data, gsize size)
{
  return size > 0 && data[size - 1] == '\0' && memchr(data, '\0', size - 1) == NULL &&
         kv_serialized_text_is_utf8(data, size - 1);
}

gboolean kv_serialized_value_is_normal(const char *type, const guint8 *data, gsize size)
{
  if (type[1] == '\0') {
    switch (type[0]) {
    case 'y':
      return size == 1;
    case 'b':
      return size == 1 && data[0] <= 1;
    case 'n':
    case 'q':
      return size == 2;
    case 'i':
    case 'u':
      return size == 4;
    case 'x':
    case 't':
    case 'd':
      return size == 8;
    case 's':
      return kv_serialized_string_is_valid(data, size);
    case 'o':
      return kv_serialized_string_is_valid(data, size) &&
             g_variant_is_object_path((const char *)data);
    case 'g':
      return kv_serialized_string_is_valid(data, size) &&
             g_variant_is_signature((const char *)data);
    default:
      break;
    }
  }
  /* Copied: GLib reads values at their alignment. */
  g_autoptr(GBytes) bytes = g_bytes_new(data, size);
  g_autoptr(GVariant) value =
      g_variant_ref_sink(g_variant_new_from_bytes(G_VARIANT_TYPE(type), bytes, FALSE));
  return g_variant_is_normal_form(value);
}

gboolean kv_serialized_variant_read(KvVariantChecker *checker, const guint8 *data, gsize size,
                                    const char **out_type, const guint8 **out_value,
                                    gsize *out_value_size)
{
  const guint8 *nul = NULL;

  for (gsize i = size; i > 0; i--)
    if (data[i - 1] == '\0') {
      nul = data + i - 1;
      break;
    }
  if (nul == NULL)
    return FALSE;
  gsize type_length = (gsize)(data + size - (nul + 1));
  if (type_length == 0 || type_length >= sizeof checker->type)
    return FALSE;
  memcpy(checker->type, nul + 1, type_length);
  checker->type[type_length] = '\0';
  if (strcmp(checker->type, checker->valid) != 0) {
    if (!g_variant_type_string_is_valid(checker->type) ||
        !g_variant_type_is_definite(G_VARIANT_TYPE(checker->type)))
      return FALSE;
    memcpy(checker->valid, checker->type, type_length + 1);
  }
  *out_type = checker->type;
  *out_value = data;
  *out_value_size = (gsize)(nul - data);
  return kv_serialized_value_is_normal(checker->type, data, *out_value_size);
}

gboolean kv_framed_array_init(KvFramedArray *array, const guint8 *data, gsize size)
{
  memset(array, 0, sizeof *array);
  array->data = data;
  if (size == 0)
    return TRUE;
  array->offset_size = kv_framing_offset_size(size);
  if (size < array->offset_size)
    return FALSE;
  array->items_end = kv_framing_read_offset(data + size - array->offset_size, array->offset_size);
  if (array->items_end > size || (size - array->items_end) % array->offset_size != 0)
    return FALSE;
  array->n = (size - array->items_end) / array->offset_size;
  return array->n > 0;
}

int kv_framed_array_next(KvFramedArray *array, const guint8 **out_item, gsize *out_size)
{
  if (array->next == array->n)
    return 0;
  gsize start = kv_framing_align8(array->last_end);
  gsize end = kv_framing_read_offset(
      array->data + array->items_end + array->next * array->offset_size, array->offset_size);
  if (start > end || end > array->items_end)
    return -1;
  array->next++;
  array->last_end = end;
  *out_item = array->data + start;
  *out_size = end - start;
  return 1;
}

gboolean kv_serialized_tuple_key(const guint8 *data, gsize size, gsize *out_key_end,
                                 gsize *out_body)
{
  guint framing = kv_framing_offset_size(size);

  if (size < framing)
    return FALSE;
  *out_body = size - framing;
  *out_key_end = kv_framing_read_offset(data + *out_body, framing);
  return *out_key_end > 0 && *out_key_end <= *out_body &&
         kv_serialized_string_is_valid(data, *out_key_end);
}
