/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Durability over the memory repository: journal appends and their commit (fdatasync on
 * the syncer thread), rollback of what a failed commit leaves, compaction into a new
 * snapshot in a child process, and recovery at open. It is long because all of them
 * share the journal's and the snapshot's state. */
#include "kv-persistent-repository.h"

#include "kv-change-record.h"
#include "kv-error.h"
#include "kv-file-util.h"
#include "kv-history-file.h"
#include "kv-journal.h"
#include "kv-memory-repository.h"
#include "kv-snapshot.h"
#include "kv-state-dir.h"
#include "kv-syncer.h"

#include <errno.h>
#include <gio/gio.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <string.h>
#include <unistd.h>

#define LOCK_WAIT_SECONDS 20

/* How to take back one change that is not committed yet. */
typedef struct {
  char *key;
  GVariant *old_value; /* NULL: the key did not exist */
  guint64 old_revision;
} Undo;

/* The wait before a failed compaction is tried again, first and longest. */
#define COMPACTION_RETRY_MIN_USEC (1 * G_USEC_PER_SEC)
#define COMPACTION_RETRY_MAX_USEC (60 * G_USEC_PER_SEC)

typedef struct {
  KvRepository parent;
  KvRepository *inner;
  char *snapshot_path;
  KvJournal *journal;
  KvSyncMode sync;
  gsize compact_bytes;
  gsize snapshot_bytes;
  gsize next_compaction; /* journal size that triggers the next compaction */
  /* After a failed compaction: when to try again whatever the journal's size (0: not
   * waiting), and how long the wait after the next failure is. */
  gint64 compaction_retry_at; /* monotonic µs */
  gint64 compaction_backoff;
  /* A compaction in the background: a forked child writes the snapshot of the committed
   * state while the parent goes on; the journal records it holds end at
   * compaction_offset. */
  pid_t compaction_pid;
  gsize compaction_offset;
  gint64 compaction_start; /* monotonic µs */
  guint failed_commits;    /* in a row: logged at the first, counted after */
  /* The revision of the last commit. The inner repository's revision is that of the
   * last change applied, committed or not, and numbers the journal records. */
  guint64 committed_sequence;
  GArray *undo; /* Undo, one per change since the last commit */
  /* Syncs off the event loop (kv_persistent_repository_sync_off_loop()), one at a time:
   * the commit under way makes the first sync_undo changes durable, up to sync_sequence;
   * on failure the journal goes back to sync_size. */
  KvSyncer *syncer;
  sd_event_source *synced;
  KvRepositoryCommitFunc sync_done; /* non-NULL while a sync is under way */
  gpointer sync_done_data;
  guint sync_undo;
  guint64 sync_sequence;
  gsize sync_size;
  KvLogFunc log;
  gpointer log_data;
  int lock_fd;
  /* Borrowed, may be NULL: its copy is written with each snapshot (kv-history-file.h). */
  KvHistory *history;
  char *history_path;
} KvPersistentRepository;

static void undo_clear(gpointer data)
{
  Undo *undo = data;

  g_free(undo->key);
  g_clear_pointer(&undo->old_value, g_variant_unref);
}

static void say(KvPersistentRepository *self, int priority, const char *format, ...)
    G_GNUC_PRINTF(3, 4);

static void say(KvPersistentRepository *self, int priority, const char *format, ...)
{
  va_list args;

  if (self->log == NULL)
    return;
  va_start(args, format);
  g_autofree char *message = g_strdup_vprintf(format, args);
  va_end(args);
  self->log(priority, message, self->log_data);
}

static void say_lock_wait(const char *dir, pid_t holder, guint wait_seconds, gpointer user_data)
{
  g_autofree char *by =
      holder > 0 ? g_strdup_printf("process %d", (int)holder) : g_strdup("another process");

  say(user_data, LOG_NOTICE,
      "Waiting up to %u s for %s to release %s/lock (another kvstored finishing, or a "
      "compaction it left running); SIGTERM ends the wait",
      wait_seconds, by, dir);
}

typedef struct {
  guint64 revision;
  const KvChange *changes;
  gsize n_changes;
} Record;

static void serialize_record(GByteArray *buffer, gpointer user_data)
{
  Record *record = user_data;

  kv_change_record_serialize(buffer, record->revision, record->changes, record->n_changes);
}

