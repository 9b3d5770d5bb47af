/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "kv-bus-signals.h"

#include "kv-bus-changes.h"
#include "kv-bus-error.h"
#include "kv-config.h"
#include "kv-error.h"
#include "kv-sd-bus-cleanup.h"
#include "kv-service.h"
#include "kv-subscriptions.h"
#include "kv-variant-bridge.h"

#include <string.h>

/* A change kept for the coalesced subscribers until its commit. */
typedef struct {
  char *key;
  GVariant *value; /* NULL: deleted */
  guint64 revision;
  gsize bytes; /* change_bytes(), once for all subscribers */
} Pending;

struct _KvBusSignals {
  sd_bus *bus;
  KvBusCallers *callers;
  KvBusAccess *access;
  KvSubscriptions *subscriptions;
  GArray *pending; /* Pending, in revision order */
  gsize max_bytes;
  KvPeerFlow *flow;
  GPtrArray *lost; /* peers whose subscriptions end once the walk over them is done */
};

static void pending_clear(gpointer data)
{
  Pending *pending = data;

  g_free(pending->key);
  g_clear_pointer(&pending->value, g_variant_unref);
}

static void on_peer_left(const char *peer, gpointer user_data)
{
  KvBusSignals *self = user_data;

  kv_subscriptions_remove_peer(self->subscriptions, peer);
}

KvBusSignals *kv_bus_signals_new(sd_bus *bus, KvBusCallers *callers, KvBusAccess *access,
                                 KvPeerFlow *flow, gsize max_bytes)
{
  KvBusSignals *self = g_new0(KvBusSignals, 1);

  self->flow = flow;
  self->lost = g_ptr_array_new_with_free_func(g_free);
  self->pending = g_array_new(FALSE, FALSE, sizeof(Pending));
  g_array_set_clear_func(self->pending, pending_clear);
  self->max_bytes = max_bytes;
  self->bus = bus;
  self->callers = callers;
  self->access = access;
  self->subscriptions = kv_subscriptions_new();
  kv_bus_callers_add_left_func(callers, on_peer_left, self);
  return self;
}

void kv_bus_signals_free(KvBusSignals *self)
{
  if (self == NULL)
    return;
  kv_bus_callers_remove_left_func(self->callers, on_peer_left, self);
  kv_subscriptions_free(self->subscriptions);
  g_array_unref(self->pending);
  g_ptr_array_unref(self->lost);
  g_free(self);
}

static int new_signal(KvBusSignals *self, const char *destination, const char *key, GVariant *value,
                      guint64 revision, GPtrArray *out)
{
  g_autoptr(sd_bus_message) signal = NULL;
  int r = sd_bus_message_new_signal(self->bus, &signal, KV_OBJECT_PATH, KV_INTERFACE,
                                    value != NULL ? "Changed" : "Deleted");

  if (r >= 0 && destination != NULL)
    r = sd_bus_message_set_destination(signal, destination);
  if (r >= 0)
    r = sd_bus_message_append_basic(signal, 's', key);
  if (r >= 0 && value != NULL)
    r = kv_variant_bridge_append_variant(signal, value);
  if (r >= 0)
    r = sd_bus_message_append_basic(signal, 't', &revision);
  if (r < 0)
    return r;
  g_ptr_array_add(out, g_steal_pointer(&signal));
  return 0;
}

/* Whether @bytes more may go to @peer, which asked for them but may not be reading. If
 * not, its subscriptions end, and @out gets the SubscriptionLost signal that says so. */
static gboolean may_send(KvBusSignals *self, const char *peer, gsize bytes, GPtrArray *out,
                         int *result)
{
  g_autoptr(sd_bus_message) lost = NULL;

  if (kv_peer_flow_may_send(self->flow, peer, bytes)) {
    kv_peer_flow_add(self->flow, peer, bytes);
    return TRUE;
  }
  g_ptr_array_add(self->lost, g_strdup(peer));
  int r =
      sd_bus_message_new_signal(self->bus, &lost, KV_OBJECT_PATH, KV_INTERFACE, "SubscriptionLost");
  if (r >= 0)
    r = sd_bus_message_set_destination(lost, peer);
  if (r >= 0)
    r = sd_bus_message_append(lost, "s", "The changes sent to this connection are not being read");
  if (r >= 0)
    g_ptr_array_add(out, g_steal_pointer(&lost));
  if (r < 0 && *result >= 0)
    *result = r;
  return FALSE;
}

