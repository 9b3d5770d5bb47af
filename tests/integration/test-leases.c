/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Leases, TTL keys and locks against a real kvstored: keys bound to a connection go when
 * it closes or its process is killed, TTL keys go on time, keep-alive holds them, leases
 * survive a restart of kvstored as their owners do, and ten contenders on a lock hold it
 * one at a time, in order, with growing tokens. */

#include "kv-config.h"
#include "kv-test-bus.h"

#include <signal.h>
#include <string.h>
#include <sys/wait.h>

static GVariant *call_on(GDBusConnection *connection, const char *method, GVariant *parameters,
                         GError **error)
{
  return g_dbus_connection_call_sync(connection, KV_BUS_NAME, KV_OBJECT_PATH, KV_INTERFACE, method,
                                     parameters, NULL, G_DBUS_CALL_FLAGS_NONE, 10000, NULL, error);
}

static GVariant *call_on_ok(GDBusConnection *connection, const char *method, GVariant *parameters)
{
  g_autoptr(GError) error = NULL;
  GVariant *reply = call_on(connection, method, parameters, &error);

  g_assert_no_error(error);
  return reply;
}

static guint64 grant(GDBusConnection *connection, guint64 ttl_ms, gboolean bound)
{
  guint64 lease;
  g_autoptr(GVariant) reply =
      call_on_ok(connection, "GrantLease", g_variant_new("(tb)", ttl_ms, bound));

  g_variant_get(reply, "(t)", &lease);
  return lease;
}

static void set_leased(GDBusConnection *connection, const char *key, guint64 lease)
{
  g_autoptr(GVariant) reply = call_on_ok(
      connection, "SetLeased", g_variant_new("(stv)", key, lease, g_variant_new_string("up")));
}

static gboolean exists(KvTestBus *bus, const char *key)
{
  gboolean found;
  g_autoptr(GVariant) reply = kv_test_bus_call_ok(bus, "Exists", g_variant_new("(s)", key));

  g_variant_get(reply, "(b)", &found);
  return found;
}

/* Waits up to @seconds for @key to be gone; how long it took, in µs. */
static gint64 wait_gone(KvTestBus *bus, const char *key, int seconds)
{
  gint64 start = g_get_monotonic_time();

  while (exists(bus, key)) {
    g_assert_cmpint(g_get_monotonic_time() - start, <, seconds * G_USEC_PER_SEC);
    g_usleep(5000);
  }
  return g_get_monotonic_time() - start;
}

/* Waits for kvstored's own keys to be gone: every lease and lock has ended (on etcd, a
 * lease ends a round trip after the event that ends it). */
static void wait_reserved_gone(KvTestBus *bus)
{
  gint64 deadline = g_get_monotonic_time() + 20 * G_USEC_PER_SEC;

  for (;;) {
    g_autoptr(GVariant) left =
        kv_test_bus_call_ok(bus, "KeysPage", g_variant_new("(ssu)", ".kvstore/", "", 1));
    g_autoptr(GVariant) keys = g_variant_get_child_value(left, 0);
    if (g_variant_n_children(keys) == 0)
      return;
    g_assert_cmpint(g_get_monotonic_time(), <, deadline);
    g_usleep(5000);
  }
}

static void assert_error(GError *error, const char *name)
{
  g_assert_nonnull(error);
  g_autofree char *remote = g_dbus_error_get_remote_error(error);
  g_assert_cmpstr(remote, ==, name);
}

static void test_bound_key_goes_with_connection(KvTestBus *bus, gconstpointer data)
{
  GDBusConnection *owner = kv_test_bus_connect(kv_test_bus_address(bus));
  guint64 lease = grant(owner, 0, TRUE);

  set_leased(owner, "presence/app", lease);
  set_leased(owner, "presence/app-detail", lease);
  g_assert_true(exists(bus, "presence/app"));
  guint64 before;
  g_autoptr(GVariant) revision = kv_test_get_property(bus->connection, "Revision");
  before = g_variant_get_uint64(revision);

  g_dbus_connection_close_sync(owner, NULL, NULL);
  g_object_unref(owner);
  wait_gone(bus, "presence/app", 5);
  g_assert_false(exists(bus, "presence/app-detail"));
  wait_reserved_gone(bus);
  /* Both keys, the lease and its markers went in one revision. */
  g_autoptr(GVariant) after = kv_test_get_property(bus->connection, "Revision");
  g_assert_cmpuint(g_variant_get_uint64(after), ==, before + 1);
}

