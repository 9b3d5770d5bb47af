#include "kv-subscriptions.h"

#include "kv-error.h"

#include <string.h>

typedef struct {
  char *prefix;
  KvSubscriptionKind kind;
} Subscription;

struct _KvSubscriptions {
  GHashTable *peers; /* name -> GArray of Subscription */
  guint n_by_kind[2];
};

static void subscription_clear(gpointer data)
{
  g_free(((Subscription *)data)->prefix);
}

KvSubscriptions *kv_subscriptions_new(void)
{
  KvSubscriptions *self = g_new0(KvSubscriptions, 1);

  self->peers =
      g_hash_table_new_full(g_str_hash, g_str_equal, g_free, (GDestroyNotify)g_array_unref);
  return self;
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

gboolean kv_subscriptions_add(KvSubscriptions *self, const char *peer, const char *prefix,
                              KvSubscriptionKind kind, GError **error)
{
  GArray *subscriptions = g_hash_table_lookup(self->peers, peer);

  if (subscriptions != NULL && find(subscriptions, prefix, kind) != NULL)
    return TRUE;
  if (subscriptions != NULL && subscriptions->len >= KV_SUBSCRIPTIONS_MAX_PER_PEER) {
    g_set_error(error, KV_ERROR, KV_ERROR_TOO_LARGE,
                "A connection may subscribe to at most %u prefixes; unsubscribe from one, or "
                "subscribe to a shorter prefix",
                KV_SUBSCRIPTIONS_MAX_PER_PEER);
    return FALSE;
  }
  if (subscriptions == NULL) {
    subscriptions = g_array_new(FALSE, FALSE, sizeof(Subscription));
    g_array_set_clear_func(subscriptions, subscription_clear);
    g_hash_table_insert(self->peers, g_strdup(peer), subscriptions);
  }
  Subscription s = {g_strdup(prefix), kind};
  g_array_append_val(subscriptions, s);
  self->n_by_kind[kind]++;
  return TRUE;
}

gboolean kv_subscriptions_remove(KvSubscriptions *self, const char *peer, const char *prefix)
{
  GArray *subscriptions = g_hash_table_lookup(self->peers, peer);
  gboolean removed = FALSE;

  for (guint i = subscriptions != NULL ? subscriptions->len : 0; i-- > 0;) {
    Subscription *s = &g_array_index(subscriptions, Subscription, i);
    if (strcmp(s->prefix, prefix) == 0) {
      self->n_by_kind[s->kind]--;
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
  GArray *subscriptions = g_hash_table_lookup(self->peers, peer);

  for (guint i = 0; subscriptions != NULL && i < subscriptions->len; i++)
    self->n_by_kind[g_array_index(subscriptions, Subscription, i).kind]--;
  g_hash_table_remove(self->peers, peer);
}

static gboolean matches(GArray *subscriptions, const char *key, KvSubscriptionKind kind)
{
  for (guint i = 0; i < subscriptions->len; i++) {
    const Subscription *s = &g_array_index(subscriptions, Subscription, i);
    if (s->kind == kind && g_str_has_prefix(key, s->prefix))
      return TRUE;
  }
  return FALSE;
}

gboolean kv_subscriptions_peer_matches(KvSubscriptions *self, const char *peer, const char *key,
                                       KvSubscriptionKind kind)
{
  GArray *subscriptions = g_hash_table_lookup(self->peers, peer);

  return subscriptions != NULL && matches(subscriptions, key, kind);
}

gboolean kv_subscriptions_any(KvSubscriptions *self, KvSubscriptionKind kind)
{
  return self->n_by_kind[kind] > 0;
}

gboolean kv_subscriptions_any_match(KvSubscriptions *self, const char *key, KvSubscriptionKind kind)
{
  GHashTableIter iter;
  gpointer subscriptions;

  if (self->n_by_kind[kind] == 0)
    return FALSE;
  g_hash_table_iter_init(&iter, self->peers);
  while (g_hash_table_iter_next(&iter, NULL, &subscriptions))
    if (matches(subscriptions, key, kind))
      return TRUE;
  return FALSE;
}

void kv_subscriptions_foreach_match(KvSubscriptions *self, const char *key, KvSubscriptionKind kind,
                                    KvSubscriberFunc func, gpointer user_data)
{
  GHashTableIter iter;
  gpointer peer, subscriptions;

  if (self->n_by_kind[kind] == 0)
    return;
  g_hash_table_iter_init(&iter, self->peers);
  while (g_hash_table_iter_next(&iter, &peer, &subscriptions))
    if (matches(subscriptions, key, kind))
      func(peer, user_data);
}

void kv_subscriptions_foreach_peer(KvSubscriptions *self, KvSubscriptionKind kind,
                                   KvSubscriberFunc func, gpointer user_data)
{
  GHashTableIter iter;
  gpointer peer, subscriptions;

  if (self->n_by_kind[kind] == 0)
    return;
  g_hash_table_iter_init(&iter, self->peers);
  while (g_hash_table_iter_next(&iter, &peer, &subscriptions))
    for (guint i = 0; i < ((GArray *)subscriptions)->len; i++)
      if (g_array_index((GArray *)subscriptions, Subscription, i).kind == kind) {
        func(peer, user_data);
        break;
      }
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
  g_free(self);
}
