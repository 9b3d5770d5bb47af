/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "kv-test-system-bus.h"

#include "kv-config.h"
#include "kv-test-bus.h"

#include <grp.h>
#include <signal.h>
#include <unistd.h>

void kv_test_system_bus_start(KvTestSystemBus *self, const char *config)
{
  g_autoptr(GError) error = NULL;

  self->bus_daemon =
      g_subprocess_new(G_SUBPROCESS_FLAGS_STDOUT_PIPE, &error, "dbus-daemon", "--nofork",
                       "--print-address=1", "--config-file", config, NULL);
  g_assert_no_error(error);
  g_autoptr(GDataInputStream) out =
      g_data_input_stream_new(g_subprocess_get_stdout_pipe(self->bus_daemon));
  self->address = g_data_input_stream_read_line(out, NULL, NULL, &error);
  g_assert_no_error(error);
  g_assert_nonnull(self->address);
  self->connection =
      g_dbus_connection_new_for_address_sync(self->address,
                                             G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT |
                                                 G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
                                             NULL, NULL, &error);
  g_assert_no_error(error);
}

gboolean kv_test_system_bus_wait_for_name(KvTestSystemBus *self, const char *name)
{
  for (int i = 0; i < 1000; i++) {
    g_autoptr(GVariant) reply = g_dbus_connection_call_sync(
        self->connection, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
        "NameHasOwner", g_variant_new("(s)", name), G_VARIANT_TYPE("(b)"), G_DBUS_CALL_FLAGS_NONE,
        -1, NULL, NULL);
    gboolean owned = FALSE;
    if (reply != NULL)
      g_variant_get(reply, "(b)", &owned);
    if (owned)
      return TRUE;
    g_usleep(10 * 1000);
  }
  return FALSE;
}

void kv_test_system_bus_start_kvstored(KvTestSystemBus *self, const char *const *args)
{
  g_autoptr(GPtrArray) argv = g_ptr_array_new();

  g_ptr_array_add(argv, (gpointer)kv_test_getenv("KV_TEST_KVSTORED"));
  g_ptr_array_add(argv, "--system");
  for (gsize i = 0; args != NULL && args[i] != NULL; i++)
    g_ptr_array_add(argv, (gpointer)args[i]);
  g_ptr_array_add(argv, NULL);
  self->kvstored = kv_test_system_bus_spawn(self, NULL, G_SUBPROCESS_FLAGS_NONE, NULL,
                                            (const char *const *)argv->pdata);
  if (!kv_test_system_bus_wait_for_name(self, KV_BUS_NAME))
    g_error("kvstored did not take its name on the system bus");
}

void kv_test_system_bus_stop_kvstored(KvTestSystemBus *self)
{
  g_autoptr(GError) error = NULL;

  g_subprocess_send_signal(self->kvstored, SIGTERM);
  g_subprocess_wait(self->kvstored, NULL, &error);
  g_assert_no_error(error);
  g_assert_true(g_subprocess_get_if_exited(self->kvstored));
  g_assert_cmpint(g_subprocess_get_exit_status(self->kvstored), ==, 0);
  g_clear_object(&self->kvstored);
}

void kv_test_system_bus_stop(KvTestSystemBus *self)
{
  if (self->kvstored != NULL)
    kv_test_system_bus_stop_kvstored(self);
  if (self->connection != NULL)
    g_dbus_connection_close_sync(self->connection, NULL, NULL);
  g_clear_object(&self->connection);
  if (self->bus_daemon != NULL) {
    g_subprocess_force_exit(self->bus_daemon);
    g_subprocess_wait(self->bus_daemon, NULL, NULL);
  }
  g_clear_object(&self->bus_daemon);
  g_clear_pointer(&self->address, g_free);
}

static void become_user(gpointer data)
{
  const KvTestUser *user = data;

  /* Between fork and exec; a failure leaves root, which the checks would catch. */
  if (setgroups(user->n_groups, user->groups) != 0 ||
      setresgid(user->gid, user->gid, user->gid) != 0 ||
      setresuid(user->uid, user->uid, user->uid) != 0)
    _exit(126);
}

GSubprocess *kv_test_system_bus_spawn(KvTestSystemBus *self, const KvTestUser *user,
                                      GSubprocessFlags flags, const char *stdout_path,
                                      const char *const *argv)
{
  g_autoptr(GSubprocessLauncher) launcher = g_subprocess_launcher_new(flags);
  g_autoptr(GError) error = NULL;

  if (stdout_path != NULL)
    g_subprocess_launcher_set_stdout_file_path(launcher, stdout_path);
  g_subprocess_launcher_setenv(launcher, "DBUS_SYSTEM_BUS_ADDRESS", self->address, TRUE);
  g_subprocess_launcher_unsetenv(launcher, "DBUS_SESSION_BUS_ADDRESS");
  if (user != NULL)
    g_subprocess_launcher_set_child_setup(launcher, become_user, (gpointer)user, NULL);
  GSubprocess *process = g_subprocess_launcher_spawnv(launcher, argv, &error);
  g_assert_no_error(error);
  return process;
}

int kv_test_system_bus_kvctlv(KvTestSystemBus *self, const KvTestUser *user, char **out, char **err,
                              const char *const *args)
{
  g_autoptr(GPtrArray) argv = g_ptr_array_new();
  g_autoptr(GError) error = NULL;
  g_autofree char *ignored_out = NULL;
  g_autofree char *ignored_err = NULL;

  g_ptr_array_add(argv, (gpointer)kv_test_getenv("KV_TEST_KVCTL"));
  g_ptr_array_add(argv, "--address");
  g_ptr_array_add(argv, self->address);
  for (gsize i = 0; args[i] != NULL; i++)
    g_ptr_array_add(argv, (gpointer)args[i]);
  g_ptr_array_add(argv, NULL);

  g_autoptr(GSubprocess) process = kv_test_system_bus_spawn(
      self, user, G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE, NULL,
      (const char *const *)argv->pdata);
  g_subprocess_communicate_utf8(process, NULL, NULL, out != NULL ? out : &ignored_out,
                                err != NULL ? err : &ignored_err, &error);
  g_assert_no_error(error);
  g_assert_true(g_subprocess_get_if_exited(process));
  return g_subprocess_get_exit_status(process);
}

int kv_test_system_bus_kvctl(KvTestSystemBus *self, const KvTestUser *user, char **out, char **err,
                             ...)
{
  g_autoptr(GPtrArray) args = g_ptr_array_new();
  const char *arg;
  va_list list;

  va_start(list, err);
  while ((arg = va_arg(list, const char *)) != NULL)
    g_ptr_array_add(args, (gpointer)arg);
  va_end(list);
  g_ptr_array_add(args, NULL);
  return kv_test_system_bus_kvctlv(self, user, out, err, (const char *const *)args->pdata);
}