/* Applies @changes to the inner repository and queues them as one journal record. */
static gboolean persistent_apply(KvRepository *repository, const KvChange *changes, gsize n_changes,
                                 GError **error)
{
  KvPersistentRepository *self = (KvPersistentRepository *)repository;
  Record record = {kv_repository_revision(self->inner) + 1, changes, n_changes};

  for (gsize i = 0; i < n_changes; i++) {
    Undo undo = {g_strdup(changes[i].key), NULL, 0};
    undo.old_value = kv_repository_lookup(self->inner, changes[i].key, &undo.old_revision);
    g_array_append_val(self->undo, undo);
  }
  kv_journal_append_with(self->journal, serialize_record, &record);
  /* The memory repository cannot fail, and takes that revision. */
  kv_repository_apply(self->inner, changes, n_changes, error);
  return TRUE;
}

static GVariant *persistent_lookup(KvRepository *repository, const char *key, guint64 *out_revision)
{
  return kv_repository_lookup(((KvPersistentRepository *)repository)->inner, key, out_revision);
}

static GVariant *persistent_peek(KvRepository *repository, const char *key)
{
  return kv_repository_peek(((KvPersistentRepository *)repository)->inner, key);
}

static guint64 persistent_revision(KvRepository *repository)
{
  return kv_repository_revision(((KvPersistentRepository *)repository)->inner);
}

static gboolean persistent_exists(KvRepository *repository, const char *key)
{
  return kv_repository_exists(((KvPersistentRepository *)repository)->inner, key);
}

static guint persistent_count(KvRepository *repository)
{
  return kv_repository_count(((KvPersistentRepository *)repository)->inner);
}

static void persistent_foreach(KvRepository *repository, const char *prefix, const char *after,
                               gboolean with_values, KvRepositoryForeachFunc func,
                               gpointer user_data)
{
  kv_repository_foreach(((KvPersistentRepository *)repository)->inner, prefix, after, with_values,
                        func, user_data);
}

static void finish_sync(KvPersistentRepository *self, gboolean wait);

/* Takes back every uncommitted change, newest first. */
static void roll_back(KvPersistentRepository *self)
{
  for (guint i = self->undo->len; i > 0; i--) {
    Undo *undo = &g_array_index(self->undo, Undo, i - 1);
    kv_memory_repository_load(self->inner, undo->key, undo->old_value, undo->old_revision);
  }
  g_array_set_size(self->undo, 0);
  kv_journal_discard(self->journal);
  kv_memory_repository_set_revision(self->inner, self->committed_sequence);
}

static gsize file_size(const char *path)
{
  GStatBuf st;

  return g_stat(path, &st) == 0 ? (gsize)st.st_size : 0;
}

/* A new snapshot is in place, folding in @journal_bytes of journal since @start: the next
 * compaction waits until the journal outgrows it. */
static void snapshot_installed(KvPersistentRepository *self, gsize journal_bytes, gint64 start)
{
  self->snapshot_bytes = file_size(self->snapshot_path);
  self->next_compaction = MAX(self->compact_bytes, self->snapshot_bytes);
  self->compaction_retry_at = 0;
  self->compaction_backoff = 0;
  if (journal_bytes > 0)
    say(self, LOG_INFO,
        "Compacted %zu bytes of journal into a snapshot of %zu bytes (%" G_GUINT64_FORMAT
        " keys) in %.0f ms",
        journal_bytes, self->snapshot_bytes, (guint64)kv_repository_count(self->inner),
        (double)(g_get_monotonic_time() - start) / 1000);
}

/* A compaction failed or could not start: the data is safe in the journal. Try again once
 * it has doubled, or after a while at the next commit, whether it succeeds or fails:
 * space may be back (keys deleted, files removed), and on a full disk a compaction is
 * what frees room for writes. The wait doubles from 1 s to a minute. */
static void postpone_compaction(KvPersistentRepository *self, const char *why)
{
  self->next_compaction = 2 * kv_journal_size(self->journal);
  self->compaction_backoff =
      CLAMP(2 * self->compaction_backoff, COMPACTION_RETRY_MIN_USEC, COMPACTION_RETRY_MAX_USEC);
  self->compaction_retry_at = g_get_monotonic_time() + self->compaction_backoff;
  say(self, LOG_WARNING,
      "Compaction failed, the journal keeps growing: %s (tried again in %.0f s at the latest "
      "with the next commit)",
      why, self->compaction_backoff / 1e6);
}

