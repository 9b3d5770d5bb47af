/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "kv-test-assert.h"
#include "kv-bus-error.h"
#include "kv-error.h"
#include "kv-sd-bus-cleanup.h"

static void test_names(void)
{
  const struct {
    KvError code;
    const char *name;
  } expected[] = {
      {KV_ERROR_NOT_FOUND, "org.example.KVStore.Error.NotFound"},
      {KV_ERROR_INVALID_KEY, "org.example.KVStore.Error.InvalidKey"},
      {KV_ERROR_INVALID_VALUE_TYPE, "org.example.KVStore.Error.InvalidValueType"},
      {KV_ERROR_OVERFLOW, "org.example.KVStore.Error.Overflow"},
      {KV_ERROR_TOO_LARGE, "org.example.KVStore.Error.TooLarge"},
      {KV_ERROR_ACCESS_DENIED, "org.freedesktop.DBus.Error.AccessDenied"},
      {KV_ERROR_QUOTA_EXCEEDED, "org.example.KVStore.Error.QuotaExceeded"},
  };

  for (gsize i = 0; i < G_N_ELEMENTS(expected); i++) {
    g_autoptr(GError) error = g_error_new_literal(KV_ERROR, expected[i].code, "message");
    g_auto(sd_bus_error) bus_error = SD_BUS_ERROR_NULL;

    g_assert_cmpstr(kv_bus_error_name(error), ==, expected[i].name);
    g_assert_cmpint(kv_bus_error_set(&bus_error, error), <, 0);
    g_assert_cmpstr(bus_error.name, ==, expected[i].name);
    g_assert_cmpstr(bus_error.message, ==, "message");
  }
}

static void test_foreign_error_is_failed(void)
{
  g_autoptr(GError) error = g_error_new_literal(G_FILE_ERROR, G_FILE_ERROR_NOSPC, "disk");

  g_assert_cmpstr(kv_bus_error_name(error), ==, "org.freedesktop.DBus.Error.Failed");
}

int main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/bus-error/names", test_names);
  g_test_add_func("/bus-error/foreign-error-is-failed", test_foreign_error_is_failed);
  return g_test_run();
}
