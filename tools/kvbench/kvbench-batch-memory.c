/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "kvbench-batch-memory.h"

#include "kv-config.h"
#include "kv-sd-bus-cleanup.h"
#include "kvbench-attacks.h"

#include <string.h>

static int set_many(sd_bus *bus, const char *prefix, guint first, guint n, const char *value)
{
  g_autoptr(sd_bus_message) call = NULL;
  g_autoptr(sd_bus_message) reply = NULL;
  int r = sd_bus_message_new_method_call(bus, &call, KV_BUS_NAME, KV_OBJECT_PATH, KV_INTERFACE,
                                         "SetMany");

  if (r < 0 || (r = sd_bus_message_open_container(call, 'a', "{sv}")) < 0)
    return r;
  for (guint i = first; i < first + n; i++) {
    char key[64];
    g_snprintf(key, sizeof key, "%s%06u", prefix, i);
    if ((r = sd_bus_message_append(call, "{sv}", key, "s", value)) < 0)
      return r;
  }
  if ((r = sd_bus_message_close_container(call)) < 0)
    return r;
  return sd_bus_call(bus, call, 0, NULL, &reply);
}

/* Stores the values under @prefix in batches of @batch; the RSS growth in @out_kib. */
static int store(sd_bus *bus, pid_t pid, const char *prefix, guint batch, const char *value,
                 long *out_kib)
{
  long before = kvbench_rss_kib(pid);
  int r = 0;

  for (guint i = 0; r >= 0 && i < KVBENCH_BATCH_MEMORY_KEYS; i += batch)
    r = set_many(bus, prefix, i, MIN(batch, KVBENCH_BATCH_MEMORY_KEYS - i), value);
  /* Answered after whatever kvstored does once the last batch's reply is out. */
  if (r >= 0)
    r = sd_bus_call_method(bus, KV_BUS_NAME, KV_OBJECT_PATH, "org.freedesktop.DBus.Peer", "Ping",
                           NULL, NULL, NULL);
  *out_kib = kvbench_rss_kib(pid) - before;
  return r;
}

static int delete_prefix(sd_bus *bus, const char *prefix)
{
  return sd_bus_call_method(bus, KV_BUS_NAME, KV_OBJECT_PATH, KV_INTERFACE, "DeletePrefix", NULL,
                            NULL, "s", prefix);
}

int kvbench_batch_memory(sd_bus *bus, pid_t pid, long *out_small, long *out_large)
{
  g_autofree char *value = g_strnfill(KVBENCH_BATCH_MEMORY_BYTES - 1, 'v');
  int r;

  /* The small batches first: what they leave is all live data. */
  if ((r = store(bus, pid, "kvbench-small/", KVBENCH_BATCH_MEMORY_SMALL, value, out_small)) < 0 ||
      (r = store(bus, pid, "kvbench-large/", KVBENCH_BATCH_MEMORY_LARGE, value, out_large)) < 0)
    return r;
  if ((r = delete_prefix(bus, "kvbench-small/")) < 0)
    return r;
  return delete_prefix(bus, "kvbench-large/");
}
