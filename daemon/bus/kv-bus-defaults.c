/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "kv-bus-defaults.h"

#include "kv-bus-access.h"
#include "kv-bus-error.h"
#include "kv-bus-private.h"
#include "kv-config.h"
#include "kv-log.h"
#include "kv-peer-flow.h"
#include "kv-sd-bus-cleanup.h"
#include "kv-variant-bridge.h"
#include "kv-wire.h"

struct _KvBusDefaults {
  KvBus *front;
  sd_bus *bus;
  sd_bus_slot *slot;
};

static KvDefaults *defaults_of(KvBusDefaults *self)
{
  return kv_service_get_defaults(self->front->service);
}

/* Whether the sender of @m is exempt from locks: root, on the system bus. */
static gboolean exempt(KvBusDefaults *self, sd_bus_message *m)
{
  const KvCaller *caller;
  const char *sender = sd_bus_message_get_sender(m);

  return self->front->access != NULL && sender != NULL &&
         kv_bus_callers_lookup(self->front->callers, sender, &caller, NULL) >= 0 &&
         caller->uid == 0;
}

const char *kv_bus_defaults_lock_for(KvBusDefaults *self, sd_bus_message *m, const char *key)
{
  const char *file = kv_defaults_lock_of(defaults_of(self), key);

  return file != NULL && !exempt(self, m) ? file : NULL;
}

static int refuse(const char *key, const char *file, sd_bus_error *ret_error)
{
  return sd_bus_error_setf(ret_error, SD_BUS_ERROR_ACCESS_DENIED,
                           "Access denied: '%s' is locked by the administrator (%s)", key, file);
}

int kv_bus_defaults_check_writes(KvBusDefaults *self, sd_bus_message *m, const KvBusWrite *writes,
                                 gsize n, const char *prefix, sd_bus_error *ret_error)
{
  KvDefaults *defaults = defaults_of(self);

  if (kv_defaults_n_locks(defaults) == 0 || exempt(self, m))
    return 0;
  const char *file = prefix != NULL ? kv_defaults_lock_within(defaults, prefix) : NULL;
  if (file != NULL)
    return refuse(prefix, file, ret_error);
  for (gsize i = 0; i < n; i++)
    if ((file = kv_defaults_lock_of(defaults, writes[i].key)) != NULL)
      return refuse(writes[i].key, file, ret_error);
  return 0;
}

gboolean kv_bus_defaults_reload(KvBusDefaults *self, GError **error)
{
  KvDefaults *old = defaults_of(self);
  g_autoptr(KvDefaults) fresh = kv_defaults_load(kv_defaults_get_dirs(old), error);

  if (fresh == NULL)
    return FALSE;
  if (kv_defaults_equal(old, fresh))
    return TRUE;
  kv_log(LOG_INFO, "The defaults changed: now %u values and %u locks", kv_defaults_n_values(fresh),
         kv_defaults_n_locks(fresh));
  kv_service_set_defaults(self->front->service, g_steal_pointer(&fresh));
  int r = sd_bus_emit_signal(self->bus, KV_OBJECT_PATH, KV_INTERFACE, "DefaultsChanged", NULL);
  if (r < 0)
    kv_log(LOG_WARNING, "Cannot emit DefaultsChanged: %s", g_strerror(-r));
  return TRUE;
}

static int method_get_defaults(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
  KvBusDefaults *self = userdata;
  const KvKeyFilter *filter = NULL;
  const char *prefix;
  int r = sd_bus_message_read(m, "s", &prefix);

  if (r >= 0)
    r = kv_bus_access_read_filter(self->front->access, m, &filter, ret_error);
  if (r < 0)
    return r;
  /* Keys the caller may not read are left out, as from a listing. */
  g_autoptr(GVariant) reply_value =
      g_variant_ref_sink(kv_defaults_list(defaults_of(self), prefix, filter));
  /* Counted against a caller that does not read its replies, as every read is. */
  kv_peer_flow_add(self->front->flow, sd_bus_message_get_sender(m), kv_wire_end(reply_value, 0));

  g_autoptr(sd_bus_message) reply = NULL;
  r = sd_bus_message_new_method_return(m, &reply);
  if (r >= 0)
    r = kv_variant_bridge_append_value(reply, reply_value);
  return r < 0 ? r : sd_bus_send(NULL, reply, NULL);
}

static int method_get_origin(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
  KvBusDefaults *self = userdata;
  g_autoptr(GError) error = NULL;
  const char *key, *file;
  int r = sd_bus_message_read(m, "s", &key);

  if (r >= 0)
    r = kv_bus_access_check_read(self->front->access, m, key, ret_error);
  if (r < 0)
    return r;
  const char *origin = kv_service_get_origin(self->front->service, key, &file, &error);
  if (origin == NULL)
    return kv_bus_error_set(ret_error, error);
  return sd_bus_reply_method_return(m, "ss", origin, file != NULL ? file : "");
}

/* Beside kv-bus.c's table, on the same interface. */
static const sd_bus_vtable defaults_vtable[] = {
    SD_BUS_VTABLE_START(0),
    SD_BUS_METHOD_WITH_ARGS("GetDefaults", SD_BUS_ARGS("s", prefix),
                            SD_BUS_RESULT("a{sv}", defaults), method_get_defaults,
                            SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD_WITH_ARGS("GetOrigin", SD_BUS_ARGS("s", key),
                            SD_BUS_RESULT("s", origin, "s", file), method_get_origin,
                            SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_SIGNAL_WITH_ARGS("DefaultsChanged", SD_BUS_NO_ARGS, 0),
    SD_BUS_VTABLE_END,
};

int kv_bus_defaults_new(KvBus *front, sd_bus *bus, KvBusDefaults **ret)
{
  g_autoptr(KvBusDefaults) self = g_new0(KvBusDefaults, 1);

  self->front = front;
  self->bus = bus;
  int r = sd_bus_add_object_vtable(bus, &self->slot, KV_OBJECT_PATH, KV_INTERFACE, defaults_vtable,
                                   self);
  if (r < 0)
    return r;
  *ret = g_steal_pointer(&self);
  return 0;
}

void kv_bus_defaults_free(KvBusDefaults *self)
{
  if (self == NULL)
    return;
  sd_bus_slot_unref(self->slot);
  g_free(self);
}
