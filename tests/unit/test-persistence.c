/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The journal, the snapshot and the persistent repository, on real files in a temporary
 * directory, without a bus. */

#include "kv-error.h"
#include "kv-journal.h"
#include "kv-memory-repository.h"
#include "kv-persistent-repository.h"
#include "kv-sd-bus-cleanup.h"
#include "kv-snapshot.h"
#include "kv-test-assert.h"
#include "kv-test-state-dir.h"
#include "kv-test-values.h"

#include <glib/gstdio.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>

static GVariant *contents_after_reopening(KvTestState *f)
{
  g_autoptr(KvRepository) repository = kv_test_state_open_ok(f);

  return kv_test_state_contents(repository);
}

/* Closes *@repository and checks that opening its state again finds what it held. */
static void assert_reopens_the_same(KvTestState *f, KvRepository **repository)
{
  g_autoptr(GVariant) before = kv_test_state_contents(*repository);

  g_clear_pointer(repository, kv_repository_free);
  g_autoptr(GVariant) after = contents_after_reopening(f);
  g_assert_cmpvariant(after, before);
}

static void fill_with_every_type(KvRepository *repository)
{
  for (gsize i = 0; i < G_N_ELEMENTS(kv_test_values); i++) {
    g_autoptr(GVariant) value = g_variant_parse(NULL, kv_test_values[i], NULL, NULL, NULL);
    g_autofree char *key = g_strdup_printf("value/%02zu", i);
    kv_test_set_committed(repository, key, value);
  }
}

static void test_journal_round_trip(KvTestState *f, gconstpointer data)
{
  g_autoptr(GVariant) before = NULL;
  {
    g_autoptr(KvRepository) repository = kv_test_state_open_ok(f);
    fill_with_every_type(repository);
    kv_test_set_committed(repository, "deleted", g_variant_new_int32(1));
    g_assert_true(kv_repository_delete(repository, "deleted", NULL, NULL));
    g_assert_true(kv_repository_commit(repository, NULL));
    before = kv_test_state_contents(repository);
  }
  g_assert_false(g_file_test(f->snapshot, G_FILE_TEST_EXISTS));

  KvRecoveryInfo info;
  g_autoptr(GError) error = NULL;
  g_autoptr(KvRepository) reopened = kv_test_state_open(f, G_MAXSIZE, &info, &error);
  g_assert_no_error(error);
  g_autoptr(GVariant) after = kv_test_state_contents(reopened);
  g_assert_cmpvariant(after, before);
  g_assert_cmpuint(g_variant_n_children(after), ==, G_N_ELEMENTS(kv_test_values));
  g_assert_cmpuint(info.journal_records, ==, G_N_ELEMENTS(kv_test_values) + 2);
  g_assert_cmpuint(info.dropped_bytes, ==, 0);
}

static void test_snapshot_round_trip(KvTestState *f, gconstpointer data)
{
  g_autoptr(GVariant) before = NULL;
  g_autoptr(GError) error = NULL;
  {
    g_autoptr(KvRepository) repository = kv_test_state_open_ok(f);
    fill_with_every_type(repository);
    g_assert_true(kv_persistent_repository_compact(repository, &error));
    g_assert_no_error(error);
    /* After the snapshot, more in the new journal. */
    kv_test_set_committed(repository, "after", g_variant_new_string("snapshot"));
    before = kv_test_state_contents(repository);
  }
  KvRecoveryInfo info;
  g_autoptr(KvRepository) reopened = kv_test_state_open(f, G_MAXSIZE, &info, &error);
  g_assert_no_error(error);
  g_autoptr(GVariant) after = kv_test_state_contents(reopened);
  g_assert_cmpvariant(after, before);
  g_assert_cmpuint(info.snapshot_keys, ==, G_N_ELEMENTS(kv_test_values));
  g_assert_cmpuint(info.journal_records, ==, 1);
}

static void test_compaction_when_journal_grows(KvTestState *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(KvRepository) repository = kv_test_state_open(f, 4096, NULL, &error);
  g_autofree char *text = g_strnfill(100, 'x');

  g_assert_no_error(error);
  for (int i = 0; i < 200; i++) {
    g_autofree char *key = g_strdup_printf("key%03d", i % 10);
    kv_test_set_committed(repository, key, g_variant_new_string(text));
  }
  /* 200 records of >100 bytes passed 4 KiB many times: the journal was folded away, by
   * compactions in the background, the last one perhaps still running. On a busy machine
   * it may have ended after the last commit, the one that would have started the next:
   * one more commit starts it, if the journal outgrew 4 KiB meanwhile. */
  kv_persistent_repository_wait_compaction(repository);
  kv_test_set_committed(repository, "key000", g_variant_new_string(text));
  kv_persistent_repository_wait_compaction(repository);
  g_assert_true(g_file_test(f->snapshot, G_FILE_TEST_EXISTS));
  g_assert_cmpuint(kv_persistent_repository_journal_size(repository), <, 4096 + 200);
  assert_reopens_the_same(f, &repository);
}