/* The history as committed, beside the snapshot of the same revision; without it, a
 * restart's history starts at the snapshot, and the compaction goes on all the same. */
static void write_history(KvPersistentRepository *self)
{
  g_autoptr(GError) error = NULL;

  if (self->history == NULL)
    return;
  kv_history_commit(self->history, self->committed_sequence);
  kv_history_roll_back(self->history);
  if (!kv_history_file_write(self->history_path, self->history, &error)) {
    g_autofree char *tmp = g_strconcat(self->history_path, ".tmp", NULL);
    say(self, LOG_WARNING, "Cannot write the history with the snapshot: %s", error->message);
    g_unlink(tmp);
  }
}

/* Puts the history written with a snapshot in place, first: a crash between the two
 * leaves a history that reaches past the snapshot, which the journal's records then
 * continue. */
static void install_history(KvPersistentRepository *self)
{
  g_autoptr(GError) error = NULL;

  if (self->history != NULL && !kv_history_file_install(self->history_path, &error))
    say(self, LOG_WARNING, "Cannot keep the history with the snapshot: %s", error->message);
}

/* Installs the snapshot a background compaction wrote and drops the journal records it
 * holds; with @wait, waits for the child first, else only looks whether it is done. */
static void finish_background_compaction(KvPersistentRepository *self, gboolean wait)
{
  g_autoptr(GError) error = NULL;
  int status;

  if (self->compaction_pid <= 0)
    return;
  pid_t r;
  do
    r = waitpid(self->compaction_pid, &status, wait ? 0 : WNOHANG);
  while (r < 0 && errno == EINTR);
  if (r == 0)
    return;
  self->compaction_pid = 0;

  if (r < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    g_set_error(&error, G_FILE_ERROR, G_FILE_ERROR_FAILED, "the snapshot writer failed");
    postpone_compaction(self, error->message);
    return;
  }
  install_history(self);
  if (kv_snapshot_install(self->snapshot_path, &error) &&
      kv_journal_drop_head(self->journal, self->compaction_offset, &error)) {
    snapshot_installed(self, self->compaction_offset, self->compaction_start);
    return;
  }
  postpone_compaction(self, error->message);
}

/* Closes every file descriptor above stderr but @keep. */
static void close_all_but(int keep)
{
  if (keep > 3)
    close_range(3, (unsigned)keep - 1, 0);
  close_range((unsigned)MAX(keep + 1, 3), ~0U, 0);
}

static void start_background_compaction(KvPersistentRepository *self);

/* Starts a compaction when the journal has outgrown the snapshot, or when the wait after
 * a failed one is over. */
static void maybe_compact(KvPersistentRepository *self)
{
  if (self->compaction_pid != 0)
    return;
  if (kv_journal_size(self->journal) > self->next_compaction ||
      (self->compaction_retry_at != 0 && g_get_monotonic_time() >= self->compaction_retry_at))
    start_background_compaction(self);
}

/* Forks a child that writes the snapshot from its copy of memory, so that the event loop
 * does not wait for it. The child touches nothing but the snapshot file. */
static void start_background_compaction(KvPersistentRepository *self)
{
  pid_t pid = fork();

  if (pid < 0) {
    g_autofree char *why = g_strdup_printf("fork: %s", g_strerror(errno));
    postpone_compaction(self, why);
    return;
  }
  if (pid == 0) {
    /* Not the bus connection, nor the journal: a child that outlives a killed parent must
     * not keep its peers waiting. The lock, though, it keeps until it is done, so that no
     * new kvstored starts a compaction of its own meanwhile. */
    close_all_but(self->lock_fd);
    /* Changes made while the last sync ran are not committed yet: the snapshot is of
     * the committed state, so this copy of memory takes them back. */
    roll_back(self);
    write_history(self);
    gboolean written =
        kv_snapshot_write(self->snapshot_path, self->inner, self->committed_sequence, NULL);
    _exit(written ? 0 : 1);
  }
  self->compaction_pid = pid;
  self->compaction_offset = kv_journal_size(self->journal);
  self->compaction_start = g_get_monotonic_time();
}

