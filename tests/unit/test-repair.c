/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* kvstored --check and --repair on damaged state directories: every intact record kept,
 * what is lost said, the damaged file kept beside. */

#include "kv-memory-repository.h"
#include "kv-record.h"
#include "kv-repair.h"
#include "kv-service.h"
#include "kv-test-assert.h"
#include "kv-test-state-dir.h"

#include <string.h>

static void assert_contains(const char *text, const char *part)
{
  if (strstr(text, part) == NULL)
    g_error("'%s' does not contain '%s'", text, part);
}

static void flip_byte(const char *path, gsize offset)
{
  g_autofree char *data = NULL;
  gsize size;

  g_assert_true(g_file_get_contents(path, &data, &size, NULL));
  g_assert_cmpuint(offset, <, size);
  data[offset] ^= 0x20;
  g_assert_true(g_file_set_contents(path, data, (gssize)size, NULL));
}

static gsize file_size(const char *path)
{
  g_autofree char *data = NULL;
  gsize size;

  g_assert_true(g_file_get_contents(path, &data, &size, NULL));
  return size;
}

static GByteArray *read_bytes(const char *path)
{
  g_autofree char *data = NULL;
  gsize size;

  g_assert_true(g_file_get_contents(path, &data, &size, NULL));
  GByteArray *bytes = g_byte_array_new();
  g_byte_array_append(bytes, (const guint8 *)data, (guint)size);
  return bytes;
}

static char *check(KvTestState *f, gboolean *healthy)
{
  g_autoptr(GString) report = g_string_new(NULL);
  g_autoptr(GError) error = NULL;

  gboolean looked = kv_repair_check(f->dir, report, healthy, &error);
  g_assert_no_error(error);
  g_assert_true(looked);
  g_test_message("%s", report->str);
  return g_string_free(g_steal_pointer(&report), FALSE);
}

static char *repair(KvTestState *f)
{
  g_autoptr(GString) report = g_string_new(NULL);
  g_autoptr(GError) error = NULL;

  g_assert_true(kv_repair(f->dir, report, &error));
  g_assert_no_error(error);
  g_test_message("%s", report->str);
  return g_string_free(g_steal_pointer(&report), FALSE);
}

/* How many files of @f->dir start with @prefix. */
static guint count_files(KvTestState *f, const char *prefix)
{
  g_autoptr(GDir) dir = g_dir_open(f->dir, 0, NULL);
  const char *name;
  guint n = 0;

  while ((name = g_dir_read_name(dir)) != NULL)
    n += g_str_has_prefix(name, prefix);
  return n;
}

/* The start refuses the journal, naming the damage at @offset, and --check says it is
 * there, with @after whole records after it; the report. */
static char *assert_journal_damaged_at(KvTestState *f, gsize offset, guint after)
{
  g_autoptr(GError) error = NULL;
  gboolean healthy = TRUE;

  g_autoptr(KvRepository) refused = kv_test_state_open(f, G_MAXSIZE, NULL, &error);
  g_assert_null(refused);
  g_autofree char *offset_text = g_strdup_printf("offset %zu", offset);
  assert_contains(error->message, offset_text);

  g_autofree char *report = check(f, &healthy);
  g_assert_false(healthy);
  g_autofree char *damaged_text = g_strdup_printf("DAMAGED at offset %zu", offset);
  assert_contains(report, damaged_text);
  g_autofree char *after_text = g_strdup_printf(", with %u whole records after the damage", after);
  assert_contains(report, after_text);
  return g_steal_pointer(&report);
}

/* Writes k0..k9, one record each, and returns where each record starts. */
static GArray *ten_records(KvTestState *f)
{
  g_autoptr(KvRepository) repository = kv_test_state_open_ok(f);
  GArray *offsets = g_array_new(FALSE, FALSE, sizeof(gsize));

  for (guint i = 0; i < 10; i++) {
    gsize at = kv_persistent_repository_journal_size(repository);
    g_autofree char *key = g_strdup_printf("k%u", i);
    g_array_append_val(offsets, at);
    kv_test_set_committed(repository, key, g_variant_new_uint32(i));
  }
  return offsets;
}

