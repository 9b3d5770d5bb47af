/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "kv-size-option.h"

static void test_sizes(void)
{
  const struct {
    const char *text;
    guint64 size;
  } valid[] = {
      {"1", 1},
      {"16", 16},
      {"64K", 64 * 1024},
      {"64k", 64 * 1024},
      {"1M", 1024 * 1024},
      {"2G", G_GUINT64_CONSTANT(2) << 30},
      {"18446744073709551615", G_MAXUINT64},
  };
  const char *invalid[] = {"",
                           "0",
                           "0K",
                           "K",
                           "-1",
                           "1.5M",
                           "12Q",
                           " 1",
                           "1 ",
                           "1KB",
                           "99999999999999999G",
                           "18446744073709551616"};

  for (gsize i = 0; i < G_N_ELEMENTS(valid); i++) {
    g_autoptr(GError) error = NULL;
    guint64 size = 0;
    g_assert_true(kv_parse_size(valid[i].text, &size, &error));
    g_assert_no_error(error);
    g_assert_cmpuint(size, ==, valid[i].size);
  }
  for (gsize i = 0; i < G_N_ELEMENTS(invalid); i++) {
    g_autoptr(GError) error = NULL;
    guint64 size = 7;
    g_assert_false(kv_parse_size(invalid[i], &size, &error));
    g_assert_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE);
    g_assert_cmpuint(size, ==, 7);
  }
}

int main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/size-option/sizes", test_sizes);
  return g_test_run();
}
