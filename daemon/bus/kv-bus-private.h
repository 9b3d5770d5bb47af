/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* What kv-bus.c (the vtable and the reads) and kv-bus-write.c (the writes) share. */

#include "kv-bus.h"

#include "kv-bus-commit.h"
#include "kv-bus-defaults.h"
#include "kv-bus-history.h"
#include "kv-bus-leases.h"
#include "kv-bus-properties.h"
#include "kv-bus-signals.h"

G_BEGIN_DECLS

/* The object's state: the bus, the service, and the parts the handlers use. */
struct _KvBus {
  sd_bus *bus;
  KvService *service;
  sd_bus_slot *slot;
  KvBusCommit *commit;   /* replies and signals wait here for their changes' commit */
  gsize max_reply_bytes; /* the largest array of entries a reply may carry */
  KvPeerFlow *flow;
  KvBusAccess *access; /* NULL on the session bus */
  KvBusSignals *signals;
  KvBusHistory *history; /* ChangesSince and SubscribeSince */
  KvBusProperties *properties;
  KvBusLeases *leases;     /* the lease and lock methods, expiry and departures */
  KvBusDefaults *defaults; /* the administrator's defaults and locks */
  KvBusCallers *callers;
  char *bus_name;         /* this machine's and this bus's IDs, for bound leases */
  guint writes_in_flight; /* submitted to the service, not yet done */
};

/* The handlers of the writes (kv-bus-write.c), for the vtable. */
int kv_bus_method_set(sd_bus_message *m, void *userdata, sd_bus_error *ret_error);
int kv_bus_method_set_leased(sd_bus_message *m, void *userdata, sd_bus_error *ret_error);
int kv_bus_method_set_with_ttl(sd_bus_message *m, void *userdata, sd_bus_error *ret_error);
int kv_bus_method_set_many(sd_bus_message *m, void *userdata, sd_bus_error *ret_error);
int kv_bus_method_set_many_leased(sd_bus_message *m, void *userdata, sd_bus_error *ret_error);
int kv_bus_method_compare_and_set(sd_bus_message *m, void *userdata, sd_bus_error *ret_error);
int kv_bus_method_compare_and_set_leased(sd_bus_message *m, void *userdata,
                                         sd_bus_error *ret_error);
int kv_bus_method_compare_and_delete(sd_bus_message *m, void *userdata, sd_bus_error *ret_error);
int kv_bus_method_delete(sd_bus_message *m, void *userdata, sd_bus_error *ret_error);
int kv_bus_method_delete_many(sd_bus_message *m, void *userdata, sd_bus_error *ret_error);
int kv_bus_method_increment(sd_bus_message *m, void *userdata, sd_bus_error *ret_error);

/* DeleteMany and DeletePrefix (of @prefix, else NULL): deletes @keys (taken) as one
 * change. */
int kv_bus_delete_keys(KvBus *self, sd_bus_message *m, char **keys, const char *prefix,
                       sd_bus_error *ret_error);

G_END_DECLS
