/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "kv-page.h"

#include <systemd/sd-bus.h>

G_BEGIN_DECLS

/* Replies to @call with @page: an 'as' of its keys, or an 'a{sv}' when it has values;
 * followed by the key to resume after ("" when none) when @paged. The page was sized for
 * the bus, so the reply fits. Returns what sd_bus_send() does. */
int kv_bus_reply_page(sd_bus_message *call, const KvPage *page, gboolean paged);

G_END_DECLS
