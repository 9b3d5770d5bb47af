/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "kv-bus-page.h"

#include "kv-sd-bus-cleanup.h"
#include "kv-variant-bridge.h"

static int append_entries(sd_bus_message *reply, const KvPage *page)
{
  int r = sd_bus_message_open_container(reply, 'a', page->with_values ? "{sv}" : "s");

  for (guint i = 0; r >= 0 && i < page->keys->len; i++) {
    const char *key = g_ptr_array_index(page->keys, i);
    if (!page->with_values) {
      r = sd_bus_message_append_basic(reply, 's', key);
      continue;
    }
    if ((r = sd_bus_message_open_container(reply, 'e', "sv")) < 0 ||
        (r = sd_bus_message_append_basic(reply, 's', key)) < 0 ||
        (r = kv_variant_bridge_append_variant(reply, g_ptr_array_index(page->values, i))) < 0)
      break;
    r = sd_bus_message_close_container(reply);
  }
  if (r < 0)
    return r;
  return sd_bus_message_close_container(reply);
}

int kv_bus_reply_page(sd_bus_message *call, const KvPage *page, gboolean paged)
{
  g_autoptr(sd_bus_message) reply = NULL;
  int r = sd_bus_message_new_method_return(call, &reply);

  if (r >= 0)
    r = append_entries(reply, page);
  if (r >= 0 && paged)
    r = sd_bus_message_append_basic(reply, 's', page->next != NULL ? page->next : "");
  if (r < 0)
    return r;
  return sd_bus_send(NULL, reply, NULL);
}
