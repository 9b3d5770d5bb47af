/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The ordered key index against a plain sorted list, through random puts, removals,
 * lookups and seeks that split and merge its chunks many times. */

#include "kv-index.h"

#include <string.h>

static gint compare_strings(gconstpointer a, gconstpointer b)
{
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Every key of @index from @key on (after it, with @after), as one string. */
static char *walk(const KvIndex *index, const char *key, gboolean after)
{
  g_autoptr(GString) out = g_string_new(NULL);
  KvIndexIter iter;
  const char *k;

  kv_index_seek(index, key, after, &iter);
  while ((k = kv_index_iter_next(&iter)) != NULL)
    g_string_append_printf(out, "%s,", k);
  return g_string_free(g_steal_pointer(&out), FALSE);
}

/* The same walk over the reference: @keys, sorted. */
static char *walk_reference(GPtrArray *keys, const char *key, gboolean after)
{
  g_autoptr(GString) out = g_string_new(NULL);

  for (guint i = 0; i < keys->len; i++) {
    const char *k = g_ptr_array_index(keys, i);
    int c = strcmp(k, key);
    if (c > 0 || (c == 0 && !after))
      g_string_append_printf(out, "%s,", k);
  }
  return g_string_free(g_steal_pointer(&out), FALSE);
}

static void test_against_reference(void)
{
  g_autoptr(KvIndex) index = kv_index_new();
  g_autoptr(GHashTable) present = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
  g_autoptr(GRand) rand = g_rand_new_with_seed(7);
  /* The index borrows its keys: they live in @present while indexed, and @retired
   * keeps removed ones until the end. */
  g_autoptr(GPtrArray) retired = g_ptr_array_new_with_free_func(g_free);

  for (int round = 0; round < 40000; round++) {
    g_autofree char *key = g_strdup_printf("k%05u", g_rand_int_range(rand, 0, 3000));
    /* Fill up first, then mostly empty, then churn: every split and merge. */
    gint32 roll = g_rand_int_range(rand, 0, 100);
    gboolean insert = round < 15000 ? roll < 80 : round < 30000 ? roll < 20 : roll < 50;
    char *stored = g_hash_table_lookup(present, key);

    if (insert) {
      char *copy = g_strdup(key);
      kv_index_put(index, copy);
      if (stored != NULL) {
        g_hash_table_steal(present, key);
        g_ptr_array_add(retired, stored);
      }
      g_hash_table_add(present, copy);
    } else {
      g_assert_cmpint(kv_index_remove(index, key), ==, stored != NULL);
      if (stored != NULL) {
        g_hash_table_steal(present, key);
        g_ptr_array_add(retired, stored);
      }
    }
    g_assert_cmpuint(kv_index_size(index), ==, g_hash_table_size(present));
    /* A lookup finds the very pointer the reference holds, or nothing. */
    g_autofree char *probe = g_strdup_printf("k%05u", g_rand_int_range(rand, 0, 3000));
    g_assert_true(kv_index_lookup(index, probe) == g_hash_table_lookup(present, probe));
    g_assert_true(kv_index_lookup(index, key) == g_hash_table_lookup(present, key));

    if (round % 997 == 0) {
      g_autoptr(GPtrArray) sorted = g_ptr_array_new();
      GHashTableIter it;
      gpointer k;
      g_hash_table_iter_init(&it, present);
      while (g_hash_table_iter_next(&it, &k, NULL))
        g_ptr_array_add(sorted, k);
      g_ptr_array_sort(sorted, compare_strings);
      const char *seeks[] = {"", "k", "k01500", "k01500x", "k02999", "k9", key};
      for (gsize s = 0; s < G_N_ELEMENTS(seeks); s++)
        for (int after = 0; after <= 1; after++) {
          g_autofree char *got = walk(index, seeks[s], after);
          g_autofree char *want = walk_reference(sorted, seeks[s], after);
          g_assert_cmpstr(got, ==, want);
        }
    }
  }
}

static void test_put_replaces_pointer(void)
{
  g_autoptr(KvIndex) index = kv_index_new();
  char first[] = "same", second[] = "same";
  KvIndexIter iter;

  kv_index_put(index, first);
  kv_index_put(index, second);
  g_assert_cmpuint(kv_index_size(index), ==, 1);
  kv_index_seek(index, "", FALSE, &iter);
  g_assert_true(kv_index_iter_next(&iter) == second);
  g_assert_null(kv_index_iter_next(&iter));
  g_assert_false(kv_index_remove(index, "other"));
  g_assert_true(kv_index_remove(index, "same"));
  g_assert_false(kv_index_remove(index, "same"));
  kv_index_seek(index, "", FALSE, &iter);
  g_assert_null(kv_index_iter_next(&iter));
}

/* Keys added in order, rising or falling, across many chunks. */
static void test_in_order(void)
{
  for (int falling = 0; falling <= 1; falling++) {
    g_autoptr(KvIndex) index = kv_index_new();
    g_autoptr(GPtrArray) keys = g_ptr_array_new_with_free_func(g_free);
    const guint n = 10 * KV_INDEX_CHUNK_KEYS + 7;

    for (guint i = 0; i < n; i++)
      g_ptr_array_add(keys, g_strdup_printf("key%06u", falling ? n - 1 - i : i));
    for (guint i = 0; i < n; i++)
      kv_index_put(index, g_ptr_array_index(keys, i));
    g_assert_cmpuint(kv_index_size(index), ==, n);

    KvIndexIter iter;
    const char *key;
    guint seen = 0;
    kv_index_seek(index, "", FALSE, &iter);
    while ((key = kv_index_iter_next(&iter)) != NULL) {
      g_autofree char *expected = g_strdup_printf("key%06u", seen++);
      g_assert_cmpstr(key, ==, expected);
    }
    g_assert_cmpuint(seen, ==, n);
    kv_index_seek(index, "key000300", TRUE, &iter);
    g_assert_cmpstr(kv_index_iter_next(&iter), ==, "key000301");
  }
}

int main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/index/against-reference", test_against_reference);
  g_test_add_func("/index/put-replaces-pointer", test_put_replaces_pointer);
  g_test_add_func("/index/in-order", test_in_order);
  return g_test_run();
}
