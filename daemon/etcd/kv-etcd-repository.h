/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "kv-history.h"
#include "kv-repository.h"

#include <systemd/sd-event.h>

G_BEGIN_DECLS

/* The most keys a lease may have on etcd: its end is one transaction of twice as many
 * deletions and one more, and etcd takes at most 128 operations a transaction. */
#define KV_ETCD_LEASE_MAX_KEYS 63

/* A repository on an etcd cluster, shared by every kvstored that uses the same cluster and
 * prefix. Reads come from a replica in memory: loaded with paged Range requests at one
 * revision, then kept current by a watch of the prefix from the next revision. Writes are
 * submitted (kv_repository_submit()) as one etcd transaction each, whose compares are the
 * write's conditions; a write is done once etcd committed it to a quorum and the watch
 * has brought it back to the replica, so a writer reads its own writes. Every change,
 * from this host or another, is told to the change function as the watch brings it, in
 * revision order. Revisions are etcd's. */

typedef struct {
  const char *const *endpoints; /* "http://HOST:PORT" */
  const char *prefix;           /* etcd keys start with it; "/kvstore/" by default */
  guint write_timeout_ms;       /* a write not taken by then fails with UNAVAILABLE */
  guint start_timeout_ms;       /* how long to wait for the cluster at the start */
  KvHistory *history;           /* to read etcd's history back into, or NULL */
  guint64 history_revisions;    /* how many of etcd's revisions before the load */
} KvEtcdOptions;

/* What the replica is: whether it follows the cluster, and what it last heard. */
typedef void (*KvEtcdStateFunc)(gboolean current, const char *what, gpointer user_data);

/* Loads the replica from the cluster, retrying with backoff for up to
 * @options->start_timeout_ms (saying so through @state), then watches it on @event.
 * NULL with KV_ERROR_UNAVAILABLE when the cluster did not answer in time. */
KvRepository *kv_etcd_repository_open(const KvEtcdOptions *options, sd_event *event,
                                      KvEtcdStateFunc state, gpointer state_data, GError **error);

G_END_DECLS
