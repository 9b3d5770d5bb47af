/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>
#include <systemd/sd-bus.h>
#include <sys/types.h>

G_BEGIN_DECLS

/* Asks polkit (org.freedesktop.PolicyKit1) whether the sender of a call may do what the
 * access rules refuse it, without blocking: the call is set aside, and dispatched again
 * once polkit has answered every question it raised, when the handler finds the answers
 * waiting. Interactive authorization is asked for only when the call allows it.
 *
 * polkitd takes details (the key asked about) only from callers it trusts: root, or the
 * owner of the action (the org.freedesktop.policykit.owner annotation in
 * org.example.kvstore.policy names the kvstore user). */
typedef struct _KvPolkit KvPolkit;

#define KV_POLKIT_ACTION_WRITE "org.example.kvstore.write"
/* Calls waiting for polkit at once, over all callers, per caller and per uid; more are
 * refused, so that no caller, nor one user's many connections, holds kvstored's questions
 * for the others. A caller that leaves the bus frees its calls' places at once. */
#define KV_POLKIT_MAX_PENDING          64
#define KV_POLKIT_MAX_PENDING_PER_PEER 4
#define KV_POLKIT_MAX_PENDING_PER_UID  16
/* Distinct keys one call may have authorized: each is one question to polkit. */
#define KV_POLKIT_MAX_KEYS_PER_CALL 16
/* Questions out at once, over all calls: each holds one of the replies kvstored may await
 * on the bus (dbus-daemon's system bus allows 128 a connection), with room for the rest. */
#define KV_POLKIT_MAX_QUESTIONS 64

/* One thing to authorize: a key the rules refuse, with what polkit's rules may read of it
 * (the details "key", "rule" and, for a prefix deletion, "prefix"). */
typedef struct {
  const char *key;
  const char *rule;   /* NULL past KV_POLKIT_MAX_KEYS_PER_CALL questions: never asked */
  const char *prefix; /* NULL but for DeletePrefix */
} KvPolkitQuestion;

KvPolkit *kv_polkit_new(sd_bus *bus);

/* Whether the sender of @call (of @uid) may do @action to every one of @questions (distinct keys),
 * each asked of polkit on its own. Returns 1 when all are authorized; 0 when questions are
 * out (the handler must return 1 and will see @call again); or a negative errno with
 * @ret_error set and *@ret_refused the key refused (to free; NULL when none in particular
 * was): AccessDenied when polkit says no, cannot be asked, or more than
 * KV_POLKIT_MAX_KEYS_PER_CALL keys would need it; InteractiveAuthorizationRequired when it
 * would ask a person but the call does not allow it. */
int kv_polkit_check(KvPolkit *self, sd_bus_message *call, uid_t uid, const char *action,
                    const KvPolkitQuestion *questions, gsize n_questions, char **ret_refused,
                    sd_bus_error *ret_error);

/* Forgets the calls of @peer, which left the bus: their questions are withdrawn. */
void kv_polkit_forget_peer(KvPolkit *self, const char *peer);

/* Whether no call waits for polkit. */
gboolean kv_polkit_is_idle(KvPolkit *self);

void kv_polkit_free(KvPolkit *self);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(KvPolkit, kv_polkit_free)

G_END_DECLS
