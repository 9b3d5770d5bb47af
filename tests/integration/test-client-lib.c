/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libkvstore (KvStoreClient) against a real kvstored on a private bus: each call, sync
 * and async, and errors in KV_STORE_ERROR with kvstored's own message. */

#include "kv-test-bus.h"

#include <kvstore/kvstore.h>

static KvStoreClient *client_of(KvTestBus *bus)
{
  return kv_store_client_new_for_connection(bus->connection);
}

static void test_calls_sync(KvTestBus *bus, gconstpointer data)
{
  g_autoptr(KvStoreClient) client = client_of(bus);
  g_autoptr(GError) error = NULL;
  guint64 revision = 0, set_revision = 0;
  gint64 counted = 0;
  gboolean existed = FALSE;

  g_assert_true(
      kv_store_client_set_sync(client, "app/a", g_variant_new_string("one"), NULL, &error));
  g_assert_no_error(error);
  g_autoptr(GVariant) value = kv_store_client_get_sync(client, "app/a", &revision, NULL, &error);
  g_assert_no_error(error);
  g_assert_cmpstr(g_variant_get_string(value, NULL), ==, "one");
  g_assert_cmpuint(revision, >, 0);

  g_assert_true(kv_store_client_compare_and_set_sync(
      client, "app/a", revision, g_variant_new_string("two"), &set_revision, NULL, &error));
  g_assert_cmpuint(set_revision, ==, revision + 1);
  g_assert_true(kv_store_client_increment_sync(client, "app/n", 5, &counted, NULL, &error));
  g_assert_cmpint(counted, ==, 5);
  g_assert_true(kv_store_client_set_many_sync(
      client, g_variant_new_parsed("{'app/b': <1>, 'app/c': <2>}"), &set_revision, NULL, &error));
  g_assert_cmpuint(set_revision, ==, revision + 3);
  g_assert_true(kv_store_client_delete_sync(client, "app/b", &existed, NULL, &error));
  g_assert_true(existed);
  g_assert_true(kv_store_client_delete_sync(client, "app/b", &existed, NULL, &error));
  g_assert_false(existed);
  g_assert_no_error(error);
}

static void test_errors(KvTestBus *bus, gconstpointer data)
{
  g_autoptr(KvStoreClient) client = client_of(bus);
  g_autoptr(GError) missing = NULL, conflict = NULL, overflow = NULL, empty = NULL;

  g_assert_null(kv_store_client_get_sync(client, "nowhere", NULL, NULL, &missing));
  g_assert_error(missing, KV_STORE_ERROR, KV_STORE_ERROR_NOT_FOUND);
  g_assert_cmpstr(missing->message, ==, "Key 'nowhere' not found");
  g_assert_false(kv_store_client_compare_and_set_sync(client, "nowhere", 7, g_variant_new_int32(1),
                                                      NULL, NULL, &conflict));
  g_assert_error(conflict, KV_STORE_ERROR, KV_STORE_ERROR_CONFLICT);
  g_assert_true(kv_store_client_set_sync(client, "big", g_variant_new_byte(250), NULL, NULL));
  g_assert_false(kv_store_client_increment_sync(client, "big", 10, NULL, NULL, &overflow));
  g_assert_error(overflow, KV_STORE_ERROR, KV_STORE_ERROR_OVERFLOW);
  g_assert_false(kv_store_client_set_sync(client, "", g_variant_new_int32(1), NULL, &empty));
  g_assert_error(empty, KV_STORE_ERROR, KV_STORE_ERROR_INVALID_KEY);
}

typedef struct {
  KvStoreClient *client;
  GMainLoop *loop;
  GVariant *value;
  guint64 revision;
  GError *error;
} Async;

static void on_got(GObject *source, GAsyncResult *result, gpointer user_data)
{
  Async *async = user_data;

  async->value = kv_store_client_get_finish(async->client, result, &async->revision, &async->error);
  g_main_loop_quit(async->loop);
}

static void on_set(GObject *source, GAsyncResult *result, gpointer user_data)
{
  Async *async = user_data;

  g_assert_true(kv_store_client_set_finish(async->client, result, &async->error));
  kv_store_client_get(async->client, "async", NULL, on_got, async);
}

