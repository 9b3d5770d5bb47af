/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Redis's rates in the same run, the anchor of batches: a private redis-server on a free
 * loopback port (no persistence), then redis-benchmark with one connection and 64
 * pipelined commands, 16-byte values. FALSE when Redis is not installed (@error says so)
 * or did not run. */
gboolean kvbench_redis_rates(double *out_set_rate, double *out_get_rate, GError **error);

G_END_DECLS