/* Writes made while a compaction runs in the background are kept, in the journal that
 * remains once its snapshot is installed. */
static void test_writes_during_background_compaction(KvTestState *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(KvRepository) repository = kv_test_state_open(f, 1024, NULL, &error);
  g_autofree char *text = g_strnfill(200, 'x');

  g_assert_no_error(error);
  for (int i = 0; i < 2000; i++) {
    g_autofree char *key = g_strdup_printf("key%04d", i % 500);
    kv_test_set_committed(repository, key, g_variant_new_string(text));
    if (i % 7 == 0)
      g_assert_true(kv_repository_delete(repository, key, NULL, NULL) &&
                    kv_repository_commit(repository, NULL));
  }
  g_autoptr(GVariant) before = kv_test_state_contents(repository);
  guint64 revision = kv_repository_revision(repository);
  kv_persistent_repository_wait_compaction(repository);
  /* Background compactions are logged too, when their snapshot is installed. */
  g_assert_cmpuint(f->warnings->len, >, 0);
  g_assert_true(g_str_has_prefix(g_ptr_array_index(f->warnings, 0), "Compacted "));
  g_clear_pointer(&repository, kv_repository_free);

  g_autoptr(KvRepository) reopened = kv_test_state_open_ok(f);
  g_autoptr(GVariant) after = kv_test_state_contents(reopened);
  g_assert_cmpvariant(after, before);
  g_assert_cmpuint(kv_repository_revision(reopened), ==, revision);
  g_assert_true(g_file_test(f->snapshot, G_FILE_TEST_EXISTS));
}

static void test_files_are_private(KvTestState *f, gconstpointer data)
{
  g_autoptr(KvRepository) repository = kv_test_state_open_ok(f);
  GStatBuf st;

  kv_test_set_committed(repository, "k", g_variant_new_boolean(TRUE));
  g_assert_true(kv_persistent_repository_compact(repository, NULL));
  /* Each compaction is logged, with its size and duration. */
  g_assert_cmpuint(f->warnings->len, ==, 1);
  const char *logged = g_ptr_array_index(f->warnings, 0);
  if (!g_regex_match_simple("^Compacted [0-9]+ bytes of journal into a snapshot of [0-9]+ bytes "
                            "\\(1 keys\\) in [0-9]+ ms$",
                            logged, 0, 0))
    g_error("'%s'", logged);
  g_assert_cmpint(g_stat(f->journal, &st), ==, 0);
  g_assert_cmpint(st.st_mode & 0777, ==, 0600);
  g_assert_cmpint(g_stat(f->snapshot, &st), ==, 0);
  g_assert_cmpint(st.st_mode & 0777, ==, 0600);
}

/* Writes k0..k2, then k3 alone in the last record; returns a copy of the journal's bytes
 * (@out_size of them) and the offset where the last record starts. */
static guint8 *journal_with_last_record(KvTestState *f, gsize *out_last_start, gsize *out_size)
{
  g_autoptr(KvRepository) repository = kv_test_state_open_ok(f);
  char *data = NULL;

  for (int i = 0; i < 3; i++) {
    g_autofree char *key = g_strdup_printf("k%d", i);
    kv_test_set_committed(repository, key, g_variant_new_int32(i));
  }
  *out_last_start = kv_persistent_repository_journal_size(repository);
  kv_test_set_committed(repository, "k3", g_variant_new_string("the last record"));
  g_assert_true(g_file_get_contents(f->journal, &data, out_size, NULL));
  return (guint8 *)data;
}

static void write_journal(KvTestState *f, const void *data, gsize size)
{
  g_autoptr(GError) error = NULL;

  g_file_set_contents(f->journal, data, (gssize)size, &error);
  g_assert_no_error(error);
}

static void assert_first_three_only(KvTestState *f, gsize expected_size)
{
  g_autoptr(KvRepository) repository = kv_test_state_open_ok(f);
  GStatBuf st;

  g_assert_cmpuint(kv_repository_count(repository), ==, 3);
  g_assert_false(kv_repository_exists(repository, "k3"));
  g_assert_cmpint(g_stat(f->journal, &st), ==, 0);
  g_assert_cmpuint((gsize)st.st_size, ==, expected_size);
}

