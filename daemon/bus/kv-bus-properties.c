/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "kv-bus-properties.h"

#include "kv-config.h"
#include "kv-log.h"
#include "kv-sd-bus-cleanup.h"

#include <string.h>

struct _KvBusProperties {
  sd_bus *bus;
  KvBusCallers *callers;
  gboolean system;
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

  if (sender == NULL || path == NULL || strcmp(path, KV_OBJECT_PATH) != 0 ||
      !sd_bus_message_is_method_call(m, "org.freedesktop.DBus.Properties", "GetAll"))
    return 0;
  if (self->system) {
    const KvCaller *caller;
    if (kv_bus_callers_lookup(self->callers, sender, &caller, NULL) < 0 || caller->uid != 0)
      return 0;
  }
  g_hash_table_add(self->cachers, g_strdup(sender));
  return 0;
}

static void on_peer_left(const char *peer, gpointer user_data)
{
  KvBusProperties *self = user_data;

  g_hash_table_remove(self->cachers, peer);
}

int kv_bus_properties_new(sd_bus *bus, KvBusCallers *callers, gboolean system,
                          KvBusProperties **ret)
{
  g_autoptr(KvBusProperties) self = g_new0(KvBusProperties, 1);

  self->bus = bus;
  self->system = system;
  self->cachers = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
  int r = sd_bus_add_filter(bus, &self->filter, on_message, self);
  if (r < 0)
    return r;
  self->callers = callers;
  kv_bus_callers_add_left_func(callers, on_peer_left, self);
  *ret = g_steal_pointer(&self);
  return 0;
}

/* PropertiesChanged with Count and Revision, as sd-bus broadcasts it, to @peer alone. */
static int announce_to(KvBusProperties *self, const char *peer, guint32 count, guint64 revision)
{
  g_autoptr(sd_bus_message) signal = NULL;
  int r = sd_bus_message_new_signal(self->bus, &signal, KV_OBJECT_PATH,
                                    "org.freedesktop.DBus.Properties", "PropertiesChanged");

  if (r >= 0)
    r = sd_bus_message_set_destination(signal, peer);
  if (r >= 0)
    r = sd_bus_message_append(signal, "sa{sv}as", KV_INTERFACE, 2, "Count", "u", count, "Revision",
                              "t", revision, 0);
  return r < 0 ? r : sd_bus_send(self->bus, signal, NULL);
}

void kv_bus_properties_announce(KvBusProperties *self, guint32 count, guint64 revision)
{
  int r = 0;

  if (revision == self->announced || g_hash_table_size(self->cachers) == 0)
    return;
  if (!self->system) {
    r = sd_bus_emit_properties_changed(self->bus, KV_OBJECT_PATH, KV_INTERFACE, "Count", "Revision",
                                       NULL);
  } else {
    GHashTableIter iter;
    gpointer peer;
    g_hash_table_iter_init(&iter, self->cachers);
    while (r >= 0 && g_hash_table_iter_next(&iter, &peer, NULL))
      r = announce_to(self, peer, count, revision);
  }
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
