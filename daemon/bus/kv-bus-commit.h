/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "kv-bus-access.h"
#include "kv-bus-properties.h"
#include "kv-bus-signals.h"
#include "kv-service.h"

#include <systemd/sd-bus.h>

G_BEGIN_DECLS

/* Group commit: the replies to writes and the signals of their changes wait until the
 * service has committed the changes, once per turn of the event loop (or once the bus has
 * no more input), in the order the changes were made; a failed commit fails the replies
 * that waited, and the signals of what it undid are never sent. */
typedef struct _KvBusCommit KvBusCommit;

/* The pipeline of @service's commits on @bus (its event loop). 0, or a negative errno. */
int kv_bus_commit_new(sd_bus *bus, KvService *service, KvBusAccess *access, KvBusSignals *signals,
                      KvBusProperties *properties, KvBusCommit **ret);

/* Waits for a commit under way, and frees @self; what waits is dropped unsent. */
void kv_bus_commit_free(KvBusCommit *self);

/* Queues @message (a reply to @call, or a signal when @call is NULL) for after the next
 * commit. Returns 1 (for a method handler: the call is taken care of), or a negative
 * errno. */
int kv_bus_commit_send_after(KvBusCommit *self, sd_bus_message *call, sd_bus_message *message);

/* A commit soon, for changes whose signals go out coalesced. 0, or a negative errno. */
int kv_bus_commit_schedule(KvBusCommit *self);

/* Commits now, waiting for it, and sends what waited (or the commit's error). */
void kv_bus_commit_now(KvBusCommit *self);

/* The bus has no input ready: what waits is committed now. */
void kv_bus_commit_input_drained(KvBusCommit *self);

/* When the last commit that answered writes finished (g_get_monotonic_time()), or 0. */
gint64 kv_bus_commit_last_end(KvBusCommit *self);

/* Whether nothing waits for a commit and none is under way. */
gboolean kv_bus_commit_is_idle(KvBusCommit *self);

/* Gives the memory of a large batch back to the system after the commit that takes it. */
void kv_bus_commit_trim_after_next(KvBusCommit *self);

G_END_DECLS
