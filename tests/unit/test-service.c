/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "kv-test-assert.h"
#include "kv-error.h"
#include "kv-memory-repository.h"
#include "kv-service.h"

#include <string.h>

typedef struct {
  KvRepository *repository;
  KvService *service;
} Fixture;

static void setup(Fixture *f, gconstpointer data)
{
  f->repository = kv_memory_repository_new();
  f->service = kv_service_new(f->repository, data ? GPOINTER_TO_SIZE(data) : 1024);
}

static void teardown(Fixture *f, gconstpointer data)
{
  kv_service_free(f->service);
  kv_repository_free(f->repository);
}

static char *repeat(char c, gsize n)
{
  char *s = g_malloc(n + 1);

  memset(s, c, n);
  s[n] = '\0';
  return s;
}

/* Everything in the store, for checking that a failed call changed nothing. */
static gboolean collect(const char *key, GVariant *value, guint64 revision, gpointer user_data)
{
  g_variant_builder_add(user_data, "{sv}", key, value);
  return TRUE;
}

static GVariant *snapshot(Fixture *f)
{
  GVariantBuilder builder;

  g_variant_builder_init(&builder, G_VARIANT_TYPE("a{sv}"));
  kv_repository_foreach(f->repository, "", NULL, TRUE, collect, &builder);
  return g_variant_ref_sink(g_variant_builder_end(&builder));
}

static void test_set_get(Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;

  g_assert_true(kv_service_set(f->service, "k", g_variant_new_uint16(3), &error));
  g_assert_no_error(error);
  g_autoptr(GVariant) value = kv_service_get(f->service, "k", &error);
  g_assert_no_error(error);
  kv_assert_variant_eq(value, g_variant_new_uint16(3));
}

static void test_get_missing(Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;

  g_assert_null(kv_service_get(f->service, "missing", &error));
  g_assert_error(error, KV_ERROR, KV_ERROR_NOT_FOUND);
  g_assert_cmpstr(error->message, ==, "Key 'missing' not found");
}

static void test_key_limits(Fixture *f, gconstpointer data)
{
  g_autofree char *longest = repeat('k', KV_KEY_MAX_BYTES);
  g_autofree char *too_long = repeat('k', KV_KEY_MAX_BYTES + 1);
  g_autoptr(GError) error = NULL;
  gboolean flag;
  gint64 result;

  g_assert_true(kv_service_set(f->service, longest, g_variant_new_int32(1), &error));
  g_assert_no_error(error);

  g_assert_false(kv_service_set(f->service, too_long, g_variant_new_int32(1), &error));
  g_assert_error(error, KV_ERROR, KV_ERROR_INVALID_KEY);
  g_clear_error(&error);
  g_assert_false(kv_service_set(f->service, "", g_variant_new_int32(1), &error));
  g_assert_error(error, KV_ERROR, KV_ERROR_INVALID_KEY);
  g_clear_error(&error);
  g_assert_null(kv_service_get(f->service, "", &error));
  g_assert_error(error, KV_ERROR, KV_ERROR_INVALID_KEY);
  g_clear_error(&error);
  g_assert_false(kv_service_exists(f->service, too_long, &flag, &error));
  g_assert_error(error, KV_ERROR, KV_ERROR_INVALID_KEY);
  g_clear_error(&error);
  g_assert_false(kv_service_delete(f->service, "", &flag, &error));
  g_assert_error(error, KV_ERROR, KV_ERROR_INVALID_KEY);
  g_clear_error(&error);
  g_assert_false(kv_service_increment(f->service, "", 1, &result, &error));
  g_assert_error(error, KV_ERROR, KV_ERROR_INVALID_KEY);
  g_assert_cmpuint(kv_service_count(f->service), ==, 1);
}

static void test_size_limit(Fixture *f, gconstpointer data)
{
  /* A bytestring's serialized size is its length plus the trailing NUL. */
  g_autofree char *fits = repeat('x', 1023);
  g_autofree char *too_big = repeat('x', 1024);
  g_autoptr(GError) error = NULL;

  g_assert_true(kv_service_set(f->service, "k", g_variant_new_string(fits), &error));
  g_assert_no_error(error);
  g_autoptr(GVariant) before = snapshot(f);

  g_assert_false(kv_service_set(f->service, "k", g_variant_new_string(too_big), &error));
  g_assert_error(error, KV_ERROR, KV_ERROR_TOO_LARGE);
  g_assert_nonnull(strstr(error->message, "1025 bytes"));
  g_autoptr(GVariant) after = snapshot(f);
  kv_assert_variant_eq(before, after);
}

