/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Access rules on the system bus, as other users see them: a private bus started with the
 * system bus configuration and the project's real policy file, kvstored reading its rules
 * from a test directory, and clients run as distinct uids and groups. Needs root. */

#include "kv-config.h"
#include "kv-test-bus.h"
#include "kv-test-system-bus.h"

#include <glib/gstdio.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

/* dbus-daemon admits only uids it finds in the user database: Debian's base users
 * daemon, bin, sys and sync stand in for alice, bob, carol and another, with groups of the
 * test's own (2000). */
static const KvTestUser alice = {1, 1, 0, {0}};
static const KvTestUser bob = {2, 2, 0, {0}};
static const KvTestUser carol = {3, 3, 1, {2000}};

static const char base_rules[] = "[Prefix app/]\n"
                                 "Read=everyone\n"
                                 "Write=user:1\n"
                                 "Owner=1\n"
                                 "\n"
                                 "[Prefix app/open/]\n"
                                 "Read=everyone\n"
                                 "Write=user:2\n"
                                 "\n"
                                 "[Prefix team/]\n"
                                 "Read=group:2000\n"
                                 "Write=group:2000\n"
                                 "\n"
                                 "[Quota]\n"
                                 "MaxKeys=4\n"
                                 "MaxBytes=1000\n";

typedef struct {
  KvTestSystemBus bus;
  char *dir; /* rules/ and state/ below */
  char *rules_dir;
  char *state_dir;
} Fixture;

static void write_rules(Fixture *f, const char *name, const char *text)
{
  g_autofree char *path = g_build_filename(f->rules_dir, name, NULL);
  g_autoptr(GError) error = NULL;

  g_file_set_contents(path, text, -1, &error);
  g_assert_no_error(error);
}

static void start_kvstored(Fixture *f)
{
  kv_test_system_bus_start_kvstored(
      &f->bus,
      (const char *const[]){"--access-dir", f->rules_dir, "--state-dir", f->state_dir, NULL});
}

static void setup(Fixture *f, gconstpointer data)
{
  if (getuid() != 0)
    return;
  f->dir = g_dir_make_tmp("kv-access-XXXXXX", NULL);
  g_assert_nonnull(f->dir);
  /* Other users' clients run from here: they must reach nothing of it but the bus. */
  f->rules_dir = g_build_filename(f->dir, "rules", NULL);
  f->state_dir = g_build_filename(f->dir, "state", NULL);
  g_assert_cmpint(g_mkdir(f->rules_dir, 0755), ==, 0);
  write_rules(f, "50-test.conf", base_rules);
  kv_test_system_bus_start(&f->bus, kv_test_getenv("KV_TEST_SYSTEM_BUS_CONF"));
  start_kvstored(f);
}

static void teardown(Fixture *f, gconstpointer data)
{
  if (f->dir == NULL)
    return;
  kv_test_system_bus_stop(&f->bus);
  kv_test_remove_tree(f->dir);
  g_free(f->dir);
  g_free(f->rules_dir);
  g_free(f->state_dir);
}

static gboolean skip_unless_root(void)
{
  if (getuid() == 0)
    return FALSE;
  g_test_skip("needs root to run clients as other users");
  return TRUE;
}

#define kvctl_as(f, user, out, err, ...)                                                           \
  kv_test_system_bus_kvctl(&(f)->bus, user, out, err, __VA_ARGS__, NULL)

/* kvctl @command [@arg1 [@arg2]] as @user (root when NULL) must succeed. */
static void assert_ok(Fixture *f, const KvTestUser *user, const char *command, const char *arg1,
                      const char *arg2)
{
  g_autofree char *err = NULL;
  int status = kvctl_as(f, user, NULL, &err, command, arg1, arg2);

  if (status != 0)
    g_error("kvctl %s %s as uid %u: exit %d, %s", command, arg1, user != NULL ? user->uid : 0,
            status, err);
}

/* kvctl as @user must fail with the D-Bus error @name, its message naming @key. */
static void assert_refused(Fixture *f, const KvTestUser *user, const char *name, const char *key,
                           const char *command, const char *arg1, const char *arg2)
{
  g_autofree char *err = NULL;
  g_autofree char *quoted = g_strdup_printf("'%s'", key);
  int status = kvctl_as(f, user, NULL, &err, command, arg1, arg2);

  if (status != 3 || strstr(err, name) == NULL || strstr(err, quoted) == NULL)
    g_error("kvctl %s %s as uid %u: exit %d, '%s'; expected %s naming %s", command, arg1, user->uid,
            status, err, name, quoted);
}

static void assert_denied(Fixture *f, const KvTestUser *user, const char *key, const char *command,
                          const char *arg1, const char *arg2)
{
  assert_refused(f, user, "org.freedesktop.DBus.Error.AccessDenied", key, command, arg1, arg2);
}

/* kvctl as @user with up to two arguments, which must succeed; its stdout. */
static char *kvctl_out2(Fixture *f, const KvTestUser *user, const char *command, const char *arg,
                        const char *arg2)
{
  g_autofree char *err = NULL;
  char *out = NULL;
  int status = kvctl_as(f, user, &out, &err, command, arg, arg2);

  if (status != 0)
    g_error("kvctl %s %s as uid %u: exit %d, %s", command, arg, user != NULL ? user->uid : 0,
            status, err);
  return out;
}

static char *kvctl_out(Fixture *f, const KvTestUser *user, const char *command, const char *arg)
{
  return kvctl_out2(f, user, command, arg, NULL);
}

static void test_own_prefixes(Fixture *f, gconstpointer data)
{
  if (skip_unless_root())
    return;
  assert_ok(f, &alice, "set", "app/x", "by alice");
  assert_ok(f, &alice, "set", "users/1/secret", "alice's secret");
  assert_ok(f, &bob, "set", "users/2/mine", "bob's");
  g_autofree char *own = kvctl_out(f, &alice, "get", "users/1/secret");
  g_assert_cmpstr(own, ==, "alice's secret\n");

  /* Another uid may neither write nor read them. */
  assert_denied(f, &bob, "app/x", "set", "app/x", "by bob");
  assert_denied(f, &bob, "users/1/secret", "set", "users/1/secret", "x");
  assert_denied(f, &bob, "users/1/secret", "del", "users/1/secret", NULL);
  assert_denied(f, &bob, "users/1/n", "incr", "users/1/n", NULL);
  assert_denied(f, &bob, "users/1/secret", "get", "users/1/secret", NULL);
  assert_denied(f, &bob, "users/1/secret", "exists", "users/1/secret", NULL);

  /* Nor list them: Keys, KeysPage (keys) and GetAllPage (dump) leave them out. */
  g_autofree char *bob_keys = kvctl_out(f, &bob, "keys", "");
  g_assert_cmpstr(bob_keys, ==, "app/x\nusers/2/mine\n");
  g_autofree char *alice_keys = kvctl_out(f, &alice, "keys", "users/");
  g_assert_cmpstr(alice_keys, ==, "users/1/secret\n");
  g_autofree char *bob_dump = kvctl_out(f, &bob, "dump", NULL);
  g_assert_null(strstr(bob_dump, "secret"));
  g_assert_nonnull(strstr(bob_dump, "bob's"));

  /* GetMany and GetAll, through gdbus as bob. */
  const char *calls[][2] = {{"GetMany", "['users/1/secret', 'app/x']"}, {"GetAll", "''"}};
  for (gsize i = 0; i < G_N_ELEMENTS(calls); i++) {
    g_autofree char *method = g_strconcat(KV_INTERFACE ".", calls[i][0], NULL);
    g_autoptr(GSubprocess) gdbus = kv_test_system_bus_spawn(
        &f->bus, &bob, G_SUBPROCESS_FLAGS_STDOUT_PIPE, NULL,
        (const char *const[]){"gdbus", "call", "--address", f->bus.address, "--dest", KV_BUS_NAME,
                              "--object-path", KV_OBJECT_PATH, "--method", method, calls[i][1],
                              NULL});
    g_autofree char *out = NULL;
    g_subprocess_communicate_utf8(gdbus, NULL, NULL, &out, NULL, NULL);
    g_assert_true(g_subprocess_get_successful(gdbus));
    g_assert_nonnull(strstr(out, "by alice"));
    g_assert_null(strstr(out, "secret"));
  }

  /* Root reads everything. */
  g_autofree char *root_keys = kvctl_out(f, NULL, "keys", "users/");
  g_assert_cmpstr(root_keys, ==, "users/1/secret\nusers/2/mine\n");
}

