/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "kv-client-bus.h"

#include "kv-sd-bus-cleanup.h"

int kv_client_bus_connect(const KvClientBus *options, sd_bus **ret)
{
  if (options->address != NULL) {
    g_autoptr(sd_bus) bus = NULL;
    int r = sd_bus_new(&bus);
    if (r >= 0)
      r = sd_bus_set_address(bus, options->address);
    if (r >= 0)
      r = sd_bus_set_bus_client(bus, 1);
    if (r >= 0)
      r = sd_bus_start(bus);
    if (r < 0)
      return r;
    *ret = g_steal_pointer(&bus);
    return 0;
  }
  if (options->system)
    return sd_bus_open_system(ret);
  if (options->user || g_getenv("DBUS_SESSION_BUS_ADDRESS") != NULL)
    return sd_bus_open_user(ret);
  return sd_bus_open_system(ret);
}
