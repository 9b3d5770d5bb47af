/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "kv-test-assert.h"
#include "kv-memory-repository.h"
#include "kv-test-values.h"

static gboolean collect_key(const char *key, GVariant *value, guint64 revision, gpointer user_data)
{
  g_assert_null(value);
  g_ptr_array_add(user_data, g_strdup(key));
  return TRUE;
}

static GPtrArray *keys_with_prefix(KvRepository *repository, const char *prefix)
{
  GPtrArray *keys = g_ptr_array_new_with_free_func(g_free);

  kv_repository_foreach(repository, prefix, NULL, FALSE, collect_key, keys);
  g_ptr_array_add(keys, NULL);
  return keys;
}

static void test_set_get_delete(void)
{
  g_autoptr(KvRepository) repository = kv_memory_repository_new();
  g_autoptr(GError) error = NULL;
  gboolean existed = TRUE;

  g_assert_null(kv_repository_get(repository, "a"));
  g_assert_false(kv_repository_exists(repository, "a"));
  g_assert_true(kv_repository_set(repository, "a", g_variant_new_int32(7), &error));
  g_assert_no_error(error);

  g_autoptr(GVariant) value = kv_repository_get(repository, "a");
  kv_assert_variant_eq(value, g_variant_new_int32(7));
  g_assert_true(kv_repository_exists(repository, "a"));
  g_assert_cmpuint(kv_repository_count(repository), ==, 1);

  g_assert_true(kv_repository_delete(repository, "a", &existed, &error));
  g_assert_true(existed);
  g_assert_true(kv_repository_delete(repository, "a", &existed, &error));
  g_assert_false(existed);
  g_assert_cmpuint(kv_repository_count(repository), ==, 0);
  g_assert_null(kv_repository_get(repository, "a"));
}

/* Under LeakSanitizer (the ASan build) a value or key that is not freed fails this. */
static void test_replace_and_delete_free_entries(void)
{
  g_autoptr(KvRepository) repository = kv_memory_repository_new();
  g_autofree char *big = g_strnfill(64 * 1024, 'x');

  for (int i = 0; i < 100; i++) {
    g_assert_true(kv_repository_set(repository, "k", g_variant_new_string(big), NULL));
    g_assert_true(kv_repository_set(repository, "k", g_variant_new_int32(i), NULL));
  }
  g_assert_cmpuint(kv_repository_count(repository), ==, 1);
  g_autoptr(GVariant) value = kv_repository_get(repository, "k");
  kv_assert_variant_eq(value, g_variant_new_int32(99));

  gboolean existed;
  g_assert_true(kv_repository_delete(repository, "k", &existed, NULL));
  g_assert_true(existed);
  g_assert_true(
      kv_repository_set(repository, "gone-with-the-repository", g_variant_new_string(big), NULL));
}

static void test_values_kept_exactly(void)
{
  g_autoptr(KvRepository) repository = kv_memory_repository_new();

  for (gsize i = 0; i < G_N_ELEMENTS(kv_test_values); i++) {
    g_autoptr(GVariant) value = g_variant_parse(NULL, kv_test_values[i], NULL, NULL, NULL);
    g_autofree char *key = g_strdup_printf("%03zu", i);
    g_assert_true(kv_repository_set(repository, key, value, NULL));
  }
  for (gsize i = 0; i < G_N_ELEMENTS(kv_test_values); i++) {
    g_autoptr(GVariant) expected = g_variant_parse(NULL, kv_test_values[i], NULL, NULL, NULL);
    g_autofree char *key = g_strdup_printf("%03zu", i);
    g_autoptr(GVariant) stored = kv_repository_get(repository, key);
    g_assert_false(g_variant_is_floating(stored));
    kv_assert_variant_eq(stored, expected);
  }
}

/* kv_repository_peek() reads as a get does, and lends the stored bytes where their
 * alignment allows (two peeks of a string share them; a get copies). */
