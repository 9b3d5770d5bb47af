/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "kv-subscriptions.h"

#include "kv-error.h"

#include <string.h>

/* A key's subscribers are found by looking up its own prefixes, one a subscribed length,
 * in an index of the subscribed prefixes, their hashes computed in one pass over the key:
 * a commit costs its keys' lengths and their matching subscribers, not a comparison with
 * every subscription. */

typedef struct {
  char *prefix;
  KvSubscriptionKind kind;
} Subscription;

/* A peer's subscriptions, and whose they are. */
typedef struct {
  char *name;
  GArray *subscriptions; /* Subscription */
  guint32 owner;
} Peer;

/* One subscribed prefix and who subscribed to it. */
typedef struct {
  const char *prefix; /* owned, but for a probe (not NUL-terminated then) */
  gsize len;
  guint hash;
  GPtrArray *subscribers; /* Subscriber */
} Entry;

typedef struct {
  Peer *peer;
  KvSubscriptionKind kind;
} Subscriber;

struct _KvSubscriptions {
  GHashTable *peers;         /* name -> Peer */
  GHashTable *owners;        /* owner -> number of subscriptions */
  GHashTable *entries;       /* Entry -> itself */
  GArray *lengths;           /* guint: the distinct lengths of the entries' prefixes, rising */
  GHashTable *length_counts; /* length -> entries of that length */
  guint n_by_kind[2];
};

/* The hash of @len bytes that hash_more() builds a byte at a time. */
#define HASH_START 5381u

static guint hash_more(guint hash, guchar byte)
{
  return hash * 33u + byte;
}

static guint hash_bytes(const char *bytes, gsize len)
{
  guint hash = HASH_START;

  for (gsize i = 0; i < len; i++)
    hash = hash_more(hash, (guchar)bytes[i]);
  return hash;
}

static guint entry_hash(gconstpointer data)
{
  return ((const Entry *)data)->hash;
}

static gboolean entry_equal(gconstpointer a, gconstpointer b)
{
  const Entry *x = a, *y = b;

  return x->hash == y->hash && x->len == y->len && memcmp(x->prefix, y->prefix, x->len) == 0;
}

static void entry_free(gpointer data)
{
  Entry *entry = data;

  g_free((char *)entry->prefix);
  g_ptr_array_unref(entry->subscribers);
  g_free(entry);
}

static void subscription_clear(gpointer data)
{
  g_free(((Subscription *)data)->prefix);
}

static void peer_free(gpointer data)
{
  Peer *peer = data;

  g_array_unref(peer->subscriptions);
  g_free(peer->name);
  g_free(peer);
}

KvSubscriptions *kv_subscriptions_new(void)
{
  KvSubscriptions *self = g_new0(KvSubscriptions, 1);

  self->peers = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, peer_free);
  self->owners = g_hash_table_new(g_direct_hash, g_direct_equal);
  self->entries = g_hash_table_new_full(entry_hash, entry_equal, NULL, entry_free);
  self->lengths = g_array_new(FALSE, FALSE, sizeof(guint));
  self->length_counts = g_hash_table_new(g_direct_hash, g_direct_equal);
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

/* The index entry of @len bytes of @prefix, or NULL. */
static Entry *lookup_entry(KvSubscriptions *self, const char *prefix, gsize len, guint hash)
{
  Entry probe = {prefix, len, hash, NULL};

  return g_hash_table_lookup(self->entries, &probe);
}

/* The position of @len in the rising lengths, or where it would go. */
static guint length_position(KvSubscriptions *self, gsize len, gboolean *found)
{
  guint lo = 0, hi = self->lengths->len;

  while (lo < hi) {
    guint mid = (lo + hi) / 2;
    if (g_array_index(self->lengths, guint, mid) < len)
      lo = mid + 1;
    else
      hi = mid;
  }
  *found = lo < self->lengths->len && g_array_index(self->lengths, guint, lo) == len;
  return lo;
}

/* Counts one entry more or fewer of @len bytes; a length appears in, or leaves, the
 * rising lengths with its first and last entry. */
