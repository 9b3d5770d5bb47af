/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>
#include <systemd/sd-bus.h>
#include <sys/types.h>

G_BEGIN_DECLS

/* What a large batch leaves behind: kvstored's (@pid) RSS growth in KiB for
 * KVBENCH_BATCH_MEMORY_KEYS values of KVBENCH_BATCH_MEMORY_BYTES stored in batches of
 * KVBENCH_BATCH_MEMORY_SMALL (@out_small), then the same under other keys in batches of
 * KVBENCH_BATCH_MEMORY_LARGE (@out_large); both deleted again. A negative errno on
 * failure. */
#define KVBENCH_BATCH_MEMORY_KEYS  5000
#define KVBENCH_BATCH_MEMORY_BYTES 10000
#define KVBENCH_BATCH_MEMORY_SMALL 100
#define KVBENCH_BATCH_MEMORY_LARGE 2000
int kvbench_batch_memory(sd_bus *bus, pid_t pid, long *out_small, long *out_large);

G_END_DECLS
