/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "kv-repository.h"

G_BEGIN_DECLS

/* The queues of the store's locks, as its data says (see kv-leases.h for the layout):
 *
 *   .kvstore/lock/NAME/ID   lease ID waits for, or holds, lock NAME: a{sv} "uid" u,
 *                           "peer" s and "bus" s (the connection that asked)
 *
 * Each waiter key is written with its lease, so that it goes when the lease ends. The
 * waiter whose key has the lowest revision holds the lock; that revision is its fencing
 * token, which grows with every grant since each waiter's key is written after those of
 * the waiters before it. */
typedef struct _KvLocks KvLocks;

#define KV_LOCK_PREFIX ".kvstore/lock/"

/* Told that the waiter of lease @lease now holds lock @name with @token; @peer and @bus
 * (may be NULL) are the connection that asked for it. */
typedef void (*KvLockGrantFunc)(const char *name, guint64 lease, guint64 token, const char *peer,
                                const char *bus, gpointer user_data);

KvLocks *kv_locks_new(void);

void kv_locks_free(KvLocks *self);

/* Forgets everything and reads the queues from @repository; no grant is told. */
void kv_locks_load(KvLocks *self, KvRepository *repository);

/* Sets the one function told of grants. */
void kv_locks_set_grant_func(KvLocks *self, KvLockGrantFunc func, gpointer user_data);

/* Takes in a change of a key under KV_LOCK_PREFIX, telling the grant it makes. */
void kv_locks_observe(KvLocks *self, const char *key, GVariant *value, guint64 revision);

/* The token of @name's holder (and its lease in @out_lease, may be NULL); 0 when free. */
guint64 kv_locks_holder(KvLocks *self, const char *name, guint64 *out_lease);

/* The token of lease @lease's place in @name's queue, 0 when it is not there. */
guint64 kv_locks_token_of(KvLocks *self, const char *name, guint64 lease);

/* The lease of the waiter with @token in @name's queue, 0 when there is none. */
guint64 kv_locks_lease_of(KvLocks *self, const char *name, guint64 token);

/* How many wait for @name, its holder included. */
guint kv_locks_queue_length(KvLocks *self, const char *name);

/* The key of lease @lease's place in lock @name's queue. */
char *kv_lock_waiter_key(const char *name, guint64 lease);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(KvLocks, kv_locks_free)

G_END_DECLS
