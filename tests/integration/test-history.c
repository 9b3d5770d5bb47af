/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Resuming from a revision (ChangesSince, SubscribeSince) against a real kvstored: a
 * watcher that stopped for a thousand changes gets exactly those, with writes going on
 * while it subscribes, across a restart and compactions, and a clear Compacted when it
 * asks too far back. */

#include "kv-config.h"
#include "kv-test-bus.h"

#include <string.h>

/* A change as the tests compare them: "REVISION KEY VALUE" or "REVISION KEY deleted". */
static char *describe(const char *key, gboolean deleted, GVariant *value, guint64 revision)
{
  g_autofree char *text = deleted ? g_strdup("deleted") : g_variant_print(value, FALSE);

  return g_strdup_printf("%" G_GUINT64_FORMAT " %s %s", revision, key, text);
}

/* Appends each change of an a(sbvt) to @lines. */
static void add_changes(GPtrArray *lines, GVariant *changes)
{
  GVariantIter iter;
  const char *key;
  gboolean deleted;
  GVariant *value;
  guint64 revision;

  g_variant_iter_init(&iter, changes);
  while (g_variant_iter_next(&iter, "(&sbvt)", &key, &deleted, &value, &revision)) {
    g_ptr_array_add(lines, describe(key, deleted, value, revision));
    g_variant_unref(value);
  }
}

static guint64 store_revision(KvTestBus *bus)
{
  g_autoptr(GVariant) revision = kv_test_get_property(bus->connection, "Revision");

  return g_variant_get_uint64(revision);
}

/* Every change under @prefix after @since, read page by page (@limit a page); NULL with
 * @error when kvstored refuses. */
static GPtrArray *read_changes(KvTestBus *bus, const char *prefix, guint64 since, guint32 limit,
                               GError **error)
{
  g_autoptr(GPtrArray) lines = g_ptr_array_new_with_free_func(g_free);
  g_autofree char *after = g_strdup("");
  gboolean more = TRUE;

  while (more) {
    g_autoptr(GVariant) reply = kv_test_bus_call(
        bus, "ChangesSince", g_variant_new("(stsu)", prefix, since, after, limit), error);
    if (reply == NULL)
      return NULL;
    g_autoptr(GVariant) changes = g_variant_get_child_value(reply, 0);
    g_assert_cmpuint(g_variant_n_children(changes), <=, limit > 0 ? limit : 1000);
    add_changes(lines, changes);
    g_free(after);
    g_variant_get_child(reply, 1, "t", &since);
    g_variant_get_child(reply, 2, "s", &after);
    g_variant_get_child(reply, 3, "b", &more);
  }
  return g_steal_pointer(&lines);
}

/* A connection of its own that receives the Changes signals sent to it. */
typedef struct {
  GDBusConnection *connection;
  GPtrArray *lines;
  guint id;
} Watcher;

static void on_changes(GDBusConnection *connection, const char *sender, const char *path,
                       const char *interface, const char *member, GVariant *parameters,
                       gpointer user_data)
{
  Watcher *watcher = user_data;
  g_autoptr(GVariant) changes = g_variant_get_child_value(parameters, 0);

  add_changes(watcher->lines, changes);
}

static void watcher_connect(KvTestBus *bus, Watcher *watcher)
{
  watcher->connection = kv_test_bus_connect(kv_test_bus_address(bus));
  watcher->lines = g_ptr_array_new_with_free_func(g_free);
  watcher->id = g_dbus_connection_signal_subscribe(
      watcher->connection, KV_BUS_NAME, KV_INTERFACE, "Changes", KV_OBJECT_PATH, NULL,
      G_DBUS_SIGNAL_FLAGS_NONE, on_changes, watcher, NULL);
}

