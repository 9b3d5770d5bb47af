/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Leases and locks without a bus: the tables kvstored derives from its own keys, and the
 * service's plans that write those keys with the writes they go with. */

#include "kv-error.h"
#include "kv-memory-repository.h"
#include "kv-service.h"

#include <string.h>

static const KvWriter alice = {1000, ":1.1", "machine/bus"};
static const KvWriter bob = {1001, ":1.2", "machine/bus"};
static const KvWriter root = {0, ":1.3", "machine/bus"};

/* Runs @write on @service, which answers at once; the error, or NULL. */
static void done(KvWrite *write, const GError *error, gpointer user_data)
{
  GError **out = user_data;

  *out = error != NULL ? g_error_copy(error) : NULL;
}

static GError *submit(KvService *service, KvWrite *write)
{
  GError *error = (GError *)1;

  kv_service_submit(service, write, done, &error);
  g_assert_true(error != (GError *)1);
  return error;
}

static void submit_ok(KvService *service, KvWrite *write)
{
  g_autoptr(GError) error = submit(service, write);

  g_assert_no_error(error);
}

static guint64 grant(KvService *service, const KvWriter *writer, guint64 ttl_ms, gboolean bind)
{
  KvWrite write = {.kind = KV_WRITE_LEASE_GRANT, .ttl_ms = ttl_ms, .bind = bind, .writer = writer};

  submit_ok(service, &write);
  return write.granted;
}

static GError *set_leased(KvService *service, const KvWriter *writer, const char *key,
                          guint64 lease)
{
  g_autoptr(GVariant) value = g_variant_ref_sink(g_variant_new_int32(1));
  KvWrite write = {
      .kind = KV_WRITE_SET, .key = key, .value = value, .lease = lease, .writer = writer};

  return submit(service, &write);
}

static gboolean append_key(const char *key, GVariant *value, guint64 revision, gpointer user_data)
{
  GString *out = user_data;

  g_string_append_printf(out, "%s%s", out->len > 0 ? " " : "", key);
  return TRUE;
}

/* The keys of the store, space-separated. */
static char *all_keys(KvRepository *repository)
{
  GString *out = g_string_new(NULL);

  kv_repository_foreach(repository, "", NULL, FALSE, append_key, out);
  return g_string_free(out, FALSE);
}

static void test_lease_keys(void)
{
  g_autoptr(KvRepository) repository = kv_memory_repository_new();
  g_autoptr(KvService) service = kv_service_new(repository, 1024);
  KvLeases *leases = kv_service_get_leases(service);

  guint64 lease = grant(service, &alice, 60000, FALSE);
  g_assert_cmpuint(lease, ==, 1);
  g_assert_no_error(set_leased(service, &alice, "app/a", lease));
  g_assert_no_error(set_leased(service, &alice, "app/b", lease));
  g_autofree char *keys = all_keys(repository);
  g_assert_cmpstr(keys, ==,
                  ".kvstore/lease/1 .kvstore/lease/1/app/a .kvstore/lease/1/app/b "
                  "app/a app/b");
  g_assert_cmpuint(kv_leases_of_key(leases, "app/a"), ==, lease);
  const KvLease *found = kv_leases_lookup(leases, lease);
  g_assert_nonnull(found);
  g_assert_cmpuint(found->uid, ==, 1000);
  g_assert_cmpuint(g_hash_table_size(found->keys), ==, 2);
  g_assert_cmpint(found->deadline, >, g_get_real_time());
  g_assert_cmpint(kv_leases_next_deadline(leases), ==, found->deadline);

  /* A plain Set takes the key off its lease; an Increment keeps it on. */
  g_assert_no_error(set_leased(service, NULL, "app/a", 0));
  g_assert_cmpuint(kv_leases_of_key(leases, "app/a"), ==, 0);
  KvWrite increment = {.kind = KV_WRITE_INCREMENT, .key = "app/b", .delta = 1};
  submit_ok(service, &increment);
  g_assert_cmpuint(kv_leases_of_key(leases, "app/b"), ==, lease);

  /* Another uid may not use it, nor revoke it; root may. */
  g_autoptr(GError) refused = set_leased(service, &bob, "app/c", lease);
  g_assert_error(refused, KV_ERROR, KV_ERROR_ACCESS_DENIED);
  KvWrite revoke = {.kind = KV_WRITE_LEASE_REVOKE, .lease = lease, .writer = &bob};
  g_autoptr(GError) not_bobs = submit(service, &revoke);
  g_assert_error(not_bobs, KV_ERROR, KV_ERROR_ACCESS_DENIED);
  guint64 before = kv_service_revision(service);
  revoke.writer = &root;
  submit_ok(service, &revoke);
  g_assert_cmpuint(revoke.deleted, ==, 1);
  g_assert_cmpuint(kv_service_revision(service), ==, before + 1);
  g_autofree char *left = all_keys(repository);
  g_assert_cmpstr(left, ==, "app/a");
  g_assert_null(kv_leases_lookup(leases, lease));
  g_assert_cmpint(kv_leases_next_deadline(leases), ==, 0);
  g_assert_cmpuint(kv_leases_count_uid(leases, 1000), ==, 0);

  g_autoptr(GError) gone = set_leased(service, &alice, "app/d", lease);
  g_assert_error(gone, KV_ERROR, KV_ERROR_LEASE_NOT_FOUND);
}

