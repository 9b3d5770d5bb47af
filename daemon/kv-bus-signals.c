#include "kv-bus-signals.h"

#include "kv-bus-error.h"
#include "kv-config.h"
#include "kv-error.h"
#include "kv-sd-bus-cleanup.h"
#include "kv-service.h"
#include "kv-subscriptions.h"
#include "kv-variant-bridge.h"

#include <string.h>

struct _KvBusSignals {
  sd_bus *bus;
  KvBusCallers *callers;
  KvBusAccess *access;
  KvSubscriptions *subscriptions;
};

static void on_peer_left(const char *peer, gpointer user_data)
{
  KvBusSignals *self = user_data;

  kv_subscriptions_remove_peer(self->subscriptions, peer);
}

KvBusSignals *kv_bus_signals_new(sd_bus *bus, KvBusCallers *callers, KvBusAccess *access)
{
  KvBusSignals *self = g_new0(KvBusSignals, 1);

  self->bus = bus;
  self->callers = callers;
  self->access = access;
  self->subscriptions = kv_subscriptions_new();
  kv_bus_callers_set_left_func(callers, on_peer_left, self);
  return self;
}

void kv_bus_signals_free(KvBusSignals *self)
{
  if (self == NULL)
    return;
  kv_bus_callers_set_left_func(self->callers, NULL, NULL);
  kv_subscriptions_free(self->subscriptions);
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

typedef struct {
  KvBusSignals *self;
  const char *key;
  GVariant *value;
  guint64 revision;
  GPtrArray *out;
  int result;
} Unicast;

static void add_unicast(const char *peer, gpointer user_data)
{
  Unicast *u = user_data;

  if (u->result >= 0 && kv_bus_access_peer_reads(u->self->access, peer, u->key))
    u->result = new_signal(u->self, peer, u->key, u->value, u->revision, u->out);
}

int kv_bus_signals_build(KvBusSignals *self, const char *key, GVariant *value, guint64 revision,
                         GPtrArray *out)
{
  Unicast unicast = {self, key, value, revision, out, 0};

  if (kv_bus_access_everyone_reads(self->access, key))
    return new_signal(self, NULL, key, value, revision, out);
  kv_subscriptions_foreach_match(self->subscriptions, key, add_unicast, &unicast);
  return unicast.result;
}

/* Reads the prefix argument of Subscribe or Unsubscribe, and who sent it. */
static int read_prefix(KvBusSignals *self, sd_bus_message *m, const char **out_prefix,
                       sd_bus_error *ret_error)
{
  const KvCaller *caller;
  int r = sd_bus_message_read(m, "s", out_prefix);

  if (r < 0)
    return r;
  if (strlen(*out_prefix) > KV_KEY_MAX_BYTES)
    return sd_bus_error_setf(ret_error, KV_BUS_ERROR_TOO_LARGE,
                             "A prefix is at most %d bytes, as a key is", KV_KEY_MAX_BYTES);
  /* Known now, so that signals can be checked against the subscriber's rights. */
  return kv_bus_callers_lookup(self->callers, sd_bus_message_get_sender(m), &caller, ret_error);
}

int kv_bus_signals_subscribe(KvBusSignals *self, sd_bus_message *m, sd_bus_error *ret_error)
{
  g_autoptr(GError) error = NULL;
  const char *prefix;
  int r = read_prefix(self, m, &prefix, ret_error);

  if (r < 0)
    return r;
  if (!kv_subscriptions_add(self->subscriptions, sd_bus_message_get_sender(m), prefix, &error))
    return kv_bus_error_set(ret_error, error);
  return sd_bus_reply_method_return(m, NULL);
}

int kv_bus_signals_unsubscribe(KvBusSignals *self, sd_bus_message *m, sd_bus_error *ret_error)
{
  const char *prefix;
  int r = read_prefix(self, m, &prefix, ret_error);

  if (r < 0)
    return r;
  if (!kv_subscriptions_remove(self->subscriptions, sd_bus_message_get_sender(m), prefix))
    return sd_bus_error_setf(ret_error, KV_BUS_ERROR_NOT_FOUND, "Not subscribed to '%s'", prefix);
  return sd_bus_reply_method_return(m, NULL);
}
