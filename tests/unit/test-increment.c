/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "kv-test-assert.h"
#include "kv-error.h"
#include "kv-increment.h"

#include <string.h>

typedef struct {
  const char *current; /* GVariant text, NULL for a missing key */
  gint64 delta;
  const char *expected; /* GVariant text of the new value, NULL on error */
  KvError error;
} IncrementCase;

static const IncrementCase cases[] = {
    /* missing key */
    {NULL, 5, "int64 5"},
    {NULL, G_MININT64, "int64 -9223372036854775808"},
    /* int64 limits */
    {"int64 9223372036854775806", 1, "int64 9223372036854775807"},
    {"int64 9223372036854775807", 1, NULL, KV_ERROR_OVERFLOW},
    {"int64 -9223372036854775807", -1, "int64 -9223372036854775808"},
    {"int64 -9223372036854775808", -1, NULL, KV_ERROR_OVERFLOW},
    {"int64 -9223372036854775808", G_MAXINT64, "int64 -1"},
    {"int64 0", G_MININT64, "int64 -9223372036854775808"},
    /* each integer type keeps its type and its range */
    {"byte 254", 1, "byte 255"},
    {"byte 255", 1, NULL, KV_ERROR_OVERFLOW},
    {"byte 0", -1, NULL, KV_ERROR_OVERFLOW},
    {"byte 10", -10, "byte 0"},
    {"int16 32766", 1, "int16 32767"},
    {"int16 32767", 1, NULL, KV_ERROR_OVERFLOW},
    {"int16 -32768", -1, NULL, KV_ERROR_OVERFLOW},
    {"uint16 65535", 1, NULL, KV_ERROR_OVERFLOW},
    {"uint16 65534", 1, "uint16 65535"},
    {"uint16 0", -1, NULL, KV_ERROR_OVERFLOW},
    {"int32 2147483646", 1, "2147483647"},
    {"int32 2147483647", 1, NULL, KV_ERROR_OVERFLOW},
    {"int32 -2147483648", -1, NULL, KV_ERROR_OVERFLOW},
    {"int32 -2147483648", 1, "-2147483647"},
    {"uint32 4294967295", 1, NULL, KV_ERROR_OVERFLOW},
    {"uint32 4294967294", 1, "uint32 4294967295"},
    {"uint32 0", -1, NULL, KV_ERROR_OVERFLOW},
    {"uint64 9223372036854775806", 1, "uint64 9223372036854775807"},
    {"uint64 9223372036854775807", 1, NULL, KV_ERROR_OVERFLOW},
    {"uint64 18446744073709551615", 1, NULL, KV_ERROR_OVERFLOW},
    {"uint64 18446744073709551615", -1, NULL, KV_ERROR_OVERFLOW},
    {"uint64 9223372036854775808", -1, "uint64 9223372036854775807"},
    {"uint64 18446744073709551615", G_MININT64, "uint64 9223372036854775807"},
    {"uint64 0", -1, NULL, KV_ERROR_OVERFLOW},
    {"uint64 5", 0, "uint64 5"},
    /* strings holding canonical base-10 int64 */
    {"'10'", 5, "'15'"},
    {"'0'", -1, "'-1'"},
    {"'-1'", 1, "'0'"},
    {"'9223372036854775807'", 1, NULL, KV_ERROR_OVERFLOW},
    {"'-9223372036854775808'", -1, NULL, KV_ERROR_OVERFLOW},
    {"'-9223372036854775808'", 0, "'-9223372036854775808'"},
    {"'9223372036854775808'", -1, NULL, KV_ERROR_INVALID_VALUE_TYPE},
    {"'007'", 1, NULL, KV_ERROR_INVALID_VALUE_TYPE},
    {"' 1'", 1, NULL, KV_ERROR_INVALID_VALUE_TYPE},
    {"'1 '", 1, NULL, KV_ERROR_INVALID_VALUE_TYPE},
    {"'+1'", 1, NULL, KV_ERROR_INVALID_VALUE_TYPE},
    {"'-0'", 1, NULL, KV_ERROR_INVALID_VALUE_TYPE},
    {"'-'", 1, NULL, KV_ERROR_INVALID_VALUE_TYPE},
    {"''", 1, NULL, KV_ERROR_INVALID_VALUE_TYPE},
    {"'1.5'", 1, NULL, KV_ERROR_INVALID_VALUE_TYPE},
    {"'0x10'", 1, NULL, KV_ERROR_INVALID_VALUE_TYPE},
    {"'abc'", 1, NULL, KV_ERROR_INVALID_VALUE_TYPE},
    /* everything else */
    {"1.5", 1, NULL, KV_ERROR_INVALID_VALUE_TYPE},
    {"true", 1, NULL, KV_ERROR_INVALID_VALUE_TYPE},
    {"[1, 2]", 1, NULL, KV_ERROR_INVALID_VALUE_TYPE},
    {"<5>", 1, NULL, KV_ERROR_INVALID_VALUE_TYPE},
    {"(1, 2)", 1, NULL, KV_ERROR_INVALID_VALUE_TYPE},
    {"objectpath '/a'", 1, NULL, KV_ERROR_INVALID_VALUE_TYPE},
    {"signature 'i'", 1, NULL, KV_ERROR_INVALID_VALUE_TYPE},
};

static GVariant *parse(const char *text)
{
  g_autoptr(GError) error = NULL;
  GVariant *value = g_variant_parse(NULL, text, NULL, NULL, &error);

  g_assert_no_error(error);
  return value;
}

static void test_case(gconstpointer data)
{
  const IncrementCase *c = data;
  g_autoptr(GVariant) current = c->current ? parse(c->current) : NULL;
  g_autoptr(GError) error = NULL;
  gint64 result = 12345;
  g_autoptr(GVariant) next = kv_increment(current, c->delta, &result, &error);

  if (c->expected == NULL) {
    g_assert_error(error, KV_ERROR, (gint)c->error);
    g_assert_null(next);
    g_assert_cmpint(result, ==, 12345);
    return;
  }

  g_assert_no_error(error);
  g_autoptr(GVariant) expected = parse(c->expected);
  kv_assert_variant_eq(next, expected);
  g_assert_false(g_variant_is_floating(next));
  if (g_variant_is_of_type(expected, G_VARIANT_TYPE_STRING)) {
    gint64 parsed;
    g_assert_true(kv_parse_canonical_int64(g_variant_get_string(expected, NULL), &parsed));
    g_assert_cmpint(result, ==, parsed);
  }
}

static void test_messages_name_the_type(void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) value = g_variant_ref_sink(g_variant_new_double(1.5));
  gint64 result;

  g_assert_null(kv_increment(value, 1, &result, &error));
  g_assert_nonnull(strstr(error->message, "double 'd'"));
  g_clear_error(&error);

  g_autoptr(GVariant) small = g_variant_ref_sink(g_variant_new_int16(G_MAXINT16));
  g_assert_null(kv_increment(small, 1, &result, &error));
  g_assert_nonnull(strstr(error->message, "int16"));
}

int main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
    g_autofree char *path =
        g_strdup_printf("/increment/%s/%" G_GINT64_FORMAT "/%zu",
                        cases[i].current ? cases[i].current : "missing", cases[i].delta, i);
    g_strdelimit(path + 1, " '<>[]()/", '_');
    g_test_add_data_func(path, &cases[i], test_case);
  }
  g_test_add_func("/increment/messages-name-the-type", test_messages_name_the_type);
  return g_test_run();
}
