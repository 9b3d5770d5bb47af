/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "kv-client-bus.h"

#include <sys/types.h>

G_BEGIN_DECLS

/* kvbench --attacks: the calls a hostile local user can make, each timed, with the
 * longest Ping of a second client meanwhile (how long kvstored's loop stalled for
 * everyone) and kvstored's resident memory after it. Adds about 200,000 keys to the
 * store. Returns 0 or a negative errno. */
int kvbench_attacks(sd_bus *bus, const KvClientBus *bus_options, pid_t pid);

/* kvstored's resident memory in KiB, from /proc, or -1. */
long kvbench_rss_kib(pid_t pid);

G_END_DECLS