/* SubscribeSince on the watcher's connection; the revision its backlog reaches. */
static guint64 subscribe_since(Watcher *watcher, const char *prefix, guint64 since, GError **error)
{
  guint64 revision = 0;
  g_autoptr(GVariant) reply =
      g_dbus_connection_call_sync(watcher->connection, KV_BUS_NAME, KV_OBJECT_PATH, KV_INTERFACE,
                                  "SubscribeSince", g_variant_new("(st)", prefix, since),
                                  G_VARIANT_TYPE("(t)"), G_DBUS_CALL_FLAGS_NONE, -1, NULL, error);

  if (reply != NULL)
    g_variant_get(reply, "(t)", &revision);
  return revision;
}

/* Iterates until the watcher has @n changes (and a little longer, for any extra). */
static void watcher_wait(Watcher *watcher, guint n)
{
  gint64 deadline = g_get_monotonic_time() + 30 * G_USEC_PER_SEC;

  while (watcher->lines->len < n) {
    g_assert_cmpint(g_get_monotonic_time(), <, deadline);
    if (!g_main_context_iteration(NULL, FALSE))
      g_usleep(1000);
  }
  gint64 settle = g_get_monotonic_time() + G_USEC_PER_SEC / 5;
  while (g_get_monotonic_time() < settle)
    g_main_context_iteration(NULL, FALSE);
}

static void watcher_close(Watcher *watcher)
{
  g_dbus_connection_signal_unsubscribe(watcher->connection, watcher->id);
  g_dbus_connection_close_sync(watcher->connection, NULL, NULL);
  g_clear_object(&watcher->connection);
  g_ptr_array_unref(watcher->lines);
}

static void assert_same_lines(GPtrArray *got, GPtrArray *expected)
{
  for (guint i = 0; i < MIN(got->len, expected->len); i++)
    g_assert_cmpstr(g_ptr_array_index(got, i), ==, g_ptr_array_index(expected, i));
  g_assert_cmpuint(got->len, ==, expected->len);
}

static void set(KvTestBus *bus, const char *key, gint32 value)
{
  g_autoptr(GVariant) reply =
      kv_test_bus_call_ok(bus, "Set", g_variant_new("(sv)", key, g_variant_new_int32(value)));
}

/* @n changes, one revision each, from the store at @base: sets of app/ keys, a batch of
 * two every seventh, a deletion of those two every fiftieth, and keys outside app/ every
 * tenth. Returns the changes under app/ as the history should give them. */
static GPtrArray *make_changes(KvTestBus *bus, guint n, guint64 base)
{
  GPtrArray *expected = g_ptr_array_new_with_free_func(g_free);

  for (guint i = 0; i < n; i++) {
    guint64 revision = base + i + 1;
    g_autoptr(GVariant) one = g_variant_ref_sink(g_variant_new_int32((gint32)i));
    if (i % 7 == 0) {
      g_autoptr(GVariant) reply = kv_test_bus_call_ok(
          bus, "SetMany", g_variant_new_parsed("({'app/b': <%i>, 'app/c': <%i>},)", i, i));
      g_ptr_array_add(expected, describe("app/b", FALSE, one, revision));
      g_ptr_array_add(expected, describe("app/c", FALSE, one, revision));
    } else if (i % 50 == 49) {
      const char *const keys[] = {"app/b", "app/c", NULL};
      g_autoptr(GVariant) reply =
          kv_test_bus_call_ok(bus, "DeleteMany", g_variant_new("(^as)", keys));
      g_ptr_array_add(expected, describe("app/b", TRUE, NULL, revision));
      g_ptr_array_add(expected, describe("app/c", TRUE, NULL, revision));
    } else if (i % 10 == 3) {
      set(bus, "other/x", (gint32)i);
    } else {
      g_autofree char *key = g_strdup_printf("app/k%02u", i % 13);
      set(bus, key, (gint32)i);
      g_ptr_array_add(expected, describe(key, FALSE, one, revision));
    }
  }
  g_assert_cmpuint(store_revision(bus), ==, base + n);
  return expected;
}