/* A process of its own that grants a bound lease, writes @key with it, says "ready" and
 * sleeps: /usr/bin/python3 with GIO (python3-gi), as a client of any language would. */
static GPid spawn_owner(KvTestBus *bus, const char *key, GIOChannel **out_stdout)
{
  g_autofree char *script = g_strdup_printf(
      "import sys, time\n"
      "from gi.repository import Gio, GLib\n"
      "c = Gio.DBusConnection.new_for_address_sync(sys.argv[1], "
      "Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT | "
      "Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION, None, None)\n"
      "def call(m, a):\n"
      "    return c.call_sync('%s', '%s', '%s', m, a, None, 0, 10000, None)\n"
      "lease = call('GrantLease', GLib.Variant('(tb)', (0, True)))[0]\n"
      "call('SetLeased', GLib.Variant('(stv)', ('%s', lease, GLib.Variant('s', 'up'))))\n"
      "print('ready', flush=True)\n"
      "time.sleep(600)\n",
      KV_BUS_NAME, KV_OBJECT_PATH, KV_INTERFACE, key);
  const char *argv[] = {"/usr/bin/python3", "-c", script, kv_test_bus_address(bus), NULL};
  g_autoptr(GError) error = NULL;
  GPid pid;
  int out;

  g_spawn_async_with_pipes(NULL, (char **)argv, NULL,
                           G_SPAWN_SEARCH_PATH | G_SPAWN_DO_NOT_REAP_CHILD, NULL, NULL, &pid, NULL,
                           &out, NULL, &error);
  g_assert_no_error(error);
  *out_stdout = g_io_channel_unix_new(out);
  g_io_channel_set_close_on_unref(*out_stdout, TRUE);
  g_autofree char *line = NULL;
  g_io_channel_read_line(*out_stdout, &line, NULL, NULL, &error);
  g_assert_no_error(error);
  g_assert_cmpstr(line, ==, "ready\n");
  return pid;
}

static void test_bound_key_goes_on_sigkill(KvTestBus *bus, gconstpointer data)
{
  GIOChannel *out;
  GPid pid = spawn_owner(bus, "presence/killed", &out);

  g_assert_true(exists(bus, "presence/killed"));
  kill(pid, SIGKILL);
  waitpid(pid, NULL, 0);
  g_spawn_close_pid(pid);
  g_io_channel_unref(out);
  gint64 took = wait_gone(bus, "presence/killed", 5);
  g_test_message("The key of a SIGKILLed owner went %.1f ms after the kill", took / 1000.0);
}

/* The key of SetWithTtl goes within 100 ms of its deadline (more under the sanitizers,
 * whose kvstored is several times slower), and not before. */
static void test_ttl_on_time(KvTestBus *bus, gconstpointer data)
{
  const guint64 ttl_ms = 300;
  guint64 revision, lease;
  gint64 start = g_get_monotonic_time();
  g_autoptr(GVariant) reply = kv_test_bus_call_ok(
      bus, "SetWithTtl", g_variant_new("(stv)", "cache/ttl", ttl_ms, g_variant_new_int32(1)));

  g_variant_get(reply, "(tt)", &revision, &lease);
  g_assert_cmpuint(lease, >, 0);
  g_autofree char *record = g_strdup_printf(".kvstore/lease/%" G_GUINT64_FORMAT, lease);
  g_assert_true(exists(bus, record));
  while (exists(bus, "cache/ttl"))
    g_usleep(2000);
  gint64 lived_ms = (g_get_monotonic_time() - start) / 1000;
  g_test_message("A key with a TTL of %" G_GUINT64_FORMAT " ms lived %" G_GINT64_FORMAT " ms",
                 ttl_ms, lived_ms);
  g_assert_cmpint(lived_ms, >=, (gint64)ttl_ms - 5);
  g_assert_cmpint(lived_ms, <=, (gint64)ttl_ms + (KV_SANITIZED ? 500 : 100));
  g_assert_false(exists(bus, record));
}

