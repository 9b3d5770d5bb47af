/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "kv-bus-history.h"

#include "kv-bus-changes.h"
#include "kv-bus-error.h"
#include "kv-error.h"
#include "kv-sd-bus-cleanup.h"

#include <string.h>

/* A page's changes when the caller names no limit. */
#define DEFAULT_PAGE_CHANGES 1000

/* Calls that came while the history was filling wait; at most this many. */
#define MAX_PARKED 1024

typedef int (*Handler)(KvBusHistory *self, sd_bus_message *m, sd_bus_error *ret_error);

typedef struct {
  sd_bus_message *call;
  Handler handler;
} Parked;

struct _KvBusHistory {
  KvService *service;
  KvBusSignals *signals;
  KvBusCallers *callers;
  KvBusAccess *access;
  KvPeerFlow *flow;
  gsize max_bytes;
  GArray *parked; /* Parked, while the history fills */
};

/* The history is filled: the calls that waited for it are answered, in the order they
 * came. */
static void on_history_ready(gpointer user_data)
{
  KvBusHistory *self = user_data;
  g_autoptr(GArray) parked = g_steal_pointer(&self->parked);

  self->parked = g_array_new(FALSE, FALSE, sizeof(Parked));
  for (guint i = 0; i < parked->len; i++) {
    Parked *one = &g_array_index(parked, Parked, i);
    g_auto(sd_bus_error) error = SD_BUS_ERROR_NULL;
    int r = sd_bus_message_rewind(one->call, TRUE);
    if (r >= 0)
      r = one->handler(self, one->call, &error);
    if (r < 0 && sd_bus_error_is_set(&error))
      (void)sd_bus_reply_method_error(one->call, &error);
    else if (r < 0)
      (void)sd_bus_reply_method_errno(one->call, r, NULL);
    sd_bus_message_unref(one->call);
  }
}

/* Whether @m waits for the history to fill: then it is kept, and run by @handler again
 * once it has (1); 0 to go on now. */
static int wait_for_history(KvBusHistory *self, sd_bus_message *m, Handler handler)
{
  KvHistory *history = kv_service_get_history(self->service);

  if (history == NULL || !kv_history_is_filling(history) || self->parked->len >= MAX_PARKED)
    return 0;
  Parked one = {sd_bus_message_ref(m), handler};
  g_array_append_val(self->parked, one);
  return 1;
}

KvBusHistory *kv_bus_history_new(KvService *service, KvBusSignals *signals, KvBusCallers *callers,
                                 KvBusAccess *access, KvPeerFlow *flow, gsize max_bytes)
{
  KvBusHistory *self = g_new0(KvBusHistory, 1);

  self->service = service;
  self->signals = signals;
  self->callers = callers;
  self->access = access;
  self->flow = flow;
  self->max_bytes = max_bytes;
  self->parked = g_array_new(FALSE, FALSE, sizeof(Parked));
  if (kv_service_get_history(service) != NULL)
    kv_history_set_ready_func(kv_service_get_history(service), on_history_ready, self);
  return self;
}

void kv_bus_history_free(KvBusHistory *self)
{
  if (self == NULL)
    return;
  if (kv_service_get_history(self->service) != NULL)
    kv_history_set_ready_func(kv_service_get_history(self->service), NULL, NULL);
  for (guint i = 0; i < self->parked->len; i++)
    sd_bus_message_unref(g_array_index(self->parked, Parked, i).call);
  g_array_unref(self->parked);
  g_free(self);
}

/* One change the caller may see, borrowed from the history for the call. */
typedef struct {
  const char *key;
  GVariant *value;
  guint64 revision;
  gsize bytes;
} Seen;

typedef struct {
  KvBusHistory *self;
  const char *peer;
  GArray *seen;      /* Seen */
  guint max_changes; /* 0: all */
  gsize max_bytes;   /* 0: all */
  gsize bytes;
  gboolean more;
} Gather;

static gboolean gather_change(const char *key, GVariant *value, guint64 revision,
                              gpointer user_data)
{
  Gather *gather = user_data;
  Seen seen = {key, value, revision, 0};

  if (!kv_bus_access_peer_reads(gather->self->access, gather->peer, key))
    return TRUE;
  seen.bytes = kv_bus_change_bytes(key, value);
  /* A page ends before what does not fit; the first change always fits, as every value
   * fits a message. */
  if ((gather->max_changes > 0 && gather->seen->len >= gather->max_changes) ||
      (gather->max_bytes > 0 && gather->seen->len > 0 &&
       gather->bytes + seen.bytes > gather->max_bytes)) {
    gather->more = TRUE;
    return FALSE;
  }
  gather->bytes += seen.bytes;
  g_array_append_val(gather->seen, seen);
  return TRUE;
}

/* TOO_LARGE for a prefix, or a key to resume after, longer than a key may be. */
static int check_length(const char *what, const char *text, sd_bus_error *ret_error)
{
  if (strlen(text) > KV_KEY_MAX_BYTES)
    return sd_bus_error_setf(ret_error, KV_BUS_ERROR_TOO_LARGE,
                             "A %s is at most %d bytes, as a key is", what, KV_KEY_MAX_BYTES);
  return 0;
}

/* The caller, known for the access checks, and whether @since (with @after) is served. */
static int check_resume(KvBusHistory *self, sd_bus_message *m, guint64 since, const char *after,
                        const KvCaller **out_caller, sd_bus_error *ret_error)
{
  g_autoptr(GError) error = NULL;
  int r = kv_bus_callers_lookup(self->callers, sd_bus_message_get_sender(m), out_caller, ret_error);

  if (r < 0)
    return r;
  if (!kv_history_check(kv_service_get_history(self->service), since, after, &error))
    return kv_bus_error_set(ret_error, error);
  return 0;
}

