/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "kv-bus-changes.h"

#include "kv-config.h"
#include "kv-variant-bridge.h"
#include "kv-wire.h"

#include <string.h>

gsize kv_bus_change_bytes(const char *key, GVariant *value)
{
  gsize value_bytes = value != NULL ? kv_wire_variant_end(value, 0) : 8;

  /* The alignment of a struct, a string, a boolean and a revision: 8 bytes at most each. */
  return 8 + 4 + strlen(key) + 1 + 8 + 4 + value_bytes + 8 + 8;
}

int kv_bus_append_change(sd_bus_message *m, const char *key, GVariant *value, guint64 revision)
{
  int deleted = value == NULL;
  int r = sd_bus_message_open_container(m, 'r', "sbvt");

  if (r >= 0)
    r = sd_bus_message_append(m, "sb", key, deleted);
  /* A deletion carries an empty string where the value would be. */
  if (r >= 0)
    r = deleted ? sd_bus_message_append(m, "v", "s", "")
                : kv_variant_bridge_append_variant(m, value);
  if (r >= 0)
    r = sd_bus_message_append_basic(m, 't', &revision);
  if (r >= 0)
    r = sd_bus_message_close_container(m);
  return r;
}

int kv_bus_changes_signal_open(sd_bus *bus, const char *peer, sd_bus_message **ret)
{
  int r = sd_bus_message_new_signal(bus, ret, KV_OBJECT_PATH, KV_INTERFACE, "Changes");

  if (r >= 0)
    r = sd_bus_message_set_destination(*ret, peer);
  if (r >= 0)
    r = sd_bus_message_open_container(*ret, 'a', "(sbvt)");
  return r;
}

int kv_bus_changes_signal_close(sd_bus_message *m, GPtrArray *out)
{
  int r = sd_bus_message_close_container(m);

  if (r < 0)
    return r;
  g_ptr_array_add(out, sd_bus_message_ref(m));
  return 0;
}
