/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "kv-bus-access.h"
#include "kv-bus-callers.h"
#include "kv-bus-signals.h"
#include "kv-peer-flow.h"
#include "kv-service.h"

#include <systemd/sd-bus.h>

G_BEGIN_DECLS

/* Resuming from a revision, served from the service's history: ChangesSince (a page of
 * the changes after a cursor) and SubscribeSince (the changes after a revision as
 * Changes signals, then every later commit's, with no gap and no change twice). On the
 * system bus a caller gets only the changes of keys it may read. */
typedef struct _KvBusHistory KvBusHistory;

/* Borrows every argument; no reply or signal carries more than @max_bytes of changes. */
KvBusHistory *kv_bus_history_new(KvService *service, KvBusSignals *signals, KvBusCallers *callers,
                                 KvBusAccess *access, KvPeerFlow *flow, gsize max_bytes);

/* ChangesSince(s prefix, t last_seen, s after, u limit) -> (a(sbvt) changes, t next,
 * s next_after, b more). */
int kv_bus_history_changes_since(KvBusHistory *self, sd_bus_message *m, sd_bus_error *ret_error);

/* SubscribeSince(s prefix, t last_seen) -> t revision. */
int kv_bus_history_subscribe_since(KvBusHistory *self, sd_bus_message *m, sd_bus_error *ret_error);

void kv_bus_history_free(KvBusHistory *self);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(KvBusHistory, kv_bus_history_free)

G_END_DECLS
