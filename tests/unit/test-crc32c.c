/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "kv-crc32c.h"

#include <string.h>

/* Known CRC-32C values (RFC 3720, appendix B.4, and the usual check value). */
static void test_known_values(void)
{
  guint8 zeros[32] = {0}, ones[32], increasing[32];
  const char *check = "123456789";

  memset(ones, 0xFF, sizeof ones);
  for (guint i = 0; i < sizeof increasing; i++)
    increasing[i] = (guint8)i;

  g_assert_cmphex(kv_crc32c(check, strlen(check)), ==, 0xE3069283);
  g_assert_cmphex(kv_crc32c(zeros, sizeof zeros), ==, 0x8A9136AA);
  g_assert_cmphex(kv_crc32c(ones, sizeof ones), ==, 0x62A8AB43);
  g_assert_cmphex(kv_crc32c(increasing, sizeof increasing), ==, 0x46DD794E);
  g_assert_cmphex(kv_crc32c_portable(check, strlen(check)), ==, 0xE3069283);
  g_assert_cmphex(kv_crc32c_portable(increasing, sizeof increasing), ==, 0x46DD794E);
}

/* Whichever way kv_crc32c() computes, it agrees with the table at every length and
 * alignment. */
static void test_paths_agree(void)
{
  guint8 data[300];

  for (guint i = 0; i < sizeof data; i++)
    data[i] = (guint8)(i * 31 + 7);
  for (gsize start = 0; start < 9; start++)
    for (gsize size = 0; start + size <= sizeof data; size += 13)
      g_assert_cmphex(kv_crc32c(data + start, size), ==, kv_crc32c_portable(data + start, size));
}

int main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/crc32c/known-values", test_known_values);
  g_test_add_func("/crc32c/paths-agree", test_paths_agree);
  return g_test_run();
}