static void test_longest_prefix_and_batches(Fixture *f, gconstpointer data)
{
  if (skip_unless_root())
    return;
  /* app/open/ is bob's, although app/ is alice's. */
  assert_ok(f, &bob, "set", "app/open/x", "by bob");
  assert_denied(f, &alice, "app/open/y", "set", "app/open/y", "by alice");
  assert_ok(f, &alice, "set", "app/openly", "by alice");

  /* One key refused refuses the whole batch, naming it; nothing is written. */
  g_autofree char *err = NULL;
  int status = kvctl_as(f, &alice, NULL, &err, "set-many", "app/b=1", "users/2/z=2", "app/c=3");
  g_assert_cmpint(status, ==, 3);
  g_assert_nonnull(strstr(err, "AccessDenied"));
  g_assert_nonnull(strstr(err, "'users/2/z'"));
  g_assert_cmpint(kvctl_as(f, &alice, NULL, NULL, "get", "app/b"), ==, 1);
  assert_denied(f, &alice, "app/open/x", "del", "app/x", "app/open/x");
  g_autofree char *value = kvctl_out(f, &alice, "get", "app/open/x");
  g_assert_cmpstr(value, ==, "by bob\n");

  g_autofree char *explained = kvctl_out(f, &bob, "access", "users/1/k");
  g_assert_cmpstr(explained, ==,
                  "rule: prefix 'users/1/' (built-in): read: uid 1; write: uid 1\n"
                  "read: no\nwrite: no (polkit may authorize it)\n");
  g_autofree char *mine = kvctl_out(f, &bob, "access", "app/open/k");
  g_assert_nonnull(strstr(mine, "50-test.conf:6"));
  g_assert_nonnull(strstr(mine, "read: yes\nwrite: yes\n"));
}

/* DeletePrefix: keys the caller may not read are left alone (and unnamed); one it may
 * read but not write refuses the whole call. */
static void test_delete_prefix(Fixture *f, gconstpointer data)
{
  if (skip_unless_root())
    return;
  assert_ok(f, &alice, "set", "users/1/a", "alice's");
  assert_ok(f, &bob, "set", "users/2/b", "bob's");
  assert_ok(f, &bob, "set", "users/2/c", "bob's");
  g_autofree char *deleted = kvctl_out2(f, &bob, "del", "--prefix", "users/");
  g_assert_cmpstr(deleted, ==, "2\n");
  g_autofree char *left = kvctl_out(f, NULL, "keys", "users/");
  g_assert_cmpstr(left, ==, "users/1/a\n");

  assert_ok(f, &alice, "set", "app/q", "alice's");
  assert_ok(f, &bob, "set", "app/open/q", "bob's");
  assert_denied(f, &bob, "app/q", "del", "--prefix", "app/");
  g_autofree char *kept = kvctl_out(f, NULL, "keys", "app/");
  g_assert_cmpstr(kept, ==, "app/open/q\napp/q\n");
}

static void test_groups(Fixture *f, gconstpointer data)
{
  const KvTestUser primary_only = {4, 2000, 0, {0}};

  if (skip_unless_root())
    return;
  assert_ok(f, &carol, "set", "team/plan", "by carol");
  g_autofree char *value = kvctl_out(f, &carol, "get", "team/plan");
  g_assert_cmpstr(value, ==, "by carol\n");
  assert_denied(f, &bob, "team/plan", "get", "team/plan", NULL);
  assert_denied(f, &bob, "team/plan", "set", "team/plan", "by bob");
  g_autofree char *listed = kvctl_out(f, &bob, "keys", "team/");
  g_assert_cmpstr(listed, ==, "");
  /* The primary group counts as well as supplementary ones. */
  assert_ok(f, &primary_only, "set", "team/other", "by 4");
}

/* Polls @path until it contains @text; FALSE after @tries times 10 ms. */
static gboolean wait_for_text(const char *path, const char *text, int tries)
{
  for (int i = 0; i < tries; i++) {
    g_autofree char *contents = NULL;
    if (g_file_get_contents(path, &contents, NULL, NULL) && strstr(contents, text) != NULL)
      return TRUE;
    g_usleep(10 * 1000);
  }
  return FALSE;
}

static char *read_text(const char *path)
{
  char *contents = NULL;

  g_assert_true(g_file_get_contents(path, &contents, NULL, NULL));
  return contents;
}

static void set_as_root(Fixture *f, const char *key, GVariant *value)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = g_dbus_connection_call_sync(
      f->bus.connection, KV_BUS_NAME, KV_OBJECT_PATH, KV_INTERFACE, "Set",
      g_variant_new("(sv)", key, value), NULL, G_DBUS_CALL_FLAGS_NONE, -1, NULL, &error);

  g_assert_no_error(error);
}

static void stop(GSubprocess *process)
{
  g_subprocess_send_signal(process, SIGTERM);
  g_subprocess_wait(process, NULL, NULL);
}

/* Private changes reach their owner's subscription, once each and in order, and nobody
 * else: neither another uid's subscription to everything nor its bus monitor. */
static void test_signals(Fixture *f, gconstpointer data)
{
  if (skip_unless_root())
    return;
  g_autofree char *owner_out = g_build_filename(f->dir, "owner.out", NULL);
  g_autofree char *other_out = g_build_filename(f->dir, "other.out", NULL);
  g_autofree char *monitor_out = g_build_filename(f->dir, "monitor.out", NULL);
  const char *kvctl = kv_test_getenv("KV_TEST_KVCTL");
  g_autoptr(GSubprocess) owner = kv_test_system_bus_spawn(
      &f->bus, &alice, G_SUBPROCESS_FLAGS_STDERR_SILENCE, owner_out,
      (const char *const[]){kvctl, "--address", f->bus.address, "watch", "users/", NULL});
  g_autoptr(GSubprocess) other = kv_test_system_bus_spawn(
      &f->bus, &bob, G_SUBPROCESS_FLAGS_STDERR_SILENCE, other_out,
      (const char *const[]){kvctl, "--address", f->bus.address, "watch", "", NULL});
  g_autoptr(GSubprocess) monitor = kv_test_system_bus_spawn(
      &f->bus, &bob, G_SUBPROCESS_FLAGS_STDERR_SILENCE, monitor_out,
      (const char *const[]){"dbus-monitor", "--address", f->bus.address,
                            "type='signal',interface='" KV_INTERFACE "'", NULL});

  /* A key everyone reads is broadcast: once all three see it, all three listen. */
  for (int i = 0; i < 200; i++) {
    set_as_root(f, "users/ready", g_variant_new_int32(i));
    if (wait_for_text(owner_out, "users/ready", 10) &&
        wait_for_text(other_out, "users/ready", 10) &&
        wait_for_text(monitor_out, "users/ready", 10))
      break;
  }
  for (int i = 1; i <= 3; i++)
    set_as_root(f, "users/1/k", g_variant_new_int32(i));
  g_assert_cmpint(kvctl_as(f, NULL, NULL, NULL, "del", "users/1/k"), ==, 0);
  set_as_root(f, "users/2/b", g_variant_new_string("bob's"));
  set_as_root(f, "users/end", g_variant_new_boolean(TRUE));
  g_assert_true(wait_for_text(owner_out, "users/end", 1000));
  g_assert_true(wait_for_text(other_out, "users/end", 1000));
  g_assert_true(wait_for_text(monitor_out, "users/end", 1000));
  stop(owner);
  stop(other);
  stop(monitor);

  g_autofree char *seen_by_owner = read_text(owner_out);
  g_autoptr(GString) private_lines = g_string_new(NULL);
  g_auto(GStrv) lines = g_strsplit(seen_by_owner, "\n", -1);
  guint64 last_revision = 0;
  for (guint i = 0; lines[i] != NULL && lines[i][0] != '\0'; i++) {
    guint64 revision = g_ascii_strtoull(lines[i], NULL, 10);
    g_assert_cmpuint(revision, >, last_revision);
    last_revision = revision;
    const char *rest = strchr(lines[i], '\t') + 1;
    if (g_str_has_prefix(rest, "users/1"))
      g_string_append_printf(private_lines, "%s\n", rest);
  }
  g_assert_cmpstr(private_lines->str, ==,
                  "users/1/k\t1\nusers/1/k\t2\nusers/1/k\t3\n"
                  "users/1/k\tdeleted\n");

  g_autofree char *seen_by_other = read_text(other_out);
  g_assert_null(strstr(seen_by_other, "users/1"));
  g_assert_nonnull(strstr(seen_by_other, "users/2/b\t"));
  g_autofree char *seen_by_monitor = read_text(monitor_out);
  g_assert_null(strstr(seen_by_monitor, "users/1"));
  g_assert_null(strstr(seen_by_monitor, "users/2"));
}