void kv_persistent_repository_wait_compaction(KvRepository *repository)
{
  finish_sync((KvPersistentRepository *)repository, TRUE);
  finish_background_compaction((KvPersistentRepository *)repository, TRUE);
}

gboolean kv_persistent_repository_compact(KvRepository *repository, GError **error)
{
  KvPersistentRepository *self = (KvPersistentRepository *)repository;
  gint64 start = g_get_monotonic_time();

  finish_sync(self, TRUE);
  finish_background_compaction(self, TRUE);
  gsize journal_bytes = kv_journal_size(self->journal);
  /* The snapshot must hold exactly what the journal has committed. */
  g_return_val_if_fail(self->undo->len == 0, FALSE);
  write_history(self);
  install_history(self);
  if (!kv_snapshot_write(self->snapshot_path, self->inner, self->committed_sequence, error) ||
      !kv_snapshot_install(self->snapshot_path, error) || !kv_journal_reset(self->journal, error))
    return FALSE;
  snapshot_installed(self, journal_bytes, start);
  return TRUE;
}

/* A commit failed: every uncommitted change is undone, and the operator hears of it once
 * a burst. */
static void commit_failed(KvPersistentRepository *self, const GError *cause, GError **error)
{
  roll_back(self);
  maybe_compact(self);
  if (self->failed_commits++ == 0)
    say(self, LOG_ERR,
        "Cannot commit, the changes are refused with StorageError: %s (further failures "
        "are counted until a commit succeeds)",
        cause->message);
  g_set_error(error, KV_ERROR, KV_ERROR_STORAGE, "Storage failed, nothing was changed: %s",
              cause->message);
}

/* The first @n_undo uncommitted changes, up to @sequence, are durable. */
static void commit_succeeded(KvPersistentRepository *self, guint n_undo, guint64 sequence)
{
  if (self->failed_commits > 0) {
    say(self, LOG_NOTICE, "Commits succeed again, after %u failed", self->failed_commits);
    self->failed_commits = 0;
  }
  g_array_remove_range(self->undo, 0, n_undo);
  self->committed_sequence = sequence;
  maybe_compact(self);
}

/* Ends the sync under way, if it has ended or, with @wait, once it has, and tells its
 * caller. */
static void finish_sync(KvPersistentRepository *self, gboolean wait)
{
  g_autoptr(GError) error = NULL;

  if (self->sync_done == NULL)
    return;
  int result = kv_syncer_finish(self->syncer, wait);
  if (result == -EAGAIN)
    return;
  KvRepositoryCommitFunc done = g_steal_pointer(&self->sync_done);
  if (result == 0) {
    commit_succeeded(self, self->sync_undo, self->sync_sequence);
  } else {
    g_autoptr(GError) cause = g_error_new(G_IO_ERROR, g_io_error_from_errno(result),
                                          "Cannot sync the journal: %s", g_strerror(result));
    kv_journal_cut(self->journal, self->sync_size);
    commit_failed(self, cause, &error);
  }
  done(self->committed_sequence, error, self->sync_done_data);
}

static gboolean persistent_commit(KvRepository *repository, GError **error)
{
  KvPersistentRepository *self = (KvPersistentRepository *)repository;
  g_autoptr(GError) local_error = NULL;

  finish_sync(self, TRUE);
  if (!kv_journal_has_pending(self->journal))
    return TRUE;
  /* Before writing: on a full disk, the journal records a finished compaction drops are
   * the room this commit needs. */
  finish_background_compaction(self, FALSE);
  if (!kv_journal_flush(self->journal, self->sync == KV_SYNC_ALWAYS, &local_error)) {
    commit_failed(self, local_error, error);
    return FALSE;
  }
  commit_succeeded(self, self->undo->len, kv_repository_revision(self->inner));
  return TRUE;
}

