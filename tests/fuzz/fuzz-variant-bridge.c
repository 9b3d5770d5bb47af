/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libFuzzer: a value from bytes (a type string, a nul, serialized GVariant data) through
 * the variant bridge into an sd-bus message and back. It comes back equal; reading it
 * within a budget of its wire size succeeds; its shape and size are computed without a
 * crash. */

#include "kv-sd-bus-cleanup.h"
#include "kv-variant-bridge.h"
#include "kv-wire.h"

#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

int LLVMFuzzerTestOneInput(const guint8 *data, size_t size);

static sd_bus *bus;

/* sd-bus builds messages only for a bus that was started: one end of a socket pair that
 * nothing answers will do. */
static sd_bus *new_bus(void)
{
  sd_bus *new = NULL;
  int fds[2];

  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) < 0 || sd_bus_new(&new) < 0 ||
      sd_bus_set_fd(new, fds[0], fds[0]) < 0 || sd_bus_start(new) < 0)
    abort();
  return new;
}

/* Types the D-Bus wire has no form for, or that the bridge does not carry back: a value
 * that came over the bus has a signature of at most 255 bytes, and sd-bus reads one of
 * at most 254 (the bridge refuses longer ones, with ENOTSUP, on the way back). */
static gboolean has_wire_form(const char *type)
{
  return strlen(type) <= KV_VARIANT_BRIDGE_MAX_SIGNATURE && strpbrk(type, "mh") == NULL &&
         strstr(type, "()") == NULL;
}

int LLVMFuzzerTestOneInput(const guint8 *data, size_t size)
{
  const guint8 *nul = memchr(data, '\0', size);

  if (bus == NULL)
    bus = new_bus();
  if (nul == NULL)
    return 0;
  const char *type = (const char *)data;
  if (!g_variant_type_string_is_valid(type) || !g_variant_type_is_definite(G_VARIANT_TYPE(type)) ||
      !has_wire_form(type))
    return 0;

  g_autoptr(GBytes) bytes = g_bytes_new(nul + 1, size - (gsize)(nul + 1 - data));
  g_autoptr(GVariant) value =
      g_variant_ref_sink(g_variant_new_from_bytes(G_VARIANT_TYPE(type), bytes, FALSE));
  /* Values in normal form only, as kvstored holds them (what it reads from disk or etcd
   * is checked with g_variant_is_normal_form()). Not g_variant_get_normal_form() of any
   * bytes: in GLib 2.74 it aborts on some arrays nested 129 deep ("a" x 128 "b", seed
   * deep-array-not-normal), where g_variant_is_normal_form() says no. */
  if (!g_variant_is_normal_form(value))
    return 0;
  KvWireShape shape = kv_wire_shape(value);
  /* sd-bus refuses deeper messages; the daemon never builds them (kv-value-check.c). */
  if (shape.depth > 60)
    return 0;
  gsize wire_size = kv_wire_variant_end(value, 0);

  g_autoptr(sd_bus_message) m = NULL;
  if (sd_bus_message_new_signal(bus, &m, "/a", "org.example.Fuzz", "Value") < 0)
    abort();
  int r = kv_variant_bridge_append_variant(m, value);
  if (r < 0)
    return 0; /* e.g. an object path or signature that is not valid on the wire */
  if (sd_bus_message_seal(m, 1, 0) < 0 || sd_bus_message_rewind(m, 1) < 0)
    abort();

  g_autoptr(GVariant) back = NULL;
  r = kv_variant_bridge_read_variant_bounded(m, wire_size, &back);
  /* Compared as typed text: GLib 2.74 gives some all-default tuples, such as (ao(as)), a
   * "normal form" of 0 bytes that g_variant_equal() finds unequal to the same value
   * built. */
  g_autofree char *sent = g_variant_print(value, TRUE);
  g_autofree char *received = back != NULL ? g_variant_print(back, TRUE) : NULL;
  if (r < 0 || g_strcmp0(sent, received) != 0) {
    g_printerr("%s did not come back (%s, %zu bytes on the wire): %s\n", sent, g_strerror(-r),
               wire_size, received != NULL ? received : "nothing");
    abort();
  }
  return 0;
}
