/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* fdatasync() on a worker thread, so that the event loop goes on serving reads while the
 * disk syncs; the end is told through a file descriptor the loop watches. One sync at a
 * time. */
typedef struct _KvSyncer KvSyncer;

/* A syncer with its thread; NULL with @error when either cannot be made. */
KvSyncer *kv_syncer_new(GError **error);

/* Stops the thread (after a sync under way) and frees the syncer. */
void kv_syncer_free(KvSyncer *self);

/* Readable once a sync has ended. */
int kv_syncer_fd(KvSyncer *self);

/* Starts fdatasync(@fd); @fd must stay open until kv_syncer_finish() returned. */
void kv_syncer_start(KvSyncer *self, int fd);

/* The end of the sync: 0, or the errno of fdatasync(); -EAGAIN when it has not ended and
 * @wait is FALSE. */
int kv_syncer_finish(KvSyncer *self, gboolean wait);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(KvSyncer, kv_syncer_free)

G_END_DECLS