static void test_torn_tail_at_every_offset(KvTestState *f, gconstpointer data)
{
  gsize last_start, size;
  g_autofree guint8 *bytes = journal_with_last_record(f, &last_start, &size);

  for (gsize cut = last_start; cut < size; cut++) {
    g_ptr_array_set_size(f->warnings, 0);
    write_journal(f, bytes, cut);
    /* The cut is dropped, the file is cut back, and the next writes follow. */
    assert_first_three_only(f, last_start);
    g_assert_cmpuint(f->warnings->len, ==, cut > last_start ? 1 : 0);
  }
  write_journal(f, bytes, size);
  g_autoptr(KvRepository) whole = kv_test_state_open_ok(f);
  g_assert_true(kv_repository_exists(whole, "k3"));
}

static void test_garbled_last_record_is_cut(KvTestState *f, gconstpointer data)
{
  gsize last_start, size;
  g_autofree guint8 *bytes = journal_with_last_record(f, &last_start, &size);

  bytes[size - 2] ^= 0x40;
  write_journal(f, bytes, size);
  assert_first_three_only(f, last_start);
  g_assert_cmpuint(f->warnings->len, ==, 1);
  g_assert_nonnull(strstr(g_ptr_array_index(f->warnings, 0), "torn tail"));
}

static void test_zeroed_tail_is_cut(KvTestState *f, gconstpointer data)
{
  gsize last_start, size;
  g_autofree guint8 *original = journal_with_last_record(f, &last_start, &size);
  g_autofree guint8 *bytes = g_malloc0(last_start + 4096);

  /* A file system may extend a file with zeros that were never written. */
  memcpy(bytes, original, last_start);
  write_journal(f, bytes, last_start + 4096);
  assert_first_three_only(f, last_start);
}

/* Garbage of any length after the last whole record, with no record after it, is what a
 * crash during an append leaves: cut, never a refusal. */
static void test_garbage_tail_of_any_length_is_cut(KvTestState *f, gconstpointer data)
{
  gsize last_start, size;
  g_autofree guint8 *original = journal_with_last_record(f, &last_start, &size);
  const gsize lengths[] = {1, 11, 12, 13, 100, 4096, 100000};

  for (gsize i = 0; i < G_N_ELEMENTS(lengths); i++) {
    g_autofree guint8 *bytes = g_malloc(last_start + lengths[i]);
    memcpy(bytes, original, last_start);
    for (gsize j = 0; j < lengths[i]; j++)
      bytes[last_start + j] = (guint8)(0x5a ^ (j * 31));
    g_ptr_array_set_size(f->warnings, 0);
    write_journal(f, bytes, last_start + lengths[i]);
    assert_first_three_only(f, last_start);
    g_assert_cmpuint(f->warnings->len, ==, 1);
  }
}

static void test_damage_before_the_tail_is_refused(KvTestState *f, gconstpointer data)
{
  gsize last_start, size;
  g_autofree guint8 *original = journal_with_last_record(f, &last_start, &size);

  /* Every byte of the first record, header and payload, flipped in turn. */
  for (gsize at = 16; at < 16 + 12 + 8; at++) {
    g_autofree guint8 *bytes = g_memdup2(original, size);
    g_autoptr(GError) error = NULL;
    bytes[at] ^= 0x01;
    write_journal(f, bytes, size);

    g_autoptr(KvRepository) repository = kv_test_state_open(f, G_MAXSIZE, NULL, &error);
    g_assert_null(repository);
    g_assert_error(error, G_FILE_ERROR, G_FILE_ERROR_INVAL);
    if (strstr(error->message, f->journal) == NULL || strstr(error->message, "offset 16") == NULL)
      g_error("'%s' does not name the file and the offset", error->message);

    /* Refusing changed nothing on disk. */
    g_autofree char *now = NULL;
    gsize now_size;
    g_assert_true(g_file_get_contents(f->journal, &now, &now_size, NULL));
    g_assert_cmpmem(now, now_size, bytes, size);
  }
}

/* A batch is one record: torn, it is lost whole, never in part. */
static void test_torn_batch_is_lost_whole(KvTestState *f, gconstpointer data)
{
  gsize batch_start, size;
  g_autofree char *bytes = NULL;
  {
    g_autoptr(KvRepository) repository = kv_test_state_open_ok(f);
    KvChange batch[] = {{"x", g_variant_new_int32(1)},
                        {"y", g_variant_new_string("two")},
                        {"z", g_variant_new_boolean(TRUE)}};
    kv_test_set_committed(repository, "before", g_variant_new_int32(0));
    batch_start = kv_persistent_repository_journal_size(repository);
    g_assert_true(kv_repository_apply(repository, batch, G_N_ELEMENTS(batch), NULL));
    g_assert_true(kv_repository_commit(repository, NULL));
    g_assert_cmpuint(kv_repository_revision(repository), ==, 2);
  }
  g_assert_true(g_file_get_contents(f->journal, &bytes, &size, NULL));
  for (gsize cut = batch_start; cut < size; cut += 7) {
    write_journal(f, bytes, cut);
    g_autoptr(KvRepository) repository = kv_test_state_open_ok(f);
    g_assert_cmpuint(kv_repository_count(repository), ==, 1);
    g_assert_cmpuint(kv_repository_revision(repository), ==, 1);
  }
  write_journal(f, bytes, size);
  g_autoptr(KvRepository) whole = kv_test_state_open_ok(f);
  g_assert_cmpuint(kv_repository_count(whole), ==, 4);
  guint64 revision = 0;
  g_autoptr(GVariant) y = kv_repository_lookup(whole, "y", &revision);
  g_assert_cmpuint(revision, ==, 2);
}

