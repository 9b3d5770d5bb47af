/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* kvstored through sd-bus clients on a private activating bus. */

#include "kv-config.h"
#include "kv-sd-bus-cleanup.h"
#include "kv-test-bus.h"

#include <fcntl.h>
#include <unistd.h>

typedef struct {
  KvTestBus bus;
  sd_bus *client;
} Fixture;

static sd_bus *connect_client(Fixture *f)
{
  g_autoptr(sd_bus) client = NULL;

  g_assert_cmpint(sd_bus_new(&client), >=, 0);
  g_assert_cmpint(sd_bus_set_address(client, kv_test_bus_address(&f->bus)), >=, 0);
  g_assert_cmpint(sd_bus_set_bus_client(client, 1), >=, 0);
  g_assert_cmpint(sd_bus_start(client), >=, 0);
  return g_steal_pointer(&client);
}

static void setup(Fixture *f, gconstpointer data)
{
  kv_test_bus_up(&f->bus, NULL);
  f->client = connect_client(f);
}

static void teardown(Fixture *f, gconstpointer data)
{
  g_clear_pointer(&f->client, sd_bus_flush_close_unref);
  kv_test_bus_down(&f->bus);
}

#define CALL(f, error, reply, member, ...)                                                         \
  sd_bus_call_method((f)->client, KV_BUS_NAME, KV_OBJECT_PATH, KV_INTERFACE, member, error, reply, \
                     __VA_ARGS__)

static void test_typed_values(Fixture *f, gconstpointer data)
{
  g_auto(sd_bus_error) error = SD_BUS_ERROR_NULL;
  g_autoptr(sd_bus_message) reply = NULL;

  g_assert_cmpint(CALL(f, &error, NULL, "Set", "sv", "n", "x", (int64_t)-42), >=, 0);
  g_assert_cmpint(CALL(f, &error, NULL, "Set", "sv", "pair", "(si)", "a", (int32_t)1), >=, 0);
  g_assert_cmpint(CALL(f, &error, NULL, "Set", "sv", "list", "as", 2, "x", "y"), >=, 0);

  int64_t n;
  g_assert_cmpint(CALL(f, &error, &reply, "Get", "s", "n"), >=, 0);
  g_assert_cmpint(sd_bus_message_read(reply, "v", "x", &n), >=, 0);
  g_assert_cmpint(n, ==, -42);
  reply = sd_bus_message_unref(reply);

  const char *s;
  int32_t i;
  g_assert_cmpint(CALL(f, &error, &reply, "Get", "s", "pair"), >=, 0);
  g_assert_cmpint(sd_bus_message_read(reply, "v", "(si)", &s, &i), >=, 0);
  g_assert_cmpstr(s, ==, "a");
  g_assert_cmpint(i, ==, 1);
  reply = sd_bus_message_unref(reply);

  /* A variant of the wrong type is not silently converted. */
  g_assert_cmpint(CALL(f, &error, &reply, "Get", "s", "list"), >=, 0);
  g_assert_cmpint(sd_bus_message_read(reply, "v", "s", &s), <, 0);
}

static void test_get_all(Fixture *f, gconstpointer data)
{
  g_auto(sd_bus_error) error = SD_BUS_ERROR_NULL;
  g_autoptr(sd_bus_message) reply = NULL;

  g_assert_cmpint(CALL(f, &error, NULL, "Set", "sv", "b", "u", (uint32_t)2), >=, 0);
  g_assert_cmpint(CALL(f, &error, NULL, "Set", "sv", "a", "s", "one"), >=, 0);
  g_assert_cmpint(CALL(f, &error, &reply, "GetAll", "s", ""), >=, 0);

  const char *key, *text;
  uint32_t number;
  g_assert_cmpint(sd_bus_message_enter_container(reply, 'a', "{sv}"), >, 0);
  g_assert_cmpint(sd_bus_message_read(reply, "{sv}", &key, "s", &text), >, 0);
  g_assert_cmpstr(key, ==, "a");
  g_assert_cmpstr(text, ==, "one");
  g_assert_cmpint(sd_bus_message_read(reply, "{sv}", &key, "u", &number), >, 0);
  g_assert_cmpstr(key, ==, "b");
  g_assert_cmpuint(number, ==, 2);
  g_assert_cmpint(sd_bus_message_exit_container(reply), >=, 0);
}

static void test_error_names(Fixture *f, gconstpointer data)
{
  const struct {
    const char *member;
    const char *signature;
    const char *key;
    const char *name;
  } cases[] = {
      {"Get", "s", "missing", "org.example.KVStore.Error.NotFound"},
      {"Get", "s", "", "org.example.KVStore.Error.InvalidKey"},
      {"Increment", "sx", "text", "org.example.KVStore.Error.InvalidValueType"},
      {"Increment", "sx", "max", "org.example.KVStore.Error.Overflow"},
  };
  g_auto(sd_bus_error) setup_error = SD_BUS_ERROR_NULL;

  g_assert_cmpint(CALL(f, &setup_error, NULL, "Set", "sv", "text", "s", "abc"), >=, 0);
  g_assert_cmpint(CALL(f, &setup_error, NULL, "Set", "sv", "max", "q", (uint16_t)65535), >=, 0);

  for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
    g_auto(sd_bus_error) error = SD_BUS_ERROR_NULL;
    int r = g_str_equal(cases[i].signature, "s")
                ? CALL(f, &error, NULL, cases[i].member, "s", cases[i].key)
                : CALL(f, &error, NULL, cases[i].member, "sx", cases[i].key, (int64_t)1);
    g_assert_cmpint(r, <, 0);
    g_assert_cmpstr(error.name, ==, cases[i].name);
    g_assert_nonnull(error.message);
  }
}

