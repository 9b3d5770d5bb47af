/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "kv-repair.h"

#include "kv-change-record.h"
#include "kv-file-util.h"
#include "kv-history-file.h"
#include "kv-journal.h"
#include "kv-memory-repository.h"
#include "kv-persistent-repository.h"
#include "kv-snapshot.h"
#include "kv-state-dir.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <unistd.h>

/* Replays journal records into a memory repository (or only counts them, without one). */
typedef struct {
  KvRepository *into;
  guint64 snapshot_sequence; /* records up to it are in the snapshot already */
  guint n;
  guint64 first, last;
  guint64 first_after; /* the first record after the snapshot, 0 if none */
} Replay;

/* Whether the journal's records after the snapshot start right after it, as kvstored
 * needs to load them. */
static gboolean journal_follows(const Replay *replay)
{
  return replay->first_after == 0 || replay->first_after == replay->snapshot_sequence + 1;
}

/* As kvstored reads them at start (kv_journal_open_bytes()): a record it would refuse is
 * damage here, however whole its bytes. */
static gboolean replay_record(const guint8 *payload, gsize size, gpointer user_data, GError **error)
{
  Replay *replay = user_data;
  KvChangeReader reader;

  if (!kv_change_reader_init(&reader, payload, size)) {
    g_set_error_literal(error, G_FILE_ERROR, G_FILE_ERROR_INVAL, "not a journal record");
    return FALSE;
  }
  guint64 sequence = reader.revision;
  /* As kvstored loads them: each record newer than the one before and, once past the
   * snapshot, right after it. Only a gap right after the snapshot is the snapshot's
   * matter (it is rebuilt). */
  if ((replay->n > 0 && sequence <= replay->last) ||
      (replay->first_after != 0 && sequence != replay->last + 1)) {
    g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_INVAL,
                "revision %" G_GUINT64_FORMAT " follows %" G_GUINT64_FORMAT, sequence,
                replay->last);
    return FALSE;
  }
  /* Records the snapshot holds already are not read further, as at start. */
  if (sequence > replay->snapshot_sequence &&
      !kv_journal_record_load(&reader, replay->into, NULL, error))
    return FALSE;
  if (replay->n++ == 0)
    replay->first = sequence;
  replay->last = sequence;
  if (sequence > replay->snapshot_sequence && replay->first_after == 0)
    replay->first_after = sequence;
  return TRUE;
}

static void describe_records(GString *report, const Replay *replay)
{
  if (replay->n == 0)
    g_string_append(report, "no whole records");
  else
    g_string_append_printf(
        report, "%u whole records (revisions %" G_GUINT64_FORMAT "-%" G_GUINT64_FORMAT ")",
        replay->n, replay->first, replay->last);
}

/* Describes a journal scan; returns whether kvstored would load it. */
static gboolean describe_journal(GString *report, const KvJournalScan *scan, const Replay *replay)
{
  g_string_append(report, "journal: ");
  if (!scan->exists) {
    g_string_append(report, "none\n");
    return TRUE;
  }
  if (scan->header_problem != NULL) {
    g_string_append_printf(report, "%s\n", scan->header_problem);
    return FALSE;
  }
  /* The records counted stop at the damage: say so, as --repair, which keeps them, does. */
  describe_records(report, replay);
  g_string_append_printf(report, "%s in %zu bytes", scan->damaged ? " before the damage," : "",
                         scan->size);
  if (scan->damaged)
    g_string_append_printf(report,
                           "; DAMAGED at offset %zu%s%s%s, with %u whole records after the "
                           "damage, which cannot be replayed without it\n",
                           scan->end, scan->damage_reason != NULL ? " (" : "",
                           scan->damage_reason != NULL ? scan->damage_reason : "",
                           scan->damage_reason != NULL ? ")" : "", scan->records_after);
  else if (scan->end < scan->size)
    g_string_append_printf(report, "; a torn tail of %zu bytes, which the start cuts\n",
                           scan->size - scan->end);
  else
    g_string_append(report, "; intact\n");
  return !scan->damaged;
}

/* What the snapshot file holds, as far as it can be read. */
typedef struct {
  gboolean exists;
  char *unreadable; /* not a snapshot at all: why */
  KvSnapshotSalvage salvage;
} SnapshotState;