static void test_keep_alive(KvTestBus *bus, gconstpointer data)
{
  guint64 lease = grant(bus->connection, 400, FALSE);
  guint64 ttl;

  set_leased(bus->connection, "job/heartbeat", lease);
  for (int i = 0; i < 12; i++) {
    g_usleep(100 * 1000);
    g_autoptr(GVariant) reply = kv_test_bus_call_ok(bus, "KeepAlive", g_variant_new("(t)", lease));
    g_variant_get(reply, "(t)", &ttl);
    g_assert_cmpuint(ttl, ==, 400);
  }
  g_assert_true(exists(bus, "job/heartbeat"));
  gint64 took = wait_gone(bus, "job/heartbeat", 5);
  g_assert_cmpint(took, >=, 300 * 1000);
}

static void test_revoke_and_detach(KvTestBus *bus, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  guint64 lease = grant(bus->connection, 60000, FALSE);
  guint32 deleted;
  guint64 revision;

  g_autoptr(GVariant) many = kv_test_bus_call_ok(
      bus, "SetManyLeased",
      g_variant_new_parsed("(%t, {'l/a': <1>, 'l/b': <2>, 'l/c': <3>, 'l/kept': <4>})", lease));
  /* A plain Set takes a key off its lease, as in etcd; an Increment keeps it on. */
  g_autoptr(GVariant) plain =
      kv_test_bus_call_ok(bus, "Set", g_variant_new("(sv)", "l/kept", g_variant_new_int32(5)));
  g_autoptr(GVariant) counted =
      kv_test_bus_call_ok(bus, "Increment", g_variant_new("(sx)", "l/c", 1));
  g_autoptr(GVariant) cas = kv_test_bus_call_ok(
      bus, "CompareAndSetLeased",
      g_variant_new("(sttv)", "l/new", (guint64)0, lease, g_variant_new_int32(6)));
  g_autoptr(GVariant) again = kv_test_bus_call(
      bus, "CompareAndSetLeased",
      g_variant_new("(sttv)", "l/new", (guint64)0, lease, g_variant_new_int32(7)), &error);
  assert_error(error, "org.example.KVStore.Error.Conflict");
  g_clear_error(&error);

  g_autoptr(GVariant) reply = kv_test_bus_call_ok(bus, "RevokeLease", g_variant_new("(t)", lease));
  g_variant_get(reply, "(ut)", &deleted, &revision);
  g_assert_cmpuint(deleted, ==, 4);
  g_autoptr(GVariant) left = kv_test_bus_call_ok(bus, "Keys", g_variant_new("(s)", ""));
  g_autofree char *left_text = g_variant_print(left, FALSE);
  g_assert_cmpstr(left_text, ==, "(['l/kept'],)");
  g_autoptr(GVariant) now = kv_test_get_property(bus->connection, "Revision");
  g_assert_cmpuint(g_variant_get_uint64(now), ==, revision);

  g_autoptr(GVariant) gone =
      kv_test_bus_call(bus, "KeepAlive", g_variant_new("(t)", lease), &error);
  assert_error(error, "org.example.KVStore.Error.LeaseNotFound");
}

