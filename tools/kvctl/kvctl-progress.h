/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Progress of a long load or dump on stderr, shown only when stderr is a terminal: a
 * person watching learns the rate, and a script's logs stay clean. */
typedef struct {
  const char *verb; /* "loaded", "dumped" */
  gboolean shown;
  gint64 start;
  gint64 last;
} KvctlProgress;

void kvctl_progress_init(KvctlProgress *self, const char *verb);

/* @done keys so far; redraws at most ten times a second. */
void kvctl_progress_update(KvctlProgress *self, gsize done);

/* The last figures, and the end of the line. */
void kvctl_progress_finish(KvctlProgress *self, gsize done);

G_END_DECLS
