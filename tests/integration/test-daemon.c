/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* kvstored as a process: options, exit codes, signals, name conflicts, bus loss. */

#include "kv-config.h"
#include "kv-test-assert.h"
#include "kv-test-bus.h"

#include <glib/gstdio.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Starts kvstored directly (not through activation) with @args. */
static GSubprocess *spawn_daemon(GSubprocessLauncher *launcher, const char *const *args)
{
  g_autoptr(GPtrArray) argv = g_ptr_array_new();
  g_autoptr(GError) error = NULL;

  g_ptr_array_add(argv, (gpointer)kv_test_getenv("KV_TEST_KVSTORED"));
  for (gsize i = 0; args[i] != NULL; i++)
    g_ptr_array_add(argv, (gpointer)args[i]);
  g_ptr_array_add(argv, NULL);

  GSubprocess *process =
      g_subprocess_launcher_spawnv(launcher, (const char *const *)argv->pdata, &error);
  g_assert_no_error(error);
  return process;
}

static GSubprocessLauncher *new_launcher(void)
{
  return g_subprocess_launcher_new(G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE);
}

static int run_to_end(const char *const *args, char **out, char **err)
{
  g_autoptr(GSubprocessLauncher) launcher = new_launcher();
  g_autoptr(GSubprocess) process = spawn_daemon(launcher, args);
  g_autoptr(GError) error = NULL;

  g_subprocess_communicate_utf8(process, NULL, NULL, out, err, &error);
  g_assert_no_error(error);
  g_assert_true(g_subprocess_get_if_exited(process));
  return g_subprocess_get_exit_status(process);
}

static void wait_for_name(KvTestBus *bus)
{
  for (int i = 0; i < 1000 && !kv_test_bus_name_has_owner(bus); i++)
    g_usleep(10 * 1000);
  g_assert_true(kv_test_bus_name_has_owner(bus));
}

static void assert_contains(const char *text, const char *part)
{
  if (strstr(text, part) == NULL)
    g_error("'%s' does not contain '%s'", text, part);
}

static void test_version_and_help(void)
{
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;

  g_assert_cmpint(run_to_end((const char *[]){"--version", NULL}, &out, &err), ==, 0);
  g_assert_cmpstr(out, ==, "kvstored " KV_VERSION "\n");
  g_clear_pointer(&out, g_free);
  g_clear_pointer(&err, g_free);

  g_assert_cmpint(run_to_end((const char *[]){"--help", NULL}, &out, &err), ==, 0);
  assert_contains(out, "--max-value-size=SIZE");
  assert_contains(out, "--session");
}

static void test_usage_errors(void)
{
  const struct {
    const char *args[3];
    const char *message;
  } cases[] = {
      {{"--bogus"}, "Unknown option --bogus"},
      {{"--session", "--system"}, "exclude each other"},
      {{"--max-value-size=0"}, "is not a size"},
      {{"--max-value-size=12Q"}, "is not a size"},
      {{"--max-value-size=99999999999999999G"}, "is not a size"},
      {{"--session", "extra"}, "unexpected argument 'extra'"},
  };

  for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
    g_autofree char *out = NULL;
    g_autofree char *err = NULL;
    g_assert_cmpint(run_to_end(cases[i].args, &out, &err), ==, 2);
    assert_contains(err, cases[i].message);
  }
}

static void test_cannot_connect(void)
{
  g_autoptr(GSubprocessLauncher) launcher = new_launcher();
  g_autoptr(GError) error = NULL;
  g_autofree char *err = NULL;

  g_subprocess_launcher_setenv(launcher, "DBUS_SESSION_BUS_ADDRESS",
                               "unix:path=/nonexistent/kvstore-test-bus", TRUE);
  g_autoptr(GSubprocess) process =
      spawn_daemon(launcher, (const char *[]){"--session", "--in-memory", NULL});
  g_subprocess_communicate_utf8(process, NULL, NULL, NULL, &err, &error);
  g_assert_no_error(error);
  g_assert_cmpint(g_subprocess_get_exit_status(process), ==, 1);
  assert_contains(err, "Cannot connect to the session bus");
}

static void test_name_already_owned(KvTestBus *bus, gconstpointer data)
{
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;

  /* Activate the first daemon through a call; a second one must refuse to start. */
  g_autoptr(GVariant) reply = kv_test_bus_call(bus, "Exists", g_variant_new("(s)", "k"), NULL);
  g_assert_nonnull(reply);
  g_assert_cmpint(run_to_end((const char *[]){"--session", "--in-memory", NULL}, &out, &err), ==,
                  1);
  assert_contains(err, "org.example.KVStore is already owned on the session bus");
}

