/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "kv-repository.h"

G_BEGIN_DECLS

/* The leases of the store, as its data says: kvstored keeps its own bookkeeping in the
 * store, under KV_RESERVED_PREFIX, so that it is as durable, as atomic with the writes it
 * goes with, and as shared (on etcd) as any key.
 *
 *   .kvstore/lease/ID       a lease: a{sv} "ttl" t (ms, 0: none), "deadline" x
 *                           (CLOCK_REALTIME µs, with a ttl), "uid" u, and for a lease
 *                           bound to a bus connection "peer" s and "bus" s (the bus's id);
 *                           "lock" s for the lease Lock made for itself; "renewed" b for
 *                           a bound lease whose TTL its kvstored renews (etcd)
 *   .kvstore/lease/ID/KEY   KEY is written with lease ID (value: true)
 *
 * A lease's ID is the revision its grant was planned at. This table is derived from those
 * keys: built by walking them, then kept current by each change. */
typedef struct _KvLeases KvLeases;

#define KV_RESERVED_PREFIX ".kvstore/"
#define KV_LEASE_PREFIX    ".kvstore/lease/"

/* How many leases one uid may hold, and keys one lease: a lease ends in one batch of its
 * keys, their markers and its record, within KV_BATCH_MAX_KEYS. */
#define KV_LEASES_PER_UID 1024
#define KV_LEASE_MAX_KEYS 2499
/* The longest TTL: a year. */
#define KV_LEASE_MAX_TTL_MS (G_GUINT64_CONSTANT(366) * 24 * 3600 * 1000)

typedef struct {
  guint64 id;
  guint64 ttl_ms;  /* 0: no TTL */
  gint64 deadline; /* CLOCK_REALTIME µs; 0: none */
  guint32 uid;
  char *peer; /* the bus connection it is bound to, or NULL */
  char *bus;
  char *lock;       /* the lock it was made for, or NULL */
  gboolean renewed; /* bound, with a TTL its kvstored renews (on a shared store) */
  guint64 revision; /* of its record */
  GHashTable *keys; /* the keys written with it (owned strings) */
} KvLease;

KvLeases *kv_leases_new(void);

void kv_leases_free(KvLeases *self);

/* Forgets everything and reads the leases from @repository. */
void kv_leases_load(KvLeases *self, KvRepository *repository);

/* Takes in a change of a key under KV_LEASE_PREFIX; TRUE when a lease came, went or
 * got a new deadline. */
gboolean kv_leases_observe(KvLeases *self, const char *key, GVariant *value, guint64 revision);

/* The lease @id, or NULL. */
const KvLease *kv_leases_lookup(KvLeases *self, guint64 id);

/* The lease @key was written with, 0 for none. */
guint64 kv_leases_of_key(KvLeases *self, const char *key);

/* How many leases @uid holds. */
guint kv_leases_count_uid(KvLeases *self, guint32 uid);

/* The earliest deadline of any lease (CLOCK_REALTIME µs), 0 when none has one. */
gint64 kv_leases_next_deadline(KvLeases *self);

/* The IDs of the leases whose deadline is at or before @now. */
GArray *kv_leases_expired(KvLeases *self, gint64 now);

/* The IDs of the leases bound to the connection @peer (NULL: of every bound lease). */
GArray *kv_leases_bound(KvLeases *self, const char *peer);

/* The number of leases. */
guint kv_leases_count(KvLeases *self);

/* The record key of lease @id, and the marker of @key written with it. */
char *kv_lease_record_key(guint64 id);
char *kv_lease_marker_key(guint64 id, const char *key);

/* Whether @key is kvstored's own (under KV_RESERVED_PREFIX): callers do not write it. */
gboolean kv_key_is_reserved(const char *key);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(KvLeases, kv_leases_free)

G_END_DECLS
