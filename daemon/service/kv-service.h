/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "kv-defaults.h"
#include "kv-history.h"
#include "kv-leases.h"
#include "kv-locks.h"
#include "kv-page.h"
#include "kv-repository.h"

G_BEGIN_DECLS

/* The business rules of the store over a repository: key and value validation, size
 * limits, increments, atomic batches and compare-and-set. Every call either succeeds or
 * changes nothing. Errors are in the KV_ERROR domain. */
typedef struct _KvService KvService;

/* Told of each change once it is applied (not yet committed), in revision order and,
 * within a batch, in key order; @value is NULL for a deletion. */
typedef void (*KvServiceChangeFunc)(const char *key, GVariant *value, guint64 revision,
                                    gpointer user_data);

#define KV_KEY_MAX_BYTES          4096
#define KV_DEFAULT_MAX_VALUE_SIZE (1024 * 1024)
/* The most keys one call may name (GetMany, SetMany, DeleteMany) or one page may hold:
 * so that no call keeps the event loop, and so every other caller, waiting for long (a
 * 5,000-key SetMany takes about 40 ms on the test VM, reads a tenth of that). */
#define KV_BATCH_MAX_KEYS   5000
#define KV_PAGE_MAX_ENTRIES KV_BATCH_MAX_KEYS

/* Creates a service over @repository (borrowed: it must outlive the service); values
 * whose serialized size exceeds @max_value_size are refused. */
KvService *kv_service_new(KvRepository *repository, gsize max_value_size);

/* Frees the service, not its repository. */
void kv_service_free(KvService *self);

/* Takes @defaults (kv-defaults.h) as the administrator's defaults and locks, in place of
 * those before (none at first). */
void kv_service_set_defaults(KvService *self, KvDefaults *defaults);

/* The administrator's defaults and locks (borrowed). */
KvDefaults *kv_service_get_defaults(KvService *self);

/* Where the value a read of @key returns comes from: "stored", "default" (with the file
 * in @out_file) or "none"; NULL with INVALID_KEY. */
const char *kv_service_get_origin(KvService *self, const char *key, const char **out_file,
                                  GError **error);

/* Sets the one observer of changes (NULL for none). */
void kv_service_set_change_func(KvService *self, KvServiceChangeFunc func, gpointer user_data);

/* Returns a new reference to the value of @key (stored, else its default), or NULL with
 * NOT_FOUND or INVALID_KEY. */
GVariant *kv_service_get(KvService *self, const char *key, GError **error);

/* kv_service_get() that also gives the revision of the key's last change (0 for a
 * default). */
GVariant *kv_service_get_with_revision(KvService *self, const char *key, guint64 *out_revision,
                                       GError **error);

/* The values (stored, else default) of those @keys that have one (and that @filter, if not NULL,
 * admits), each once, in the order first named, as a page whose a{sv} fits @max_bytes on the wire;
 * INVALID_KEY for a bad key, TOO_LARGE when the call names more than KV_BATCH_MAX_KEYS keys or the
 * values do not fit. The page's values may be the repository's own bytes
 * (kv_repository_peek()): free it before the store next changes. */
KvPage *kv_service_get_many(KvService *self, const char *const *keys, gsize max_bytes,
                            const KvKeyFilter *filter, GError **error);

/* The entries (with values when @with_values) of keys starting with @prefix and sorting
 * after @after that @filter (if not NULL) admits, in key order, as many as fit @max_entries (0 or
 * more than KV_PAGE_MAX_ENTRIES: that many) and an array of @max_bytes on the wire; ->next is set
 * when more follow. All of one page is read at one revision. */
KvPage *kv_service_page(KvService *self, const char *prefix, const char *after, guint max_entries,
                        gboolean with_values, gsize max_bytes, const KvKeyFilter *filter,
                        GError **error);

/* Every entry with @prefix (that @filter admits) in one page, or TOO_LARGE when they do
 * not fit one. */
KvPage *kv_service_select(KvService *self, const char *prefix, gboolean with_values,
                          gsize max_bytes, const KvKeyFilter *filter, GError **error);

/* A write for kv_service_submit(): what it is, its arguments (borrowed until it is done)
 * and its results. */
