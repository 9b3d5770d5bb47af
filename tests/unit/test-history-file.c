/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The history across restarts and compactions: what a restarted kvstored serves is what
 * the one before served, whichever of the history file and the journal holds it. */

#include "kv-error.h"
#include "kv-history.h"
#include "kv-persistent-repository.h"
#include "kv-service.h"
#include "kv-test-state-dir.h"

#include <glib/gstdio.h>
#include <string.h>

static gboolean describe_change(const char *key, GVariant *value, guint64 revision,
                                gpointer user_data)
{
  g_string_append_printf(user_data, "%" G_GUINT64_FORMAT ":%s%s ", revision, key,
                         value == NULL ? "-" : "");
  return TRUE;
}

/* Every change @history serves, from its oldest revision on. */
static char *changes_of(KvHistory *history)
{
  GString *out = g_string_new(NULL);

  kv_history_foreach(history, "", kv_history_oldest(history), NULL, describe_change, out);
  return g_string_free(out, FALSE);
}

/* The same, with where it starts. */
static char *everything(KvHistory *history)
{
  g_autofree char *changes = changes_of(history);

  return g_strdup_printf("after %" G_GUINT64_FORMAT ": %s", kv_history_oldest(history), changes);
}

/* Opens @f with a new history of @max_changes, and a service writing through it. */
static KvRepository *open_with_history(KvTestState *f, guint max_changes, gsize compact_bytes,
                                       KvService **out_service)
{
  g_autoptr(GError) error = NULL;

  g_clear_pointer(&f->history, kv_history_free);
  f->history = kv_history_new(max_changes, 1 << 20);
  KvRepository *repository = kv_test_state_open(f, compact_bytes, NULL, &error);
  g_assert_no_error(error);
  *out_service = kv_service_new(repository, 1 << 20);
  kv_service_set_history(*out_service, f->history);
  return repository;
}

/* A compaction now, after those in the background, whose timing is the machine's. */
static void compact_now(KvRepository *repository)
{
  g_autoptr(GError) error = NULL;

  g_assert_true(kv_persistent_repository_compact(repository, &error));
  g_assert_no_error(error);
}

/* @n writes through @service, each committed: sets of key00..key04, and a batch deleting
 * two keys every tenth. */
static void write_some(KvService *service, guint n)
{
  for (guint i = 0; i < n; i++) {
    g_autoptr(GError) error = NULL;
    g_autofree char *key = g_strdup_printf("key%02u", i % 5);
    if (i % 10 == 9) {
      const char *const keys[] = {"key00", "key01", NULL};
      guint deleted;
      guint64 revision;
      g_assert_true(kv_service_delete_many(service, keys, &deleted, &revision, &error));
    } else {
      g_assert_true(kv_service_set(service, key, g_variant_new_int32((gint32)i), &error));
    }
    g_assert_no_error(error);
    g_assert_true(kv_service_commit(service, &error));
    g_assert_no_error(error);
  }
}

/* How many of the messages logged so far are about the history. */
static guint history_warnings(KvTestState *f)
{
  guint n = 0;

  for (guint i = 0; i < f->warnings->len; i++)
    if (strstr(g_ptr_array_index(f->warnings, i), "history") != NULL) {
      g_test_message("%s", (char *)g_ptr_array_index(f->warnings, i));
      n++;
    }
  return n;
}

/* Reopens @f's state with a fresh history and returns what it serves. */
static char *after_restart(KvTestState *f, guint max_changes, KvRepository **repository,
                           KvService **service)
{
  g_clear_pointer(service, kv_service_free);
  g_clear_pointer(repository, kv_repository_free);
  *repository = open_with_history(f, max_changes, G_MAXSIZE, service);
  return everything(f->history);
}

/* A journal of thousands of records and a history of seven changes: the restart keeps
 * only the last records' changes, and serves exactly what was served before it. */
static void test_long_journal_short_history(KvTestState *f, gconstpointer data)
{
  KvService *service = NULL;
  KvRepository *repository = open_with_history(f, 7, G_MAXSIZE, &service);

  write_some(service, 3000);
  g_autofree char *before = everything(f->history);
  g_autofree char *after = after_restart(f, 7, &repository, &service);
  g_assert_cmpstr(after, ==, before);
  g_assert_cmpuint(kv_history_n_changes(f->history), <=, 8);
  kv_service_free(service);
  kv_repository_free(repository);
}

