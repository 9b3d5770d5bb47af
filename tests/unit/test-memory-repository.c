#include "kv-test-assert.h"
#include "kv-memory-repository.h"

static void collect_key(const char *key, GVariant *value, gpointer user_data)
{
  g_ptr_array_add(user_data, g_strdup(key));
}

static GPtrArray *keys_with_prefix(KvRepository *repository, const char *prefix)
{
  GPtrArray *keys = g_ptr_array_new_with_free_func(g_free);

  kv_repository_foreach(repository, prefix, collect_key, keys);
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

static void note_freed(gpointer user_data)
{
  *(gboolean *)user_data = TRUE;
}

static void test_replace_frees_old_value(void)
{
  g_autoptr(KvRepository) repository = kv_memory_repository_new();
  static const char data[] = "old";
  gboolean freed = FALSE;
  GVariant *old =
      g_variant_new_from_data(G_VARIANT_TYPE_STRING, data, sizeof data, TRUE, note_freed, &freed);

  g_assert_true(kv_repository_set(repository, "k", old, NULL));
  g_assert_false(freed);
  g_assert_true(kv_repository_set(repository, "k", g_variant_new_string("new"), NULL));
  g_assert_true(freed);
  g_assert_cmpuint(kv_repository_count(repository), ==, 1);

  g_autoptr(GVariant) value = kv_repository_get(repository, "k");
  g_assert_cmpstr(g_variant_get_string(value, NULL), ==, "new");
}

static void test_delete_frees_value(void)
{
  g_autoptr(KvRepository) repository = kv_memory_repository_new();
  static const char data[] = "v";
  gboolean freed = FALSE;

  kv_repository_set(
      repository, "k",
      g_variant_new_from_data(G_VARIANT_TYPE_STRING, data, sizeof data, TRUE, note_freed, &freed),
      NULL);
  kv_repository_delete(repository, "k", NULL, NULL);
  g_assert_true(freed);
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
  g_test_add_func("/memory-repository/replace-frees-old-value", test_replace_frees_old_value);
  g_test_add_func("/memory-repository/delete-frees-value", test_delete_frees_value);
  g_test_add_func("/memory-repository/foreach-sorted-by-prefix", test_foreach_sorted_by_prefix);
  return g_test_run();
}
