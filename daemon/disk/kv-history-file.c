/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "kv-history-file.h"

#include "kv-change-record.h"
#include "kv-file-util.h"
#include "kv-journal.h"
#include "kv-persistent-repository.h"

#include <errno.h>
#include <glib/gstdio.h>

/* The changes of one revision, gathered for its record. */
typedef struct {
  KvJournal *journal;
  guint64 revision;
  GArray *changes; /* KvChange, borrowed from the history */
} Writer;

static void serialize_revision(GByteArray *buffer, gpointer user_data)
{
  Writer *writer = user_data;

  kv_change_record_serialize(buffer, writer->revision, (const KvChange *)writer->changes->data,
                             writer->changes->len);
}

static void end_revision(Writer *writer)
{
  if (writer->changes->len == 0)
    return;
  kv_journal_append_with(writer->journal, serialize_revision, writer);
  g_array_set_size(writer->changes, 0);
}

static gboolean add_change(const char *key, GVariant *value, guint64 revision, gpointer user_data)
{
  Writer *writer = user_data;
  KvChange change = {key, value};

  if (revision != writer->revision)
    end_revision(writer);
  writer->revision = revision;
  g_array_append_val(writer->changes, change);
  return TRUE;
}

gboolean kv_history_file_write(const char *path, KvHistory *history, GError **error)
{
  g_autofree char *tmp = g_strconcat(path, ".tmp", NULL);
  gsize dropped;

  /* Left by a compaction that did not finish: never replayed into this one. */
  if (g_unlink(tmp) < 0 && errno != ENOENT) {
    kv_file_set_error(error, errno, "unlink", tmp);
    return FALSE;
  }
  g_autoptr(KvJournal) journal =
      kv_journal_open(tmp, KV_JOURNAL_RECORD_TYPE, NULL, NULL, &dropped, error);
  if (journal == NULL)
    return FALSE;
  g_autoptr(GArray) changes = g_array_new(FALSE, FALSE, sizeof(KvChange));
  Writer writer = {journal, 0, changes};
  kv_history_foreach(history, "", kv_history_oldest(history), NULL, add_change, &writer);
  end_revision(&writer);
  return kv_journal_flush(journal, TRUE, error);
}

gboolean kv_history_file_install(const char *path, GError **error)
{
  g_autofree char *tmp = g_strconcat(path, ".tmp", NULL);
  g_autofree char *dir = g_path_get_dirname(path);

  if (!g_file_test(tmp, G_FILE_TEST_EXISTS))
    return TRUE;
  if (rename(tmp, path) < 0) {
    kv_file_set_error(error, errno, "rename", tmp);
    return FALSE;
  }
  return kv_file_sync_directory(dir, error);
}

typedef struct {
  KvHistory *history;
  gboolean started;
  guint64 last;
} Loader;

void kv_history_add_record(KvHistory *history, const KvChangeRecord *record)
{
  for (guint i = 0; i < record->changes->len; i++) {
    const KvChange *change = &g_array_index(record->changes, KvChange, i);
    kv_history_append(history, change->key, change->value, record->revision);
  }
  kv_history_commit(history, record->revision);
}

static gboolean load_record(GVariant *record, gpointer user_data, GError **error)
{
  Loader *loader = user_data;
  g_auto(KvChangeRecord) read = {0};

  kv_change_record_read(record, &read);
  if (loader->started && read.revision <= loader->last) {
    g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_INVAL,
                "revision %" G_GUINT64_FORMAT " follows %" G_GUINT64_FORMAT, read.revision,
                loader->last);
    return FALSE;
  }
  /* Every change after the one before the first record is here. */
  if (!loader->started)
    kv_history_start_at(loader->history, read.revision - 1);
  loader->started = TRUE;
  loader->last = read.revision;
  kv_history_add_record(loader->history, &read);
  return TRUE;
}

gboolean kv_history_file_load(const char *path, KvHistory *history, guint64 snapshot_revision,
                              GError **error)
{
  g_auto(KvJournalScan) scan = {0};
  Loader loader = {history, FALSE, 0};

  kv_history_start_at(history, snapshot_revision);
  if (!kv_journal_scan(path, KV_JOURNAL_RECORD_TYPE, load_record, &loader, &scan, error)) {
    kv_history_start_at(history, snapshot_revision);
    return FALSE;
  }
  if (scan.header_problem != NULL || scan.damaged) {
    g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_INVAL, "%s: %s", path,
                scan.header_problem != NULL  ? scan.header_problem
                : scan.damage_reason != NULL ? scan.damage_reason
                                             : "damaged records");
    kv_history_start_at(history, snapshot_revision);
    return FALSE;
  }
  /* Changes between its end and the journal's start would be missing. */
  if (loader.started && loader.last < snapshot_revision) {
    g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_INVAL,
                "%s ends at revision %" G_GUINT64_FORMAT
                ", before the snapshot's %" G_GUINT64_FORMAT,
                path, loader.last, snapshot_revision);
    kv_history_start_at(history, snapshot_revision);
    return FALSE;
  }
  return TRUE;
}
