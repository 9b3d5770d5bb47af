/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "kv-bus-access.h"
#include "kv-bus-callers.h"
#include "kv-peer-flow.h"
#include "kv-service.h"

#include <systemd/sd-bus.h>

G_BEGIN_DECLS

/* The bus front: publishes org.example.KVStore at /org/example/KVStore, each method
 * calling the service. Replies to writes are sent after kv_service_commit() has made
 * their changes durable; all writes handled in one turn of the event loop share one
 * commit. */
typedef struct _KvBus KvBus;

/* What a reply needs besides its array of entries: the header and a page's resume key. */
#define KV_REPLY_RESERVED_BYTES (64 * 1024)
/* The largest array of entries a reply carries, whatever the bus allows: building and
 * sending 8 MiB keeps the event loop about 30 ms on the test VM. */
#define KV_REPLY_MAX_BYTES (8 * 1024 * 1024)

/* Publishes the object on @bus, which must be attached to an event loop and carries
 * messages of up to @max_message_bytes (more than KV_REPLY_RESERVED_BYTES); no reply is
 * built larger. Large replies are counted in @flow (may be NULL); @callers tells who the
 * peers are; @access (NULL on the session bus: everything allowed) decides what each may
 * do. The borrowed @service, @flow, @callers and @access must outlive the result.
 * Returns 0 or a negative errno. */
int kv_bus_new(sd_bus *bus, KvService *service, KvPeerFlow *flow, KvBusCallers *callers,
               KvBusAccess *access, gsize max_message_bytes, KvBus **ret);

/* Reads the access rules again (SIGHUP and the Reload method); on failure, logged and in
 * @error, the old rules stay. */
gboolean kv_bus_reload(KvBus *self, GError **error);

/* Commits now and sends the replies that waited for it (or the commit's error). */
void kv_bus_commit(KvBus *self);

/* Tells the front that the bus has no input ready: the writes read so far are committed
 * now, a turn of the event loop sooner than the commit's idle source would. */
void kv_bus_input_drained(KvBus *self);

/* When the last commit that answered writes finished (g_get_monotonic_time()), or 0. */
gint64 kv_bus_last_commit_end(KvBus *self);

/* Whether some lease exists, which kvstored must be running to end. */
gboolean kv_bus_holds_leases(KvBus *self);

/* Whether no reply waits for a commit, nor any call for polkit. */
gboolean kv_bus_is_idle(KvBus *self);

/* The reply's arguments for a @write that is done; @leases is the front's. */
typedef struct _KvBusLeases KvBusLeases;
typedef int (*KvBusAppendFunc)(sd_bus_message *reply, const KvWrite *write, KvBusLeases *leases);

/* Submits @write for the call @m (its strings borrowed from @m), made by the caller
 * (KvWrite.writer), once the access rules let the caller write @access_key (NULL: no
 * key to check; then @deletions, taken, may count the keys it deletes for the quotas);
 * answers with @append once committed, or the error. Returns 1 (taken care of) or a
 * negative errno with @ret_error set. */
int kv_bus_submit(KvBus *self, sd_bus_message *m, KvWrite write, const char *access_key,
                  KvBusWritePlan *deletions, KvBusAppendFunc append, sd_bus_error *ret_error);

/* The access rules of the system bus, or NULL. */
KvBusAccess *kv_bus_get_access(KvBus *self);

/* Sends @message (a signal) once the changes made so far are committed. */
int kv_bus_send_after_commit(KvBus *self, sd_bus_message *message);

/* Unpublishes the object; replies still waiting are dropped. */
void kv_bus_free(KvBus *self);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(KvBus, kv_bus_free)

G_END_DECLS