static void count_length(KvSubscriptions *self, gsize len, int delta)
{
  gpointer key = GSIZE_TO_POINTER(len);
  guint count = GPOINTER_TO_UINT(g_hash_table_lookup(self->length_counts, key)) + delta;
  gboolean found;
  guint position = length_position(self, len, &found);

  if (count == 0) {
    g_hash_table_remove(self->length_counts, key);
    if (found)
      g_array_remove_index(self->lengths, position);
    return;
  }
  g_hash_table_insert(self->length_counts, key, GUINT_TO_POINTER(count));
  if (!found) {
    guint value = (guint)len;
    g_array_insert_val(self->lengths, position, value);
  }
}

static void index_add(KvSubscriptions *self, Peer *peer, const char *prefix,
                      KvSubscriptionKind kind)
{
  gsize len = strlen(prefix);
  guint hash = hash_bytes(prefix, len);
  Entry *entry = lookup_entry(self, prefix, len, hash);

  if (entry == NULL) {
    entry = g_new0(Entry, 1);
    entry->prefix = g_strdup(prefix);
    entry->len = len;
    entry->hash = hash;
    entry->subscribers = g_ptr_array_new_with_free_func(g_free);
    g_hash_table_add(self->entries, entry);
    count_length(self, len, 1);
  }
  Subscriber *subscriber = g_new(Subscriber, 1);
  *subscriber = (Subscriber){peer, kind};
  g_ptr_array_add(entry->subscribers, subscriber);
}

