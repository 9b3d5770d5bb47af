/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "kvstore/kvstore-client.h"

#include "kvstore/kvstore-error.h"

#define BUS_NAME    "org.example.KVStore"
#define OBJECT_PATH "/org/example/KVStore"
#define INTERFACE   "org.example.KVStore"

struct _KvStoreClient {
  GObject parent;
  GDBusConnection *connection;
};

G_DEFINE_FINAL_TYPE(KvStoreClient, kv_store_client, G_TYPE_OBJECT)

static void kv_store_client_finalize(GObject *object)
{
  KvStoreClient *self = KV_STORE_CLIENT(object);

  g_clear_object(&self->connection);
  G_OBJECT_CLASS(kv_store_client_parent_class)->finalize(object);
}

static void kv_store_client_class_init(KvStoreClientClass *klass)
{
  G_OBJECT_CLASS(klass)->finalize = kv_store_client_finalize;
  /* Before any reply: GDBus maps the error names it knows as the reply arrives. */
  (void)KV_STORE_ERROR;
}

static void kv_store_client_init(KvStoreClient *self)
{
}

KvStoreClient *kv_store_client_new_for_connection(GDBusConnection *connection)
{
  g_return_val_if_fail(G_IS_DBUS_CONNECTION(connection), NULL);
  KvStoreClient *self = g_object_new(KV_TYPE_STORE_CLIENT, NULL);

  self->connection = g_object_ref(connection);
  return self;
}

KvStoreClient *kv_store_client_new_sync(GBusType bus_type, GCancellable *cancellable,
                                        GError **error)
{
  g_autoptr(GDBusConnection) connection = g_bus_get_sync(bus_type, cancellable, error);

  return connection != NULL ? kv_store_client_new_for_connection(connection) : NULL;
}

GDBusConnection *kv_store_client_get_connection(KvStoreClient *self)
{
  g_return_val_if_fail(KV_IS_STORE_CLIENT(self), NULL);
  return self->connection;
}

/* A mapped error keeps the D-Bus name in its message: the message alone is kvstored's. */
static void strip(GError *error)
{
  if (error != NULL && error->domain == KV_STORE_ERROR)
    g_dbus_error_strip_remote_error(error);
}

static GVariant *call_sync(KvStoreClient *self, const char *method, GVariant *parameters,
                           const char *reply_type, GCancellable *cancellable, GError **error)
{
  GError *local_error = NULL;
  GVariant *reply = g_dbus_connection_call_sync(
      self->connection, BUS_NAME, OBJECT_PATH, INTERFACE, method, parameters,
      G_VARIANT_TYPE(reply_type), G_DBUS_CALL_FLAGS_NONE, -1, cancellable, &local_error);

  strip(local_error);
  if (local_error != NULL)
    g_propagate_error(error, local_error);
  return reply;
}

static void on_call_done(GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(GTask) task = user_data;
  GError *error = NULL;
  GVariant *reply = g_dbus_connection_call_finish(G_DBUS_CONNECTION(source), result, &error);

  if (reply == NULL) {
    strip(error);
    g_task_return_error(task, error);
    return;
  }
  g_task_return_pointer(task, reply, (GDestroyNotify)g_variant_unref);
}

static void call(KvStoreClient *self, const char *method, GVariant *parameters,
                 const char *reply_type, GCancellable *cancellable, GAsyncReadyCallback callback,
                 gpointer user_data, gpointer tag)
{
  GTask *task = g_task_new(self, cancellable, callback, user_data);

  g_task_set_source_tag(task, tag);
  g_dbus_connection_call(self->connection, BUS_NAME, OBJECT_PATH, INTERFACE, method, parameters,
                         G_VARIANT_TYPE(reply_type), G_DBUS_CALL_FLAGS_NONE, -1, cancellable,
                         on_call_done, task);
}

