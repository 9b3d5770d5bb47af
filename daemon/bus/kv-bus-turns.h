/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "kv-service.h"

#include <glib.h>
#include <systemd/sd-bus.h>

G_BEGIN_DECLS

/* A method's handler, run again for a read whose turn came. */
typedef int (*KvBusReadFunc)(sd_bus_message *m, void *userdata, sd_bus_error *ret_error);

/* 0 when the read @m of the @n_keys @keys (pointing into @m; NULL for a listing or
 * DeletePrefix, which reads every key) may be answered now: always, unless writes of them
 * sent before it are still out (kvstored on etcd), or reads are linearizable (the replica
 * catches up first). Else 1, for the handler to return: @func runs @m again once those
 * writes are made, and its answer or error goes out then, as a local store answers a read
 * after the writes before it. */
int kv_bus_read_turn(KvService *service, sd_bus_message *m, const char *const *keys, gsize n_keys,
                     KvBusReadFunc func, void *userdata);

G_END_DECLS