static void test_unknown_version_is_refused(KvTestState *f, gconstpointer data)
{
  gsize last_start, size;
  g_autofree guint8 *bytes = journal_with_last_record(f, &last_start, &size);
  g_autoptr(GError) error = NULL;

  bytes[8] = 99;
  write_journal(f, bytes, size);
  g_autoptr(KvRepository) repository = kv_test_state_open(f, G_MAXSIZE, NULL, &error);
  g_assert_null(repository);
  g_assert_nonnull(strstr(error->message, "format version 99"));
}

/* A snapshot of format 1 (GVariant chunks, written by kvstored before 0.2) loads as it
 * was, and the next compaction writes format 2 (packed chunks) with the same entries:
 * an upgrade needs nothing done. The file is tests/unit/data/snapshot-format-1. */
static void test_format_1_snapshot_upgrades(KvTestState *f, gconstpointer data)
{
  g_autofree char *fixture =
      g_build_filename(g_getenv("KV_TEST_UNIT_DATA_DIR"), "snapshot-format-1", NULL);
  g_autofree char *contents = NULL;
  gsize size;
  g_autoptr(GError) error = NULL;
  static const char *const expected[] = {
      "'hello'",
      "-7",
      "uint64 18446744073709551615",
      "3.5",
      "true",
      "[1, 2, 3]",
      "{'a': <1>, 'b': <'x'>}",
      "(byte 0x01, 'two', ['three'])",
      "objectpath '/org/example'",
      "''",
  };

  g_assert_true(g_file_get_contents(fixture, &contents, &size, &error));
  g_assert_true(g_file_set_contents(f->snapshot, contents, (gssize)size, &error));
  g_autoptr(KvRepository) repository = kv_test_state_open_ok(f);
  g_assert_cmpuint(kv_repository_count(repository), ==, G_N_ELEMENTS(expected));
  for (int round = 0; round < 2; round++) {
    for (gsize i = 0; i < G_N_ELEMENTS(expected); i++) {
      g_autofree char *key = g_strdup_printf("fixture/%02zu", i);
      guint64 revision;
      g_autoptr(GVariant) value = kv_repository_lookup(repository, key, &revision);
      g_assert_nonnull(value);
      g_autofree char *printed = g_variant_print(value, TRUE);
      g_assert_cmpstr(printed, ==, expected[i]);
      g_assert_cmpuint(revision, ==, i + 1);
    }
    if (round == 1)
      break;
    g_assert_true(kv_persistent_repository_compact(repository, &error));
    g_clear_pointer(&repository, kv_repository_free);
    g_autofree char *rewritten = NULL;
    g_assert_true(g_file_get_contents(f->snapshot, &rewritten, &size, &error));
    g_assert_cmpint(rewritten[8], ==, 2);
    repository = kv_test_state_open_ok(f);
  }
}

