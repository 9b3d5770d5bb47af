/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "kvbench-attacks.h"

#include "kv-config.h"
#include "kv-sd-bus-cleanup.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MANY_KEYS   100000
#define BATCH_KEYS  5000 /* the most one call takes */
#define BIG_VALUES  30
#define BIG_BYTES   1000000
#define UNREAD_GETS 300

long kvbench_rss_kib(pid_t pid)
{
  g_autofree char *path = g_strdup_printf("/proc/%d/status", (int)pid);
  g_autofree char *status = NULL;
  const char *line;

  if (!g_file_get_contents(path, &status, NULL, NULL) || (line = strstr(status, "VmRSS:")) == NULL)
    return -1;
  return strtol(line + strlen("VmRSS:"), NULL, 10);
}

/* A second client that pings kvstored all the time, remembering the longest wait. */
typedef struct {
  const KvClientBus *bus_options;
  GMutex lock;
  gint64 longest_us;
  gboolean stop;
  int error;
} Probe;

static gpointer probe_run(gpointer data)
{
  Probe *probe = data;
  g_autoptr(sd_bus) bus = NULL;
  int r = kv_client_bus_connect(probe->bus_options, &bus);

  while (r >= 0 && !g_atomic_int_get(&probe->stop)) {
    gint64 start = g_get_monotonic_time();
    r = sd_bus_call_method(bus, KV_BUS_NAME, KV_OBJECT_PATH, "org.freedesktop.DBus.Peer", "Ping",
                           NULL, NULL, NULL);
    gint64 took = g_get_monotonic_time() - start;
    g_mutex_lock(&probe->lock);
    probe->longest_us = MAX(probe->longest_us, took);
    g_mutex_unlock(&probe->lock);
    g_usleep(500);
  }
  probe->error = MIN(r, 0);
  return NULL;
}

static gint64 probe_take_longest(Probe *probe)
{
  g_mutex_lock(&probe->lock);
  gint64 longest = probe->longest_us;
  probe->longest_us = 0;
  g_mutex_unlock(&probe->lock);
  return longest;
}

typedef int (*AttackFunc)(sd_bus *bus, const KvClientBus *bus_options, GString *outcome);

/* Calls @member with the arguments already in @m and says how it ended in @outcome. */
static int call(sd_bus *bus, sd_bus_message *m, GString *outcome)
{
  g_auto(sd_bus_error) error = SD_BUS_ERROR_NULL;
  g_autoptr(sd_bus_message) reply = NULL;
  int r = sd_bus_call(bus, m, 120 * G_USEC_PER_SEC, &error, &reply);

  if (r >= 0)
    g_string_append(outcome, "answered");
  else if (sd_bus_error_is_set(&error))
    g_string_append(outcome, strrchr(error.name, '.') + 1);
  else
    return r;
  return 0;
}

static int new_call(sd_bus *bus, const char *member, sd_bus_message **ret)
{
  return sd_bus_message_new_method_call(bus, ret, KV_BUS_NAME, KV_OBJECT_PATH, KV_INTERFACE,
                                        member);
}

/* many/000000, many/000001, ... */
static char **numbered_keys(guint n)
{
  char **keys = g_new(char *, n + 1);

  for (guint i = 0; i < n; i++)
    keys[i] = g_strdup_printf("many/%06u", i);
  keys[n] = NULL;
  return keys;
}

/* SetMany of @n keys from many/@first on. */
static int set_many(sd_bus *bus, guint first, guint n, GString *outcome)
{
  g_auto(GStrv) keys = numbered_keys(first + n);
  g_autoptr(sd_bus_message) m = NULL;
  int r = new_call(bus, "SetMany", &m);

  if (r >= 0)
    r = sd_bus_message_open_container(m, 'a', "{sv}");
  for (guint i = first; r >= 0 && i < first + n; i++)
    r = sd_bus_message_append(m, "{sv}", keys[i], "u", i);
  if (r >= 0)
    r = sd_bus_message_close_container(m);
  return r < 0 ? r : call(bus, m, outcome);
}

static int set_many_batches(sd_bus *bus, const KvClientBus *bus_options, GString *outcome)
{
  int r = 0;

  for (guint first = 0; r >= 0 && first < MANY_KEYS; first += BATCH_KEYS) {
    g_string_truncate(outcome, 0);
    r = set_many(bus, first, BATCH_KEYS, outcome);
  }
  return r;
}

static int set_many_too_many(sd_bus *bus, const KvClientBus *bus_options, GString *outcome)
{
  return set_many(bus, 0, MANY_KEYS, outcome);
}

static int get_many(sd_bus *bus, guint n, GString *outcome)
{
  g_auto(GStrv) keys = numbered_keys(n);
  g_autoptr(sd_bus_message) m = NULL;
  int r = new_call(bus, "GetMany", &m);

  if (r >= 0)
    r = sd_bus_message_append_strv(m, keys);
  return r < 0 ? r : call(bus, m, outcome);
}

static int get_many_batch(sd_bus *bus, const KvClientBus *bus_options, GString *outcome)
{
  return get_many(bus, BATCH_KEYS, outcome);
}

static int get_many_1m(sd_bus *bus, const KvClientBus *bus_options, GString *outcome)
{
  return get_many(bus, 10 * MANY_KEYS, outcome);
}

static int page(sd_bus *bus, const char *member, const char *prefix, GString *outcome)
{
  g_autoptr(sd_bus_message) m = NULL;
  int r = new_call(bus, member, &m);

  if (r >= 0)
    r = sd_bus_message_append(m, "ssu", prefix, "", 0);
  return r < 0 ? r : call(bus, m, outcome);
}

