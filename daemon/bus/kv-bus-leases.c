/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "kv-bus-leases.h"

#include "kv-config.h"
#include "kv-error.h"
#include "kv-log.h"
#include "kv-sd-bus-cleanup.h"

#include <errno.h>
#include <string.h>

struct _KvBusLeases {
  KvBus *front;
  sd_bus *bus;
  KvService *service;
  KvBusCallers *callers;
  char *bus_name;
  sd_bus_slot *slot;
  sd_event_source *timer;   /* at the earliest deadline */
  sd_event_source *renewal; /* a third of the bound leases' TTL, where kvstored renews it */
  GHashTable *ending;       /* guint64 IDs whose end is submitted and not yet done */
};

/* A lease's end that no call asked for: its deadline passed, or its connection left. */
typedef struct {
  KvBusLeases *self;
  KvWrite write;
  guint64 id;
  KvBusWritePlan *quota; /* the keys it deletes, for their owners' quotas */
} Ending;

static void on_ended(KvWrite *write, const GError *error, gpointer user_data)
{
  Ending *ending = user_data;

  /* Not found: it ended otherwise meanwhile (revoked, or by another host). Each end is
   * in the history and the signals; only a failure is worth the log. */
  if (error != NULL && !g_error_matches(error, KV_ERROR, KV_ERROR_LEASE_NOT_FOUND))
    kv_log(LOG_WARNING, "Cannot end lease %" G_GUINT64_FORMAT ": %s", ending->id, error->message);
  kv_bus_access_settle(kv_bus_get_access(ending->self->front), ending->quota, error == NULL);
  g_hash_table_remove(ending->self->ending, &ending->id);
  g_free(ending);
}

/* The quota plan of the end of lease @id: its keys go. */
static KvBusWritePlan *plan_end(KvBusLeases *self, guint64 id)
{
  const KvLease *lease = kv_leases_lookup(kv_service_get_leases(self->service), id);

  return lease != NULL ? kv_bus_access_plan_deletions(kv_bus_get_access(self->front), lease->keys)
                       : NULL;
}

static void end_lease(KvBusLeases *self, guint64 id)
{
  if (g_hash_table_contains(self->ending, &id))
    return;
  Ending *ending = g_new0(Ending, 1);
  ending->quota = plan_end(self, id);
  ending->self = self;
  ending->id = id;
  ending->write = (KvWrite){.kind = KV_WRITE_LEASE_REVOKE, .lease = id};
  g_hash_table_add(self->ending, g_memdup2(&id, sizeof id));
  kv_service_submit(self->service, &ending->write, on_ended, ending);
}

static void end_leases(KvBusLeases *self, GArray *ids)
{
  for (guint i = 0; i < ids->len; i++)
    end_lease(self, g_array_index(ids, guint64, i));
}

static void arm_timer(gpointer user_data)
{
  KvBusLeases *self = user_data;
  gint64 next = kv_leases_next_deadline(kv_service_get_leases(self->service));

  if (next == 0) {
    (void)sd_event_source_set_enabled(self->timer, SD_EVENT_OFF);
    return;
  }
  (void)sd_event_source_set_time(self->timer, (uint64_t)MAX(next, 1));
  (void)sd_event_source_set_enabled(self->timer, SD_EVENT_ONESHOT);
}

static int on_timer(sd_event_source *source, uint64_t usec, void *userdata)
{
  KvBusLeases *self = userdata;
  g_autoptr(GArray) expired =
      kv_leases_expired(kv_service_get_leases(self->service), g_get_real_time());

  end_leases(self, expired);
  arm_timer(self);
  return 0;
}

/* Whether @lease is bound to a connection of this kvstored's bus, or of one before a
 * restart of the bus. A store shared with other kvstored (etcd) holds their callers'
 * leases too, even on this machine: only those of this very bus are this kvstored's. */
static gboolean is_ours(KvBusLeases *self, const KvLease *lease)
{
  if (lease->bus == NULL)
    return FALSE;
  if (kv_service_shares_store(self->service))
    return strcmp(lease->bus, self->bus_name) == 0;
  return TRUE;
}