static GVariant *call_finish(KvStoreClient *self, GAsyncResult *result, gpointer tag,
                             GError **error)
{
  g_return_val_if_fail(g_task_is_valid(result, self), NULL);
  g_return_val_if_fail(g_task_get_source_tag(G_TASK(result)) == tag, NULL);
  return g_task_propagate_pointer(G_TASK(result), error);
}

/* The value of a GetWithRevision reply. */
static GVariant *unpack_value(GVariant *reply, guint64 *out_revision)
{
  GVariant *value = NULL;
  guint64 revision = 0;

  if (reply == NULL)
    return NULL;
  g_variant_get(reply, "(vt)", &value, &revision);
  if (out_revision != NULL)
    *out_revision = revision;
  g_variant_unref(reply);
  return value;
}

void kv_store_client_get(KvStoreClient *self, const char *key, GCancellable *cancellable,
                         GAsyncReadyCallback callback, gpointer user_data)
{
  g_return_if_fail(KV_IS_STORE_CLIENT(self));
  call(self, "GetWithRevision", g_variant_new("(s)", key), "(vt)", cancellable, callback, user_data,
       kv_store_client_get);
}

GVariant *kv_store_client_get_finish(KvStoreClient *self, GAsyncResult *result,
                                     guint64 *out_revision, GError **error)
{
  return unpack_value(call_finish(self, result, kv_store_client_get, error), out_revision);
}

GVariant *kv_store_client_get_sync(KvStoreClient *self, const char *key, guint64 *out_revision,
                                   GCancellable *cancellable, GError **error)
{
  g_return_val_if_fail(KV_IS_STORE_CLIENT(self), NULL);
  return unpack_value(
      call_sync(self, "GetWithRevision", g_variant_new("(s)", key), "(vt)", cancellable, error),
      out_revision);
}

void kv_store_client_set(KvStoreClient *self, const char *key, GVariant *value,
                         GCancellable *cancellable, GAsyncReadyCallback callback,
                         gpointer user_data)
{
  g_return_if_fail(KV_IS_STORE_CLIENT(self));
  call(self, "Set", g_variant_new("(sv)", key, value), "()", cancellable, callback, user_data,
       kv_store_client_set);
}

gboolean kv_store_client_set_finish(KvStoreClient *self, GAsyncResult *result, GError **error)
{
  g_autoptr(GVariant) reply = call_finish(self, result, kv_store_client_set, error);

  return reply != NULL;
}

gboolean kv_store_client_set_sync(KvStoreClient *self, const char *key, GVariant *value,
                                  GCancellable *cancellable, GError **error)
{
  g_return_val_if_fail(KV_IS_STORE_CLIENT(self), FALSE);
  g_autoptr(GVariant) reply =
      call_sync(self, "Set", g_variant_new("(sv)", key, value), "()", cancellable, error);
  return reply != NULL;
}

void kv_store_client_delete(KvStoreClient *self, const char *key, GCancellable *cancellable,
                            GAsyncReadyCallback callback, gpointer user_data)
{
  g_return_if_fail(KV_IS_STORE_CLIENT(self));
  call(self, "Delete", g_variant_new("(s)", key), "(b)", cancellable, callback, user_data,
       kv_store_client_delete);
}

/* Whether @reply came; its one argument (in @format, "(b)" say) into @out unless NULL. */
static gboolean take(GVariant *reply, const char *format, gpointer out)
{
  if (reply == NULL)
    return FALSE;
  if (out != NULL)
    g_variant_get(reply, format, out);
  g_variant_unref(reply);
  return TRUE;
}

gboolean kv_store_client_delete_finish(KvStoreClient *self, GAsyncResult *result,
                                       gboolean *out_existed, GError **error)
{
  return take(call_finish(self, result, kv_store_client_delete, error), "(b)", out_existed);
}

