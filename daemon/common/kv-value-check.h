/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* What a value must be for the bus to carry it, at Set and whenever it is sent. */

/* The deepest value kvstored stores: inside the deepest message that carries one (an
 * a{sv} of GetAll or GetMany: an array, a dict entry, a variant), it stays within the
 * bus's nesting limit. */
#define KV_VALUE_MAX_DEPTH 61

/* What a value whose serialized size is limited to @max may take on the D-Bus wire:
 * twice that, and a little more for the length words of small values. */
#define KV_VALUE_WIRE_LIMIT(max) (2 * (gsize)(max) + 64)

/* Whether @value, stored under @key, can be sent in a message where it sits inside
 * @outer_depth containers: no file descriptor, and nested no deeper than the bus allows.
 * Else INVALID_VALUE_TYPE naming the key. */
gboolean kv_value_check_sendable(const char *key, GVariant *value, guint outer_depth,
                                 GError **error);

/* Whether @value may be stored: sendable in every reply and signal (no file descriptor,
 * at most KV_VALUE_MAX_DEPTH deep: INVALID_VALUE_TYPE), and no larger than
 * @max_value_size serialized, nor KV_VALUE_WIRE_LIMIT() of it on the wire (TOO_LARGE). */
gboolean kv_value_check_storable(const char *key, GVariant *value, gsize max_value_size,
                                 GError **error);

G_END_DECLS
