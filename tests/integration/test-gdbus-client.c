/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* kvstored through a GDBus client on a private bus, with D-Bus activation. */

#include "kv-test-assert.h"
#include "kv-config.h"
#include "kv-test-bus.h"
#include "kv-test-introspection.h"
#include "kv-test-values.h"

#include <string.h>

#define ERROR_PREFIX "org.example.KVStore.Error."

static void set_value(KvTestBus *bus, const char *key, GVariant *value)
{
  g_autoptr(GVariant) reply = kv_test_bus_call_ok(bus, "Set", g_variant_new("(sv)", key, value));
}

static GVariant *get_value(KvTestBus *bus, const char *key)
{
  g_autoptr(GVariant) reply = kv_test_bus_call_ok(bus, "Get", g_variant_new("(s)", key));
  GVariant *value;

  g_variant_get(reply, "(v)", &value);
  return value;
}

static GVariant *get_all(KvTestBus *bus, const char *prefix)
{
  g_autoptr(GVariant) reply = kv_test_bus_call_ok(bus, "GetAll", g_variant_new("(s)", prefix));

  return g_variant_get_child_value(reply, 0);
}

/* Asserts that a call fails with @error_name and leaves the store as it was. */
static void assert_call_fails(KvTestBus *bus, const char *method, GVariant *parameters,
                              const char *error_name, const char *message_part)
{
  g_autoptr(GVariant) before = get_all(bus, "");
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = kv_test_bus_call(bus, method, parameters, &error);

  g_assert_null(reply);
  g_assert_nonnull(error);
  g_autofree char *remote = g_dbus_error_get_remote_error(error);
  g_assert_cmpstr(remote, ==, error_name);
  if (message_part != NULL && strstr(error->message, message_part) == NULL)
    g_error("'%s' does not contain '%s'", error->message, message_part);

  g_autoptr(GVariant) after = get_all(bus, "");
  kv_assert_variant_eq(before, after);
}

static void test_activation(KvTestBus *bus, gconstpointer data)
{
  g_assert_false(kv_test_bus_name_has_owner(bus));
  g_autoptr(GVariant) reply = kv_test_bus_call_ok(bus, "Exists", g_variant_new("(s)", "anything"));
  kv_assert_variant_eq(reply, g_variant_new("(b)", FALSE));
  g_assert_true(kv_test_bus_name_has_owner(bus));
}

static void test_ping(KvTestBus *bus, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = g_dbus_connection_call_sync(
      bus->connection, KV_BUS_NAME, KV_OBJECT_PATH, "org.freedesktop.DBus.Peer", "Ping", NULL, NULL,
      G_DBUS_CALL_FLAGS_NONE, -1, NULL, &error);

  g_assert_no_error(error);
  kv_assert_variant_eq(reply, g_variant_new("()"));
}

static void test_values_round_trip(KvTestBus *bus, gconstpointer data)
{
  for (gsize i = 0; i < G_N_ELEMENTS(kv_test_values); i++) {
    g_autoptr(GVariant) value = g_variant_parse(NULL, kv_test_values[i], NULL, NULL, NULL);
    g_autofree char *key = g_strdup_printf("value/%02zu", i);

    set_value(bus, key, value);
    g_autoptr(GVariant) stored = get_value(bus, key);
    kv_assert_variant_eq(stored, value);
  }

  g_autoptr(GVariant) count = kv_test_get_property(bus->connection, "Count");
  kv_assert_variant_eq(count, g_variant_new_uint32(G_N_ELEMENTS(kv_test_values)));
}

static void test_replace_changes_type(KvTestBus *bus, gconstpointer data)
{
  set_value(bus, "k", g_variant_new_int32(1));
  set_value(bus, "k", g_variant_new_string("one"));
  g_autoptr(GVariant) stored = get_value(bus, "k");
  kv_assert_variant_eq(stored, g_variant_new_string("one"));
}

static void test_exists_delete(KvTestBus *bus, gconstpointer data)
{
  set_value(bus, "k", g_variant_new_boolean(TRUE));

  g_autoptr(GVariant) exists = kv_test_bus_call_ok(bus, "Exists", g_variant_new("(s)", "k"));
  kv_assert_variant_eq(exists, g_variant_new("(b)", TRUE));
  g_autoptr(GVariant) existed = kv_test_bus_call_ok(bus, "Delete", g_variant_new("(s)", "k"));
  kv_assert_variant_eq(existed, g_variant_new("(b)", TRUE));
  g_autoptr(GVariant) again = kv_test_bus_call_ok(bus, "Delete", g_variant_new("(s)", "k"));
  kv_assert_variant_eq(again, g_variant_new("(b)", FALSE));
  g_autoptr(GVariant) gone = kv_test_bus_call_ok(bus, "Exists", g_variant_new("(s)", "k"));
  kv_assert_variant_eq(gone, g_variant_new("(b)", FALSE));
}