static void test_healthy(KvTestState *f, gconstpointer data)
{
  g_autoptr(GArray) offsets = ten_records(f);
  gboolean healthy = FALSE;
  g_autofree char *report = check(f, &healthy);

  g_assert_true(healthy);
  assert_contains(report, "journal: 10 whole records (revisions 1-10)");
  g_autofree char *repaired = repair(f);
  assert_contains(repaired, "nothing to repair");
  g_assert_cmpuint(count_files(f, "journal.damaged-"), ==, 0);
}

/* The history file is told of, and one kvstored would not use is kept aside by a repair;
 * neither makes the directory damaged. */
static void test_history_file(KvTestState *f, gconstpointer data)
{
  g_autofree char *history_path = g_build_filename(f->dir, "history", NULL);
  gboolean healthy = FALSE;

  /* Compactions write it: a history of the last 5 changes beside each snapshot. */
  f->history = kv_history_new(5, 1 << 20);
  {
    g_autoptr(GError) error = NULL;
    g_autoptr(KvRepository) repository = kv_test_state_open(f, 64, NULL, &error);
    g_assert_no_error(error);
    g_autoptr(KvService) service = kv_service_new(repository, 1 << 20);
    kv_service_set_history(service, f->history);
    for (guint i = 0; i < 40; i++) {
      g_autofree char *key = g_strdup_printf("k%u", i % 4);
      g_assert_true(kv_service_set(service, key, g_variant_new_uint32(i), &error));
      g_assert_true(kv_service_commit(service, &error));
    }
    /* The background compactions' timing is the machine's: one more, now. */
    kv_persistent_repository_wait_compaction(repository);
    g_assert_true(kv_persistent_repository_compact(repository, &error));
  }
  g_autofree char *report = check(f, &healthy);
  g_assert_true(healthy);
  assert_contains(report, "history: 5 changes, every change after revision ");

  flip_byte(history_path, file_size(history_path) / 2);
  g_autofree char *damaged = check(f, &healthy);
  g_assert_true(healthy);
  assert_contains(damaged, "history: not used (");
  g_autofree char *repaired = repair(f);
  assert_contains(repaired, "history: not usable (");
  g_assert_false(g_file_test(history_path, G_FILE_TEST_EXISTS));
  g_assert_cmpuint(count_files(f, "history.damaged-"), ==, 1);
  g_autofree char *after = check(f, &healthy);
  assert_contains(after, "history: none");
}

/* The README used to say: move the journal away, losing every record in it. */
static void test_journal_damaged_mid_file(KvTestState *f, gconstpointer data)
{
  g_autoptr(GArray) offsets = ten_records(f);
  gsize damage = g_array_index(offsets, gsize, 4);
  gboolean healthy = FALSE;

  flip_byte(f->journal, damage + 12 + 2);
  g_autofree char *report = assert_journal_damaged_at(f, damage, 5);
  /* The same count as --repair keeps, said to stop at the damage. */
  assert_contains(report, "journal: 4 whole records (revisions 1-4) before the damage,");

  g_autofree char *repaired = repair(f);
  assert_contains(repaired, "journal: kept 4 whole records (revisions 1-4)");
  assert_contains(repaired, "the 5 whole records after it");
  g_assert_cmpuint(count_files(f, "journal.damaged-"), ==, 1);
  g_autofree char *rechecked = check(f, &healthy);
  g_assert_true(healthy);

  g_autoptr(KvRepository) repository = kv_test_state_open_ok(f);
  g_assert_cmpuint(kv_repository_count(repository), ==, 4);
  g_assert_true(kv_repository_exists(repository, "k3"));
  g_assert_false(kv_repository_exists(repository, "k4"));
  g_assert_cmpuint(kv_repository_revision(repository), ==, 4);
  kv_test_set_committed(repository, "k4", g_variant_new_uint32(4));
  g_assert_cmpuint(kv_repository_revision(repository), ==, 5);
}

