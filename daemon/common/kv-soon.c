/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "kv-soon.h"

struct _KvSoon {
  sd_event_source *idle_source; /* once nothing else is ready */
  sd_event_source *late_source; /* or once the bound has passed */
  uint64_t max_wait_usec;
  KvSoonFunc func;
  gpointer user_data;
};

static void run(KvSoon *self)
{
  kv_soon_cancel(self);
  self->func(self->user_data);
}

static int on_idle(sd_event_source *source, void *user_data)
{
  run(user_data);
  return 0;
}

static int on_late(sd_event_source *source, uint64_t usec, void *user_data)
{
  run(user_data);
  return 0;
}

int kv_soon_new(sd_event *event, uint64_t max_wait_usec, KvSoonFunc func, gpointer user_data,
                KvSoon **ret)
{
  g_autoptr(KvSoon) self = g_new0(KvSoon, 1);

  self->max_wait_usec = max_wait_usec;
  self->func = func;
  self->user_data = user_data;
  int r = sd_event_add_defer(event, &self->idle_source, on_idle, self);
  if (r >= 0)
    r = sd_event_source_set_priority(self->idle_source, SD_EVENT_PRIORITY_IDLE);
  if (r >= 0)
    r = sd_event_add_time(event, &self->late_source, CLOCK_MONOTONIC, 0, 0, on_late, self);
  if (r < 0)
    return r;
  kv_soon_cancel(self);
  *ret = g_steal_pointer(&self);
  return 0;
}

void kv_soon_free(KvSoon *self)
{
  if (self == NULL)
    return;
  sd_event_source_disable_unref(self->idle_source);
  sd_event_source_disable_unref(self->late_source);
  g_free(self);
}

int kv_soon_schedule(KvSoon *self)
{
  if (kv_soon_pending(self))
    return 0;
  int r = sd_event_source_set_enabled(self->idle_source, SD_EVENT_ONESHOT);
  if (r >= 0)
    r = sd_event_source_set_time_relative(self->late_source, self->max_wait_usec);
  if (r >= 0)
    r = sd_event_source_set_enabled(self->late_source, SD_EVENT_ONESHOT);
  return r;
}

gboolean kv_soon_pending(KvSoon *self)
{
  int enabled = SD_EVENT_OFF;

  return sd_event_source_get_enabled(self->idle_source, &enabled) >= 0 && enabled != SD_EVENT_OFF;
}

void kv_soon_cancel(KvSoon *self)
{
  (void)sd_event_source_set_enabled(self->idle_source, SD_EVENT_OFF);
  (void)sd_event_source_set_enabled(self->late_source, SD_EVENT_OFF);
}
