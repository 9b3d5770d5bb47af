/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "kv-peer-flow.h"

#include "kv-log.h"
#include "kv-sd-bus-cleanup.h"

#include <errno.h>
#include <string.h>

#define PEER_INTERFACE "org.freedesktop.DBus.Peer"
/* How often peers with a little unconfirmed are asked anyway, so that the bytes of a
 * peer that left are dropped, and a ping that timed out is sent again. */
#define SWEEP_USEC        (10 * 1000 * 1000)
#define PING_TIMEOUT_USEC (10 * 1000 * 1000)

typedef struct {
  KvPeerFlow *flow;
  char *name;
  gsize unconfirmed; /* bytes sent and not yet seen read */
  gsize pinged;      /* those of them sent before the outstanding ping */
  sd_bus_slot *ping; /* the outstanding ping, or NULL */
} Peer;

struct _KvPeerFlow {
  sd_bus *bus;
  char *interface;
  sd_bus_slot *filter;
  sd_event_source *sweep;
  GHashTable *peers; /* unique name -> Peer */
  gsize total;
};

static void peer_free(gpointer data)
{
  Peer *peer = data;

  peer->flow->total -= peer->unconfirmed;
  sd_bus_slot_unref(peer->ping);
  g_free(peer->name);
  g_free(peer);
}

static void send_ping(Peer *peer);

/* The answer to a ping, or its failure. */
static int on_pong(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error)
{
  Peer *peer = userdata;
  KvPeerFlow *flow = peer->flow;
  const char *sender = sd_bus_message_get_sender(reply);

  peer->ping = sd_bus_slot_unref(peer->ping);
  /* No answer in time: the sweep asks again. */
  if (sender == NULL)
    return 0;
  if (g_strcmp0(sender, peer->name) != 0) {
    /* From the bus: the peer is gone, or the policy forbids the ping. */
    const sd_bus_error *error = sd_bus_message_get_error(reply);
    if (sd_bus_error_has_names(error, SD_BUS_ERROR_SERVICE_UNKNOWN, SD_BUS_ERROR_NAME_HAS_NO_OWNER))
      g_hash_table_remove(flow->peers, peer->name);
    else
      kv_log(LOG_WARNING, "Cannot ask %s whether it reads its replies: %s", peer->name,
             error != NULL ? error->message : "unexpected reply");
    return 0;
  }

  /* From the peer itself, even an error: it read all that came before. */
  peer->unconfirmed -= peer->pinged;
  flow->total -= peer->pinged;
  peer->pinged = 0;
  if (peer->unconfirmed == 0)
    g_hash_table_remove(flow->peers, peer->name);
  else if (peer->unconfirmed >= KV_FLOW_PING_BYTES)
    send_ping(peer);
  return 0;
}

static void send_ping(Peer *peer)
{
  g_autoptr(sd_bus_message) ping = NULL;
  int r = sd_bus_message_new_method_call(peer->flow->bus, &ping, peer->name, "/", PEER_INTERFACE,
                                         "Ping");

  if (r >= 0)
    r = sd_bus_call_async(peer->flow->bus, &peer->ping, ping, on_pong, peer, PING_TIMEOUT_USEC);
  if (r < 0) {
    kv_log(LOG_WARNING, "Cannot ping %s: %s", peer->name, g_strerror(-r));
    return;
  }
  peer->pinged = peer->unconfirmed;
}

static Peer *lookup_peer(KvPeerFlow *self, const char *name, gboolean create)
{
  Peer *peer = g_hash_table_lookup(self->peers, name);

  if (peer != NULL || !create)
    return peer;
  peer = g_new0(Peer, 1);
  peer->flow = self;
  peer->name = g_strdup(name);
  g_hash_table_insert(self->peers, peer->name, peer);
  return peer;
}

