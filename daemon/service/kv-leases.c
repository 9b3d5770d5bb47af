/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "kv-leases.h"

#include <stdlib.h>
#include <string.h>

struct _KvLeases {
  GHashTable *leases;    /* guint64 id -> KvLease */
  GHashTable *key_lease; /* key (borrowed from the lease's keys) -> KvLease */
  GHashTable *uid_count; /* uid -> count */
  GTree *deadlines;      /* KvLease with a deadline, by (deadline, id) */
  GHashTable *peers;     /* bound leases: peer -> set of KvLease */
};

static int compare_deadlines(gconstpointer a, gconstpointer b, gpointer unused)
{
  const KvLease *x = a, *y = b;

  if (x->deadline != y->deadline)
    return x->deadline < y->deadline ? -1 : 1;
  return x->id < y->id ? -1 : x->id > y->id;
}

static void lease_free(gpointer data)
{
  KvLease *lease = data;

  g_hash_table_unref(lease->keys);
  g_free(lease->peer);
  g_free(lease->bus);
  g_free(lease->lock);
  g_free(lease);
}

KvLeases *kv_leases_new(void)
{
  KvLeases *self = g_new0(KvLeases, 1);

  self->leases = g_hash_table_new_full(g_int64_hash, g_int64_equal, NULL, lease_free);
  self->key_lease = g_hash_table_new(g_str_hash, g_str_equal);
  self->uid_count = g_hash_table_new(NULL, NULL);
  self->deadlines = g_tree_new_full(compare_deadlines, NULL, NULL, NULL);
  self->peers =
      g_hash_table_new_full(g_str_hash, g_str_equal, g_free, (GDestroyNotify)g_hash_table_unref);
  return self;
}

void kv_leases_free(KvLeases *self)
{
  if (self == NULL)
    return;
  g_tree_destroy(self->deadlines);
  g_hash_table_unref(self->peers);
  g_hash_table_unref(self->key_lease);
  g_hash_table_unref(self->leases);
  g_hash_table_unref(self->uid_count);
  g_free(self);
}

char *kv_lease_record_key(guint64 id)
{
  return g_strdup_printf(KV_LEASE_PREFIX "%" G_GUINT64_FORMAT, id);
}

char *kv_lease_marker_key(guint64 id, const char *key)
{
  return g_strdup_printf(KV_LEASE_PREFIX "%" G_GUINT64_FORMAT "/%s", id, key);
}

gboolean kv_key_is_reserved(const char *key)
{
  return strncmp(key, KV_RESERVED_PREFIX, strlen(KV_RESERVED_PREFIX)) == 0;
}

/* Splits a key under KV_LEASE_PREFIX into its lease ID and, for a marker, the leased key
 * (NULL for the record). FALSE for a key of another shape, which is ignored. */
static gboolean parse_key(const char *key, guint64 *out_id, const char **out_leased)
{
  const char *rest = key + strlen(KV_LEASE_PREFIX);
  char *end;

  if (!g_ascii_isdigit(rest[0]))
    return FALSE;
  *out_id = g_ascii_strtoull(rest, &end, 10);
  if (*out_id == 0 || (*end != '\0' && *end != '/'))
    return FALSE;
  *out_leased = *end == '/' && end[1] != '\0' ? end + 1 : NULL;
  return *end == '\0' || *out_leased != NULL;
}

static void count_uid(KvLeases *self, guint32 uid, int delta)
{
  guint count = GPOINTER_TO_UINT(g_hash_table_lookup(self->uid_count, GUINT_TO_POINTER(uid)));

  count += delta;
  if (count == 0)
    g_hash_table_remove(self->uid_count, GUINT_TO_POINTER(uid));
  else
    g_hash_table_insert(self->uid_count, GUINT_TO_POINTER(uid), GUINT_TO_POINTER(count));
}

/* Files @lease under its peer, or takes it out (@add FALSE). */
static void index_peer(KvLeases *self, KvLease *lease, gboolean add)
{
  if (lease->peer == NULL)
    return;
  GHashTable *set = g_hash_table_lookup(self->peers, lease->peer);
  if (add) {
    if (set == NULL) {
      set = g_hash_table_new(NULL, NULL);
      g_hash_table_insert(self->peers, g_strdup(lease->peer), set);
    }
    g_hash_table_add(set, lease);
    return;
  }
  if (set != NULL && g_hash_table_remove(set, lease) && g_hash_table_size(set) == 0)
    g_hash_table_remove(self->peers, lease->peer);
}

static void forget_lease(KvLeases *self, KvLease *lease)
{
  GHashTableIter iter;
  gpointer key;

  if (lease->deadline != 0)
    g_tree_remove(self->deadlines, lease);
  index_peer(self, lease, FALSE);
  g_hash_table_iter_init(&iter, lease->keys);
  while (g_hash_table_iter_next(&iter, &key, NULL))
    if (g_hash_table_lookup(self->key_lease, key) == lease)
      g_hash_table_remove(self->key_lease, key);
  count_uid(self, lease->uid, -1);
  g_hash_table_remove(self->leases, &lease->id);
}

/* The lease @id, made (without a record yet: a marker may come first when walking the
 * keys in order) if it is not known. */
static KvLease *ensure_lease(KvLeases *self, guint64 id)
{
  KvLease *lease = g_hash_table_lookup(self->leases, &id);

  if (lease != NULL)
    return lease;
  lease = g_new0(KvLease, 1);
  lease->id = id;
  lease->keys = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
  g_hash_table_insert(self->leases, &lease->id, lease);
  count_uid(self, lease->uid, 1);
  return lease;
}