/* The last record of the journal written whole (both checksums right) but with a payload no
 * kvstored reads: not a torn append, which the start would cut, but damage, which the start
 * refuses. --check and --repair must say the same, or a repair that found "nothing to
 * repair" leaves a directory that does not load (found by fuzz-state-dir). */
static void test_journal_last_record_unreadable(KvTestState *f, gconstpointer data)
{
  g_autoptr(GArray) offsets = ten_records(f);
  gsize last = g_array_index(offsets, gsize, 9);
  g_autoptr(GByteArray) journal = read_bytes(f->journal);
  gboolean healthy = FALSE;

  /* The payload again, its array's framing offset pointing past its end. */
  g_autoptr(GByteArray) payload = g_byte_array_new();
  g_byte_array_append(payload, journal->data + last + 12, journal->len - last - 12);
  payload->data[payload->len - 1] = 0xff;
  g_byte_array_set_size(journal, (guint)last);
  guint start = kv_record_begin(journal);
  g_byte_array_append(journal, payload->data, payload->len);
  kv_record_end(journal, start);
  g_assert_true(g_file_set_contents(f->journal, (const char *)journal->data, journal->len, NULL));

  g_autofree char *report = assert_journal_damaged_at(f, last, 0);

  g_autofree char *repaired = repair(f);
  assert_contains(repaired, "journal: kept 9 whole records (revisions 1-9)");
  g_autofree char *rechecked = check(f, &healthy);
  g_assert_true(healthy);
  g_autoptr(KvRepository) repository = kv_test_state_open_ok(f);
  g_assert_cmpuint(kv_repository_revision(repository), ==, 9);
  g_assert_false(kv_repository_exists(repository, "k9"));
}

static void set_many_keys(KvRepository *repository, guint n)
{
  g_autofree KvChange *changes = g_new(KvChange, n);
  g_autoptr(GPtrArray) keys = g_ptr_array_new_with_free_func(g_free);

  for (guint i = 0; i < n; i++) {
    g_ptr_array_add(keys, g_strdup_printf("key%05u", i));
    changes[i] = (KvChange){g_ptr_array_index(keys, i), g_variant_new_uint32(i)};
  }
  g_assert_true(kv_repository_apply(repository, changes, n, NULL));
  g_assert_true(kv_repository_commit(repository, NULL));
}

/* 5000 keys in a snapshot of chunks of 256 entries (the last holds 136, from key04864) at
 * revision 1, then three journal records: key00010 (first chunk) and key04900 (last)
 * written again, j1 new. */
static void snapshot_and_journal(KvTestState *f)
{
  g_autoptr(KvRepository) repository = kv_test_state_open_ok(f);

  set_many_keys(repository, 5000);
  g_assert_true(kv_persistent_repository_compact(repository, NULL));
  kv_test_set_committed(repository, "key00010", g_variant_new_string("again"));
  kv_test_set_committed(repository, "key04900", g_variant_new_string("again"));
  kv_test_set_committed(repository, "j1", g_variant_new_string("new"));
}

static void test_snapshot_chunk_damaged(KvTestState *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  gboolean healthy = TRUE;

  snapshot_and_journal(f);
  /* Inside the last chunk, just before the trailer (a 12-byte header, 16 bytes). */
  flip_byte(f->snapshot, file_size(f->snapshot) - 28 - 20);
  g_autoptr(KvRepository) refused = kv_test_state_open(f, G_MAXSIZE, NULL, &error);
  g_assert_null(refused);

  g_autofree char *report = check(f, &healthy);
  g_assert_false(healthy);
  assert_contains(report, "snapshot: 5000 keys at revision 1; DAMAGED");
  assert_contains(report, "4864 keys in whole records");

  g_autofree char *repaired = repair(f);
  assert_contains(repaired, "snapshot: rebuilt at revision 4 from the 4864 keys");
  assert_contains(repaired, "136 of its keys were in damaged records");
  g_assert_cmpuint(count_files(f, "snapshot.damaged-"), ==, 1);

  g_autoptr(KvRepository) repository = kv_test_state_open_ok(f);
  g_assert_cmpuint(kv_repository_count(repository), ==, 4864 + 2);
  g_assert_cmpuint(kv_repository_revision(repository), ==, 4);
  g_autoptr(GVariant) first = kv_repository_get(repository, "key00000");
  kv_assert_variant_eq(first, g_variant_new_uint32(0));
  g_autoptr(GVariant) rewritten = kv_repository_get(repository, "key04900");
  kv_assert_variant_eq(rewritten, g_variant_new_string("again"));
  g_assert_false(kv_repository_exists(repository, "key04901"));
  g_assert_true(kv_repository_exists(repository, "key04863"));
  g_assert_true(kv_repository_exists(repository, "j1"));
}