static void test_peek_lends_stored_bytes(void)
{
  g_autoptr(KvRepository) repository = kv_memory_repository_new();

  g_assert_null(kv_repository_peek(repository, "absent"));
  for (gsize i = 0; i < G_N_ELEMENTS(kv_test_values); i++) {
    g_autoptr(GVariant) expected = g_variant_parse(NULL, kv_test_values[i], NULL, NULL, NULL);
    g_autofree char *key = g_strdup_printf("%03zu", i);
    g_assert_true(kv_repository_set(repository, key, expected, NULL));

    g_autoptr(GVariant) lent = kv_repository_peek(repository, key);
    g_autoptr(GVariant) again = kv_repository_peek(repository, key);
    g_autoptr(GVariant) copy = kv_repository_get(repository, key);
    g_assert_false(g_variant_is_floating(lent));
    kv_assert_variant_eq(lent, expected);
    if (g_variant_is_of_type(lent, G_VARIANT_TYPE_STRING)) {
      g_assert_true(g_variant_get_data(lent) == g_variant_get_data(again));
      g_assert_true(g_variant_get_data(lent) != g_variant_get_data(copy));
    }
  }
}

static gboolean collect_entry(const char *key, GVariant *value, guint64 revision,
                              gpointer user_data)
{
  g_variant_builder_add(user_data, "{sv}", key, value);
  return TRUE;
}

static void test_foreach_with_values(void)
{
  g_autoptr(KvRepository) repository = kv_memory_repository_new();
  GVariantBuilder builder;

  kv_repository_set(repository, "b", g_variant_new_uint64(2), NULL);
  kv_repository_set(repository, "a", g_variant_new_string("one"), NULL);
  kv_repository_set(repository, "c", g_variant_new_boolean(TRUE), NULL);
  g_variant_builder_init(&builder, G_VARIANT_TYPE("a{sv}"));
  kv_repository_foreach(repository, "", NULL, TRUE, collect_entry, &builder);

  g_autoptr(GVariant) all = g_variant_ref_sink(g_variant_builder_end(&builder));
  g_autoptr(GVariant) expected =
      g_variant_parse(NULL, "{'a': <'one'>, 'b': <uint64 2>, 'c': <true>}", NULL, NULL, NULL);
  g_assert_cmpvariant(all, expected);
}

static void test_foreach_sorted_by_prefix(void)
{
  g_autoptr(KvRepository) repository = kv_memory_repository_new();
  const char *keys[] = {"b", "a/2", "a/10", "a", "\xc3\xa9", "A", "a/1", "ab"};

  for (gsize i = 0; i < G_N_ELEMENTS(keys); i++)
    kv_repository_set(repository, keys[i], g_variant_new_boolean(TRUE), NULL);

  g_autoptr(GPtrArray) all = keys_with_prefix(repository, "");
  const char *all_expected[] = {"A", "a", "a/1", "a/10", "a/2", "ab", "b", "\xc3\xa9", NULL};
  g_assert_cmpstrv((char **)all->pdata, all_expected);

  g_autoptr(GPtrArray) some = keys_with_prefix(repository, "a/");
  const char *some_expected[] = {"a/1", "a/10", "a/2", NULL};
  g_assert_cmpstrv((char **)some->pdata, some_expected);

  g_autoptr(GPtrArray) none = keys_with_prefix(repository, "zzz");
  g_assert_cmpuint(none->len, ==, 1);
}

int main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/memory-repository/set-get-delete", test_set_get_delete);
  g_test_add_func("/memory-repository/replace-and-delete-free-entries",
                  test_replace_and_delete_free_entries);
  g_test_add_func("/memory-repository/values-kept-exactly", test_values_kept_exactly);
  g_test_add_func("/memory-repository/peek-lends-stored-bytes", test_peek_lends_stored_bytes);
  g_test_add_func("/memory-repository/foreach-with-values", test_foreach_with_values);
  g_test_add_func("/memory-repository/foreach-sorted-by-prefix", test_foreach_sorted_by_prefix);
  return g_test_run();
}
