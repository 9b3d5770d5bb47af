/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "kv-peer-flow.h"

#include "kv-log.h"
#include "kv-sd-bus-cleanup.h"

#include <errno.h>
#include <stdarg.h>
#include <string.h>

#define PEER_INTERFACE  "org.freedesktop.DBus.Peer"
#define STATS_INTERFACE "org.freedesktop.DBus.Debug.Stats"
/* How often peers with a little unread are measured anyway, so that the bytes of a peer
 * that left are dropped, and a measure that timed out is taken again. */
#define SWEEP_USEC           (10 * 1000 * 1000)
#define MEASURE_TIMEOUT_USEC (10 * 1000 * 1000)
/* A refused peer is measured again at most this often, however fast it calls. */
#define REMEASURE_USEC (100 * 1000)
/* At most one line a kind this often: a flood of refusals must not flood the journal. */
#define LOG_INTERVAL_USEC (10 * 1000 * 1000)

/* How the bus tells the bytes it holds for a peer, as far as kvstored has learnt. */
typedef enum {
  STATS_UNKNOWN,
  STATS_CONNECTION, /* GetConnectionStats(peer) (dbus-daemon) */
  STATS_ACCOUNTING, /* GetStats, its PeerAccounting (dbus-broker) */
  STATS_REFUSED,    /* neither, or not to kvstored: pings then */
} StatsSupport;

typedef struct {
  KvPeerFlow *flow;
  char *name;
  gsize unconfirmed; /* bytes sent and not yet seen read */
  gsize measured;    /* those of them sent before the outstanding measure */
  gsize baseline;    /* what the last measure found unread */
  guint64 measured_at;
  sd_bus_slot *measure; /* the outstanding ping or stats question, or NULL */
  gboolean pinging;     /* the outstanding measure is a ping */
} Peer;

typedef struct {
  guint64 last_usec;
  guint suppressed;
} LogLimit;

struct _KvPeerFlow {
  sd_bus *bus;
  char *interface;
  sd_bus_slot *filter;
  sd_event_source *sweep;
  GHashTable *peers; /* unique name -> Peer */
  gsize total;
  StatsSupport stats;
  guint pings_out;
  LogLimit refusals;
  LogLimit failures;
};

/* Logs at most once per LOG_INTERVAL_USEC for @limit, saying how many lines it held
 * back. */
static void log_limited(LogLimit *limit, int priority, const char *format, ...) G_GNUC_PRINTF(3, 4);
static void log_limited(LogLimit *limit, int priority, const char *format, ...)
{
  guint64 now = (guint64)g_get_monotonic_time();

  if (limit->last_usec != 0 && now - limit->last_usec < LOG_INTERVAL_USEC) {
    limit->suppressed++;
    return;
  }
  va_list args;
  va_start(args, format);
  g_autofree char *line = g_strdup_vprintf(format, args);
  va_end(args);
  if (limit->suppressed > 0)
    kv_log(priority, "%s (%u more like it not logged)", line, limit->suppressed);
  else
    kv_log(priority, "%s", line);
  limit->last_usec = now;
  limit->suppressed = 0;
}

static void end_measure(Peer *peer)
{
  if (peer->measure == NULL)
    return;
  peer->measure = sd_bus_slot_unref(peer->measure);
  if (peer->pinging)
    peer->flow->pings_out--;
  peer->pinging = FALSE;
}

static void peer_free(gpointer data)
{
  Peer *peer = data;

  peer->flow->total -= peer->unconfirmed;
  end_measure(peer);
  g_free(peer->name);
  g_free(peer);
}

static void measure(Peer *peer);

/* A measure found @unread bytes of those counted when it was sent still unread. */
static void confirm(Peer *peer, gsize unread)
{
  KvPeerFlow *flow = peer->flow;

  unread = MIN(unread, peer->measured);
  peer->unconfirmed -= peer->measured - unread;
  flow->total -= peer->measured - unread;
  peer->measured = 0;
  peer->baseline = unread;
  if (peer->unconfirmed == 0)
    g_hash_table_remove(flow->peers, peer->name);
}

/* Whether @error, from the bus, says that @peer left it. */
static gboolean peer_left(const sd_bus_error *error)
{
  return sd_bus_error_has_names(error, SD_BUS_ERROR_SERVICE_UNKNOWN,
                                SD_BUS_ERROR_NAME_HAS_NO_OWNER);
}

