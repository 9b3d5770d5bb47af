/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "kv-bus-access.h"
#include "kv-bus-callers.h"
#include "kv-history.h"
#include "kv-peer-flow.h"

#include <systemd/sd-bus.h>

G_BEGIN_DECLS

/* Where change signals go, and only where someone listens. The change of a key every
 * peer may read is broadcast, as any D-Bus signal, when some peer subscribed to a prefix
 * of it (Subscribe); the change of any other key is sent, as a unicast signal of the same
 * name and arguments, to each peer that subscribed to a prefix of it and may read it, and
 * to no one else. A peer that subscribed with SubscribeCoalesced receives instead one
 * unicast Changes signal per commit, with every change under its prefixes that it may
 * read. A subscription ends with Unsubscribe or when its peer leaves the bus, or when
 * its peer does not read what it is sent (see kv-peer-flow.h): then every subscription of
 * the peer ends, and it is told so with a SubscriptionLost signal. */
typedef struct _KvBusSignals KvBusSignals;

/* Routes signals on @bus, none carrying more than @max_bytes of changes, counting those
 * sent to one peer in @flow (may be NULL); @callers, @access (NULL on the session bus)
 * and @flow are borrowed. */
KvBusSignals *kv_bus_signals_new(sd_bus *bus, KvBusCallers *callers, KvBusAccess *access,
                                 KvPeerFlow *flow, gsize max_bytes);

/* Appends to @out (sd_bus_message *, owned) the signals of a change of @key to @value
 * (NULL: deleted) at @revision, and keeps the change for kv_bus_signals_flush() if some
 * peer wants it coalesced. Returns 0 or a negative errno. */
int kv_bus_signals_build(KvBusSignals *self, const char *key, GVariant *value, guint64 revision,
                         GPtrArray *out);

/* Appends to @out the Changes signals of the changes kept up to revision @committed, now
 * committed, and forgets them; later ones wait for their commit. Returns 0 or a negative
 * errno. */
int kv_bus_signals_flush(KvBusSignals *self, guint64 committed, GPtrArray *out);

/* Whether changes wait for kv_bus_signals_flush(). */
gboolean kv_bus_signals_has_pending(KvBusSignals *self);

/* Forgets every change kept: they were rolled back. */
void kv_bus_signals_discard(KvBusSignals *self);

/* The Subscribe(s prefix), SubscribeCoalesced(s prefix) and Unsubscribe(s prefix)
 * methods. */
int kv_bus_signals_subscribe(KvBusSignals *self, sd_bus_message *m, sd_bus_error *ret_error);
int kv_bus_signals_subscribe_coalesced(KvBusSignals *self, sd_bus_message *m,
                                       sd_bus_error *ret_error);
int kv_bus_signals_unsubscribe(KvBusSignals *self, sd_bus_message *m, sd_bus_error *ret_error);

/* Subscribes @peer, owned by @owner, to the Changes of the keys under @prefix from the
 * next commit on, every change not yet committed included, as @history holds them
 * (SubscribeSince: what came before, it was sent from the history). TOO_LARGE beyond the
 * subscription limits. */
gboolean kv_bus_signals_add_coalesced(KvBusSignals *self, const char *peer, guint32 owner,
                                      const char *prefix, KvHistory *history, GError **error);

void kv_bus_signals_free(KvBusSignals *self);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(KvBusSignals, kv_bus_signals_free)

G_END_DECLS
