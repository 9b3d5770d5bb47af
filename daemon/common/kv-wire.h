/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* What a value costs on the D-Bus wire, computed from the GVariant alone, so that kvstored
 * can tell before it builds a message whether the bus will carry it. */

/* The D-Bus specification's limits: a message, one array's contents, and the nesting of
 * containers (arrays, structs, dict entries and variants together) in one message. */
#define KV_WIRE_MAX_MESSAGE_BYTES (128u * 1024 * 1024)
#define KV_WIRE_MAX_ARRAY_BYTES   (64u * 1024 * 1024)
#define KV_WIRE_MAX_DEPTH         64

/* The size on the wire of a value of the fixed-size basic type @type (y n q b i u h x t
 * d), which is also its alignment; 0 for any other type. */
gsize kv_wire_fixed_size(char type);

/* Where @value ends when marshalled from byte @offset of a D-Bus body, padding included:
 * kv_wire_end(v, 0) is its size at the start of a body. */
gsize kv_wire_end(GVariant *value, gsize offset);

/* The size of @value wrapped in a variant, as in a 'v' argument, from @offset. */
gsize kv_wire_variant_end(GVariant *value, gsize offset);

typedef struct {
  guint depth;     /* containers nested inside @value, variants included; 0 for a number */
  gboolean has_fd; /* a unix fd ('h') anywhere inside, nested variants included */
} KvWireShape;

/* The nesting depth of @value and whether it holds a file descriptor. Values without
 * variants are judged from their type alone; others are walked. */
KvWireShape kv_wire_shape(GVariant *value);

G_END_DECLS