static void test_damaged_snapshot_is_refused(KvTestState *f, gconstpointer data)
{
  g_autofree char *bytes = NULL;
  gsize size;
  {
    g_autoptr(KvRepository) repository = kv_test_state_open_ok(f);
    fill_with_every_type(repository);
    g_assert_true(kv_persistent_repository_compact(repository, NULL));
  }
  g_assert_true(g_file_get_contents(f->snapshot, &bytes, &size, NULL));
  for (gsize at = 16; at < size; at += size / 7) {
    g_autofree char *damaged = g_memdup2(bytes, size);
    g_autoptr(GError) error = NULL;
    damaged[at] ^= 0x10;
    g_file_set_contents(f->snapshot, damaged, (gssize)size, NULL);
    g_autoptr(KvRepository) repository = kv_test_state_open(f, G_MAXSIZE, NULL, &error);
    g_assert_null(repository);
    g_assert_error(error, G_FILE_ERROR, G_FILE_ERROR_INVAL);
  }
  /* A snapshot cut short is refused too, whatever the journal holds. */
  g_file_set_contents(f->snapshot, bytes, (gssize)(size - 1), NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(KvRepository) repository = kv_test_state_open(f, G_MAXSIZE, NULL, &error);
  g_assert_null(repository);
}

static gboolean accept_any(GVariant *payload, gpointer user_data, GError **error)
{
  return TRUE;
}

/* Compaction is: write snapshot.tmp, rename it into place, replace the journal with an
 * empty one. A crash after any step must load the same data. */
static void test_compaction_interrupted_at_each_step(KvTestState *f, gconstpointer data)
{
  g_autoptr(GVariant) expected = NULL;
  g_autofree char *snapshot_tmp = g_strconcat(f->snapshot, ".tmp", NULL);
  guint64 sequence = 0;
  {
    g_autoptr(KvRepository) repository = kv_test_state_open_ok(f);
    fill_with_every_type(repository);
    kv_test_set_committed(repository, "gone", g_variant_new_byte(1));
    g_assert_true(kv_repository_delete(repository, "gone", NULL, NULL));
    g_assert_true(kv_repository_commit(repository, NULL));
    sequence = G_N_ELEMENTS(kv_test_values) + 2;
    expected = kv_test_state_contents(repository);

    g_assert_true(kv_snapshot_write(f->snapshot, repository, sequence, NULL));
  }
  /* Crash after step 1: a snapshot.tmp lies around. */
  g_assert_true(g_file_test(snapshot_tmp, G_FILE_TEST_EXISTS));
  g_autoptr(GVariant) after_write = contents_after_reopening(f);
  g_assert_cmpvariant(after_write, expected);
  g_assert_false(g_file_test(snapshot_tmp, G_FILE_TEST_EXISTS));

  /* Crash after step 2: the snapshot is in place, the old journal still holds all. */
  {
    g_autoptr(KvRepository) repository = kv_test_state_open_ok(f);
    g_assert_true(kv_snapshot_write(f->snapshot, repository, sequence, NULL));
  }
  g_assert_true(kv_snapshot_install(f->snapshot, NULL));
  g_autoptr(GVariant) after_install = contents_after_reopening(f);
  g_assert_cmpvariant(after_install, expected);
  {
    /* Writes after such a crash follow the old records and survive. */
    g_autoptr(KvRepository) repository = kv_test_state_open_ok(f);
    kv_test_set_committed(repository, "later", g_variant_new_string("write"));
    g_clear_pointer(&expected, g_variant_unref);
    expected = kv_test_state_contents(repository);
  }
  g_autoptr(GVariant) after_later = contents_after_reopening(f);
  g_assert_cmpvariant(after_later, expected);

  /* Step 3: the journal replaced by an empty one. */
  {
    g_autoptr(KvRepository) repository = kv_test_state_open_ok(f);
    g_assert_true(kv_persistent_repository_compact(repository, NULL));
  }
  gsize dropped;
  g_autoptr(KvJournal) journal =
      kv_journal_open(f->journal, G_VARIANT_TYPE_ANY, accept_any, NULL, &dropped, NULL);
  g_assert_true(kv_journal_reset(journal, NULL));
  g_clear_pointer(&journal, kv_journal_free);
  g_autoptr(GVariant) after_reset = contents_after_reopening(f);
  g_assert_cmpvariant(after_reset, expected);
}

/* Lets the journal of @repository grow by @bytes at most, so that a commit of more fails
 * with EFBIG as on a full disk; the limit before goes to @old_limit. */
static void limit_journal_growth(KvRepository *repository, gsize bytes, struct rlimit *old_limit)
{
  struct rlimit limit;

  g_assert_cmpint(getrlimit(RLIMIT_FSIZE, old_limit), ==, 0);
  limit = *old_limit;
  limit.rlim_cur = kv_persistent_repository_journal_size(repository) + bytes;
  signal(SIGXFSZ, SIG_IGN);
  g_assert_cmpint(setrlimit(RLIMIT_FSIZE, &limit), ==, 0);
}

static void test_failed_commit_changes_nothing(KvTestState *f, gconstpointer data)
{
  g_autoptr(KvRepository) repository = kv_test_state_open_ok(f);
  g_autofree char *big = g_strnfill(64 * 1024, 'x');
  g_autoptr(GError) error = NULL;
  struct rlimit old_limit;

  kv_test_set_committed(repository, "kept", g_variant_new_string("before"));
  g_autoptr(GVariant) before = kv_test_state_contents(repository);

  /* The journal may not grow past its size now: the next commit fails with EFBIG. */
  limit_journal_growth(repository, 100, &old_limit);

  g_assert_true(kv_repository_set(repository, "kept", g_variant_new_string(big), NULL));
  g_assert_true(kv_repository_set(repository, "new", g_variant_new_string(big), NULL));
  g_assert_true(kv_repository_delete(repository, "kept", NULL, NULL));
  g_assert_false(kv_repository_commit(repository, &error));
  g_assert_error(error, KV_ERROR, KV_ERROR_STORAGE);
  g_clear_error(&error);
  /* A second failure in a row is counted, not logged again. */
  g_assert_true(kv_repository_set(repository, "new", g_variant_new_string(big), NULL));
  g_assert_false(kv_repository_commit(repository, &error));
  g_clear_error(&error);
  g_assert_cmpint(setrlimit(RLIMIT_FSIZE, &old_limit), ==, 0);
  g_assert_cmpuint(f->warnings->len, ==, 1);
  g_assert_nonnull(strstr(g_ptr_array_index(f->warnings, 0), "Cannot commit, the changes are "
                                                             "refused with StorageError: "));

  /* Memory is as before the failed group, and so is the file. */
  g_autoptr(GVariant) after_failure = kv_test_state_contents(repository);
  g_assert_cmpvariant(after_failure, before);
  kv_test_set_committed(repository, "works", g_variant_new_string("again"));
  g_assert_cmpuint(f->warnings->len, ==, 2);
  g_assert_cmpstr(g_ptr_array_index(f->warnings, 1), ==, "Commits succeed again, after 2 failed");
  assert_reopens_the_same(f, &repository);
}

/* The pid of this process's one child (a background compaction), or 0. */
static guint64 child_pid(void)
{
  g_autofree char *children_path = g_strdup_printf("/proc/self/task/%d/children", getpid());
  g_autofree char *children = NULL;

  g_assert_true(g_file_get_contents(children_path, &children, NULL, NULL));
  return g_ascii_strtoull(children, NULL, 10);
}

/* Commits records of 1000 bytes to "k" until a compaction runs in the background: which
 * commit starts it, and whether the one after reaps it first, depends on how fast the
 * child is. */
static void commit_until_compaction_runs(KvRepository *repository, const char *text)
{
  for (int i = 0; i < 100 && child_pid() == 0; i++)
    kv_test_set_committed(repository, "k", g_variant_new_string(text));
  g_assert_cmpuint(child_pid(), !=, 0);
}

/* Waits until the one child of this process (a background compaction) has exited, without
 * reaping it: the repository does that. */
static void wait_for_child_exit(void)
{
  for (int i = 0; i < 1000; i++) {
    g_autofree char *stat_path = g_strdup_printf("/proc/%" G_GUINT64_FORMAT "/stat", child_pid());
    g_autofree char *stat = NULL;
    if (g_file_get_contents(stat_path, &stat, NULL, NULL) && strstr(stat, ") Z ") != NULL)
      return;
    g_usleep(10 * 1000);
  }
  g_error("the compaction child did not finish in 10 s");
}

/* Commits "k" = "after" under the file size limit in force (@old_limit restored after):
 * it must fit, the journal must have shrunk below @full, and the value must be there
 * after a restart. Frees *@repository. */
static void assert_commit_fits(KvTestState *f, KvRepository **repository, gsize full,
                               const struct rlimit *old_limit)
{
  g_autoptr(GError) error = NULL;

  g_assert_true(kv_repository_set(*repository, "k", g_variant_new_string("after"), NULL));
  gboolean committed = kv_repository_commit(*repository, &error);
  g_assert_cmpint(setrlimit(RLIMIT_FSIZE, old_limit), ==, 0);
  g_assert_no_error(error);
  g_assert_true(committed);
  g_assert_cmpuint(kv_persistent_repository_journal_size(*repository), <, full);

  g_clear_pointer(repository, kv_repository_free);
  g_autoptr(KvRepository) reopened = kv_test_state_open_ok(f);
  g_autoptr(GVariant) value = kv_repository_get(reopened, "k");
  kv_assert_variant_eq(value, g_variant_new_string("after"));
}

/* On a full disk a finished compaction is installed before the commit writes, so the
 * room it frees makes the commit succeed. */
static void test_compaction_frees_room_on_a_full_disk(KvTestState *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(KvRepository) repository = kv_test_state_open(f, 4096, NULL, &error);
  g_autofree char *text = g_strnfill(1000, 'x');
  struct rlimit old_limit;

  g_assert_no_error(error);
  /* Records of one key pass 4 KiB: a commit starts a compaction. */
  commit_until_compaction_runs(repository, text);
  wait_for_child_exit();
  gsize full = kv_persistent_repository_journal_size(repository);
  g_assert_cmpuint(full, >, 4096);

  /* The journal cannot grow past its size now. */
  limit_journal_growth(repository, 0, &old_limit);
  assert_commit_fits(f, &repository, full, &old_limit);
}

/* A compaction that failed is tried again a while later at the next commit, even one
 * that fails, not only once the journal has doubled: on a full disk, where the journal
 * cannot double, it is what brings writes back. */
static void test_failed_compaction_retried(KvTestState *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(KvRepository) repository = kv_test_state_open(f, 4096, NULL, &error);
  g_autofree char *text = g_strnfill(1000, 'x');
  g_autofree char *obstacle = g_strconcat(f->snapshot, ".tmp", NULL);
  struct rlimit old_limit;

  g_assert_no_error(error);
  /* The snapshot writer cannot create its file: the compaction a commit starts fails,
   * and the next learns it. */
  g_assert_cmpint(g_mkdir(obstacle, 0700), ==, 0);
  commit_until_compaction_runs(repository, text);
  wait_for_child_exit();
  kv_test_set_committed(repository, "k", g_variant_new_string(text));
  g_assert_nonnull(strstr(g_ptr_array_index(f->warnings, f->warnings->len - 1),
                          "Compaction failed, the journal keeps growing"));
  g_assert_cmpint(g_rmdir(obstacle), ==, 0);

  /* The disk is full now: a commit fails, and a second after the failure it starts the
   * compaction again; once that is done, the next commit has room. */
  gsize full = kv_persistent_repository_journal_size(repository);
  limit_journal_growth(repository, 0, &old_limit);
  g_usleep(1100 * 1000);
  g_assert_true(kv_repository_set(repository, "k", g_variant_new_string("after"), NULL));
  g_assert_false(kv_repository_commit(repository, &error));
  g_clear_error(&error);
  wait_for_child_exit();
  assert_commit_fits(f, &repository, full, &old_limit);
}

typedef struct {
  guint calls;
  guint64 committed;
  GError *error;
} CommitEnd;

static void on_commit_end(guint64 committed, const GError *error, gpointer user_data)
{
  CommitEnd *end = user_data;

  end->calls++;
  end->committed = committed;
  g_clear_error(&end->error);
  end->error = error != NULL ? g_error_copy(error) : NULL;
}

/* Runs @event until @end was told. */
static void run_until_told(sd_event *event, CommitEnd *end)
{
  for (int i = 0; end->calls == 0 && i < 1000; i++)
    g_assert_cmpint(sd_event_run(event, 10 * 1000), >=, 0);
  g_assert_cmpuint(end->calls, ==, 1);
}

/* A commit whose sync runs on the thread: the changes made meanwhile stay readable and
 * are the next commit's; both end durable. */
static void test_sync_off_loop(KvTestState *f, gconstpointer data)
{
  g_autoptr(sd_event) event = NULL;
  g_autoptr(GError) error = NULL;
  CommitEnd first = {0}, second = {0};
  g_assert_cmpint(sd_event_new(&event), >=, 0);
  g_autoptr(KvRepository) repository = kv_test_state_open_ok(f);
  g_assert_true(kv_persistent_repository_sync_off_loop(repository, event, &error));
  g_assert_no_error(error);

  g_assert_true(kv_repository_set(repository, "a", g_variant_new_int32(1), NULL));
  guint64 revision_a = kv_repository_revision(repository);
  kv_repository_commit_start(repository, on_commit_end, &first);
  /* Told from the event loop only, never from the start. */
  g_assert_cmpuint(first.calls, ==, 0);
  g_assert_true(kv_repository_set(repository, "b", g_variant_new_int32(2), NULL));
  run_until_told(event, &first);
  g_assert_no_error(first.error);
  g_assert_cmpuint(first.committed, ==, revision_a);
  g_autoptr(GVariant) b = kv_repository_get(repository, "b");
  kv_assert_variant_eq(b, g_variant_new_int32(2));

  kv_repository_commit_start(repository, on_commit_end, &second);
  run_until_told(event, &second);
  g_assert_no_error(second.error);
  g_assert_cmpuint(second.committed, ==, revision_a + 1);
  assert_reopens_the_same(f, &repository);
}

/* Writes never stop coming while the disk syncs: a compaction still starts once the
 * journal has grown, and its snapshot holds only what was committed, not the change made
 * during the sync (lost here, never committed). */
static void test_compaction_during_syncs(KvTestState *f, gconstpointer data)
{
  g_autoptr(sd_event) event = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *text = g_strnfill(2000, 'x');
  CommitEnd end = {0};
  g_assert_cmpint(sd_event_new(&event), >=, 0);
  g_autoptr(KvRepository) repository = kv_test_state_open(f, 1024, NULL, &error);
  g_assert_no_error(error);
  g_assert_true(kv_persistent_repository_sync_off_loop(repository, event, NULL));

  g_assert_true(kv_repository_set(repository, "committed", g_variant_new_string(text), NULL));
  kv_repository_commit_start(repository, on_commit_end, &end);
  g_assert_true(kv_repository_set(repository, "during", g_variant_new_string("sync"), NULL));
  run_until_told(event, &end);
  g_assert_no_error(end.error);
  kv_persistent_repository_wait_compaction(repository);
  g_assert_true(g_file_test(f->snapshot, G_FILE_TEST_EXISTS));
  g_clear_pointer(&repository, kv_repository_free);

  g_autoptr(KvRepository) reopened = kv_test_state_open_ok(f);
  g_assert_true(kv_repository_exists(reopened, "committed"));
  g_assert_false(kv_repository_exists(reopened, "during"));
}

/* A commit that fails before its sync: told at once, with everything since the last
 * commit undone. */
static void test_sync_off_loop_write_fails(KvTestState *f, gconstpointer data)
{
  g_autoptr(sd_event) event = NULL;
  g_autofree char *big = g_strnfill(64 * 1024, 'x');
  CommitEnd end = {0};
  struct rlimit old_limit;
  g_assert_cmpint(sd_event_new(&event), >=, 0);
  g_autoptr(KvRepository) repository = kv_test_state_open_ok(f);
  g_assert_true(kv_persistent_repository_sync_off_loop(repository, event, NULL));
  kv_test_set_committed(repository, "kept", g_variant_new_string("before"));
  g_autoptr(GVariant) before = kv_test_state_contents(repository);

  limit_journal_growth(repository, 100, &old_limit);
  g_assert_true(kv_repository_set(repository, "kept", g_variant_new_string(big), NULL));
  kv_repository_commit_start(repository, on_commit_end, &end);
  g_assert_cmpint(setrlimit(RLIMIT_FSIZE, &old_limit), ==, 0);
  g_assert_cmpuint(end.calls, ==, 1);
  g_assert_error(end.error, KV_ERROR, KV_ERROR_STORAGE);
  g_clear_error(&end.error);
  g_autoptr(GVariant) after = kv_test_state_contents(repository);
  g_assert_cmpvariant(after, before);
}

/* The persistent repository lends its memory's bytes, as the memory repository does. */
static void test_peek_lends_stored_bytes(KvTestState *f, gconstpointer data)
{
  g_autoptr(KvRepository) repository = kv_test_state_open_ok(f);

  kv_test_set_committed(repository, "k", g_variant_new_string("stored"));
  g_autoptr(GVariant) lent = kv_repository_peek(repository, "k");
  g_autoptr(GVariant) again = kv_repository_peek(repository, "k");
  kv_assert_variant_eq(lent, g_variant_new_string("stored"));
  g_assert_true(g_variant_get_data(lent) == g_variant_get_data(again));
  g_assert_null(kv_repository_peek(repository, "absent"));
}

int main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
#define ADD(path, func)                                                                            \
  g_test_add("/persistence/" path, KvTestState, NULL, kv_test_state_setup, func,                   \
             kv_test_state_teardown)
  ADD("journal-round-trip", test_journal_round_trip);
  ADD("snapshot-round-trip", test_snapshot_round_trip);
  ADD("compaction-when-journal-grows", test_compaction_when_journal_grows);
  ADD("writes-during-background-compaction", test_writes_during_background_compaction);
  ADD("compaction-frees-room-on-a-full-disk", test_compaction_frees_room_on_a_full_disk);
  ADD("files-are-private", test_files_are_private);
  ADD("torn-tail-at-every-offset", test_torn_tail_at_every_offset);
  ADD("garbled-last-record-is-cut", test_garbled_last_record_is_cut);
  ADD("zeroed-tail-is-cut", test_zeroed_tail_is_cut);
  ADD("garbage-tail-of-any-length-is-cut", test_garbage_tail_of_any_length_is_cut);
  ADD("damage-before-the-tail-is-refused", test_damage_before_the_tail_is_refused);
  ADD("torn-batch-is-lost-whole", test_torn_batch_is_lost_whole);
  ADD("unknown-version-is-refused", test_unknown_version_is_refused);
  ADD("damaged-snapshot-is-refused", test_damaged_snapshot_is_refused);
  ADD("format-1-snapshot-upgrades", test_format_1_snapshot_upgrades);
  ADD("compaction-interrupted-at-each-step", test_compaction_interrupted_at_each_step);
  ADD("failed-commit-changes-nothing", test_failed_commit_changes_nothing);
  ADD("failed-compaction-retried", test_failed_compaction_retried);
  ADD("sync-off-loop", test_sync_off_loop);
  ADD("sync-off-loop-write-fails", test_sync_off_loop_write_fails);
  ADD("compaction-during-syncs", test_compaction_during_syncs);
  ADD("peek-lends-stored-bytes", test_peek_lends_stored_bytes);
#undef ADD
  return g_test_run();
}
