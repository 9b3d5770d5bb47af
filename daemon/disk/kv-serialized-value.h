/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The checks of kvstored's own readers of its files (snapshot chunks, journal records),
 * which read GVariant bytes straight instead of through GLib: each part is checked as it
 * is read, so that damaged bytes are refused and never read out of bounds, and what is
 * handed on may be taken as trusted GVariant data. */

/* Whether the @size bytes at @data are UTF-8 (NUL bytes not refused). */
gboolean kv_serialized_text_is_utf8(const guint8 *data, gsize size);

/* Whether the @size bytes at @data are a GVariant string: UTF-8, one NUL, at the end. */
gboolean kv_serialized_string_is_valid(const guint8 *data, gsize size);

/* Whether the @size bytes at @data are a value of @type (a valid, definite type string)
 * in normal form: the common types by hand, the rest by GLib. */
gboolean kv_serialized_value_is_normal(const char *type, const guint8 *data, gsize size);

/* Reads variants one after another, remembering the last type found valid: entries
 * mostly share a type, checked once while it repeats. */
typedef struct {
  char type[256];  /* the last variant's type string (D-Bus types are shorter) */
  char valid[256]; /* the last type string found valid */
} KvVariantChecker;

/* The variant at @data (@size bytes: the value, a NUL, its type string), checked: its type
 * (valid until the next read) and its value's bytes, in normal form, unaligned. */
gboolean kv_serialized_variant_read(KvVariantChecker *checker, const guint8 *data, gsize size,
                                    const char **out_type, const guint8 **out_value,
                                    gsize *out_value_size);

/* The items of a serialized GVariant array of variable-size items (each on an 8-byte
 * boundary, their end offsets after the last), checked as they are walked. */
typedef struct {
  const guint8 *data;
  gsize items_end; /* where the items end and their framing offsets start */
  guint offset_size;
  gsize n;
  gsize next;
  gsize last_end;
} KvFramedArray;

/* Starts walking the @size bytes at @data; FALSE when they cannot hold an array (an
 * empty one reads as no item). */
gboolean kv_framed_array_init(KvFramedArray *array, const guint8 *data, gsize size);

/* The next item's bytes: 1, or 0 after the last, or -1 when its offsets are out of bounds. */
int kv_framed_array_next(KvFramedArray *array, const guint8 **out_item, gsize *out_size);

/* A tuple of @size bytes at @data whose first member is a string (a key) and whose last
 * framing offset is that string's end: where the key ends, checked as a string, and where
 * the members end (*@out_body). FALSE when it does not read so. */
gboolean kv_serialized_tuple_key(const guint8 *data, gsize size, gsize *out_key_end,
                                 gsize *out_body);

G_END_DECLS