/* The answer to a ping, or its failure. */
static int on_pong(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error)
{
  Peer *peer = userdata;
  KvPeerFlow *flow = peer->flow;
  const char *sender = sd_bus_message_get_sender(reply);

  end_measure(peer);
  /* No answer in time: the sweep asks again. */
  if (sender == NULL)
    return 0;
  if (g_strcmp0(sender, peer->name) != 0) {
    /* From the bus: the peer is gone, or the policy forbids the ping. */
    const sd_bus_error *error = sd_bus_message_get_error(reply);
    if (peer_left(error))
      g_hash_table_remove(flow->peers, peer->name);
    else
      log_limited(&flow->failures, LOG_WARNING, "Cannot ask %s whether it reads its replies: %s",
                  peer->name, error != NULL ? error->message : "unexpected reply");
    return 0;
  }
  /* From the peer itself, even an error: it read all that came before. */
  confirm(peer, 0);
  return 0;
}

/* Moves into the entry called @name of the a{sv} at @reply, past its name, with its value
 * next; FALSE when there is none (or the message does not read). */
static gboolean enter_entry(sd_bus_message *reply, const char *name)
{
  const char *entry;

  if (sd_bus_message_enter_container(reply, 'a', "{sv}") <= 0)
    return FALSE;
  while (sd_bus_message_enter_container(reply, 'e', "sv") > 0) {
    if (sd_bus_message_read_basic(reply, 's', &entry) < 0)
      return FALSE;
    if (strcmp(entry, name) == 0)
      return TRUE;
    if (sd_bus_message_skip(reply, "v") < 0 || sd_bus_message_exit_container(reply) < 0)
      return FALSE;
  }
  return FALSE;
}

/* The bytes the bus holds for the peer, from GetConnectionStats' answer (an a{sv} with
 * OutgoingBytes); FALSE when it does not say. */
static gboolean read_outgoing_bytes(sd_bus_message *reply, gsize *ret)
{
  uint32_t bytes;

  if (!enter_entry(reply, "OutgoingBytes") || sd_bus_message_read(reply, "v", "u", &bytes) < 0)
    return FALSE;
  *ret = bytes;
  return TRUE;
}

/* The OutgoingBytes of @peer in one PeerAccounting entry's accounting, an a{su}. */
static gboolean read_accounting(sd_bus_message *reply, gsize *ret)
{
  const char *name;
  uint32_t value;

  if (sd_bus_message_enter_container(reply, 'a', "{su}") <= 0)
    return FALSE;
  while (sd_bus_message_read(reply, "{su}", &name, &value) > 0)
    if (strcmp(name, "OutgoingBytes") == 0) {
      *ret = value;
      return TRUE;
    }
  return FALSE;
}

/* The bytes dbus-broker holds for @peer, from GetStats' answer: an a{sv} whose
 * "org.bus1.DBus.Debug.Stats.PeerAccounting" is an a(sa{sv}a{su}), a peer's name, its
 * credentials and its accounting. A peer not listed has left: 0. */
static gboolean read_peer_accounting(sd_bus_message *reply, const char *peer, gsize *ret)
{
  const char *name;

  if (!enter_entry(reply, "org.bus1.DBus.Debug.Stats.PeerAccounting") ||
      sd_bus_message_enter_container(reply, 'v', "a(sa{sv}a{su})") <= 0 ||
      sd_bus_message_enter_container(reply, 'a', "(sa{sv}a{su})") <= 0)
    return FALSE;
  while (sd_bus_message_enter_container(reply, 'r', "sa{sv}a{su}") > 0) {
    if (sd_bus_message_read_basic(reply, 's', &name) < 0 || sd_bus_message_skip(reply, "a{sv}") < 0)
      return FALSE;
    if (strcmp(name, peer) == 0)
      return read_accounting(reply, ret);
    if (sd_bus_message_skip(reply, "a{su}") < 0 || sd_bus_message_exit_container(reply) < 0)
      return FALSE;
  }
  *ret = 0;
  return TRUE;
}

