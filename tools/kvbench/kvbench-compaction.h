/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <systemd/sd-bus.h>

#include <glib.h>

G_BEGIN_DECLS

/* `kvbench --compaction SECONDS`: one client's Gets of random keys among the @keys
 * "key:%012u" the store holds, for @seconds alone; then one Set, whose commit starts a
 * compaction when the journal has outgrown the snapshot (bench-scale.sh prepares such a
 * store), and the same Gets for @seconds again, while it runs. Prints p50, p99 and the
 * longest of each, and the ratio of the p99s. Returns 0 or a negative errno. */
int kvbench_compaction(sd_bus *bus, guint keys, double seconds);

G_END_DECLS
