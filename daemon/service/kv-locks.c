/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "kv-locks.h"

#include <string.h>

typedef struct {
  guint64 lease;
  guint64 token; /* the revision of its key */
  char *peer;
  char *bus;
} Waiter;

typedef struct {
  GQueue queue;       /* Waiter, by token: the head holds the lock */
  GHashTable *leases; /* guint64 lease -> its GList link in queue */
} Queue;

struct _KvLocks {
  GHashTable *locks; /* name -> Queue */
  KvLockGrantFunc grant;
  gpointer grant_data;
};

static void waiter_free(gpointer data)
{
  Waiter *waiter = data;

  g_free(waiter->peer);
  g_free(waiter->bus);
  g_free(waiter);
}

static void queue_free(gpointer data)
{
  Queue *queue = data;

  g_queue_clear_full(&queue->queue, waiter_free);
  g_hash_table_unref(queue->leases);
  g_free(queue);
}

KvLocks *kv_locks_new(void)
{
  KvLocks *self = g_new0(KvLocks, 1);

  self->locks = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, queue_free);
  return self;
}

void kv_locks_free(KvLocks *self)
{
  if (self == NULL)
    return;
  g_hash_table_unref(self->locks);
  g_free(self);
}

char *kv_lock_waiter_key(const char *name, guint64 lease)
{
  return g_strdup_printf(KV_LOCK_PREFIX "%s/%" G_GUINT64_FORMAT, name, lease);
}

void kv_locks_set_grant_func(KvLocks *self, KvLockGrantFunc func, gpointer user_data)
{
  self->grant = func;
  self->grant_data = user_data;
}

/* Splits a waiter key into the lock's name (a new string) and the lease; FALSE for a key
 * of another shape, which is ignored. */
static gboolean parse_key(const char *key, char **out_name, guint64 *out_lease)
{
  const char *name = key + strlen(KV_LOCK_PREFIX);
  const char *slash = strrchr(name, '/');
  char *end;

  if (slash == NULL || slash == name || !g_ascii_isdigit(slash[1]))
    return FALSE;
  *out_lease = g_ascii_strtoull(slash + 1, &end, 10);
  if (*end != '\0' || *out_lease == 0)
    return FALSE;
  *out_name = g_strndup(name, slash - name);
  return TRUE;
}

static void tell_holder(KvLocks *self, const char *name, Queue *queue)
{
  Waiter *holder = g_queue_peek_head(&queue->queue);

  if (holder != NULL && self->grant != NULL)
    self->grant(name, holder->lease, holder->token, holder->peer, holder->bus, self->grant_data);
}

static char *lookup_string(GVariant *value, const char *name)
{
  const char *found;

  if (!g_variant_is_of_type(value, G_VARIANT_TYPE_VARDICT) ||
      !g_variant_lookup(value, name, "&s", &found))
    return NULL;
  return g_strdup(found);
}

static int compare_tokens(gconstpointer a, gconstpointer b, gpointer unused)
{
  const Waiter *x = a, *y = b;

  return x->token < y->token ? -1 : x->token > y->token;
}

/* Adds a waiter; TRUE when it holds the lock. */
static gboolean add_waiter(KvLocks *self, const char *name, guint64 lease, GVariant *value,
                           guint64 revision)
{
  Queue *queue = g_hash_table_lookup(self->locks, name);

  if (queue == NULL) {
    queue = g_new0(Queue, 1);
    queue->leases = g_hash_table_new_full(g_int64_hash, g_int64_equal, NULL, NULL);
    g_hash_table_insert(self->locks, g_strdup(name), queue);
  }
  GList *link = g_hash_table_lookup(queue->leases, &lease);
  /* kvstored writes a waiter once; rewritten, it keeps its place. */
  if (link != NULL)
    return FALSE;
  Waiter *waiter = g_new0(Waiter, 1);
  waiter->lease = lease;
  waiter->token = revision;
  waiter->peer = lookup_string(value, "peer");
  waiter->bus = lookup_string(value, "bus");
  /* Changes come in revision order: last, but when walking the keys at start-up. */
  Waiter *last = g_queue_peek_tail(&queue->queue);
  if (last == NULL || last->token < revision) {
    g_queue_push_tail(&queue->queue, waiter);
    link = queue->queue.tail;
  } else {
    g_queue_insert_sorted(&queue->queue, waiter, compare_tokens, NULL);
    link = g_queue_find(&queue->queue, waiter);
  }
  g_hash_table_insert(queue->leases, &waiter->lease, link);
  return link == queue->queue.head;
}

/* Takes a waiter out; TRUE when it held the lock and another now does. */
static gboolean remove_waiter(KvLocks *self, const char *name, guint64 lease)
{
  Queue *queue = g_hash_table_lookup(self->locks, name);
  if (queue == NULL)
    return FALSE;
  GList *link = g_hash_table_lookup(queue->leases, &lease);
  if (link == NULL)
    return FALSE;
  gboolean was_holder = link == queue->queue.head;
  Waiter *waiter = link->data;
  g_hash_table_remove(queue->leases, &lease);
  g_queue_delete_link(&queue->queue, link);
  waiter_free(waiter);
  if (g_queue_is_empty(&queue->queue)) {
    g_hash_table_remove(self->locks, name);
    return FALSE;
  }
  return was_holder;
}

void kv_locks_observe(KvLocks *self, const char *key, GVariant *value, guint64 revision)
{
  g_autofree char *name = NULL;
  guint64 lease;

  if (!parse_key(key, &name, &lease))
    return;
  gboolean granted = value != NULL ? add_waiter(self, name, lease, value, revision)
                                   : remove_waiter(self, name, lease);
  if (granted)
    tell_holder(self, name, g_hash_table_lookup(self->locks, name));
}

static gboolean load_one(const char *key, GVariant *value, guint64 revision, gpointer user_data)
{
  KvLocks *self = user_data;
  g_autofree char *name = NULL;
  guint64 lease;

  if (parse_key(key, &name, &lease))
    add_waiter(self, name, lease, value, revision);
  return TRUE;
}

void kv_locks_load(KvLocks *self, KvRepository *repository)
{
  g_hash_table_remove_all(self->locks);
  kv_repository_foreach(repository, KV_LOCK_PREFIX, NULL, TRUE, load_one, self);
}

guint64 kv_locks_holder(KvLocks *self, const char *name, guint64 *out_lease)
{
  Queue *queue = g_hash_table_lookup(self->locks, name);
  Waiter *holder = queue != NULL ? g_queue_peek_head(&queue->queue) : NULL;

  if (out_lease != NULL)
    *out_lease = holder != NULL ? holder->lease : 0;
  return holder != NULL ? holder->token : 0;
}

guint64 kv_locks_token_of(KvLocks *self, const char *name, guint64 lease)
{
  Queue *queue = g_hash_table_lookup(self->locks, name);
  GList *link = queue != NULL ? g_hash_table_lookup(queue->leases, &lease) : NULL;

  return link != NULL ? ((Waiter *)link->data)->token : 0;
}

guint64 kv_locks_lease_of(KvLocks *self, const char *name, guint64 token)
{
  Queue *queue = g_hash_table_lookup(self->locks, name);

  for (GList *link = queue != NULL ? queue->queue.head : NULL; link != NULL; link = link->next)
    if (((Waiter *)link->data)->token == token)
      return ((Waiter *)link->data)->lease;
  return 0;
}

guint kv_locks_queue_length(KvLocks *self, const char *name)
{
  Queue *queue = g_hash_table_lookup(self->locks, name);

  return queue != NULL ? queue->queue.length : 0;
}
