/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The store's storage contract. A repository maps keys to GVariant values and applies
 * no business rules: validation and increments live in KvService. Implementations embed
 * KvRepository as their first member and point it at their vtable.
 *
 * Every change the repository applies has a revision: the store's revision grows by one
 * with each kv_repository_apply() (a single write or a whole batch), and each key keeps
 * the revision of its last change. */
typedef struct _KvRepository KvRepository;

/* One change of a batch: @value is the new value, or NULL to delete @key. */
typedef struct {
  const char *key;
  GVariant *value;
} KvChange;

/* A condition of a change submitted with kv_repository_submit(): @key's last change is at
 * @revision (0: @key does not exist). */
typedef struct {
  const char *key;
  guint64 revision;
} KvCompare;

/* The end of a kv_repository_submit(): the revision of the change, or @error
 * (KV_ERROR_CONFLICT when a condition no longer held, another error when the change could
 * not be made). */
typedef void (*KvRepositorySubmitFunc)(guint64 revision, const GError *error, gpointer user_data);

/* Told of each change a repository makes on its own, in revision order (a repository
 * replicating a store that others change: kv-etcd-repository.c). */
typedef void (*KvRepositoryChangeFunc)(const char *key, GVariant *value, guint64 revision,
                                       gpointer user_data);

/* The end of kv_repository_sync(): NULL @error once the repository holds every change the
 * store behind it had made when the sync was asked; KV_ERROR_UNAVAILABLE when it could
 * not tell in time. */
typedef void (*KvRepositorySyncFunc)(const GError *error, gpointer user_data);

/* Called once per entry in bytewise key order; the key and value (NULL when values were
 * not asked for) are borrowed. Returns FALSE to stop the walk there. */
typedef gboolean (*KvRepositoryForeachFunc)(const char *key, GVariant *value, guint64 revision,
                                            gpointer user_data);

/* The end of kv_repository_commit_start(): the revision now durable, or @error
 * (KV_ERROR_STORAGE) when every change not committed before has been undone, those made
 * after the start too. */
typedef void (*KvRepositoryCommitFunc)(guint64 committed, const GError *error, gpointer user_data);

typedef struct {
  GVariant *(*lookup)(KvRepository *self, const char *key, guint64 *out_revision);
  gboolean (*apply)(KvRepository *self, const KvChange *changes, gsize n_changes, GError **error);
  gboolean (*exists)(KvRepository *self, const char *key);
  guint (*count)(KvRepository *self);
  guint64 (*revision)(KvRepository *self);
  void (*foreach)(KvRepository *self, const char *prefix, const char *after, gboolean with_values,
                  KvRepositoryForeachFunc func, gpointer user_data);
  gboolean (*commit)(KvRepository *self, GError **error);
  void (*free)(KvRepository *self);
  /* Optional, for a repository whose changes are made elsewhere and come back to it: */
  void (*submit)(KvRepository *self, const KvChange *changes, gsize n_changes,
                 const KvCompare *compares, gsize n_compares, KvRepositorySubmitFunc done,
                 gpointer user_data);
  void (*set_change_func)(KvRepository *self, KvRepositoryChangeFunc func, gpointer user_data);
  gboolean (*is_current)(KvRepository *self);
  void (*sync)(KvRepository *self, KvRepositorySyncFunc done, gpointer user_data,
               GDestroyNotify drop);
  /* Optional, for a repository that waits for stable storage off the event loop: */
  void (*commit_start)(KvRepository *self, KvRepositoryCommitFunc done, gpointer user_data);
  void (*commit_wait)(KvRepository *self);
  /* Optional, for a repository that can lend its own copy of a value: */
  GVariant *(*peek)(KvRepository *self, const char *key);
} KvRepositoryVTable;

struct _KvRepository {
  const KvRepositoryVTable *vtable;
};

/* Returns a new reference to the value stored under @key and its revision (if
 * @out_revision is not NULL), or NULL when there is none. */
GVariant *kv_repository_lookup(KvRepository *self, const char *key, guint64 *out_revision);

