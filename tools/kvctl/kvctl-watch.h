/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>
#include <systemd/sd-bus.h>

G_BEGIN_DECLS

/* `kvctl watch`: subscribes to the changes of keys starting with @prefix and prints one
 * line per change, REVISION<TAB>KEY<TAB>VALUE (typed GVariant text) or 'deleted', until
 * SIGINT or SIGTERM; with @since (>= 0), first every change after that revision, from
 * the history (SubscribeSince). A lost subscription is resumed from the history after
 * the last change printed. Returns 0 then; -EBADMSG for a signal it cannot read;
 * another negative errno, with @error set when the bus said why, when watching failed. */
int kvctl_watch(sd_bus *bus, const char *prefix, gint64 since, sd_bus_error *error);

/* Prints one change as `kvctl watch` does. */
void kvctl_print_change(guint64 revision, const char *key, GVariant *value);

/* Told of one change read from an a(sbvt); @value is NULL for a deletion. */
typedef void (*KvctlChangeFunc)(guint64 revision, const char *key, GVariant *value,
                                gpointer user_data);

/* Reads an a(sbvt) of changes (a Changes signal, a ChangesSince reply) from @m and tells
 * @func of each. Returns 0, or -EBADMSG. */
int kvctl_read_changes(sd_bus_message *m, KvctlChangeFunc func, gpointer user_data);

/* kvctl_read_changes() printing each as `kvctl watch` does. */
int kvctl_print_changes(sd_bus_message *m);

G_END_DECLS