static char *lookup_string(GVariantDict *dict, const char *name)
{
  const char *value;

  return g_variant_dict_lookup(dict, name, "&s", &value) ? g_strdup(value) : NULL;
}

static void read_record(KvLeases *self, KvLease *lease, GVariant *value, guint64 revision)
{
  guint32 uid = 0;
  gint64 deadline = 0;

  if (!g_variant_is_of_type(value, G_VARIANT_TYPE_VARDICT))
    return;
  g_auto(GVariantDict) dict;
  g_variant_dict_init(&dict, value);
  if (lease->deadline != 0)
    g_tree_remove(self->deadlines, lease);
  lease->ttl_ms = 0;
  g_variant_dict_lookup(&dict, "ttl", "t", &lease->ttl_ms);
  g_variant_dict_lookup(&dict, "deadline", "x", &deadline);
  lease->deadline = deadline;
  if (lease->deadline != 0)
    g_tree_insert(self->deadlines, lease, lease);
  g_variant_dict_lookup(&dict, "uid", "u", &uid);
  if (uid != lease->uid) {
    count_uid(self, lease->uid, -1);
    count_uid(self, uid, 1);
    lease->uid = uid;
  }
  index_peer(self, lease, FALSE);
  g_free(lease->peer);
  g_free(lease->bus);
  g_free(lease->lock);
  lease->peer = lookup_string(&dict, "peer");
  index_peer(self, lease, TRUE);
  lease->bus = lookup_string(&dict, "bus");
  lease->lock = lookup_string(&dict, "lock");
  lease->renewed = FALSE;
  g_variant_dict_lookup(&dict, "renewed", "b", &lease->renewed);
  lease->revision = revision;
}

gboolean kv_leases_observe(KvLeases *self, const char *key, GVariant *value, guint64 revision)
{
  guint64 id;
  const char *leased;

  if (!parse_key(key, &id, &leased))
    return FALSE;
  KvLease *lease = g_hash_table_lookup(self->leases, &id);
  if (leased == NULL) {
    if (value == NULL) {
      if (lease != NULL)
        forget_lease(self, lease);
      return lease != NULL;
    }
    read_record(self, ensure_lease(self, id), value, revision);
    return TRUE;
  }
  if (value == NULL) {
    if (lease == NULL)
      return FALSE;
    if (g_hash_table_lookup(self->key_lease, leased) == lease)
      g_hash_table_remove(self->key_lease, leased);
    g_hash_table_remove(lease->keys, leased);
    return FALSE;
  }
  lease = ensure_lease(self, id);
  char *owned = g_strdup(leased);
  g_hash_table_replace(lease->keys, owned, NULL);
  g_hash_table_replace(self->key_lease, owned, lease);
  return FALSE;
}

static gboolean load_one(const char *key, GVariant *value, guint64 revision, gpointer user_data)
{
  kv_leases_observe(user_data, key, value, revision);
  return TRUE;
}

void kv_leases_load(KvLeases *self, KvRepository *repository)
{
  g_tree_remove_all(self->deadlines);
  g_hash_table_remove_all(self->peers);
  g_hash_table_remove_all(self->key_lease);
  g_hash_table_remove_all(self->leases);
  g_hash_table_remove_all(self->uid_count);
  kv_repository_foreach(repository, KV_LEASE_PREFIX, NULL, TRUE, load_one, self);
}

const KvLease *kv_leases_lookup(KvLeases *self, guint64 id)
{
  KvLease *lease = g_hash_table_lookup(self->leases, &id);

  /* Markers without their record (a damaged store) are no lease. */
  return lease != NULL && lease->revision != 0 ? lease : NULL;
}

guint64 kv_leases_of_key(KvLeases *self, const char *key)
{
  KvLease *lease = g_hash_table_lookup(self->key_lease, key);

  return lease != NULL ? lease->id : 0;
}

guint kv_leases_count_uid(KvLeases *self, guint32 uid)
{
  return GPOINTER_TO_UINT(g_hash_table_lookup(self->uid_count, GUINT_TO_POINTER(uid)));
}

guint kv_leases_count(KvLeases *self)
{
  return g_hash_table_size(self->leases);
}

gint64 kv_leases_next_deadline(KvLeases *self)
{
  GTreeNode *first = g_tree_node_first(self->deadlines);

  return first != NULL ? ((KvLease *)g_tree_node_key(first))->deadline : 0;
}

GArray *kv_leases_expired(KvLeases *self, gint64 now)
{
  GArray *ids = g_array_new(FALSE, FALSE, sizeof(guint64));

  for (GTreeNode *node = g_tree_node_first(self->deadlines); node != NULL;
       node = g_tree_node_next(node)) {
    KvLease *lease = g_tree_node_key(node);
    if (lease->deadline > now)
      break;
    g_array_append_val(ids, lease->id);
  }
  return ids;
}

static void append_ids(GHashTable *set, GArray *ids)
{
  GHashTableIter iter;
  gpointer lease;

  g_hash_table_iter_init(&iter, set);
  while (g_hash_table_iter_next(&iter, &lease, NULL))
    g_array_append_val(ids, ((KvLease *)lease)->id);
}

GArray *kv_leases_bound(KvLeases *self, const char *peer)
{
  GArray *ids = g_array_new(FALSE, FALSE, sizeof(guint64));
  GHashTableIter iter;
  gpointer set;

  if (peer != NULL) {
    set = g_hash_table_lookup(self->peers, peer);
    if (set != NULL)
      append_ids(set, ids);
    return ids;
  }
  g_hash_table_iter_init(&iter, self->peers);
  while (g_hash_table_iter_next(&iter, NULL, &set))
    append_ids(set, ids);
  return ids;
}