static void persistent_commit_start(KvRepository *repository, KvRepositoryCommitFunc done,
                                    gpointer user_data)
{
  KvPersistentRepository *self = (KvPersistentRepository *)repository;
  g_autoptr(GError) error = NULL;

  g_return_if_fail(self->sync_done == NULL);
  if (self->syncer == NULL || !kv_journal_has_pending(self->journal)) {
    persistent_commit(repository, &error);
    done(self->committed_sequence, error, user_data);
    return;
  }
  finish_background_compaction(self, FALSE);
  gsize size = kv_journal_size(self->journal);
  g_autoptr(GError) cause = NULL;
  if (!kv_journal_write(self->journal, &cause)) {
    commit_failed(self, cause, &error);
    done(self->committed_sequence, error, user_data);
    return;
  }
  self->sync_done = done;
  self->sync_done_data = user_data;
  self->sync_undo = self->undo->len;
  self->sync_sequence = kv_repository_revision(self->inner);
  self->sync_size = size;
  kv_syncer_start(self->syncer, kv_journal_fd(self->journal));
}

static void persistent_commit_wait(KvRepository *repository)
{
  finish_sync((KvPersistentRepository *)repository, TRUE);
}

static int on_synced(sd_event_source *source, int fd, uint32_t revents, void *user_data)
{
  finish_sync(user_data, FALSE);
  return 0;
}

gboolean kv_persistent_repository_sync_off_loop(KvRepository *repository, sd_event *event,
                                                GError **error)
{
  KvPersistentRepository *self = (KvPersistentRepository *)repository;

  if (self->sync != KV_SYNC_ALWAYS)
    return TRUE;
  self->syncer = kv_syncer_new(error);
  if (self->syncer == NULL)
    return FALSE;
  int r =
      sd_event_add_io(event, &self->synced, kv_syncer_fd(self->syncer), EPOLLIN, on_synced, self);
  if (r < 0) {
    g_set_error(error, G_IO_ERROR, g_io_error_from_errno(-r), "sd_event_add_io: %s",
                g_strerror(-r));
    g_clear_pointer(&self->syncer, kv_syncer_free);
    return FALSE;
  }
  return TRUE;
}

static void persistent_free(KvRepository *repository)
{
  KvPersistentRepository *self = (KvPersistentRepository *)repository;

  /* A sync under way ends (the thread is joined); whoever waited for it is gone. */
  self->sync_done = NULL;
  sd_event_source_disable_unref(self->synced);
  kv_syncer_free(self->syncer);
  /* Its work is worth keeping: it only has to be installed. */
  if (self->journal != NULL)
    finish_background_compaction(self, TRUE);
  g_clear_pointer(&self->journal, kv_journal_free);
  /* The files are done with: a new kvstored (activated while this one exits idle) may
   * load them while this one frees its memory, which takes a while with many keys. */
  if (self->lock_fd >= 0)
    close(self->lock_fd);
  kv_repository_free(self->inner);
  g_array_unref(self->undo);
  g_free(self->snapshot_path);
  g_free(self->history_path);
  g_free(self);
}

static const KvRepositoryVTable persistent_vtable = {
    .lookup = persistent_lookup,
    .peek = persistent_peek,
    .apply = persistent_apply,
    .exists = persistent_exists,
    .count = persistent_count,
    .revision = persistent_revision,
    .foreach = persistent_foreach,
    .commit = persistent_commit,
    .free = persistent_free,
    .commit_start = persistent_commit_start,
    .commit_wait = persistent_commit_wait,
};

gsize kv_persistent_repository_journal_size(KvRepository *repository)
{
  return kv_journal_size(((KvPersistentRepository *)repository)->journal);
}

typedef struct {
  KvPersistentRepository *self;
  guint64 snapshot_sequence;
  guint64 last_sequence;
  guint64 replayed;
  /* The last records, copied one after another, that the history is to hold: as many as
   * hold its most changes. Made into changes once the whole journal is read. */
  GByteArray *kept_bytes;
  GArray *kept; /* Kept, oldest first, from kept_head on */
  guint kept_head;
  guint history_changes; /* in the records kept */
  gboolean let_go;       /* of a record the history would have held */
} Replay;

typedef struct {
  gsize start, size; /* in kept_bytes */
  guint n_changes;
} Kept;

/* Shared by the start and --repair, so that a record one refuses the other finds
 * damaged: they disagreed when --repair read records through GLib. */
