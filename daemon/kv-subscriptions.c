/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "kv-subscriptions.h"

#include "kv-error.h"

#include <string.h>

typedef struct {
  char *prefix;
  KvSubscriptionKind kind;
} Subscription;

/* A peer's subscriptions, and whose they are. */
typedef struct {
  GArray *subscriptions; /* Subscription */
  guint32 owner;
} Peer;

struct _KvSubscriptions {
  GHashTable *peers;  /* name -> Peer */
  GHashTable *owners; /* owner -> number of subscriptions */
  guint n_by_kind[2];
};

static void subscription_clear(gpointer data)
{
  g_free(((Subscription *)data)->prefix);
}

static void peer_free(gpointer data)
{
  Peer *peer = data;

  g_array_unref(peer->subscriptions);
  g_free(peer);
}

KvSubscriptions *kv_subscriptions_new(void)
{
  KvSubscriptions *self = g_new0(KvSubscriptions, 1);

  self->peers = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, peer_free);
  self->owners = g_hash_table_new(g_direct_hash, g_direct_equal);
  return self;
}

static guint owner_count(KvSubscriptions *self, guint32 owner)
{
  return GPOINTER_TO_UINT(g_hash_table_lookup(self->owners, GUINT_TO_POINTER(owner)));
}

static void owner_add(KvSubscriptions *self, guint32 owner, int delta)
{
  guint count = owner_count(self, owner) + delta;

  if (count == 0)
    g_hash_table_remove(self->owners, GUINT_TO_POINTER(owner));
  else
    g_hash_table_insert(self->owners, GUINT_TO_POINTER(owner), GUINT_TO_POINTER(count));
}

/* A peer's subscriptions, or NULL. */
static GArray *subscriptions_of(KvSubscriptions *self, const char *name)
{
  Peer *peer = g_hash_table_lookup(self->peers, name);

  return peer != NULL ? peer->subscriptions : NULL;
}

static Subscription *find(GArray *subscriptions, const char *prefix, KvSubscriptionKind kind)
{
  for (guint i = 0; i < subscriptions->len; i++) {
    Subscription *s = &g_array_index(subscriptions, Subscription, i);
    if (s->kind == kind && strcmp(s->prefix, prefix) == 0)
      return s;
  }
  return NULL;
}

gboolean kv_subscriptions_add(KvSubscriptions *self, const char *peer, guint32 owner,
                              const char *prefix, KvSubscriptionKind kind, GError **error)
{
  GArray *subscriptions = subscriptions_of(self, peer);

  if (subscriptions != NULL && find(subscriptions, prefix, kind) != NULL)
    return TRUE;
  if (subscriptions != NULL && subscriptions->len >= KV_SUBSCRIPTIONS_MAX_PER_PEER) {
    g_set_error(error, KV_ERROR, KV_ERROR_TOO_LARGE,
                "A connection may subscribe to at most %u prefixes; unsubscribe from one, or "
                "subscribe to a shorter prefix",
                KV_SUBSCRIPTIONS_MAX_PER_PEER);
    return FALSE;
  }
  if (owner_count(self, owner) >= KV_SUBSCRIPTIONS_MAX_PER_OWNER) {
    g_set_error(error, KV_ERROR, KV_ERROR_TOO_LARGE,
                "uid %u holds %u subscriptions over all its connections, the most it may", owner,
                KV_SUBSCRIPTIONS_MAX_PER_OWNER);
    return FALSE;
  }
  if (subscriptions == NULL) {
    Peer *entry = g_new0(Peer, 1);
    entry->subscriptions = subscriptions = g_array_new(FALSE, FALSE, sizeof(Subscription));
    entry->owner = owner;
    g_array_set_clear_func(subscriptions, subscription_clear);
    g_hash_table_insert(self->peers, g_strdup(peer), entry);
  }
  Subscription s = {g_strdup(prefix), kind};
  g_array_append_val(subscriptions, s);
  self->n_by_kind[kind]++;
  owner_add(self, owner, 1);
  return TRUE;
}