static void test_resume_after_a_thousand(KvTestBus *bus, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  Watcher watcher;

  set(bus, "app/before", 1);
  guint64 seen = store_revision(bus);
  g_autoptr(GPtrArray) expected = make_changes(bus, 1000, seen);

  /* Pulled in pages of 97, which end inside batches. */
  g_autoptr(GPtrArray) pulled = read_changes(bus, "app/", seen, 97, &error);
  g_assert_no_error(error);
  assert_same_lines(pulled, expected);

  /* Pushed: the same, then one live change, once. */
  watcher_connect(bus, &watcher);
  guint64 reached = subscribe_since(&watcher, "app/", seen, &error);
  g_assert_no_error(error);
  g_assert_cmpuint(reached, ==, seen + 1000);
  set(bus, "app/live", 7);
  g_ptr_array_add(expected, g_strdup_printf("%" G_GUINT64_FORMAT " app/live 7", seen + 1001));
  watcher_wait(&watcher, expected->len);
  assert_same_lines(watcher.lines, expected);
  watcher_close(&watcher);
}

/* Counts an answered call. */
static void on_set_done(GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply =
      g_dbus_connection_call_finish(G_DBUS_CONNECTION(source), result, &error);

  g_assert_no_error(error);
  (*(guint *)user_data)++;
}

static void test_no_gap_while_writing(KvTestBus *bus, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  guint done = 0;
  Watcher watcher;

  guint64 seen = store_revision(bus);
  watcher_connect(bus, &watcher);
  /* 600 writes from one connection, 100 in flight; the watcher subscribes in their midst,
   * so that some are committed before, some while, some after. */
  for (guint i = 0; i < 600; i++) {
    g_autofree char *key = g_strdup_printf("app/n%03u", i);
    /* The bus lets a connection wait for at most 128 replies. */
    while (i - done >= 100)
      g_main_context_iteration(NULL, TRUE);
    g_dbus_connection_call(bus->connection, KV_BUS_NAME, KV_OBJECT_PATH, KV_INTERFACE, "Set",
                           g_variant_new("(sv)", key, g_variant_new_int32((gint32)i)), NULL,
                           G_DBUS_CALL_FLAGS_NONE, -1, NULL, on_set_done, &done);
    if (i == 300) {
      subscribe_since(&watcher, "app/", seen, &error);
      g_assert_no_error(error);
    }
  }
  while (done < 600)
    g_main_context_iteration(NULL, TRUE);
  watcher_wait(&watcher, 600);
  /* Every write once, in revision order. On etcd, Sets that come together share a
   * revision, and writes of different keys are not kept in the order they were sent. */
  g_autoptr(GHashTable) keys = g_hash_table_new(g_str_hash, g_str_equal);
  guint64 last = seen;
  for (guint i = 0; i < watcher.lines->len; i++) {
    const char *line = g_ptr_array_index(watcher.lines, i);
    guint64 revision = g_ascii_strtoull(line, NULL, 10);
    g_assert_cmpuint(revision, >, seen);
    g_assert_cmpuint(revision, >=, last);
    g_assert_true(g_hash_table_add(keys, strchr(line, ' ')));
    last = revision;
    if (!kv_test_on_etcd()) {
      g_autofree char *expected =
          g_strdup_printf("%" G_GUINT64_FORMAT " app/n%03u %u", seen + i + 1, i, i);
      g_assert_cmpstr(line, ==, expected);
    }
  }
  g_assert_cmpuint(watcher.lines->len, ==, 600);
  watcher_close(&watcher);
}

static void assert_refused(KvTestBus *bus, guint64 since, const char *name, const char *part)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) lines = read_changes(bus, "", since, 0, &error);
  Watcher watcher;

  g_assert_null(lines);
  g_autofree char *remote = g_dbus_error_get_remote_error(error);
  g_assert_cmpstr(remote, ==, name);
  g_test_message("%s", error->message);
  if (strstr(error->message, part) == NULL)
    g_error("'%s' does not say '%s'", error->message, part);
  g_clear_error(&error);
  watcher_connect(bus, &watcher);
  subscribe_since(&watcher, "", since, &error);
  g_assert_nonnull(error);
  g_autofree char *again = g_dbus_error_get_remote_error(error);
  g_assert_cmpstr(again, ==, name);
  watcher_close(&watcher);
}

