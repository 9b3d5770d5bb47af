/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>
#include <systemd/sd-bus.h>

G_BEGIN_DECLS

/* One change as the Changes signal and the ChangesSince reply carry it: a (sbvt) of the
 * key, whether it was deleted, the value (an empty string for a deletion) and the
 * revision. */

/* An upper bound of the wire size of the change of @key to @value (NULL: deleted). */
gsize kv_bus_change_bytes(const char *key, GVariant *value);

/* Appends the change to @m, inside an open a(sbvt). Returns 0 or a negative errno. */
int kv_bus_append_change(sd_bus_message *m, const char *key, GVariant *value, guint64 revision);

/* A new Changes signal to @peer in @ret, its a(sbvt) open. */
int kv_bus_changes_signal_open(sd_bus *bus, const char *peer, sd_bus_message **ret);

/* Closes the a(sbvt) of @m and adds a reference to it to @out. */
int kv_bus_changes_signal_close(sd_bus_message *m, GPtrArray *out);

G_END_DECLS
