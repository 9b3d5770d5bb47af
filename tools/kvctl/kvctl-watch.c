/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "kvctl-watch.h"

#include "kv-config.h"
#include "kv-sd-bus-cleanup.h"
#include "kv-variant-bridge.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>

/* Where the watch is: the last change printed (its revision, and its key within a
 * batch; "" when none was printed since @revision). A change at or before it came twice
 * (a broadcast and a resume) and is not printed again. */
typedef struct {
  const char *prefix;
  int error;
  sd_bus_error *bus_error; /* why resuming failed, for the caller */
  sd_bus_slot *broadcasts; /* the match of Changed and Deleted, until a resume */
  sd_bus_slot *changes;    /* the match of Changes (SubscribeSince) */
  guint64 revision;
  char *key;
  sd_bus *bus;
  guint resume_tries; /* refused since the subscription was lost */
} Watch;

/* A resume refused because kvstored has not yet seen the watch read what it was sent:
 * tried again every RESUME_WAIT_USEC, RESUME_TRIES times. */
#define RESUME_WAIT_USEC (200 * 1000)
#define RESUME_TRIES     50

void kvctl_print_change(guint64 revision, const char *key, GVariant *value)
{
  g_autofree char *text = value != NULL ? g_variant_print(value, TRUE) : g_strdup("deleted");

  printf("%" PRIu64 "\t%s\t%s\n", revision, key, text);
  fflush(stdout);
}

/* Prints the change unless it was printed before, and moves the watch past it. */
static void watch_print(Watch *watch, guint64 revision, const char *key, GVariant *value)
{
  if (revision < watch->revision ||
      (revision == watch->revision && g_strcmp0(key, watch->key) <= 0))
    return;
  kvctl_print_change(revision, key, value);
  watch->revision = revision;
  g_free(watch->key);
  watch->key = g_strdup(key);
}

/* Ends the watch on a signal it cannot read. */
static int unreadable(Watch *watch, sd_bus_message *m)
{
  watch->error = -EBADMSG;
  return sd_event_exit(sd_bus_get_event(sd_bus_message_get_bus(m)), 0);
}

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
  if (r < 0)
    return unreadable(watch, m);
  /* arg0path did the filtering where the prefix ends in '/'; here for the rest. */
  if (!g_str_has_prefix(key, watch->prefix))
    return 0;

  watch_print(watch, revision, key, value);
  return 0;
}

int kvctl_read_changes(sd_bus_message *m, KvctlChangeFunc func, gpointer user_data)
{
  int r = sd_bus_message_enter_container(m, 'a', "(sbvt)");

  while (r >= 0 && (r = sd_bus_message_at_end(m, FALSE)) == 0) {
    g_autoptr(GVariant) value = NULL;
    const char *key;
    int deleted;
    uint64_t revision;
    r = sd_bus_message_enter_container(m, 'r', "sbvt");
    if (r >= 0)
      r = sd_bus_message_read(m, "sb", &key, &deleted);
    if (r >= 0)
      r = kv_variant_bridge_read_variant(m, &value);
    if (r >= 0)
      r = sd_bus_message_read_basic(m, 't', &revision);
    if (r >= 0)
      r = sd_bus_message_exit_container(m);
    if (r >= 0)
      func(revision, key, deleted ? NULL : value, user_data);
  }
  if (r >= 0)
    r = sd_bus_message_exit_container(m);
  return r < 0 ? -EBADMSG : 0;
}

static void print_one(guint64 revision, const char *key, GVariant *value, gpointer user_data)
{
  kvctl_print_change(revision, key, value);
}

int kvctl_print_changes(sd_bus_message *m)
{
  return kvctl_read_changes(m, print_one, NULL);
}

static void watch_one(guint64 revision, const char *key, GVariant *value, gpointer user_data)
{
  watch_print(user_data, revision, key, value);
}