static void test_increment_grows_past_limit(Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  gint64 result;

  /* "99" is 3 bytes serialized, "100" is 4: over a limit of 3. */
  g_assert_true(kv_service_set(f->service, "n", g_variant_new_string("99"), &error));
  g_assert_false(kv_service_increment(f->service, "n", 1, &result, &error));
  g_assert_error(error, KV_ERROR, KV_ERROR_TOO_LARGE);
  g_autoptr(GVariant) value = kv_service_get(f->service, "n", NULL);
  g_assert_cmpstr(g_variant_get_string(value, NULL), ==, "99");
}

static void test_file_descriptors_refused(Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  GVariant *children[] = {g_variant_new_handle(0)};

  g_assert_false(kv_service_set(f->service, "fd", g_variant_new_handle(0), &error));
  g_assert_error(error, KV_ERROR, KV_ERROR_INVALID_VALUE_TYPE);
  g_clear_error(&error);
  g_assert_false(kv_service_set(f->service, "fds", g_variant_new_tuple(children, 1), &error));
  g_assert_error(error, KV_ERROR, KV_ERROR_INVALID_VALUE_TYPE);
  g_assert_cmpuint(kv_service_count(f->service), ==, 0);
}

static void test_exists_delete(Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  gboolean flag = TRUE;

  g_assert_true(kv_service_exists(f->service, "k", &flag, &error));
  g_assert_false(flag);
  g_assert_true(kv_service_delete(f->service, "k", &flag, &error));
  g_assert_false(flag);
  kv_service_set(f->service, "k", g_variant_new_boolean(FALSE), NULL);
  g_assert_true(kv_service_exists(f->service, "k", &flag, &error));
  g_assert_true(flag);
  g_assert_true(kv_service_delete(f->service, "k", &flag, &error));
  g_assert_true(flag);
  g_assert_true(kv_service_exists(f->service, "k", &flag, &error));
  g_assert_false(flag);
  g_assert_no_error(error);
}

static void test_increment_stores(Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  gint64 result;

  g_assert_true(kv_service_increment(f->service, "c", 5, &result, &error));
  g_assert_cmpint(result, ==, 5);
  g_assert_true(kv_service_increment(f->service, "c", -7, &result, &error));
  g_assert_cmpint(result, ==, -2);
  g_autoptr(GVariant) value = kv_service_get(f->service, "c", &error);
  kv_assert_variant_eq(value, g_variant_new_int64(-2));
  g_assert_no_error(error);
}

static void test_failed_increment_changes_nothing(Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  gint64 result = 99;

  kv_service_set(f->service, "max", g_variant_new_int32(G_MAXINT32), NULL);
  kv_service_set(f->service, "text", g_variant_new_string("007"), NULL);
  g_autoptr(GVariant) before = snapshot(f);

  g_assert_false(kv_service_increment(f->service, "max", 1, &result, &error));
  g_assert_error(error, KV_ERROR, KV_ERROR_OVERFLOW);
  g_assert_true(g_str_has_prefix(error->message, "Cannot increment 'max': "));
  g_clear_error(&error);
  g_assert_false(kv_service_increment(f->service, "text", 1, &result, &error));
  g_assert_error(error, KV_ERROR, KV_ERROR_INVALID_VALUE_TYPE);
  g_assert_cmpint(result, ==, 99);

  g_autoptr(GVariant) after = snapshot(f);
  kv_assert_variant_eq(before, after);
}

static void record_change(const char *key, GVariant *value, guint64 revision, gpointer user_data)
{
  g_autofree char *text = value != NULL ? g_variant_print(value, TRUE) : g_strdup("deleted");

  g_ptr_array_add(user_data, g_strdup_printf("%" G_GUINT64_FORMAT " %s %s", revision, key, text));
}

/* kv_service_set_many() of the entries of @entries, an a{sv}, whose reference (floating or
 * not) it takes. */
static gboolean set_many(Fixture *f, GVariant *entries, guint64 *out_revision, GError **error)
{
  g_autoptr(GVariant) owned = g_variant_take_ref(entries);
  gsize n = g_variant_n_children(owned);
  g_autofree KvChange *changes = g_new0(KvChange, MAX(n, 1));
  g_autoptr(GPtrArray) values = g_ptr_array_new_with_free_func((GDestroyNotify)g_variant_unref);

  for (gsize i = 0; i < n; i++) {
    g_variant_get_child(owned, i, "{&sv}", &changes[i].key, &changes[i].value);
    g_ptr_array_add(values, changes[i].value);
  }
  return kv_service_set_many(f->service, changes, n, out_revision, error);
}