/* The names on the bus now, or NULL when the bus cannot tell. */
static GHashTable *list_names(KvBusLeases *self)
{
  g_auto(sd_bus_error) error = SD_BUS_ERROR_NULL;
  g_autoptr(sd_bus_message) reply = NULL;
  g_auto(GStrv) names = NULL;
  int r = sd_bus_call_method(self->bus, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                             "org.freedesktop.DBus", "ListNames", &error, &reply, NULL);

  if (r >= 0)
    r = sd_bus_message_read_strv(reply, &names);
  if (r < 0) {
    kv_log(LOG_WARNING, "Cannot list the names on the bus: %s",
           error.message != NULL ? error.message : g_strerror(-r));
    return NULL;
  }
  GHashTable *set = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
  for (gsize i = 0; names[i] != NULL; i++)
    g_hash_table_add(set, g_steal_pointer(&names[i]));
  return set;
}

static void on_renewed(KvWrite *write, const GError *error, gpointer user_data)
{
  if (error != NULL && !g_error_matches(error, KV_ERROR, KV_ERROR_LEASE_NOT_FOUND))
    kv_log(LOG_WARNING, "Cannot renew lease %" G_GUINT64_FORMAT ": %s", write->lease,
           error->message);
  g_free(write);
}

/* Renews the bound leases of this kvstored's connections that it keeps alive (on etcd),
 * three times a TTL: they end only if it stops, with its host. One whose connection is
 * gone ends instead: it left while its grant was on its way to etcd, before the lease
 * was there to end. */
static int on_renewal(sd_event_source *source, uint64_t usec, void *userdata)
{
  KvBusLeases *self = userdata;
  KvLeases *leases = kv_service_get_leases(self->service);
  g_autoptr(GArray) bound = kv_leases_bound(leases, NULL);
  g_autoptr(GHashTable) names = bound->len > 0 ? list_names(self) : NULL;

  for (guint i = 0; i < bound->len; i++) {
    const KvLease *lease = kv_leases_lookup(leases, g_array_index(bound, guint64, i));
    if (lease == NULL || !lease->renewed || g_strcmp0(lease->bus, self->bus_name) != 0)
      continue;
    if (names != NULL && !g_hash_table_contains(names, lease->peer)) {
      end_lease(self, lease->id);
      continue;
    }
    KvWrite *write = g_new0(KvWrite, 1);
    *write = (KvWrite){.kind = KV_WRITE_LEASE_KEEP_ALIVE, .lease = lease->id};
    kv_service_submit(self->service, write, on_renewed, write);
  }
  int r =
      sd_event_source_set_time(source, usec + kv_service_get_bound_ttl(self->service) * 1000 / 3);
  return r < 0 ? r : sd_event_source_set_enabled(source, SD_EVENT_ONESHOT);
}

static void on_peer_left(const char *peer, gpointer user_data)
{
  KvBusLeases *self = user_data;
  KvLeases *leases = kv_service_get_leases(self->service);
  g_autoptr(GArray) bound = kv_leases_bound(leases, peer);

  for (guint i = 0; i < bound->len; i++) {
    guint64 id = g_array_index(bound, guint64, i);
    const KvLease *lease = kv_leases_lookup(leases, id);
    if (lease != NULL && g_strcmp0(lease->bus, self->bus_name) == 0)
      end_lease(self, id);
  }
}

/* At start-up, before any call is served: a bound lease whose connection left while
 * kvstored was away ends (its bus was restarted, or its name is no longer on it), and so
 * does a lease whose deadline passed meanwhile. */
static void end_leases_gone(KvBusLeases *self)
{
  KvLeases *leases = kv_service_get_leases(self->service);
  g_autoptr(GArray) bound = kv_leases_bound(leases, NULL);
  g_autoptr(GHashTable) names = bound->len > 0 ? list_names(self) : NULL;
  g_autoptr(GArray) expired = kv_leases_expired(leases, g_get_real_time());
  guint ended = 0;

  for (guint i = 0; names != NULL && i < bound->len; i++) {
    guint64 id = g_array_index(bound, guint64, i);
    const KvLease *lease = kv_leases_lookup(leases, id);
    if (lease == NULL || !is_ours(self, lease))
      continue;
    if (strcmp(lease->bus, self->bus_name) != 0 || !g_hash_table_contains(names, lease->peer)) {
      end_lease(self, id);
      ended++;
    }
  }
  if (bound->len > 0)
    kv_log(LOG_INFO, "%u leases are bound to connections; %u of those connections are gone",
           bound->len, ended);
  if (expired->len > 0)
    kv_log(LOG_INFO, "%u leases expired while kvstored was not running", expired->len);
  end_leases(self, expired);
}