gboolean kv_journal_record_load(KvChangeReader *reader, KvRepository *into, guint *out_changes,
                                GError **error)
{
  KvChangeEntry entry;
  KvChangeStatus status;
  guint n = 0;

  /* Straight from the bytes, as a snapshot's entries are loaded. What was loaded of a
   * damaged record stays: the caller drops @into or stops. */
  while ((status = kv_change_reader_next(reader, &entry)) == KV_CHANGE_ENTRY) {
    n++;
    if (into == NULL)
      continue;
    if (entry.type != NULL)
      kv_memory_repository_load_data(into, entry.key, entry.type, entry.value, entry.value_size,
                                     reader->revision);
    else
      kv_memory_repository_load(into, entry.key, NULL, 0);
  }
  if (status == KV_CHANGE_DAMAGED) {
    g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_INVAL,
                "change %u of the record of revision %" G_GUINT64_FORMAT " is damaged", n,
                reader->revision);
    return FALSE;
  }
  if (into != NULL)
    kv_memory_repository_set_revision(into, reader->revision);
  if (out_changes != NULL)
    *out_changes = n;
  return TRUE;
}

/* Keeps a copy of the record for the history, and lets go of the oldest it no longer
 * needs for its most changes. No allocation a record: a start-up replays a million. */
static void keep_for_history(Replay *replay, const guint8 *payload, gsize size, guint n_changes)
{
  guint most = kv_history_max_changes(replay->self->history);

  if (most == 0)
    return;
  Kept kept = {replay->kept_bytes->len, size, n_changes};
  g_byte_array_append(replay->kept_bytes, payload, (guint)size);
  g_array_append_val(replay->kept, kept);
  replay->history_changes += n_changes;
  while (replay->history_changes - g_array_index(replay->kept, Kept, replay->kept_head).n_changes >=
         most) {
    replay->history_changes -= g_array_index(replay->kept, Kept, replay->kept_head++).n_changes;
    replay->let_go = TRUE;
  }
  /* Once most of what is held is let go of, the rest moves to the front. */
  if (replay->kept_head < 1024 || replay->kept_head < replay->kept->len / 2)
    return;
  gsize from = g_array_index(replay->kept, Kept, replay->kept_head).start;
  g_byte_array_remove_range(replay->kept_bytes, 0, (guint)from);
  g_array_remove_range(replay->kept, 0, replay->kept_head);
  replay->kept_head = 0;
  for (guint i = 0; i < replay->kept->len; i++)
    g_array_index(replay->kept, Kept, i).start -= from;
}

/* The records kept for the history, into it, oldest first. */
static void fill_history(Replay *replay)
{
  /* Records were let go of: the history reaches back to the first kept, not further
   * (what it held before them, from its file, is older still). */
  if (replay->let_go && replay->kept_head < replay->kept->len) {
    guint64 first;
    memcpy(&first,
           replay->kept_bytes->data + g_array_index(replay->kept, Kept, replay->kept_head).start,
           sizeof first);
    kv_history_start_at(replay->self->history, first - 1);
  }
  for (guint i = replay->kept_head; i < replay->kept->len; i++) {
    const Kept *kept = &g_array_index(replay->kept, Kept, i);
    /* Copied to memory aligned as GVariant wants; checked by the change reader as it
     * was replayed. */
    g_autoptr(GBytes) payload = g_bytes_new(replay->kept_bytes->data + kept->start, kept->size);
    g_autoptr(GVariant) record =
        g_variant_ref_sink(g_variant_new_from_bytes(KV_JOURNAL_RECORD_TYPE, payload, TRUE));
    g_auto(KvChangeRecord) read = {0};
    kv_change_record_read(record, &read);
    kv_history_add_record(replay->self->history, &read);
  }
}

