/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "kvctl-watch.h"

#include "kv-config.h"
#include "kv-sd-bus-cleanup.h"
#include "kv-variant-bridge.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>

typedef struct {
  const char *prefix;
  int error;
} Watch;

static int on_change_signal(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
  Watch *watch = userdata;
  gboolean deleted = sd_bus_message_is_signal(m, KV_INTERFACE, "Deleted");
  g_autoptr(GVariant) value = NULL;
  const char *key;
  uint64_t revision;

  int r = sd_bus_message_read_basic(m, 's', &key);
  if (r >= 0 && !deleted)
    r = kv_variant_bridge_read_variant(m, &value);
  if (r >= 0)
    r = sd_bus_message_read_basic(m, 't', &revision);
  if (r < 0) {
    watch->error = -EBADMSG;
    return sd_event_exit(sd_bus_get_event(sd_bus_message_get_bus(m)), 0);
  }
  /* arg0path did the filtering where the prefix ends in '/'; here for the rest. */
  if (!g_str_has_prefix(key, watch->prefix))
    return 0;

  kvctl_print_change(revision, key, value);
  return 0;
}

void kvctl_print_change(guint64 revision, const char *key, GVariant *value)
{
  g_autofree char *text = value != NULL ? g_variant_print(value, TRUE) : g_strdup("deleted");

  printf("%" PRIu64 "\t%s\t%s\n", revision, key, text);
  fflush(stdout);
}

int kvctl_print_change_struct(sd_bus_message *m)
{
  g_autoptr(GVariant) value = NULL;
  const char *key;
  int deleted;
  uint64_t revision;
  int r = sd_bus_message_enter_container(m, 'r', "sbvt");

  if (r >= 0)
    r = sd_bus_message_read(m, "sb", &key, &deleted);
  if (r >= 0)
    r = kv_variant_bridge_read_variant(m, &value);
  if (r >= 0)
    r = sd_bus_message_read_basic(m, 't', &revision);
  if (r >= 0)
    r = sd_bus_message_exit_container(m);
  if (r < 0)
    return -EBADMSG;
  kvctl_print_change(revision, key, deleted ? NULL : value);
  return 0;
}

int kvctl_print_changes(sd_bus_message *m)
{
  int r = sd_bus_message_enter_container(m, 'a', "(sbvt)");

  while (r >= 0 && (r = sd_bus_message_at_end(m, FALSE)) == 0)
    r = kvctl_print_change_struct(m);
  if (r >= 0)
    r = sd_bus_message_exit_container(m);
  return r < 0 ? -EBADMSG : 0;
}

/* A Changes signal, sent to this connection alone (SubscribeSince). */
static int on_changes_signal(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
  Watch *watch = userdata;
  int r = kvctl_print_changes(m);

  if (r < 0) {
    watch->error = -EBADMSG;
    return sd_event_exit(sd_bus_get_event(sd_bus_message_get_bus(m)), 0);
  }
  return 0;
}

/* @value quoted for a match rule: in apostrophes, each apostrophe in it as '\''. */
static char *quote_match_value(const char *value)
{
  g_auto(GStrv) parts = g_strsplit(value, "'", -1);
  g_autofree char *joined = g_strjoinv("'\\''", parts);

  return g_strconcat("'", joined, "'", NULL);
}

/* The match rule for the broadcast signals of @prefix; unicast ones need none. */
static char *match_rule(const char *prefix)
{
  /* Let the bus filter when it can: arg0path matches whole '/'-separated components. */
  if (g_str_has_suffix(prefix, "/")) {
    g_autofree char *quoted = quote_match_value(prefix);
    return g_strdup_printf("type='signal',sender='%s',path='%s',interface='%s',arg0path=%s",
                           KV_BUS_NAME, KV_OBJECT_PATH, KV_INTERFACE, quoted);
  }
  return g_strdup_printf("type='signal',sender='%s',path='%s',interface='%s'", KV_BUS_NAME,
                         KV_OBJECT_PATH, KV_INTERFACE);
}

/* Subscribes with SubscribeSince: the changes come in Changes signals to this
 * connection, the ones after @since first. */
static int subscribe_since(sd_bus *bus, Watch *watch, guint64 since, sd_bus_error *error)
{
  g_autoptr(sd_bus_message) reply = NULL;
  g_autofree char *rule =
      g_strdup_printf("type='signal',sender='%s',path='%s',interface='%s',member='Changes'",
                      KV_BUS_NAME, KV_OBJECT_PATH, KV_INTERFACE);
  uint64_t revision;
  int r = sd_bus_add_match(bus, NULL, rule, on_changes_signal, watch);

  if (r >= 0)
    r = sd_bus_call_method(bus, KV_BUS_NAME, KV_OBJECT_PATH, KV_INTERFACE, "SubscribeSince", error,
                           &reply, "st", watch->prefix, since);
  if (r >= 0)
    r = sd_bus_message_read_basic(reply, 't', &revision);
  if (r < 0)
    return r;
  fprintf(stderr,
          "kvctl: watching changes of keys starting with '%s' after revision %" PRIu64
          " (those up to %" PRIu64 " come first)\n",
          watch->prefix, since, revision);
  return 0;
}

/* Prints what comes until SIGINT or SIGTERM. */
static int run_watch(sd_event *event, Watch *watch)
{
  int r = sd_event_loop(event);

  return watch->error < 0 ? watch->error : r;
}

int kvctl_watch(sd_bus *bus, const char *prefix, gint64 since, sd_bus_error *error)
{
  g_autoptr(sd_event) event = NULL;
  g_autofree char *rule = match_rule(prefix);
  Watch watch = {prefix, 0};
  sigset_t mask;

  sigemptyset(&mask);
  sigaddset(&mask, SIGINT);
  sigaddset(&mask, SIGTERM);
  sigprocmask(SIG_BLOCK, &mask, NULL);
  int r = sd_event_default(&event);
  if (r >= 0)
    r = sd_event_add_signal(event, NULL, SIGINT, NULL, NULL);
  if (r >= 0)
    r = sd_event_add_signal(event, NULL, SIGTERM, NULL, NULL);
  if (r >= 0)
    r = sd_bus_attach_event(bus, event, SD_EVENT_PRIORITY_NORMAL);
  if (r >= 0 && since >= 0) {
    r = subscribe_since(bus, &watch, (guint64)since, error);
    return r < 0 ? r : run_watch(event, &watch);
  }
  if (r >= 0)
    r = sd_bus_add_match(bus, NULL, rule, on_change_signal, &watch);
  if (r < 0)
    return r;
  /* After the match, so that no change between the two is missed. */
  r = sd_bus_call_method(bus, KV_BUS_NAME, KV_OBJECT_PATH, KV_INTERFACE, "Subscribe", error, NULL,
                         "s", prefix);
  if (r < 0)
    return r;
  /* On stderr, so that stdout holds only changes; a script can wait for this line. */
  fprintf(stderr, "kvctl: watching changes of keys starting with '%s'\n", prefix);
  return run_watch(event, &watch);
}
