/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The history of changes: served once committed, taken back on rollback, bounded by
 * whole revisions, resumed exactly from a revision and a key. */

#include "kv-error.h"
#include "kv-history.h"

/* The changes served after (@since, @after) under @prefix, as "revision:key=value" lines
 * ("revision:key-" for a deletion). */
static gboolean describe_change(const char *key, GVariant *value, guint64 revision,
                                gpointer user_data)
{
  GString *out = user_data;

  if (value == NULL)
    g_string_append_printf(out, "%" G_GUINT64_FORMAT ":%s- ", revision, key);
  else
    g_string_append_printf(out, "%" G_GUINT64_FORMAT ":%s=%d ", revision, key,
                           g_variant_get_int32(value));
  return TRUE;
}

static char *served(KvHistory *history, const char *prefix, guint64 since, const char *after)
{
  GString *out = g_string_new(NULL);

  kv_history_foreach(history, prefix, since, after, describe_change, out);
  if (out->len > 0)
    g_string_truncate(out, out->len - 1);
  return g_string_free(out, FALSE);
}

static void assert_served(KvHistory *history, const char *prefix, guint64 since, const char *after,
                          const char *expected)
{
  g_autofree char *text = served(history, prefix, since, after);
  g_assert_cmpstr(text, ==, expected);
}

static void add(KvHistory *history, const char *key, int value, guint64 revision)
{
  kv_history_append(history, key, value < 0 ? NULL : g_variant_new_int32(value), revision);
}

static void test_committed_only(void)
{
  g_autoptr(KvHistory) history = kv_history_new(100, 1 << 20);

  kv_history_start_at(history, 4);
  add(history, "a", 1, 5);
  add(history, "b", 2, 6);
  assert_served(history, "", 4, NULL, "");
  kv_history_commit(history, 5);
  assert_served(history, "", 4, NULL, "5:a=1");
  add(history, "a", -1, 7);
  kv_history_roll_back(history);
  kv_history_commit(history, 6);
  assert_served(history, "", 4, NULL, "5:a=1");
  g_assert_cmpuint(kv_history_n_changes(history), ==, 1);
  add(history, "b", 3, 6);
  add(history, "a", -1, 7);
  kv_history_commit(history, 7);
  assert_served(history, "", 4, NULL, "5:a=1 6:b=3 7:a-");
  assert_served(history, "", 5, NULL, "6:b=3 7:a-");
  assert_served(history, "", 7, NULL, "");
  assert_served(history, "b", 0, NULL, "6:b=3");
}

static void test_resume_inside_a_revision(void)
{
  g_autoptr(KvHistory) history = kv_history_new(100, 1 << 20);

  /* A batch in key order, and one whose changes came in another order (an etcd event):
   * both served in key order. */
  add(history, "a", 1, 1);
  add(history, "b", 2, 1);
  add(history, "c", 3, 1);
  add(history, "z", 4, 2);
  add(history, "m", 5, 2);
  add(history, "n", 6, 2);
  kv_history_commit(history, 2);
  assert_served(history, "", 0, NULL, "1:a=1 1:b=2 1:c=3 2:m=5 2:n=6 2:z=4");
  assert_served(history, "", 1, "a", "1:b=2 1:c=3 2:m=5 2:n=6 2:z=4");
  assert_served(history, "", 1, "c", "2:m=5 2:n=6 2:z=4");
  assert_served(history, "", 2, "m", "2:n=6 2:z=4");
  assert_served(history, "", 1, "", "2:m=5 2:n=6 2:z=4");
}

static void assert_refused(KvHistory *history, guint64 since, const char *after, int code)
{
  g_autoptr(GError) error = NULL;

  g_assert_false(kv_history_check(history, since, after, &error));
  g_assert_error(error, KV_ERROR, code);
  g_test_message("%s", error->message);
}

static void test_bounded_by_whole_revisions(void)
{
  g_autoptr(KvHistory) history = kv_history_new(4, 1 << 20);

  add(history, "a", 1, 1);
  add(history, "b", 1, 1);
  add(history, "c", 1, 1);
  add(history, "a", 2, 2);
  add(history, "b", 2, 2);
  kv_history_commit(history, 2);
  /* Five changes, four kept at most: revision 1 goes whole, not one key of it. */
  assert_served(history, "", 1, NULL, "2:a=2 2:b=2");
  g_assert_cmpuint(kv_history_oldest(history), ==, 1);
  g_assert_true(kv_history_check(history, 1, NULL, NULL));
  g_assert_true(kv_history_check(history, 2, NULL, NULL));
  g_assert_true(kv_history_check(history, 2, "a", NULL));
  assert_refused(history, 0, NULL, KV_ERROR_COMPACTED);
  /* Inside revision 1, whose changes are gone. */
  assert_refused(history, 1, "a", KV_ERROR_COMPACTED);
  assert_refused(history, 3, NULL, KV_ERROR_INVALID_ARGS);
}

static void test_bounded_by_bytes(void)
{
  g_autoptr(KvHistory) history = kv_history_new(1000, 4096);
  g_autofree char *big = g_strnfill(1000, 'x');

  for (guint64 revision = 1; revision <= 20; revision++)
    kv_history_append(history, "key", g_variant_new_string(big), revision);
  kv_history_commit(history, 20);
  g_assert_cmpuint(kv_history_bytes(history), <=, 4096);
  g_assert_cmpuint(kv_history_n_changes(history), >=, 3);
  g_assert_cmpuint(kv_history_oldest(history), ==, 20 - kv_history_n_changes(history));
}

static void test_keeps_none(void)
{
  g_autoptr(KvHistory) history = kv_history_new(0, 0);

  add(history, "a", 1, 1);
  kv_history_commit(history, 1);
  g_assert_cmpuint(kv_history_n_changes(history), ==, 0);
  g_assert_cmpuint(kv_history_oldest(history), ==, 1);
  g_assert_true(kv_history_check(history, 1, NULL, NULL));
  assert_refused(history, 0, NULL, KV_ERROR_COMPACTED);
}

static gboolean count_change(const char *key, GVariant *value, guint64 revision, gpointer user_data)
{
  (*(guint *)user_data)++;
  return TRUE;
}

static void test_many_revisions(void)
{
  g_autoptr(KvHistory) history = kv_history_new(1000, 1 << 24);
  guint served_count = 0;

  /* Far more than it keeps, so that the array's dropped head is reclaimed many times. */
  for (guint64 revision = 1; revision <= 100000; revision++) {
    g_autofree char *key = g_strdup_printf("k%05u", (guint)(revision % 7));
    kv_history_append(history, key, g_variant_new_int32((gint32)revision), revision);
    kv_history_commit(history, revision);
  }
  g_assert_cmpuint(kv_history_n_changes(history), ==, 1000);
  g_assert_cmpuint(kv_history_oldest(history), ==, 99000);
  g_autofree char *last = served(history, "", 99998, NULL);
  g_assert_cmpstr(last, ==, "99999:k00004=99999 100000:k00005=100000");
  kv_history_foreach(history, "k00001", 99000, NULL, count_change, &served_count);
  g_assert_cmpuint(served_count, ==, 143);
}

int main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/history/committed-only", test_committed_only);
  g_test_add_func("/history/resume-inside-a-revision", test_resume_inside_a_revision);
  g_test_add_func("/history/bounded-by-whole-revisions", test_bounded_by_whole_revisions);
  g_test_add_func("/history/bounded-by-bytes", test_bounded_by_bytes);
  g_test_add_func("/history/keeps-none", test_keeps_none);
  g_test_add_func("/history/many-revisions", test_many_revisions);
  return g_test_run();
}
