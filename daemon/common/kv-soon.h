/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>
#include <systemd/sd-event.h>

G_BEGIN_DECLS

/* Work that runs soon: once the event loop has nothing else ready (an idle-priority defer
 * source), so that everything read in one turn of the loop is handled together, and at
 * the latest a bounded time after it was asked for: a stream of events that never lets
 * the loop go idle (callers sending faster than kvstored reads) would otherwise hold it
 * back for as long as the stream lasts. Used by the local commit and the etcd puts. */
typedef struct _KvSoon KvSoon;

typedef void (*KvSoonFunc)(gpointer user_data);

/* Runs @func on @event as above, @max_wait_usec after the first kv_soon_schedule() at the
 * latest. Returns 0 or a negative errno. */
int kv_soon_new(sd_event *event, uint64_t max_wait_usec, KvSoonFunc func, gpointer user_data,
                KvSoon **ret);

void kv_soon_free(KvSoon *self);

/* Has the function run soon; while it is to run already, its bound stays the first
 * call's. Returns 0 or a negative errno. */
int kv_soon_schedule(KvSoon *self);

/* Whether the function is to run. */
gboolean kv_soon_pending(KvSoon *self);

/* The function is not to run (until the next kv_soon_schedule()). */
void kv_soon_cancel(KvSoon *self);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(KvSoon, kv_soon_free)

G_END_DECLS