static void on_lock_granted(const char *name, guint64 lease, guint64 token, const char *peer,
                            const char *bus, gpointer user_data)
{
  KvBusLeases *self = user_data;
  g_autoptr(sd_bus_message) signal = NULL;

  /* A waiter on another host (etcd) is told by its own kvstored. */
  if (peer == NULL || g_strcmp0(bus, self->bus_name) != 0)
    return;
  int r =
      sd_bus_message_new_signal(self->bus, &signal, KV_OBJECT_PATH, KV_INTERFACE, "LockAcquired");
  if (r >= 0)
    r = sd_bus_message_set_destination(signal, peer);
  if (r >= 0)
    r = sd_bus_message_append(signal, "st", name, (uint64_t)token);
  if (r >= 0)
    r = kv_bus_send_after_commit(self->front, signal);
  if (r < 0)
    kv_log(LOG_ERR, "Cannot tell %s it holds lock '%s': %s", peer, name, g_strerror(-r));
}

static int append_lease(sd_bus_message *reply, const KvWrite *write, KvBusLeases *self)
{
  return sd_bus_message_append(reply, "t", (uint64_t)write->granted);
}

static int append_ttl(sd_bus_message *reply, const KvWrite *write, KvBusLeases *self)
{
  return sd_bus_message_append(reply, "t", (uint64_t)write->ttl_ms);
}

static int append_revoked(sd_bus_message *reply, const KvWrite *write, KvBusLeases *self)
{
  return sd_bus_message_append(reply, "ut", (uint32_t)write->deleted, (uint64_t)write->revision);
}

static int append_locked(sd_bus_message *reply, const KvWrite *write, KvBusLeases *self)
{
  guint64 holder = kv_locks_holder(kv_service_get_locks(self->service), write->name, NULL);

  return sd_bus_message_append(reply, "ttb", (uint64_t)write->revision, (uint64_t)write->granted,
                               holder == write->revision);
}

static int append_nothing(sd_bus_message *reply, const KvWrite *write, KvBusLeases *self)
{
  return 0;
}

static int method_grant_lease(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
  KvBusLeases *self = userdata;
  uint64_t ttl_ms;
  int bound;
  int r = sd_bus_message_read(m, "tb", &ttl_ms, &bound);

  if (r < 0)
    return r;
  return kv_bus_submit(self->front, m,
                       (KvWrite){.kind = KV_WRITE_LEASE_GRANT, .ttl_ms = ttl_ms, .bind = bound},
                       NULL, NULL, append_lease, ret_error);
}

/* KeepAlive and RevokeLease: a write of one lease. */
static int lease_write(sd_bus_message *m, KvBusLeases *self, KvWriteKind kind,
                       KvBusAppendFunc append, sd_bus_error *ret_error)
{
  uint64_t lease;
  int r = sd_bus_message_read(m, "t", &lease);

  if (r < 0)
    return r;
  KvBusWritePlan *quota = kind == KV_WRITE_LEASE_REVOKE ? plan_end(self, lease) : NULL;

  return kv_bus_submit(self->front, m, (KvWrite){.kind = kind, .lease = lease}, NULL, quota, append,
                       ret_error);
}

static int method_keep_alive(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
  return lease_write(m, userdata, KV_WRITE_LEASE_KEEP_ALIVE, append_ttl, ret_error);
}

static int method_revoke_lease(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
  return lease_write(m, userdata, KV_WRITE_LEASE_REVOKE, append_revoked, ret_error);
}

/* Lock and Unlock: the access rules let a caller use lock NAME where they let it write
 * the key NAME, so that locks share the store's namespaces ("users/1000/backup"). */
static int lock_write(sd_bus_message *m, KvBusLeases *self, KvWrite write, KvBusAppendFunc append,
                      sd_bus_error *ret_error)
{
  return kv_bus_submit(self->front, m, write, write.name, NULL, append, ret_error);
}

