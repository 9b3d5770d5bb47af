/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "kv-bus.h"

#include <systemd/sd-bus.h>

G_BEGIN_DECLS

/* Exit on idle, for a D-Bus activated service: after @timeout_usec with no incoming
 * message and no reply waiting for a commit, kvstored releases its well-known name,
 * handles every call that reached it before the release, commits, and leaves the event
 * loop with exit code 0. The next call to the name activates a new kvstored. */
typedef struct _KvIdle KvIdle;

/* Watches @bus (attached to its event loop) and @front. */
int kv_idle_new(sd_bus *bus, KvBus *front, const char *name, guint64 timeout_usec, KvIdle **ret);

void kv_idle_free(KvIdle *self);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(KvIdle, kv_idle_free)

G_END_DECLS
