/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A GDBus client of org.example.KVStore, from the interface XML through gdbus-codegen:
 *
 *   gdbus-codegen --c-namespace Kv --interface-prefix org.example. \
 *     --glib-min-required 2.74 --generate-c-code kvstore-generated
 * /usr/share/dbus-1/interfaces/org.example.KVStore.xml
 *
 * It follows the changes under example/, sets, reads and increments keys there, and
 * prints what it saw. It uses the session bus (the system bus with --system). */

#include <kvstore/kvstore-error.h>
#include "kvstore-generated.h"

#include <string.h>

#define EXPECTED_CHANGES 3

typedef struct {
  GMainLoop *loop;
  guint changes;
} Example;

static void on_changed(KvStore *store, const char *key, GVariant *value, guint64 revision,
                       gpointer user_data)
{
  Example *example = user_data;

  g_print("changed %s at %" G_GUINT64_FORMAT "\n", key, revision);
  if (++example->changes == EXPECTED_CHANGES)
    g_main_loop_quit(example->loop);
}

static gboolean on_timeout(gpointer user_data)
{
  g_printerr("kvstore-example: the changes did not all arrive\n");
  exit(1);
}

static void check(const GError *error)
{
  if (error != NULL) {
    g_printerr("kvstore-example: %s\n", error->message);
    exit(1);
  }
}

int main(int argc, char **argv)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) value = NULL;
  gint64 counter = 0;
  GBusType bus_type =
      argc > 1 && strcmp(argv[1], "--system") == 0 ? G_BUS_TYPE_SYSTEM : G_BUS_TYPE_SESSION;
  Example example = {g_main_loop_new(NULL, FALSE), 0};

  (void)KV_STORE_ERROR; /* GDBus maps the error names from here on */
  KvStore *store =
      kv_store_proxy_new_for_bus_sync(bus_type, G_DBUS_PROXY_FLAGS_NONE, "org.example.KVStore",
                                      "/org/example/KVStore", NULL, &error);
  check(error);
  g_signal_connect(store, "changed", G_CALLBACK(on_changed), &example);
  kv_store_call_subscribe_sync(store, "example/", G_DBUS_CALL_FLAGS_NONE, -1, NULL, &error);
  check(error);

  kv_store_call_set_sync(store, "example/greeting",
                         g_variant_new_variant(g_variant_new_string("hello")),
                         G_DBUS_CALL_FLAGS_NONE, -1, NULL, &error);
  check(error);
  kv_store_call_get_sync(store, "example/greeting", G_DBUS_CALL_FLAGS_NONE, -1, &value, NULL,
                         &error);
  check(error);
  /* A 'v' argument comes as a variant holding the value. */
  g_autoptr(GVariant) greeting = g_variant_get_variant(value);
  g_print("greeting: %s\n", g_variant_get_string(greeting, NULL));
  for (gint64 delta = 2; delta <= 3; delta++) {
    kv_store_call_increment_sync(store, "example/counter", delta, G_DBUS_CALL_FLAGS_NONE, -1,
                                 &counter, NULL, &error);
    check(error);
    g_print("counter: %" G_GINT64_FORMAT "\n", counter);
  }
  g_autoptr(GVariant) missing = NULL;
  if (!kv_store_call_get_sync(store, "example/missing", G_DBUS_CALL_FLAGS_NONE, -1, &missing, NULL,
                              &error) &&
      g_error_matches(error, KV_STORE_ERROR, KV_STORE_ERROR_NOT_FOUND))
    g_print("missing: not found\n");
  g_clear_error(&error);

  g_timeout_add_seconds(5, on_timeout, NULL);
  g_main_loop_run(example.loop);
  /* The proxy's cached property has followed the writes. */
  g_print("revision: %" G_GUINT64_FORMAT "\n", kv_store_get_revision(store));
  g_main_loop_unref(example.loop);
  g_object_unref(store);
  return 0;
}