static int method_lock(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
  const char *name;
  uint64_t lease;
  int r = sd_bus_message_read(m, "st", &name, &lease);

  if (r < 0)
    return r;
  return lock_write(m, userdata, (KvWrite){.kind = KV_WRITE_LOCK, .name = name, .lease = lease},
                    append_locked, ret_error);
}

static int method_unlock(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
  const char *name;
  uint64_t token;
  int r = sd_bus_message_read(m, "st", &name, &token);

  if (r < 0)
    return r;
  return lock_write(m, userdata, (KvWrite){.kind = KV_WRITE_UNLOCK, .name = name, .token = token},
                    append_nothing, ret_error);
}

/* Beside kv-bus.c's table, on the same interface. */
static const sd_bus_vtable leases_vtable[] = {
    SD_BUS_VTABLE_START(0),
    SD_BUS_METHOD_WITH_ARGS("GrantLease", SD_BUS_ARGS("t", ttl_ms, "b", bound),
                            SD_BUS_RESULT("t", lease), method_grant_lease,
                            SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD_WITH_ARGS("KeepAlive", SD_BUS_ARGS("t", lease), SD_BUS_RESULT("t", ttl_ms),
                            method_keep_alive, SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD_WITH_ARGS("RevokeLease", SD_BUS_ARGS("t", lease),
                            SD_BUS_RESULT("u", deleted, "t", revision), method_revoke_lease,
                            SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD_WITH_ARGS("Lock", SD_BUS_ARGS("s", name, "t", lease),
                            SD_BUS_RESULT("t", token, "t", waiter_lease, "b", acquired),
                            method_lock, SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD_WITH_ARGS("Unlock", SD_BUS_ARGS("s", name, "t", token), SD_BUS_NO_RESULT,
                            method_unlock, SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_SIGNAL_WITH_ARGS("LockAcquired", SD_BUS_ARGS("s", name, "t", token), 0),
    SD_BUS_VTABLE_END,
};

void kv_bus_leases_free(KvBusLeases *self)
{
  if (self == NULL)
    return;
  kv_service_set_leases_func(self->service, NULL, NULL);
  kv_locks_set_grant_func(kv_service_get_locks(self->service), NULL, NULL);
  kv_bus_callers_remove_left_func(self->callers, on_peer_left, self);
  sd_event_source_disable_unref(self->timer);
  sd_event_source_disable_unref(self->renewal);
  sd_bus_slot_unref(self->slot);
  g_hash_table_unref(self->ending);
  g_free(self->bus_name);
  g_free(self);
}

int kv_bus_leases_new(KvBus *front, sd_bus *bus, KvService *service, KvBusCallers *callers,
                      const char *bus_name, KvBusLeases **ret)
{
  g_autoptr(KvBusLeases) self = g_new0(KvBusLeases, 1);
  sd_event *event = sd_bus_get_event(bus);

  self->front = front;
  self->bus = bus;
  self->service = service;
  self->callers = callers;
  self->bus_name = g_strdup(bus_name);
  self->ending = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, NULL);
  int r = sd_event_add_time(event, &self->timer, CLOCK_REALTIME, UINT64_MAX, 1000, on_timer, self);
  guint64 bound_ttl_ms = kv_service_get_bound_ttl(service);
  if (r >= 0 && bound_ttl_ms != 0)
    r = sd_event_add_time_relative(event, &self->renewal, CLOCK_MONOTONIC, bound_ttl_ms * 1000 / 3,
                                   1000, on_renewal, self);
  if (r >= 0)
    r = sd_bus_add_object_vtable(bus, &self->slot, KV_OBJECT_PATH, KV_INTERFACE, leases_vtable,
                                 self);
  if (r < 0)
    return r;
  kv_bus_callers_add_left_func(callers, on_peer_left, self);
  kv_service_set_leases_func(service, arm_timer, self);
  kv_locks_set_grant_func(kv_service_get_locks(service), on_lock_granted, self);
  end_leases_gone(self);
  arm_timer(self);
  *ret = g_steal_pointer(&self);
  return 0;
}