/* The a{sv} written as @text in GVariant text (a full reference). */
static GVariant *entries_of(const char *text)
{
  return g_variant_parse(G_VARIANT_TYPE("a{sv}"), text, NULL, NULL, NULL);
}

static void test_batches_and_change_order(Fixture *f, gconstpointer data)
{
  g_autoptr(GPtrArray) lines = g_ptr_array_new_with_free_func(g_free);
  g_autoptr(GError) error = NULL;
  guint64 revision = 0;
  guint deleted;

  kv_service_set_change_func(f->service, record_change, lines);
  g_assert_true(set_many(f, entries_of("{'b': <1>, 'a': <'x'>, 'c': <2.5>}"), &revision, &error));
  g_assert_cmpuint(revision, ==, 1);
  const char *keys[] = {"c", "missing", "a", "c", NULL};
  g_assert_true(kv_service_delete_many(f->service, keys, &deleted, &revision, &error));
  g_assert_cmpuint(deleted, ==, 2);
  g_assert_cmpuint(revision, ==, 2);
  const char *none[] = {"missing", NULL};
  g_assert_true(kv_service_delete_many(f->service, none, &deleted, &revision, &error));
  g_assert_cmpuint(deleted, ==, 0);
  g_assert_cmpuint(revision, ==, 2);
  g_assert_true(set_many(f, entries_of("@a{sv} {}"), &revision, &error));
  g_assert_cmpuint(revision, ==, 2);
  g_assert_no_error(error);

  /* One revision per batch, in key order, each change once. */
  const char *expected[] = {"1 a 'x'", "1 b 1", "1 c 2.5", "2 a deleted", "2 c deleted", NULL};
  g_ptr_array_add(lines, NULL);
  g_assert_cmpstrv((char **)lines->pdata, expected);
  kv_service_set_change_func(f->service, NULL, NULL);
}

static void test_bad_batch_changes_nothing(Fixture *f, gconstpointer data)
{
  g_autofree char *too_long = repeat('k', KV_KEY_MAX_BYTES + 1);
  g_autoptr(GError) error = NULL;
  guint64 revision = 99;
  const char *bad_batches[] = {"{'a': <1>, '': <2>}", "{'a': <1>, 'a': <2>}",
                               "{'a': <1>, 'b': <handle 0>}"};

  kv_service_set(f->service, "kept", g_variant_new_int32(1), NULL);
  g_autoptr(GVariant) before = snapshot(f);
  for (gsize i = 0; i < G_N_ELEMENTS(bad_batches); i++) {
    g_assert_false(set_many(f, entries_of(bad_batches[i]), &revision, &error));
    g_assert_true(error->domain == KV_ERROR);
    g_clear_error(&error);
  }
  GVariantBuilder long_key;
  g_variant_builder_init(&long_key, G_VARIANT_TYPE("a{sv}"));
  g_variant_builder_add(&long_key, "{sv}", "a", g_variant_new_int32(1));
  g_variant_builder_add(&long_key, "{sv}", too_long, g_variant_new_int32(1));
  g_assert_false(set_many(f, g_variant_builder_end(&long_key), &revision, &error));
  g_assert_error(error, KV_ERROR, KV_ERROR_INVALID_KEY);

  g_autoptr(GVariant) after = snapshot(f);
  g_assert_cmpvariant(after, before);
  g_assert_cmpuint(kv_service_revision(f->service), ==, 1);
  g_assert_cmpuint(revision, ==, 99);
}

