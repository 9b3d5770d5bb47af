/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "kv-bus-callers.h"
#include "kv-bus.h"
#include "kv-service.h"

#include <systemd/sd-bus.h>

G_BEGIN_DECLS

/* The lease and lock methods of org.example.KVStore (GrantLease, KeepAlive, RevokeLease,
 * Lock, Unlock, and the LockAcquired signal), and what ends leases without a call: the
 * TTL's deadline passing (a timer on the earliest one), the bound connection leaving the
 * bus, or, at start-up, being gone already. */

/* Publishes the methods beside @front's on @bus; @bus_name names this machine and bus
 * (kv-bus.c), as bound leases record it. Returns 0 or a negative errno. */
int kv_bus_leases_new(KvBus *front, sd_bus *bus, KvService *service, KvBusCallers *callers,
                      const char *bus_name, KvBusLeases **ret);

void kv_bus_leases_free(KvBusLeases *self);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(KvBusLeases, kv_bus_leases_free)

G_END_DECLS