static int on_stats(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error)
{
  Peer *peer = userdata;
  KvPeerFlow *flow = peer->flow;
  const sd_bus_error *error = sd_bus_message_get_error(reply);
  gboolean accounting = flow->stats == STATS_ACCOUNTING;
  gsize unread = 0;

  end_measure(peer);
  if (error != NULL && peer_left(error)) {
    g_hash_table_remove(flow->peers, peer->name);
    return 0;
  }
  if (error != NULL && sd_bus_error_has_name(error, SD_BUS_ERROR_TIMEOUT))
    return 0;
  if (error == NULL && (accounting ? read_peer_accounting(reply, peer->name, &unread)
                                   : read_outgoing_bytes(reply, &unread))) {
    if (flow->stats != (accounting ? STATS_ACCOUNTING : STATS_CONNECTION))
      kv_log(LOG_INFO, "The bus tells the bytes its peers have not read (%s)",
             accounting ? "GetStats" : "GetConnectionStats");
    flow->stats = accounting ? STATS_ACCOUNTING : STATS_CONNECTION;
    confirm(peer, unread);
    return 0;
  }
  /* dbus-broker has no GetConnectionStats, but tells every peer's bytes in GetStats;
   * dbus-daemon without the policy tells kvstored nothing. */
  if (flow->stats == STATS_UNKNOWN) {
    flow->stats = STATS_ACCOUNTING;
  } else {
    kv_log(LOG_INFO,
           "The bus does not tell the bytes its peers have not read (%s); asking the peers "
           "with Peer.Ping instead",
           error != NULL ? error->message : "no OutgoingBytes");
    flow->stats = STATS_REFUSED;
  }
  measure(peer);
  return 0;
}

static int send_stats_question(Peer *peer)
{
  if (peer->flow->stats == STATS_ACCOUNTING)
    return sd_bus_call_method_async(peer->flow->bus, &peer->measure, "org.freedesktop.DBus",
                                    "/org/freedesktop/DBus", STATS_INTERFACE, "GetStats", on_stats,
                                    peer, "");
  return sd_bus_call_method_async(peer->flow->bus, &peer->measure, "org.freedesktop.DBus",
                                  "/org/freedesktop/DBus", STATS_INTERFACE, "GetConnectionStats",
                                  on_stats, peer, "s", peer->name);
}

static int send_ping(Peer *peer)
{
  g_autoptr(sd_bus_message) ping = NULL;
  int r = sd_bus_message_new_method_call(peer->flow->bus, &ping, peer->name, "/", PEER_INTERFACE,
                                         "Ping");

  if (r >= 0)
    r = sd_bus_call_async(peer->flow->bus, &peer->measure, ping, on_pong, peer,
                          MEASURE_TIMEOUT_USEC);
  if (r >= 0) {
    peer->pinging = TRUE;
    peer->flow->pings_out++;
  }
  return r;
}

/* Asks what the peer has really read: the bus where it tells, else the peer. A ping is
 * not sent while KV_FLOW_MAX_PINGS are out; the sweep tries again. */
static void measure(Peer *peer)
{
  KvPeerFlow *flow = peer->flow;
  int r;

  if (peer->measure != NULL)
    return;
  if (flow->stats != STATS_REFUSED)
    r = send_stats_question(peer);
  else if (flow->pings_out < KV_FLOW_MAX_PINGS)
    r = send_ping(peer);
  else
    return;
  if (r < 0) {
    log_limited(&flow->failures, LOG_WARNING, "Cannot ask whether %s reads its replies: %s",
                peer->name, g_strerror(-r));
    return;
  }
  peer->measured = peer->unconfirmed;
  peer->measured_at = (guint64)g_get_monotonic_time();
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
  /* Measured again once another KV_FLOW_PING_BYTES came since the last measure. */
  if (peer->unconfirmed >= peer->baseline + KV_FLOW_PING_BYTES)
    measure(peer);
}

gboolean kv_peer_flow_may_send(KvPeerFlow *self, const char *name, gsize bytes)
{
  if (self == NULL)
    return TRUE;
  Peer *peer = lookup_peer(self, name, FALSE);
  gsize unconfirmed = (peer != NULL ? peer->unconfirmed : 0) + bytes;
  gboolean may =
      unconfirmed <= KV_FLOW_MAX_PEER_BYTES &&
      (self->total + bytes <= KV_FLOW_MAX_TOTAL_BYTES || unconfirmed < KV_FLOW_PING_BYTES);

  /* Refused for what it may have read since: a peer that asks again soon (a watch that
   * resumes) finds it counted by then. */
  if (!may && peer != NULL && peer->unconfirmed > 0 &&
      (guint64)g_get_monotonic_time() - peer->measured_at >= REMEASURE_USEC)
    measure(peer);
  return may;
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
    if ((guint64)g_get_monotonic_time() - peer->measured_at >= REMEASURE_USEC)
      measure(peer);
    log_limited(&self->refusals, LOG_NOTICE,
                "Refusing the calls of %s: %zu bytes of replies to it are not read", sender,
                peer->unconfirmed);
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
    measure(peer);
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