static void test_errors(KvTestBus *bus, gconstpointer data)
{
  static const struct {
    const char *method;
    const char *args;
    const char *error;
  } cases[] = {
      {"GrantLease", "(uint64 0, false)", "org.freedesktop.DBus.Error.InvalidArgs"},
      {"GrantLease", "(uint64 40000000000, false)", "org.freedesktop.DBus.Error.InvalidArgs"},
      {"SetLeased", "('k', uint64 999999, <1>)", "org.example.KVStore.Error.LeaseNotFound"},
      {"SetWithTtl", "('k', uint64 0, <1>)", "org.freedesktop.DBus.Error.InvalidArgs"},
      {"SetManyLeased", "(uint64 999999, {'k': <1>})", "org.example.KVStore.Error.LeaseNotFound"},
      {"KeepAlive", "(uint64 999999,)", "org.example.KVStore.Error.LeaseNotFound"},
      {"RevokeLease", "(uint64 999999,)", "org.example.KVStore.Error.LeaseNotFound"},
      {"Lock", "('', uint64 0)", "org.example.KVStore.Error.InvalidKey"},
      {"Lock", "('l', uint64 999999)", "org.example.KVStore.Error.LeaseNotFound"},
      {"Unlock", "('l', uint64 12345)", "org.freedesktop.DBus.Error.InvalidArgs"},
      {"Set", "('.kvstore/lease/1', <1>)", "org.example.KVStore.Error.InvalidKey"},
      {"SetMany", "({'ok': <1>, '.kvstore/x': <1>},)", "org.example.KVStore.Error.InvalidKey"},
  };

  g_autoptr(GVariant) before = kv_test_get_property(bus->connection, "Revision");
  for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
    g_autoptr(GError) error = NULL;
    g_autoptr(GVariant) reply =
        kv_test_bus_call(bus, cases[i].method, g_variant_new_parsed(cases[i].args), &error);
    g_test_message("%s%s", cases[i].method, cases[i].args);
    assert_error(error, cases[i].error);
  }
  /* Lock twice with one lease. */
  g_autoptr(GError) error = NULL;
  guint64 lease = grant(bus->connection, 60000, FALSE);
  g_autoptr(GVariant) first =
      kv_test_bus_call_ok(bus, "Lock", g_variant_new("(st)", "twice", lease));
  g_autoptr(GVariant) second =
      kv_test_bus_call(bus, "Lock", g_variant_new("(st)", "twice", lease), &error);
  assert_error(error, "org.freedesktop.DBus.Error.InvalidArgs");
  /* The failed calls changed nothing; the grant and the lock made two changes. */
  g_autoptr(GVariant) after = kv_test_get_property(bus->connection, "Revision");
  g_assert_cmpuint(g_variant_get_uint64(after), ==, g_variant_get_uint64(before) + 2);
  /* DeletePrefix leaves kvstored's own keys. */
  g_autoptr(GVariant) cleared = kv_test_bus_call_ok(bus, "DeletePrefix", g_variant_new("(s)", ""));
  g_autofree char *record = g_strdup_printf(".kvstore/lease/%" G_GUINT64_FORMAT, lease);
  g_assert_true(exists(bus, record));
}

/* One uid holds at most 1024 leases, a lease at most 2499 keys (63 on etcd, whose
 * transactions take 128 operations). */
static void test_quotas(KvTestBus *bus, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  guint64 first = 0;

  for (int i = 0; i < 1024; i++) {
    guint64 lease = grant(bus->connection, 60000, FALSE);
    first = first != 0 ? first : lease;
  }
  g_autoptr(GVariant) refused =
      kv_test_bus_call(bus, "GrantLease", g_variant_new("(tb)", (guint64)1000, FALSE), &error);
  assert_error(error, "org.example.KVStore.Error.QuotaExceeded");
  g_clear_error(&error);

  g_auto(GVariantBuilder) entries = G_VARIANT_BUILDER_INIT(G_VARIANT_TYPE("a{sv}"));
  int max_keys = kv_test_on_etcd() ? 63 : 2499;
  for (int i = 0; i < max_keys; i++) {
    g_autofree char *key = g_strdup_printf("q/%04d", i);
    g_variant_builder_add(&entries, "{sv}", key, g_variant_new_int32(i));
  }
  g_autoptr(GVariant) full =
      kv_test_bus_call_ok(bus, "SetManyLeased", g_variant_new("(ta{sv})", first, &entries));
  g_autoptr(GVariant) over = kv_test_bus_call(
      bus, "SetLeased", g_variant_new("(stv)", "q/over", first, g_variant_new_int32(0)), &error);
  assert_error(error, "org.example.KVStore.Error.QuotaExceeded");
  /* A lease with the most keys ends in one change. */
  g_autoptr(GVariant) revoked =
      kv_test_bus_call_ok(bus, "RevokeLease", g_variant_new("(t)", first));
  g_autoptr(GVariant) left = kv_test_bus_call_ok(bus, "Keys", g_variant_new("(s)", "q/"));
  g_autofree char *left_text = g_variant_print(left, FALSE);
  g_assert_cmpstr(left_text, ==, "([],)");
}