/* The history serves each caller the changes of keys it may read, and no others: pulled
 * (ChangesSince) and pushed (SubscribeSince), before and after the subscription. */
static void test_history_private(Fixture *f, gconstpointer data)
{
  if (skip_unless_root())
    return;
  assert_ok(f, &alice, "set", "app/x", "by alice");
  assert_ok(f, &alice, "set", "users/1/secret", "alice's secret");
  assert_ok(f, &bob, "set", "users/2/mine", "bob's");

  g_autofree char *bob_changes = kvctl_out2(f, &bob, "changes", "--since=0", "");
  g_assert_nonnull(strstr(bob_changes, "\tapp/x\t"));
  g_assert_nonnull(strstr(bob_changes, "\tusers/2/mine\t"));
  g_assert_null(strstr(bob_changes, "secret"));
  g_autofree char *alice_changes = kvctl_out2(f, &alice, "changes", "--since=0", "users/");
  g_assert_nonnull(strstr(alice_changes, "\tusers/1/secret\t"));
  g_assert_null(strstr(alice_changes, "users/2"));

  g_autofree char *watch_out = g_build_filename(f->dir, "history-watch.out", NULL);
  const char *kvctl = kv_test_getenv("KV_TEST_KVCTL");
  g_autoptr(GSubprocess) watch = kv_test_system_bus_spawn(
      &f->bus, &bob, G_SUBPROCESS_FLAGS_STDERR_SILENCE, watch_out,
      (const char *const[]){kvctl, "--address", f->bus.address, "watch", "--since=0", "", NULL});
  g_assert_true(wait_for_text(watch_out, "users/2/mine", 1000));
  assert_ok(f, &alice, "set", "users/1/secret", "another secret");
  assert_ok(f, &alice, "set", "app/end", "done");
  g_assert_true(wait_for_text(watch_out, "app/end", 1000));
  stop(watch);
  g_autofree char *seen = read_text(watch_out);
  g_assert_nonnull(strstr(seen, "\tapp/x\t"));
  g_assert_null(strstr(seen, "secret"));
}

static void on_signal(GDBusConnection *connection, const char *sender, const char *path,
                      const char *interface, const char *member, GVariant *parameters,
                      gpointer user_data)
{
  const char *key;

  g_variant_get_child(parameters, 0, "&s", &key);
  g_ptr_array_add(user_data, g_strdup_printf("%s %s", member, key));
}

/* A GDBus client receives the unicast signals through an ordinary signal subscription
 * (with the well-known name as sender), once it called Subscribe. */
static void test_gdbus_subscriber(Fixture *f, gconstpointer data)
{
  g_autoptr(GPtrArray) seen = g_ptr_array_new_with_free_func(g_free);
  g_autoptr(GError) error = NULL;

  if (skip_unless_root())
    return;
  guint id = g_dbus_connection_signal_subscribe(
      f->bus.connection, KV_BUS_NAME, KV_INTERFACE, NULL, KV_OBJECT_PATH, "users/1/",
      G_DBUS_SIGNAL_FLAGS_MATCH_ARG0_PATH, on_signal, seen, NULL);
  g_autoptr(GVariant) reply = g_dbus_connection_call_sync(
      f->bus.connection, KV_BUS_NAME, KV_OBJECT_PATH, KV_INTERFACE, "Subscribe",
      g_variant_new("(s)", "users/1/"), NULL, G_DBUS_CALL_FLAGS_NONE, -1, NULL, &error);
  g_assert_no_error(error);

  assert_ok(f, &alice, "set", "users/1/a", "1");
  assert_ok(f, &alice, "del", "users/1/a", NULL);
  assert_ok(f, &alice, "set", "users/1/end", "end");
  while (seen->len < 3)
    g_main_context_iteration(NULL, TRUE);
  g_dbus_connection_signal_unsubscribe(f->bus.connection, id);
  g_assert_cmpstr(g_ptr_array_index(seen, 0), ==, "Changed users/1/a");
  g_assert_cmpstr(g_ptr_array_index(seen, 1), ==, "Deleted users/1/a");
  g_assert_cmpstr(g_ptr_array_index(seen, 2), ==, "Changed users/1/end");
}

static void test_subscription_limits(Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;

  if (skip_unless_root())
    return;
  for (int i = 0; i < 64; i++) {
    g_autofree char *prefix = g_strdup_printf("p%d/", i);
    g_autoptr(GVariant) reply = g_dbus_connection_call_sync(
        f->bus.connection, KV_BUS_NAME, KV_OBJECT_PATH, KV_INTERFACE, "Subscribe",
        g_variant_new("(s)", prefix), NULL, G_DBUS_CALL_FLAGS_NONE, -1, NULL, &error);
    g_assert_no_error(error);
  }
  g_autoptr(GVariant) again = g_dbus_connection_call_sync(
      f->bus.connection, KV_BUS_NAME, KV_OBJECT_PATH, KV_INTERFACE, "Subscribe",
      g_variant_new("(s)", "p0/"), NULL, G_DBUS_CALL_FLAGS_NONE, -1, NULL, &error);
  g_assert_no_error(error);
  g_autoptr(GVariant) one_more = g_dbus_connection_call_sync(
      f->bus.connection, KV_BUS_NAME, KV_OBJECT_PATH, KV_INTERFACE, "Subscribe",
      g_variant_new("(s)", "p64/"), NULL, G_DBUS_CALL_FLAGS_NONE, -1, NULL, &error);
  g_assert_null(one_more);
  g_autofree char *name = g_dbus_error_get_remote_error(error);
  g_assert_cmpstr(name, ==, "org.example.KVStore.Error.TooLarge");
  g_clear_error(&error);

  g_autoptr(GVariant) gone = g_dbus_connection_call_sync(
      f->bus.connection, KV_BUS_NAME, KV_OBJECT_PATH, KV_INTERFACE, "Unsubscribe",
      g_variant_new("(s)", "never/"), NULL, G_DBUS_CALL_FLAGS_NONE, -1, NULL, &error);
  g_assert_null(gone);
  g_autofree char *gone_name = g_dbus_error_get_remote_error(error);
  g_assert_cmpstr(gone_name, ==, "org.example.KVStore.Error.NotFound");
}

static void test_bad_rules_stop_start(Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *err = NULL;

  if (skip_unless_root())
    return;
  kv_test_system_bus_stop_kvstored(&f->bus);
  write_rules(f, "60-bad.conf", "[Prefix x/]\nRead=everybody\n");
  g_autoptr(GSubprocess) kvstored = kv_test_system_bus_spawn(
      &f->bus, NULL, G_SUBPROCESS_FLAGS_STDERR_PIPE, NULL,
      (const char *const[]){kv_test_getenv("KV_TEST_KVSTORED"), "--system", "--access-dir",
                            f->rules_dir, "--in-memory", NULL});
  g_subprocess_communicate_utf8(kvstored, NULL, NULL, NULL, &err, &error);
  g_assert_no_error(error);
  g_assert_cmpint(g_subprocess_get_exit_status(kvstored), ==, 1);
  g_autofree char *where = g_strdup_printf("%s/60-bad.conf:2:", f->rules_dir);
  if (strstr(err, where) == NULL)
    g_error("'%s' does not name %s", err, where);
}

