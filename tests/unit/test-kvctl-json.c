/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* kvctl's JSON: every value comes back exactly, and plain JSON only where it is exact. */

#include "kv-test-assert.h"
#include "kv-test-values.h"
#include "kvctl-json.h"

#include <string.h>

static GVariant *one_entry(const char *key, GVariant *value)
{
  GVariantBuilder builder;

  g_variant_builder_init(&builder, G_VARIANT_TYPE("a{sv}"));
  g_variant_builder_add(&builder, "{sv}", key, value);
  return g_variant_ref_sink(g_variant_builder_end(&builder));
}

static void test_round_trip_every_type(void)
{
  for (gsize i = 0; i < G_N_ELEMENTS(kv_test_values); i++) {
    g_autoptr(GError) error = NULL;
    g_autoptr(GVariant) value = g_variant_parse(NULL, kv_test_values[i], NULL, NULL, &error);
    g_assert_no_error(error);
    g_autoptr(GVariant) entries = one_entry("key \"quoted\"\n", value);
    g_autofree char *json = kvctl_json_from_entries(entries);
    g_autoptr(GVariant) back = kvctl_json_to_entries(json, &error);
    g_assert_no_error(error);
    g_test_message("%s -> %s", kv_test_values[i], json);
    g_assert_cmpvariant(back, entries);
  }
}

/* Values a JSON reader keeps exactly are plain JSON; the rest are tagged. */
static void test_plain_where_exact(void)
{
  static const struct {
    const char *value;
    const char *json;
  } cases[] = {
      {"'text'", "\"text\""},
      {"true", "true"},
      {"int64 9007199254740992", "9007199254740992"},
      {"int64 -9007199254740992", "-9007199254740992"},
      {"int64 9007199254740993", "{\"type\":\"x\",\"value\":\"9007199254740993\"}"},
      {"2.0", "2.0"},
      {"0.1", "0.10000000000000001"},
      {"-0.0", "-0.0"},
      {"double inf", "{\"type\":\"d\",\"value\":\"inf\"}"},
      {"double nan", "{\"type\":\"d\",\"value\":\"nan\"}"},
      {"int32 7", "{\"type\":\"i\",\"value\":\"7\"}"},
      {"uint64 18446744073709551615", "{\"type\":\"t\",\"value\":\"18446744073709551615\"}"},
  };

  for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
    g_autoptr(GVariant) value = g_variant_parse(NULL, cases[i].value, NULL, NULL, NULL);
    g_autofree char *json = kvctl_json_from_value(value);
    g_assert_cmpstr(json, ==, cases[i].json);
  }
}

static void test_plain_json_read(void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) entries = kvctl_json_to_entries(
      "{\"s\": \"x\", \"b\": false, \"i\": -9223372036854775808, \"d\": 1.0, \"e\": 1e3}", &error);
  g_assert_no_error(error);
  g_autoptr(GVariant) expected = g_variant_parse(
      G_VARIANT_TYPE("a{sv}"),
      "{'s': <'x'>, 'b': <false>, 'i': <int64 -9223372036854775808>, 'd': <1.0>, 'e': <1000.0>}",
      NULL, NULL, NULL);
  g_assert_cmpvariant(entries, expected);
}

/* What has no faithful reading is refused, naming the key, numbers inside strings and
 * nested keys notwithstanding. */
static void test_refused(void)
{
  static const struct {
    const char *json;
    const char *message;
  } cases[] = {
      {"{\"a\": null}", "Key 'a': null is no value"},
      {"{\"a\": 1, \"b\": 99999999999999999999}", "Key 'b': the integer 99999999999999999999"},
      {"{\"18446744073709551615\": {\"type\": \"t\", \"value\": \"1\"}, \"c\": [1]}",
       "Key 'c': a JSON array"},
      {"{\"a\": {\"type\": \"i\"}}", "Key 'a': an object is the tagged form"},
      {"{\"a\": {\"type\": \"i\", \"value\": 5}}", "Key 'a': an object is the tagged form"},
      {"{\"a\": {\"type\": \"i\", \"value\": \"5\", \"more\": 1}}", "the tagged form"},
      {"{\"a\": {\"type\": \"?\", \"value\": \"5\"}}", "'?' is not a GVariant type string"},
      {"{\"a\": {\"type\": \"mi\", \"value\": \"5\"}}", "'mi' is not a GVariant type string"},
      {"{\"a\": {\"type\": \"y\", \"value\": \"256\"}}", "Key 'a': not GVariant text of type 'y'"},
      {"\"text\"", "Not a JSON object"},
      {"{\"a\": ", "Not a JSON object"},
  };

  for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
    g_autoptr(GError) error = NULL;
    g_assert_null(kvctl_json_to_entries(cases[i].json, &error));
    g_assert_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE);
    if (strstr(error->message, cases[i].message) == NULL)
      g_error("'%s': '%s' lacks '%s'", cases[i].json, error->message, cases[i].message);
  }
}

static void test_keys(void)
{
  const char *keys[] = {"a", "with \"quotes\"\n", NULL};
  const char *none[] = {NULL};
  g_autofree char *json = kvctl_json_from_keys(keys);
  g_autofree char *empty = kvctl_json_from_keys(none);

  g_assert_cmpstr(json, ==, "[\n  \"a\",\n  \"with \\\"quotes\\\"\\n\"\n]");
  g_assert_cmpstr(empty, ==, "[]");
}

int main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/kvctl-json/round-trip-every-type", test_round_trip_every_type);
  g_test_add_func("/kvctl-json/plain-where-exact", test_plain_where_exact);
  g_test_add_func("/kvctl-json/plain-json-read", test_plain_json_read);
  g_test_add_func("/kvctl-json/refused", test_refused);
  g_test_add_func("/kvctl-json/keys", test_keys);
  return g_test_run();
}
