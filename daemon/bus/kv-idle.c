/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "kv-idle.h"

#include "kv-log.h"

#include <poll.h>
#include <systemd/sd-event.h>

struct _KvIdle {
  sd_bus *bus;
  KvBus *front;
  char *name;
  guint64 timeout_usec;
  guint64 last_activity;
  sd_bus_slot *filter;
  sd_event_source *timer;
};

static guint64 now_usec(KvIdle *self)
{
  guint64 now = 0;

  sd_event_now(sd_bus_get_event(self->bus), CLOCK_MONOTONIC, &now);
  return now;
}

static int on_message(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
  KvIdle *self = userdata;

  self->last_activity = now_usec(self);
  return 0; /* let the message go on to its handler */
}

static gboolean busy(KvIdle *self)
{
  uint64_t queued = 0;
  struct pollfd input = {.fd = sd_bus_get_fd(self->bus), .events = POLLIN};

  /* Unread input counts too: after a long stall (a compaction, say) the timer can come
   * due before the calls that arrived meanwhile have been read. */
  sd_bus_get_n_queued_read(self->bus, &queued);
  return queued > 0 || !kv_bus_is_idle(self->front) || (input.fd >= 0 && poll(&input, 1, 0) > 0);
}

/* Handles whatever is queued, and the commits and replies it leads to. */
static int drain(KvIdle *self)
{
  int r;

  do {
    while ((r = sd_bus_process(self->bus, NULL)) > 0)
      ;
    if (r < 0)
      return r;
    kv_bus_commit(self->front);
    /* Still not idle: a call waits for polkit. Wait for its answer rather than spin. */
    if (!kv_bus_is_idle(self->front))
      (void)sd_bus_wait(self->bus, 100 * 1000);
  } while (busy(self));
  return sd_bus_flush(self->bus);
}

static int on_timer(sd_event_source *source, uint64_t usec, void *userdata)
{
  KvIdle *self = userdata;
  /* Both on CLOCK_MONOTONIC, in microseconds. */
  guint64 last = MAX(self->last_activity, (guint64)kv_bus_last_commit_end(self->front));
  guint64 deadline = last + self->timeout_usec;

  /* A lease needs kvstored to end it: on time, or with its connection. */
  if (usec < deadline || busy(self) || kv_bus_holds_leases(self->front)) {
    int r = sd_event_source_set_time(source, MAX(deadline, usec + self->timeout_usec / 4));
    return r < 0 ? r : sd_event_source_set_enabled(source, SD_EVENT_ONESHOT);
  }

  kv_log(LOG_INFO, "Idle for %.1f s: releasing %s and exiting", self->timeout_usec / 1e6,
         self->name);
  kv_bus_commit(self->front);
  /* Synchronous: calls that arrive meanwhile wait in the read queue, and every call the
   * bus routed to us by name before the release is ahead of its reply. */
  int r = sd_bus_release_name(self->bus, self->name);
  if (r < 0)
    kv_log(LOG_ERR, "Cannot release %s: %s", self->name, g_strerror(-r));
  r = drain(self);
  if (r < 0)
    kv_log(LOG_ERR, "Cannot finish the last calls: %s", g_strerror(-r));
  return sd_event_exit(sd_event_source_get_event(source), 0);
}

void kv_idle_free(KvIdle *self)
{
  if (self == NULL)
    return;
  sd_bus_slot_unref(self->filter);
  sd_event_source_disable_unref(self->timer);
  g_free(self->name);
  g_free(self);
}

int kv_idle_new(sd_bus *bus, KvBus *front, const char *name, guint64 timeout_usec, KvIdle **ret)
{
  g_autoptr(KvIdle) self = g_new0(KvIdle, 1);

  self->bus = bus;
  self->front = front;
  self->name = g_strdup(name);
  self->timeout_usec = timeout_usec;
  self->last_activity = now_usec(self);

  int r = sd_bus_add_filter(bus, &self->filter, on_message, self);
  if (r >= 0)
    /* Not sd-event's default accuracy of 250 ms: short timeouts are meant. */
    r = sd_event_add_time_relative(sd_bus_get_event(bus), &self->timer, CLOCK_MONOTONIC,
                                   timeout_usec, MAX(timeout_usec / 20, 1), on_timer, self);
  if (r < 0)
    return r;
  *ret = g_steal_pointer(&self);
  return 0;
}