static void test_sigint_exits_cleanly(KvTestBus *bus, gconstpointer data)
{
  g_autoptr(GSubprocessLauncher) launcher = new_launcher();
  g_autoptr(GSubprocess) process =
      spawn_daemon(launcher, (const char *[]){"--session", "--in-memory", NULL});
  g_autoptr(GError) error = NULL;
  g_autofree char *err = NULL;

  wait_for_name(bus);
  g_subprocess_send_signal(process, SIGINT);
  g_subprocess_communicate_utf8(process, NULL, NULL, NULL, &err, &error);
  g_assert_no_error(error);
  g_assert_true(g_subprocess_get_if_exited(process));
  g_assert_cmpint(g_subprocess_get_exit_status(process), ==, 0);
  assert_contains(err, "Stopping on Interrupt");
}

static void test_serves_the_activating_bus(KvTestBus *bus, gconstpointer data)
{
  g_autoptr(GSubprocessLauncher) launcher = new_launcher();

  /* What dbus-daemon sets for a service it starts; no --session or --system given. */
  g_subprocess_launcher_setenv(launcher, "DBUS_STARTER_BUS_TYPE", "session", TRUE);
  g_subprocess_launcher_setenv(launcher, "DBUS_STARTER_ADDRESS", kv_test_bus_address(bus), TRUE);
  g_autoptr(GSubprocess) process = spawn_daemon(launcher, (const char *[]){"--in-memory", NULL});

  wait_for_name(bus);
  g_subprocess_send_signal(process, SIGTERM);
  g_autoptr(GError) error = NULL;
  g_subprocess_communicate_utf8(process, NULL, NULL, NULL, NULL, &error);
  g_assert_no_error(error);
  g_assert_cmpint(g_subprocess_get_exit_status(process), ==, 0);
}

/* Writes two keys, stops kvstored and damages the payload of the journal's first record
 * (at offset 16): one whole record follows the damage. */
static void damage_first_record(KvTestBus *bus)
{
  g_autofree char *journal = g_build_filename(bus->state_dir, "journal", NULL);
  g_autofree char *bytes = NULL;
  gsize size;

  g_autoptr(GVariant) a =
      kv_test_bus_call_ok(bus, "Set", g_variant_new("(sv)", "a", g_variant_new_int32(1)));
  g_autoptr(GVariant) b =
      kv_test_bus_call_ok(bus, "Set", g_variant_new("(sv)", "b", g_variant_new_int32(2)));
  kv_test_bus_stop_daemon(bus);
  g_assert_true(g_file_get_contents(journal, &bytes, &size, NULL));
  bytes[16 + 12 + 1] ^= 0x20;
  g_assert_true(g_file_set_contents(journal, bytes, (gssize)size, NULL));
}

/* A journal damaged before its tail: the start refuses, naming the file, the offset and
 * the commands; --check tells, --repair mends, and kvstored starts again. */
static void test_damaged_state_check_and_repair(KvTestBus *bus, gconstpointer data)
{
  g_autofree char *state_option = g_strconcat("--state-dir=", bus->state_dir, NULL);

  damage_first_record(bus);

  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_assert_cmpint(run_to_end((const char *[]){"--session", state_option, NULL}, &out, &err), ==, 1);
  assert_contains(err, "is damaged at offset 16");
  g_autofree char *repair_command = g_strdup_printf("kvstored --repair %s", state_option);
  assert_contains(err, repair_command);

  g_clear_pointer(&out, g_free);
  g_clear_pointer(&err, g_free);
  g_assert_cmpint(run_to_end((const char *[]){"--check", state_option, NULL}, &out, &err), ==, 1);
  assert_contains(out, "DAMAGED at offset 16, with 1 whole records after the damage");

  g_clear_pointer(&out, g_free);
  g_clear_pointer(&err, g_free);
  g_assert_cmpint(run_to_end((const char *[]){"--repair", state_option, NULL}, &out, &err), ==, 0);
  assert_contains(out, "journal: kept no whole records before the damage at offset 16");

  g_clear_pointer(&out, g_free);
  g_clear_pointer(&err, g_free);
  g_assert_cmpint(run_to_end((const char *[]){"--check", state_option, NULL}, &out, &err), ==, 0);
  assert_contains(out, "intact");

  /* Served again, from what was kept. */
  g_autoptr(GVariant) exists = kv_test_bus_call_ok(bus, "Exists", g_variant_new("(s)", "b"));
  kv_assert_variant_eq(exists, g_variant_new("(b)", FALSE));
}

