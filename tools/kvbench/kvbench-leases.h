/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <systemd/sd-bus.h>

#include <glib.h>

G_BEGIN_DECLS

/* `kvbench --leases N`: one client, one call at a time, N of each: Set against SetLeased
 * (a lease granted before) and SetWithTtl (a lease of its own each), and an uncontended
 * Lock and Unlock against flock(2)'s LOCK_EX and LOCK_UN on a file in @dir (one round
 * trip to the kernel, the floor of any lock). Prints calls per second and the ratios.
 * Returns 0 or a negative errno. */
int kvbench_leases(sd_bus *bus, guint n, const char *dir);

G_END_DECLS