/* Restart: a bound lease whose connection stays keeps its keys (and still ends with the
 * connection), one whose connection left meanwhile ends; a TTL lease keeps its deadline,
 * passed or not. */
static void test_restart(KvTestBus *bus, gconstpointer data)
{
  GDBusConnection *stays = kv_test_bus_connect(kv_test_bus_address(bus));
  GDBusConnection *leaves = kv_test_bus_connect(kv_test_bus_address(bus));

  set_leased(stays, "r/stays", grant(stays, 0, TRUE));
  set_leased(leaves, "r/leaves", grant(leaves, 0, TRUE));
  set_leased(bus->connection, "r/long", grant(bus->connection, 60000, FALSE));
  set_leased(bus->connection, "r/short", grant(bus->connection, 1500, FALSE));

  kv_test_bus_stop_daemon(bus);
  g_dbus_connection_close_sync(leaves, NULL, NULL);
  g_object_unref(leaves);
  g_usleep(1600 * 1000);

  /* The first call starts kvstored again; locally, the leases that ended while it was
   * away are gone before it serves any call (on etcd, a round trip later). */
  g_assert_true(exists(bus, "r/stays"));
  g_assert_true(exists(bus, "r/long"));
  if (!kv_test_on_etcd()) {
    g_assert_false(exists(bus, "r/leaves"));
    g_assert_false(exists(bus, "r/short"));
  }
  wait_gone(bus, "r/leaves", 5);
  wait_gone(bus, "r/short", 5);

  g_dbus_connection_close_sync(stays, NULL, NULL);
  g_object_unref(stays);
  wait_gone(bus, "r/stays", 5);
  g_assert_true(exists(bus, "r/long"));
}

/* kvstored does not exit on idle while a lease needs it to end on time; once none is
 * left, it does. */
static void test_no_idle_exit_with_leases(KvTestBus *bus, gconstpointer data)
{
  g_autoptr(GVariant) reply = kv_test_bus_call_ok(
      bus, "SetWithTtl", g_variant_new("(stv)", "idle/ttl", (guint64)2500, g_variant_new_int32(1)));
  pid_t pid = kv_test_bus_daemon_pid(bus);

  /* Past the idle timeout, with no call. */
  g_usleep(1800 * 1000);
  g_assert_cmpint(kv_test_bus_daemon_pid(bus), ==, pid);
  g_usleep(1000 * 1000);
  g_assert_false(exists(bus, "idle/ttl"));
  kv_test_bus_assert_exited_cleanly(bus);
}

/* Lock contenders: each on its own connection, told by LockAcquired. */
typedef struct {
  GDBusConnection *connection;
  guint64 token;
  gboolean holds;
  guint id;
} Contender;

static void on_lock_acquired(GDBusConnection *connection, const char *sender, const char *path,
                             const char *interface, const char *member, GVariant *parameters,
                             gpointer user_data)
{
  Contender *contender = user_data;
  const char *name;
  guint64 token;

  g_variant_get(parameters, "(&st)", &name, &token);
  if (strcmp(name, "job") == 0 && token == contender->token)
    contender->holds = TRUE;
}

static void contender_lock(KvTestBus *bus, Contender *contender)
{
  guint64 lease;

  contender->connection = kv_test_bus_connect(kv_test_bus_address(bus));
  contender->id = g_dbus_connection_signal_subscribe(
      contender->connection, KV_BUS_NAME, KV_INTERFACE, "LockAcquired", KV_OBJECT_PATH, NULL,
      G_DBUS_SIGNAL_FLAGS_NONE, on_lock_acquired, contender, NULL);
  g_autoptr(GVariant) reply =
      call_on_ok(contender->connection, "Lock", g_variant_new("(st)", "job", (guint64)0));
  g_variant_get(reply, "(ttb)", &contender->token, &lease, &contender->holds);
}