gboolean kv_subscriptions_remove(KvSubscriptions *self, const char *peer, const char *prefix)
{
  Peer *entry = g_hash_table_lookup(self->peers, peer);
  GArray *subscriptions = entry != NULL ? entry->subscriptions : NULL;
  gboolean removed = FALSE;

  for (guint i = subscriptions != NULL ? subscriptions->len : 0; i-- > 0;) {
    Subscription *s = &g_array_index(subscriptions, Subscription, i);
    if (strcmp(s->prefix, prefix) == 0) {
      self->n_by_kind[s->kind]--;
      owner_add(self, entry->owner, -1);
      g_array_remove_index_fast(subscriptions, i);
      removed = TRUE;
    }
  }
  if (subscriptions != NULL && subscriptions->len == 0)
    g_hash_table_remove(self->peers, peer);
  return removed;
}

void kv_subscriptions_remove_peer(KvSubscriptions *self, const char *peer)
{
  Peer *entry = g_hash_table_lookup(self->peers, peer);

  if (entry == NULL)
    return;
  for (guint i = 0; i < entry->subscriptions->len; i++)
    self->n_by_kind[g_array_index(entry->subscriptions, Subscription, i).kind]--;
  owner_add(self, entry->owner, -(int)entry->subscriptions->len);
  g_hash_table_remove(self->peers, peer);
}

/* Whether @subscriptions hold one of @kind to a prefix of @key (to any, @key NULL). */
static gboolean matches(GArray *subscriptions, const char *key, KvSubscriptionKind kind)
{
  for (guint i = 0; i < subscriptions->len; i++) {
    const Subscription *s = &g_array_index(subscriptions, Subscription, i);
    if (s->kind == kind && (key == NULL || g_str_has_prefix(key, s->prefix)))
      return TRUE;
  }
  return FALSE;
}

gboolean kv_subscriptions_peer_matches(KvSubscriptions *self, const char *peer, const char *key,
                                       KvSubscriptionKind kind)
{
  GArray *subscriptions = subscriptions_of(self, peer);

  return subscriptions != NULL && matches(subscriptions, key, kind);
}

gboolean kv_subscriptions_any(KvSubscriptions *self, KvSubscriptionKind kind)
{
  return self->n_by_kind[kind] > 0;
}

/* Calls @func for each peer with a subscription of @kind to a prefix of @key (any key
 * when @key is NULL), once per peer, until it returns FALSE; FALSE when it did. */
static gboolean walk(KvSubscriptions *self, const char *key, KvSubscriptionKind kind,
                     gboolean (*func)(const char *peer, gpointer user_data), gpointer user_data)
{
  GHashTableIter iter;
  gpointer peer, entry;

  if (self->n_by_kind[kind] == 0)
    return TRUE;
  g_hash_table_iter_init(&iter, self->peers);
  while (g_hash_table_iter_next(&iter, &peer, &entry))
    if (matches(((Peer *)entry)->subscriptions, key, kind) && !func(peer, user_data))
      return FALSE;
  return TRUE;
}

static gboolean stop(const char *peer, gpointer user_data)
{
  return FALSE;
}

gboolean kv_subscriptions_any_match(KvSubscriptions *self, const char *key, KvSubscriptionKind kind)
{
  return !walk(self, key, kind, stop, NULL);
}

typedef struct {
  KvSubscriberFunc func;
  gpointer user_data;
} Visit;

static gboolean visit(const char *peer, gpointer user_data)
{
  Visit *v = user_data;

  v->func(peer, v->user_data);
  return TRUE;
}

void kv_subscriptions_foreach_match(KvSubscriptions *self, const char *key, KvSubscriptionKind kind,
                                    KvSubscriberFunc func, gpointer user_data)
{
  Visit v = {func, user_data};

  walk(self, key, kind, visit, &v);
}

void kv_subscriptions_foreach_peer(KvSubscriptions *self, KvSubscriptionKind kind,
                                   KvSubscriberFunc func, gpointer user_data)
{
  Visit v = {func, user_data};

  walk(self, NULL, kind, visit, &v);
}

guint kv_subscriptions_n_peers(KvSubscriptions *self)
{
  return g_hash_table_size(self->peers);
}

void kv_subscriptions_free(KvSubscriptions *self)
{
  if (self == NULL)
    return;
  g_hash_table_unref(self->peers);
  g_hash_table_unref(self->owners);
  g_free(self);
}
