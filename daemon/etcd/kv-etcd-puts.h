/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "kv-etcd-writer.h"

#include <glib.h>
#include <systemd/sd-event.h>

G_BEGIN_DECLS

/* Sets (one key stored, no compare) on their way to etcd. A put with no other out goes at
 * once, alone; those that come while others are out wait until the calls already on the
 * bus are read (2 ms at most), and go together as one transaction. Under many writers
 * etcd then takes one request, one raft entry and one watch answer for many keys (which
 * share its revision); a lone writer's put goes as it did. */
typedef struct _KvEtcdPuts KvEtcdPuts;

/* How a put ended: the revision it was made at, or @error (KV_ERROR_UNAVAILABLE: not made;
 * KV_ERROR_TOO_LARGE: over etcd's limits; KV_ERROR_INDETERMINATE: perhaps made). */
typedef void (*KvEtcdPutFunc)(guint64 revision, const GError *error, gpointer user_data);

/* Puts through @writer, which must outlive them, on @event. */
KvEtcdPuts *kv_etcd_puts_new(KvEtcdWriter *writer, sd_event *event);

/* Stores @value (a floating reference is sunk) under @key, answered within @timeout_ms:
 * @done is told once, from the event loop. @key is not among the puts not yet answered
 * (one transaction takes a key once; kvstored's turns keep writes of a key apart). */
void kv_etcd_puts_add(KvEtcdPuts *self, const char *key, GVariant *value, guint timeout_ms,
                      KvEtcdPutFunc done, gpointer user_data);

/* Frees @self once its writer's client is freed (which drops the requests out without a
 * word); the puts waiting are dropped too. */
void kv_etcd_puts_free(KvEtcdPuts *self);

G_END_DECLS