static void contender_close(Contender *contender)
{
  if (contender->connection == NULL)
    return;
  g_dbus_connection_signal_unsubscribe(contender->connection, contender->id);
  g_dbus_connection_close_sync(contender->connection, NULL, NULL);
  g_clear_object(&contender->connection);
}

static guint count_holders(Contender *contenders, guint n)
{
  guint holders = 0;

  for (guint i = 0; i < n; i++)
    holders += contenders[i].connection != NULL && contenders[i].holds;
  return holders;
}

/* Iterates until contender @next holds the lock; no other may meanwhile. */
static void wait_holder(Contender *contenders, guint n, guint next)
{
  gint64 deadline = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;

  while (!contenders[next].holds) {
    g_assert_cmpint(g_get_monotonic_time(), <, deadline);
    g_assert_cmpuint(count_holders(contenders, n), ==, 0);
    if (!g_main_context_iteration(NULL, FALSE))
      g_usleep(1000);
  }
  g_assert_cmpuint(count_holders(contenders, n), ==, 1);
}

static void test_ten_contenders(KvTestBus *bus, gconstpointer data)
{
  Contender contenders[10] = {{0}};
  const guint n = G_N_ELEMENTS(contenders);

  for (guint i = 0; i < n; i++) {
    contender_lock(bus, &contenders[i]);
    g_assert_true(contenders[i].holds == (i == 0));
    if (i > 0)
      g_assert_cmpuint(contenders[i].token, >, contenders[i - 1].token);
  }
  for (guint i = 0; i < n; i++) {
    wait_holder(contenders, n, i);
    /* Every other one releases; the rest leave the bus holding it, as a crash would. */
    if (i % 2 == 0) {
      g_autoptr(GVariant) reply = call_on_ok(contenders[i].connection, "Unlock",
                                             g_variant_new("(st)", "job", contenders[i].token));
    }
    contender_close(&contenders[i]);
  }
  wait_reserved_gone(bus);
}

/* Another caller's Ping is answered while @what: says how soon. */
static void ping_meanwhile(KvTestBus *bus, const char *what)
{
  gint64 start = g_get_monotonic_time();
  g_autoptr(GVariant) pong = g_dbus_connection_call_sync(
      bus->connection, KV_BUS_NAME, KV_OBJECT_PATH, "org.freedesktop.DBus.Peer", "Ping", NULL, NULL,
      G_DBUS_CALL_FLAGS_NONE, 10000, NULL, NULL);

  g_assert_nonnull(pong);
  g_test_message("Ping answered in %.1f ms while %s", (g_get_monotonic_time() - start) / 1000.0,
                 what);
}

/* A thousand waiters on one lock, from ten connections at once (a bus lets one connection
 * wait for a few hundred replies): bounded, and a Ping from another caller is still
 * answered while they queue and are served. */
