/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "kv-test-assert.h"
#include "kv-sd-bus-cleanup.h"
#include "kv-test-values.h"
#include "kv-variant-bridge.h"

#include <errno.h>
#include <sys/socket.h>
#include <unistd.h>

static sd_bus *new_unstarted_peer(int *other_fd)
{
  int fds[2];
  sd_bus *bus = NULL;

  g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), ==, 0);
  g_assert_cmpint(sd_bus_new(&bus), >=, 0);
  g_assert_cmpint(sd_bus_set_fd(bus, fds[0], fds[0]), >=, 0);
  /* Starting puts the bus in a state where messages can be built; no peer answers. */
  g_assert_cmpint(sd_bus_start(bus), >=, 0);
  *other_fd = fds[1];
  return bus;
}

static sd_bus_message *new_message(sd_bus *bus)
{
  sd_bus_message *m = NULL;

  g_assert_cmpint(sd_bus_message_new_method_call(bus, &m, "org.example.KVStore",
                                                 "/org/example/KVStore", "org.example.KVStore",
                                                 "Set"),
                  >=, 0);
  return m;
}

static void seal_and_rewind(sd_bus_message *m)
{
  g_assert_cmpint(sd_bus_message_seal(m, 1, 0), >=, 0);
  g_assert_cmpint(sd_bus_message_rewind(m, 1), >=, 0);
}

static void test_round_trip(gconstpointer data)
{
  const char *text = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) value = g_variant_parse(NULL, text, NULL, NULL, &error);
  g_assert_no_error(error);
  int other_fd;
  g_autoptr(sd_bus) bus = new_unstarted_peer(&other_fd);
  g_autoptr(sd_bus_message) m = new_message(bus);

  g_assert_cmpint(sd_bus_message_append_basic(m, 's', "key"), >=, 0);
  g_assert_cmpint(kv_variant_bridge_append_variant(m, value), >=, 0);
  g_assert_cmpint(kv_variant_bridge_append_value(m, value), >=, 0);
  seal_and_rewind(m);

  g_autofree char *expected_signature = g_strconcat("sv", g_variant_get_type_string(value), NULL);
  g_assert_cmpstr(sd_bus_message_get_signature(m, 1), ==, expected_signature);

  const char *key;
  g_autoptr(GVariant) from_variant = NULL;
  g_autoptr(GVariant) from_value = NULL;
  g_assert_cmpint(sd_bus_message_read_basic(m, 's', &key), >=, 0);
  g_assert_cmpint(kv_variant_bridge_read_variant(m, &from_variant), ==, 0);
  g_assert_cmpint(kv_variant_bridge_read_value(m, &from_value), ==, 0);
  g_assert_cmpint(sd_bus_message_at_end(m, 1), >, 0);

  g_assert_false(g_variant_is_floating(from_variant));
  kv_assert_variant_eq(from_variant, value);
  kv_assert_variant_eq(from_value, value);
  /* Nothing left to read is an error, not a crash. */
  g_autoptr(GVariant) nothing = NULL;
  g_assert_cmpint(kv_variant_bridge_read_value(m, &nothing), ==, -ENXIO);
  g_assert_null(nothing);
  close(other_fd);
}

/* A struct of @n bytes: a signature of @n + 2 characters. */
static GVariant *byte_struct(guint n)
{
  g_autofree GVariant **children = g_new(GVariant *, n);

  for (guint i = 0; i < n; i++)
    children[i] = g_variant_new_byte((guint8)i);
  return g_variant_ref_sink(g_variant_new_tuple(children, n));
}

/* Signatures of a variant's content up to 254 characters come back; one of 255, which
 * the bus carries but sd-bus does not read back, is refused with ENOTSUP. */
static void test_longest_signatures(void)
{
  for (guint n = 250; n <= 253; n++) {
    g_autoptr(GVariant) value = byte_struct(n);
    int other_fd;
    g_autoptr(sd_bus) bus = new_unstarted_peer(&other_fd);
    g_autoptr(sd_bus_message) m = new_message(bus);
    int r = kv_variant_bridge_append_variant(m, value);
    g_test_message("a signature of %u characters: %s", n + 2, r < 0 ? g_strerror(-r) : "sent");
    g_assert_cmpint(r, >=, 0);
    seal_and_rewind(m);
    g_autoptr(GVariant) back = NULL;
    r = kv_variant_bridge_read_variant(m, &back);
    if (n + 2 > KV_VARIANT_BRIDGE_MAX_SIGNATURE) {
      g_assert_cmpint(r, ==, -ENOTSUP);
      g_assert_null(back);
      close(other_fd);
      continue;
    }
    if (r < 0)
      g_error("a signature of %u characters: %s", n + 2, g_strerror(-r));
    kv_assert_variant_eq(back, value);
    close(other_fd);
  }
}

static void test_unsendable_types(void)
{
  const char *unsendable[] = {"@mi 5", "[@mi 5]", "handle 0", "()", "[()]"};
  int other_fd;
  g_autoptr(sd_bus) bus = new_unstarted_peer(&other_fd);

  for (gsize i = 0; i < G_N_ELEMENTS(unsendable); i++) {
    g_autoptr(sd_bus_message) m = new_message(bus);
    g_autoptr(GVariant) value = g_variant_parse(NULL, unsendable[i], NULL, NULL, NULL);
    g_assert_nonnull(value);
    g_assert_cmpint(kv_variant_bridge_append_value(m, value), <, 0);
  }
  close(other_fd);
}

int main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  for (gsize i = 0; i < G_N_ELEMENTS(kv_test_values); i++) {
    g_autofree char *path = g_strdup_printf("/variant-bridge/round-trip/%zu", i);
    g_test_add_data_func(path, kv_test_values[i], test_round_trip);
  }
  g_test_add_func("/variant-bridge/unsendable-types", test_unsendable_types);
  g_test_add_func("/variant-bridge/longest-signatures", test_longest_signatures);
  return g_test_run();
}
