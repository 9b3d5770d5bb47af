/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The plans of the writes of leases and locks, and the lease markers that writes of keys
 * carry (see kv-leases.h and kv-locks.h for the keys they write). Each plan is one
 * change: a lease granted with the key it goes with, a lease ended with all its keys. */
#include "kv-error.h"
#include "kv-service-private.h"

#include <stdlib.h>
#include <string.h>

/* Whether @writer may act on @lease: its uid, or root; kvstored itself (NULL) always. */
static gboolean check_owner(const KvWriter *writer, const KvLease *lease, GError **error)
{
  if (writer == NULL || writer->uid == 0 || writer->uid == lease->uid)
    return TRUE;
  g_set_error(error, KV_ERROR, KV_ERROR_ACCESS_DENIED,
              "Lease %" G_GUINT64_FORMAT " belongs to uid %u, not to uid %u", lease->id, lease->uid,
              writer->uid);
  return FALSE;
}

/* The lease @id, or LEASE_NOT_FOUND. */
static const KvLease *find_lease(KvService *self, guint64 id, GError **error)
{
  const KvLease *lease = kv_leases_lookup(self->leases, id);

  if (lease == NULL)
    g_set_error(error, KV_ERROR, KV_ERROR_LEASE_NOT_FOUND,
                "Lease %" G_GUINT64_FORMAT " does not exist: it ended, or was never granted", id);
  return lease;
}

static GVariant *record_value(guint64 ttl_ms, gint64 deadline, guint32 uid, const char *peer,
                              const char *bus, const char *lock, gboolean renewed)
{
  g_auto(GVariantBuilder) builder = G_VARIANT_BUILDER_INIT(G_VARIANT_TYPE_VARDICT);

  g_variant_builder_add(&builder, "{sv}", "ttl", g_variant_new_uint64(ttl_ms));
  if (deadline != 0)
    g_variant_builder_add(&builder, "{sv}", "deadline", g_variant_new_int64(deadline));
  g_variant_builder_add(&builder, "{sv}", "uid", g_variant_new_uint32(uid));
  if (peer != NULL) {
    g_variant_builder_add(&builder, "{sv}", "peer", g_variant_new_string(peer));
    g_variant_builder_add(&builder, "{sv}", "bus", g_variant_new_string(bus != NULL ? bus : ""));
  }
  if (lock != NULL)
    g_variant_builder_add(&builder, "{sv}", "lock", g_variant_new_string(lock));
  if (renewed)
    g_variant_builder_add(&builder, "{sv}", "renewed", g_variant_new_boolean(TRUE));
  return g_variant_builder_end(&builder);
}

/* Plans a new lease of @ttl_ms (0: none), bound to the writer's connection if @bind,
 * made for lock @lock (may be NULL); its ID in @out_id. */
static gboolean plan_grant(KvService *self, const KvWrite *write, KvPlan *plan, guint64 ttl_ms,
                           gboolean bind, const char *lock, guint64 *out_id, GError **error)
{
  const KvWriter *writer = write->writer;
  guint32 uid = writer != NULL ? writer->uid : 0;

  if (ttl_ms == 0 && !bind) {
    g_set_error_literal(error, KV_ERROR, KV_ERROR_INVALID_ARGS,
                        "A lease needs a TTL, or to be bound to its caller, or both");
    return FALSE;
  }
  if (ttl_ms > KV_LEASE_MAX_TTL_MS) {
    g_set_error(error, KV_ERROR, KV_ERROR_INVALID_ARGS,
                "A TTL of %" G_GUINT64_FORMAT " ms is longer than the limit, %" G_GUINT64_FORMAT
                " ms (a year)",
                ttl_ms, KV_LEASE_MAX_TTL_MS);
    return FALSE;
  }
  if (bind && (writer == NULL || writer->peer == NULL)) {
    g_set_error_literal(error, KV_ERROR, KV_ERROR_INVALID_ARGS,
                        "Only a caller on the bus can have a lease bound to it");
    return FALSE;
  }
  if (kv_leases_count_uid(self->leases, uid) >= KV_LEASES_PER_UID) {
    g_set_error(error, KV_ERROR, KV_ERROR_QUOTA_EXCEEDED,
                "uid %u holds %d leases, the most one uid may hold; revoke some first", uid,
                KV_LEASES_PER_UID);
    return FALSE;
  }
  /* On a store shared by hosts, a bound lease also has a TTL its kvstored renews: it ends
   * with the host, should the host die with its kvstored. */
  gboolean renewed = bind && ttl_ms == 0 && self->bound_ttl_ms != 0;
  if (renewed)
    ttl_ms = self->bound_ttl_ms;
  /* Above the revision, and above any ID planned and not yet made (on etcd). */
  self->next_lease_id = MAX(self->next_lease_id, kv_repository_revision(self->repository) + 1);
  guint64 id = self->next_lease_id++;
  gint64 deadline = ttl_ms != 0 ? g_get_real_time() + (gint64)ttl_ms * 1000 : 0;
  const char *key = kv_plan_own_key(plan, kv_lease_record_key(id));
  GVariant *value =
      kv_plan_own_value(plan, record_value(ttl_ms, deadline, uid, bind ? writer->peer : NULL,
                                           bind ? writer->bus : NULL, lock, renewed));
  kv_plan_change(plan, key, value);
  kv_plan_compare(plan, key, 0);
  *out_id = id;
  return TRUE;
}

