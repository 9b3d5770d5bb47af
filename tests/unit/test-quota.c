/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Quota usage: derived from the data, checked at the limit, kept up to date. */

#include "kv-access.h"
#include "kv-error.h"
#include "kv-memory-repository.h"
#include "kv-quota.h"

#include <glib/gstdio.h>
#include <string.h>

typedef struct {
  char *dir;
  KvAccess *access;
  KvRepository *repository;
} Fixture;

static void setup(Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  f->dir = g_dir_make_tmp("kv-quota-XXXXXX", NULL);
  g_autofree char *path = g_build_filename(f->dir, "50-test.conf", NULL);
  const char *dirs[] = {f->dir, NULL};

  g_file_set_contents(path,
                      "[Quota]\nMaxKeys=3\nMaxBytes=40\n"
                      "[Prefix shared/]\nWrite=everyone\nMaxKeys=1\n",
                      -1, &error);
  g_assert_no_error(error);
  f->access = kv_access_load(dirs, &error);
  g_assert_no_error(error);
  g_unlink(path);
  f->repository = kv_memory_repository_new();
}

static void teardown(Fixture *f, gconstpointer data)
{
  kv_repository_free(f->repository);
  kv_access_free(f->access);
  g_rmdir(f->dir);
  g_free(f->dir);
}

static void test_derived_from_data(Fixture *f, gconstpointer data)
{
  guint64 keys, bytes;

  /* A key counts its own bytes and its value's serialized size: a string's is its length
   * and a nul. */
  g_assert_true(kv_repository_set(f->repository, "users/7/a", g_variant_new_string("12345"), NULL));
  g_assert_true(kv_repository_set(f->repository, "users/7/b", g_variant_new_int64(1), NULL));
  g_assert_true(kv_repository_set(f->repository, "users/8/a", g_variant_new_string(""), NULL));
  g_assert_true(kv_repository_set(f->repository, "other", g_variant_new_string("x"), NULL));
  g_autoptr(KvQuota) quota = kv_quota_new(f->repository, f->access);

  kv_quota_usage(quota, "uid 7", &keys, &bytes);
  g_assert_cmpuint(keys, ==, 2);
  g_assert_cmpuint(bytes, ==, 9 + 6 + 9 + 8);
  kv_quota_usage(quota, "uid 8", &keys, &bytes);
  g_assert_cmpuint(keys, ==, 1);
  g_assert_cmpuint(bytes, ==, 9 + 1);
  kv_quota_usage(quota, "prefix ''", &keys, &bytes);
  g_assert_cmpuint(keys, ==, 1);
  kv_quota_usage(quota, "uid 9", &keys, &bytes);
  g_assert_cmpuint(keys, ==, 0);
}

static void assert_exceeded(KvQuota *quota, const KvAccess *access, const KvQuotaChange *changes,
                            gsize n)
{
  g_autoptr(GError) error = NULL;

  g_assert_false(kv_quota_check(quota, access, changes, n, &error));
  g_assert_error(error, KV_ERROR, KV_ERROR_QUOTA_EXCEEDED);
}

