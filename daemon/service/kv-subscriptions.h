/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Which peers want the changes of which key prefixes, and in which form (the Subscribe
 * and SubscribeCoalesced methods), with no D-Bus in it: peers are names, each with an
 * owner (its uid). Each peer holds at most KV_SUBSCRIPTIONS_MAX_PER_PEER prefixes and each
 * owner, over all its peers, KV_SUBSCRIPTIONS_MAX_PER_OWNER, so that no caller makes
 * kvstored hold much for it, however many connections it opens. */
typedef struct _KvSubscriptions KvSubscriptions;

#define KV_SUBSCRIPTIONS_MAX_PER_PEER  64
#define KV_SUBSCRIPTIONS_MAX_PER_OWNER 1024

typedef enum {
  KV_SUBSCRIPTION_EACH,      /* a Changed or Deleted signal per change */
  KV_SUBSCRIPTION_COALESCED, /* one Changes signal per commit */
} KvSubscriptionKind;

/* Told of each peer once. */
typedef void (*KvSubscriberFunc)(const char *peer, gpointer user_data);

KvSubscriptions *kv_subscriptions_new(void);

/* Subscribes @peer, owned by @owner, to the keys starting with @prefix, in the form
 * @kind. Subscribing twice is the same as once. TOO_LARGE beyond the limits. */
gboolean kv_subscriptions_add(KvSubscriptions *self, const char *peer, guint32 owner,
                              const char *prefix, KvSubscriptionKind kind, GError **error);

/* Ends @peer's subscriptions to @prefix, of either kind; FALSE when it had none. */
gboolean kv_subscriptions_remove(KvSubscriptions *self, const char *peer, const char *prefix);

/* Ends every subscription of @peer. */
void kv_subscriptions_remove_peer(KvSubscriptions *self, const char *peer);

/* Whether some peer has a subscription of @kind to a prefix of @key. */
gboolean kv_subscriptions_any_match(KvSubscriptions *self, const char *key,
                                    KvSubscriptionKind kind);

/* Whether some peer has a subscription of @kind at all. */
gboolean kv_subscriptions_any(KvSubscriptions *self, KvSubscriptionKind kind);

/* Calls @func once for each peer with a subscription of @kind to a prefix of @key. */
void kv_subscriptions_foreach_match(KvSubscriptions *self, const char *key, KvSubscriptionKind kind,
                                    KvSubscriberFunc func, gpointer user_data);

/* Calls @func once for each peer with a subscription of @kind. */
void kv_subscriptions_foreach_peer(KvSubscriptions *self, KvSubscriptionKind kind,
                                   KvSubscriberFunc func, gpointer user_data);

/* Whether @peer has a subscription of @kind to a prefix of @key. */
gboolean kv_subscriptions_peer_matches(KvSubscriptions *self, const char *peer, const char *key,
                                       KvSubscriptionKind kind);

/* The number of peers with at least one subscription. */
guint kv_subscriptions_n_peers(KvSubscriptions *self);

void kv_subscriptions_free(KvSubscriptions *self);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(KvSubscriptions, kv_subscriptions_free)

G_END_DECLS