static void test_increment(KvTestBus *bus, gconstpointer data)
{
  g_autoptr(GVariant) created =
      kv_test_bus_call_ok(bus, "Increment", g_variant_new("(sx)", "n", (gint64)5));
  kv_assert_variant_eq(created, g_variant_new("(x)", (gint64)5));
  g_autoptr(GVariant) stored = get_value(bus, "n");
  kv_assert_variant_eq(stored, g_variant_new_int64(5));

  set_value(bus, "s", g_variant_new_string("10"));
  g_autoptr(GVariant) from_string =
      kv_test_bus_call_ok(bus, "Increment", g_variant_new("(sx)", "s", (gint64)5));
  kv_assert_variant_eq(from_string, g_variant_new("(x)", (gint64)15));
  g_autoptr(GVariant) still_string = get_value(bus, "s");
  kv_assert_variant_eq(still_string, g_variant_new_string("15"));

  set_value(bus, "b", g_variant_new_byte(200));
  g_autoptr(GVariant) from_byte =
      kv_test_bus_call_ok(bus, "Increment", g_variant_new("(sx)", "b", (gint64)-100));
  kv_assert_variant_eq(from_byte, g_variant_new("(x)", (gint64)100));
  g_autoptr(GVariant) still_byte = get_value(bus, "b");
  kv_assert_variant_eq(still_byte, g_variant_new_byte(100));
}

static void test_keys_and_get_all(KvTestBus *bus, gconstpointer data)
{
  const char *keys[] = {"app/b", "app/a", "other", "app/c/d", "apple"};

  for (gsize i = 0; i < G_N_ELEMENTS(keys); i++)
    set_value(bus, keys[i], g_variant_new_uint32(i));

  g_autoptr(GVariant) all = kv_test_bus_call_ok(bus, "Keys", g_variant_new("(s)", ""));
  const char *sorted[] = {"app/a", "app/b", "app/c/d", "apple", "other", NULL};
  kv_assert_variant_eq(all, g_variant_new("(^as)", sorted));

  g_autoptr(GVariant) some = kv_test_bus_call_ok(bus, "Keys", g_variant_new("(s)", "app/"));
  const char *prefixed[] = {"app/a", "app/b", "app/c/d", NULL};
  kv_assert_variant_eq(some, g_variant_new("(^as)", prefixed));

  g_autoptr(GVariant) none = kv_test_bus_call_ok(bus, "Keys", g_variant_new("(s)", "zzz"));
  kv_assert_variant_eq(none, g_variant_new("(^as)", (const char *[]){NULL}));

  g_autoptr(GVariant) entries = get_all(bus, "app/");
  g_autoptr(GVariant) expected = g_variant_parse(
      G_VARIANT_TYPE("a{sv}"), "{'app/a': <uint32 1>, 'app/b': <uint32 0>, 'app/c/d': <uint32 3>}",
      NULL, NULL, NULL);
  kv_assert_variant_eq(entries, expected);
}

static void test_properties(KvTestBus *bus, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = g_dbus_connection_call_sync(
      bus->connection, KV_BUS_NAME, KV_OBJECT_PATH, "org.freedesktop.DBus.Properties", "GetAll",
      g_variant_new("(s)", KV_INTERFACE), NULL, G_DBUS_CALL_FLAGS_NONE, -1, NULL, &error);
  g_assert_no_error(error);

  g_autoptr(GVariant) properties = g_variant_get_child_value(reply, 0);
  g_autoptr(GVariant) version = g_variant_lookup_value(properties, "Version", NULL);
  g_autoptr(GVariant) count = g_variant_lookup_value(properties, "Count", NULL);
  kv_assert_variant_eq(version, g_variant_new_string(KV_VERSION));
  kv_assert_variant_eq(count, g_variant_new_uint32(0));
  /* A store of its own is always current. */
  g_autoptr(GVariant) current = g_variant_lookup_value(properties, "ReplicaCurrent", NULL);
  kv_assert_variant_eq(current, g_variant_new_boolean(TRUE));

  /* Read-only: writing a property is refused and changes nothing. */
  g_autoptr(GVariant) set = g_dbus_connection_call_sync(
      bus->connection, KV_BUS_NAME, KV_OBJECT_PATH, "org.freedesktop.DBus.Properties", "Set",
      g_variant_new("(ssv)", KV_INTERFACE, "Count", g_variant_new_uint32(5)), NULL,
      G_DBUS_CALL_FLAGS_NONE, -1, NULL, &error);
  g_assert_null(set);
  g_assert_nonnull(error);
}

static void count_signal(GDBusConnection *connection, const char *sender, const char *path,
                         const char *interface, const char *member, GVariant *parameters,
                         gpointer user_data)
{
  (*(guint *)user_data)++;
}

