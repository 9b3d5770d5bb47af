/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Builds the value of `kvctl set` from @text (a non-floating reference, or NULL with a
 * G_OPTION_ERROR). @type_name NULL or "string" stores @text as it is; a type name
 * (bool, byte, int16, uint16, int32, uint32, int64, uint64, double, objectpath,
 * signature) or a GVariant type string ("ai", "a{sv}") parses @text as GVariant text of
 * that type; @gvariant_text parses @text with the type it spells ("int64 5", "[1, 2]"). */
GVariant *kvctl_parse_value(const char *type_name, gboolean gvariant_text, const char *text,
                            GError **error);

/* How kvctl prints a value: strings raw, anything else as GVariant text. */
char *kvctl_format_value(GVariant *value);

G_END_DECLS