/* kv_repository_lookup() without the revision. */
GVariant *kv_repository_get(KvRepository *self, const char *key);

/* kv_repository_get() that may lend the repository's own bytes instead of a copy: the
 * caller drops the value before the repository next changes (a read answered at once). */
GVariant *kv_repository_peek(KvRepository *self, const char *key);

/* Applies @changes, all or none, as one change at the next revision (even when there is
 * nothing to delete). Values are not consumed; floating references are sunk. */
gboolean kv_repository_apply(KvRepository *self, const KvChange *changes, gsize n_changes,
                             GError **error);

/* Makes @changes as one change if every one of @compares holds, and tells @done: at once
 * for a repository that makes changes itself (kv_repository_apply(); the compares hold
 * by construction, since nothing changes between a caller's reads and this call), later
 * for one whose changes are made elsewhere (an etcd cluster), once the change is made and
 * has come back to this repository. @changes and @compares are copied as needed. */
void kv_repository_submit(KvRepository *self, const KvChange *changes, gsize n_changes,
                          const KvCompare *compares, gsize n_compares, KvRepositorySubmitFunc done,
                          gpointer user_data);

/* Whether kv_repository_submit() answers later, from the event loop. */
gboolean kv_repository_answers_later(KvRepository *self);

/* Whether the repository makes changes on its own (others', or its own submitted ones)
 * and tells @func of each; FALSE, with nothing set, for a repository that changes only
 * when applied to. */
gboolean kv_repository_set_change_func(KvRepository *self, KvRepositoryChangeFunc func,
                                       gpointer user_data);

/* Whether what the repository holds is the store as it is now: always, but for a replica
 * of a store kept elsewhere that has lost touch with it. */
gboolean kv_repository_is_current(KvRepository *self);

/* Tells @done, from the event loop, once the repository has caught up with the store behind
 * it as it was at this call (a replica's linearizable read); at once for a repository that
 * is the store. A repository freed first calls @drop (may be NULL) on @user_data instead. */
void kv_repository_sync(KvRepository *self, KvRepositorySyncFunc done, gpointer user_data,
                        GDestroyNotify drop);

/* Stores @value (sinking a floating reference) under @key: one change. */
gboolean kv_repository_set(KvRepository *self, const char *key, GVariant *value, GError **error);

/* Removes @key, a change only if it was there; @out_existed (may be NULL) tells which. */
gboolean kv_repository_delete(KvRepository *self, const char *key, gboolean *out_existed,
                              GError **error);

/* Whether @key is stored. */
gboolean kv_repository_exists(KvRepository *self, const char *key);

/* The number of stored keys. */
guint kv_repository_count(KvRepository *self);

/* The revision of the last change applied (0 for a store that never changed). */
guint64 kv_repository_revision(KvRepository *self);

/* Calls @func for every key starting with @prefix ("" for all) and sorting after @after
 * (NULL or "": from the first), in bytewise key order, with its value, or with NULL unless
 * @with_values, until @func returns FALSE. @func must not modify the repository. */
void kv_repository_foreach(KvRepository *self, const char *prefix, const char *after,
                           gboolean with_values, KvRepositoryForeachFunc func, gpointer user_data);

/* Makes every change since the last commit durable, as the implementation defines it.
 * On failure those changes are all undone, and @error is KV_ERROR_STORAGE. */
gboolean kv_repository_commit(KvRepository *self, GError **error);

/* kv_repository_commit() that may wait for stable storage off the event loop and tell
 * @done later, from the loop; changes applied meanwhile belong to the next commit. One at
 * a time: the next starts after @done. A repository that cannot wait elsewhere commits
 * and tells @done before returning. */
void kv_repository_commit_start(KvRepository *self, KvRepositoryCommitFunc done,
                                gpointer user_data);

/* Waits for the end of a commit started and not yet done, and tells its @done. */
void kv_repository_commit_wait(KvRepository *self);

/* Frees the repository and every value it holds; uncommitted changes are lost. */
void kv_repository_free(KvRepository *self);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(KvRepository, kv_repository_free)

G_END_DECLS
