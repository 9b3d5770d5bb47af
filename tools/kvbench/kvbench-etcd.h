/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "kvbench-floor.h"

#include <glib.h>

G_BEGIN_DECLS

/* The anchor for writes on the etcd backend: puts of @etcd_key straight to etcd's JSON
 * gateway at @url from C (libcurl, connections kept alive), for @seconds each: one at a
 * time (its rate and median latency), and @in_flight at once (its rate). FALSE with
 * @error. */
gboolean kvbench_etcd_put_rates(const char *url, const char *etcd_key, double seconds,
                                guint in_flight, double *out_sync_rate, double *out_sync_p50_us,
                                double *out_pipelined_rate, GError **error);

/* The floor for Set on etcd: a peer on the bus that answers Set after one put of @etcd_key
 * to etcd at @url and does nothing else, the least any front on the bus can take. Returns
 * 0 or a negative errno. */
int kvbench_etcd_front_start(const KvClientBus *bus, const char *url, const char *etcd_key,
                             KvbenchFloor *ret);

/* Sorts @values in rising order (for medians and spreads). */
void kvbench_sort_doubles(double *values, gsize n);

G_END_DECLS