static void reload_as_root(Fixture *f, GError **error)
{
  g_autoptr(GVariant) reply =
      g_dbus_connection_call_sync(f->bus.connection, KV_BUS_NAME, KV_OBJECT_PATH, KV_INTERFACE,
                                  "Reload", NULL, NULL, G_DBUS_CALL_FLAGS_NONE, -1, NULL, error);
}

static void test_reload(Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;

  if (skip_unless_root())
    return;
  assert_denied(f, &bob, "app/x", "set", "app/x", "by bob");
  write_rules(f, "70-bob.conf", "[Prefix app/]\nRead=everyone\nWrite=user:2\n");
  reload_as_root(f, &error);
  g_assert_no_error(error);
  assert_ok(f, &bob, "set", "app/x", "by bob");

  /* A bad file: Reload fails naming it, and the rules in force stay. */
  write_rules(f, "80-bad.conf", "[Prefix y/]\nWrite=user:2\nOops\n");
  reload_as_root(f, &error);
  g_assert_nonnull(error);
  g_autofree char *where = g_strdup_printf("%s/80-bad.conf:3:", f->rules_dir);
  if (strstr(error->message, where) == NULL)
    g_error("'%s' does not name %s", error->message, where);
  g_clear_error(&error);
  assert_ok(f, &bob, "set", "app/x", "by bob again");
  /* kvctl reload (systemctl reload runs it) fails the same way, naming the file. */
  g_autofree char *err = NULL;
  g_assert_cmpint(kvctl_as(f, NULL, NULL, &err, "reload"), ==, 3);
  if (strstr(err, where) == NULL)
    g_error("kvctl reload: '%s' does not name %s", err, where);

  /* Only root may reload. */
  g_clear_pointer(&err, g_free);
  g_assert_cmpint(kvctl_as(f, &bob, NULL, &err, "reload"), ==, 3);
  g_assert_nonnull(strstr(err, "AccessDenied"));
  g_clear_pointer(&err, g_free);
  g_assert_cmpint(kvctl_as(f, &bob, NULL, &err, "ping"), ==, 0);
  g_autoptr(GSubprocess) gdbus = kv_test_system_bus_spawn(
      &f->bus, &bob, G_SUBPROCESS_FLAGS_STDERR_PIPE | G_SUBPROCESS_FLAGS_STDOUT_SILENCE, NULL,
      (const char *const[]){"gdbus", "call", "--address", f->bus.address, "--dest", KV_BUS_NAME,
                            "--object-path", KV_OBJECT_PATH, "--method", KV_INTERFACE ".Reload",
                            NULL});
  g_autofree char *gdbus_err = NULL;
  g_subprocess_communicate_utf8(gdbus, NULL, NULL, NULL, &gdbus_err, NULL);
  g_assert_nonnull(strstr(gdbus_err, "AccessDenied"));

  /* SIGHUP reloads too. */
  g_autofree char *bad = g_build_filename(f->rules_dir, "80-bad.conf", NULL);
  g_autofree char *bobs = g_build_filename(f->rules_dir, "70-bob.conf", NULL);
  g_assert_cmpint(g_unlink(bad), ==, 0);
  g_assert_cmpint(g_unlink(bobs), ==, 0);
  g_subprocess_send_signal(f->bus.kvstored, SIGHUP);
  for (int i = 0; i < 500 && kvctl_as(f, &bob, NULL, NULL, "set", "app/x", "z") == 0; i++)
    g_usleep(10 * 1000);
  assert_denied(f, &bob, "app/x", "set", "app/x", "by bob");
  g_assert_cmpint(kvctl_as(f, NULL, NULL, NULL, "reload"), ==, 0);
}

static char *quota_error(Fixture *f, const KvTestUser *user, const char *key, const char *value)
{
  g_autofree char *err = NULL;
  int status = kvctl_as(f, user, NULL, &err, "set", key, value);

  g_assert_cmpint(status, ==, 3);
  g_assert_nonnull(strstr(err, "org.example.KVStore.Error.QuotaExceeded"));
  return g_steal_pointer(&err);
}

static void test_quotas(Fixture *f, gconstpointer data)
{
  g_autofree char *big = g_strnfill(980, 'b');

  if (skip_unless_root())
    return;
  /* users/1/ and app/ (Owner=1) count together: at most 4 keys and 1000 bytes. */
  assert_ok(f, &alice, "set", "users/1/k1", "1");
  assert_ok(f, &alice, "set", "users/1/k2", "2");
  assert_ok(f, &alice, "set", "app/k3", "3");
  assert_ok(f, &alice, "incr", "users/1/k4", NULL);
  g_autofree char *err = quota_error(f, &alice, "users/1/k5", "5");
  g_assert_nonnull(strstr(err, "uid 1"));
  /* Replacing a value adds no key. */
  assert_ok(f, &alice, "set", "users/1/k1", "one");
  /* A delete frees room. */
  assert_ok(f, &alice, "del", "users/1/k1", NULL);
  assert_ok(f, &alice, "set", "users/1/k5", "5");

  /* Bytes: keys and values, 50 in all; "2" (2 bytes) replaced by 981 would make 1029. */
  g_free(quota_error(f, &alice, "users/1/k2", big));
  g_autofree char *kept = kvctl_out(f, &alice, "get", "users/1/k2");
  g_assert_cmpstr(kept, ==, "2\n");

  /* Others' quotas are their own; root has none. */
  assert_ok(f, &bob, "set", "users/2/k1", big);
  assert_ok(f, NULL, "set", "users/1/by-root", big);

  /* Usage comes from the data: after a restart alice is still over her quota, root's key
   * included, until keys are deleted. */
  kv_test_system_bus_stop_kvstored(&f->bus);
  start_kvstored(f);
  /* Nothing is counted before the first write of a caller with a quota: then all is. */
  assert_ok(f, NULL, "set", "users/1/by-root-too", "x");
  g_free(quota_error(f, &alice, "users/1/k6", "6"));
  assert_ok(f, NULL, "del", "users/1/by-root", NULL);
  g_free(quota_error(f, &alice, "users/1/k6", "6"));
  assert_ok(f, NULL, "del", "users/1/by-root-too", NULL);
  g_free(quota_error(f, &alice, "users/1/k6", "6"));
  assert_ok(f, &alice, "del", "users/1/k5", NULL);
  assert_ok(f, &alice, "set", "users/1/k6", "6");
}

/* kvctl as @user must fail with exit status 3 and @text in its message. */
static void assert_fails_with(Fixture *f, const KvTestUser *user, const char *text,
                              const char *command, const char *arg1, const char *arg2,
                              const char *arg3)
{
  g_autofree char *err = NULL;
  int status = kvctl_as(f, user, NULL, &err, command, arg1, arg2, arg3);

  if (status != 3 || strstr(err, text) == NULL)
    g_error("kvctl %s %s as uid %u: exit %d, '%s'; expected '%s'", command, arg1, user->uid, status,
            err, text);
}

/* On the system bus, leases and locks keep to the access rules: kvstored's own keys are
 * root's to read (a marker names a private key), a lease is its uid's, a lock NAME is for
 * those who may write the key NAME, and the keys a lease's end deletes leave its owner's
 * quota. */
