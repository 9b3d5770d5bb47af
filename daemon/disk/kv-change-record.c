/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "kv-change-record.h"

#include "kv-variant-framing.h"

#include <string.h>

/* GVariant's layout (kv-variant-framing.h has the framing): an array of variable-sized
 * items puts them one after another, each on its alignment (8 here), then each one's
 * end; a tuple "(smv)" is the key and its NUL, padding to 8, the maybe (a value: the variant,
 * then a NUL byte; nothing: no bytes), then the key's end; a variant is its value's
 * bytes, a NUL, and the value's type string. */

/* The size of the "(smv)" of @change. */
static gsize change_size(const KvChange *change)
{
  gsize body = kv_framing_align8(strlen(change->key) + 1);

  if (change->value != NULL)
    body += g_variant_get_size(change->value) + 1 +
            strlen(g_variant_get_type_string(change->value)) + 1;
  return kv_framing_total_size(body, 1);
}

static void append_change(GByteArray *out, const KvChange *change, gsize size)
{
  guint start = out->len;
  gsize key_size = strlen(change->key) + 1;

  g_byte_array_append(out, (const guint8 *)change->key, (guint)key_size);
  kv_framing_append_zeros(out, kv_framing_align8(key_size) - key_size);
  if (change->value != NULL) {
    const char *type = g_variant_get_type_string(change->value);
    g_byte_array_append(out, g_variant_get_data(change->value),
                        (guint)g_variant_get_size(change->value));
    kv_framing_append_zeros(out, 1);
    g_byte_array_append(out, (const guint8 *)type, (guint)strlen(type));
    kv_framing_append_zeros(out, 1); /* the maybe holds a value */
  }
  kv_framing_append_offset(out, key_size, kv_framing_offset_size(size));
  g_assert(out->len - start == size);
}

void kv_change_record_serialize(GByteArray *out, guint64 revision, const KvChange *changes,
                                gsize n_changes)
{
  g_autofree gsize *sizes = g_new(gsize, n_changes + 1);
  gsize body = 0;

  for (gsize i = 0; i < n_changes; i++) {
    sizes[i] = change_size(&changes[i]);
    body = kv_framing_align8(body) + sizes[i];
  }
  gsize array_size = kv_framing_total_size(body, n_changes);
  guint width = kv_framing_offset_size(array_size);

  g_byte_array_append(out, (const guint8 *)&revision, sizeof revision);
  guint array_start = out->len;
  for (gsize i = 0; i < n_changes; i++) {
    kv_framing_append_zeros(out,
                            kv_framing_align8(out->len - array_start) - (out->len - array_start));
    append_change(out, &changes[i], sizes[i]);
  }
  /* Each change's end, from the array's start. */
  gsize end = 0;
  for (gsize i = 0; i < n_changes; i++) {
    end = kv_framing_align8(end) + sizes[i];
    kv_framing_append_offset(out, end, width);
  }
}

void kv_change_record_read(GVariant *record, KvChangeRecord *out)
{
  g_autoptr(GVariant) sequence = g_variant_get_child_value(record, 0);
  g_autoptr(GVariant) changes = g_variant_get_child_value(record, 1);
  gsize n = g_variant_n_children(changes);

  out->revision = g_variant_get_uint64(sequence);
  out->changes = g_array_sized_new(FALSE, FALSE, sizeof(KvChange), (guint)n);
  out->held = g_ptr_array_new_with_free_func((GDestroyNotify)g_variant_unref);
  for (gsize i = 0; i < n; i++) {
    GVariant *change = g_variant_get_child_value(changes, i);
    GVariant *key = g_variant_get_child_value(change, 0);
    g_autoptr(GVariant) maybe = g_variant_get_child_value(change, 1);
    GVariant *boxed = g_variant_get_maybe(maybe);
    KvChange item = {g_variant_get_string(key, NULL),
                     boxed != NULL ? g_variant_get_variant(boxed) : NULL};
    g_array_append_val(out->changes, item);
    g_ptr_array_add(out->held, change);
    g_ptr_array_add(out->held, key);
    if (boxed != NULL) {
      g_ptr_array_add(out->held, boxed);
      g_ptr_array_add(out->held, item.value);
    }
  }
}

gboolean kv_change_reader_init(KvChangeReader *reader, const guint8 *data, gsize size)
{
  memset(reader, 0, sizeof *reader);
  if (size < sizeof reader->revision)
    return FALSE;
  memcpy(&reader->revision, data, sizeof reader->revision);
  /* The tuple's last member, the array, takes the rest: no framing offset of its own. */
  return kv_framed_array_init(&reader->array, data + sizeof reader->revision,
                              size - sizeof reader->revision);
}

/* The "(smv)" at @data (@size bytes), checked. */
static gboolean read_change(KvChangeReader *reader, const guint8 *data, gsize size,
                            KvChangeEntry *entry)
{
  gsize key_end, body;

  if (!kv_serialized_tuple_key(data, size, &key_end, &body))
    return FALSE;
  entry->key = (const char *)data;
  gsize maybe_at = kv_framing_align8(key_end);
  if (maybe_at > body)
    return FALSE;
  /* Nothing: no bytes. Just a variant: its bytes, then a zero byte. */
  if (maybe_at == body) {
    entry->type = NULL;
    entry->value = NULL;
    entry->value_size = 0;
    return TRUE;
  }
  if (data[body - 1] != '\0')
    return FALSE;
  return kv_serialized_variant_read(&reader->checker, data + maybe_at, body - 1 - maybe_at,
                                    &entry->type, &entry->value, &entry->value_size);
}

KvChangeStatus kv_change_reader_next(KvChangeReader *reader, KvChangeEntry *entry)
{
  const guint8 *item;
  gsize size;

  switch (kv_framed_array_next(&reader->array, &item, &size)) {
  case 0:
    return KV_CHANGE_END;
  case 1:
    return read_change(reader, item, size, entry) ? KV_CHANGE_ENTRY : KV_CHANGE_DAMAGED;
  default:
    return KV_CHANGE_DAMAGED;
  }
}

void kv_change_record_clear(KvChangeRecord *record)
{
  g_clear_pointer(&record->changes, g_array_unref);
  g_clear_pointer(&record->held, g_ptr_array_unref);
}