/* The head lost, the trailer tells the revision: nothing is lost. */
static void test_snapshot_head_damaged(KvTestState *f, gconstpointer data)
{
  snapshot_and_journal(f);
  flip_byte(f->snapshot, 16 + 12 + 3);

  g_autofree char *repaired = repair(f);
  assert_contains(repaired, "snapshot: rebuilt at revision 4 from the 5000 keys");
  assert_contains(repaired, "0 of its keys were in damaged records");
  g_autoptr(KvRepository) repository = kv_test_state_open_ok(f);
  g_assert_cmpuint(kv_repository_count(repository), ==, 5001);
  g_autoptr(GVariant) rewritten = kv_repository_get(repository, "key00010");
  kv_assert_variant_eq(rewritten, g_variant_new_string("again"));
}

static void test_other_version_left_alone(KvTestState *f, gconstpointer data)
{
  g_autoptr(GArray) offsets = ten_records(f);
  g_autoptr(GString) report = g_string_new(NULL);
  g_autoptr(GError) error = NULL;

  flip_byte(f->journal, 8); /* the format version */
  g_autofree char *before = NULL;
  g_assert_true(g_file_get_contents(f->journal, &before, NULL, NULL));
  g_assert_false(kv_repair(f->dir, report, &error));
  g_assert_error(error, G_FILE_ERROR, G_FILE_ERROR_NOSYS);
  g_autofree char *after = NULL;
  g_assert_true(g_file_get_contents(f->journal, &after, NULL, NULL));
  g_assert_cmpstr(after, ==, before);
  g_assert_cmpuint(count_files(f, "journal.damaged-"), ==, 0);
}

static void test_refused_while_in_use(KvTestState *f, gconstpointer data)
{
  g_autoptr(KvRepository) running = kv_test_state_open_ok(f);
  g_autoptr(GString) report = g_string_new(NULL);
  g_autoptr(GError) error = NULL;
  gboolean healthy;

  g_assert_false(kv_repair(f->dir, report, &error));
  assert_contains(error->message, "in use by another kvstored");
  g_clear_error(&error);
  g_assert_false(kv_repair_check(f->dir, report, &healthy, &error));
  g_assert_nonnull(error);
}

/* About 30 revisions over 12 keys, sets and deletes, about half of them folded into a
 * snapshot; the contents at each revision r in @states[r]. */
static void build_history(KvTestState *f, GPtrArray *states)
{
  g_autoptr(KvRepository) repository = kv_test_state_open_ok(f);

  g_ptr_array_add(states, kv_test_state_contents(repository));
  for (guint step = 1; step <= 30; step++) {
    g_autofree char *key = g_strdup_printf("key%02u", (step * 7) % 12);
    if (step % 5 == 0)
      g_assert_true(kv_repository_delete(repository, key, NULL, NULL) &&
                    kv_repository_commit(repository, NULL));
    else
      kv_test_set_committed(repository, key, g_variant_new("(us)", step, "value"));
    /* Deleting a missing key is no change, and no revision. */
    if (kv_repository_revision(repository) == states->len)
      g_ptr_array_add(states, kv_test_state_contents(repository));
    if (step == 15)
      g_assert_true(kv_persistent_repository_compact(repository, NULL));
  }
}

