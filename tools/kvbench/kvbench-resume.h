/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "kv-client-bus.h"

G_BEGIN_DECLS

/* `kvbench --resume N`: writes N changes to new keys (SetMany of 1000), then times a
 * resume from before them, pulled (ChangesSince, pages of 5000) and pushed
 * (SubscribeSince's Changes signals, on a connection of its own), against reading the
 * same N entries page by page (GetAllPage of 5000), and prints the rates. kvstored must
 * keep N changes (--history-changes). Returns 0 or a negative errno. */
int kvbench_resume(sd_bus *bus, const KvClientBus *bus_options, guint n);

G_END_DECLS
