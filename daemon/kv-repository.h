#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The store's storage contract. A repository maps keys to GVariant values and applies
 * no business rules: validation and increments live in KvService. Implementations embed
 * KvRepository as their first member and point it at their vtable. */
typedef struct _KvRepository KvRepository;

/* Called once per entry in bytewise key order; the key and value (NULL when values were
 * not asked for) are borrowed. */
typedef void (*KvRepositoryForeachFunc)(const char *key, GVariant *value, gpointer user_data);

typedef struct {
  GVariant *(*get)(KvRepository *self, const char *key);
  gboolean (*set)(KvRepository *self, const char *key, GVariant *value, GError **error);
  gboolean (*delete)(KvRepository *self, const char *key, gboolean *out_existed, GError **error);
  gboolean (*exists)(KvRepository *self, const char *key);
  guint (*count)(KvRepository *self);
  gboolean (*commit)(KvRepository *self, GError **error);
  void (*foreach)(KvRepository *self, const char *prefix, gboolean with_values,
                  KvRepositoryForeachFunc func, gpointer user_data);
  void (*free)(KvRepository *self);
} KvRepositoryVTable;

struct _KvRepository {
  const KvRepositoryVTable *vtable;
};

/* Returns a new reference to the value stored under @key, or NULL when there is none. */
GVariant *kv_repository_get(KvRepository *self, const char *key);

/* Stores @value (sinking a floating reference) under @key, replacing any previous value.
 * On failure nothing changed. */
gboolean kv_repository_set(KvRepository *self, const char *key, GVariant *value, GError **error);

/* Removes @key; @out_existed (may be NULL) tells whether it was there. On failure nothing
 * changed. */
gboolean kv_repository_delete(KvRepository *self, const char *key, gboolean *out_existed,
                              GError **error);

/* Whether @key is stored. */
gboolean kv_repository_exists(KvRepository *self, const char *key);

/* The number of stored keys. */
guint kv_repository_count(KvRepository *self);

/* Calls @func for every key starting with @prefix ("" for all), in bytewise key order,
 * with its value, or with NULL unless @with_values. @func must not modify the repository. */
void kv_repository_foreach(KvRepository *self, const char *prefix, gboolean with_values,
                           KvRepositoryForeachFunc func, gpointer user_data);

/* Makes every change since the last commit durable, as the implementation defines it.
 * On failure those changes are all undone, and @error is KV_ERROR_STORAGE. */
gboolean kv_repository_commit(KvRepository *self, GError **error);

/* Frees the repository and every value it holds; uncommitted changes are lost. */
void kv_repository_free(KvRepository *self);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(KvRepository, kv_repository_free)

G_END_DECLS