/* A write with a TTL grants its lease and writes the key in one revision. */
static void test_set_with_ttl(void)
{
  g_autoptr(KvRepository) repository = kv_memory_repository_new();
  g_autoptr(KvService) service = kv_service_new(repository, 1024);
  g_autoptr(GVariant) value = g_variant_ref_sink(g_variant_new_int32(1));
  KvWrite write = {
      .kind = KV_WRITE_SET, .key = "t", .value = value, .ttl_ms = 50, .writer = &alice};

  submit_ok(service, &write);
  g_assert_cmpuint(write.revision, ==, 1);
  g_assert_cmpuint(write.granted, ==, 1);
  KvLeases *leases = kv_service_get_leases(service);
  g_autoptr(GArray) none = kv_leases_expired(leases, g_get_real_time());
  g_assert_cmpuint(none->len, ==, 0);
  g_autoptr(GArray) expired = kv_leases_expired(leases, g_get_real_time() + 60 * 1000);
  g_assert_cmpuint(expired->len, ==, 1);
  g_assert_cmpuint(g_array_index(expired, guint64, 0), ==, 1);
}

static void test_errors_change_nothing(void)
{
  g_autoptr(KvRepository) repository = kv_memory_repository_new();
  g_autoptr(KvService) service = kv_service_new(repository, 1024);
  g_autoptr(GVariant) value = g_variant_ref_sink(g_variant_new_int32(1));
  KvWrite writes[] = {
      {.kind = KV_WRITE_LEASE_GRANT, .writer = &alice},
      {.kind = KV_WRITE_LEASE_GRANT, .ttl_ms = G_GUINT64_CONSTANT(1) << 40, .writer = &alice},
      {.kind = KV_WRITE_LEASE_GRANT, .bind = TRUE},
      {.kind = KV_WRITE_SET, .key = ".kvstore/x", .value = value},
      {.kind = KV_WRITE_DELETE_MANY, .keys = (const char *const[]){"a", ".kvstore/lease/1", NULL}},
      {.kind = KV_WRITE_LEASE_KEEP_ALIVE, .lease = 7, .writer = &alice},
      {.kind = KV_WRITE_LOCK, .name = "", .writer = &alice},
      {.kind = KV_WRITE_UNLOCK, .name = "l", .token = 3, .writer = &alice},
  };
  const int codes[] = {KV_ERROR_INVALID_ARGS, KV_ERROR_INVALID_ARGS, KV_ERROR_INVALID_ARGS,
                       KV_ERROR_INVALID_KEY,  KV_ERROR_INVALID_ARGS, KV_ERROR_LEASE_NOT_FOUND,
                       KV_ERROR_INVALID_KEY,  KV_ERROR_INVALID_ARGS};

  /* A reserved key that does not exist is nothing to delete: no error, no change. */
  for (gsize i = 0; i < G_N_ELEMENTS(writes); i++) {
    g_autoptr(GError) error = submit(service, &writes[i]);
    if (writes[i].kind == KV_WRITE_DELETE_MANY)
      g_assert_no_error(error);
    else
      g_assert_error(error, KV_ERROR, codes[i]);
  }
  g_assert_cmpuint(kv_service_revision(service), ==, 0);
}

