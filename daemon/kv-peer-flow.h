/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>
#include <systemd/sd-bus.h>

G_BEGIN_DECLS

/* Back-pressure on callers that do not read their replies.
 *
 * A reply sent to a peer that does not read it waits in dbus-daemon, where it counts
 * against kvstored's own connection: enough of them and dbus-daemon stops reading from
 * kvstored, and every other caller waits. So kvstored counts the reply bytes each peer
 * has not yet been seen to read. Past KV_FLOW_PING_BYTES it sends the peer
 * org.freedesktop.DBus.Peer.Ping (every D-Bus library answers it); the answer comes after
 * the peer read everything sent before it, and those bytes are forgiven. A peer with
 * KV_FLOW_MAX_PEER_BYTES unconfirmed, or with KV_FLOW_PING_BYTES while all peers together
 * hold KV_FLOW_MAX_TOTAL_BYTES, has its calls refused with
 * org.freedesktop.DBus.Error.LimitsExceeded until it answers. Nothing is held for it. */
typedef struct _KvPeerFlow KvPeerFlow;

#define KV_FLOW_PING_BYTES      (1024 * 1024)
#define KV_FLOW_MAX_PEER_BYTES  (64 * 1024 * 1024)
#define KV_FLOW_MAX_TOTAL_BYTES (96 * 1024 * 1024)
/* What a reply costs besides its body: its header, counted for every call. */
#define KV_FLOW_REPLY_OVERHEAD 256

/* Watches the method calls to @interface on @bus (attached to an event loop). Returns 0
 * or a negative errno. */
int kv_peer_flow_new(sd_bus *bus, const char *interface, KvPeerFlow **ret);

/* Counts @bytes more sent to @peer (a unique name), beyond the overhead of its call. */
void kv_peer_flow_add(KvPeerFlow *self, const char *peer, gsize bytes);

/* Whether @bytes more may be sent to @peer unasked (signals): not when that would take it
 * past KV_FLOW_MAX_PEER_BYTES unconfirmed, nor, for more than KV_FLOW_PING_BYTES, all
 * peers past KV_FLOW_MAX_TOTAL_BYTES. TRUE when @self is NULL. */
gboolean kv_peer_flow_may_send(KvPeerFlow *self, const char *peer, gsize bytes);

void kv_peer_flow_free(KvPeerFlow *self);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(KvPeerFlow, kv_peer_flow_free)

G_END_DECLS
