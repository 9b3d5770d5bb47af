/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "kv-test-assert.h"
#include "kvctl-value.h"

typedef struct {
  const char *type_name;
  gboolean gvariant_text;
  const char *text;
  const char *expected; /* typed GVariant text, NULL for a usage error */
} ValueCase;

static const ValueCase cases[] = {
    {NULL, FALSE, "hello", "'hello'"},
    {NULL, FALSE, "-5", "'-5'"},
    {"string", FALSE, "[1, 2]", "'[1, 2]'"},
    {NULL, FALSE, "caf\xc3\xa9", "'caf\xc3\xa9'"},
    {NULL, FALSE, "\xff\xfe", NULL},
    {"string", FALSE, "a\xc3", NULL},
    {NULL, TRUE, "'\xff'", NULL},
    {"as", FALSE, "['ok', '\xc3']", NULL},
    {"int64", FALSE, "5", "int64 5"},
    {"int64", FALSE, "-9223372036854775808", "int64 -9223372036854775808"},
    {"int64", FALSE, "9223372036854775808", NULL},
    {"int32", FALSE, "7", "7"},
    {"uint32", FALSE, "-1", NULL},
    {"byte", FALSE, "255", "byte 0xff"},
    {"int16", FALSE, "-3", "int16 -3"},
    {"uint16", FALSE, "3", "uint16 3"},
    {"uint64", FALSE, "18446744073709551615", "uint64 18446744073709551615"},
    {"double", FALSE, "2.5", "2.5"},
    {"bool", FALSE, "true", "true"},
    {"boolean", FALSE, "false", "false"},
    {"bool", FALSE, "yes", NULL},
    {"objectpath", FALSE, "'/a/b'", "objectpath '/a/b'"},
    {"signature", FALSE, "'as'", "signature 'as'"},
    {"ai", FALSE, "[1, 2]", "[1, 2]"},
    {"a{sv}", FALSE, "{'a': <1>}", "{'a': <1>}"},
    {"float", FALSE, "1", NULL},
    {"mi", FALSE, "5", NULL},
    {"*", FALSE, "5", NULL},
    {"int32", FALSE, "five", NULL},
    {NULL, TRUE, "int64 5", "int64 5"},
    {NULL, TRUE, "[1, 2]", "[1, 2]"},
    {NULL, TRUE, "'text'", "'text'"},
    {NULL, TRUE, "just 5", NULL},
    {NULL, TRUE, "[1, ", NULL},
};

static void test_parse(gconstpointer data)
{
  const ValueCase *c = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) value = kvctl_parse_value(c->type_name, c->gvariant_text, c->text, &error);

  if (c->expected == NULL) {
    g_assert_null(value);
    g_assert_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE);
    return;
  }
  g_assert_no_error(error);
  g_autoptr(GVariant) expected = g_variant_parse(NULL, c->expected, NULL, NULL, NULL);
  kv_assert_variant_eq(value, expected);
}

static void test_format(void)
{
  struct {
    const char *value;
    const char *printed;
  } formats[] = {
      {"'raw text'", "raw text"}, {"int64 15", "15"}, {"[1, 2]", "[1, 2]"},
      {"<'x'>", "<'x'>"},         {"true", "true"},
  };

  for (gsize i = 0; i < G_N_ELEMENTS(formats); i++) {
    g_autoptr(GVariant) value = g_variant_parse(NULL, formats[i].value, NULL, NULL, NULL);
    g_autofree char *text = kvctl_format_value(value);
    g_assert_cmpstr(text, ==, formats[i].printed);
  }
}

int main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
    g_autofree char *path = g_strdup_printf("/kvctl-value/parse/%zu", i);
    g_test_add_data_func(path, &cases[i], test_parse);
  }
  g_test_add_func("/kvctl-value/format", test_format);
  return g_test_run();
}