/* Root repairs the directory of a service running as another user (uid 1 here): every
 * file it leaves there, the repaired journal and the damaged one kept aside included,
 * belongs to that user and is private, so that the service starts again. */
static void test_repair_as_root_keeps_owner(KvTestBus *bus, gconstpointer data)
{
  g_autofree char *state_option = g_strconcat("--state-dir=", bus->state_dir, NULL);

  if (getuid() != 0) {
    g_test_skip("needs root to repair another user's directory");
    return;
  }
  damage_first_record(bus);
  g_autoptr(GDir) entries = g_dir_open(bus->state_dir, 0, NULL);
  const char *name;
  while ((name = g_dir_read_name(entries)) != NULL) {
    g_autofree char *path = g_build_filename(bus->state_dir, name, NULL);
    g_assert_cmpint(lchown(path, 1, 1), ==, 0);
  }
  g_assert_cmpint(chown(bus->state_dir, 1, 1), ==, 0);
  g_autofree char *lock = g_build_filename(bus->state_dir, "lock", NULL);
  g_assert_cmpint(g_unlink(lock), ==, 0);

  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_assert_cmpint(run_to_end((const char *[]){"--repair", state_option, NULL}, &out, &err), ==, 0);
  assert_contains(out, "journal: kept no whole records before the damage");

  guint files = 0;
  g_autoptr(GDir) repaired = g_dir_open(bus->state_dir, 0, NULL);
  while ((name = g_dir_read_name(repaired)) != NULL) {
    g_autofree char *path = g_build_filename(bus->state_dir, name, NULL);
    struct stat st;
    g_assert_cmpint(lstat(path, &st), ==, 0);
    if (st.st_uid != 1 || st.st_gid != 1 || (st.st_mode & 077) != 0)
      g_error("%s: uid %u, gid %u, mode %o after --repair as root", path, st.st_uid, st.st_gid,
              st.st_mode & 07777);
    files++;
  }
  /* The journal, the damaged one kept aside, and the lock, made anew by root. */
  g_assert_cmpuint(files, >=, 3);
}

static void test_exits_when_bus_goes_away(void)
{
  KvTestBus bus = {0};
  g_autoptr(GError) error = NULL;
  g_autofree char *err = NULL;

  kv_test_bus_up(&bus, NULL);
  /* Created after the bus, whose address the launcher copies from the environment. */
  g_autoptr(GSubprocessLauncher) launcher = new_launcher();
  g_autoptr(GSubprocess) process =
      spawn_daemon(launcher, (const char *[]){"--session", "--in-memory", NULL});
  wait_for_name(&bus);

  /* Tear the bus down under it: kvstored must notice and exit, not hang. */
  g_dbus_connection_close_sync(bus.connection, NULL, NULL);
  g_clear_object(&bus.connection);
  g_test_dbus_down(bus.dbus);
  g_clear_object(&bus.dbus);

  g_subprocess_communicate_utf8(process, NULL, NULL, NULL, &err, &error);
  g_assert_no_error(error);
  g_assert_true(g_subprocess_get_if_exited(process));
  g_assert_cmpint(g_subprocess_get_exit_status(process), ==, 1);
  assert_contains(err, "Lost the connection to the session bus");
  kv_test_bus_clear_files(&bus);
}

int main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/daemon/version-and-help", test_version_and_help);
  g_test_add_func("/daemon/usage-errors", test_usage_errors);
  g_test_add_func("/daemon/cannot-connect", test_cannot_connect);
  g_test_add("/daemon/name-already-owned", KvTestBus, NULL, kv_test_bus_setup,
             test_name_already_owned, kv_test_bus_teardown);
  g_test_add("/daemon/sigint-exits-cleanly", KvTestBus, NULL, kv_test_bus_setup,
             test_sigint_exits_cleanly, kv_test_bus_teardown);
  g_test_add("/daemon/serves-the-activating-bus", KvTestBus, NULL, kv_test_bus_setup,
             test_serves_the_activating_bus, kv_test_bus_teardown);
  g_test_add_func("/daemon/exits-when-bus-goes-away", test_exits_when_bus_goes_away);
  g_test_add("/daemon/damaged-state-check-and-repair", KvTestBus, NULL, kv_test_bus_setup,
             test_damaged_state_check_and_repair, kv_test_bus_teardown);
  g_test_add("/daemon/repair-as-root-keeps-owner", KvTestBus, NULL, kv_test_bus_setup,
             test_repair_as_root_keeps_owner, kv_test_bus_teardown);
  return g_test_run();
}
