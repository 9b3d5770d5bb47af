/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The GVariant text format of `kvctl dump` and `kvctl load` for a whole store, an a{sv}:
 * every value with its type annotation, one entry per line; it reads back to exactly the
 * same values, whatever their types. JSON is in kvctl-json.h. */

/* @entries as GVariant text. */
char *kvctl_dump_to_text(GVariant *entries);

/* The same text written in parts: each call appends @entries, counting them in
 * @n_written (0 at first); kvctl_dump_finish_text() closes it. */
void kvctl_dump_append_text(GString *out, GVariant *entries, gsize *n_written);
void kvctl_dump_finish_text(GString *out, gsize n_written);

/* Reads GVariant text of type a{sv}; NULL with G_OPTION_ERROR_BAD_VALUE otherwise. */
GVariant *kvctl_dump_from_text(const char *text, GError **error);

G_END_DECLS
