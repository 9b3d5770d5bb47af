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

int main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/wire/sizes-match-the-wire", test_sizes_match_the_wire);
  g_test_add_func("/wire/shape", test_shape);
  return g_test_run();
}