typedef enum {
  KV_WRITE_SET,                /* key, value */
  KV_WRITE_SET_MANY,           /* changes, n_changes (sorted by key in place) */
  KV_WRITE_DELETE,             /* key; deleted: 0 or 1 */
  KV_WRITE_DELETE_MANY,        /* keys; deleted */
  KV_WRITE_INCREMENT,          /* key, delta; result */
  KV_WRITE_COMPARE_AND_SET,    /* key, expected_revision, value */
  KV_WRITE_COMPARE_AND_DELETE, /* key, expected_revision */
  KV_WRITE_LEASE_GRANT,        /* ttl_ms, bind; lease: the new one's */
  KV_WRITE_LEASE_KEEP_ALIVE,   /* lease; ttl_ms: its TTL */
  KV_WRITE_LEASE_REVOKE,       /* lease; deleted: its keys */
  KV_WRITE_LOCK,               /* name, lease (0: one bound to the caller, made for it) */
  KV_WRITE_UNLOCK              /* name, token */
} KvWriteKind;

/* Who makes a write, for leases: the uid (0 may act on any lease), and the bus connection
 * a lease is bound to (peer, and the bus's id). NULL for kvstored itself. */
typedef struct {
  guint32 uid;
  const char *peer;
  const char *bus;
} KvWriter;

typedef struct {
  KvWriteKind kind;
  const char *key;
  GVariant *value;
  gint64 delta;
  guint64 expected_revision;
  KvChange *changes;
  gsize n_changes;
  const char *const *keys;
  /* Leases: SET, SET_MANY and COMPARE_AND_SET write their keys with @lease (0: none), or
   * with a lease of their own of @ttl_ms; INCREMENT keeps a key's lease. */
  guint64 lease;
  guint64 ttl_ms;
  gboolean bind;
  const char *name;
  guint64 token;
  const KvWriter *writer;

  guint64 revision; /* of the change, or the current one when nothing changed */
  guint64 granted;  /* LEASE_GRANT, SET with ttl_ms, LOCK: the lease it made or used */
  gint64 result;
  guint deleted;
} KvWrite;

/* Told once that @write is done: its results are set, or @error says why not. */
typedef void (*KvWriteDone)(KvWrite *write, const GError *error, gpointer user_data);

/* Validates @write, works out its changes from the data as it is and submits them as one
 * change (kv_repository_submit()); @done is told once, at once for a repository that
 * makes changes itself. When the data changed under it before it was made (another
 * writer of a store shared with other hosts), the write is worked out again from the new
 * data and submitted again: a compare-and-set then fails with CONFLICT, an increment
 * counts from the new value. */
void kv_service_submit(KvService *self, KvWrite *write, KvWriteDone done, gpointer user_data);

/* Told that a read's turn has come. */
typedef void (*KvServiceTurnFunc)(gpointer user_data);

/* Whether a read of the @n_keys @keys (NULL: every key, a listing) must wait for writes
 * of them submitted before it and not yet made (only where writes are answered later):
 * then kv_service_wait_turn(). */
gboolean kv_service_read_waits(KvService *self, const char *const *keys, gsize n_keys);

/* Queues a read of @keys (borrowed until @func is told; NULL: every key) behind the
 * writes of them submitted before it; @func is told once those are made, before any
 * write queued after it starts. A write @func submits takes the read's place. A read
 * still waiting when the service is freed is dropped with @drop(@user_data). */
void kv_service_wait_turn(KvService *self, const char *const *keys, gsize n_keys,
                          KvServiceTurnFunc func, gpointer user_data, GDestroyNotify drop);

/* Stores the @n_changes @changes (each with a value, which stays the caller's) as one
 * change at one revision, returned in @out_revision; any invalid key (or a key given
 * twice) or value rejects the whole batch. @changes is sorted by key in place. An empty
 * batch changes nothing. */
gboolean kv_service_set_many(KvService *self, KvChange *changes, gsize n_changes,
                             guint64 *out_revision, GError **error);

/* Deletes those of @keys that exist as one change; @out_deleted counts them. With none
 * to delete nothing changes, and @out_revision is the current revision. */
gboolean kv_service_delete_many(KvService *self, const char *const *keys, guint *out_deleted,
                                guint64 *out_revision, GError **error);

/* The keys starting with @prefix that @filter (if not NULL) admits, in key order, to be
 * deleted in one batch (DeletePrefix); TOO_LARGE when there are more than
 * KV_BATCH_MAX_KEYS. */
GStrv kv_service_prefix_keys(KvService *self, const char *prefix, const KvKeyFilter *filter,
                             GError **error);

/* Stores @value under @key only if the key's revision is @expected_revision (0: the key
 * must not exist); otherwise CONFLICT, naming the current revision. */
gboolean kv_service_compare_and_set(KvService *self, const char *key, guint64 expected_revision,
                                    GVariant *value, guint64 *out_revision, GError **error);

