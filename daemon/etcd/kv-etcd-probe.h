/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "kv-etcd-client.h"

#include <systemd/sd-event.h>

G_BEGIN_DECLS

/* Asks the member a watch is on, every second, for a linearizable read: one that only a
 * member in touch with the cluster's leader answers, after it has applied every change
 * the cluster committed before the question. While those answers come, what the member's
 * watch brings is the cluster's present; when one fails or does not come within a second,
 * the member is behind, or cut off, or paused. */
typedef struct _KvEtcdProbe KvEtcdProbe;

/* A probe's answer: NULL @error when the member answered as part of the cluster. */
typedef void (*KvEtcdProbeFunc)(const GError *error, gpointer user_data);

/* A probe through @client (which must outlive its requests: free the probe after it) of a
 * key under @prefix, on @event; stopped until kv_etcd_probe_follow(). */
KvEtcdProbe *kv_etcd_probe_new(KvEtcdClient *client, sd_event *event, const char *prefix,
                               KvEtcdProbeFunc func, gpointer user_data);

/* Asks @endpoint now, then every second; a question still out for another endpoint is
 * forgotten. */
void kv_etcd_probe_follow(KvEtcdProbe *self, guint endpoint);

/* Asks no more until the next kv_etcd_probe_follow(). */
void kv_etcd_probe_stop(KvEtcdProbe *self);

void kv_etcd_probe_free(KvEtcdProbe *self);

G_END_DECLS
