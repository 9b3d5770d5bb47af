/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Change signals only where someone listens (Subscribe), and coalesced per commit
 * (SubscribeCoalesced), on a private session bus. */

#include "kv-config.h"
#include "kv-test-bus.h"

#include <string.h>

/* Signals received on one connection, as "Member key" lines (Changes: one line per
 * change, "Changes key deleted value revision"). */
typedef struct {
  GDBusConnection *connection;
  GPtrArray *lines;
  guint id;
} Listener;

static void on_signal(GDBusConnection *connection, const char *sender, const char *path,
                      const char *interface, const char *member, GVariant *parameters,
                      gpointer user_data)
{
  Listener *listener = user_data;

  if (!g_str_equal(member, "Changes")) {
    const char *key;
    g_variant_get_child(parameters, 0, "&s", &key);
    g_ptr_array_add(listener->lines, g_strdup_printf("%s %s", member, key));
    return;
  }
  g_autoptr(GVariant) changes = g_variant_get_child_value(parameters, 0);
  GVariantIter iter;
  const char *key;
  gboolean deleted;
  GVariant *value;
  guint64 revision;
  g_variant_iter_init(&iter, changes);
  while (g_variant_iter_next(&iter, "(&sbvt)", &key, &deleted, &value, &revision)) {
    g_autofree char *text = g_variant_print(value, FALSE);
    g_ptr_array_add(listener->lines, g_strdup_printf("Changes %s %s %s %" G_GUINT64_FORMAT, key,
                                                     deleted ? "deleted" : "set", text, revision));
    g_variant_unref(value);
  }
  g_ptr_array_add(listener->lines, g_strdup("end of Changes"));
}

/* A connection of its own with a match rule for every kvstore signal, and no Subscribe. */
static void listen(KvTestBus *bus, Listener *listener)
{
  listener->connection = kv_test_bus_connect(kv_test_bus_address(bus));
  listener->lines = g_ptr_array_new_with_free_func(g_free);
  listener->id = g_dbus_connection_signal_subscribe(
      listener->connection, KV_BUS_NAME, KV_INTERFACE, NULL, KV_OBJECT_PATH, NULL,
      G_DBUS_SIGNAL_FLAGS_NONE, on_signal, listener, NULL);
}

static void call_on(GDBusConnection *connection, const char *method, GVariant *args)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply =
      g_dbus_connection_call_sync(connection, KV_BUS_NAME, KV_OBJECT_PATH, KV_INTERFACE, method,
                                  args, NULL, G_DBUS_CALL_FLAGS_NONE, -1, NULL, &error);

  g_assert_no_error(error);
}

static void unlisten(Listener *listener)
{
  g_dbus_connection_signal_unsubscribe(listener->connection, listener->id);
  g_dbus_connection_close_sync(listener->connection, NULL, NULL);
  g_clear_object(&listener->connection);
  g_ptr_array_unref(listener->lines);
}

static void set(KvTestBus *bus, const char *key)
{
  g_autoptr(GVariant) reply =
      kv_test_bus_call_ok(bus, "Set", g_variant_new("(sv)", key, g_variant_new_int32(1)));
}

/* Waits until @listener received a line ending in @key. */
static void wait_for(Listener *listener, const char *last_line)
{
  gint64 deadline = g_get_monotonic_time() + 20 * G_USEC_PER_SEC;

  for (;;) {
    if (listener->lines->len > 0 &&
        g_str_equal(g_ptr_array_index(listener->lines, listener->lines->len - 1), last_line))
      return;
    g_assert_cmpint(g_get_monotonic_time(), <, deadline);
    g_main_context_iteration(NULL, TRUE);
  }
}

static char *received(Listener *listener)
{
  g_ptr_array_add(listener->lines, NULL);
  char *text = g_strjoinv("\n", (char **)listener->lines->pdata);
  g_ptr_array_remove_index(listener->lines, listener->lines->len - 1);
  return text;
}