static void test_quotas(void)
{
  g_autoptr(KvRepository) repository = kv_memory_repository_new();
  g_autoptr(KvService) service = kv_service_new(repository, 1024);
  KvWrite write = {.kind = KV_WRITE_LEASE_GRANT, .ttl_ms = 1000, .writer = &alice};

  for (int i = 0; i < KV_LEASES_PER_UID; i++)
    grant(service, &alice, 1000, FALSE);
  g_autoptr(GError) error = submit(service, &write);
  g_assert_error(error, KV_ERROR, KV_ERROR_QUOTA_EXCEEDED);
  /* Another uid has its own. */
  guint64 lease = grant(service, &bob, 1000, FALSE);

  kv_service_set_lease_max_keys(service, 3);
  for (int i = 0; i < 3; i++) {
    g_autofree char *key = g_strdup_printf("k%d", i);
    g_assert_no_error(set_leased(service, &bob, key, lease));
  }
  g_autoptr(GError) full = set_leased(service, &bob, "k3", lease);
  g_assert_error(full, KV_ERROR, KV_ERROR_QUOTA_EXCEEDED);
  /* A key already on the lease is rewritten. */
  g_assert_no_error(set_leased(service, &bob, "k0", lease));
}

/* Leases come back from the store's keys: a new service over the same repository. */
static void test_load(void)
{
  g_autoptr(KvRepository) repository = kv_memory_repository_new();
  guint64 ttl, bound;
  {
    g_autoptr(KvService) service = kv_service_new(repository, 1024);
    ttl = grant(service, &alice, 60000, FALSE);
    bound = grant(service, &bob, 0, TRUE);
    g_assert_no_error(set_leased(service, &alice, "a", ttl));
    g_assert_no_error(set_leased(service, &bob, "b", bound));
  }
  g_autoptr(KvService) service = kv_service_new(repository, 1024);
  KvLeases *leases = kv_service_get_leases(service);
  g_assert_cmpuint(kv_leases_count(leases), ==, 2);
  g_assert_cmpuint(kv_leases_of_key(leases, "a"), ==, ttl);
  g_assert_cmpuint(kv_leases_of_key(leases, "b"), ==, bound);
  g_autoptr(GArray) of_bob = kv_leases_bound(leases, ":1.2");
  g_assert_cmpuint(of_bob->len, ==, 1);
  g_assert_cmpuint(g_array_index(of_bob, guint64, 0), ==, bound);
  g_autoptr(GArray) of_nobody = kv_leases_bound(leases, ":1.9");
  g_assert_cmpuint(of_nobody->len, ==, 0);
  const KvLease *lease = kv_leases_lookup(leases, bound);
  g_assert_cmpstr(lease->bus, ==, "machine/bus");
  g_assert_cmpuint(lease->ttl_ms, ==, 0);
  g_assert_cmpint(lease->deadline, ==, 0);
}

/* Keys under the prefixes of other shapes are no lease nor lock. */
static void test_odd_keys_ignored(void)
{
  g_autoptr(KvLeases) leases = kv_leases_new();
  g_autoptr(KvLocks) locks = kv_locks_new();
  g_autoptr(GVariant) value = g_variant_ref_sink(g_variant_new_boolean(TRUE));
  const char *const odd[] = {".kvstore/lease/", ".kvstore/lease/0", ".kvstore/lease/x1",
                             ".kvstore/lease/12x", ".kvstore/lease/12/"};

  for (gsize i = 0; i < G_N_ELEMENTS(odd); i++)
    kv_leases_observe(leases, odd[i], value, 5);
  g_assert_cmpuint(kv_leases_count(leases), ==, 0);
  const char *const odd_locks[] = {".kvstore/lock/",        ".kvstore/lock/name",
                                   ".kvstore/lock/name/",   ".kvstore/lock/name/0",
                                   ".kvstore/lock/name/7x", ".kvstore/lock//7"};
  for (gsize i = 0; i < G_N_ELEMENTS(odd_locks); i++)
    kv_locks_observe(locks, odd_locks[i], value, 5);
  g_assert_cmpuint(kv_locks_holder(locks, "name", NULL), ==, 0);
  g_assert_cmpuint(kv_locks_queue_length(locks, ""), ==, 0);
}

static void on_grant(const char *name, guint64 lease, guint64 token, const char *peer,
                     const char *bus, gpointer user_data)
{
  GString *grants = user_data;

  g_string_append_printf(grants, "%s:%" G_GUINT64_FORMAT "@%" G_GUINT64_FORMAT "(%s) ", name, lease,
                         token, peer != NULL ? peer : "-");
}

static guint64 lock(KvService *service, const KvWriter *writer, const char *name, guint64 lease)
{
  KvWrite write = {.kind = KV_WRITE_LOCK, .name = name, .lease = lease, .writer = writer};

  submit_ok(service, &write);
  return write.revision;
}

