/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "kv-page.h"

#include "kv-error.h"
#include "kv-value-check.h"
#include "kv-wire.h"

#include <string.h>

KvPage *kv_page_new(gboolean with_values, guint max_entries, gsize max_bytes)
{
  KvPage *self = g_new0(KvPage, 1);

  self->keys = g_ptr_array_new();
  self->strings = g_string_chunk_new(1024);
  self->values = g_ptr_array_new_with_free_func((GDestroyNotify)g_variant_unref);
  self->with_values = with_values;
  self->max_entries = max_entries;
  self->max_bytes = max_bytes;
  /* The length word, padded to the elements' alignment. */
  self->end = with_values ? 8 : 4;
  return self;
}

static gsize align(gsize offset, gsize alignment)
{
  return (offset + alignment - 1) & ~(alignment - 1);
}

/* Where an entry that starts at @offset ends: a string, or a dict entry (aligned to 8) of
 * a string and a variant. */
static gsize entry_end(gsize offset, const char *key, GVariant *value)
{
  if (value != NULL)
    offset = align(offset, 8);
  offset = align(offset, 4) + 4 + strlen(key) + 1;
  return value != NULL ? kv_wire_variant_end(value, offset) : offset;
}

gboolean kv_page_add(KvPage *self, const char *key, GVariant *value, GError **error)
{
  if (!self->with_values)
    value = NULL;
  /* In a reply an entry's value sits in an array, a dict entry and a variant. */
  if (value != NULL && !kv_value_check_sendable(key, value, 3, error))
    return FALSE;

  gsize end = entry_end(self->end, key, value);
  if (self->keys->len < self->max_entries && end <= self->max_bytes) {
    self->end = end;
    g_ptr_array_add(self->keys, g_string_chunk_insert(self->strings, key));
    if (value != NULL)
      g_ptr_array_add(self->values, g_variant_ref(value));
    return TRUE;
  }
  if (self->keys->len == 0) {
    g_set_error(error, KV_ERROR, KV_ERROR_TOO_LARGE,
                "The entry '%s' alone is %zu bytes on the wire; a reply carries at most %zu", key,
                end, self->max_bytes);
    return FALSE;
  }
  self->full = TRUE;
  return FALSE;
}

void kv_page_free(KvPage *self)
{
  if (self == NULL)
    return;
  g_ptr_array_unref(self->keys);
  g_string_chunk_free(self->strings);
  g_ptr_array_unref(self->values);
  g_free(self->next);
  g_free(self);
}