gboolean kv_store_client_delete_sync(KvStoreClient *self, const char *key, gboolean *out_existed,
                                     GCancellable *cancellable, GError **error)
{
  g_return_val_if_fail(KV_IS_STORE_CLIENT(self), FALSE);
  return take(call_sync(self, "Delete", g_variant_new("(s)", key), "(b)", cancellable, error),
              "(b)", out_existed);
}

void kv_store_client_increment(KvStoreClient *self, const char *key, gint64 delta,
                               GCancellable *cancellable, GAsyncReadyCallback callback,
                               gpointer user_data)
{
  g_return_if_fail(KV_IS_STORE_CLIENT(self));
  call(self, "Increment", g_variant_new("(sx)", key, delta), "(x)", cancellable, callback,
       user_data, kv_store_client_increment);
}

gboolean kv_store_client_increment_finish(KvStoreClient *self, GAsyncResult *result,
                                          gint64 *out_value, GError **error)
{
  return take(call_finish(self, result, kv_store_client_increment, error), "(x)", out_value);
}

gboolean kv_store_client_increment_sync(KvStoreClient *self, const char *key, gint64 delta,
                                        gint64 *out_value, GCancellable *cancellable,
                                        GError **error)
{
  g_return_val_if_fail(KV_IS_STORE_CLIENT(self), FALSE);
  return take(
      call_sync(self, "Increment", g_variant_new("(sx)", key, delta), "(x)", cancellable, error),
      "(x)", out_value);
}

void kv_store_client_compare_and_set(KvStoreClient *self, const char *key,
                                     guint64 expected_revision, GVariant *value,
                                     GCancellable *cancellable, GAsyncReadyCallback callback,
                                     gpointer user_data)
{
  g_return_if_fail(KV_IS_STORE_CLIENT(self));
  call(self, "CompareAndSet", g_variant_new("(stv)", key, expected_revision, value), "(t)",
       cancellable, callback, user_data, kv_store_client_compare_and_set);
}

gboolean kv_store_client_compare_and_set_finish(KvStoreClient *self, GAsyncResult *result,
                                                guint64 *out_revision, GError **error)
{
  return take(call_finish(self, result, kv_store_client_compare_and_set, error), "(t)",
              out_revision);
}

gboolean kv_store_client_compare_and_set_sync(KvStoreClient *self, const char *key,
                                              guint64 expected_revision, GVariant *value,
                                              guint64 *out_revision, GCancellable *cancellable,
                                              GError **error)
{
  g_return_val_if_fail(KV_IS_STORE_CLIENT(self), FALSE);
  return take(call_sync(self, "CompareAndSet",
                        g_variant_new("(stv)", key, expected_revision, value), "(t)", cancellable,
                        error),
              "(t)", out_revision);
}

void kv_store_client_set_many(KvStoreClient *self, GVariant *entries, GCancellable *cancellable,
                              GAsyncReadyCallback callback, gpointer user_data)
{
  g_return_if_fail(KV_IS_STORE_CLIENT(self));
  g_return_if_fail(g_variant_is_of_type(entries, G_VARIANT_TYPE_VARDICT));
  call(self, "SetMany", g_variant_new_tuple(&entries, 1), "(t)", cancellable, callback, user_data,
       kv_store_client_set_many);
}

gboolean kv_store_client_set_many_finish(KvStoreClient *self, GAsyncResult *result,
                                         guint64 *out_revision, GError **error)
{
  return take(call_finish(self, result, kv_store_client_set_many, error), "(t)", out_revision);
}

gboolean kv_store_client_set_many_sync(KvStoreClient *self, GVariant *entries,
                                       guint64 *out_revision, GCancellable *cancellable,
                                       GError **error)
{
  g_return_val_if_fail(KV_IS_STORE_CLIENT(self), FALSE);
  g_return_val_if_fail(g_variant_is_of_type(entries, G_VARIANT_TYPE_VARDICT), FALSE);
  return take(
      call_sync(self, "SetMany", g_variant_new_tuple(&entries, 1), "(t)", cancellable, error),
      "(t)", out_revision);
}