/* The store's revision as kvstored says it now (on etcd it counts the cluster's changes,
 * not this store's alone). */
static GVariant *current_revision(KvTestBus *bus)
{
  return kv_test_get_property(bus->connection, "Revision");
}

/* Spins the main context until @proxy's cached @name is @expected, or fails after 5 s. */
static void wait_for_cached(GDBusProxy *proxy, const char *name, GVariant *expected)
{
  g_autoptr(GVariant) owned = g_variant_take_ref(expected);
  gint64 deadline = g_get_monotonic_time() + 5 * G_USEC_PER_SEC;

  for (;;) {
    g_autoptr(GVariant) cached = g_dbus_proxy_get_cached_property(proxy, name);
    if (cached != NULL && g_variant_equal(cached, owned))
      return;
    if (g_get_monotonic_time() > deadline) {
      g_autofree char *text = cached != NULL ? g_variant_print(cached, TRUE) : g_strdup("none");
      g_error("cached %s is %s after 5 s", name, text);
    }
    g_main_context_iteration(NULL, FALSE);
    g_usleep(1000);
  }
}

/* A GDBusProxy caches the properties: Count and Revision must follow every write, yet
 * nobody pays for PropertiesChanged while no peer caches them. */
static void test_cached_properties_follow_writes(KvTestBus *bus, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  guint announced = 0;
  guint subscription = g_dbus_connection_signal_subscribe(
      bus->connection, NULL, "org.freedesktop.DBus.Properties", "PropertiesChanged", KV_OBJECT_PATH,
      NULL, G_DBUS_SIGNAL_FLAGS_NONE, count_signal, &announced, NULL);

  /* No cache yet: writes announce nothing (the Ping after them flushes the order). */
  set_value(bus, "before/a", g_variant_new_int32(1));
  set_value(bus, "before/b", g_variant_new_int32(2));
  g_autoptr(GVariant) pong = g_dbus_connection_call_sync(
      bus->connection, KV_BUS_NAME, KV_OBJECT_PATH, "org.freedesktop.DBus.Peer", "Ping", NULL, NULL,
      G_DBUS_CALL_FLAGS_NONE, -1, NULL, &error);
  while (g_main_context_iteration(NULL, FALSE))
    ;
  g_assert_cmpuint(announced, ==, 0);

  g_autoptr(GDBusConnection) other = kv_test_bus_connect(kv_test_bus_address(bus));
  g_autoptr(GDBusProxy) proxy =
      g_dbus_proxy_new_sync(other, G_DBUS_PROXY_FLAGS_NONE, NULL, KV_BUS_NAME, KV_OBJECT_PATH,
                            KV_INTERFACE, NULL, &error);
  g_assert_no_error(error);
  wait_for_cached(proxy, "Revision", current_revision(bus));

  for (int i = 0; i < 3; i++) {
    g_autofree char *key = g_strdup_printf("k%d", i);
    g_autoptr(GVariant) reply =
        g_dbus_proxy_call_sync(proxy, "Set", g_variant_new("(sv)", key, g_variant_new_int32(i)),
                               G_DBUS_CALL_FLAGS_NONE, -1, NULL, &error);
    g_assert_no_error(error);
  }
  g_autoptr(GVariant) deleted =
      g_dbus_proxy_call_sync(proxy, "DeletePrefix", g_variant_new("(s)", "before/"),
                             G_DBUS_CALL_FLAGS_NONE, -1, NULL, &error);
  g_assert_no_error(error);
  wait_for_cached(proxy, "Revision", current_revision(bus));
  wait_for_cached(proxy, "Count", g_variant_new_uint32(3));
  g_assert_cmpuint(announced, ==, 4);

  /* The caching peer gone (as far as the bus, and so kvstored after it, knows), the
   * announcements stop. */
  g_autofree char *gone = g_strdup(g_dbus_connection_get_unique_name(other));
  g_clear_object(&proxy);
  g_dbus_connection_close_sync(other, NULL, &error);
  g_assert_no_error(error);
  for (gboolean has_owner = TRUE; has_owner;) {
    g_autoptr(GVariant) reply = g_dbus_connection_call_sync(
        bus->connection, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
        "NameHasOwner", g_variant_new("(s)", gone), G_VARIANT_TYPE("(b)"), G_DBUS_CALL_FLAGS_NONE,
        -1, NULL, &error);
    g_assert_no_error(error);
    g_variant_get(reply, "(b)", &has_owner);
  }
  set_value(bus, "after", g_variant_new_int32(1));
  g_clear_pointer(&pong, g_variant_unref);
  pong = g_dbus_connection_call_sync(bus->connection, KV_BUS_NAME, KV_OBJECT_PATH,
                                     "org.freedesktop.DBus.Peer", "Ping", NULL, NULL,
                                     G_DBUS_CALL_FLAGS_NONE, -1, NULL, &error);
  while (g_main_context_iteration(NULL, FALSE))
    ;
  g_assert_cmpuint(announced, ==, 4);
  g_dbus_connection_signal_unsubscribe(bus->connection, subscription);
}