static GVariant *marker_value(void)
{
  return g_variant_new_boolean(TRUE);
}

/* Plans @key's lease to go from @from to @to (0: none); @fresh: @to is granted by this
 * plan. */
static gboolean plan_marker(KvService *self, const KvWrite *write, KvPlan *plan, const char *key,
                            guint64 from, guint64 to, gboolean fresh, GError **error)
{
  if (from == to)
    return TRUE;
  if (to != 0 && !fresh) {
    const KvLease *lease = find_lease(self, to, error);
    if (lease == NULL || !check_owner(write->writer, lease, error))
      return FALSE;
    if (g_hash_table_size(lease->keys) >= self->lease_max_keys) {
      g_set_error(error, KV_ERROR, KV_ERROR_QUOTA_EXCEEDED,
                  "Lease %" G_GUINT64_FORMAT " has %u keys, the most one lease may have", to,
                  self->lease_max_keys);
      return FALSE;
    }
    /* A lease ended meanwhile (on another host) takes no more keys. */
    const char *record = kv_plan_own_key(plan, kv_lease_record_key(to));
    kv_plan_compare(plan, record, lease->revision);
  }
  if (from != 0)
    kv_plan_change(plan, kv_plan_own_key(plan, kv_lease_marker_key(from, key)), NULL);
  if (to != 0)
    kv_plan_change(plan, kv_plan_own_key(plan, kv_lease_marker_key(to, key)),
                   kv_plan_own_value(plan, marker_value()));
  return TRUE;
}

static int compare_changes(gconstpointer a, gconstpointer b)
{
  return strcmp(((const KvChange *)a)->key, ((const KvChange *)b)->key);
}

gboolean kv_service_plan_leased_keys(KvService *self, KvWrite *write, KvPlan *plan, GError **error)
{
  guint n_keys = plan->changes->len;
  guint64 lease = write->lease;
  gboolean fresh = FALSE;

  for (guint i = 0; i < n_keys; i++)
    if (kv_key_is_reserved(g_array_index(plan->changes, KvChange, i).key)) {
      g_set_error(error, KV_ERROR, KV_ERROR_INVALID_KEY,
                  "Key '%s' is kvstored's own (under '" KV_RESERVED_PREFIX
                  "'): leases and locks write it",
                  g_array_index(plan->changes, KvChange, i).key);
      return FALSE;
    }
  if (write->ttl_ms != 0 && n_keys > 0) {
    if (!plan_grant(self, write, plan, write->ttl_ms, FALSE, NULL, &lease, error))
      return FALSE;
    write->granted = lease;
    fresh = TRUE;
  }
  for (guint i = 0; i < n_keys; i++) {
    /* The plan's array grows: copy the change first. */
    KvChange change = g_array_index(plan->changes, KvChange, i);
    guint64 from = kv_leases_of_key(self->leases, change.key);
    guint64 to = change.value == NULL ? 0 : write->kind == KV_WRITE_INCREMENT ? from : lease;
    if (!plan_marker(self, write, plan, change.key, from, to, fresh, error))
      return FALSE;
  }
  if (plan->changes->len > n_keys)
    g_array_sort(plan->changes, compare_changes);
  return TRUE;
}

/* Plans the end of @lease: its record, its markers and its keys go, in one change. */
static void plan_end(KvPlan *plan, const KvLease *lease, guint *out_deleted)
{
  GHashTableIter iter;
  gpointer key;
  const char *record = kv_plan_own_key(plan, kv_lease_record_key(lease->id));

  kv_plan_change(plan, record, NULL);
  kv_plan_compare(plan, record, lease->revision);
  g_hash_table_iter_init(&iter, lease->keys);
  while (g_hash_table_iter_next(&iter, &key, NULL)) {
    kv_plan_change(plan, kv_plan_own_key(plan, g_strdup(key)), NULL);
    kv_plan_change(plan, kv_plan_own_key(plan, kv_lease_marker_key(lease->id, key)), NULL);
  }
  *out_deleted = g_hash_table_size(lease->keys);
  g_array_sort(plan->changes, compare_changes);
}

