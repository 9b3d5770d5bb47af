#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The formats of `kvctl dump` and `kvctl load` for a whole store, an a{sv}.
 *
 * GVariant text: every value with its type annotation, one entry per line; it reads back
 * to exactly the same values, whatever their types.
 *
 * JSON: json-glib's mapping of GVariant to JSON. Integers become numbers, strings,
 * object paths and signatures become strings, arrays and structs become arrays,
 * dictionaries with string keys become objects, variants become their contents. Read
 * back, numbers without a fraction become int64 ('x'), others double ('d'), strings 's',
 * booleans 'b', arrays 'av' and objects 'a{sv}': only int64, double, string and boolean
 * values survive the round trip with their types. */

/* @entries as GVariant text. */
char *kvctl_dump_to_text(GVariant *entries);

/* The same text written in parts: each call appends @entries, counting them in
 * @n_written (0 at first); kvctl_dump_finish_text() closes it. */
void kvctl_dump_append_text(GString *out, GVariant *entries, gsize *n_written);
void kvctl_dump_finish_text(GString *out, gsize n_written);

/* Reads GVariant text of type a{sv}; NULL with G_OPTION_ERROR_BAD_VALUE otherwise. */
GVariant *kvctl_dump_from_text(const char *text, GError **error);

/* @entries as a JSON object, pretty-printed. */
char *kvctl_dump_to_json(GVariant *entries);

/* Reads a JSON object into an a{sv}; NULL with G_OPTION_ERROR_BAD_VALUE otherwise. */
GVariant *kvctl_dump_from_json(const char *text, GError **error);

G_END_DECLS
