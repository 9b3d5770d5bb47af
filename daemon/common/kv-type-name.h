/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* A person-readable name for @value's type, for error messages: "int32", "string",
 * "array of string", ... Never NULL. */
char *kv_type_name(GVariant *value);

G_END_DECLS