/* Waits until @name has left the bus, so that kvstored was told before what follows. */
static void wait_until_gone(KvTestBus *bus, const char *name)
{
  for (int i = 0; i < 2000; i++) {
    g_autoptr(GVariant) reply = g_dbus_connection_call_sync(
        bus->connection, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
        "NameHasOwner", g_variant_new("(s)", name), G_VARIANT_TYPE("(b)"), G_DBUS_CALL_FLAGS_NONE,
        -1, NULL, NULL);
    gboolean owned = TRUE;
    g_variant_get(reply, "(b)", &owned);
    if (!owned)
      return;
    g_usleep(5000);
  }
  g_error("%s did not leave the bus", name);
}

static void test_signals_only_for_subscribers(KvTestBus *bus, gconstpointer data)
{
  Listener monitor, subscriber;
  g_autoptr(GError) error = NULL;

  listen(bus, &monitor);
  listen(bus, &subscriber);
  /* A match rule alone no longer brings signals: nobody subscribed. */
  set(bus, "quiet/1");
  call_on(subscriber.connection, "Subscribe", g_variant_new("(s)", "loud/"));
  /* Only what some subscription covers goes out, to every matching rule. */
  set(bus, "quiet/2");
  set(bus, "loud/1");
  wait_for(&monitor, "Changed loud/1");
  wait_for(&subscriber, "Changed loud/1");

  /* Unsubscribe, or leaving the bus, ends it. */
  call_on(subscriber.connection, "Unsubscribe", g_variant_new("(s)", "loud/"));
  set(bus, "loud/2");
  call_on(subscriber.connection, "Subscribe", g_variant_new("(s)", "loud/"));
  set(bus, "loud/3");
  wait_for(&monitor, "Changed loud/3");
  g_autofree char *name = g_strdup(g_dbus_connection_get_unique_name(subscriber.connection));
  unlisten(&subscriber);
  wait_until_gone(bus, name);
  set(bus, "loud/4");
  Listener last;
  listen(bus, &last);
  call_on(last.connection, "Subscribe", g_variant_new("(s)", "end"));
  set(bus, "end");
  wait_for(&monitor, "Changed end");

  g_autofree char *seen = received(&monitor);
  g_assert_cmpstr(seen, ==, "Changed loud/1\nChanged loud/3\nChanged end");
  unlisten(&last);
  unlisten(&monitor);
}

static void test_coalesced(KvTestBus *bus, gconstpointer data)
{
  Listener watcher, monitor;

  listen(bus, &watcher);
  listen(bus, &monitor);
  call_on(watcher.connection, "SubscribeCoalesced", g_variant_new("(s)", "c/"));
  g_autoptr(GVariant) batch = kv_test_bus_call_ok(
      bus, "SetMany", g_variant_new_parsed("({'c/b': <2>, 'c/a': <'one'>, 'other': <3>},)"));
  g_autoptr(GVariant) deleted = kv_test_bus_call_ok(bus, "Delete", g_variant_new("(s)", "c/a"));
  set(bus, "c/z");
  wait_for(&watcher, "end of Changes");
  while (watcher.lines->len < 7)
    g_main_context_iteration(NULL, TRUE);

  /* Revisions from the batch's on: consecutive, whatever the store counted before. */
  guint64 first;
  g_variant_get(batch, "(t)", &first);
  g_autofree char *seen = received(&watcher);
  g_autofree char *expected = g_strdup_printf(
      "Changes c/a set 'one' %" G_GUINT64_FORMAT "\nChanges c/b set 2 %" G_GUINT64_FORMAT
      "\nend of Changes\nChanges c/a deleted '' %" G_GUINT64_FORMAT
      "\nend of Changes\nChanges c/z set 1 %" G_GUINT64_FORMAT "\nend of Changes",
      first, first, first + 1, first + 2);
  g_assert_cmpstr(seen, ==, expected);
  /* Coalesced subscribers cause no per-key broadcast; the Changes went to the watcher
   * alone. */
  set(bus, "end");
  call_on(monitor.connection, "Subscribe", g_variant_new("(s)", "end"));
  set(bus, "end");
  wait_for(&monitor, "Changed end");
  g_autofree char *monitored = received(&monitor);
  g_assert_cmpstr(monitored, ==, "Changed end");
  unlisten(&watcher);
  unlisten(&monitor);
}

