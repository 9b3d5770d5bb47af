/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "kv-repository.h"

GVariant *kv_repository_lookup(KvRepository *self, const char *key, guint64 *out_revision)
{
  return self->vtable->lookup(self, key, out_revision);
}

GVariant *kv_repository_get(KvRepository *self, const char *key)
{
  return self->vtable->lookup(self, key, NULL);
}

GVariant *kv_repository_peek(KvRepository *self, const char *key)
{
  if (self->vtable->peek == NULL)
    return kv_repository_get(self, key);
  return self->vtable->peek(self, key);
}

gboolean kv_repository_apply(KvRepository *self, const KvChange *changes, gsize n_changes,
                             GError **error)
{
  return self->vtable->apply(self, changes, n_changes, error);
}

gboolean kv_repository_set(KvRepository *self, const char *key, GVariant *value, GError **error)
{
  g_autoptr(GVariant) owned = g_variant_ref_sink(value);
  KvChange change = {key, owned};

  return self->vtable->apply(self, &change, 1, error);
}

gboolean kv_repository_delete(KvRepository *self, const char *key, gboolean *out_existed,
                              GError **error)
{
  KvChange change = {key, NULL};
  gboolean existed = self->vtable->exists(self, key);

  if (out_existed != NULL)
    *out_existed = existed;
  /* Deleting a missing key changes nothing. */
  return !existed || self->vtable->apply(self, &change, 1, error);
}

gboolean kv_repository_exists(KvRepository *self, const char *key)
{
  return self->vtable->exists(self, key);
}

guint kv_repository_count(KvRepository *self)
{
  return self->vtable->count(self);
}

guint64 kv_repository_revision(KvRepository *self)
{
  return self->vtable->revision(self);
}

void kv_repository_foreach(KvRepository *self, const char *prefix, const char *after,
                           gboolean with_values, KvRepositoryForeachFunc func, gpointer user_data)
{
  self->vtable->foreach (self, prefix, after, with_values, func, user_data);
}

gboolean kv_repository_commit(KvRepository *self, GError **error)
{
  return self->vtable->commit(self, error);
}

void kv_repository_commit_start(KvRepository *self, KvRepositoryCommitFunc done, gpointer user_data)
{
  g_autoptr(GError) error = NULL;

  if (self->vtable->commit_start != NULL) {
    self->vtable->commit_start(self, done, user_data);
    return;
  }
  kv_repository_commit(self, &error);
  done(kv_repository_revision(self), error, user_data);
}

void kv_repository_commit_wait(KvRepository *self)
{
  if (self->vtable->commit_wait != NULL)
    self->vtable->commit_wait(self);
}

void kv_repository_free(KvRepository *self)
{
  if (self != NULL)
    self->vtable->free(self);
}

void kv_repository_submit(KvRepository *self, const KvChange *changes, gsize n_changes,
                          const KvCompare *compares, gsize n_compares, KvRepositorySubmitFunc done,
                          gpointer user_data)
{
  g_autoptr(GError) error = NULL;

  if (self->vtable->submit != NULL) {
    self->vtable->submit(self, changes, n_changes, compares, n_compares, done, user_data);
    return;
  }
  if (!kv_repository_apply(self, changes, n_changes, &error)) {
    done(0, error, user_data);
    return;
  }
  done(kv_repository_revision(self), NULL, user_data);
}

gboolean kv_repository_set_change_func(KvRepository *self, KvRepositoryChangeFunc func,
                                       gpointer user_data)
{
  if (self->vtable->set_change_func == NULL)
    return FALSE;
  self->vtable->set_change_func(self, func, user_data);
  return TRUE;
}

gboolean kv_repository_is_current(KvRepository *self)
{
  return self->vtable->is_current == NULL || self->vtable->is_current(self);
}

void kv_repository_sync(KvRepository *self, KvRepositorySyncFunc done, gpointer user_data,
                        GDestroyNotify drop)
{
  if (self->vtable->sync == NULL) {
    done(NULL, user_data);
    return;
  }
  self->vtable->sync(self, done, user_data, drop);
}

gboolean kv_repository_answers_later(KvRepository *self)
{
  return self->vtable->submit != NULL;
}
