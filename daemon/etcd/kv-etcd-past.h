/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "kv-etcd-codec.h"
#include "kv-history.h"

G_BEGIN_DECLS

/* etcd's own history of the prefix before kvstored loaded it, read back into the history
 * of changes (KvHistory), so that a watcher resumes across a restart of kvstored on etcd
 * as on a state directory. The watch starts from the oldest revision wanted instead of
 * the one after the load: its first events (up to the load's revision) are kept here
 * rather than applied, and once the load's own event comes (the load is made at the
 * revision of a barrier, a write of the prefix itself, just before it), they become the
 * history, which then serves every change after the oldest.
 * Until then the history is filling (kv_history_set_filling()): callers that resume wait;
 * freed before that (etcd did not answer in time), it serves the changes since the load
 * alone. */
typedef struct _KvEtcdPast KvEtcdPast;

/* Reads back the changes from revision @from to @until (the load's) into @history
 * (borrowed). */
KvEtcdPast *kv_etcd_past_new(KvHistory *history, guint64 from, guint64 until);

/* The revision the watch starts from. */
guint64 kv_etcd_past_start(KvEtcdPast *self);

/* The watch starts again from kv_etcd_past_start(): what was kept is dropped. */
void kv_etcd_past_restart(KvEtcdPast *self);

/* etcd compacted the revisions before @compact_revision: the history starts there. */
void kv_etcd_past_compacted(KvEtcdPast *self, guint64 compact_revision);

/* Takes the entries of a watch answer up to the load out of @entries (KvEtcdEntry), the
 * answer's last event being at @last_revision. TRUE once the load's revision came: the
 * history is filled and @self is done with. */
gboolean kv_etcd_past_take(KvEtcdPast *self, GArray *entries, guint64 last_revision);

void kv_etcd_past_free(KvEtcdPast *self);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(KvEtcdPast, kv_etcd_past_free)

G_END_DECLS