static void test_calls_async(KvTestBus *bus, gconstpointer data)
{
  g_autoptr(KvStoreClient) client = client_of(bus);
  g_autoptr(GMainLoop) loop = g_main_loop_new(NULL, FALSE);
  Async async = {client, loop, NULL, 0, NULL};

  kv_store_client_set(client, "async", g_variant_new_int64(42), NULL, on_set, &async);
  g_main_loop_run(loop);
  g_assert_no_error(async.error);
  g_assert_cmpint(g_variant_get_int64(async.value), ==, 42);
  g_assert_cmpuint(async.revision, >, 0);
  g_variant_unref(async.value);

  async.value = NULL;
  kv_store_client_get(client, "nowhere", NULL, on_got, &async);
  g_main_loop_run(loop);
  g_assert_null(async.value);
  g_assert_error(async.error, KV_STORE_ERROR, KV_STORE_ERROR_NOT_FOUND);
  g_clear_error(&async.error);
}

static void keep_result(GObject *source, GAsyncResult *result, gpointer user_data)
{
  *(GAsyncResult **)user_data = g_object_ref(result);
}

/* The result of the call just started with keep_result() and @slot. */
static GAsyncResult *wait_for(GAsyncResult **slot)
{
  while (*slot == NULL)
    g_main_context_iteration(NULL, TRUE);
  GAsyncResult *result = *slot;
  *slot = NULL;
  return result;
}

/* The writes' asynchronous forms: a batch, compare-and-set (made, then refused),
 * increment and delete, each answered through its _finish function. */
