/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "kv-etcd-client.h"
#include "kv-etcd-codec.h"

#include <systemd/sd-event.h>

G_BEGIN_DECLS

/* Writes to etcd made at most once, whose outcome is told truthfully. Each attempt is one
 * transaction that also creates a marker of its own (kv_etcd_txn_request()); a lost
 * answer is settled by a fence (kv_etcd_fence_request()), after which the attempt either
 * took effect (its marker says so) or never will. Only then is the write tried again,
 * on another member when its own stopped answering, until its time is up. Markers are
 * kept by a lease of kvstored's that it keeps alive; they go with it. */
typedef struct _KvEtcdWriter KvEtcdWriter;

/* How a write ended. */
typedef struct {
  guint64 revision;    /* taken: its revision; a conflict: the revision that broke it */
  gboolean conflict;   /* not taken: a compare no longer held */
  const GError *error; /* not taken (KV_ERROR_UNAVAILABLE, KV_ERROR_TOO_LARGE), or
                        * KV_ERROR_INDETERMINATE: it may or may not have been */
} KvEtcdWriteOutcome;

typedef void (*KvEtcdWriteFunc)(const KvEtcdWriteOutcome *outcome, gpointer user_data);

/* A writer under @prefix (not empty) through @client (which it does not own), on @event,
 * for writes of at most @max_timeout_ms. It asks for its lease at once; a write waits
 * for it (and fails Unavailable, unsent, if none comes in its time). */
KvEtcdWriter *kv_etcd_writer_new(KvEtcdClient *client, sd_event *event, const char *prefix,
                                 guint max_timeout_ms);

/* Frees @self; writes still out are dropped without a word (after the client's free). */
void kv_etcd_writer_free(KvEtcdWriter *self);

/* Makes @changes if every @compares holds, within @timeout_ms; @done is told once, from the
 * event loop. The arrays are copied. */
void kv_etcd_writer_submit(KvEtcdWriter *self, const KvChange *changes, gsize n_changes,
                           const KvCompare *compares, gsize n_compares, guint timeout_ms,
                           KvEtcdWriteFunc done, gpointer user_data);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(KvEtcdWriter, kv_etcd_writer_free)

G_END_DECLS