static void test_compacted(KvTestBus *bus, gconstpointer data)
{
  g_autoptr(GError) error = NULL;

  /* A write answered first: on etcd, kvstored's own barrier at its start (which takes a
   * revision of etcd's) is then behind. */
  set(bus, "app/before", 0);
  guint64 start = store_revision(bus);

  for (gint32 i = 0; i < 250; i++)
    set(bus, "app/k", i);
  /* The history keeps 100 changes: those after start + 150. */
  g_autofree char *oldest =
      g_strdup_printf("starts after revision %" G_GUINT64_FORMAT, start + 150);
  assert_refused(bus, start, "org.example.KVStore.Error.Compacted", oldest);
  assert_refused(bus, start + 149, "org.example.KVStore.Error.Compacted", oldest);
  assert_refused(bus, start + 251, "org.freedesktop.DBus.Error.InvalidArgs", "ahead of the store");
  g_autoptr(GPtrArray) kept = read_changes(bus, "app/", start + 150, 0, &error);
  g_assert_no_error(error);
  g_assert_cmpuint(kept->len, ==, 100);

  /* Pages are bounded: a page of more than a call takes is refused. */
  g_autoptr(GVariant) big = kv_test_bus_call(
      bus, "ChangesSince", g_variant_new("(stsu)", "", start + 150, "", 5001), &error);
  g_assert_null(big);
  g_autofree char *remote = g_dbus_error_get_remote_error(error);
  g_assert_cmpstr(remote, ==, "org.example.KVStore.Error.TooLarge");
}

static void test_across_restart_and_compactions(KvTestBus *bus, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *text = g_strnfill(200, 'x');

  /* On etcd, the history after the restart is etcd's own, read back. */
  set(bus, "app/first", 0);
  guint64 seen = store_revision(bus);
  /* 600 changes of over 200 bytes: the 16 KiB journal is folded into snapshots many
   * times, each written with the history's copy. */
  for (guint i = 0; i < 600; i++) {
    g_autofree char *key = g_strdup_printf("app/k%02u", i % 17);
    g_autoptr(GVariant) reply =
        kv_test_bus_call_ok(bus, "Set", g_variant_new("(sv)", key, g_variant_new_string(text)));
  }
  g_autoptr(GPtrArray) before = read_changes(bus, "app/", seen, 0, &error);
  g_assert_no_error(error);
  g_assert_cmpuint(before->len, ==, 600);

  kv_test_bus_stop_daemon(bus);
  g_autoptr(GPtrArray) after = read_changes(bus, "app/", seen, 0, &error);
  g_assert_no_error(error);
  assert_same_lines(after, before);
}

static void test_large_resume_bounded(KvTestBus *bus, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  Watcher watcher;
  guint pinged = 0;

  guint64 seen = store_revision(bus);
  /* 10,000 changes of 100-byte values in batches (etcd takes 128 operations in one
   * transaction at most): the history's default bound. */
  g_autofree char *text = g_strnfill(100, 'v');
  guint batch_keys = kv_test_on_etcd() ? 100 : 500;
  guint batches = 10000 / batch_keys;
  for (guint batch = 0; batch < batches; batch++) {
    GVariantBuilder entries;
    g_variant_builder_init(&entries, G_VARIANT_TYPE("a{sv}"));
    for (guint i = 0; i < batch_keys; i++) {
      g_autofree char *key = g_strdup_printf("bulk/%03u/%03u", batch, i);
      g_variant_builder_add(&entries, "{sv}", key, g_variant_new_string(text));
    }
    g_autoptr(GVariant) reply =
        kv_test_bus_call_ok(bus, "SetMany", g_variant_new("(a{sv})", &entries));
  }
  /* The whole history at once, while another caller pings: both answered. */
  watcher_connect(bus, &watcher);
  g_dbus_connection_call(bus->connection, KV_BUS_NAME, KV_OBJECT_PATH, "org.freedesktop.DBus.Peer",
                         "Ping", NULL, NULL, G_DBUS_CALL_FLAGS_NONE, -1, NULL, on_set_done,
                         &pinged);
  guint64 reached = subscribe_since(&watcher, "", seen, &error);
  g_assert_no_error(error);
  g_assert_cmpuint(reached, ==, seen + batches);
  watcher_wait(&watcher, 10000);
  g_assert_cmpuint(pinged, ==, 1);
  g_assert_cmpuint(watcher.lines->len, ==, 10000);
  watcher_close(&watcher);
}

