/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "kv-quota.h"

#include "kv-error.h"

#include <string.h>

typedef struct {
  gint64 keys;
  gint64 bytes;
} Usage;

struct _KvQuota {
  GHashTable *scopes; /* name -> Usage */
};

static Usage *usage_of(KvQuota *self, const char *scope)
{
  Usage *usage = g_hash_table_lookup(self->scopes, scope);

  if (usage == NULL) {
    usage = g_new0(Usage, 1);
    g_hash_table_insert(self->scopes, g_strdup(scope), usage);
  }
  return usage;
}

typedef struct {
  KvQuota *quota;
  const KvAccess *access;
} Walk;

static gboolean count_entry(const char *key, GVariant *value, guint64 revision, gpointer data)
{
  Walk *walk = data;
  guint64 max_keys, max_bytes;
  g_autofree char *scope = kv_access_quota_scope(walk->access, key, &max_keys, &max_bytes);
  Usage *usage = usage_of(walk->quota, scope);

  usage->keys++;
  usage->bytes += (gint64)(strlen(key) + g_variant_get_size(value));
  return TRUE;
}

KvQuota *kv_quota_new(KvRepository *repository, const KvAccess *access)
{
  KvQuota *self = g_new0(KvQuota, 1);
  Walk walk = {self, access};

  self->scopes = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
  kv_repository_foreach(repository, "", NULL, TRUE, count_entry, &walk);
  return self;
}

/* What a write changes in one scope, with the scope's limits and the first key of the
 * write that falls in it (for messages). */
typedef struct {
  Usage usage;
  guint64 max_keys;
  guint64 max_bytes;
  const char *first_key;
} Delta;

/* Sums @changes by scope: name -> Delta. */
static GHashTable *sum_changes(const KvAccess *access, const KvQuotaChange *changes, gsize n)
{
  GHashTable *deltas = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);

  for (gsize i = 0; i < n; i++) {
    guint64 max_keys, max_bytes;
    char *scope = kv_access_quota_scope(access, changes[i].key, &max_keys, &max_bytes);
    Delta *delta = g_hash_table_lookup(deltas, scope);

    if (delta == NULL) {
      delta = g_new0(Delta, 1);
      delta->max_keys = max_keys;
      delta->max_bytes = max_bytes;
      delta->first_key = changes[i].key;
      g_hash_table_insert(deltas, scope, delta);
    } else {
      g_free(scope);
    }
    /* A key costs its own bytes too: 10,000 keys of 4 KB held 40 MB on disk. */
    gssize key_bytes = (gssize)strlen(changes[i].key);
    delta->usage.keys += (changes[i].new_size >= 0) - (changes[i].old_size >= 0);
    delta->usage.bytes += (changes[i].new_size >= 0 ? changes[i].new_size + key_bytes : 0) -
                          (changes[i].old_size >= 0 ? changes[i].old_size + key_bytes : 0);
  }
  return deltas;
}

gboolean kv_quota_check(KvQuota *self, const KvAccess *access, const KvQuotaChange *changes,
                        gsize n_changes, GError **error)
{
  g_autoptr(GHashTable) deltas = sum_changes(access, changes, n_changes);
  GHashTableIter iter;
  gpointer scope, value;

  g_hash_table_iter_init(&iter, deltas);
  while (g_hash_table_iter_next(&iter, &scope, &value)) {
    const Delta *delta = value;
    gint64 more_keys = delta->usage.keys, more_bytes = delta->usage.bytes;
    guint64 keys, bytes;

    kv_quota_usage(self, scope, &keys, &bytes);
    if (more_keys > 0 && keys + (guint64)more_keys > delta->max_keys) {
      g_set_error(error, KV_ERROR, KV_ERROR_QUOTA_EXCEEDED,
                  "Writing '%s' would make the quota of %s hold %" G_GUINT64_FORMAT
                  " keys; its limit is %" G_GUINT64_FORMAT,
                  delta->first_key, (const char *)scope, keys + (guint64)more_keys,
                  delta->max_keys);
      return FALSE;
    }
    if (more_bytes > 0 && bytes + (guint64)more_bytes > delta->max_bytes) {
      g_set_error(error, KV_ERROR, KV_ERROR_QUOTA_EXCEEDED,
                  "Writing '%s' would make the quota of %s hold %" G_GUINT64_FORMAT
                  " bytes of keys and values; its limit is %" G_GUINT64_FORMAT,
                  delta->first_key, (const char *)scope, bytes + (guint64)more_bytes,
                  delta->max_bytes);
      return FALSE;
    }
  }
  return TRUE;
}

void kv_quota_apply(KvQuota *self, const KvAccess *access, const KvQuotaChange *changes,
                    gsize n_changes)
{
  g_autoptr(GHashTable) deltas = sum_changes(access, changes, n_changes);
  GHashTableIter iter;
  gpointer scope, value;

  g_hash_table_iter_init(&iter, deltas);
  while (g_hash_table_iter_next(&iter, &scope, &value)) {
    const Delta *delta = value;
    Usage *usage = usage_of(self, scope);

    usage->keys += delta->usage.keys;
    usage->bytes += delta->usage.bytes;
  }
}

void kv_quota_usage(KvQuota *self, const char *scope, guint64 *out_keys, guint64 *out_bytes)
{
  const Usage *usage = g_hash_table_lookup(self->scopes, scope);

  *out_keys = usage != NULL ? (guint64)MAX(usage->keys, 0) : 0;
  *out_bytes = usage != NULL ? (guint64)MAX(usage->bytes, 0) : 0;
}

void kv_quota_free(KvQuota *self)
{
  if (self == NULL)
    return;
  g_hash_table_unref(self->scopes);
  g_free(self);
}
