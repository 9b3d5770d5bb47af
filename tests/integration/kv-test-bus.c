/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "kv-test-bus.h"

#include "kv-config.h"

#include <glib/gstdio.h>
#include <signal.h>

const char *kv_test_getenv(const char *name)
{
  const char *value = g_getenv(name);

  if (value == NULL)
    g_error("%s is not set: run the tests through 'meson test'", name);
  return value;
}

gboolean kv_test_on_etcd(void)
{
  return g_getenv("KV_TEST_ETCD") != NULL;
}

void kv_test_bus_up(KvTestBus *self, const char *daemon_args)
{
  g_autoptr(GError) error = NULL;

  self->status_dir = g_dir_make_tmp("kvstore-test-XXXXXX", &error);
  g_assert_no_error(error);
  self->status_file = g_build_filename(self->status_dir, "exit-status", NULL);
  self->state_dir = g_build_filename(self->status_dir, "state", NULL);
  /* dbus-daemon, and so every service it activates, inherits these. */
  g_setenv("KV_TEST_STATUS_FILE", self->status_file, TRUE);
  g_setenv("KV_TEST_STATE_DIR", self->state_dir, TRUE);
  g_setenv("KV_TEST_DAEMON_ARGS", daemon_args ? daemon_args : "", TRUE);

  self->dbus = g_test_dbus_new(G_TEST_DBUS_NONE);
  g_test_dbus_add_service_dir(self->dbus, kv_test_getenv("KV_TEST_SERVICES_DIR"));
  g_test_dbus_up(self->dbus);

  self->connection =
      g_dbus_connection_new_for_address_sync(g_test_dbus_get_bus_address(self->dbus),
                                             G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT |
                                                 G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
                                             NULL, NULL, &error);
  g_assert_no_error(error);
}

void kv_test_bus_setup(KvTestBus *self, gconstpointer daemon_args)
{
  kv_test_bus_up(self, daemon_args);
}

void kv_test_bus_teardown(KvTestBus *self, gconstpointer daemon_args)
{
  kv_test_bus_down(self);
}

const char *kv_test_bus_address(KvTestBus *self)
{
  return g_test_dbus_get_bus_address(self->dbus);
}

static GVariant *call_bus_driver(KvTestBus *self, const char *method, GError **error)
{
  return g_dbus_connection_call_sync(
      self->connection, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
      method, g_variant_new("(s)", KV_BUS_NAME), NULL, G_DBUS_CALL_FLAGS_NONE, -1, NULL, error);
}

gboolean kv_test_bus_name_has_owner(KvTestBus *self)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = call_bus_driver(self, "NameHasOwner", &error);
  gboolean has_owner;

  g_assert_no_error(error);
  g_variant_get(reply, "(b)", &has_owner);
  return has_owner;
}

void kv_test_bus_assert_exited_cleanly(KvTestBus *self)
{
  g_autofree char *status = NULL;
  g_autoptr(GError) error = NULL;

  /* Generous: a sanitizer build writes its leak report before exiting. */
  for (int i = 0; i < 3000 && !g_file_test(self->status_file, G_FILE_TEST_EXISTS); i++)
    g_usleep(10 * 1000);
  g_file_get_contents(self->status_file, &status, NULL, &error);
  g_assert_no_error(error);
  g_strchomp(status);
  g_assert_cmpstr(status, ==, "0");
  g_unlink(self->status_file);
}

pid_t kv_test_bus_daemon_pid(KvTestBus *self)
{
  g_autoptr(GVariant) reply = call_bus_driver(self, "GetConnectionUnixProcessID", NULL);
  guint32 pid;

  if (reply == NULL)
    return 0;
  g_variant_get(reply, "(u)", &pid);
  return (pid_t)pid;
}

void kv_test_bus_stop_daemon(KvTestBus *self)
{
  pid_t pid = kv_test_bus_daemon_pid(self);

  if (pid == 0)
    return; /* never activated, or already gone */
  g_assert_cmpint(kill(pid, SIGTERM), ==, 0);
  kv_test_bus_assert_exited_cleanly(self);
}

void kv_test_remove_tree(const char *path)
{
  g_autoptr(GDir) dir = g_dir_open(path, 0, NULL);
  const char *name;

  while (dir != NULL && (name = g_dir_read_name(dir)) != NULL) {
    g_autofree char *child = g_build_filename(path, name, NULL);
    if (g_file_test(child, G_FILE_TEST_IS_DIR) && !g_file_test(child, G_FILE_TEST_IS_SYMLINK))
      kv_test_remove_tree(child);
    else
      g_unlink(child);
  }
  g_rmdir(path);
}

