/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/**
 * KvStoreClient:
 *
 * A client of org.example.KVStore for programs that run a GLib main loop: each call in
 * an asynchronous form (a #GAsyncReadyCallback, then the `_finish` function) and a
 * synchronous one. Errors are in the %KV_STORE_ERROR domain where kvstored says why
 * (%KV_STORE_ERROR_NOT_FOUND, %KV_STORE_ERROR_CONFLICT...), else in %G_DBUS_ERROR or
 * %G_IO_ERROR.
 */
#define KV_TYPE_STORE_CLIENT (kv_store_client_get_type())
G_DECLARE_FINAL_TYPE(KvStoreClient, kv_store_client, KV, STORE_CLIENT, GObject)

/**
 * kv_store_client_new_for_connection:
 * @connection: a message bus connection on which kvstored is (or is activated)
 *
 * Returns: (transfer full): a client of the store on @connection
 */
KvStoreClient *kv_store_client_new_for_connection(GDBusConnection *connection);

/**
 * kv_store_client_new_sync:
 * @bus_type: %G_BUS_TYPE_SESSION (the user's store) or %G_BUS_TYPE_SYSTEM
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Returns: (transfer full) (nullable): a client of the store on that bus, or %NULL when
 *   the bus cannot be reached
 */
KvStoreClient *kv_store_client_new_sync(GBusType bus_type, GCancellable *cancellable,
                                        GError **error);

/**
 * kv_store_client_get_connection:
 * @self: a #KvStoreClient
 *
 * Returns: (transfer none): the bus connection the client uses
 */
GDBusConnection *kv_store_client_get_connection(KvStoreClient *self);

/**
 * kv_store_client_get:
 * @self: a #KvStoreClient
 * @key: the key
 * @cancellable: (nullable): a #GCancellable
 * @callback: called when the value is read
 * @user_data: data for @callback
 *
 * Reads the value of @key and the revision of its last change.
 */
void kv_store_client_get(KvStoreClient *self, const char *key, GCancellable *cancellable,
                         GAsyncReadyCallback callback, gpointer user_data);

/**
 * kv_store_client_get_finish:
 * @self: a #KvStoreClient
 * @result: the #GAsyncResult
 * @out_revision: (out) (optional): the revision of the key's last change
 * @error: return location for a #GError
 *
 * Returns: (transfer full) (nullable): the value, or %NULL with
 *   %KV_STORE_ERROR_NOT_FOUND when @key does not exist
 */
GVariant *kv_store_client_get_finish(KvStoreClient *self, GAsyncResult *result,
                                     guint64 *out_revision, GError **error);

/**
 * kv_store_client_get_sync:
 * @self: a #KvStoreClient
 * @key: the key
 * @out_revision: (out) (optional): the revision of the key's last change
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Returns: (transfer full) (nullable): the value of @key, or %NULL
 */
GVariant *kv_store_client_get_sync(KvStoreClient *self, const char *key, guint64 *out_revision,
                                   GCancellable *cancellable, GError **error);

/**
 * kv_store_client_set:
 * @self: a #KvStoreClient
 * @key: the key
 * @value: the value (a floating reference is sunk)
 * @cancellable: (nullable): a #GCancellable
 * @callback: called once the value is stored durably
 * @user_data: data for @callback
 *
 * Stores @value under @key.
 */
void kv_store_client_set(KvStoreClient *self, const char *key, GVariant *value,
                         GCancellable *cancellable, GAsyncReadyCallback callback,
                         gpointer user_data);

/**
 * kv_store_client_set_finish:
 * @self: a #KvStoreClient
 * @result: the #GAsyncResult
 * @error: return location for a #GError
 *
 * Returns: whether the value was stored
 */
gboolean kv_store_client_set_finish(KvStoreClient *self, GAsyncResult *result, GError **error);

/**
 * kv_store_client_set_sync:
 * @self: a #KvStoreClient
 * @key: the key
 * @value: the value (a floating reference is sunk)
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Returns: whether the value was stored
 */
gboolean kv_store_client_set_sync(KvStoreClient *self, const char *key, GVariant *value,
                                  GCancellable *cancellable, GError **error);

/**
 * kv_store_client_delete:
 * @self: a #KvStoreClient
 * @key: the key
 * @cancellable: (nullable): a #GCancellable
 * @callback: called once the deletion is stored durably
 * @user_data: data for @callback
 *
 * Deletes @key; a missing key is no error.
 */
void kv_store_client_delete(KvStoreClient *self, const char *key, GCancellable *cancellable,
                            GAsyncReadyCallback callback, gpointer user_data);

/**
 * kv_store_client_delete_finish:
 * @self: a #KvStoreClient
 * @result: the #GAsyncResult
 * @out_existed: (out) (optional): whether the key was there
 * @error: return location for a #GError
 *
 * Returns: (skip): whether the call succeeded
 */
gboolean kv_store_client_delete_finish(KvStoreClient *self, GAsyncResult *result,
                                       gboolean *out_existed, GError **error);

/**
 * kv_store_client_delete_sync:
 * @self: a #KvStoreClient
 * @key: the key
 * @out_existed: (out) (optional): whether @key was there
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Deletes @key; a missing key is no error.
 *
 * Returns: (skip): whether the call succeeded
 */
