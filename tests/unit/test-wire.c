/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* kv_wire_*: sizes and depths as the D-Bus wire has them, checked against GDBus's own
 * marshalling of the same values. */

#include "kv-test-values.h"
#include "kv-wire.h"

#include <gio/gio.h>

/* The body length GDBus writes for a message whose body is (v) holding @value. */
static gsize gdbus_variant_body_size(GVariant *value)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GDBusMessage) message =
      g_dbus_message_new_method_call("org.example.KVStore", "/a", "org.example.KVStore", "Set");
  gsize size;

  g_dbus_message_set_body(message, g_variant_new("(v)", value));
  g_dbus_message_set_byte_order(message, G_DBUS_MESSAGE_BYTE_ORDER_LITTLE_ENDIAN);
  g_autofree guchar *blob =
      g_dbus_message_to_blob(message, &size, G_DBUS_CAPABILITY_FLAGS_UNIX_FD_PASSING, &error);
  g_assert_no_error(error);
  return blob[4] | blob[5] << 8 | blob[6] << 16 | (gsize)blob[7] << 24;
}

static void assert_size_matches(const char *text)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) value = g_variant_parse(NULL, text, NULL, NULL, &error);

  g_assert_no_error(error);
  g_test_message("%s", text);
  g_assert_cmpuint(kv_wire_variant_end(value, 0), ==, gdbus_variant_body_size(value));
}

static void test_sizes_match_the_wire(void)
{
  /* Where D-Bus and GVariant differ most: booleans, alignment inside arrays of structs,
   * offsets of arrays of strings, padding after a variant's signature. */
  static const char *const tricky[] = {
      "[true, false, true, true, false]", "[(byte 1,), (byte 2,), (byte 3,)]",
      "[{byte 1: byte 2}, {3: 4}]",       "[<byte 1>, <int64 2>, <(byte 3, 4.5)>]",
      "[@ay [], [byte 1], [2, 3]]",       "(byte 1, int64 2, byte 3, 'x', byte 4, 2.5)",
      "[['a'], @as [], ['b', 'cc']]",     "{'k': <{'n': <[(byte 1, true)]>}>}",
  };

  for (gsize i = 0; i < G_N_ELEMENTS(kv_test_values); i++)
    assert_size_matches(kv_test_values[i]);
  for (gsize i = 0; i < G_N_ELEMENTS(tricky); i++)
    assert_size_matches(tricky[i]);
}

static void test_shape(void)
{
  const struct {
    const char *text;
    guint depth;
    gboolean has_fd;
  } cases[] = {
      {"1", 0, FALSE},
      {"@ai []", 1, FALSE},
      {"[[1]]", 2, FALSE},
      {"<1>", 1, FALSE},
      {"<<1>>", 2, FALSE},
      {"[<[<1>]>]", 4, FALSE},
      {"{'a': <(1, [<2>])>}", 6, FALSE},
      {"handle 0", 0, TRUE},
      {"<<handle 0>>", 2, TRUE},
      {"[<1>, <handle 0>]", 2, TRUE},
      {"{'a': <(1, <handle 0>)>}", 5, TRUE},
  };

  for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
    g_autoptr(GVariant) value = g_variant_parse(NULL, cases[i].text, NULL, NULL, NULL);
    KvWireShape shape = kv_wire_shape(value);
    g_test_message("%s", cases[i].text);
    g_assert_cmpuint(shape.depth, ==, cases[i].depth);
    g_assert_cmpint(shape.has_fd, ==, cases[i].has_fd);
  }
}

/* Nested @depth deep around an int32: structs, dict entries in arrays, or variants. */
static GVariant *nested(char kind, guint depth)
{
  GVariant *value = g_variant_new_int32(1);

  for (guint i = 0; i < depth; i++) {
    if (kind == '(')
      value = g_variant_new_tuple(&value, 1);
    else if (kind == '{') {
      GVariant *entry = g_variant_new_dict_entry(g_variant_new_int32((gint32)i), value);
      value = g_variant_new_array(NULL, &entry, 1);
    } else
      value = g_variant_new_variant(value);
  }
  return g_variant_ref_sink(value);
}

/* @n copies of @element in an array. */
static GVariant *repeated(GVariant *element, guint n)
{
  g_autofree GVariant **items = g_new(GVariant *, n);

  for (guint i = 0; i < n; i++)
    items[i] = element;
  return g_variant_ref_sink(g_variant_new_array(NULL, items, n));
}

/* Seconds that kv_wire_shape() and kv_wire_end() take on @value, @rounds times. */
static double time_checks(GVariant *value, guint rounds)
{
  gint64 start = g_get_monotonic_time();

  for (guint i = 0; i < rounds; i++) {
    KvWireShape shape = kv_wire_shape(value);
    g_assert_cmpuint(kv_wire_variant_end(value, 0), >, 0);
    g_assert_false(shape.has_fd);
  }
  return (g_get_monotonic_time() - start) / 1e6;
}

/* Every shape costs in proportion to its size: a deeply nested value against a flat array
 * of the same size. The depth walk once called itself twice a level (4^14 steps for 28
 * structs: seconds, where a flat value takes microseconds). */
static void test_linear_in_size(void)
{
  g_autoptr(GVariant) structs = nested('(', 30);
  g_autoptr(GVariant) dicts = nested('{', 30);
  g_autoptr(GVariant) variants = nested('v', 60);
  g_autoptr(GVariant) deep_struct = nested('(', 24);
  g_autoptr(GVariant) struct_array = repeated(deep_struct, 500);
  g_autoptr(GVariant) deep_variant = nested('v', 20);
  g_autoptr(GVariant) variant_array = repeated(deep_variant, 500);
  GVariant *shapes[] = {structs, dicts, variants, struct_array, variant_array};
  const char *names[] = {"30 structs", "30 dicts", "60 variants", "500 x 24 structs",
                         "500 x 20 variants"};

  for (gsize i = 0; i < G_N_ELEMENTS(shapes); i++) {
    gsize size = g_variant_get_size(shapes[i]);
    g_autofree gint32 *zeros = g_new0(gint32, MAX(size / 4, 1));
    g_autoptr(GVariant) flat = g_variant_ref_sink(
        g_variant_new_fixed_array(G_VARIANT_TYPE_INT32, zeros, MAX(size / 4, 1), sizeof(gint32)));
    g_autoptr(GVariant) boxed_flat =
        repeated(g_variant_new_variant(g_variant_new_int32(1)), MAX(size / 8, 1));
    double deep_time = time_checks(shapes[i], 20);
    double flat_time = MAX(time_checks(flat, 20), time_checks(boxed_flat, 20));
    g_test_message("%s (%zu bytes): %.3f ms, a flat value of its size %.3f ms", names[i], size,
                   deep_time * 1e3 / 20, flat_time * 1e3 / 20);
    /* Generous (deep values cost ~10x a flat one of their size: a child at a time),
     * so that a machine's noise stays well inside it; anything worse than linear not. */
    if (deep_time > 50 * flat_time + 0.05)
      g_error("%s: %.3f s against %.3f s for a flat value of its size", names[i], deep_time,
              flat_time);
  }
}

int main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/wire/sizes-match-the-wire", test_sizes_match_the_wire);
  g_test_add_func("/wire/shape", test_shape);
  g_test_add_func("/wire/linear-in-size", test_linear_in_size);
  return g_test_run();
}