static void test_leases_private(Fixture *f, gconstpointer data)
{
  if (skip_unless_root())
    return;
  g_autofree char *out = NULL;
  g_assert_cmpint(kvctl_as(f, &alice, &out, NULL, "set", "--ttl", "60s", "users/1/presence", "up"),
                  ==, 0);
  g_autofree char *lease = g_strstrip(g_steal_pointer(&out));
  g_autofree char *record = g_strdup_printf(".kvstore/lease/%s", lease);
  g_autofree char *marker = g_strdup_printf("%s/users/1/presence", record);

  /* Only root sees the records and markers. */
  assert_denied(f, &alice, record, "get", record, NULL);
  assert_denied(f, &bob, marker, "get", marker, NULL);
  g_autofree char *listed = kvctl_out(f, &bob, "keys", ".kvstore/");
  g_assert_cmpstr(listed, ==, "");
  g_autofree char *seen = kvctl_out(f, NULL, "keys", ".kvstore/");
  g_assert_nonnull(strstr(seen, marker));
  g_autofree char *watched = kvctl_out2(f, &bob, "changes", "--since=0", "");
  g_assert_null(strstr(watched, "presence"));

  /* The lease is alice's: bob may not keep it alive, revoke it or write with it. */
  assert_fails_with(f, &bob, "AccessDenied", "lease", "keep-alive", lease, NULL);
  assert_fails_with(f, &bob, "AccessDenied", "lease", "revoke", lease, NULL);
  g_autofree char *err = NULL;
  g_assert_cmpint(kvctl_as(f, &bob, NULL, &err, "set", "--lease", lease, "users/2/x", "x"), ==, 3);
  g_assert_nonnull(strstr(err, "AccessDenied"));

  /* Locks share the keys' namespaces. */
  assert_ok(f, &alice, "lock", "users/1/job", "true");
  assert_fails_with(f, &bob, "AccessDenied", "lock", "users/1/job", "true", NULL);
  assert_ok(f, &bob, "lock", "users/2/job", "true");

  /* alice's quota is 4 keys: three more, with a TTL; the fifth is refused until those
   * three expire. */
  for (int i = 0; i < 3; i++) {
    g_autofree char *key = g_strdup_printf("users/1/t%d", i);
    g_assert_cmpint(kvctl_as(f, &alice, NULL, NULL, "set", "--ttl", "300ms", key, "x"), ==, 0);
  }
  g_free(quota_error(f, &alice, "users/1/fifth", "5"));
  for (int tries = 0; kvctl_as(f, &alice, NULL, NULL, "set", "users/1/fifth", "5") != 0; tries++) {
    g_assert_cmpint(tries, <, 100);
    g_usleep(50 * 1000);
  }
  g_assert_cmpint(kvctl_as(f, &alice, NULL, NULL, "lease", "revoke", lease), ==, 0);
}

static void mock_call(Fixture *f, const char *method, GVariant *args)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = g_dbus_connection_call_sync(
      f->bus.connection, "org.freedesktop.PolicyKit1", "/org/freedesktop/PolicyKit1/Authority",
      "org.freedesktop.DBus.Mock", method, args, NULL, G_DBUS_CALL_FLAGS_NONE, -1, NULL, &error);

  g_assert_no_error(error);
}

/* python-dbusmock's polkitd template in place of polkitd; it refuses every action at
 * first. */
static GSubprocess *start_polkit_mock(Fixture *f)
{
  GSubprocess *polkitd = kv_test_system_bus_spawn(
      &f->bus, NULL, G_SUBPROCESS_FLAGS_STDOUT_SILENCE | G_SUBPROCESS_FLAGS_STDERR_SILENCE, NULL,
      (const char *const[]){"/usr/bin/python3", "-m", "dbusmock", "--system", "--template",
                            "polkitd", NULL});

  g_assert_true(kv_test_system_bus_wait_for_name(&f->bus, "org.freedesktop.PolicyKit1"));
  return polkitd;
}

/* The polkit stand-in granting writes, but only once ReleaseHangingCalls is called: until
 * then every question waits. */
static GSubprocess *start_hanging_polkit(Fixture *f)
{
  GSubprocess *polkitd = start_polkit_mock(f);

  mock_call(f, "SetAllowed", g_variant_new_parsed("(['org.example.kvstore.write'],)"));
  mock_call(f, "SimulateHang", g_variant_new("(b)", TRUE));
  return polkitd;
}

static void test_polkit(Fixture *f, gconstpointer data)
{
  g_autofree char *err = NULL;

  if (skip_unless_root())
    return;
  /* Without polkit on the bus: AccessDenied, saying so. */
  g_assert_cmpint(kvctl_as(f, &bob, NULL, &err, "set", "app/x", "by bob"), ==, 3);
  g_assert_nonnull(strstr(err, "AccessDenied"));
  g_assert_nonnull(strstr(err, "polkit could not be asked"));

  g_autoptr(GSubprocess) polkitd = start_polkit_mock(f);

  /* polkit says no (the template refuses every action at first). */
  g_clear_pointer(&err, g_free);
  g_assert_cmpint(kvctl_as(f, &bob, NULL, &err, "set", "app/x", "by bob"), ==, 3);
  g_assert_nonnull(strstr(err, "AccessDenied"));
  g_assert_nonnull(strstr(err, "denied by polkit"));

  /* polkit says yes: the write, and a batch with a refused key, go through. */
  mock_call(f, "SetAllowed", g_variant_new_parsed("(['org.example.kvstore.write'],)"));
  assert_ok(f, &bob, "set", "app/x", "by bob");
  assert_ok(f, &bob, "set-many", "app/y=1", "users/1/z=2");
  g_autofree char *value = kvctl_out(f, &alice, "get", "users/1/z");
  g_assert_cmpstr(value, ==, "2\n");
  /* polkit grants writes, not reads. */
  assert_denied(f, &bob, "users/1/z", "get", "users/1/z", NULL);

  mock_call(f, "SetAllowed", g_variant_new_parsed("(@as [],)"));
  assert_denied(f, &bob, "app/x", "set", "app/x", "again");
  stop(polkitd);
}

/* The administrator's locks and defaults on the system bus: a lock refuses every caller
 * but root, whatever the rules and polkit say, and CheckAccess tells it; a default reads
 * as the rules allow; a reload that drops the lock frees the key. */
static void test_admin_locks(Fixture *f, gconstpointer data)
{
  g_autofree char *err = NULL;

  if (skip_unless_root())
    return;
  g_autofree char *defaults_dir = g_build_filename(f->dir, "defaults", NULL);
  g_autofree char *locks = g_build_filename(defaults_dir, "50-locks.conf", NULL);
  g_assert_cmpint(g_mkdir(defaults_dir, 0755), ==, 0);
  g_assert_true(g_file_set_contents(
      locks, "[app]\ntheme='dark'\n[.kvstore/locks]\nkeys=users/1/locked;app/fixed/\n", -1, NULL));
  kv_test_system_bus_stop_kvstored(&f->bus);
  kv_test_system_bus_start_kvstored(
      &f->bus, (const char *const[]){"--access-dir", f->rules_dir, "--state-dir", f->state_dir,
                                     "--defaults-dir", defaults_dir, NULL});

  assert_ok(f, &alice, "set", "users/1/free", "mine");
  assert_denied(f, &alice, "users/1/locked", "set", "users/1/locked", "mine");
  g_assert_cmpint(kvctl_as(f, &alice, NULL, &err, "set", "users/1/locked", "mine"), ==, 3);
  g_assert_nonnull(strstr(err, "locked by the administrator"));
  g_assert_nonnull(strstr(err, locks));
  assert_denied(f, &alice, "app/fixed/", "del", "--prefix", "app/fixed/");
  /* A lock name is a key to the rules (Lock NAME is allowed where writing NAME is), and
   * so to the administrator's locks. */
  assert_denied(f, &alice, "users/1/locked", "lock", "users/1/locked", "true");
  g_autofree char *access = kvctl_out(f, &alice, "access", "users/1/locked");
  g_assert_nonnull(strstr(access, "write: no (locked by the administrator)"));

  /* polkit granting every write does not lift a lock. */
  g_autoptr(GSubprocess) polkitd = start_polkit_mock(f);
  mock_call(f, "SetAllowed", g_variant_new_parsed("(['org.example.kvstore.write'],)"));
  assert_ok(f, &bob, "set", "app/x", "by bob");
  assert_denied(f, &bob, "app/fixed/x", "set", "app/fixed/x", "by bob");
  stop(polkitd);

  /* Root may; everyone reads the default as the rules let them. */
  assert_ok(f, NULL, "set", "users/1/locked", "by root");
  g_autofree char *theme = kvctl_out(f, &bob, "get", "app/theme");
  g_assert_cmpstr(theme, ==, "dark\n");
  g_autofree char *origin = kvctl_out(f, &bob, "origin", "app/theme");
  g_autofree char *expected = g_strdup_printf("default %s\n", locks);
  g_assert_cmpstr(origin, ==, expected);

  g_assert_true(g_file_set_contents(locks, "[app]\ntheme='dark'\n", -1, NULL));
  assert_ok(f, NULL, "reload", NULL, NULL);
  assert_ok(f, &alice, "set", "users/1/locked", "mine at last");
}