/* Ends the subscriptions of the peers may_send() refused, after the walk over them. */
static void end_lost(KvBusSignals *self)
{
  for (guint i = 0; i < self->lost->len; i++)
    kv_subscriptions_remove_peer(self->subscriptions, g_ptr_array_index(self->lost, i));
  g_ptr_array_set_size(self->lost, 0);
}

typedef struct {
  KvBusSignals *self;
  const char *key;
  GVariant *value;
  guint64 revision;
  gsize bytes; /* change_bytes(), once for all subscribers */
  GPtrArray *out;
  int result;
} Unicast;

static void add_unicast(const char *peer, gpointer user_data)
{
  Unicast *u = user_data;

  if (u->result >= 0 && kv_bus_access_peer_reads(u->self->access, peer, u->key) &&
      may_send(u->self, peer, u->bytes, u->out, &u->result))
    u->result = new_signal(u->self, peer, u->key, u->value, u->revision, u->out);
}

int kv_bus_signals_build(KvBusSignals *self, const char *key, GVariant *value, guint64 revision,
                         GPtrArray *out)
{
  gboolean coalesced = kv_subscriptions_any(self->subscriptions, KV_SUBSCRIPTION_COALESCED);
  gboolean broadcast = kv_bus_access_everyone_reads(self->access, key);
  /* Only signals sent to one peer are counted: no walk of the value for a broadcast. */
  gsize bytes = coalesced || !broadcast ? kv_bus_change_bytes(key, value) : 0;
  if (coalesced) {
    Pending pending = {g_strdup(key), value != NULL ? g_variant_ref(value) : NULL, revision, bytes};
    g_array_append_val(self->pending, pending);
  }
  /* Nobody listens: nothing to send, and nothing for the bus to route. */
  if (!broadcast) {
    Unicast unicast = {self, key, value, revision, bytes, out, 0};
    kv_subscriptions_foreach_match(self->subscriptions, key, KV_SUBSCRIPTION_EACH, add_unicast,
                                   &unicast);
    end_lost(self);
    return unicast.result;
  }
  if (kv_subscriptions_any_match(self->subscriptions, key, KV_SUBSCRIPTION_EACH))
    return new_signal(self, NULL, key, value, revision, out);
  return 0;
}

void kv_bus_signals_discard(KvBusSignals *self)
{
  g_array_set_size(self->pending, 0);
}

typedef struct {
  KvBusSignals *self;
  guint count; /* the pending changes it sends */
  GPtrArray *out;
  int result;
} Flush;

/* Whether @peer gets @pending in its Changes. */
static gboolean wants(KvBusSignals *self, const char *peer, const Pending *pending)
{
  return kv_subscriptions_peer_matches(self->subscriptions, peer, pending->key,
                                       KV_SUBSCRIPTION_COALESCED) &&
         kv_bus_access_peer_reads(self->access, peer, pending->key);
}

/* The Changes signals for @peer: what it subscribed to and may read, split so that none
 * carries more than max_bytes. */
static void add_changes(const char *peer, gpointer user_data)
{
  Flush *flush = user_data;
  KvBusSignals *self = flush->self;
  KvBusChangesSignals signals = {self->bus, peer, self->max_bytes, flush->out, NULL, 0};
  gsize all_bytes = 0;
  int r = 0;

  for (guint i = 0; i < flush->count; i++) {
    Pending *pending = &g_array_index(self->pending, Pending, i);
    if (!wants(self, peer, pending))
      continue;
    if (pending->bytes == 0)
      pending->bytes = kv_bus_change_bytes(pending->key, pending->value);
    all_bytes += pending->bytes;
  }
  if (all_bytes == 0 || !may_send(self, peer, all_bytes, flush->out, &flush->result))
    return;
  for (guint i = 0; r >= 0 && i < flush->count; i++) {
    const Pending *pending = &g_array_index(self->pending, Pending, i);
    if (wants(self, peer, pending))
      r = kv_bus_changes_signals_add(&signals, pending->key, pending->value, pending->revision,
                                     pending->bytes);
  }
  r = kv_bus_changes_signals_finish(&signals, r);
  if (r < 0 && flush->result >= 0)
    flush->result = r;
}