static int keys_page(sd_bus *bus, const KvClientBus *bus_options, GString *outcome)
{
  return page(bus, "KeysPage", "", outcome);
}

static int get_all_page(sd_bus *bus, const KvClientBus *bus_options, GString *outcome)
{
  return page(bus, "GetAllPage", "many/", outcome);
}

static int keys_all(sd_bus *bus, const KvClientBus *bus_options, GString *outcome)
{
  g_autoptr(sd_bus_message) m = NULL;
  int r = new_call(bus, "Keys", &m);

  if (r >= 0)
    r = sd_bus_message_append(m, "s", "");
  return r < 0 ? r : call(bus, m, outcome);
}

static int set_big_values(sd_bus *bus, const KvClientBus *bus_options, GString *outcome)
{
  g_autofree guint8 *bytes = g_malloc0(BIG_BYTES);
  int r = 0;

  for (guint i = 0; r >= 0 && i < BIG_VALUES; i++) {
    g_autofree char *key = g_strdup_printf("big/%02u", i);
    g_autoptr(sd_bus_message) m = NULL;
    g_string_truncate(outcome, 0);
    if ((r = new_call(bus, "Set", &m)) >= 0 && (r = sd_bus_message_append(m, "s", key)) >= 0 &&
        (r = sd_bus_message_open_container(m, 'v', "ay")) >= 0 &&
        (r = sd_bus_message_append_array(m, 'y', bytes, BIG_BYTES)) >= 0 &&
        (r = sd_bus_message_close_container(m)) >= 0)
      r = call(bus, m, outcome);
  }
  return r;
}

static int get_all_page_big(sd_bus *bus, const KvClientBus *bus_options, GString *outcome)
{
  return page(bus, "GetAllPage", "big/", outcome);
}

static int set_28mb(sd_bus *bus, const KvClientBus *bus_options, GString *outcome)
{
  enum { BYTES = 28 * 1000 * 1000 };
  g_autofree guint8 *bytes = g_malloc0(BYTES);
  g_autoptr(sd_bus_message) m = NULL;
  int r = new_call(bus, "Set", &m);

  if (r >= 0 && (r = sd_bus_message_append(m, "s", "huge")) >= 0 &&
      (r = sd_bus_message_open_container(m, 'v', "ay")) >= 0 &&
      (r = sd_bus_message_append_array(m, 'y', bytes, BYTES)) >= 0)
    r = sd_bus_message_close_container(m);
  return r < 0 ? r : call(bus, m, outcome);
}

/* Another connection sends Gets of a 1 MB value and reads nothing for two seconds. */
static int unread_gets(sd_bus *bus, const KvClientBus *bus_options, GString *outcome)
{
  g_autoptr(sd_bus) attacker = NULL;
  int r = kv_client_bus_connect(bus_options, &attacker);

  for (guint i = 0; r >= 0 && i < UNREAD_GETS; i++)
    r = sd_bus_call_method_async(attacker, NULL, KV_BUS_NAME, KV_OBJECT_PATH, KV_INTERFACE, "Get",
                                 NULL, NULL, "s", "big/00");
  if (r >= 0)
    r = sd_bus_flush(attacker);
  if (r < 0)
    return r;
  g_usleep(2 * G_USEC_PER_SEC);
  g_string_append_printf(outcome, "%u sent, none read", UNREAD_GETS);
  return 0;
}

static const struct {
  const char *name;
  AttackFunc func;
} attacks[] = {
    {"20 SetMany of 5,000 keys", set_many_batches},
    {"SetMany of 100,000 keys", set_many_too_many},
    {"GetMany of 5,000 keys", get_many_batch},
    {"GetMany of 1,000,000 keys (16 MB)", get_many_1m},
    {"KeysPage of 100,000 keys", keys_page},
    {"GetAllPage of 100,000 keys", get_all_page},
    {"30 Sets of 1 MB", set_big_values},
    {"Keys of 100,030 keys", keys_all},
    {"GetAllPage of 30 MB of values", get_all_page_big},
    {"Set of 28 MB", set_28mb},
    {"Gets of 1 MB, not read", unread_gets},
};

int kvbench_attacks(sd_bus *bus, const KvClientBus *bus_options, pid_t pid)
{
  Probe probe = {.bus_options = bus_options};
  int r = 0;

  g_mutex_init(&probe.lock);
  GThread *thread = g_thread_new("probe", probe_run, &probe);
  g_usleep(100 * 1000);
  printf("Attacks, one at a time, while a second client pings kvstored without pause.\n"
         "'longest ping' is the longest wait of that client during the attack: how long\n"
         "kvstored kept everyone else waiting.\n\n");
  printf("| attack | outcome | call ms | longest ping ms | kvstored RSS MiB |\n"
         "|---|---|---|---|---|\n");
  for (gsize i = 0; r >= 0 && i < G_N_ELEMENTS(attacks); i++) {
    g_autoptr(GString) outcome = g_string_new(NULL);
    probe_take_longest(&probe);
    gint64 start = g_get_monotonic_time();
    r = attacks[i].func(bus, bus_options, outcome);
    gint64 took = g_get_monotonic_time() - start;
    /* The ping in flight when the attack ended is part of it. */
    g_usleep(50 * 1000);
    gint64 longest = probe_take_longest(&probe);
    if (r >= 0)
      printf("| %s | %s | %.1f | %.1f | %.1f |\n", attacks[i].name, outcome->str, took / 1000.0,
             longest / 1000.0, kvbench_rss_kib(pid) / 1024.0);
    fflush(stdout);
  }
  g_atomic_int_set(&probe.stop, TRUE);
  g_thread_join(thread);
  g_mutex_clear(&probe.lock);
  return r < 0 ? r : probe.error;
}