gboolean kv_store_client_delete_sync(KvStoreClient *self, const char *key, gboolean *out_existed,
                                     GCancellable *cancellable, GError **error);

/**
 * kv_store_client_increment:
 * @self: a #KvStoreClient
 * @key: the key
 * @delta: what to add
 * @cancellable: (nullable): a #GCancellable
 * @callback: called once the new value is stored durably
 * @user_data: data for @callback
 *
 * Adds @delta to the integer under @key: see kv_store_client_increment_sync().
 */
void kv_store_client_increment(KvStoreClient *self, const char *key, gint64 delta,
                               GCancellable *cancellable, GAsyncReadyCallback callback,
                               gpointer user_data);

/**
 * kv_store_client_increment_finish:
 * @self: a #KvStoreClient
 * @result: the #GAsyncResult
 * @out_value: (out) (optional): the value after the increment
 * @error: return location for a #GError
 *
 * Returns: (skip): whether the value was changed
 */
gboolean kv_store_client_increment_finish(KvStoreClient *self, GAsyncResult *result,
                                          gint64 *out_value, GError **error);

/**
 * kv_store_client_increment_sync:
 * @self: a #KvStoreClient
 * @key: the key
 * @delta: what to add
 * @out_value: (out) (optional): the value after the increment
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Adds @delta to the integer under @key, keeping its type (a missing key counts as int64
 * 0): %KV_STORE_ERROR_OVERFLOW or %KV_STORE_ERROR_INVALID_VALUE_TYPE otherwise.
 *
 * Returns: (skip): whether the value was changed
 */
gboolean kv_store_client_increment_sync(KvStoreClient *self, const char *key, gint64 delta,
                                        gint64 *out_value, GCancellable *cancellable,
                                        GError **error);

/**
 * kv_store_client_compare_and_set:
 * @self: a #KvStoreClient
 * @key: the key
 * @expected_revision: the revision @key must be at (0: it must not exist)
 * @value: the value (a floating reference is sunk)
 * @cancellable: (nullable): a #GCancellable
 * @callback: called once the value is stored, or refused
 * @user_data: data for @callback
 *
 * Stores @value only if @key is at @expected_revision; %KV_STORE_ERROR_CONFLICT otherwise.
 */
void kv_store_client_compare_and_set(KvStoreClient *self, const char *key,
                                     guint64 expected_revision, GVariant *value,
                                     GCancellable *cancellable, GAsyncReadyCallback callback,
                                     gpointer user_data);

/**
 * kv_store_client_compare_and_set_finish:
 * @self: a #KvStoreClient
 * @result: the #GAsyncResult
 * @out_revision: (out) (optional): the revision of the change
 * @error: return location for a #GError
 *
 * Returns: (skip): whether the value was stored
 */
gboolean kv_store_client_compare_and_set_finish(KvStoreClient *self, GAsyncResult *result,
                                                guint64 *out_revision, GError **error);

/**
 * kv_store_client_compare_and_set_sync:
 * @self: a #KvStoreClient
 * @key: the key
 * @expected_revision: the revision @key must be at (0: it must not exist)
 * @value: the value (a floating reference is sunk)
 * @out_revision: (out) (optional): the revision of the change
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Stores @value only if @key is at @expected_revision; %KV_STORE_ERROR_CONFLICT otherwise.
 *
 * Returns: (skip): whether the value was stored
 */
gboolean kv_store_client_compare_and_set_sync(KvStoreClient *self, const char *key,
                                              guint64 expected_revision, GVariant *value,
                                              guint64 *out_revision, GCancellable *cancellable,
                                              GError **error);

/**
 * kv_store_client_set_many:
 * @self: a #KvStoreClient
 * @entries: an `a{sv}` of keys and values (a floating reference is sunk)
 * @cancellable: (nullable): a #GCancellable
 * @callback: called once the entries are stored durably, or refused
 * @user_data: data for @callback
 *
 * Stores every entry as one change: all or nothing.
 */
void kv_store_client_set_many(KvStoreClient *self, GVariant *entries, GCancellable *cancellable,
                              GAsyncReadyCallback callback, gpointer user_data);

/**
 * kv_store_client_set_many_finish:
 * @self: a #KvStoreClient
 * @result: the #GAsyncResult
 * @out_revision: (out) (optional): the revision of the change
 * @error: return location for a #GError
 *
 * Returns: (skip): whether the entries were stored
 */
gboolean kv_store_client_set_many_finish(KvStoreClient *self, GAsyncResult *result,
                                         guint64 *out_revision, GError **error);

/**
 * kv_store_client_set_many_sync:
 * @self: a #KvStoreClient
 * @entries: an `a{sv}` of keys and values (a floating reference is sunk)
 * @out_revision: (out) (optional): the revision of the change
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Stores every entry as one change: all or nothing.
 *
 * Returns: (skip): whether the entries were stored
 */
gboolean kv_store_client_set_many_sync(KvStoreClient *self, GVariant *entries,
                                       guint64 *out_revision, GCancellable *cancellable,
                                       GError **error);

G_END_DECLS