/* One random damage of @data: a flipped byte, a cut, appended garbage or a zeroed run. */
static void damage(GRand *rand, GByteArray *data)
{
  guint at = g_rand_int_range(rand, 0, (gint32)data->len);
  guint length = g_rand_int_range(rand, 1, 64);

  switch (g_rand_int_range(rand, 0, 4)) {
  case 0:
    data->data[at] ^= (guint8)g_rand_int_range(rand, 1, 256);
    break;
  case 1:
    g_byte_array_set_size(data, at);
    break;
  case 2:
    for (guint i = 0; i < length; i++) {
      guint8 byte = (guint8)g_rand_int_range(rand, 0, 256);
      g_byte_array_append(data, &byte, 1);
    }
    break;
  default:
    memset(data->data + at, 0, MIN(length, data->len - at));
    break;
  }
}

/* Random damage to either file, 400 times: kvstored either loads a state the store really
 * had (losing at most what a torn tail held) or refuses; after a refusal, --check says
 * damaged and --repair makes the directory load again. */
static void test_random_damage(KvTestState *f, gconstpointer data)
{
  g_autoptr(GPtrArray) states = g_ptr_array_new_with_free_func((GDestroyNotify)g_variant_unref);
  g_autoptr(GRand) rand = g_rand_new_with_seed(20261126);
  guint loaded = 0, repaired = 0;

  build_history(f, states);
  g_autoptr(GByteArray) journal = read_bytes(f->journal);
  g_autoptr(GByteArray) snapshot = read_bytes(f->snapshot);
  g_autoptr(GVariant) latest = g_variant_ref(g_ptr_array_index(states, states->len - 1));

  for (guint round = 0; round < 400; round++) {
    g_autoptr(GByteArray) damaged = g_byte_array_new();
    gboolean in_journal = g_rand_boolean(rand);
    GByteArray *original = in_journal ? journal : snapshot;
    g_byte_array_append(damaged, original->data, original->len);
    damage(rand, damaged);
    g_assert_true(g_file_set_contents(in_journal ? f->journal : f->snapshot,
                                      (const char *)damaged->data, damaged->len, NULL));
    g_assert_true(g_file_set_contents(in_journal ? f->snapshot : f->journal,
                                      (const char *)(in_journal ? snapshot : journal)->data,
                                      (in_journal ? snapshot : journal)->len, NULL));

    g_autoptr(GError) error = NULL;
    g_autoptr(KvRepository) repository = kv_test_state_open(f, G_MAXSIZE, NULL, &error);
    if (repository != NULL) {
      /* Never a state the store did not have. */
      guint64 revision = kv_repository_revision(repository);
      g_assert_cmpuint(revision, <, states->len);
      g_autoptr(GVariant) now = kv_test_state_contents(repository);
      kv_assert_variant_eq(now, g_ptr_array_index(states, revision));
      loaded++;
      continue;
    }
    g_clear_error(&error);
    gboolean healthy = TRUE;
    g_autofree char *report = check(f, &healthy);
    g_autoptr(GString) repair_report = g_string_new(NULL);
    if (!kv_repair(f->dir, repair_report, &error)) {
      /* Only a file of another version is left as it is. */
      g_assert_error(error, G_FILE_ERROR, G_FILE_ERROR_NOSYS);
      continue;
    }
    g_assert_false(healthy);
    g_autoptr(KvRepository) mended = kv_test_state_open_ok(f);
    repaired++;
  }
  g_test_message("%u loaded as they were, %u repaired", loaded, repaired);
  g_assert_cmpuint(loaded, >, 0);
  g_assert_cmpuint(repaired, >, 0);
}

int main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
#define ADD(path, func)                                                                            \
  g_test_add("/repair/" path, KvTestState, NULL, kv_test_state_setup, func, kv_test_state_teardown)
  ADD("healthy", test_healthy);
  ADD("journal-damaged-mid-file", test_journal_damaged_mid_file);
  ADD("journal-last-record-unreadable", test_journal_last_record_unreadable);
  ADD("snapshot-chunk-damaged", test_snapshot_chunk_damaged);
  ADD("snapshot-head-damaged", test_snapshot_head_damaged);
  ADD("other-version-left-alone", test_other_version_left_alone);
  ADD("refused-while-in-use", test_refused_while_in_use);
  ADD("random-damage", test_random_damage);
  ADD("history-file", test_history_file);
#undef ADD
  return g_test_run();
}