/* A backlog of more than a connection may leave unread (64 MiB) is refused whole, and
 * subscribes nothing; ChangesSince pages through it. */
static void test_backlog_too_large(KvTestBus *bus, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *megabyte = g_strnfill(1000 * 1000, 'm');
  Watcher watcher;

  if (kv_test_on_etcd()) {
    g_test_skip("70 MB of values is more than a test's etcd member takes quickly");
    return;
  }
  guint64 seen = store_revision(bus);
  for (guint i = 0; i < 70; i++) {
    g_autofree char *key = g_strdup_printf("big/%02u", i);
    g_autoptr(GVariant) reply =
        kv_test_bus_call_ok(bus, "Set", g_variant_new("(sv)", key, g_variant_new_string(megabyte)));
  }
  watcher_connect(bus, &watcher);
  subscribe_since(&watcher, "big/", seen, &error);
  g_assert_nonnull(error);
  g_autofree char *remote = g_dbus_error_get_remote_error(error);
  g_assert_cmpstr(remote, ==, "org.freedesktop.DBus.Error.LimitsExceeded");
  g_assert_nonnull(strstr(error->message, "ChangesSince"));
  g_clear_error(&error);
  set(bus, "big/after", 1);
  watcher_wait(&watcher, 0);
  g_assert_cmpuint(watcher.lines->len, ==, 0);
  watcher_close(&watcher);

  g_autoptr(GPtrArray) pages = read_changes(bus, "big/", seen, 0, &error);
  g_assert_no_error(error);
  g_assert_cmpuint(pages->len, ==, 71);
}

/* A prefix or a key to resume after is at most a key's length. */
static void test_long_prefix(KvTestBus *bus, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *long_text = g_strnfill(4097, 'p');
  Watcher watcher;

  g_autoptr(GVariant) prefix = kv_test_bus_call(
      bus, "ChangesSince", g_variant_new("(stsu)", long_text, (guint64)0, "", 0), &error);
  g_assert_null(prefix);
  g_autofree char *remote = g_dbus_error_get_remote_error(error);
  g_assert_cmpstr(remote, ==, "org.example.KVStore.Error.TooLarge");
  g_clear_error(&error);
  g_autoptr(GVariant) after = kv_test_bus_call(
      bus, "ChangesSince", g_variant_new("(stsu)", "", (guint64)0, long_text, 0), &error);
  g_assert_null(after);
  g_clear_error(&error);
  watcher_connect(bus, &watcher);
  subscribe_since(&watcher, long_text, 0, &error);
  g_autofree char *again = g_dbus_error_get_remote_error(error);
  g_assert_cmpstr(again, ==, "org.example.KVStore.Error.TooLarge");
  watcher_close(&watcher);
}

int main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
#define ADD(path, func, args)                                                                      \
  g_test_add("/history/" path, KvTestBus, args, kv_test_bus_setup, func, kv_test_bus_teardown)
  ADD("resume-after-a-thousand", test_resume_after_a_thousand, NULL);
  ADD("no-gap-while-writing", test_no_gap_while_writing, NULL);
  ADD("compacted", test_compacted, "--history-changes 100");
  ADD("across-restart-and-compactions", test_across_restart_and_compactions, "--compact-size 16K");
  ADD("large-resume-bounded", test_large_resume_bounded, NULL);
  ADD("backlog-too-large", test_backlog_too_large, "--in-memory --history-size 100M");
  ADD("long-prefix", test_long_prefix, NULL);
#undef ADD
  return g_test_run();
}