static void index_remove(KvSubscriptions *self, Peer *peer, const char *prefix,
                         KvSubscriptionKind kind)
{
  gsize len = strlen(prefix);
  Entry *entry = lookup_entry(self, prefix, len, hash_bytes(prefix, len));

  for (guint i = 0; entry != NULL && i < entry->subscribers->len; i++) {
    Subscriber *subscriber = g_ptr_array_index(entry->subscribers, i);
    if (subscriber->peer == peer && subscriber->kind == kind) {
      g_ptr_array_remove_index_fast(entry->subscribers, i);
      break;
    }
  }
  if (entry == NULL || entry->subscribers->len > 0)
    return;
  g_hash_table_remove(self->entries, entry);
  count_length(self, len, -1);
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

gboolean kv_subscriptions_add(KvSubscriptions *self, const char *name, guint32 owner,
                              const char *prefix, KvSubscriptionKind kind, GError **error)
{
  Peer *peer = g_hash_table_lookup(self->peers, name);

  if (peer != NULL && find(peer->subscriptions, prefix, kind) != NULL)
    return TRUE;
  if (peer != NULL && peer->subscriptions->len >= KV_SUBSCRIPTIONS_MAX_PER_PEER) {
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
  if (peer == NULL) {
    peer = g_new0(Peer, 1);
    peer->name = g_strdup(name);
    peer->subscriptions = g_array_new(FALSE, FALSE, sizeof(Subscription));
    peer->owner = owner;
    g_array_set_clear_func(peer->subscriptions, subscription_clear);
    g_hash_table_insert(self->peers, peer->name, peer);
  }
  Subscription s = {g_strdup(prefix), kind};
  g_array_append_val(peer->subscriptions, s);
  index_add(self, peer, prefix, kind);
  self->n_by_kind[kind]++;
  owner_add(self, owner, 1);
  return TRUE;
}

gboolean kv_subscriptions_remove(KvSubscriptions *self, const char *name, const char *prefix)
{
  Peer *peer = g_hash_table_lookup(self->peers, name);
  gboolean removed = FALSE;

  for (guint i = peer != NULL ? peer->subscriptions->len : 0; i-- > 0;) {
    Subscription *s = &g_array_index(peer->subscriptions, Subscription, i);
    if (strcmp(s->prefix, prefix) == 0) {
      index_remove(self, peer, s->prefix, s->kind);
      self->n_by_kind[s->kind]--;
      owner_add(self, peer->owner, -1);
      g_array_remove_index_fast(peer->subscriptions, i);
      removed = TRUE;
    }
  }
  if (peer != NULL && peer->subscriptions->len == 0)
    g_hash_table_remove(self->peers, name);
  return removed;
}

void kv_subscriptions_remove_peer(KvSubscriptions *self, const char *name)
{
  Peer *peer = g_hash_table_lookup(self->peers, name);

  if (peer == NULL)
    return;
  for (guint i = 0; i < peer->subscriptions->len; i++) {
    const Subscription *s = &g_array_index(peer->subscriptions, Subscription, i);
    index_remove(self, peer, s->prefix, s->kind);
    self->n_by_kind[s->kind]--;
  }
  owner_add(self, peer->owner, -(int)peer->subscriptions->len);
  g_hash_table_remove(self->peers, name);
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

gboolean kv_subscriptions_peer_matches(KvSubscriptions *self, const char *name, const char *key,
                                       KvSubscriptionKind kind)
{
  Peer *peer = g_hash_table_lookup(self->peers, name);

  return peer != NULL && matches(peer->subscriptions, key, kind);
}

gboolean kv_subscriptions_any(KvSubscriptions *self, KvSubscriptionKind kind)
{
  return self->n_by_kind[kind] > 0;
}

/* Calls @func for each peer with a subscription of @kind to a prefix of @key, once per
 * peer, until it returns FALSE; FALSE when it did. */
static gboolean walk_matches(KvSubscriptions *self, const char *key, KvSubscriptionKind kind,
                             gboolean (*func)(const char *peer, gpointer user_data),
                             gpointer user_data)
{
  g_autoptr(GHashTable) told = NULL; /* Peer: only when a peer may match twice */
  gsize key_len = strlen(key), hashed = 0;
  guint hash = HASH_START;

  if (self->n_by_kind[kind] == 0)
    return TRUE;
  for (guint l = 0; l < self->lengths->len; l++) {
    gsize len = g_array_index(self->lengths, guint, l);
    if (len > key_len)
      break;
    for (; hashed < len; hashed++)
      hash = hash_more(hash, (guchar)key[hashed]);
    Entry *entry = lookup_entry(self, key, len, hash);
    for (guint i = 0; entry != NULL && i < entry->subscribers->len; i++) {
      Subscriber *subscriber = g_ptr_array_index(entry->subscribers, i);
      if (subscriber->kind != kind)
        continue;
      if (subscriber->peer->subscriptions->len > 1) {
        if (told == NULL)
          told = g_hash_table_new(g_direct_hash, g_direct_equal);
        if (!g_hash_table_add(told, subscriber->peer))
          continue;
      }
      if (!func(subscriber->peer->name, user_data))
        return FALSE;
    }
  }
  return TRUE;
}

static gboolean stop(const char *peer, gpointer user_data)
{
  return FALSE;
}

gboolean kv_subscriptions_any_match(KvSubscriptions *self, const char *key, KvSubscriptionKind kind)
{
  return !walk_matches(self, key, kind, stop, NULL);
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

  walk_matches(self, key, kind, visit, &v);
}

void kv_subscriptions_foreach_peer(KvSubscriptions *self, KvSubscriptionKind kind,
                                   KvSubscriberFunc func, gpointer user_data)
{
  GHashTableIter iter;
  gpointer peer;

  if (self->n_by_kind[kind] == 0)
    return;
  g_hash_table_iter_init(&iter, self->peers);
  while (g_hash_table_iter_next(&iter, NULL, &peer))
    if (matches(((Peer *)peer)->subscriptions, NULL, kind))
      func(((Peer *)peer)->name, user_data);
}

guint kv_subscriptions_n_peers(KvSubscriptions *self)
{
  return g_hash_table_size(self->peers);
}

void kv_subscriptions_free(KvSubscriptions *self)
{
  if (self == NULL)
    return;
  g_hash_table_unref(self->entries);
  g_hash_table_unref(self->peers);
  g_hash_table_unref(self->owners);
  g_array_unref(self->lengths);
  g_hash_table_unref(self->length_counts);
  g_free(self);
}
