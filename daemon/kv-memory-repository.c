#include "kv-memory-repository.h"

#include <string.h>

typedef struct {
  KvRepository parent;
  GHashTable *table; /* char* key -> GVariant* value, both owned */
} KvMemoryRepository;

static GVariant *memory_get(KvRepository *repository, const char *key)
{
  KvMemoryRepository *self = (KvMemoryRepository *)repository;
  GVariant *value = g_hash_table_lookup(self->table, key);

  return value != NULL ? g_variant_ref(value) : NULL;
}

static gboolean memory_set(KvRepository *repository, const char *key, GVariant *value,
                           GError **error)
{
  KvMemoryRepository *self = (KvMemoryRepository *)repository;

  /* g_hash_table_replace keeps no stale key copy around and frees the old value. */
  g_hash_table_replace(self->table, g_strdup(key), g_variant_ref_sink(value));
  return TRUE;
}

static gboolean memory_delete(KvRepository *repository, const char *key, gboolean *out_existed,
                              GError **error)
{
  KvMemoryRepository *self = (KvMemoryRepository *)repository;
  gboolean existed = g_hash_table_remove(self->table, key);

  if (out_existed != NULL)
    *out_existed = existed;
  return TRUE;
}

static gboolean memory_exists(KvRepository *repository, const char *key)
{
  KvMemoryRepository *self = (KvMemoryRepository *)repository;

  return g_hash_table_contains(self->table, key);
}

static guint memory_count(KvRepository *repository)
{
  KvMemoryRepository *self = (KvMemoryRepository *)repository;

  return g_hash_table_size(self->table);
}

static int compare_keys(gconstpointer a, gconstpointer b)
{
  /* strcmp compares as unsigned char, which is the documented bytewise order. */
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void memory_foreach(KvRepository *repository, const char *prefix,
                           KvRepositoryForeachFunc func, gpointer user_data)
{
  KvMemoryRepository *self = (KvMemoryRepository *)repository;
  g_autoptr(GPtrArray) keys = g_ptr_array_new();
  GHashTableIter iter;
  gpointer key;

  g_hash_table_iter_init(&iter, self->table);
  while (g_hash_table_iter_next(&iter, &key, NULL))
    if (g_str_has_prefix(key, prefix))
      g_ptr_array_add(keys, key);

  g_ptr_array_sort(keys, compare_keys);
  for (guint i = 0; i < keys->len; i++) {
    const char *k = g_ptr_array_index(keys, i);
    func(k, g_hash_table_lookup(self->table, k), user_data);
  }
}

static void memory_free(KvRepository *repository)
{
  KvMemoryRepository *self = (KvMemoryRepository *)repository;

  g_hash_table_unref(self->table);
  g_free(self);
}

static const KvRepositoryVTable memory_vtable = {
    .get = memory_get,
    .set = memory_set,
    .delete = memory_delete,
    .exists = memory_exists,
    .count = memory_count,
    .foreach = memory_foreach,
    .free = memory_free,
};

KvRepository *kv_memory_repository_new(void)
{
  KvMemoryRepository *self = g_new0(KvMemoryRepository, 1);

  self->parent.vtable = &memory_vtable;
  self->table =
      g_hash_table_new_full(g_str_hash, g_str_equal, g_free, (GDestroyNotify)g_variant_unref);
  return &self->parent;
}
