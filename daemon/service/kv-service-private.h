/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* What kv-service.c and kv-service-write.c share. */

#include "kv-leases.h"
#include "kv-locks.h"
#include "kv-service.h"

G_BEGIN_DECLS

struct _KvService {
  KvRepository *repository;
  gsize max_value_size;
  KvServiceChangeFunc on_change;
  gpointer on_change_data;
  gboolean repository_tells_changes; /* the repository reports changes itself */
  /* Where writes are answered later (etcd), writes of one key take turns, in the order
   * they came: the keys writes in flight name, and the writes waiting for their turn. */
  gboolean takes_turns;
  GHashTable *busy; /* borrowed key strings */
  GQueue *waiting;  /* Submission, oldest first */
  gboolean starting, start_again;
  GList *turn_place;     /* where what a read's turn submits goes: before this waiting one */
  gboolean linearizable; /* reads wait for the repository to catch up first */
  KvHistory *history;    /* borrowed; NULL: none kept */
  KvRepositoryCommitFunc commit_done; /* the commit under way's caller */
  gpointer commit_done_data;
  KvLeases *leases; /* derived from the data under KV_RESERVED_PREFIX */
  KvLocks *locks;
  guint64 next_lease_id; /* not below the revision, above every ID planned */
  guint lease_max_keys;
  guint64 bound_ttl_ms; /* the TTL kvstored renews for bound leases; 0: none */
  KvServiceLeasesFunc on_leases;
  gpointer on_leases_data;
  KvDefaults *defaults; /* the administrator's defaults and locks; never NULL */
};

/* A write's plan: its changes (borrowing keys and values from the write or the plan), the
 * conditions under which they are right, and what the plan made itself. */
typedef struct {
  GArray *changes;    /* KvChange */
  GArray *compares;   /* KvCompare */
  GPtrArray *values;  /* GVariant the plan made */
  GPtrArray *strings; /* keys the plan made */
} KvPlan;

/* Empties @plan, and makes it ready for changes. */
void kv_plan_clear(KvPlan *plan);
void kv_plan_init(KvPlan *plan);

/* Adds a change of @key to @value (NULL: deletion), and a condition: @key at @revision. */
void kv_plan_change(KvPlan *plan, const char *key, GVariant *value);
void kv_plan_compare(KvPlan *plan, const char *key, guint64 revision);

/* Keeps @key (taken) or @value (sunk) as long as the plan, and returns it. */
const char *kv_plan_own_key(KvPlan *plan, char *key);
GVariant *kv_plan_own_value(KvPlan *plan, GVariant *value);

/* The revision @key's last change is at, 0 when it does not exist. */
guint64 kv_service_revision_of(KvService *self, const char *key);

/* The plans of the lease and lock writes (kv-service-leases.c). */
gboolean kv_service_plan_lease_write(KvService *self, KvWrite *write, KvPlan *plan, GError **error);

/* Adds to @plan, made by a write of keys, the changes of lease markers its changes need,
 * and refuses keys that are kvstored's own; @write->lease (or a lease of @write->ttl_ms
 * that it grants) goes with the keys it sets. */
gboolean kv_service_plan_leased_keys(KvService *self, KvWrite *write, KvPlan *plan, GError **error);

/* Tells the history and the change observer of a change made at @revision. */
void kv_service_tell_change(KvService *self, const char *key, GVariant *value, guint64 revision);

/* Forgets the writes still waiting for their turn, untold, and drops the reads
 * (kvstored is stopping). */
void kv_service_drop_waiting(KvService *self);

/* A batch names at most KV_BATCH_MAX_KEYS keys: TOO_LARGE otherwise. */
gboolean kv_service_validate_batch_size(gsize n, GError **error);

/* kv_service_validate_key() for each of @keys: a batch is refused whole. */
gboolean kv_service_validate_keys(const char *const *keys, GError **error);

/* Whether @value may be stored under @key: a type the bus carries, within the size
 * limit. */
gboolean kv_service_validate_value(KvService *self, const char *key, GVariant *value,
                                   GError **error);

G_END_DECLS