/* polkit, as a rule file would, grants keys under app/g and nothing else: every key a
 * write needs polkit for is asked about on its own, so no batch, deletion or prefix
 * deletion carries a refused key along with a granted one. */
/* KV_POLKIT_MAX_KEYS_PER_CALL */
#define POLKIT_MAX_KEYS_PER_CALL 16

static const char grant_app_g[] =
    "key = args[2].get('key', '')\n"
    "ret = (key.startswith('app/g'), False, dbus.Dictionary({}, signature='ss'))\n";

/* The details of the CheckAuthorization calls the mock saw, as text, one call a line. */
static char *polkit_details(Fixture *f)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = g_dbus_connection_call_sync(
      f->bus.connection, "org.freedesktop.PolicyKit1", "/org/freedesktop/PolicyKit1/Authority",
      "org.freedesktop.DBus.Mock", "GetMethodCalls", g_variant_new("(s)", "CheckAuthorization"),
      NULL, G_DBUS_CALL_FLAGS_NONE, -1, NULL, &error);
  g_assert_no_error(error);
  g_autoptr(GVariant) calls = g_variant_get_child_value(reply, 0);
  GString *text = g_string_new(NULL);
  for (gsize i = 0; i < g_variant_n_children(calls); i++) {
    g_autoptr(GVariant) call = g_variant_get_child_value(calls, i);
    g_autoptr(GVariant) args = g_variant_get_child_value(call, 1);
    g_autoptr(GVariant) boxed = g_variant_get_child_value(args, 2);
    g_autoptr(GVariant) details = g_variant_get_variant(boxed);
    g_autofree char *printed = g_variant_print(details, FALSE);
    g_string_append_printf(text, "%s\n", printed);
  }
  return g_string_free(text, FALSE);
}

static void test_polkit_per_key(Fixture *f, gconstpointer data)
{
  if (skip_unless_root())
    return;
  g_autoptr(GSubprocess) polkitd = start_polkit_mock(f);
  mock_call(f, "AddMethod",
            g_variant_new("(sssss)", "org.freedesktop.PolicyKit1.Authority", "CheckAuthorization",
                          "(sa{sv})sa{ss}us", "(bba{ss})", grant_app_g));
  assert_ok(f, &alice, "set", "app/h", "alice's");
  assert_ok(f, &alice, "set", "app/g0", "alice's");

  /* Granted alone; in a batch with a key polkit refuses, nothing is written. */
  assert_ok(f, &bob, "set", "app/g1", "by bob");
  assert_denied(f, &bob, "app/h", "set-many", "app/g2=1", "app/h=HACKED");
  g_autofree char *h = kvctl_out(f, &alice, "get", "app/h");
  g_assert_cmpstr(h, ==, "alice's\n");
  g_assert_cmpint(kvctl_as(f, &bob, NULL, NULL, "get", "app/g2"), ==, 1);
  assert_denied(f, &bob, "app/h", "del", "app/g1", "app/h");
  assert_denied(f, &bob, "app/h", "incr", "app/h", NULL);
  g_autofree char *err = NULL;
  g_assert_cmpint(kvctl_as(f, &bob, NULL, &err, "del", "--prefix", ""), ==, 3);
  g_assert_nonnull(strstr(err, "AccessDenied"));
  g_autofree char *keys = kvctl_out(f, &alice, "keys", "app/");
  g_assert_cmpstr(keys, ==, "app/g0\napp/g1\napp/h\n");

  /* A prefix deletion under the grant: each key asked about, with the prefix. */
  g_autofree char *deleted = kvctl_out2(f, &bob, "del", "--prefix", "app/g");
  g_assert_cmpstr(deleted, ==, "2\n");
  g_autofree char *details = polkit_details(f);
  g_assert_nonnull(strstr(details, "{'key': 'app/g1', 'rule': "));
  g_assert_nonnull(strstr(details, "'prefix': 'app/g'"));
  g_assert_nonnull(strstr(details, "'key': 'app/h'"));

  /* More distinct keys than a call may have authorized: refused before polkit is asked. */
  g_autoptr(GPtrArray) argv = g_ptr_array_new_with_free_func(g_free);
  g_ptr_array_add(argv, g_strdup("set-many"));
  for (int i = 0; i <= POLKIT_MAX_KEYS_PER_CALL; i++)
    g_ptr_array_add(argv, g_strdup_printf("app/g%d=1", i));
  g_ptr_array_add(argv, NULL);
  g_clear_pointer(&err, g_free);
  g_assert_cmpint(
      kv_test_system_bus_kvctlv(&f->bus, &bob, NULL, &err, (const char *const *)argv->pdata), ==,
      3);
  g_assert_nonnull(strstr(err, "17 keys need polkit's authorization, at most 16"));
  stop(polkitd);
}

/* The start of a dbus-python client with a main loop, on the bus argv[1]: a proxy "store"
 * of kvstored and a "loop" to run. */
#define ASYNC_CLIENT                                                                               \
  "import dbus, sys\n"                                                                             \
  "from dbus.mainloop.glib import DBusGMainLoop\n"                                                 \
  "from gi.repository import GLib\n"                                                               \
  "DBusGMainLoop(set_as_default=True)\n"                                                           \
  "bus = dbus.bus.BusConnection(sys.argv[1])\n"                                                    \
  "store = dbus.Interface(bus.get_object('org.example.KVStore', '/org/example/KVStore'),\n"        \
  "                       'org.example.KVStore')\n"                                                \
  "loop = GLib.MainLoop()\n"

/* One connection with six writes waiting for polkit at once: four are asked, the rest
 * refused at once; the four go through when polkit answers. */
static const char pending_client[] =
    ASYNC_CLIENT "left = [6]\n"
                 "def done(text):\n"
                 "    print(text, flush=True)\n"
                 "    left[0] -= 1\n"
                 "    if left[0] == 0: loop.quit()\n"
                 "for i in range(6):\n"
                 "    store.Set('app/p%d' % i, dbus.String('x', variant_level=1), timeout=60,\n"
                 "              reply_handler=lambda: done('ok'),\n"
                 "              error_handler=lambda e: done(e.get_dbus_message()))\n"
                 "loop.run()\n";

static guint count_lines_with(const char *text, const char *needle)
{
  g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
  guint n = 0;

  for (guint i = 0; lines[i] != NULL; i++)
    n += strstr(lines[i], needle) != NULL;
  return n;
}

static void test_polkit_pending_bounded(Fixture *f, gconstpointer data)
{
  if (skip_unless_root())
    return;
  g_autoptr(GSubprocess) polkitd = start_hanging_polkit(f);
  g_autofree char *out_path = g_build_filename(f->dir, "pending.out", NULL);

  g_autoptr(GSubprocess) client = kv_test_system_bus_spawn(
      &f->bus, &bob, G_SUBPROCESS_FLAGS_NONE, out_path,
      (const char *const[]){"/usr/bin/python3", "-c", pending_client, f->bus.address, NULL});
  g_assert_true(wait_for_text(out_path, "pending", 1000));
  for (int i = 0; i < 1000; i++) {
    g_autofree char *text = read_text(out_path);
    if (count_lines_with(text, "pending") == 2)
      break;
    g_usleep(10 * 1000);
  }
  mock_call(f, "ReleaseHangingCalls", NULL);
  g_subprocess_wait(client, NULL, NULL);
  g_assert_true(g_subprocess_get_successful(client));
  g_autofree char *text = read_text(out_path);
  g_assert_cmpuint(count_lines_with(text, "too many authorizations are pending"), ==, 2);
  g_assert_cmpuint(count_lines_with(text, "ok"), ==, 4);
  stop(polkitd);
}

