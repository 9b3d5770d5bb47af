/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The client's error domain covers every error name kvstored's own table sends. */

#include "kv-bus-error.h"
#include "kv-error.h"
#include <kvstore/kvstore-error.h>

#include <string.h>

static void test_every_service_error_maps(void)
{
  /* KvError's codes run from NOT_FOUND to INVALID_ARGS. */
  for (int code = KV_ERROR_NOT_FOUND; code <= KV_ERROR_INVALID_ARGS; code++) {
    g_autoptr(GError) service_error = g_error_new_literal(KV_ERROR, code, "message");
    const char *name = kv_bus_error_name(service_error);
    g_assert_cmpstr(name, !=, SD_BUS_ERROR_FAILED);
    (void)KV_STORE_ERROR;
    g_autoptr(GError) client_error = g_dbus_error_new_for_dbus_error(name, "message");
    g_test_message("%s", name);
    if (g_str_has_prefix(name, "org.example.KVStore.Error."))
      g_assert_true(client_error->domain == KV_STORE_ERROR);
    else
      g_assert_true(client_error->domain == G_DBUS_ERROR);
    g_autofree char *back = g_dbus_error_get_remote_error(client_error);
    g_assert_cmpstr(back, ==, name);
  }
}

static void test_codes(void)
{
  (void)KV_STORE_ERROR;
  g_autoptr(GError) error = g_dbus_error_new_for_dbus_error("org.example.KVStore.Error.Conflict",
                                                            "Key 'k' is at revision 2, not 1");

  g_assert_error(error, KV_STORE_ERROR, KV_STORE_ERROR_CONFLICT);
}

int main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/client-error/every-service-error-maps", test_every_service_error_maps);
  g_test_add_func("/client-error/codes", test_codes);
  return g_test_run();
}
