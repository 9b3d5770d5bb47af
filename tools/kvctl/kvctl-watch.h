/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>
#include <systemd/sd-bus.h>

G_BEGIN_DECLS

/* `kvctl watch`: subscribes to the changes of keys starting with @prefix and prints one
 * line per change, REVISION<TAB>KEY<TAB>VALUE (typed GVariant text) or 'deleted', until
 * SIGINT or SIGTERM. Returns 0 then; -EBADMSG for a signal it cannot read; another
 * negative errno, with @error set when the bus said why, when watching failed. */
int kvctl_watch(sd_bus *bus, const char *prefix, sd_bus_error *error);

G_END_DECLS