void kv_test_bus_down(KvTestBus *self)
{
  kv_test_bus_stop_daemon(self);
  g_dbus_connection_close_sync(self->connection, NULL, NULL);
  g_clear_object(&self->connection);
  g_test_dbus_down(self->dbus);
  g_clear_object(&self->dbus);
  kv_test_bus_clear_files(self);
}

void kv_test_bus_clear_files(KvTestBus *self)
{
  kv_test_remove_tree(self->status_dir);
  g_clear_pointer(&self->status_dir, g_free);
  g_clear_pointer(&self->status_file, g_free);
  g_clear_pointer(&self->state_dir, g_free);
}

GVariant *kv_test_bus_call(KvTestBus *self, const char *method, GVariant *parameters,
                           GError **error)
{
  return g_dbus_connection_call_sync(self->connection, KV_BUS_NAME, KV_OBJECT_PATH, KV_INTERFACE,
                                     method, parameters, NULL, G_DBUS_CALL_FLAGS_NONE, 10000, NULL,
                                     error);
}

GVariant *kv_test_bus_get_all_pages(KvTestBus *self, const char *prefix)
{
  g_autofree char *after = g_strdup("");
  GVariantBuilder all;

  g_variant_builder_init(&all, G_VARIANT_TYPE("a{sv}"));
  do {
    g_autoptr(GVariant) reply =
        kv_test_bus_call_ok(self, "GetAllPage", g_variant_new("(ssu)", prefix, after, 0));
    g_autoptr(GVariant) entries = g_variant_get_child_value(reply, 0);
    GVariantIter iter;
    GVariant *entry;
    g_variant_iter_init(&iter, entries);
    while ((entry = g_variant_iter_next_value(&iter)) != NULL) {
      g_variant_builder_add_value(&all, entry);
      g_variant_unref(entry);
    }
    g_free(after);
    g_variant_get_child(reply, 1, "s", &after);
  } while (*after != '\0');
  return g_variant_ref_sink(g_variant_builder_end(&all));
}

GVariant *kv_test_get_property(GDBusConnection *connection, const char *name)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = g_dbus_connection_call_sync(
      connection, KV_BUS_NAME, KV_OBJECT_PATH, "org.freedesktop.DBus.Properties", "Get",
      g_variant_new("(ss)", KV_INTERFACE, name), G_VARIANT_TYPE("(v)"), G_DBUS_CALL_FLAGS_NONE,
      10000, NULL, &error);
  GVariant *value;

  g_assert_no_error(error);
  g_variant_get(reply, "(v)", &value);
  return value;
}

static void on_answer(GObject *source, GAsyncResult *result, gpointer user_data)
{
  KvTestAnswer *answer = user_data;

  answer->reply = g_dbus_connection_call_finish(G_DBUS_CONNECTION(source), result, &answer->error);
  answer->done = TRUE;
}

void kv_test_call_async(GDBusConnection *connection, const char *method, GVariant *parameters,
                        KvTestAnswer *answer)
{
  answer->done = FALSE;
  g_dbus_connection_call(connection, KV_BUS_NAME, KV_OBJECT_PATH, KV_INTERFACE, method, parameters,
                         NULL, G_DBUS_CALL_FLAGS_NONE, 10000, NULL, on_answer, answer);
}

void kv_test_answer_wait(KvTestAnswer *answer)
{
  while (!answer->done)
    g_main_context_iteration(NULL, TRUE);
}

void kv_test_answer_clear(KvTestAnswer *answer)
{
  g_clear_pointer(&answer->reply, g_variant_unref);
  g_clear_error(&answer->error);
  answer->done = FALSE;
}

GVariant *kv_test_bus_call_ok(KvTestBus *self, const char *method, GVariant *parameters)
{
  g_autoptr(GError) error = NULL;
  GVariant *reply = kv_test_bus_call(self, method, parameters, &error);

  g_assert_no_error(error);
  return reply;
}

GDBusConnection *kv_test_bus_connect(const char *address)
{
  g_autoptr(GError) error = NULL;
  GDBusConnection *connection =
      g_dbus_connection_new_for_address_sync(address,
                                             G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT |
                                                 G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
                                             NULL, NULL, &error);

  g_assert_no_error(error);
  return connection;
}
