/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The checks of kvstored's own readers of its files (snapshot chunks, journal records),
 * which read GVariant bytes straight instead of through GLib: each part is checked as it
 * is read, so that damaged bytes are refused and never read out of bounds, and what is
 * handed on may be taken as trusted GVariant data. */

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

G_END_DECLS
