#include "kv-subscriptions.h"

#include "kv-error.h"

#include <string.h>

struct _KvSubscriptions {
  GHashTable *peers; /* name -> GPtrArray of prefixes */
};

KvSubscriptions *kv_subscriptions_new(void)
{
  KvSubscriptions *self = g_new0(KvSubscriptions, 1);

  self->peers =
      g_hash_table_new_full(g_str_hash, g_str_equal, g_free, (GDestroyNotify)g_ptr_array_unref);
  return self;
}

static gboolean find_prefix(GPtrArray *prefixes, const char *prefix, guint *out_index)
{
  return g_ptr_array_find_with_equal_func(prefixes, prefix, g_str_equal, out_index);
}

gboolean kv_subscriptions_add(KvSubscriptions *self, const char *peer, const char *prefix,
                              GError **error)
{
  GPtrArray *prefixes = g_hash_table_lookup(self->peers, peer);

  if (prefixes != NULL && find_prefix(prefixes, prefix, NULL))
    return TRUE;
  if (prefixes != NULL && prefixes->len >= KV_SUBSCRIPTIONS_MAX_PER_PEER) {
    g_set_error(error, KV_ERROR, KV_ERROR_TOO_LARGE,
                "A connection may subscribe to at most %u prefixes; unsubscribe from one, or "
                "subscribe to a shorter prefix",
                KV_SUBSCRIPTIONS_MAX_PER_PEER);
    return FALSE;
  }
  if (prefixes == NULL) {
    prefixes = g_ptr_array_new_with_free_func(g_free);
    g_hash_table_insert(self->peers, g_strdup(peer), prefixes);
  }
  g_ptr_array_add(prefixes, g_strdup(prefix));
  return TRUE;
}

gboolean kv_subscriptions_remove(KvSubscriptions *self, const char *peer, const char *prefix)
{
  GPtrArray *prefixes = g_hash_table_lookup(self->peers, peer);
  guint index;

  if (prefixes == NULL || !find_prefix(prefixes, prefix, &index))
    return FALSE;
  g_ptr_array_remove_index_fast(prefixes, index);
  if (prefixes->len == 0)
    g_hash_table_remove(self->peers, peer);
  return TRUE;
}

void kv_subscriptions_remove_peer(KvSubscriptions *self, const char *peer)
{
  g_hash_table_remove(self->peers, peer);
}

void kv_subscriptions_foreach_match(KvSubscriptions *self, const char *key, KvSubscriberFunc func,
                                    gpointer user_data)
{
  GHashTableIter iter;
  gpointer peer, value;

  g_hash_table_iter_init(&iter, self->peers);
  while (g_hash_table_iter_next(&iter, &peer, &value)) {
    GPtrArray *prefixes = value;

    for (guint i = 0; i < prefixes->len; i++)
      if (g_str_has_prefix(key, g_ptr_array_index(prefixes, i))) {
        func(peer, user_data);
        break;
      }
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