static gboolean plan_keep_alive(KvService *self, KvWrite *write, KvPlan *plan, GError **error)
{
  const KvLease *lease = find_lease(self, write->lease, error);

  if (lease == NULL || !check_owner(write->writer, lease, error))
    return FALSE;
  write->ttl_ms = lease->ttl_ms;
  /* A lease without a TTL lives as long as its connection: nothing to renew. */
  if (lease->ttl_ms == 0)
    return TRUE;
  const char *key = kv_plan_own_key(plan, kv_lease_record_key(lease->id));
  gint64 deadline = g_get_real_time() + (gint64)lease->ttl_ms * 1000;
  kv_plan_change(
      plan, key,
      kv_plan_own_value(plan, record_value(lease->ttl_ms, deadline, lease->uid, lease->peer,
                                           lease->bus, lease->lock, lease->renewed)));
  kv_plan_compare(plan, key, lease->revision);
  return TRUE;
}

static gboolean validate_lock_name(const char *name, GError **error)
{
  if (name[0] == '\0' || strlen(name) > KV_KEY_MAX_BYTES - 64) {
    g_set_error(error, KV_ERROR, KV_ERROR_INVALID_KEY,
                "A lock's name is 1 to %d bytes long, not %zu", KV_KEY_MAX_BYTES - 64,
                strlen(name));
    return FALSE;
  }
  return TRUE;
}

static gboolean plan_lock(KvService *self, KvWrite *write, KvPlan *plan, GError **error)
{
  const KvWriter *writer = write->writer;
  guint64 lease = write->lease;
  gboolean fresh = lease == 0;

  if (!validate_lock_name(write->name, error))
    return FALSE;
  if (fresh && !plan_grant(self, write, plan, 0, TRUE, write->name, &lease, error))
    return FALSE;
  if (!fresh && kv_locks_token_of(self->locks, write->name, lease) != 0) {
    g_set_error(error, KV_ERROR, KV_ERROR_INVALID_ARGS,
                "Lease %" G_GUINT64_FORMAT " already holds or waits for lock '%s'", lease,
                write->name);
    return FALSE;
  }
  write->granted = lease;
  const char *key = kv_plan_own_key(plan, kv_lock_waiter_key(write->name, lease));
  g_auto(GVariantBuilder) builder = G_VARIANT_BUILDER_INIT(G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add(&builder, "{sv}", "uid", g_variant_new_uint32(writer->uid));
  if (writer->peer != NULL) {
    g_variant_builder_add(&builder, "{sv}", "peer", g_variant_new_string(writer->peer));
    g_variant_builder_add(&builder, "{sv}", "bus",
                          g_variant_new_string(writer->bus != NULL ? writer->bus : ""));
  }
  kv_plan_change(plan, key, kv_plan_own_value(plan, g_variant_builder_end(&builder)));
  kv_plan_compare(plan, key, 0);
  if (!plan_marker(self, write, plan, key, 0, lease, fresh, error))
    return FALSE;
  g_array_sort(plan->changes, compare_changes);
  return TRUE;
}

static gboolean plan_unlock(KvService *self, KvWrite *write, KvPlan *plan, GError **error)
{
  guint64 id = kv_locks_lease_of(self->locks, write->name, write->token);

  if (id == 0) {
    g_set_error(error, KV_ERROR, KV_ERROR_INVALID_ARGS,
                "Lock '%s' has no holder or waiter with token %" G_GUINT64_FORMAT
                ": it was released, or its lease ended",
                write->name, write->token);
    return FALSE;
  }
  const KvLease *lease = find_lease(self, id, error);
  if (lease == NULL || !check_owner(write->writer, lease, error))
    return FALSE;
  /* The lease Lock made for itself goes with it. */
  if (g_strcmp0(lease->lock, write->name) == 0 && g_hash_table_size(lease->keys) == 1) {
    plan_end(plan, lease, &write->deleted);
    return TRUE;
  }
  const char *key = kv_plan_own_key(plan, kv_lock_waiter_key(write->name, id));
  kv_plan_change(plan, key, NULL);
  kv_plan_compare(plan, key, write->token);
  if (!plan_marker(self, write, plan, key, id, 0, FALSE, error))
    return FALSE;
  g_array_sort(plan->changes, compare_changes);
  return TRUE;
}

gboolean kv_service_plan_lease_write(KvService *self, KvWrite *write, KvPlan *plan, GError **error)
{
  const KvLease *lease;

  switch (write->kind) {
  case KV_WRITE_LEASE_GRANT:
    return plan_grant(self, write, plan, write->ttl_ms, write->bind, NULL, &write->granted, error);
  case KV_WRITE_LEASE_KEEP_ALIVE:
    return plan_keep_alive(self, write, plan, error);
  case KV_WRITE_LEASE_REVOKE:
    lease = find_lease(self, write->lease, error);
    if (lease == NULL || !check_owner(write->writer, lease, error))
      return FALSE;
    plan_end(plan, lease, &write->deleted);
    return TRUE;
  case KV_WRITE_LOCK:
    return plan_lock(self, write, plan, error);
  case KV_WRITE_UNLOCK:
    return plan_unlock(self, write, plan, error);
  default:
    g_assert_not_reached();
  }
}