static void test_writes_async(KvTestBus *bus, gconstpointer data)
{
  g_autoptr(KvStoreClient) client = client_of(bus);
  g_autoptr(GError) error = NULL;
  GAsyncResult *slot = NULL;
  guint64 batch = 0, swapped = 0;
  GVariantBuilder entries;

  g_variant_builder_init(&entries, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add(&entries, "{sv}", "w/a", g_variant_new_string("one"));
  g_variant_builder_add(&entries, "{sv}", "w/b", g_variant_new_int64(5));
  kv_store_client_set_many(client, g_variant_builder_end(&entries), NULL, keep_result, &slot);
  g_autoptr(GAsyncResult) set = wait_for(&slot);
  g_assert_true(kv_store_client_set_many_finish(client, set, &batch, &error));
  g_assert_cmpuint(batch, >, 0);

  kv_store_client_compare_and_set(client, "w/a", batch, g_variant_new_string("two"), NULL,
                                  keep_result, &slot);
  g_autoptr(GAsyncResult) cas = wait_for(&slot);
  g_assert_true(kv_store_client_compare_and_set_finish(client, cas, &swapped, &error));
  g_assert_cmpuint(swapped, ==, batch + 1);
  kv_store_client_compare_and_set(client, "w/a", batch, g_variant_new_string("three"), NULL,
                                  keep_result, &slot);
  g_autoptr(GAsyncResult) stale = wait_for(&slot);
  g_assert_false(kv_store_client_compare_and_set_finish(client, stale, NULL, &error));
  g_assert_error(error, KV_STORE_ERROR, KV_STORE_ERROR_CONFLICT);
  g_clear_error(&error);

  gint64 counter = 0;
  kv_store_client_increment(client, "w/b", 3, NULL, keep_result, &slot);
  g_autoptr(GAsyncResult) incremented = wait_for(&slot);
  g_assert_true(kv_store_client_increment_finish(client, incremented, &counter, &error));
  g_assert_cmpint(counter, ==, 8);

  gboolean existed = FALSE;
  kv_store_client_delete(client, "w/a", NULL, keep_result, &slot);
  g_autoptr(GAsyncResult) deleted = wait_for(&slot);
  g_assert_true(kv_store_client_delete_finish(client, deleted, &existed, &error));
  g_assert_true(existed);
  g_autoptr(GVariant) gone = kv_store_client_get_sync(client, "w/a", NULL, NULL, &error);
  g_assert_error(error, KV_STORE_ERROR, KV_STORE_ERROR_NOT_FOUND);
}

/* The view's "changed" signals, as "KEY=VALUE" or "KEY deleted". */
static void on_view_changed(KvStoreView *view, const char *key, GVariant *value, guint64 revision,
                            gpointer user_data)
{
  g_autofree char *text = value != NULL ? g_variant_print(value, FALSE) : NULL;

  g_ptr_array_add(user_data, value != NULL ? g_strdup_printf("%s=%s", key, text)
                                           : g_strdup_printf("%s deleted", key));
}

/* Iterates until @seen holds @n, then a little longer for any extra. */
static void wait_seen(GPtrArray *seen, guint n)
{
  gint64 deadline = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;

  while (seen->len < n) {
    g_assert_cmpint(g_get_monotonic_time(), <, deadline);
    if (!g_main_context_iteration(NULL, FALSE))
      g_usleep(1000);
  }
  gint64 settle = g_get_monotonic_time() + G_USEC_PER_SEC / 5;
  while (g_get_monotonic_time() < settle)
    g_main_context_iteration(NULL, FALSE);
}

static char *joined(GPtrArray *seen)
{
  g_ptr_array_add(seen, NULL);
  char *text = g_strjoinv(" ", (char **)seen->pdata);
  g_ptr_array_remove_index(seen, seen->len - 1);
  return text;
}

/* A view of app/: filled, then told of each real change under its prefix alone, and
 * still following after kvstored restarted under it. */
static void test_view(KvTestBus *bus, gconstpointer data)
{
  g_autoptr(KvStoreClient) client = client_of(bus);
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) seen = g_ptr_array_new_with_free_func(g_free);

  g_assert_true(kv_store_client_set_many_sync(
      client, g_variant_new_parsed("{'app/a': <1>, 'app/b': <2>, 'other': <3>}"), NULL, NULL,
      &error));
  g_autoptr(KvStoreView) view = kv_store_view_new_sync(client, "app/", NULL, &error);
  g_assert_no_error(error);
  g_auto(GStrv) keys = kv_store_view_list_keys(view);
  g_autofree char *listed = g_strjoinv(",", keys);
  g_assert_cmpstr(listed, ==, "app/a,app/b");
  g_autoptr(GVariant) b = kv_store_view_lookup(view, "app/b");
  g_assert_cmpint(g_variant_get_int32(b), ==, 2);
  g_assert_null(kv_store_view_lookup(view, "other"));
  g_signal_connect(view, "changed", G_CALLBACK(on_view_changed), seen);

  /* The same value again is no change; another prefix is not the view's. */
  g_assert_true(kv_store_client_set_sync(client, "app/a", g_variant_new_int32(1), NULL, NULL));
  g_assert_true(kv_store_client_set_sync(client, "other", g_variant_new_int32(4), NULL, NULL));
  g_assert_true(kv_store_client_set_sync(client, "app/a", g_variant_new_int32(5), NULL, NULL));
  g_assert_true(kv_store_client_delete_sync(client, "app/b", NULL, NULL, NULL));
  wait_seen(seen, 2);
  g_autofree char *first = joined(seen);
  g_assert_cmpstr(first, ==, "app/a=5 app/b deleted");

  /* kvstored restarts: the view subscribes again from where it was. */
  kv_test_bus_stop_daemon(bus);
  g_assert_true(kv_store_client_set_sync(client, "app/c", g_variant_new_int32(6), NULL, NULL));
  wait_seen(seen, 3);
  g_assert_true(kv_store_client_set_sync(client, "app/c", g_variant_new_int32(7), NULL, NULL));
  wait_seen(seen, 4);
  g_autofree char *after = joined(seen);
  g_assert_cmpstr(after, ==, "app/a=5 app/b deleted app/c=6 app/c=7");
  g_autoptr(GVariant) c = kv_store_view_lookup(view, "app/c");
  g_assert_cmpint(g_variant_get_int32(c), ==, 7);
}

int main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
#define ADD(path, func)                                                                            \
  g_test_add("/client-lib/" path, KvTestBus, NULL, kv_test_bus_setup, func, kv_test_bus_teardown)
  ADD("calls-sync", test_calls_sync);
  ADD("errors", test_errors);
  ADD("calls-async", test_calls_async);
  ADD("writes-async", test_writes_async);
  ADD("view", test_view);
#undef ADD
  return g_test_run();
}