int kv_bus_signals_flush(KvBusSignals *self, guint64 committed, GPtrArray *out)
{
  Flush flush = {self, 0, out, 0};

  while (flush.count < self->pending->len &&
         g_array_index(self->pending, Pending, flush.count).revision <= committed)
    flush.count++;
  if (flush.count > 0)
    kv_subscriptions_foreach_peer(self->subscriptions, KV_SUBSCRIPTION_COALESCED, add_changes,
                                  &flush);
  end_lost(self);
  g_array_remove_range(self->pending, 0, flush.count);
  return flush.result;
}

gboolean kv_bus_signals_has_pending(KvBusSignals *self)
{
  return self->pending->len > 0;
}

/* Reads the prefix argument of Subscribe or Unsubscribe, and who sent it. */
static int read_prefix(KvBusSignals *self, sd_bus_message *m, const char **out_prefix,
                       const KvCaller **out_caller, sd_bus_error *ret_error)
{
  int r = sd_bus_message_read(m, "s", out_prefix);

  if (r < 0)
    return r;
  if (strlen(*out_prefix) > KV_KEY_MAX_BYTES)
    return sd_bus_error_setf(ret_error, KV_BUS_ERROR_TOO_LARGE,
                             "A prefix is at most %d bytes, as a key is", KV_KEY_MAX_BYTES);
  /* Known now, so that signals can be checked against the subscriber's rights. */
  return kv_bus_callers_lookup(self->callers, sd_bus_message_get_sender(m), out_caller, ret_error);
}

static int subscribe(KvBusSignals *self, sd_bus_message *m, KvSubscriptionKind kind,
                     sd_bus_error *ret_error)
{
  g_autoptr(GError) error = NULL;
  const KvCaller *caller;
  const char *prefix;
  int r = read_prefix(self, m, &prefix, &caller, ret_error);

  if (r < 0)
    return r;
  if (!kv_subscriptions_add(self->subscriptions, sd_bus_message_get_sender(m), caller->uid, prefix,
                            kind, &error))
    return kv_bus_error_set(ret_error, error);
  return sd_bus_reply_method_return(m, NULL);
}

static gboolean keep_pending(const char *key, GVariant *value, guint64 revision, gpointer user_data)
{
  KvBusSignals *self = user_data;
  /* Its size is worked out at the flush, when someone wants it. */
  Pending pending = {g_strdup(key), value != NULL ? g_variant_ref(value) : NULL, revision, 0};

  g_array_append_val(self->pending, pending);
  return TRUE;
}

gboolean kv_bus_signals_add_coalesced(KvBusSignals *self, const char *peer, guint32 owner,
                                      const char *prefix, KvHistory *history, GError **error)
{
  if (!kv_subscriptions_add(self->subscriptions, peer, owner, prefix, KV_SUBSCRIPTION_COALESCED,
                            error))
    return FALSE;
  /* Changes are kept for their commit only while some peer wants them coalesced: those
   * of the commit under way may be missing. The history has them all. */
  g_array_set_size(self->pending, 0);
  kv_history_foreach_uncommitted(history, keep_pending, self);
  return TRUE;
}

int kv_bus_signals_subscribe(KvBusSignals *self, sd_bus_message *m, sd_bus_error *ret_error)
{
  return subscribe(self, m, KV_SUBSCRIPTION_EACH, ret_error);
}

int kv_bus_signals_subscribe_coalesced(KvBusSignals *self, sd_bus_message *m,
                                       sd_bus_error *ret_error)
{
  return subscribe(self, m, KV_SUBSCRIPTION_COALESCED, ret_error);
}

int kv_bus_signals_unsubscribe(KvBusSignals *self, sd_bus_message *m, sd_bus_error *ret_error)
{
  const KvCaller *caller;
  const char *prefix;
  int r = read_prefix(self, m, &prefix, &caller, ret_error);

  if (r < 0)
    return r;
  if (!kv_subscriptions_remove(self->subscriptions, sd_bus_message_get_sender(m), prefix))
    return sd_bus_error_setf(ret_error, KV_BUS_ERROR_NOT_FOUND, "Not subscribed to '%s'", prefix);
  return sd_bus_reply_method_return(m, NULL);
}
