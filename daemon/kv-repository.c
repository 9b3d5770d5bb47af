#include "kv-repository.h"

GVariant *kv_repository_get(KvRepository *self, const char *key)
{
  return self->vtable->get(self, key);
}

gboolean kv_repository_set(KvRepository *self, const char *key, GVariant *value, GError **error)
{
  return self->vtable->set(self, key, value, error);
}

gboolean kv_repository_delete(KvRepository *self, const char *key, gboolean *out_existed,
                              GError **error)
{
  return self->vtable->delete (self, key, out_existed, error);
}

gboolean kv_repository_exists(KvRepository *self, const char *key)
{
  return self->vtable->exists(self, key);
}

guint kv_repository_count(KvRepository *self)
{
  return self->vtable->count(self);
}

void kv_repository_foreach(KvRepository *self, const char *prefix, gboolean with_values,
                           KvRepositoryForeachFunc func, gpointer user_data)
{
  self->vtable->foreach (self, prefix, with_values, func, user_data);
}

gboolean kv_repository_commit(KvRepository *self, GError **error)
{
  return self->vtable->commit(self, error);
}

void kv_repository_free(KvRepository *self)
{
  if (self != NULL)
    self->vtable->free(self);
}
