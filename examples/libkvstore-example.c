/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A client of kvstore through libkvstore (pkg-config kvstore-1):
 *
 *   cc libkvstore-example.c $(pkg-config --cflags --libs kvstore-1)
 *
 * It keeps a view of the keys under example/ (filled, then kept current), sets, reads
 * and increments keys there, and prints what it saw: the same as kvstore-example.c, which
 * makes the D-Bus calls itself. Session bus (the system bus with --system). */

#include <kvstore/kvstore.h>

#include <string.h>

#define EXPECTED_CHANGES 3

typedef struct {
  GMainLoop *loop;
  guint changes;
} Example;

static void on_changed(KvStoreView *view, const char *key, GVariant *value, guint64 revision,
                       gpointer user_data)
{
  Example *example = user_data;

  g_print("changed %s at %" G_GUINT64_FORMAT "\n", key, revision);
  if (++example->changes == EXPECTED_CHANGES)
    g_main_loop_quit(example->loop);
}

static gboolean on_timeout(gpointer user_data)
{
  g_printerr("libkvstore-example: the changes did not all arrive\n");
  exit(1);
}

static void check(const GError *error)
{
  if (error != NULL) {
    g_printerr("libkvstore-example: %s\n", error->message);
    exit(1);
  }
}

int main(int argc, char **argv)
{
  g_autoptr(GError) error = NULL;
  GBusType bus_type =
      argc > 1 && strcmp(argv[1], "--system") == 0 ? G_BUS_TYPE_SYSTEM : G_BUS_TYPE_SESSION;
  Example example = {g_main_loop_new(NULL, FALSE), 0};

  g_autoptr(KvStoreClient) client = kv_store_client_new_sync(bus_type, NULL, &error);
  check(error);
  g_autoptr(KvStoreView) view = kv_store_view_new_sync(client, "example/", NULL, &error);
  check(error);
  g_signal_connect(view, "changed", G_CALLBACK(on_changed), &example);

  kv_store_client_set_sync(client, "example/greeting", g_variant_new_string("hello"), NULL, &error);
  check(error);
  g_autoptr(GVariant) greeting =
      kv_store_client_get_sync(client, "example/greeting", NULL, NULL, &error);
  check(error);
  g_print("greeting: %s\n", g_variant_get_string(greeting, NULL));
  for (gint64 delta = 2; delta <= 3; delta++) {
    gint64 counter = 0;
    kv_store_client_increment_sync(client, "example/counter", delta, &counter, NULL, &error);
    check(error);
    g_print("counter: %" G_GINT64_FORMAT "\n", counter);
  }
  g_autoptr(GVariant) missing =
      kv_store_client_get_sync(client, "example/missing", NULL, NULL, &error);
  if (g_error_matches(error, KV_STORE_ERROR, KV_STORE_ERROR_NOT_FOUND))
    g_print("missing: not found\n");
  g_clear_error(&error);

  /* The view hears of the three changes from the main loop. */
  g_timeout_add_seconds(5, on_timeout, NULL);
  g_main_loop_run(example.loop);
  g_print("revision: %" G_GUINT64_FORMAT "\n", kv_store_view_get_revision(view));
  g_main_loop_unref(example.loop);
  return 0;
}
