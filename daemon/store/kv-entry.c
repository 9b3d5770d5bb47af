/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "kv-entry.h"

#include <stddef.h>
#include <string.h>

/* Layout of data[]: key '\0' type '\0' and the serialized value, unaligned: readers copy
 * it out (kv_entry_dup_value()). No padding keeps a short key and value within one
 * 64-byte malloc chunk. */
struct _KvEntry {
  guint64 revision;
  guint32 value_offset;
  guint32 value_size;
  char data[];
};

KvEntry *kv_entry_new(const char *key, GVariant *value, guint64 revision)
{
  return kv_entry_new_from_data(key, g_variant_get_type_string(value), g_variant_get_data(value),
                                g_variant_get_size(value), revision);
}

KvEntry *kv_entry_new_from_data(const char *key, const char *type, gconstpointer data, gsize size,
                                guint64 revision)
{
  gsize key_size = strlen(key) + 1;
  gsize type_size = strlen(type) + 1;
  gsize value_offset = key_size + type_size;

  g_return_val_if_fail(value_offset + size <= G_MAXUINT32, NULL);

  KvEntry *self = g_malloc(offsetof(KvEntry, data) + value_offset + size);
  self->revision = revision;
  self->value_offset = (guint32)value_offset;
  self->value_size = (guint32)size;
  memcpy(self->data, key, key_size);
  memcpy(self->data + key_size, type, type_size);
  /* Not g_variant_store(), which wants an aligned destination. */
  if (size > 0)
    memcpy(self->data + value_offset, data, size);
  return self;
}

guint64 kv_entry_revision(const KvEntry *self)
{
  return self->revision;
}

const char *kv_entry_key(const KvEntry *self)
{
  return self->data;
}

KvEntry *kv_entry_from_key(const char *key)
{
  return (KvEntry *)(key - offsetof(KvEntry, data));
}

static GVariant *value_over(const KvEntry *self, GBytes *bytes)
{
  const char *type = self->data + strlen(self->data) + 1;

  /* Trusted: the bytes came from a value in normal form (built by GLib, or read from a
   * record that was checked to be). */
  return g_variant_ref_sink(g_variant_new_from_bytes(G_VARIANT_TYPE(type), bytes, TRUE));
}

GVariant *kv_entry_dup_value(const KvEntry *self)
{
  g_autoptr(GBytes) bytes = g_bytes_new(self->data + self->value_offset, self->value_size);

  return value_over(self, bytes);
}

GVariant *kv_entry_peek_value(const KvEntry *self)
{
  g_autoptr(GBytes) bytes = g_bytes_new_static(self->data + self->value_offset, self->value_size);

  return value_over(self, bytes);
}

void kv_entry_free(KvEntry *self)
{
  g_free(self);
}
