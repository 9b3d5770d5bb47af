/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>
#include <systemd/sd-bus.h>

G_BEGIN_DECLS

/* Asks polkit (org.freedesktop.PolicyKit1) whether the sender of a call may do what the
 * access rules refuse it, without blocking: the call is set aside, and dispatched again
 * once polkit answers, when the handler finds the answer waiting. Interactive
 * authorization is asked for only when the call allows it. */
typedef struct _KvPolkit KvPolkit;

#define KV_POLKIT_ACTION_WRITE "org.example.kvstore.write"
/* Calls waiting for polkit at once, over all callers and per caller; more are refused, so
 * that no caller holds kvstored's questions for the others. */
#define KV_POLKIT_MAX_PENDING          64
#define KV_POLKIT_MAX_PENDING_PER_PEER 4

KvPolkit *kv_polkit_new(sd_bus *bus);

/* Whether the sender of @call may do @action (to @key, shown to the person asked).
 * Returns 1 when authorized; 0 when the question is out (the handler must return 1 and
 * will see @call again); or a negative errno with @ret_error set: AccessDenied when
 * polkit says no or cannot be asked, InteractiveAuthorizationRequired when it would ask
 * a person but the call does not allow it. */
int kv_polkit_check(KvPolkit *self, sd_bus_message *call, const char *action, const char *key,
                    sd_bus_error *ret_error);

/* Whether no call waits for polkit. */
gboolean kv_polkit_is_idle(KvPolkit *self);

void kv_polkit_free(KvPolkit *self);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(KvPolkit, kv_polkit_free)

G_END_DECLS
