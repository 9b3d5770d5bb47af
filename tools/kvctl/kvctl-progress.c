/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "kvctl-progress.h"

#include <stdio.h>
#include <unistd.h>

#define REDRAW_USEC (G_USEC_PER_SEC / 10)

void kvctl_progress_init(KvctlProgress *self, const char *verb)
{
  self->verb = verb;
  self->shown = isatty(STDERR_FILENO);
  self->start = g_get_monotonic_time();
  self->last = 0;
}

static void draw(KvctlProgress *self, gsize done, gint64 now)
{
  double seconds = (double)(now - self->start) / G_USEC_PER_SEC;

  fprintf(stderr, "\rkvctl: %s %zu keys (%.0f keys/s)", self->verb, done,
          seconds > 0 ? (double)done / seconds : 0.0);
  self->last = now;
}

void kvctl_progress_update(KvctlProgress *self, gsize done)
{
  gint64 now = g_get_monotonic_time();

  if (self->shown && now - self->last >= REDRAW_USEC)
    draw(self, done, now);
}

void kvctl_progress_finish(KvctlProgress *self, gsize done)
{
  if (!self->shown)
    return;
  draw(self, done, g_get_monotonic_time());
  fputc('\n', stderr);
}
