/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "kvbench-resume.h"

#include "kv-config.h"
#include "kv-sd-bus-cleanup.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>

#define BATCH  1000
#define PAGE   5000
#define PREFIX "kvbench-resume/"

/* N changes to keys no one wrote before, in batches; the revision before them. */
static int write_changes(sd_bus *bus, guint n, uint64_t *out_before)
{
  int r = sd_bus_get_property_trivial(bus, KV_BUS_NAME, KV_OBJECT_PATH, KV_INTERFACE, "Revision",
                                      NULL, 't', out_before);

  for (guint done = 0; r >= 0 && done < n; done += BATCH) {
    g_autoptr(sd_bus_message) call = NULL;
    g_autoptr(sd_bus_message) answer = NULL;
    r = sd_bus_message_new_method_call(bus, &call, KV_BUS_NAME, KV_OBJECT_PATH, KV_INTERFACE,
                                       "SetMany");
    if (r >= 0)
      r = sd_bus_message_open_container(call, 'a', "{sv}");
    for (guint i = done; r >= 0 && i < MIN(n, done + BATCH); i++) {
      char key[64];
      g_snprintf(key, sizeof key, PREFIX "%" PRIu64 "-%08u", *out_before, i);
      r = sd_bus_message_append(call, "{sv}", key, "s", "0123456789abcde");
    }
    if (r >= 0)
      r = sd_bus_message_close_container(call);
    if (r >= 0)
      r = sd_bus_call(bus, call, 0, NULL, &answer);
  }
  return r;
}

/* Pages of ChangesSince from @since to the end; the changes read. */
static int pull(sd_bus *bus, uint64_t since, guint *out_read)
{
  g_autofree char *after = g_strdup("");
  int more = TRUE;
  int r = 0;

  *out_read = 0;
  while (r >= 0 && more) {
    g_autoptr(sd_bus_message) reply = NULL;
    const char *next_after;
    r = sd_bus_call_method(bus, KV_BUS_NAME, KV_OBJECT_PATH, KV_INTERFACE, "ChangesSince", NULL,
                           &reply, "stsu", PREFIX, since, after, PAGE);
    if (r >= 0)
      r = sd_bus_message_enter_container(reply, 'a', "(sbvt)");
    while (r >= 0 && (r = sd_bus_message_at_end(reply, FALSE)) == 0) {
      r = sd_bus_message_skip(reply, "(sbvt)");
      (*out_read)++;
    }
    if (r >= 0)
      r = sd_bus_message_exit_container(reply);
    if (r >= 0)
      r = sd_bus_message_read(reply, "tsb", &since, &next_after, &more);
    if (r >= 0) {
      g_free(after);
      after = g_strdup(next_after);
    }
  }
  return r;
}

/* Pages of GetAllPage over the same keys: the anchor. */
static int read_all(sd_bus *bus, guint *out_read)
{
  g_autofree char *after = g_strdup("");
  int r = 0;

  *out_read = 0;
  do {
    g_autoptr(sd_bus_message) reply = NULL;
    const char *next;
    r = sd_bus_call_method(bus, KV_BUS_NAME, KV_OBJECT_PATH, KV_INTERFACE, "GetAllPage", NULL,
                           &reply, "ssu", PREFIX, after, PAGE);
    if (r >= 0)
      r = sd_bus_message_enter_container(reply, 'a', "{sv}");
    while (r >= 0 && (r = sd_bus_message_at_end(reply, FALSE)) == 0) {
      r = sd_bus_message_skip(reply, "{sv}");
      (*out_read)++;
    }
    if (r >= 0)
      r = sd_bus_message_exit_container(reply);
    if (r >= 0)
      r = sd_bus_message_read(reply, "s", &next);
    if (r >= 0) {
      g_free(after);
      after = g_strdup(next);
    }
  } while (r >= 0 && *after != '\0');
  return r;
}

typedef struct {
  guint received;
} Push;

static int on_changes(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
  Push *push = userdata;
  int r = sd_bus_message_enter_container(m, 'a', "(sbvt)");

  while (r >= 0 && (r = sd_bus_message_at_end(m, FALSE)) == 0) {
    r = sd_bus_message_skip(m, "(sbvt)");
    push->received++;
  }
  return 0;
}

/* SubscribeSince from @since on a connection of its own, until @n changes came. */
static int push(const KvClientBus *bus_options, uint64_t since, guint n, guint *out_received)
{
  g_autoptr(sd_bus) bus = NULL;
  g_autoptr(sd_bus_message) reply = NULL;
  Push state = {0};
  int r = kv_client_bus_connect(bus_options, &bus);

  if (r >= 0)
    r = sd_bus_match_signal(bus, NULL, KV_BUS_NAME, KV_OBJECT_PATH, KV_INTERFACE, "Changes",
                            on_changes, &state);
  if (r >= 0)
    r = sd_bus_call_method(bus, KV_BUS_NAME, KV_OBJECT_PATH, KV_INTERFACE, "SubscribeSince", NULL,
                           &reply, "st", PREFIX, since);
  while (r >= 0 && state.received < n) {
    r = sd_bus_process(bus, NULL);
    if (r == 0)
      r = sd_bus_wait(bus, 10 * G_USEC_PER_SEC);
  }
  *out_received = state.received;
  return r;
}

int kvbench_resume(sd_bus *bus, const KvClientBus *bus_options, guint n)
{
  uint64_t before;
  guint pulled, pushed, entries;
  int r = write_changes(bus, n, &before);

  if (r < 0)
    return r;
  gint64 start = g_get_monotonic_time();
  if ((r = pull(bus, before, &pulled)) < 0)
    return r;
  gint64 pulled_at = g_get_monotonic_time();
  if ((r = push(bus_options, before, n, &pushed)) < 0)
    return r;
  gint64 pushed_at = g_get_monotonic_time();
  if ((r = read_all(bus, &entries)) < 0)
    return r;
  gint64 read_at = g_get_monotonic_time();
  if (pulled != n || pushed != n || entries < n) {
    fprintf(stderr, "kvbench: resumed %u and %u of %u changes, read %u entries\n", pulled, pushed,
            n, entries);
    return -EPROTO;
  }

  double pull_rate = n / ((pulled_at - start) / 1e6);
  double push_rate = n / ((pushed_at - pulled_at) / 1e6);
  double read_rate = entries / ((read_at - pushed_at) / 1e6);
  printf("Resume of %u changes (16-byte values, written in batches of %d):\n"
         "  ChangesSince, pages of %d:  %.0f changes/s (%.2fx GetAllPage)\n"
         "  SubscribeSince's signals:   %.0f changes/s (%.2fx GetAllPage)\n"
         "  GetAllPage of the same %u entries, pages of %d: %.0f entries/s\n",
         n, BATCH, PAGE, pull_rate, pull_rate / read_rate, push_rate, push_rate / read_rate,
         entries, PAGE, read_rate);
  return 0;
}