static void test_compare_and_set(Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  guint64 revision = 0, current = 0;

  g_assert_true(
      kv_service_compare_and_set(f->service, "k", 0, g_variant_new_int32(1), &revision, &error));
  g_assert_cmpuint(revision, ==, 1);
  g_assert_false(
      kv_service_compare_and_set(f->service, "k", 0, g_variant_new_int32(2), &revision, &error));
  g_assert_error(error, KV_ERROR, KV_ERROR_CONFLICT);
  g_assert_nonnull(strstr(error->message, "at revision 1, not 0"));
  g_clear_error(&error);
  g_assert_true(
      kv_service_compare_and_set(f->service, "k", 1, g_variant_new_int32(2), &revision, &error));
  g_autoptr(GVariant) value = kv_service_get_with_revision(f->service, "k", &current, &error);
  kv_assert_variant_eq(value, g_variant_new_int32(2));
  g_assert_cmpuint(current, ==, 2);

  g_assert_false(kv_service_compare_and_delete(f->service, "k", 1, &revision, &error));
  g_assert_error(error, KV_ERROR, KV_ERROR_CONFLICT);
  g_clear_error(&error);
  g_assert_true(kv_service_compare_and_delete(f->service, "k", 2, &revision, &error));
  g_assert_cmpuint(revision, ==, 3);
  g_assert_false(kv_service_compare_and_delete(f->service, "k", 2, &revision, &error));
  g_assert_nonnull(strstr(error->message, "does not exist"));
  g_clear_error(&error);
  g_assert_true(kv_service_compare_and_delete(f->service, "k", 0, &revision, &error));
  g_assert_cmpuint(revision, ==, 3);
}

static gboolean not_secret(const char *key, gpointer data)
{
  return !g_str_has_prefix(key, data);
}

/* A reader's filter leaves keys out of every listing, as if they did not exist. */
static void test_filtered_reads(Fixture *f, gconstpointer data)
{
  const char *keys[] = {"a", "secret/b", "c", "secret/d", NULL};
  const KvKeyFilter secret = {not_secret, NULL, "secret/"};
  const KvKeyFilter s = {not_secret, NULL, "s"};

  for (gsize i = 0; keys[i] != NULL; i++)
    g_assert_true(kv_service_set(f->service, keys[i], g_variant_new_int32((gint32)i), NULL));

  g_autoptr(KvPage) many = kv_service_get_many(f->service, keys, G_MAXSIZE, &secret, NULL);
  g_assert_cmpuint(many->keys->len, ==, 2);
  g_assert_cmpstr(g_ptr_array_index(many->keys, 0), ==, "a");
  g_assert_cmpstr(g_ptr_array_index(many->keys, 1), ==, "c");

  g_autoptr(KvPage) all = kv_service_select(f->service, "", TRUE, G_MAXSIZE, &secret, NULL);
  g_assert_cmpuint(all->keys->len, ==, 2);

  /* A page of one holds the next admitted key, and says where to resume. */
  g_autoptr(KvPage) first = kv_service_page(f->service, "", NULL, 1, FALSE, G_MAXSIZE, &s, NULL);
  g_assert_cmpuint(first->keys->len, ==, 1);
  g_assert_cmpstr(first->next, ==, "a");
  g_autoptr(KvPage) second = kv_service_page(f->service, "", "a", 1, FALSE, G_MAXSIZE, &s, NULL);
  g_assert_cmpstr(g_ptr_array_index(second->keys, 0), ==, "c");
  g_autoptr(KvPage) last = kv_service_page(f->service, "", "c", 1, FALSE, G_MAXSIZE, &s, NULL);
  g_assert_cmpuint(last->keys->len, ==, 0);
  g_assert_null(last->next);
}

typedef struct {
  const char *hidden; /* a prefix */
  guint asked;        /* keys the filter was asked about */
} Hider;

static gboolean hider_admits(const char *key, gpointer data)
{
  Hider *hider = data;

  hider->asked++;
  return !g_str_has_prefix(key, hider->hidden);
}

/* Past the hidden prefix: its last byte raised by one. */
static char *hider_skip(const char *key, gpointer data)
{
  Hider *hider = data;
  char *end = g_strdup(hider->hidden);

  end[strlen(end) - 1]++;
  return end;
}

/* A filter that can name where a hidden range ends is asked about the keys a listing
 * returns, and once a hidden range: 10,000 hidden keys cost no more than one. Pages and
 * their resumption stay as without skipping. */
