/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "kv-bus-access.h"
#include "kv-bus.h"

#include <systemd/sd-bus.h>

G_BEGIN_DECLS

/* The administrator's defaults and locks (kv-defaults.h) on the bus: GetDefaults,
 * GetOrigin and the DefaultsChanged signal, in a table beside kv-bus.c's on the same
 * interface; the locks' say in writes and in CheckAccess; reading the files again. */
typedef struct _KvBusDefaults KvBusDefaults;

int kv_bus_defaults_new(KvBus *front, sd_bus *bus, KvBusDefaults **ret);
void kv_bus_defaults_free(KvBusDefaults *self);

/* 0 when no lock stops the sender of @m from making @writes (@n of them; or deleting under
 * @prefix, when not NULL); else a negative errno with AccessDenied naming the key and the
 * file of its lock. Root may write locked keys on the system bus; on a session bus, the
 * user's own store, nobody may: the administrator changes the file instead. */
int kv_bus_defaults_check_writes(KvBusDefaults *self, sd_bus_message *m, const KvBusWrite *writes,
                                 gsize n, const char *prefix, sd_bus_error *ret_error);

/* Whether a lock stops the sender of @m from writing @key: its file, or NULL. */
const char *kv_bus_defaults_lock_for(KvBusDefaults *self, sd_bus_message *m, const char *key);

/* Reads the defaults files again; when they changed, the new ones are used and
 * DefaultsChanged is emitted. On failure the old ones stay. */
gboolean kv_bus_defaults_reload(KvBusDefaults *self, GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(KvBusDefaults, kv_bus_defaults_free)

G_END_DECLS
