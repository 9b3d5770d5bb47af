/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* An append-only file of checksummed records (kv-record.h), each a GVariant payload.
 * Appends collect in memory until kv_journal_flush() writes them in one go and, unless
 * told not to, fdatasync()s: that is the group commit. */
typedef struct _KvJournal KvJournal;

/* Called for each record while a journal is opened, in file order. Returning FALSE with
 * @error set stops the opening with that error. */
typedef gboolean (*KvJournalReplayFunc)(GVariant *payload, gpointer user_data, GError **error);

/* Opens the journal at @path, creating an empty one (mode 0600) if there is none, and
 * replays its records of type @type. A torn or garbled tail is cut off and its size
 * returned in @out_dropped_bytes; damage before the tail fails with an error naming the
 * file and the offset, and changes nothing. */
KvJournal *kv_journal_open(const char *path, const GVariantType *type, KvJournalReplayFunc replay,
                           gpointer user_data, gsize *out_dropped_bytes, GError **error);

/* The same with each record's payload as bytes, which the function checks itself. */
typedef gboolean (*KvJournalBytesFunc)(const guint8 *payload, gsize size, gpointer user_data,
                                       GError **error);

/* kv_journal_open() for a replay that reads the payloads' bytes itself. */
KvJournal *kv_journal_open_bytes(const char *path, KvJournalBytesFunc replay, gpointer user_data,
                                 gsize *out_dropped_bytes, GError **error);

/* What kv_journal_scan() found. */
typedef struct {
  gboolean exists;
  gsize size;
  char *header_problem;   /* not a journal this kvstored reads: why (and nothing else set) */
  gboolean other_version; /* ...because another version of kvstored wrote it */
  gsize end;              /* where the whole records from the start end */
  gboolean damaged;       /* at @end, with whole records after it; else a torn tail or none */
  char *damage_reason;    /* when the record at @end is whole but was refused: why */
  guint records_after;    /* whole records after the damage */
} KvJournalScan;

/* Reads the journal at @path without changing it: calls @func for each whole record from
 * the start up to the first damage or torn tail, and describes what follows; a record
 * @func refuses counts as damage. A missing file is an empty journal. FALSE with @error
 * only when it cannot be read. */
gboolean kv_journal_scan(const char *path, const GVariantType *type, KvJournalReplayFunc func,
                         gpointer user_data, KvJournalScan *out, GError **error);

/* kv_journal_scan() for a @func that reads the payloads' bytes itself, as
 * kv_journal_open_bytes() does: the records the one refuses, the other finds damaged. */
gboolean kv_journal_scan_bytes(const char *path, KvJournalBytesFunc func, gpointer user_data,
                               KvJournalScan *out, GError **error);

/* Frees what a scan allocated. */
void kv_journal_scan_clear(KvJournalScan *scan);

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(KvJournalScan, kv_journal_scan_clear)

/* Appends a serialized payload (the journal's type, in normal form) to @buffer. */
typedef void (*KvJournalSerializeFunc)(GByteArray *buffer, gpointer user_data);

/* Queues a record for the next flush, its payload written by @serialize straight into the
 * queue. */
void kv_journal_append_with(KvJournal *self, KvJournalSerializeFunc serialize, gpointer user_data);

/* Whether records wait for a flush. */
gboolean kv_journal_has_pending(KvJournal *self);

/* Writes the queued records and, with @sync, waits until they are on stable storage. On
 * failure the file is cut back to its size before, the queue is dropped and the journal
 * stays usable. */
gboolean kv_journal_flush(KvJournal *self, gboolean sync, GError **error);

/* kv_journal_flush() in steps, for a sync made elsewhere (a thread): writes the queued
 * records without waiting for stable storage (on failure, as kv_journal_flush()). */
gboolean kv_journal_write(KvJournal *self, GError **error);

/* The file descriptor to fdatasync() after kv_journal_write(). */
int kv_journal_fd(KvJournal *self);

/* Cuts the file back to @size (what it had before records whose sync failed), as
 * durably as the disk allows. */
void kv_journal_cut(KvJournal *self, gsize size);

/* Drops the queued records without writing them. */
void kv_journal_discard(KvJournal *self);

/* Size in bytes of what has been flushed. */
gsize kv_journal_size(KvJournal *self);

/* Replaces the file with an empty journal, atomically (temporary file, fsync, rename,
 * directory fsync). Queued records are kept. */
gboolean kv_journal_reset(KvJournal *self, GError **error);

/* Replaces the file, atomically, with one that keeps only the records from @offset on
 * (those after a snapshot). Nothing may be queued. */
gboolean kv_journal_drop_head(KvJournal *self, gsize offset, GError **error);

/* Closes the file; queued records are lost. */
void kv_journal_free(KvJournal *self);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(KvJournal, kv_journal_free)

G_END_DECLS
