/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "kv-bus-properties.h"

#include "kv-config.h"
#include "kv-log.h"

#include <string.h>

struct _KvBusProperties {
  sd_bus *bus;
  KvBusCallers *callers;
  sd_bus_slot *filter;
  GHashTable *cachers; /* unique names of the peers that asked GetAll */
  guint64 announced;   /* the revision last announced */
};

/* Every incoming message passes here before dispatch: a pointer comparison or two for
 * all but GetAll. */
static int on_message(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
  KvBusProperties *self = userdata;
  const char *sender = sd_bus_message_get_sender(m);
  const char *path = sd_bus_message_get_path(m);

  if (sender != NULL && path != NULL && strcmp(path, KV_OBJECT_PATH) == 0 &&
      sd_bus_message_is_method_call(m, "org.freedesktop.DBus.Properties", "GetAll"))
    g_hash_table_add(self->cachers, g_strdup(sender));
  return 0;
}

static void on_peer_left(const char *peer, gpointer user_data)
{
  KvBusProperties *self = user_data;

  g_hash_table_remove(self->cachers, peer);
}

int kv_bus_properties_new(sd_bus *bus, KvBusCallers *callers, KvBusProperties **ret)
{
  g_autoptr(KvBusProperties) self = g_new0(KvBusProperties, 1);

  self->bus = bus;
  self->cachers = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
  int r = sd_bus_add_filter(bus, &self->filter, on_message, self);
  if (r < 0)
    return r;
  self->callers = callers;
  kv_bus_callers_add_left_func(callers, on_peer_left, self);
  *ret = g_steal_pointer(&self);
  return 0;
}

void kv_bus_properties_announce(KvBusProperties *self, guint64 revision)
{
  if (revision == self->announced || g_hash_table_size(self->cachers) == 0)
    return;
  int r = sd_bus_emit_properties_changed(self->bus, KV_OBJECT_PATH, KV_INTERFACE, "Count",
                                         "Revision", NULL);
  if (r < 0)
    kv_log(LOG_WARNING, "Cannot announce Count and Revision: %s", g_strerror(-r));
  self->announced = revision;
}

void kv_bus_properties_free(KvBusProperties *self)
{
  if (self == NULL)
    return;
  if (self->callers != NULL)
    kv_bus_callers_remove_left_func(self->callers, on_peer_left, self);
  sd_bus_slot_unref(self->filter);
  g_hash_table_unref(self->cachers);
  g_free(self);
}
