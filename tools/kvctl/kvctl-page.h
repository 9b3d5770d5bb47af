/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>
#include <systemd/sd-bus.h>

G_BEGIN_DECLS

/* Takes one page: an 'as' of keys or an 'a{sv}' of entries. */
typedef void (*KvctlPageFunc)(GVariant *page, gpointer user_data);

/* Calls @member (KeysPage or GetAllPage) for @prefix page after page, handing each page
 * to @func, until the last. Between pages it answers what kvstored asked meanwhile (its
 * Peer.Ping, by which it learns that the replies were read). Returns 0, or a negative
 * errno with @error set when the call failed. */
int kvctl_page_each(sd_bus *bus, const char *member, const char *prefix, KvctlPageFunc func,
                    gpointer user_data, sd_bus_error *error);

G_END_DECLS
