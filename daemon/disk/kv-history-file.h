/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "kv-change-record.h"
#include "kv-history.h"

G_BEGIN_DECLS

/* The history's copy in the state directory ("history"): the changes it held at the last
 * compaction, as journal records, written with the snapshot, so that a restart resumes
 * callers from where they were. The journal holds the changes after the snapshot; the
 * two together are the history at any moment. It is not the data: a history file that
 * cannot be read is set aside with a warning, and the history starts at the snapshot. */

/* Adds the changes of a journal record to @history, committed. */
void kv_history_add_record(KvHistory *history, const KvChangeRecord *record);

/* Writes the committed changes of @history to "<path>.tmp", synced. */
gboolean kv_history_file_write(const char *path, KvHistory *history, GError **error);

/* Renames "<path>.tmp" into place, when kv_history_file_write() made one. */
gboolean kv_history_file_install(const char *path, GError **error);

/* Fills @history from the file at @path, for a store whose snapshot is at
 * @snapshot_revision: the history then serves the changes after its first record (or
 * after @snapshot_revision, when the file is missing, unreadable, or ends before the
 * snapshot); FALSE with @error saying why when the file was there but not used. */
gboolean kv_history_file_load(const char *path, KvHistory *history, guint64 snapshot_revision,
                              GError **error);

G_END_DECLS
