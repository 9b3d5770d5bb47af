/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* kvctl's JSON, which never changes a value on the way: a value JSON carries exactly is
 * plain JSON (a string, a boolean, a finite double written with a fraction or exponent,
 * an int64 from -2^53 to 2^53, which every JSON reader keeps exact); any other value is
 * tagged as {"type": "<GVariant type string>", "value": "<GVariant text>"}. Reading,
 * plain values become string, bool, int64 or double; a tagged one the type it names;
 * null, arrays, other objects and integers past int64 are refused, naming the key. */

/* @entries (an a{sv}) as a JSON object, pretty-printed. */
char *kvctl_json_from_entries(GVariant *entries);

/* One value as JSON. */
char *kvctl_json_from_value(GVariant *value);

/* @keys as a JSON array of strings. */
char *kvctl_json_from_keys(const char *const *keys);

/* A JSON object read into an a{sv}; NULL with G_OPTION_ERROR_BAD_VALUE otherwise. */
GVariant *kvctl_json_to_entries(const char *text, GError **error);

G_END_DECLS
