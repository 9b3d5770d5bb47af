/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "kvctl-page.h"

#include "kv-config.h"
#include "kv-sd-bus-cleanup.h"
#include "kv-variant-bridge.h"

/* Reads one page's reply: the array for @func, then the key to resume after. */
static int take_page(sd_bus_message *reply, KvctlPageFunc func, gpointer user_data, char **next)
{
  g_autoptr(GVariant) page = NULL;
  const char *resume;
  int r = kv_variant_bridge_read_value(reply, &page);

  if (r >= 0)
    r = sd_bus_message_read_basic(reply, 's', &resume);
  if (r < 0)
    return r;
  func(page, user_data);
  g_free(*next);
  *next = g_strdup(resume);
  return 0;
}

int kvctl_page_each(sd_bus *bus, const char *member, const char *prefix, KvctlPageFunc func,
                    gpointer user_data, sd_bus_error *error)
{
  g_autofree char *next = g_strdup("");

  do {
    g_autoptr(sd_bus_message) reply = NULL;
    /* 0: as many as the daemon puts in one reply. */
    int r = sd_bus_call_method(bus, KV_BUS_NAME, KV_OBJECT_PATH, KV_INTERFACE, member, error,
                               &reply, "ssu", prefix, next, 0);
    if (r < 0 || (r = take_page(reply, func, user_data, &next)) < 0)
      return r;
    while ((r = sd_bus_process(bus, NULL)) > 0)
      ;
    if (r < 0)
      return r;
  } while (*next != '\0');
  return 0;
}