void kv_peer_flow_add(KvPeerFlow *self, const char *name, gsize bytes)
{
  if (self == NULL || name == NULL)
    return;

  Peer *peer = lookup_peer(self, name, TRUE);
  peer->unconfirmed += bytes;
  self->total += bytes;
  if (peer->ping == NULL && peer->unconfirmed >= KV_FLOW_PING_BYTES)
    send_ping(peer);
}

gboolean kv_peer_flow_may_send(KvPeerFlow *self, const char *name, gsize bytes)
{
  if (self == NULL)
    return TRUE;
  Peer *peer = lookup_peer(self, name, FALSE);
  gsize unconfirmed = (peer != NULL ? peer->unconfirmed : 0) + bytes;

  return unconfirmed <= KV_FLOW_MAX_PEER_BYTES &&
         (self->total + bytes <= KV_FLOW_MAX_TOTAL_BYTES || unconfirmed < KV_FLOW_PING_BYTES);
}

static gboolean over_limit(KvPeerFlow *self, Peer *peer)
{
  return peer->unconfirmed >= KV_FLOW_MAX_PEER_BYTES ||
         (self->total >= KV_FLOW_MAX_TOTAL_BYTES && peer->unconfirmed >= KV_FLOW_PING_BYTES);
}

/* Sees every incoming message before the object does. */
static int on_message(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
  KvPeerFlow *self = userdata;
  const char *sender = sd_bus_message_get_sender(m);
  const char *interface = sd_bus_message_get_interface(m);

  if (sender == NULL || !sd_bus_message_is_method_call(m, NULL, NULL) ||
      (g_strcmp0(interface, self->interface) != 0 &&
       g_strcmp0(interface, "org.freedesktop.DBus.Properties") != 0))
    return 0;

  Peer *peer = lookup_peer(self, sender, TRUE);
  gboolean refuse = over_limit(self, peer);
  if (refuse) {
    if (peer->ping == NULL)
      send_ping(peer);
    (void)sd_bus_reply_method_errorf(m, SD_BUS_ERROR_LIMITS_EXCEEDED,
                                     "%zu bytes of replies to %s are not read yet; read them "
                                     "(and answer org.freedesktop.DBus.Peer.Ping) before "
                                     "calling again",
                                     peer->unconfirmed, sender);
  }
  /* The reply, or the refusal: both wait in the peer's queue. */
  kv_peer_flow_add(self, sender, KV_FLOW_REPLY_OVERHEAD);
  return refuse ? 1 : 0;
}

static int on_sweep(sd_event_source *source, uint64_t usec, void *userdata)
{
  KvPeerFlow *self = userdata;
  GHashTableIter iter;
  Peer *peer;

  g_hash_table_iter_init(&iter, self->peers);
  while (g_hash_table_iter_next(&iter, NULL, (gpointer *)&peer))
    if (peer->ping == NULL)
      send_ping(peer);
  int r = sd_event_source_set_time(source, usec + SWEEP_USEC);
  return r < 0 ? r : sd_event_source_set_enabled(source, SD_EVENT_ON);
}

int kv_peer_flow_new(sd_bus *bus, const char *interface, KvPeerFlow **ret)
{
  g_autoptr(KvPeerFlow) self = g_new0(KvPeerFlow, 1);
  sd_event *event = sd_bus_get_event(bus);

  self->bus = bus;
  self->interface = g_strdup(interface);
  self->peers = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, peer_free);
  if (event == NULL)
    return -ENXIO;
  int r = sd_bus_add_filter(bus, &self->filter, on_message, self);
  if (r >= 0)
    r = sd_event_add_time_relative(event, &self->sweep, CLOCK_MONOTONIC, SWEEP_USEC, 0, on_sweep,
                                   self);
  if (r < 0)
    return r;
  *ret = g_steal_pointer(&self);
  return 0;
}

void kv_peer_flow_free(KvPeerFlow *self)
{
  if (self == NULL)
    return;
  sd_bus_slot_unref(self->filter);
  sd_event_source_disable_unref(self->sweep);
  g_hash_table_unref(self->peers);
  g_free(self->interface);
  g_free(self);
}