/* A batch's changes come in one Changes also when another connection subscribed to the
 * same keys one by one: their Changed signals, queued as the batch is applied, do not
 * start the commit before the whole batch is there. */
static void test_coalesced_beside_plain(KvTestBus *bus, gconstpointer data)
{
  Listener watcher, monitor;

  listen(bus, &watcher);
  listen(bus, &monitor);
  call_on(watcher.connection, "SubscribeCoalesced", g_variant_new("(s)", "c/"));
  call_on(monitor.connection, "Subscribe", g_variant_new("(s)", "c/"));
  g_autoptr(GVariant) batch =
      kv_test_bus_call_ok(bus, "SetMany", g_variant_new_parsed("({'c/a': <1>, 'c/b': <2>},)"));
  wait_for(&watcher, "end of Changes");
  wait_for(&monitor, "Changed c/b");

  guint64 revision;
  g_variant_get(batch, "(t)", &revision);
  /* The watcher sees the broadcast Changed signals too (its match takes every signal). */
  g_autofree char *seen = received(&watcher);
  g_autofree char *expected =
      g_strdup_printf("Changed c/a\nChanged c/b\nChanges c/a set 1 %" G_GUINT64_FORMAT
                      "\nChanges c/b set 2 %" G_GUINT64_FORMAT "\nend of Changes",
                      revision, revision);
  g_assert_cmpstr(seen, ==, expected);
  g_autofree char *monitored = received(&monitor);
  g_assert_cmpstr(monitored, ==, "Changed c/a\nChanged c/b");
  unlisten(&watcher);
  unlisten(&monitor);
}

/* More than a reply's 8 MiB of changes in one commit come as several Changes. */
static void test_coalesced_split(KvTestBus *bus, gconstpointer data)
{
  g_autofree char *big = g_strnfill(900 * 1000, 'v');
  Listener watcher;
  GVariantBuilder entries;

  if (kv_test_on_etcd()) {
    g_test_skip("etcd takes no request over 1.5 MiB (its --max-request-bytes)");
    return;
  }
  listen(bus, &watcher);
  call_on(watcher.connection, "SubscribeCoalesced", g_variant_new("(s)", ""));
  g_variant_builder_init(&entries, G_VARIANT_TYPE("a{sv}"));
  for (int i = 0; i < 12; i++) {
    g_autofree char *key = g_strdup_printf("big/%02d", i);
    g_variant_builder_add(&entries, "{sv}", key, g_variant_new_string(big));
  }
  g_autoptr(GVariant) batch =
      kv_test_bus_call_ok(bus, "SetMany", g_variant_new("(a{sv})", &entries));
  while (watcher.lines->len < 14)
    g_main_context_iteration(NULL, TRUE);

  guint signals = 0, changes = 0;
  for (guint i = 0; i < watcher.lines->len; i++) {
    const char *line = g_ptr_array_index(watcher.lines, i);
    if (g_str_equal(line, "end of Changes"))
      signals++;
    else
      changes++;
  }
  g_assert_cmpuint(signals, ==, 2);
  g_assert_cmpuint(changes, ==, 12);
  unlisten(&watcher);
}

int main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
#define ADD(path, func)                                                                            \
  g_test_add("/subscribe/" path, KvTestBus, NULL, kv_test_bus_setup, func, kv_test_bus_teardown)
  ADD("signals-only-for-subscribers", test_signals_only_for_subscribers);
  ADD("coalesced", test_coalesced);
  ADD("coalesced-split", test_coalesced_split);
  ADD("coalesced-beside-plain", test_coalesced_beside_plain);
#undef ADD
  return g_test_run();
}
