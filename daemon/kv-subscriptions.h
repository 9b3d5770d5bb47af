#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Which peers want the changes of which key prefixes (the Subscribe method), with no
 * D-Bus in it: peers are names. Each peer holds at most KV_SUBSCRIPTIONS_MAX_PER_PEER
 * prefixes, so that no caller makes kvstored hold much for it. */
typedef struct _KvSubscriptions KvSubscriptions;

#define KV_SUBSCRIPTIONS_MAX_PER_PEER 64

/* Told of each peer once. */
typedef void (*KvSubscriberFunc)(const char *peer, gpointer user_data);

KvSubscriptions *kv_subscriptions_new(void);

/* Subscribes @peer to the keys starting with @prefix. Subscribing twice to one prefix is
 * the same as once. TOO_LARGE beyond KV_SUBSCRIPTIONS_MAX_PER_PEER prefixes. */
gboolean kv_subscriptions_add(KvSubscriptions *self, const char *peer, const char *prefix,
                              GError **error);

/* Ends @peer's subscription to @prefix; FALSE when it had none. */
gboolean kv_subscriptions_remove(KvSubscriptions *self, const char *peer, const char *prefix);

/* Ends every subscription of @peer. */
void kv_subscriptions_remove_peer(KvSubscriptions *self, const char *peer);

/* Calls @func once for each peer subscribed to a prefix of @key. */
void kv_subscriptions_foreach_match(KvSubscriptions *self, const char *key, KvSubscriberFunc func,
                                    gpointer user_data);

/* The number of peers with at least one subscription. */
guint kv_subscriptions_n_peers(KvSubscriptions *self);

void kv_subscriptions_free(KvSubscriptions *self);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(KvSubscriptions, kv_subscriptions_free)

G_END_DECLS