static gboolean replay_record(const guint8 *payload, gsize size, gpointer user_data, GError **error)
{
  Replay *replay = user_data;
  KvChangeReader reader;

  if (!kv_change_reader_init(&reader, payload, size)) {
    g_set_error_literal(error, G_FILE_ERROR, G_FILE_ERROR_INVAL, "not a journal record");
    return FALSE;
  }
  guint64 sequence = reader.revision;
  /* Increasing, and without a gap after the snapshot. The first records may be older
   * than the snapshot: a crash between installing it and emptying the journal. */
  if (sequence <= replay->last_sequence ||
      (sequence > replay->snapshot_sequence &&
       sequence != MAX(replay->last_sequence, replay->snapshot_sequence) + 1)) {
    g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_INVAL,
                "sequence number %" G_GUINT64_FORMAT " follows %" G_GUINT64_FORMAT, sequence,
                replay->last_sequence);
    return FALSE;
  }
  replay->last_sequence = sequence;
  /* Written before the snapshot was installed: already in it. */
  if (sequence <= replay->snapshot_sequence)
    return TRUE;

  replay->replayed++;
  guint n;
  if (!kv_journal_record_load(&reader, replay->self->inner, &n, error))
    return FALSE;
  /* After what the history file holds: a crash between installing it and the snapshot
   * leaves journal records it has already. */
  if (replay->self->history != NULL && sequence > kv_history_committed(replay->self->history))
    keep_for_history(replay, payload, size, n);
  return TRUE;
}

KvRepository *kv_persistent_repository_open(const char *dir, KvSyncMode sync, gsize compact_bytes,
                                            KvHistory *history, KvLogFunc log_func,
                                            gpointer log_data, KvRecoveryInfo *out_info,
                                            GError **error)
{
  KvPersistentRepository *self = g_new0(KvPersistentRepository, 1);
  g_autoptr(KvRepository) owned = &self->parent;
  g_autofree char *journal_path = g_build_filename(dir, "journal", NULL);
  g_autofree char *journal_tmp = g_build_filename(dir, "journal.tmp", NULL);
  g_autofree char *snapshot_tmp = g_build_filename(dir, "snapshot.tmp", NULL);
  g_autofree char *history_tmp = g_build_filename(dir, "history.tmp", NULL);
  Replay replay = {.self = self};
  g_autoptr(GError) local_error = NULL;
  gsize dropped;

  self->parent.vtable = &persistent_vtable;
  self->inner = kv_memory_repository_new();
  self->snapshot_path = g_build_filename(dir, "snapshot", NULL);
  self->sync = sync;
  self->compact_bytes = compact_bytes;
  self->undo = g_array_new(FALSE, FALSE, sizeof(Undo));
  g_array_set_clear_func(self->undo, undo_clear);
  self->log = log_func;
  self->log_data = log_data;
  self->lock_fd = -1;
  self->history = history;
  self->history_path = g_build_filename(dir, "history", NULL);

  static const char *const state_files[] = {"lock",         "snapshot",    "journal",     "history",
                                            "snapshot.tmp", "journal.tmp", "history.tmp", NULL};
  if (!kv_state_dir_prepare(dir, state_files, error))
    return NULL;
  if ((self->lock_fd = kv_state_dir_lock(dir, LOCK_WAIT_SECONDS, say_lock_wait, self, error)) < 0)
    return NULL;
  /* Left by a crash in the middle of a compaction; never part of the state. */
  g_unlink(snapshot_tmp);
  g_unlink(journal_tmp);
  g_unlink(history_tmp);

  if (!kv_snapshot_load(self->snapshot_path, self->inner, &replay.snapshot_sequence, error))
    return NULL;
  out_info->snapshot_keys = kv_repository_count(self->inner);
  if (history != NULL &&
      !kv_history_file_load(self->history_path, history, replay.snapshot_sequence, &local_error))
    say(self, LOG_WARNING,
        "Cannot resume the history of changes (%s): it starts at revision %" G_GUINT64_FORMAT,
        local_error->message, replay.snapshot_sequence);
  replay.kept_bytes = g_byte_array_new();
  replay.kept = g_array_new(FALSE, FALSE, sizeof(Kept));
  self->journal = kv_journal_open_bytes(journal_path, replay_record, &replay, &dropped, error);
  if (self->journal != NULL)
    fill_history(&replay);
  g_byte_array_unref(replay.kept_bytes);
  g_array_unref(replay.kept);
  if (self->journal == NULL)
    return NULL;
  if (dropped > 0)
    say(self, LOG_WARNING,
        "Cut a torn tail of %zu bytes off %s: the last write before a crash, which was "
        "never acknowledged",
        dropped, journal_path);

  out_info->journal_records = replay.replayed;
  out_info->dropped_bytes = dropped;
  /* The snapshot's revision, then one per replayed record. */
  self->committed_sequence = kv_repository_revision(self->inner);
  snapshot_installed(self, 0, 0);
  return g_steal_pointer(&owned);
}