static void test_thousand_waiters(KvTestBus *bus, gconstpointer data)
{
  enum { CONNECTIONS = 10, EACH = 100 };
  GDBusConnection *crowd[CONNECTIONS];
  static KvTestAnswer answers[CONNECTIONS * EACH];
  g_autoptr(GHashTable) tokens = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, NULL);
  guint holders = 0;

  for (guint c = 0; c < CONNECTIONS; c++)
    crowd[c] = kv_test_bus_connect(kv_test_bus_address(bus));
  /* Started first: a bus queues only so many calls for a service it activates. */
  g_assert_false(exists(bus, "busy"));
  for (guint i = 0; i < G_N_ELEMENTS(answers); i++)
    kv_test_call_async(crowd[i % CONNECTIONS], "Lock", g_variant_new("(st)", "busy", (guint64)0),
                       &answers[i]);
  gint64 start = g_get_monotonic_time();
  ping_meanwhile(bus, "1000 Lock calls queued");
  for (guint i = 0; i < G_N_ELEMENTS(answers); i++) {
    guint64 token, lease;
    gboolean acquired;
    kv_test_answer_wait(&answers[i]);
    g_assert_no_error(answers[i].error);
    g_variant_get(answers[i].reply, "(ttb)", &token, &lease, &acquired);
    holders += acquired;
    g_assert_true(g_hash_table_add(tokens, g_memdup2(&token, sizeof token)));
    kv_test_answer_clear(&answers[i]);
  }
  g_assert_cmpuint(holders, ==, 1);
  /* The whole queue goes with the connections. */
  for (guint c = 0; c < CONNECTIONS; c++) {
    g_dbus_connection_close_sync(crowd[c], NULL, NULL);
    g_object_unref(crowd[c]);
  }
  wait_reserved_gone(bus);
  g_test_message("The queue of 1000 was gone %.1f ms after its connections closed",
                 (g_get_monotonic_time() - start) / 1000.0);
}

/* Keep-alives as fast as twenty connections can send them, 2,000 in all, on one lease:
 * each answered (a durable write each, committed in groups), and another caller's Ping
 * answered meanwhile. */
static void test_keep_alive_flood(KvTestBus *bus, gconstpointer data)
{
  enum { CONNECTIONS = 20, EACH = 100 };
  GDBusConnection *crowd[CONNECTIONS];
  static KvTestAnswer answers[CONNECTIONS * EACH];
  guint64 lease = grant(bus->connection, 60000, FALSE);
  g_autoptr(GVariant) before = kv_test_get_property(bus->connection, "Revision");

  for (guint c = 0; c < CONNECTIONS; c++)
    crowd[c] = kv_test_bus_connect(kv_test_bus_address(bus));
  for (guint i = 0; i < G_N_ELEMENTS(answers); i++)
    kv_test_call_async(crowd[i % CONNECTIONS], "KeepAlive", g_variant_new("(t)", lease),
                       &answers[i]);
  gint64 start = g_get_monotonic_time();
  ping_meanwhile(bus, "2000 KeepAlive calls came");
  for (guint i = 0; i < G_N_ELEMENTS(answers); i++) {
    kv_test_answer_wait(&answers[i]);
    g_assert_no_error(answers[i].error);
    kv_test_answer_clear(&answers[i]);
  }
  g_test_message("2000 KeepAlive calls answered in %.0f ms",
                 (g_get_monotonic_time() - start) / 1000.0);
  g_autoptr(GVariant) after = kv_test_get_property(bus->connection, "Revision");
  g_assert_cmpuint(g_variant_get_uint64(after), ==, g_variant_get_uint64(before) + 2000);
  for (guint c = 0; c < CONNECTIONS; c++) {
    g_dbus_connection_close_sync(crowd[c], NULL, NULL);
    g_object_unref(crowd[c]);
  }
}

int main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
#define ADD(path, func, args)                                                                      \
  g_test_add("/leases/" path, KvTestBus, args, kv_test_bus_setup, func, kv_test_bus_teardown)
  ADD("bound-key-goes-with-connection", test_bound_key_goes_with_connection, NULL);
  ADD("bound-key-goes-on-sigkill", test_bound_key_goes_on_sigkill, NULL);
  ADD("ttl-on-time", test_ttl_on_time, NULL);
  ADD("keep-alive", test_keep_alive, NULL);
  ADD("revoke-and-detach", test_revoke_and_detach, NULL);
  ADD("errors", test_errors, NULL);
  ADD("quotas", test_quotas, "--sync none");
  ADD("restart", test_restart, NULL);
  ADD("no-idle-exit-with-leases", test_no_idle_exit_with_leases, "--idle-timeout 1");
  ADD("ten-contenders", test_ten_contenders, NULL);
  ADD("thousand-waiters", test_thousand_waiters, NULL);
  ADD("keep-alive-flood", test_keep_alive_flood, NULL);
#undef ADD
  return g_test_run();
}