/* Sends argv[2] writes that need polkit, prints each outcome that comes within argv[3]
 * seconds, and leaves the bus. */
static const char leaving_client[] =
    ASYNC_CLIENT "for i in range(int(sys.argv[2])):\n"
                 "    store.Set('app/l%d' % i, dbus.String('x', variant_level=1), timeout=60,\n"
                 "              reply_handler=lambda: print('ok', flush=True),\n"
                 "              error_handler=lambda e: print(e.get_dbus_message(), flush=True))\n"
                 "GLib.timeout_add(int(float(sys.argv[3]) * 1000), loop.quit)\n"
                 "loop.run()\n";

static GSubprocess *spawn_leaving_client(Fixture *f, const char *out_path, const char *writes,
                                         const char *seconds)
{
  return kv_test_system_bus_spawn(&f->bus, &bob, G_SUBPROCESS_FLAGS_NONE, out_path,
                                  (const char *const[]){"/usr/bin/python3", "-c", leaving_client,
                                                        f->bus.address, writes, seconds, NULL});
}

/* Callers that leave while polkit has not answered leave nothing behind: 17 clients in turn,
 * 68 waits in all, more than kvstored holds at once (64), are each let wait; and one uid's
 * many connections hold at most 16 waits together. */
static void test_polkit_waits_end(Fixture *f, gconstpointer data)
{
  if (skip_unless_root())
    return;
  g_autoptr(GSubprocess) polkitd = start_hanging_polkit(f);

  for (int i = 0; i < 17; i++) {
    g_autofree char *out_path = g_strdup_printf("%s/leaving-%d.out", f->dir, i);
    g_autoptr(GSubprocess) client = spawn_leaving_client(f, out_path, "4", "0.2");
    g_assert_true(g_subprocess_wait(client, NULL, NULL));
    g_autofree char *text = read_text(out_path);
    if (strstr(text, "too many") != NULL)
      g_error("client %d of 17, each leaving its waits: %s", i, text);
  }

  /* Five connections of one uid at once, four writes each: the last four refused. */
  GSubprocess *clients[5];
  guint refused = 0;
  for (int i = 0; i < 5; i++) {
    g_autofree char *out_path = g_strdup_printf("%s/together-%d.out", f->dir, i);
    clients[i] = spawn_leaving_client(f, out_path, "4", "3");
    g_usleep(100 * 1000);
  }
  for (int i = 0; i < 5; i++) {
    g_autofree char *out_path = g_strdup_printf("%s/together-%d.out", f->dir, i);
    g_assert_true(g_subprocess_wait(clients[i], NULL, NULL));
    g_object_unref(clients[i]);
    g_autofree char *text = read_text(out_path);
    refused += count_lines_with(text, "too many authorizations are pending");
  }
  g_assert_cmpuint(refused, ==, 4);
  mock_call(f, "ReleaseHangingCalls", NULL);
  stop(polkitd);
}

/* argv[2] calls of GetAll(argv[3]) and of KeysPage(argv[3]), timed: prints "SECONDS
 * ENTRIES" of the last GetAll. */
static const char listing_client[] =
    "import dbus, sys, time\n"
    "bus = dbus.bus.BusConnection(sys.argv[1])\n"
    "store = dbus.Interface(bus.get_object('org.example.KVStore', '/org/example/KVStore',\n"
    "                                      introspect=False), 'org.example.KVStore')\n"
    "start = time.monotonic()\n"
    "for i in range(int(sys.argv[2])):\n"
    "    found = store.GetAll(sys.argv[3])\n"
    "    store.KeysPage(sys.argv[3], '', dbus.UInt32(0))\n"
    "print('%.4f %d' % (time.monotonic() - start, len(found)))\n";

/* Seconds that bob's listings of @prefix take, 100 of each. */
static double bob_lists(Fixture *f, const char *prefix, guint expected_entries)
{
  g_autoptr(GSubprocess) client = kv_test_system_bus_spawn(
      &f->bus, &bob, G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_MERGE, NULL,
      (const char *const[]){"/usr/bin/python3", "-c", listing_client, f->bus.address, "100", prefix,
                            NULL});
  g_autofree char *out = NULL;
  g_subprocess_communicate_utf8(client, NULL, NULL, &out, NULL, NULL);
  if (!g_subprocess_get_successful(client))
    g_error("bob listing %s: %s", prefix, out);
  guint entries = 0;
  double seconds = 0;
  g_assert_cmpint(sscanf(out, "%lf %u", &seconds, &entries), ==, 2);
  g_assert_cmpuint(entries, ==, expected_entries);
  return seconds;
}

/* A listing costs what its caller may see, not the store: with 200,000 private keys of
 * another uid, bob's listings of users/ (where he sees his own key alone) take as long as
 * those of his own prefix, where each once walked every key hidden from him. */
static void test_listing_cost_follows_answer(Fixture *f, gconstpointer data)
{
  if (skip_unless_root())
    return;
  for (int batch = 0; batch < 40; batch++) {
    GVariantBuilder entries;
    g_variant_builder_init(&entries, G_VARIANT_TYPE("a{sv}"));
    for (int i = 0; i < 5000; i++) {
      g_autofree char *key = g_strdup_printf("users/1/k%03d%04d", batch, i);
      g_variant_builder_add(&entries, "{sv}", key, g_variant_new_int32(i));
    }
    g_autoptr(GError) error = NULL;
    g_autoptr(GVariant) reply = g_dbus_connection_call_sync(
        f->bus.connection, KV_BUS_NAME, KV_OBJECT_PATH, KV_INTERFACE, "SetMany",
        g_variant_new("(a{sv})", &entries), NULL, G_DBUS_CALL_FLAGS_NONE, -1, NULL, &error);
    g_assert_no_error(error);
  }
  assert_ok(f, &bob, "set", "users/2/mine", "bob's");

  double own = bob_lists(f, "users/2/", 1);
  double all = bob_lists(f, "users/", 1);
  g_test_message("100 listings of users/2/: %.3f s; of users/: %.3f s", own, all);
  if (all > 3 * own + 0.2)
    g_error("listing users/ took %.3f s against %.3f s for users/2/", all, own);
}

/* A GDBusProxy of its own (GetAll made), counting the PropertiesChanged signals it is
 * sent for argv[2] seconds; prints "ready", then the count. */
static const char caching_client[] =
    "import sys\n"
    "from gi.repository import Gio, GLib\n"
    "flags = (Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT |\n"
    "         Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION)\n"
    "conn = Gio.DBusConnection.new_for_address_sync(sys.argv[1], flags, None, None)\n"
    "seen = [0]\n"
    "def changed(*args):\n"
    "    seen[0] += 1\n"
    "conn.signal_subscribe(None, 'org.freedesktop.DBus.Properties', 'PropertiesChanged',\n"
    "                      '/org/example/KVStore', None, 0, changed)\n"
    "proxy = Gio.DBusProxy.new_sync(conn, 0, None, 'org.example.KVStore',\n"
    "                               '/org/example/KVStore', 'org.example.KVStore', None)\n"
    "print('ready', flush=True)\n"
    "loop = GLib.MainLoop()\n"
    "GLib.timeout_add(int(float(sys.argv[2]) * 1000), loop.quit)\n"
    "loop.run()\n"
    "print(seen[0], proxy.get_cached_property('Revision').unpack(), flush=True)\n";

/* On the system bus Count and Revision are announced to root's caching peers alone: a
 * user's proxy is told nothing of other users' writes (how many keys, and when), root's
 * proxy follows every one. */