static void test_errors(KvTestBus *bus, gconstpointer data)
{
  g_autofree char *long_key = g_strnfill(4097, 'k');
  g_autofree char *big = g_strnfill(1024 * 1024, 'x');

  set_value(bus, "double", g_variant_new_double(1.5));
  set_value(bus, "max", g_variant_new_int64(G_MAXINT64));
  set_value(bus, "text", g_variant_new_string("007"));

  assert_call_fails(bus, "Get", g_variant_new("(s)", "missing"), ERROR_PREFIX "NotFound",
                    "Key 'missing' not found");
  assert_call_fails(bus, "Get", g_variant_new("(s)", ""), ERROR_PREFIX "InvalidKey", "empty");
  assert_call_fails(bus, "Set", g_variant_new("(sv)", "", g_variant_new_int32(1)),
                    ERROR_PREFIX "InvalidKey", NULL);
  assert_call_fails(bus, "Set", g_variant_new("(sv)", long_key, g_variant_new_int32(1)),
                    ERROR_PREFIX "InvalidKey", "4096");
  assert_call_fails(bus, "Exists", g_variant_new("(s)", ""), ERROR_PREFIX "InvalidKey", NULL);
  assert_call_fails(bus, "Delete", g_variant_new("(s)", long_key), ERROR_PREFIX "InvalidKey", NULL);
  assert_call_fails(bus, "Increment", g_variant_new("(sx)", "", (gint64)1),
                    ERROR_PREFIX "InvalidKey", NULL);
  assert_call_fails(bus, "Increment", g_variant_new("(sx)", "double", (gint64)1),
                    ERROR_PREFIX "InvalidValueType", "double");
  assert_call_fails(bus, "Increment", g_variant_new("(sx)", "text", (gint64)1),
                    ERROR_PREFIX "InvalidValueType", "'text'");
  assert_call_fails(bus, "Increment", g_variant_new("(sx)", "max", (gint64)1),
                    ERROR_PREFIX "Overflow", "int64");
  assert_call_fails(bus, "Set", g_variant_new("(sv)", "big", g_variant_new_string(big)),
                    ERROR_PREFIX "TooLarge", "1048577 bytes");
  assert_call_fails(bus, "Get", g_variant_new("(i)", 5), "org.freedesktop.DBus.Error.InvalidArgs",
                    NULL);
  assert_call_fails(bus, "Set", g_variant_new("(ss)", "k", "not a variant"),
                    "org.freedesktop.DBus.Error.InvalidArgs", NULL);
  assert_call_fails(bus, "Increment", g_variant_new("(si)", "k", 1),
                    "org.freedesktop.DBus.Error.InvalidArgs", NULL);
  assert_call_fails(bus, "NoSuchMethod", NULL, "org.freedesktop.DBus.Error.UnknownMethod", NULL);
}

static void test_limit_option(KvTestBus *bus, gconstpointer data)
{
  /* Started with --max-value-size=16: a 15-character string is 16 bytes serialized. */
  set_value(bus, "fits", g_variant_new_string("123456789012345"));
  assert_call_fails(bus, "Set",
                    g_variant_new("(sv)", "big", g_variant_new_string("1234567890123456")),
                    ERROR_PREFIX "TooLarge", "the limit is 16 bytes");
}

static void test_introspection_matches_contract(KvTestBus *bus, gconstpointer data)
{
  /* sd-bus publishes the Privileged annotation on the system bus only; the system bus
   * test compares it too. */
  kv_test_assert_introspection_matches(bus->connection, "org.freedesktop.systemd1.Privileged");
}

int main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
#define ADD(path, func, args)                                                                      \
  g_test_add("/gdbus/" path, KvTestBus, args, kv_test_bus_setup, func, kv_test_bus_teardown)
  ADD("activation", test_activation, NULL);
  ADD("ping", test_ping, NULL);
  ADD("values-round-trip", test_values_round_trip, NULL);
  ADD("replace-changes-type", test_replace_changes_type, NULL);
  ADD("exists-delete", test_exists_delete, NULL);
  ADD("increment", test_increment, NULL);
  ADD("keys-and-get-all", test_keys_and_get_all, NULL);
  ADD("properties", test_properties, NULL);
  ADD("errors", test_errors, NULL);
  ADD("cached-properties-follow-writes", test_cached_properties_follow_writes, NULL);
  ADD("limit-option", test_limit_option, "--max-value-size=16");
  ADD("introspection-matches-contract", test_introspection_matches_contract, NULL);
#undef ADD
  return g_test_run();
}
