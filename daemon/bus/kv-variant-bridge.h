/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "kv-repository.h"

#include <glib.h>
#include <systemd/sd-bus.h>

G_BEGIN_DECLS

/* Moves values between sd-bus messages and GVariant, type for type, so that a value is
 * stored and returned exactly as the caller sent it. All functions return 0 or a
 * negative errno, like sd-bus. */

/* Reads the next complete value of @m, whatever its type, into @ret (a non-floating
 * reference). A unix fd ('h') becomes a GVariant handle holding -1: it cannot travel. */
int kv_variant_bridge_read_value(sd_bus_message *m, GVariant **ret);

/* The longest signature of a variant's content that sd-bus (252) reads back: one short
 * of the 255 the bus carries. A longer one fails the read functions with -ENOTSUP. */
#define KV_VARIANT_BRIDGE_MAX_SIGNATURE 254

/* Reads a 'v' argument and returns its content (not wrapped in a variant). */
int kv_variant_bridge_read_variant(sd_bus_message *m, GVariant **ret);

/* kv_variant_bridge_read_variant() that gives up with -EMSGSIZE, before converting the
 * rest, once the content is certain to take more than @max_bytes on the wire. */
int kv_variant_bridge_read_variant_bounded(sd_bus_message *m, gsize max_bytes, GVariant **ret);

/* Reads an 'as' argument in time linear in its size, but only its first @max_n + 1
 * strings: a result longer than @max_n means the array was longer, and the message is
 * left inside it. */
int kv_variant_bridge_read_strv(sd_bus_message *m, gsize max_n, GStrv *ret);

/* kv_variant_bridge_read_strv() without copies: @ret (NULL-terminated, to g_free()) points
 * at strings inside @m, valid while it is. */
int kv_variant_bridge_read_strv_borrowed(sd_bus_message *m, gsize max_n, const char ***ret);

/* Reads an 'a{sv}' argument into @ret, an array of KvChange whose keys point into @m
 * (valid while it is) and whose values the array owns, but only its first @max_n + 1
 * entries (as with kv_variant_bridge_read_strv()); -EMSGSIZE as soon as one value takes
 * more than @max_value_bytes on the wire. */
int kv_variant_bridge_read_changes(sd_bus_message *m, gsize max_n, gsize max_value_bytes,
                                   GArray **ret);

/* Appends @value with its own type. -EINVAL for types D-Bus has no wire form for
 * (maybe, handle, unit tuple). */
int kv_variant_bridge_append_value(sd_bus_message *m, GVariant *value);

/* Appends @value wrapped as a 'v' argument. */
int kv_variant_bridge_append_variant(sd_bus_message *m, GVariant *value);

G_END_DECLS
