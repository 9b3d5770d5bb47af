#pragma once

#include "kv-service.h"

#include <systemd/sd-bus.h>

G_BEGIN_DECLS

/* The bus front: publishes org.example.KVStore at /org/example/KVStore, each method
 * calling the service. Replies to writes are sent after kv_service_commit() has made
 * their changes durable; all writes handled in one turn of the event loop share one
 * commit. */
typedef struct _KvBus KvBus;

/* Publishes the object on @bus, which must be attached to an event loop. @service is
 * borrowed and must outlive the result. Returns 0 or a negative errno. */
int kv_bus_new(sd_bus *bus, KvService *service, KvBus **ret);

/* Commits now and sends the replies that waited for it (or the commit's error). */
void kv_bus_commit(KvBus *self);

/* When the last commit that answered writes finished (g_get_monotonic_time()), or 0. */
gint64 kv_bus_last_commit_end(KvBus *self);

/* Whether no reply waits for a commit. */
gboolean kv_bus_is_idle(KvBus *self);

/* Unpublishes the object; replies still waiting are dropped. */
void kv_bus_free(KvBus *self);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(KvBus, kv_bus_free)

G_END_DECLS
