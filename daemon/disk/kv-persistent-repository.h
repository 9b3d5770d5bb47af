/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "kv-change-record.h"
#include "kv-history.h"
#include "kv-repository.h"

#include <syslog.h>
#include <systemd/sd-event.h>

G_BEGIN_DECLS

/* A repository that keeps the live data in a memory repository and makes every
 * change durable in a state directory: a snapshot plus an append-only journal.
 *
 * Changes are applied in memory at once and queued for the journal;
 * kv_repository_commit() writes them in one go and waits for stable storage (unless
 * sync is off); kv_repository_commit_start() waits on a thread instead, once
 * kv_persistent_repository_sync_off_loop() gave it one. A failed commit undoes every
 * change not committed before, in memory too. After a
 * commit, a journal larger than the snapshot and than @compact_bytes is folded into a
 * new snapshot by a forked child, while this process goes on; a later commit (or freeing
 * the repository) installs it and drops the journal records it holds. */

typedef enum {
  KV_SYNC_ALWAYS, /* fdatasync before a commit returns */
  KV_SYNC_NONE,   /* write(2) only: a crash of the machine can lose the last commits */
} KvSyncMode;

/* Receives what an operator should hear of that is not the answer to any call, with a
 * syslog priority: a cut torn tail, waiting for the lock, failed commits, compactions. */
typedef void (*KvLogFunc)(int priority, const char *message, gpointer user_data);

/* A journal record: its sequence number (the revision of its change) and the changes it
 * makes, each a key with its new value, or with nothing for a deletion. */
#define KV_JOURNAL_RECORD_TYPE G_VARIANT_TYPE("(ta(smv))")

/* Loads the changes of the journal record @reader reads (its revision read already) into
 * @into, a memory repository, which takes the record's revision; with @into NULL, only
 * checks them. FALSE with @error naming the first damaged change; the changes before it
 * were loaded. */
gboolean kv_journal_record_load(KvChangeReader *reader, KvRepository *into, guint *out_changes,
                                GError **error);

/* What opening found. */
typedef struct {
  guint64 snapshot_keys;
  guint64 journal_records; /* replayed on top of the snapshot */
  gsize dropped_bytes;     /* torn journal tail cut off */
} KvRecoveryInfo;

/* Opens the state in @dir (created with mode 0700 if missing) into a memory repository
 * it owns, and fills @history (borrowed, may be NULL) from its copy and the journal; the
 * history's copy is then written with each snapshot. Damage other than a torn journal
 * tail fails. */
KvRepository *kv_persistent_repository_open(const char *dir, KvSyncMode sync, gsize compact_bytes,
                                            KvHistory *history, KvLogFunc log, gpointer log_data,
                                            KvRecoveryInfo *out_info, GError **error);

/* Bytes in the journal, flushed. */
gsize kv_persistent_repository_journal_size(KvRepository *repository);

/* Folds the journal into a new snapshot now, in this process (after any compaction
 * running in the background). */
gboolean kv_persistent_repository_compact(KvRepository *repository, GError **error);

/* Waits for a background compaction, if one runs, and installs its snapshot. */
void kv_persistent_repository_wait_compaction(KvRepository *repository);

/* With sync on, lets kv_repository_commit_start() wait for fdatasync() on a thread, its
 * end dispatched on @event, so that reads are served meanwhile; without, commits sync in
 * the caller. */
gboolean kv_persistent_repository_sync_off_loop(KvRepository *repository, sd_event *event,
                                                GError **error);

G_END_DECLS
