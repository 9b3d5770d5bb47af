/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The store's recent changes, in revision order, for callers that resume from a revision
 * they saw (ChangesSince, SubscribeSince). Changes are appended as they are applied and
 * served only once committed; a failed commit takes back those after the last commit.
 * The history keeps at most a number of changes and of bytes, dropping whole revisions
 * from its start: it then serves every change after its oldest revision, and refuses an
 * older one (COMPACTED), naming the oldest it can serve. */
typedef struct _KvHistory KvHistory;

/* Called for each change served, in revision order (within a revision, in the order of
 * the batch: bytewise by key); @value is NULL for a deletion. Returns FALSE to stop. */
typedef gboolean (*KvHistoryFunc)(const char *key, GVariant *value, guint64 revision,
                                  gpointer user_data);

/* A history that keeps at most @max_changes changes and @max_bytes bytes (0: keeps
 * none), serving the changes after revision 0 until told otherwise. */
KvHistory *kv_history_new(guint max_changes, gsize max_bytes);

/* Forgets every change: the history serves those after @revision (the store's, once it is
 * loaded, when what came before is not known). */
void kv_history_start_at(KvHistory *self, guint64 revision);

/* Adds the change of @key to @value (NULL: deleted) at @revision, not less than the last
 * one added; served once kv_history_commit() reaches @revision. */
void kv_history_append(KvHistory *self, const char *key, GVariant *value, guint64 revision);

/* The changes up to @revision are committed: they are served from now on. */
void kv_history_commit(KvHistory *self, guint64 revision);

/* Takes back every change added after the last commit: they were rolled back. */
void kv_history_roll_back(KvHistory *self);

/* The last committed revision, to which the history serves changes. */
guint64 kv_history_committed(KvHistory *self);

/* The oldest revision a caller may resume from: every change after it is kept. */
guint64 kv_history_oldest(KvHistory *self);

/* Whether the changes after (@since, @after) can be served: COMPACTED when they are no
 * longer all kept, INVALID_ARGS when @since is past the last commit (the caller saw a
 * store that is not this one, as after a restore from an older backup). */
gboolean kv_history_check(KvHistory *self, guint64 since, const char *after, GError **error);

/* Calls @func for each committed change after @since, or at @since with a key sorting
 * after @after (NULL or "": none at @since), under @prefix, in order. */
void kv_history_foreach(KvHistory *self, const char *prefix, guint64 since, const char *after,
                        KvHistoryFunc func, gpointer user_data);

/* Calls @func for each change added after the last commit, in order. */
void kv_history_foreach_uncommitted(KvHistory *self, KvHistoryFunc func, gpointer user_data);

/* Told that the history is filled (see kv_history_set_filling()). */
typedef void (*KvHistoryReadyFunc)(gpointer user_data);

/* While @filling, the history is being filled with what came before (etcd's own history,
 * read back at the start): callers that resume wait for it rather than be told that
 * what they ask for is not kept. Made FALSE, the ready function is told. */
void kv_history_set_filling(KvHistory *self, gboolean filling);
gboolean kv_history_is_filling(KvHistory *self);

/* Sets the one function told when filling ends (NULL for none). */
void kv_history_set_ready_func(KvHistory *self, KvHistoryReadyFunc func, gpointer user_data);

/* The number of changes kept, and their bytes as counted against the limit. */
/* The most changes it keeps. */
guint kv_history_max_changes(KvHistory *self);

guint kv_history_n_changes(KvHistory *self);
gsize kv_history_bytes(KvHistory *self);

void kv_history_free(KvHistory *self);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(KvHistory, kv_history_free)

G_END_DECLS