static void test_limits(Fixture *f, gconstpointer data)
{
  g_autoptr(KvQuota) quota = kv_quota_new(f->repository, f->access);
  const KvQuotaChange three[] = {{"users/7/a", -1, 2}, {"users/7/b", -1, 2}, {"users/7/c", -1, 2}};
  const KvQuotaChange fourth[] = {{"users/7/d", -1, 2}};

  /* Exactly at the limit: allowed; one more: refused. */
  g_assert_true(kv_quota_check(quota, f->access, three, 3, NULL));
  kv_quota_apply(quota, f->access, three, 3);
  assert_exceeded(quota, f->access, fourth, 1);

  /* Replacing a value adds bytes, not keys: 3 keys of 9 bytes and values of 2, 2 and 9
   * make 40, which fits; 41 does not. */
  const KvQuotaChange grow_fits[] = {{"users/7/a", 2, 9}};
  const KvQuotaChange grow_too_much[] = {{"users/7/a", 2, 10}};
  g_assert_true(kv_quota_check(quota, f->access, grow_fits, 1, NULL));
  assert_exceeded(quota, f->access, grow_too_much, 1);

  /* A batch that deletes one and adds one stays within. */
  const KvQuotaChange swap[] = {{"users/7/a", 2, -1}, {"users/7/d", -1, 2}};
  g_assert_true(kv_quota_check(quota, f->access, swap, 2, NULL));
  kv_quota_apply(quota, f->access, swap, 2);
  guint64 keys, bytes;
  kv_quota_usage(quota, "uid 7", &keys, &bytes);
  g_assert_cmpuint(keys, ==, 3);
  g_assert_cmpuint(bytes, ==, 3 * (9 + 2));

  /* Another uid, and a shared prefix with a limit of its own. */
  g_assert_true(kv_quota_check(quota, f->access, fourth, 0, NULL));
  const KvQuotaChange other[] = {{"users/8/a", -1, 2}};
  g_assert_true(kv_quota_check(quota, f->access, other, 1, NULL));
  const KvQuotaChange shared_two[] = {{"shared/a", -1, 1}, {"shared/b", -1, 1}};
  assert_exceeded(quota, f->access, shared_two, 2);
  g_assert_true(kv_quota_check(quota, f->access, shared_two, 1, NULL));
}

/* A key's own bytes count: one key of 39 bytes and a 2-byte value passes 40; a rename
 * to a shorter key frees room. 10,000 keys of 4 KB once counted nothing. */
static void test_key_bytes(Fixture *f, gconstpointer data)
{
  g_autoptr(KvQuota) quota = kv_quota_new(f->repository, f->access);
  g_autoptr(GError) error = NULL;
  const KvQuotaChange long_key[] = {{"users/7/0123456789012345678901234567890", -1, 2}};
  const KvQuotaChange short_key[] = {{"users/7/0123456789012345678901234567", -1, 2}};

  g_assert_false(kv_quota_check(quota, f->access, long_key, 1, &error));
  g_assert_error(error, KV_ERROR, KV_ERROR_QUOTA_EXCEEDED);
  g_assert_nonnull(strstr(error->message, "41 bytes of keys and values"));
  g_assert_true(kv_quota_check(quota, f->access, short_key, 1, NULL));
}

static void test_shrinking_always_allowed(Fixture *f, gconstpointer data)
{
  /* Over the limit already (root wrote, or the limit was lowered). */
  for (int i = 0; i < 5; i++) {
    g_autofree char *key = g_strdup_printf("users/7/k%d", i);
    g_assert_true(kv_repository_set(f->repository, key, g_variant_new_string("x"), NULL));
  }
  g_autoptr(KvQuota) quota = kv_quota_new(f->repository, f->access);
  const KvQuotaChange remove[] = {{"users/7/k0", 2, -1}};
  const KvQuotaChange same_size[] = {{"users/7/k1", 2, 2}};
  const KvQuotaChange add[] = {{"users/7/new", -1, 2}};

  g_assert_true(kv_quota_check(quota, f->access, remove, 1, NULL));
  g_assert_true(kv_quota_check(quota, f->access, same_size, 1, NULL));
  assert_exceeded(quota, f->access, add, 1);
}

int main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add("/quota/derived-from-data", Fixture, NULL, setup, test_derived_from_data, teardown);
  g_test_add("/quota/limits", Fixture, NULL, setup, test_limits, teardown);
  g_test_add("/quota/key-bytes", Fixture, NULL, setup, test_key_bytes, teardown);
  g_test_add("/quota/shrinking-always-allowed", Fixture, NULL, setup, test_shrinking_always_allowed,
             teardown);
  return g_test_run();
}
