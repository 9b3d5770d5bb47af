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

/* Changes signals to one peer, built change by change: a signal is closed, and a new one
 * opened, before a change that would take it past @max_bytes. */
typedef struct {
  sd_bus *bus;
  const char *peer;
  gsize max_bytes;
  GPtrArray *out; /* sd_bus_message *, owned: the signals closed */
  sd_bus_message *open;
  gsize bytes;
} KvBusChangesSignals;

/* Adds the change of @key (@bytes: kv_bus_change_bytes()) to the signals. Returns 0 or a
 * negative errno. */
int kv_bus_changes_signals_add(KvBusChangesSignals *self, const char *key, GVariant *value,
                               guint64 revision, gsize bytes);

/* Closes the last signal into @out and frees what is left. Returns 0 or a negative errno
 * (when @result, the first error of the additions, is one). */
int kv_bus_changes_signals_finish(KvBusChangesSignals *self, int result);

G_END_DECLS
