/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>
#include <systemd/sd-bus.h>

G_BEGIN_DECLS

/* Back-pressure on callers that do not read their replies.
 *
 * A reply sent to a peer that does not read it waits in the bus, where it counts against
 * kvstored's own connection: enough of them and dbus-daemon stops reading from kvstored,
 * and every other caller waits. So kvstored counts the reply bytes each peer has not yet
 * been seen to read, and past KV_FLOW_PING_BYTES measures again what the peer really has
 * unread:
 * - by asking the bus (org.freedesktop.DBus.Debug.Stats.GetConnectionStats, the bytes
 *   queued for the peer), where the bus answers it (dbus-daemon, with the policy that
 *   lets kvstored ask). This counts what a peer reads whether or not it dispatches what
 *   it reads: a blocking client without a main loop reads every reply;
 * - else by org.freedesktop.DBus.Peer.Ping, whose answer comes after the peer read
 *   everything sent before it. A peer that reads but never dispatches (blocking libdbus
 *   and dbus-python clients) never answers, and is told apart only where the bus answers.
 * A peer with KV_FLOW_MAX_PEER_BYTES unread, or with KV_FLOW_PING_BYTES while all peers
 * together hold KV_FLOW_MAX_TOTAL_BYTES, has its calls refused with
 * org.freedesktop.DBus.Error.LimitsExceeded until a measure finds it has read them.
 * Nothing is held for it. At most KV_FLOW_MAX_PINGS pings are out at once, so that
 * kvstored never uses up the replies it may await on the bus (128 on dbus-daemon's system
 * bus), and refusals are logged at most once every few seconds. */
typedef struct _KvPeerFlow KvPeerFlow;

#define KV_FLOW_PING_BYTES      (1024 * 1024)
#define KV_FLOW_MAX_PEER_BYTES  (64 * 1024 * 1024)
#define KV_FLOW_MAX_TOTAL_BYTES (96 * 1024 * 1024)
#define KV_FLOW_MAX_PINGS       32
/* What a reply costs besides its body: its header, counted for every call. */
#define KV_FLOW_REPLY_OVERHEAD 256

/* Watches the method calls to @interface on @bus (attached to an event loop). Returns 0
 * or a negative errno. */
int kv_peer_flow_new(sd_bus *bus, const char *interface, KvPeerFlow **ret);

/* Counts @bytes more sent to @peer (a unique name), beyond the overhead of its call. */
void kv_peer_flow_add(KvPeerFlow *self, const char *peer, gsize bytes);

/* Whether @bytes more may be sent to @peer unasked (signals): not when that would take it
 * past KV_FLOW_MAX_PEER_BYTES unconfirmed, nor, for more than KV_FLOW_PING_BYTES, all
 * peers past KV_FLOW_MAX_TOTAL_BYTES; then the peer is measured again, at most every
 * 100 ms. TRUE when @self is NULL. */
gboolean kv_peer_flow_may_send(KvPeerFlow *self, const char *peer, gsize bytes);

void kv_peer_flow_free(KvPeerFlow *self);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(KvPeerFlow, kv_peer_flow_free)

G_END_DECLS