int kv_bus_history_changes_since(KvBusHistory *self, sd_bus_message *m, sd_bus_error *ret_error)
{
  KvHistory *history = kv_service_get_history(self->service);
  const char *prefix, *after;
  const KvCaller *caller;
  guint64 since;
  guint32 limit;
  int r = wait_for_history(self, m, kv_bus_history_changes_since);

  if (r != 0)
    return r;
  r = sd_bus_message_read(m, "stsu", &prefix, &since, &after, &limit);
  if (r < 0)
    return r;
  if ((r = check_length("prefix", prefix, ret_error)) < 0 ||
      (r = check_length("key to resume after", after, ret_error)) < 0)
    return r;
  if (limit > KV_PAGE_MAX_ENTRIES)
    return sd_bus_error_setf(ret_error, KV_BUS_ERROR_TOO_LARGE, "A page holds at most %d changes",
                             KV_PAGE_MAX_ENTRIES);
  if ((r = check_resume(self, m, since, after, &caller, ret_error)) < 0)
    return r;

  g_autoptr(GArray) seen = g_array_new(FALSE, FALSE, sizeof(Seen));
  Gather gather = {self,
                   sd_bus_message_get_sender(m),
                   seen,
                   limit > 0 ? limit : DEFAULT_PAGE_CHANGES,
                   self->max_bytes,
                   0,
                   FALSE};
  kv_history_foreach(history, prefix, since, after, gather_change, &gather);

  /* Where the next page starts: after the last change sent, or, with none left, at the
   * last commit, past changes the caller does not see. */
  const Seen *last = seen->len > 0 ? &g_array_index(seen, Seen, seen->len - 1) : NULL;
  guint64 next = gather.more ? last->revision : kv_history_committed(history);
  const char *next_after = gather.more ? last->key : "";
  g_autoptr(sd_bus_message) reply = NULL;
  r = sd_bus_message_new_method_return(m, &reply);
  if (r >= 0)
    r = sd_bus_message_open_container(reply, 'a', "(sbvt)");
  for (guint i = 0; r >= 0 && i < seen->len; i++) {
    const Seen *change = &g_array_index(seen, Seen, i);
    r = kv_bus_append_change(reply, change->key, change->value, change->revision);
  }
  if (r >= 0)
    r = sd_bus_message_close_container(reply);
  if (r >= 0)
    r = sd_bus_message_append(reply, "tsb", next, next_after, gather.more);
  if (r < 0)
    return r;
  kv_peer_flow_add(self->flow, sd_bus_message_get_sender(m), gather.bytes);
  return sd_bus_send(NULL, reply, NULL);
}

static void message_unref(gpointer message)
{
  sd_bus_message_unref(message);
}

/* The Changes signals of @seen to @peer, none over max_bytes, in @out. */
static int build_backlog(KvBusHistory *self, sd_bus *bus, const char *peer, GArray *seen,
                         GPtrArray *out)
{
  KvBusChangesSignals signals = {bus, peer, self->max_bytes, out, NULL, 0};
  int r = 0;

  for (guint i = 0; r >= 0 && i < seen->len; i++) {
    const Seen *change = &g_array_index(seen, Seen, i);
    r = kv_bus_changes_signals_add(&signals, change->key, change->value, change->revision,
                                   change->bytes);
  }
  return kv_bus_changes_signals_finish(&signals, r);
}

int kv_bus_history_subscribe_since(KvBusHistory *self, sd_bus_message *m, sd_bus_error *ret_error)
{
  g_autoptr(GError) error = NULL;
  KvHistory *history = kv_service_get_history(self->service);
  const char *peer = sd_bus_message_get_sender(m);
  const KvCaller *caller;
  const char *prefix;
  guint64 since;
  int r = wait_for_history(self, m, kv_bus_history_subscribe_since);

  if (r != 0)
    return r;
  r = sd_bus_message_read(m, "st", &prefix, &since);
  if (r < 0)
    return r;
  if ((r = check_length("prefix", prefix, ret_error)) < 0 ||
      (r = check_resume(self, m, since, NULL, &caller, ret_error)) < 0)
    return r;

  g_autoptr(GArray) seen = g_array_new(FALSE, FALSE, sizeof(Seen));
  Gather gather = {self, peer, seen, 0, 0, 0, FALSE};
  kv_history_foreach(history, prefix, since, NULL, gather_change, &gather);
  /* All of it goes at once, unasked: refused whole if it would leave this connection more
   * unread than any peer may, rather than end the subscription it asks for. */
  if (!kv_peer_flow_may_send(self->flow, peer, gather.bytes))
    return sd_bus_error_setf(ret_error, SD_BUS_ERROR_LIMITS_EXCEEDED,
                             "The %zu bytes of changes after revision %" G_GUINT64_FORMAT
                             " are more than this connection may leave unread: read them "
                             "with ChangesSince, then subscribe from where it ends",
                             gather.bytes, since);
  if (!kv_bus_signals_add_coalesced(self->signals, peer, caller->uid, prefix, history, &error))
    return kv_bus_error_set(ret_error, error);

  g_autoptr(GPtrArray) signals = g_ptr_array_new_with_free_func(message_unref);
  r = build_backlog(self, sd_bus_message_get_bus(m), peer, seen, signals);
  if (r < 0)
    return r;
  kv_peer_flow_add(self->flow, peer, gather.bytes);
  /* Before the reply, and before any later commit's Changes: in revision order. */
  for (guint i = 0; i < signals->len; i++)
    (void)sd_bus_send(NULL, g_ptr_array_index(signals, i), NULL);
  return sd_bus_reply_method_return(m, "t", kv_history_committed(history));
}