static void test_filtered_reads_skip(Fixture *f, gconstpointer data)
{
  Hider hider = {"m/", 0};
  const KvKeyFilter filter = {hider_admits, hider_skip, &hider};

  g_assert_true(kv_service_set(f->service, "a", g_variant_new_int32(1), NULL));
  g_assert_true(kv_service_set(f->service, "m/", g_variant_new_int32(2), NULL));
  for (int i = 0; i < 10000; i++) {
    g_autofree char *key = g_strdup_printf("m/%05d", i);
    g_assert_true(kv_service_set(f->service, key, g_variant_new_int32(i), NULL));
  }
  /* Just past the range, and the range's end itself. */
  g_assert_true(kv_service_set(f->service, "m0", g_variant_new_int32(3), NULL));
  g_assert_true(kv_service_set(f->service, "z", g_variant_new_int32(4), NULL));

  g_autoptr(KvPage) all = kv_service_select(f->service, "", TRUE, G_MAXSIZE, &filter, NULL);
  g_assert_cmpuint(all->keys->len, ==, 3);
  g_assert_cmpstr(g_ptr_array_index(all->keys, 1), ==, "m0");
  g_assert_cmpuint(hider.asked, <=, 5);

  hider.asked = 0;
  g_autoptr(KvPage) first =
      kv_service_page(f->service, "", "a", 1, FALSE, G_MAXSIZE, &filter, NULL);
  g_assert_cmpstr(g_ptr_array_index(first->keys, 0), ==, "m0");
  g_assert_cmpstr(first->next, ==, "m0");
  g_assert_cmpuint(hider.asked, <=, 5);
  g_autoptr(KvPage) under =
      kv_service_page(f->service, "m", NULL, 0, FALSE, G_MAXSIZE, &filter, NULL);
  g_assert_cmpuint(under->keys->len, ==, 1);
  g_assert_null(under->next);
  g_auto(GStrv) prefix_keys = kv_service_prefix_keys(f->service, "m/", &filter, NULL);
  g_assert_cmpuint(g_strv_length(prefix_keys), ==, 0);
}

/* The keys of a prefix for DeletePrefix: those the filter admits, at most a batch. */
static void test_prefix_keys(Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  const char *keys[] = {"app/a", "app/secret/b", "app/c", "other", NULL};
  const char *expected[] = {"app/a", "app/c", NULL};
  const KvKeyFilter app_secret = {not_secret, NULL, "app/secret/"};

  for (gsize i = 0; keys[i] != NULL; i++)
    g_assert_true(kv_service_set(f->service, keys[i], g_variant_new_int32((gint32)i), NULL));
  g_auto(GStrv) found = kv_service_prefix_keys(f->service, "app/", &app_secret, &error);
  g_assert_no_error(error);
  g_assert_cmpstrv(found, expected);
  g_auto(GStrv) none = kv_service_prefix_keys(f->service, "nothing/", NULL, &error);
  g_assert_no_error(error);
  g_assert_cmpuint(g_strv_length(none), ==, 0);

  GVariantBuilder many;
  g_variant_builder_init(&many, G_VARIANT_TYPE("a{sv}"));
  for (guint i = 0; i < KV_BATCH_MAX_KEYS; i++) {
    g_autofree char *key = g_strdup_printf("big/%05u", i);
    g_variant_builder_add(&many, "{sv}", key, g_variant_new_boolean(TRUE));
  }
  guint64 revision;
  g_assert_true(set_many(f, g_variant_builder_end(&many), &revision, &error));
  g_auto(GStrv) batch = kv_service_prefix_keys(f->service, "big/", NULL, &error);
  g_assert_cmpuint(g_strv_length(batch), ==, KV_BATCH_MAX_KEYS);
  g_assert_true(kv_service_set(f->service, "big/more", g_variant_new_boolean(TRUE), NULL));
  g_assert_null(kv_service_prefix_keys(f->service, "big/", NULL, &error));
  g_assert_error(error, KV_ERROR, KV_ERROR_TOO_LARGE);
  g_assert_nonnull(strstr(error->message, "More than 5000 keys start with 'big/'"));
}

int main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
#define ADD(path, func, limit)                                                                     \
  g_test_add("/service/" path, Fixture, GSIZE_TO_POINTER(limit), setup, func, teardown)
  ADD("set-get", test_set_get, 0);
  ADD("get-missing", test_get_missing, 0);
  ADD("key-limits", test_key_limits, 0);
  ADD("size-limit", test_size_limit, 1024);
  ADD("increment-grows-past-limit", test_increment_grows_past_limit, 3);
  ADD("file-descriptors-refused", test_file_descriptors_refused, 0);
  ADD("exists-delete", test_exists_delete, 0);
  ADD("increment-stores", test_increment_stores, 0);
  ADD("failed-increment-changes-nothing", test_failed_increment_changes_nothing, 0);
  ADD("batches-and-change-order", test_batches_and_change_order, 0);
  ADD("bad-batch-changes-nothing", test_bad_batch_changes_nothing, 0);
  ADD("compare-and-set", test_compare_and_set, 0);
  ADD("filtered-reads", test_filtered_reads, 0);
  ADD("filtered-reads-skip", test_filtered_reads_skip, 0);
  ADD("prefix-keys", test_prefix_keys, 0);
#undef ADD
  return g_test_run();
}
