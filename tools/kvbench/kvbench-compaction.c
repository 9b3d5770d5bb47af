/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "kvbench-compaction.h"

#include "kv-config.h"
#include "kv-sd-bus-cleanup.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

typedef struct {
  double p50_us, p99_us, max_us;
  guint n;
} Latencies;

static int compare_gint64(gconstpointer a, gconstpointer b)
{
  gint64 x = *(const gint64 *)a, y = *(const gint64 *)b;

  return (x > y) - (x < y);
}

/* Gets of random stored keys, one at a time, for @seconds. */
static int reads(sd_bus *bus, guint keys, double seconds, GRand *rand, Latencies *out)
{
  g_autoptr(GArray) took = g_array_new(FALSE, FALSE, sizeof(gint64));
  gint64 end = g_get_monotonic_time() + (gint64)(seconds * G_USEC_PER_SEC);

  while (g_get_monotonic_time() < end) {
    char key[32];
    g_snprintf(key, sizeof key, "key:%012u", g_rand_int_range(rand, 0, (gint32)keys));
    gint64 start = g_get_monotonic_time();
    int r = sd_bus_call_method(bus, KV_BUS_NAME, KV_OBJECT_PATH, KV_INTERFACE, "Get", NULL, NULL,
                               "s", key);
    if (r < 0)
      return r;
    gint64 us = g_get_monotonic_time() - start;
    g_array_append_val(took, us);
  }
  g_array_sort(took, compare_gint64);
  out->n = took->len;
  out->p50_us = (double)g_array_index(took, gint64, took->len / 2);
  out->p99_us = (double)g_array_index(took, gint64, MIN(took->len - 1, took->len * 99 / 100));
  out->max_us = (double)g_array_index(took, gint64, took->len - 1);
  return 0;
}

int kvbench_compaction(sd_bus *bus, guint keys, double seconds)
{
  g_autoptr(GRand) rand = g_rand_new_with_seed(27);
  Latencies alone, during;

  if (keys == 0)
    return -EINVAL;
  int r = reads(bus, keys, seconds, rand, &alone);
  if (r < 0)
    return r;
  gint64 start = g_get_monotonic_time();
  r = sd_bus_call_method(bus, KV_BUS_NAME, KV_OBJECT_PATH, KV_INTERFACE, "Set", NULL, NULL, "sv",
                         "kvbench-compaction/trigger", "s", "now");
  if (r < 0)
    return r;
  printf("The Set that starts the compaction: %.1f ms\n", (g_get_monotonic_time() - start) / 1e3);
  r = reads(bus, keys, seconds, rand, &during);
  if (r < 0)
    return r;
  printf("One client's Get of %u keys, p50 / p99 / longest: alone %.0f / %.0f / %.0f us (%u "
         "calls); during the compaction %.0f / %.0f / %.0f us (%u calls); p99 %.2fx alone\n",
         keys, alone.p50_us, alone.p99_us, alone.max_us, alone.n, during.p50_us, during.p99_us,
         during.max_us, during.n, during.p99_us / alone.p99_us);
  return 0;
}