static void test_properties_not_broadcast(Fixture *f, gconstpointer data)
{
  if (skip_unless_root())
    return;
  g_autofree char *bob_out = g_build_filename(f->dir, "bob-proxy.out", NULL);
  g_autofree char *root_out = g_build_filename(f->dir, "root-proxy.out", NULL);
  g_autoptr(GSubprocess) bob_proxy = kv_test_system_bus_spawn(
      &f->bus, &bob, G_SUBPROCESS_FLAGS_NONE, bob_out,
      (const char *const[]){"/usr/bin/python3", "-c", caching_client, f->bus.address, "3", NULL});
  g_autoptr(GSubprocess) root_proxy = kv_test_system_bus_spawn(
      &f->bus, NULL, G_SUBPROCESS_FLAGS_NONE, root_out,
      (const char *const[]){"/usr/bin/python3", "-c", caching_client, f->bus.address, "3", NULL});
  g_assert_true(wait_for_text(bob_out, "ready", 1000));
  g_assert_true(wait_for_text(root_out, "ready", 1000));

  assert_ok(f, &alice, "set", "users/1/private", "1");
  assert_ok(f, &alice, "set", "users/1/private", "2");
  assert_ok(f, &alice, "set", "app/public", "3");
  g_assert_true(g_subprocess_wait(bob_proxy, NULL, NULL));
  g_assert_true(g_subprocess_wait(root_proxy, NULL, NULL));
  g_autofree char *bob_text = read_text(bob_out);
  g_autofree char *root_text = read_text(root_out);
  g_autofree char *revision = kvctl_out(f, NULL, "revision", NULL);
  g_strchomp(revision);
  g_autofree char *root_expected = g_strdup_printf("ready\n3 %s\n", revision);
  g_assert_cmpstr(root_text, ==, root_expected);
  g_assert_true(g_str_has_prefix(bob_text, "ready\n0 "));
}

/* A wait for polkit whose caller left holds no idle exit: kvstored with --idle-timeout
 * 0.5 exits within a few seconds of a caller that left two writes waiting on a polkit
 * that never answers. The dead waits once kept it running for good. */
static void test_dead_wait_holds_no_idle_exit(Fixture *f, gconstpointer data)
{
  if (skip_unless_root())
    return;
  g_autoptr(GSubprocess) polkitd = start_hanging_polkit(f);
  kv_test_system_bus_stop_kvstored(&f->bus);
  kv_test_system_bus_start_kvstored(&f->bus, (const char *const[]){"--access-dir", f->rules_dir,
                                                                   "--state-dir", f->state_dir,
                                                                   "--idle-timeout", "0.5", NULL});
  GSubprocess *kvstored = f->bus.kvstored;

  g_autofree char *out_path = g_build_filename(f->dir, "dead-wait.out", NULL);
  g_autoptr(GSubprocess) client = spawn_leaving_client(f, out_path, "2", "0.3");
  g_assert_true(g_subprocess_wait(client, NULL, NULL));
  for (int i = 0; i < 100 && g_subprocess_get_identifier(kvstored) != NULL; i++)
    g_usleep(50 * 1000);
  if (g_subprocess_get_identifier(kvstored) != NULL)
    g_error("kvstored did not exit when idle within 5 s of its caller leaving a polkit wait");
  g_assert_true(g_subprocess_get_successful(kvstored));
  mock_call(f, "ReleaseHangingCalls", NULL);
  stop(polkitd);
}

/* Runs gdbus call METHOD ARG [ARG2] as @user; returns its stderr (empty when it
 * succeeded). */
static char *gdbus_as(Fixture *f, const KvTestUser *user, const char *method, const char *arg,
                      const char *arg2)
{
  g_autofree char *member = g_strconcat(KV_INTERFACE ".", method, NULL);
  g_autoptr(GSubprocess) gdbus = kv_test_system_bus_spawn(
      &f->bus, user, G_SUBPROCESS_FLAGS_STDOUT_SILENCE | G_SUBPROCESS_FLAGS_STDERR_PIPE, NULL,
      (const char *const[]){"gdbus", "call", "--address", f->bus.address, "--dest", KV_BUS_NAME,
                            "--object-path", KV_OBJECT_PATH, "--method", member, arg, arg2, NULL});
  char *err = NULL;

  g_subprocess_communicate_utf8(gdbus, NULL, NULL, NULL, &err, NULL);
  return err;
}

/* Bad input from an unprivileged caller gets the error that names the problem, not
 * AccessDenied, and changes nothing. */
static void test_bad_input(Fixture *f, gconstpointer data)
{
  g_autofree char *long_text = g_strnfill(5000, 'k');
  g_autofree char *quoted = g_strdup_printf("'%s'", long_text);
  const struct {
    const char *method;
    const char *arg;
    const char *arg2;
    const char *error;
  } calls[] = {
      {"Set", "''", "<1>", "InvalidKey"},        {"Set", quoted, "<1>", "InvalidKey"},
      {"Get", "''", NULL, "InvalidKey"},         {"Delete", quoted, NULL, "InvalidKey"},
      {"CheckAccess", "''", NULL, "InvalidKey"}, {"CheckAccess", quoted, NULL, "InvalidKey"},
      {"Subscribe", quoted, NULL, "TooLarge"},   {"SubscribeCoalesced", quoted, NULL, "TooLarge"},
  };

  if (skip_unless_root())
    return;
  for (gsize i = 0; i < G_N_ELEMENTS(calls); i++) {
    g_autofree char *err = gdbus_as(f, &bob, calls[i].method, calls[i].arg, calls[i].arg2);
    if (strstr(err, calls[i].error) == NULL)
      g_error("%s as bob: '%s', expected %s", calls[i].method, err, calls[i].error);
  }
  g_autofree char *keys = kvctl_out(f, NULL, "keys", "");
  g_assert_cmpstr(keys, ==, "");
}

int main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add("/access/own-prefixes", Fixture, NULL, setup, test_own_prefixes, teardown);
  g_test_add("/access/longest-prefix-and-batches", Fixture, NULL, setup,
             test_longest_prefix_and_batches, teardown);
  g_test_add("/access/delete-prefix", Fixture, NULL, setup, test_delete_prefix, teardown);
  g_test_add("/access/groups", Fixture, NULL, setup, test_groups, teardown);
  g_test_add("/access/bad-input", Fixture, NULL, setup, test_bad_input, teardown);
  g_test_add("/access/signals", Fixture, NULL, setup, test_signals, teardown);
  g_test_add("/access/history-private", Fixture, NULL, setup, test_history_private, teardown);
  g_test_add("/access/leases-private", Fixture, NULL, setup, test_leases_private, teardown);
  g_test_add("/access/gdbus-subscriber", Fixture, NULL, setup, test_gdbus_subscriber, teardown);
  g_test_add("/access/subscription-limits", Fixture, NULL, setup, test_subscription_limits,
             teardown);
  g_test_add("/access/bad-rules-stop-start", Fixture, NULL, setup, test_bad_rules_stop_start,
             teardown);
  g_test_add("/access/reload", Fixture, NULL, setup, test_reload, teardown);
  g_test_add("/access/quotas", Fixture, NULL, setup, test_quotas, teardown);
  g_test_add("/access/polkit", Fixture, NULL, setup, test_polkit, teardown);
  g_test_add("/access/admin-locks", Fixture, NULL, setup, test_admin_locks, teardown);
  g_test_add("/access/polkit-per-key", Fixture, NULL, setup, test_polkit_per_key, teardown);
  g_test_add("/access/listing-cost-follows-answer", Fixture, NULL, setup,
             test_listing_cost_follows_answer, teardown);
  g_test_add("/access/properties-not-broadcast", Fixture, NULL, setup,
             test_properties_not_broadcast, teardown);
  g_test_add("/access/polkit-waits-end", Fixture, NULL, setup, test_polkit_waits_end, teardown);
  g_test_add("/access/dead-wait-holds-no-idle-exit", Fixture, NULL, setup,
             test_dead_wait_holds_no_idle_exit, teardown);
  g_test_add("/access/polkit-pending-bounded", Fixture, NULL, setup, test_polkit_pending_bounded,
             teardown);
  return g_test_run();
}
