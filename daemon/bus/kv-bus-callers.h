/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "kv-access.h"

#include <systemd/sd-bus.h>

G_BEGIN_DECLS

/* Who the peers calling kvstored are: each peer's uid and groups, asked of the bus once
 * (org.freedesktop.DBus.GetConnectionCredentials) and kept until the peer leaves the bus,
 * when the departure function is told. */
typedef struct _KvBusCallers KvBusCallers;

/* Told that @peer (a unique name) left the bus. */
typedef void (*KvBusPeerLeftFunc)(const char *peer, gpointer user_data);

/* Watches the peers of @bus (a bus connection attached to an event loop). Returns 0 or a
 * negative errno. */
int kv_bus_callers_new(sd_bus *bus, KvBusCallers **ret);

/* Adds a function told of departures, and removes it. */
void kv_bus_callers_add_left_func(KvBusCallers *self, KvBusPeerLeftFunc func, gpointer user_data);
void kv_bus_callers_remove_left_func(KvBusCallers *self, KvBusPeerLeftFunc func,
                                     gpointer user_data);

/* The credentials of @peer, valid while it stays on the bus. Returns 0, or a negative
 * errno with @ret_error set when the bus cannot tell (the peer has left, say). */
int kv_bus_callers_lookup(KvBusCallers *self, const char *peer, const KvCaller **ret,
                          sd_bus_error *ret_error);

/* The credentials of a cached @peer, or NULL when it never called or has left. */
const KvCaller *kv_bus_callers_peek(KvBusCallers *self, const char *peer);

void kv_bus_callers_free(KvBusCallers *self);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(KvBusCallers, kv_bus_callers_free)

G_END_DECLS
