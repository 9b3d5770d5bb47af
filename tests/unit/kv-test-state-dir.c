/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "kv-test-state-dir.h"

#include <glib/gstdio.h>

void kv_test_state_setup(KvTestState *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;

  f->dir = g_dir_make_tmp("kvstore-persistence-XXXXXX", &error);
  g_assert_no_error(error);
  f->journal = g_build_filename(f->dir, "journal", NULL);
  f->snapshot = g_build_filename(f->dir, "snapshot", NULL);
  f->warnings = g_ptr_array_new_with_free_func(g_free);
}

void kv_test_remove_dir(const char *path)
{
  g_autoptr(GDir) dir = g_dir_open(path, 0, NULL);
  const char *name;

  while (dir != NULL && (name = g_dir_read_name(dir)) != NULL) {
    g_autofree char *child = g_build_filename(path, name, NULL);
    g_unlink(child);
  }
  g_assert_cmpint(g_rmdir(path), ==, 0);
}

void kv_test_state_teardown(KvTestState *f, gconstpointer data)
{
  /* Whatever a test left: the state files, and files a repair kept aside. */
  kv_test_remove_dir(f->dir);
  g_free(f->dir);
  g_clear_pointer(&f->history, kv_history_free);
  g_free(f->journal);
  g_free(f->snapshot);
  g_ptr_array_unref(f->warnings);
}

static void collect_warning(int priority, const char *message, gpointer user_data)
{
  g_ptr_array_add(user_data, g_strdup(message));
}

KvRepository *kv_test_state_open(KvTestState *f, gsize compact_bytes, KvRecoveryInfo *info,
                                 GError **error)
{
  KvRecoveryInfo ignored;

  return kv_persistent_repository_open(f->dir, KV_SYNC_ALWAYS, compact_bytes, f->history,
                                       collect_warning, f->warnings, info != NULL ? info : &ignored,
                                       error);
}

KvRepository *kv_test_state_open_ok(KvTestState *f)
{
  g_autoptr(GError) error = NULL;
  KvRepository *repository = kv_test_state_open(f, G_MAXSIZE, NULL, &error);

  g_assert_no_error(error);
  g_assert_nonnull(repository);
  return repository;
}

void kv_test_set_committed(KvRepository *repository, const char *key, GVariant *value)
{
  g_autoptr(GError) error = NULL;

  g_assert_true(kv_repository_set(repository, key, value, &error));
  g_assert_true(kv_repository_commit(repository, &error));
  g_assert_no_error(error);
}

static gboolean collect(const char *key, GVariant *value, guint64 revision, gpointer user_data)
{
  g_variant_builder_add(user_data, "{sv}", key, value);
  return TRUE;
}

GVariant *kv_test_state_contents(KvRepository *repository)
{
  GVariantBuilder builder;

  g_variant_builder_init(&builder, G_VARIANT_TYPE("a{sv}"));
  kv_repository_foreach(repository, "", NULL, TRUE, collect, &builder);
  return g_variant_ref_sink(g_variant_builder_end(&builder));
}