static void test_from_the_journal(KvTestState *f, gconstpointer data)
{
  KvService *service = NULL;
  KvRepository *repository = open_with_history(f, 1000, G_MAXSIZE, &service);

  write_some(service, 25);
  g_autofree char *before = everything(f->history);
  g_autofree char *after = after_restart(f, 1000, &repository, &service);
  g_assert_cmpstr(after, ==, before);
  g_assert_cmpuint(kv_history_committed(f->history), ==, kv_repository_revision(repository));
  kv_service_free(service);
  kv_repository_free(repository);
}

static void test_across_compactions(KvTestState *f, gconstpointer data)
{
  KvService *service = NULL;
  /* Compactions every 512 bytes of journal: most of the history is in the history file
   * when it stops, the rest in the journal. */
  KvRepository *repository = open_with_history(f, 40, 512, &service);

  write_some(service, 300);
  kv_persistent_repository_wait_compaction(repository);
  compact_now(repository);
  g_autofree char *history_path = g_build_filename(f->dir, "history", NULL);
  g_assert_true(g_file_test(history_path, G_FILE_TEST_EXISTS));
  g_assert_cmpuint(kv_persistent_repository_journal_size(repository), <, 2048);
  g_autofree char *before = everything(f->history);
  g_test_message("%s", before);
  g_autofree char *after = after_restart(f, 40, &repository, &service);
  g_assert_cmpstr(after, ==, before);
  g_assert_cmpuint(history_warnings(f), ==, 0);
  /* Smaller bounds at the restart: the newest changes are kept. */
  g_autofree char *all = changes_of(f->history);
  g_autofree char *ignored = after_restart(f, 5, &repository, &service);
  g_autofree char *newest = changes_of(f->history);
  g_assert_cmpuint(kv_history_n_changes(f->history), <=, 5);
  g_assert_cmpuint(kv_history_n_changes(f->history), >, 0);
  g_assert_true(g_str_has_suffix(all, newest));
  kv_service_free(service);
  kv_repository_free(repository);
}

static void test_damaged_file_set_aside(KvTestState *f, gconstpointer data)
{
  KvService *service = NULL;
  KvRepository *repository = open_with_history(f, 40, 512, &service);

  write_some(service, 100);
  kv_persistent_repository_wait_compaction(repository);
  compact_now(repository);
  g_autofree char *history_path = g_build_filename(f->dir, "history", NULL);
  g_autofree char *contents = NULL;
  gsize length;
  g_assert_true(g_file_get_contents(history_path, &contents, &length, NULL));
  contents[length / 2] ^= 0x55;
  g_assert_true(g_file_set_contents(history_path, contents, (gssize)length, NULL));
  guint64 revision = kv_repository_revision(repository);
  g_autofree char *after = after_restart(f, 40, &repository, &service);

  /* The data is whole; the history starts at the snapshot, and the log says so. */
  g_assert_cmpuint(kv_repository_revision(repository), ==, revision);
  g_assert_cmpuint(history_warnings(f), ==, 1);
  g_assert_cmpuint(kv_history_oldest(f->history), >, 0);
  g_assert_cmpuint(kv_history_oldest(f->history), <=, revision);
  kv_service_free(service);
  kv_repository_free(repository);
}

static void test_uncommitted_changes_not_served(KvTestState *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  KvService *service = NULL;
  KvRepository *repository = open_with_history(f, 100, G_MAXSIZE, &service);

  write_some(service, 3);
  g_autofree char *before = everything(f->history);
  g_assert_true(kv_service_set(service, "lost", g_variant_new_int32(1), &error));
  /* Not committed yet: not served. */
  g_autofree char *pending = everything(f->history);
  g_assert_cmpstr(pending, ==, before);
  kv_service_free(service);
  kv_repository_free(repository);
  g_clear_pointer(&f->history, kv_history_free);
}

#define ADD(path, func)                                                                            \
  g_test_add("/history-file/" path, KvTestState, NULL, kv_test_state_setup, func,                  \
             kv_test_state_teardown)

int main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  ADD("from-the-journal", test_from_the_journal);
  ADD("long-journal-short-history", test_long_journal_short_history);
  ADD("across-compactions", test_across_compactions);
  ADD("damaged-file-set-aside", test_damaged_file_set_aside);
  ADD("uncommitted-changes-not-served", test_uncommitted_changes_not_served);
  return g_test_run();
}