/* Deletes @key only if its revision is @expected_revision, likewise. Expecting 0 of a key
 * that does not exist succeeds and changes nothing. */
gboolean kv_service_compare_and_delete(KvService *self, const char *key, guint64 expected_revision,
                                       guint64 *out_revision, GError **error);

/* Whether @key is a valid key: INVALID_KEY when empty or over KV_KEY_MAX_BYTES. */
gboolean kv_service_validate_key(const char *key, GError **error);

/* The limit on a value's size given at creation. */
gsize kv_service_max_value_size(KvService *self);

/* The store's revision: the number of committed and pending changes so far. */
guint64 kv_service_revision(KvService *self);

/* Stores @value (a floating reference is sunk) under @key; INVALID_KEY, INVALID_VALUE_TYPE
 * or TOO_LARGE on bad input. */
gboolean kv_service_set(KvService *self, const char *key, GVariant *value, GError **error);

/* Sets @out_exists to whether @key is stored; fails only with INVALID_KEY. */
gboolean kv_service_exists(KvService *self, const char *key, gboolean *out_exists, GError **error);

/* Deletes @key; @out_existed tells whether it was there (a missing key is not an error). */
gboolean kv_service_delete(KvService *self, const char *key, gboolean *out_existed, GError **error);

/* Adds @delta to the value of @key by the rules of kv_increment() and stores the result,
 * returned in @out_value. */
gboolean kv_service_increment(KvService *self, const char *key, gint64 delta, gint64 *out_value,
                              GError **error);

/* The number of stored keys. */
guint kv_service_count(KvService *self);

/* Whether reads see the store as it is now (see kv_repository_is_current()). */
gboolean kv_service_is_current(KvService *self);

/* Makes every read wait for kv_service_sync() first (kvstored --etcd-linearizable-reads). */
void kv_service_set_linearizable(KvService *self, gboolean linearizable);

/* Whether reads wait for kv_service_sync(). */
gboolean kv_service_is_linearizable(KvService *self);

/* kv_repository_sync(): @done once the repository holds every change made before now. */
void kv_service_sync(KvService *self, KvRepositorySyncFunc done, gpointer user_data,
                     GDestroyNotify drop);

/* Makes the changes since the last commit durable (see kv_repository_commit()), now: for
 * the exit, after kv_service_commit_wait(). */
gboolean kv_service_commit(KvService *self, GError **error);

/* Told when a lease came, went or got a new deadline (kvstored's expiry timer). */
typedef void (*KvServiceLeasesFunc)(gpointer user_data);

/* Sets the one observer of leases (NULL for none). */
void kv_service_set_leases_func(KvService *self, KvServiceLeasesFunc func, gpointer user_data);

/* Lets a lease have at most @max_keys keys (at most KV_LEASE_MAX_KEYS, the default): a
 * lease ends in one change of twice as many keys and one more, which etcd limits. */
void kv_service_set_lease_max_keys(KvService *self, guint max_keys);

/* Gives each lease bound to a connection, and granted without a TTL, a TTL of @ttl_ms
 * that its kvstored renews (kvstored --etcd-lease-ttl): where several hosts share the
 * store, such a lease ends with its host, if the host dies with its kvstored. 0: none. */
void kv_service_set_bound_ttl(KvService *self, guint64 ttl_ms);

/* That TTL, 0 for none. */
guint64 kv_service_get_bound_ttl(KvService *self);

/* Whether others change the store too (an etcd cluster shared by several kvstored): their
 * callers' bound leases are theirs to end. */
gboolean kv_service_shares_store(KvService *self);

/* The store's leases and locks, as its data says (borrowed). */
KvLeases *kv_service_get_leases(KvService *self);
KvLocks *kv_service_get_locks(KvService *self);

/* Keeps the changes made from now on in @history (borrowed), served once committed;
 * main.c builds it. */
void kv_service_set_history(KvService *self, KvHistory *history);

/* The history the changes go to, or NULL. */
KvHistory *kv_service_get_history(KvService *self);

/* The same, perhaps waiting for the disk off the event loop (see
 * kv_repository_commit_start()): the bus layer starts one per turn of the event loop
 * while none is under way, and replies to writes at @done. */
void kv_service_commit_start(KvService *self, KvRepositoryCommitFunc done, gpointer user_data);

/* Waits for a commit under way and tells its @done. */
void kv_service_commit_wait(KvService *self);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(KvService, kv_service_free)

G_END_DECLS
