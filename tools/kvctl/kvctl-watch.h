/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>
#include <systemd/sd-bus.h>

G_BEGIN_DECLS

/* `kvctl watch`: subscribes to the changes of keys starting with @prefix and prints one
 * line per change, REVISION<TAB>KEY<TAB>VALUE (typed GVariant text) or 'deleted', until
 * SIGINT or SIGTERM; with @since (>= 0), first every change after that revision, from
 * the history (SubscribeSince). Returns 0 then; -EBADMSG for a signal it cannot read;
 * another negative errno, with @error set when the bus said why, when watching failed. */
int kvctl_watch(sd_bus *bus, const char *prefix, gint64 since, sd_bus_error *error);

/* Prints one change as `kvctl watch` does. */
void kvctl_print_change(guint64 revision, const char *key, GVariant *value);

/* Reads one (sbvt) change of a Changes signal or a ChangesSince reply from @m and prints
 * it. Returns 0, or -EBADMSG. */
int kvctl_print_change_struct(sd_bus_message *m);

/* Reads an a(sbvt) of changes from @m and prints each. Returns 0, or -EBADMSG. */
int kvctl_print_changes(sd_bus_message *m);

G_END_DECLS