/* A Changes signal, sent to this connection alone (SubscribeSince). */
static int on_changes_signal(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
  Watch *watch = userdata;

  if (kvctl_read_changes(m, watch_one, watch) < 0)
    return unreadable(watch, m);
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

/* Subscribes with SubscribeSince: the changes after @since come first, then the live
 * ones, in Changes signals to this connection alone. */
static int subscribe_since(sd_bus *bus, Watch *watch, guint64 since, sd_bus_error *error,
                           uint64_t *out_reached)
{
  g_autoptr(sd_bus_message) reply = NULL;
  g_autofree char *rule =
      g_strdup_printf("type='signal',sender='%s',path='%s',interface='%s',member='Changes'",
                      KV_BUS_NAME, KV_OBJECT_PATH, KV_INTERFACE);
  int r = watch->changes != NULL
              ? 0
              : sd_bus_add_match(bus, &watch->changes, rule, on_changes_signal, watch);

  if (r >= 0)
    r = sd_bus_call_method(bus, KV_BUS_NAME, KV_OBJECT_PATH, KV_INTERFACE, "SubscribeSince", error,
                           &reply, "st", watch->prefix, since);
  if (r >= 0)
    r = sd_bus_message_read_basic(reply, 't', out_reached);
  return r;
}

static int resume(Watch *watch);

static int on_resume_timer(sd_event_source *source, uint64_t usec, void *userdata)
{
  return resume(userdata);
}

/* Subscribes again from the last change printed, from the history; the broadcasts,
 * which others' subscriptions may still bring, give way to Changes. */
static int resume(Watch *watch)
{
  sd_event *event = sd_bus_get_event(watch->bus);
  uint64_t reached;
  /* The rest of the last revision printed may be missing: from the one before it, with
   * what was printed skipped. */
  guint64 since = watch->key != NULL && watch->revision > 0 ? watch->revision - 1 : watch->revision;

  sd_bus_error_free(watch->bus_error);
  int r = subscribe_since(watch->bus, watch, since, watch->bus_error, &reached);
  if (r < 0 && sd_bus_error_has_name(watch->bus_error, SD_BUS_ERROR_LIMITS_EXCEEDED) &&
      ++watch->resume_tries < RESUME_TRIES) {
    sd_bus_error_free(watch->bus_error);
    return sd_event_add_time_relative(event, NULL, CLOCK_MONOTONIC, RESUME_WAIT_USEC, 0,
                                      on_resume_timer, watch);
  }
  if (r < 0) {
    watch->error = r;
    return sd_event_exit(event, 0);
  }
  watch->resume_tries = 0;
  fprintf(stderr, "kvctl: resumed after revision %" PRIu64 "\n", since);
  return 0;
}

/* SubscriptionLost: kvstored stopped sending, this connection having read too little. */
static int on_subscription_lost(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
  Watch *watch = userdata;
  const char *reason = "";

  (void)sd_bus_message_read_basic(m, 's', &reason);
  watch->broadcasts = sd_bus_slot_unref(watch->broadcasts);
  fprintf(stderr, "kvctl: the subscription was lost (%s); resuming from the history\n", reason);
  return resume(watch);
}

/* Prints what comes until SIGINT or SIGTERM. */
static int run_watch(sd_event *event, Watch *watch)
{
  int r = sd_event_loop(event);

  sd_bus_slot_unref(watch->broadcasts);
  sd_bus_slot_unref(watch->changes);
  g_free(watch->key);
  return watch->error < 0 ? watch->error : r;
}

int kvctl_watch(sd_bus *bus, const char *prefix, gint64 since, sd_bus_error *error)
{
  g_autoptr(sd_event) event = NULL;
  g_autofree char *rule = match_rule(prefix);
  g_autofree char *lost_rule = g_strdup_printf(
      "type='signal',sender='%s',path='%s',interface='%s',member='SubscriptionLost'", KV_BUS_NAME,
      KV_OBJECT_PATH, KV_INTERFACE);
  Watch watch = {prefix, 0, error, NULL, NULL, since >= 0 ? (guint64)since : 0, NULL, bus, 0};
  uint64_t reached;
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
  if (r >= 0)
    r = sd_bus_add_match(bus, NULL, lost_rule, on_subscription_lost, &watch);
  if (r >= 0 && since >= 0) {
    r = subscribe_since(bus, &watch, (guint64)since, error, &reached);
    if (r >= 0)
      fprintf(stderr,
              "kvctl: watching changes of keys starting with '%s' after revision %" PRIu64
              " (those up to %" PRIu64 " come first)\n",
              prefix, (guint64)since, reached);
    return r < 0 ? r : run_watch(event, &watch);
  }
  /* Where a resume after a lost subscription would start, should nothing come before. */
  if (r >= 0)
    r = sd_bus_get_property_trivial(bus, KV_BUS_NAME, KV_OBJECT_PATH, KV_INTERFACE, "Revision",
                                    error, 't', &watch.revision);
  if (r >= 0)
    r = sd_bus_add_match(bus, &watch.broadcasts, rule, on_change_signal, &watch);
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
