/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "kv-bus-callers.h"

#include <systemd/sd-bus.h>

G_BEGIN_DECLS

/* Count and Revision for the peers that cache properties. A GDBusProxy (and its kin in
 * other libraries) asks Properties.GetAll once and then trusts what PropertiesChanged
 * tells it; so once a peer has asked GetAll of the object, every commit is announced with
 * PropertiesChanged carrying the new Count and Revision, until no such peer is left on
 * the bus. With none, a write costs no message more than its reply.
 *
 * On the system bus the announcement would tell every user when anyone writes and how
 * many keys exist, other users' private ones included: there it goes only to the
 * caching peers that are root, each on its own (unicast), and no other peer is told. */
typedef struct _KvBusProperties KvBusProperties;

/* Watches @bus's incoming calls for GetAll, and @callers for departures; @system: the
 * announcements go to root's caching peers alone. */
int kv_bus_properties_new(sd_bus *bus, KvBusCallers *callers, gboolean system,
                          KvBusProperties **ret);

/* Announces Count (@count) and Revision (@revision) when a peer caches them and @revision
 * is new to it. */
void kv_bus_properties_announce(KvBusProperties *self, guint32 count, guint64 revision);

void kv_bus_properties_free(KvBusProperties *self);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(KvBusProperties, kv_bus_properties_free)

G_END_DECLS
