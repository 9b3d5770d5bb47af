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

/* A new Changes signal to @peer in @ret, its a(sbvt) open. */
static int signal_open(sd_bus *bus, const char *peer, sd_bus_message **ret)
{
  int r = sd_bus_message_new_signal(bus, ret, KV_OBJECT_PATH, KV_INTERFACE, "Changes");

  if (r >= 0)
    r = sd_bus_message_set_destination(*ret, peer);
  if (r >= 0)
    r = sd_bus_message_open_container(*ret, 'a', "(sbvt)");
  return r;
}

/* Closes the open signal's a(sbvt) and moves it to the signals done. */
static int signal_close(KvBusChangesSignals *self)
{
  int r = sd_bus_message_close_container(self->open);

  if (r >= 0)
    g_ptr_array_add(self->out, sd_bus_message_ref(self->open));
  self->open = sd_bus_message_unref(self->open);
  self->bytes = 0;
  return r;
}

int kv_bus_changes_signals_add(KvBusChangesSignals *self, const char *key, GVariant *value,
                               guint64 revision, gsize bytes)
{
  int r = 0;

  if (self->open != NULL && self->bytes + bytes > self->max_bytes)
    r = signal_close(self);
  if (r >= 0 && self->open == NULL)
    r = signal_open(self->bus, self->peer, &self->open);
  if (r >= 0)
    r = kv_bus_append_change(self->open, key, value, revision);
  self->bytes += bytes;
  return r;
}

int kv_bus_changes_signals_finish(KvBusChangesSignals *self, int result)
{
  if (result >= 0 && self->open != NULL)
    result = signal_close(self);
  self->open = sd_bus_message_unref(self->open);
  return result;
}