static void test_locks_in_order(void)
{
  g_autoptr(KvRepository) repository = kv_memory_repository_new();
  g_autoptr(KvService) service = kv_service_new(repository, 1024);
  KvLocks *locks = kv_service_get_locks(service);
  g_autoptr(GString) grants = g_string_new(NULL);

  kv_locks_set_grant_func(locks, on_grant, grants);
  guint64 first = lock(service, &alice, "job", 0);
  guint64 second = lock(service, &bob, "job", 0);
  guint64 lease = grant(service, &alice, 60000, FALSE);
  guint64 third = lock(service, &alice, "job", lease);
  g_assert_cmpuint(first, <, second);
  g_assert_cmpuint(second, <, third);
  g_assert_cmpuint(kv_locks_holder(locks, "job", NULL), ==, first);
  g_assert_cmpuint(kv_locks_queue_length(locks, "job"), ==, 3);
  g_assert_cmpstr(grants->str, ==, "job:1@1(:1.1) ");

  /* Bob may not release Alice's place. */
  KvWrite unlock = {.kind = KV_WRITE_UNLOCK, .name = "job", .token = first, .writer = &bob};
  g_autoptr(GError) refused = submit(service, &unlock);
  g_assert_error(refused, KV_ERROR, KV_ERROR_ACCESS_DENIED);
  /* Her Unlock ends the lease Lock made for her; Bob holds it next. */
  unlock.writer = &alice;
  submit_ok(service, &unlock);
  g_assert_null(kv_leases_lookup(kv_service_get_leases(service), 1));
  g_assert_cmpuint(kv_locks_holder(locks, "job", NULL), ==, second);
  /* Bob's connection leaves: the third, on a lease of its own, holds it. */
  KvWrite end = {.kind = KV_WRITE_LEASE_REVOKE, .lease = second};
  submit_ok(service, &end);
  g_assert_cmpuint(kv_locks_holder(locks, "job", NULL), ==, third);
  g_autofree char *expected = g_strdup_printf("job:1@1(:1.1) job:2@2(:1.2) job:%" G_GUINT64_FORMAT
                                              "@%" G_GUINT64_FORMAT "(:1.1) ",
                                              lease, third);
  g_assert_cmpstr(grants->str, ==, expected);
  /* Unlocking a place on a lease granted before keeps the lease. */
  unlock.token = third;
  submit_ok(service, &unlock);
  g_assert_nonnull(kv_leases_lookup(kv_service_get_leases(service), lease));
  g_assert_cmpuint(kv_locks_holder(locks, "job", NULL), ==, 0);
  g_autofree char *keys = all_keys(repository);
  g_autofree char *record = g_strdup_printf(".kvstore/lease/%" G_GUINT64_FORMAT, lease);
  g_assert_cmpstr(keys, ==, record);
}

/* The queue comes back in token order, not key order ("10" sorts before "9"). */
static void test_locks_load_in_token_order(void)
{
  g_autoptr(KvRepository) repository = kv_memory_repository_new();
  g_autoptr(GVariant) value = g_variant_ref_sink(g_variant_new_parsed("@a{sv} {}"));
  KvChange nine = {".kvstore/lock/x/9", value};
  KvChange ten = {".kvstore/lock/x/10", value};

  g_assert_true(kv_repository_apply(repository, &nine, 1, NULL));
  g_assert_true(kv_repository_apply(repository, &ten, 1, NULL));
  g_autoptr(KvLocks) locks = kv_locks_new();
  kv_locks_load(locks, repository);
  guint64 lease;
  g_assert_cmpuint(kv_locks_holder(locks, "x", &lease), ==, 1);
  g_assert_cmpuint(lease, ==, 9);
  g_assert_cmpuint(kv_locks_token_of(locks, "x", 10), ==, 2);
  g_assert_cmpuint(kv_locks_lease_of(locks, "x", 2), ==, 10);
}

int main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/leases/lease-keys", test_lease_keys);
  g_test_add_func("/leases/set-with-ttl", test_set_with_ttl);
  g_test_add_func("/leases/errors-change-nothing", test_errors_change_nothing);
  g_test_add_func("/leases/quotas", test_quotas);
  g_test_add_func("/leases/load", test_load);
  g_test_add_func("/leases/odd-keys-ignored", test_odd_keys_ignored);
  g_test_add_func("/leases/locks-in-order", test_locks_in_order);
  g_test_add_func("/leases/locks-load-in-token-order", test_locks_load_in_token_order);
  return g_test_run();
}