static void test_file_descriptor_refused(Fixture *f, gconstpointer data)
{
  g_auto(sd_bus_error) error = SD_BUS_ERROR_NULL;
  int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);

  g_assert_cmpint(fd, >=, 0);
  g_assert_cmpint(sd_bus_can_send(f->client, 'h'), >, 0);
  g_assert_cmpint(CALL(f, &error, NULL, "Set", "sv", "fd", "h", fd), <, 0);
  g_assert_cmpstr(error.name, ==, "org.example.KVStore.Error.InvalidValueType");
  close(fd);

  g_auto(sd_bus_error) exists_error = SD_BUS_ERROR_NULL;
  g_autoptr(sd_bus_message) reply = NULL;
  int exists;
  g_assert_cmpint(CALL(f, &exists_error, &reply, "Exists", "s", "fd"), >=, 0);
  g_assert_cmpint(sd_bus_message_read(reply, "b", &exists), >=, 0);
  g_assert_false(exists);
}

typedef struct {
  sd_bus *bus;
  int to_send;
  int pending;
  int failures;
} Client;

static int send_increment(Client *client);

static int on_increment_reply(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
  Client *client = userdata;

  client->pending--;
  if (sd_bus_message_is_method_error(m, NULL)) {
    g_test_message("Increment failed: %s", sd_bus_message_get_error(m)->message);
    client->failures++;
  }
  return client->to_send > 0 ? send_increment(client) : 0;
}

static int send_increment(Client *client)
{
  int r =
      sd_bus_call_method_async(client->bus, NULL, KV_BUS_NAME, KV_OBJECT_PATH, KV_INTERFACE,
                               "Increment", on_increment_reply, client, "sx", "hits", (int64_t)1);
  if (r >= 0) {
    client->to_send--;
    client->pending++;
  }
  return r;
}

/* Several clients, each keeping many increments in flight: none is lost. The window
 * stays under dbus-daemon's limit of pending replies per connection. */
static void test_concurrent_increments(Fixture *f, gconstpointer data)
{
  enum { CLIENTS = 4, CALLS_PER_CLIENT = 500, WINDOW = 64 };
  Client clients[CLIENTS];
  g_auto(sd_bus_error) error = SD_BUS_ERROR_NULL;

  /* Activate first: dbus-daemon refuses more than 512 calls queued for activation. */
  g_assert_cmpint(CALL(f, &error, NULL, "Exists", "s", "hits"), >=, 0);

  for (int c = 0; c < CLIENTS; c++) {
    clients[c] = (Client){connect_client(f), CALLS_PER_CLIENT, 0, 0};
    for (int i = 0; i < WINDOW; i++)
      g_assert_cmpint(send_increment(&clients[c]), >=, 0);
  }

  gint64 deadline = g_get_monotonic_time() + 60 * G_USEC_PER_SEC;
  gboolean busy = TRUE;
  while (busy && g_get_monotonic_time() < deadline) {
    busy = FALSE;
    for (int c = 0; c < CLIENTS; c++) {
      int r;
      while ((r = sd_bus_process(clients[c].bus, NULL)) > 0)
        ;
      g_assert_cmpint(r, >=, 0);
      busy = busy || clients[c].pending > 0;
    }
    if (busy)
      sd_bus_wait(clients[0].bus, 1000);
  }

  for (int c = 0; c < CLIENTS; c++) {
    g_assert_cmpint(clients[c].pending, ==, 0);
    g_assert_cmpint(clients[c].to_send, ==, 0);
    g_assert_cmpint(clients[c].failures, ==, 0);
    sd_bus_flush_close_unref(clients[c].bus);
  }

  g_autoptr(sd_bus_message) reply = NULL;
  int64_t hits;
  g_assert_cmpint(CALL(f, &error, &reply, "Get", "s", "hits"), >=, 0);
  g_assert_cmpint(sd_bus_message_read(reply, "v", "x", &hits), >=, 0);
  g_assert_cmpint(hits, ==, CLIENTS * CALLS_PER_CLIENT);
}

int main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
#define ADD(path, func) g_test_add("/sdbus/" path, Fixture, NULL, setup, func, teardown)
  ADD("typed-values", test_typed_values);
  ADD("get-all", test_get_all);
  ADD("error-names", test_error_names);
  ADD("file-descriptor-refused", test_file_descriptor_refused);
  ADD("concurrent-increments", test_concurrent_increments);
#undef ADD
  return g_test_run();
}