static void snapshot_state_clear(SnapshotState *state)
{
  g_clear_pointer(&state->unreadable, g_free);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(SnapshotState, snapshot_state_clear)

static gboolean snapshot_intact(const SnapshotState *state)
{
  const KvSnapshotSalvage *salvage = &state->salvage;

  return !state->exists ||
         (state->unreadable == NULL && salvage->head_found && !salvage->ends_differ &&
          salvage->damaged_bytes == 0 && salvage->salvaged == salvage->count);
}

static void describe_snapshot(GString *report, const SnapshotState *state)
{
  const KvSnapshotSalvage *salvage = &state->salvage;

  g_string_append(report, "snapshot: ");
  if (!state->exists) {
    g_string_append(report, "none\n");
    return;
  }
  if (state->unreadable != NULL) {
    g_string_append_printf(report, "%s\n", state->unreadable);
    return;
  }
  if (salvage->head_found)
    g_string_append_printf(report, "%" G_GUINT64_FORMAT " keys at revision %" G_GUINT64_FORMAT,
                           salvage->count, salvage->sequence);
  else
    g_string_append(report, "head and trailer lost (revision and key count unknown)");
  if (snapshot_intact(state))
    g_string_append(report, "; intact\n");
  else
    g_string_append_printf(report,
                           "; DAMAGED: %zu bytes in no whole record, %" G_GUINT64_FORMAT
                           " keys in whole records\n",
                           salvage->damaged_bytes, salvage->salvaged);
}

/* Salvages the snapshot at @path into @into: a missing one is empty and intact, one that
 * is not a snapshot at all is all damage. FALSE with @error only for a snapshot of another
 * version, which must be left alone. */
static gboolean salvage_snapshot(const char *path, KvRepository *into, SnapshotState *out,
                                 GError **error)
{
  g_autoptr(GError) local_error = NULL;

  out->exists = g_file_test(path, G_FILE_TEST_EXISTS);
  if (!out->exists || kv_snapshot_salvage(path, into, &out->salvage, &local_error))
    return TRUE;
  if (g_error_matches(local_error, G_FILE_ERROR, G_FILE_ERROR_NOSYS)) {
    g_propagate_error(error, g_steal_pointer(&local_error));
    return FALSE;
  }
  out->unreadable = g_strdup(local_error->message);
  return TRUE;
}

static gboolean largest_revision(const char *key, GVariant *value, guint64 revision,
                                 gpointer user_data)
{
  guint64 *largest = user_data;

  *largest = MAX(*largest, revision);
  return TRUE;
}

/* The revision the snapshot was taken at: 0 without one; without its head and trailer,
 * that of the newest entry @salvaged, a bound from below from which the journal replayed
 * ends in the same state. */
static guint64 snapshot_revision(const SnapshotState *snapshot, KvRepository *salvaged)
{
  guint64 revision = 0;

  if (snapshot->exists && snapshot->unreadable == NULL && snapshot->salvage.head_found)
    return snapshot->salvage.sequence;
  kv_repository_foreach(salvaged, "", NULL, FALSE, largest_revision, &revision);
  return revision;
}

/* A journal of another version must be left alone. */
static gboolean journal_readable(const KvJournalScan *scan, GError **error)
{
  if (!scan->other_version)
    return TRUE;
  g_set_error_literal(error, G_FILE_ERROR, G_FILE_ERROR_NOSYS, scan->header_problem);
  return FALSE;
}

/* Keeps @path, as it is, under NAME.damaged-TIME too (with -2, -3... when a repair in the
 * same second took that name); the caller then replaces @path. */
static gboolean keep_aside(const char *path, char **out_aside, GError **error)
{
  g_autoptr(GDateTime) now = g_date_time_new_now_local();
  g_autofree char *stamp = g_date_time_format(now, "%Y%m%dT%H%M%S");

  for (guint n = 1; n < 1000; n++) {
    g_autofree char *aside = n == 1 ? g_strdup_printf("%s.damaged-%s", path, stamp)
                                    : g_strdup_printf("%s.damaged-%s-%u", path, stamp, n);
    if (link(path, aside) == 0) {
      *out_aside = g_steal_pointer(&aside);
      return TRUE;
    }
    if (errno != EEXIST)
      break;
  }
  kv_file_set_error(error, errno, "keep a copy of", path);
  return FALSE;
}

/* What kvstored will make of the history file, for a snapshot at @snapshot_revision: told,
 * never a reason to call the directory damaged (it is not the data). With @repair, one
 * kvstored would not use is kept aside and removed. */
static gboolean describe_history(const char *dir, guint64 snapshot_revision, gboolean repair,
                                 GString *report, GError **error)
{
  g_autofree char *path = g_build_filename(dir, "history", NULL);
  g_autoptr(KvHistory) history = kv_history_new(G_MAXUINT, G_MAXSIZE);
  g_autoptr(GError) unused = NULL;
  g_autofree char *aside = NULL;

  if (!g_file_test(path, G_FILE_TEST_EXISTS)) {
    if (!repair)
      g_string_append(report, "history: none: callers resume from the snapshot on\n");
    return TRUE;
  }
  if (kv_history_file_load(path, history, snapshot_revision, &unused)) {
    if (!repair)
      g_string_append_printf(
          report, "history: %u changes, every change after revision %" G_GUINT64_FORMAT "\n",
          kv_history_n_changes(history), kv_history_oldest(history));
    return TRUE;
  }
  if (!repair) {
    g_string_append_printf(report, "history: not used (%s): callers resume from the snapshot on\n",
                           unused->message);
    return TRUE;
  }
  if (!keep_aside(path, &aside, error))
    return FALSE;
  if (g_unlink(path) < 0) {
    kv_file_set_error(error, errno, "remove", path);
    return FALSE;
  }
  g_string_append_printf(report, "history: not usable (%s); kept as %s\n", unused->message, aside);
  return TRUE;
}

gboolean kv_repair_check(const char *dir, GString *report, gboolean *out_healthy, GError **error)
{
  g_autofree char *snapshot_path = g_build_filename(dir, "snapshot", NULL);
  g_autofree char *journal_path = g_build_filename(dir, "journal", NULL);
  g_autoptr(KvRepository) scratch = kv_memory_repository_new();
  g_auto(SnapshotState) snapshot = {0};
  g_auto(KvJournalScan) scan = {0};
  Replay replay = {0};
  int lock = kv_state_dir_lock(dir, 0, NULL, NULL, error);

  if (lock < 0)
    return FALSE;
  /* A snapshot of another version is told of like any other problem. */
  g_autoptr(GError) snapshot_error = NULL;
  if (!salvage_snapshot(snapshot_path, scratch, &snapshot, &snapshot_error))
    snapshot.unreadable = g_strdup(snapshot_error->message);
  replay.snapshot_sequence = snapshot_revision(&snapshot, scratch);
  gboolean looked = kv_journal_scan_bytes(journal_path, replay_record, &replay, &scan, error);
  close(lock);
  if (!looked)
    return FALSE;

  g_string_append_printf(report, "state directory %s\n", dir);
  describe_snapshot(report, &snapshot);
  gboolean journal_healthy = describe_journal(report, &scan, &replay);
  if (snapshot_intact(&snapshot) && !journal_follows(&replay)) {
    g_string_append_printf(report,
                           "journal: does not follow the snapshot: the changes of revisions "
                           "%" G_GUINT64_FORMAT "-%" G_GUINT64_FORMAT " are in neither file\n",
                           replay.snapshot_sequence + 1, replay.first_after - 1);
    journal_healthy = FALSE;
  }
  *out_healthy = snapshot_intact(&snapshot) && journal_healthy;
  return describe_history(dir, replay.snapshot_sequence, FALSE, report, error);
}

static gboolean repair_journal(const char *dir, const char *path, const KvJournalScan *scan,
                               const Replay *replay, GString *report, GError **error)
{
  g_autofree char *aside = NULL;
  g_autofree char *tmp = g_strconcat(path, ".tmp", NULL);
  g_autofree char *data = NULL;

  if (!scan->exists || (scan->header_problem == NULL && !scan->damaged))
    return TRUE;
  if (scan->header_problem != NULL) {
    /* Not a journal at all, or a garbled header: nothing in it can be trusted. */
    if (!keep_aside(path, &aside, error))
      return FALSE;
    if (unlink(path) < 0) {
      kv_file_set_error(error, errno, "remove", path);
      return FALSE;
    }
    g_string_append_printf(report, "journal: dropped whole (%s); kept as %s\n",
                           scan->header_problem, aside);
    return kv_file_sync_directory(dir, error);
  }
  if (!g_file_get_contents(path, &data, NULL, error) || !keep_aside(path, &aside, error) ||
      !kv_file_replace(dir, tmp, path, data, scan->end, error))
    return FALSE;
  g_string_append(report, "journal: kept ");
  describe_records(report, replay);
  g_string_append_printf(report,
                         " before the damage at offset %zu; dropped the damaged record and the "
                         "%u whole records after it, which cannot be replayed without it; the "
                         "damaged file is kept as %s\n",
                         scan->end, scan->records_after, aside);
  return TRUE;
}

/* Rebuilds the snapshot at @path, when it is damaged or the journal does not follow it
 * (@follows), from what @snapshot salvaged into @rebuilt and the journal at
 * @journal_path. */
static gboolean repair_snapshot(const char *path, const SnapshotState *snapshot,
                                KvRepository *rebuilt, const char *journal_path, gboolean follows,
                                GString *report, GError **error)
{
  const KvSnapshotSalvage *salvage = &snapshot->salvage;
  gboolean intact = snapshot_intact(snapshot);
  g_auto(KvJournalScan) scan = {0};
  g_autofree char *aside = NULL;

  if (intact && follows)
    return TRUE;
  guint64 sequence = snapshot_revision(snapshot, rebuilt);
  Replay replay = {rebuilt, sequence, 0, 0, 0, 0};
  if (!kv_journal_scan_bytes(journal_path, replay_record, &replay, &scan, error))
    return FALSE;
  guint64 final = MAX(sequence, replay.last);
  kv_memory_repository_set_revision(rebuilt, final);

  if (!kv_snapshot_write(path, rebuilt, final, error) || !keep_aside(path, &aside, error) ||
      !kv_snapshot_install(path, error))
    return FALSE;
  g_string_append_printf(report,
                         "snapshot: rebuilt at revision %" G_GUINT64_FORMAT
                         " from the %" G_GUINT64_FORMAT
                         " keys in its whole records and the journal's records after revision "
                         "%" G_GUINT64_FORMAT,
                         final, salvage->salvaged, sequence);
  if (!journal_follows(&replay))
    g_string_append_printf(report,
                           "; the changes of revisions %" G_GUINT64_FORMAT "-%" G_GUINT64_FORMAT
                           " were in neither file and are lost",
                           sequence + 1, replay.first_after - 1);
  if (intact)
    g_string_append(report, "; it was intact");
  else if (salvage->head_found)
    g_string_append_printf(report,
                           "; %" G_GUINT64_FORMAT
                           " of its keys were in damaged records and are lost unless the "
                           "journal wrote them again",
                           salvage->count - MIN(salvage->count, salvage->salvaged));
  else
    g_string_append(report, "; how many of its keys were in damaged records is unknown");
  g_string_append_printf(report, "; the previous file is kept as %s\n", aside);
  return TRUE;
}

/* kv_repair() once the directory is locked. */
static gboolean repair_locked(const char *dir, GString *report, GError **error)
{
  g_autofree char *snapshot_path = g_build_filename(dir, "snapshot", NULL);
  g_autofree char *journal_path = g_build_filename(dir, "journal", NULL);
  g_autoptr(KvRepository) rebuilt = kv_memory_repository_new();
  g_auto(SnapshotState) snapshot = {0};
  g_auto(KvJournalScan) scan = {0};

  /* Everything is read before anything changes; the journal is mended first, so that a
   * rebuilt snapshot takes in what the journal keeps. */
  if (!salvage_snapshot(snapshot_path, rebuilt, &snapshot, error))
    return FALSE;
  Replay replay = {NULL, snapshot_revision(&snapshot, rebuilt), 0, 0, 0, 0};
  if (!kv_journal_scan_bytes(journal_path, replay_record, &replay, &scan, error) ||
      !journal_readable(&scan, error) ||
      !repair_journal(dir, journal_path, &scan, &replay, report, error))
    return FALSE;
  return repair_snapshot(snapshot_path, &snapshot, rebuilt, journal_path, journal_follows(&replay),
                         report, error) &&
         describe_history(dir, replay.snapshot_sequence, TRUE, report, error);
}

gboolean kv_repair(const char *dir, GString *report, GError **error)
{
  int lock = kv_state_dir_lock(dir, 0, NULL, NULL, error);

  if (lock < 0)
    return FALSE;
  gsize before = report->len;
  gboolean repaired = repair_locked(dir, report, error);
  close(lock);
  if (repaired && report->len == before)
    g_string_append_printf(report, "%s: nothing to repair\n", dir);
  return repaired;
}
