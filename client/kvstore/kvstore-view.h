/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <kvstore/kvstore-client.h>

G_BEGIN_DECLS

/**
 * KvStoreView:
 *
 * A local copy of the keys under a prefix, read without a call: filled with pages of the
 * store, then kept current by a subscription that resumes from the revision the copy
 * holds (SubscribeSince), so that no change is missed nor applied twice, also when
 * kvstored restarts or drops the subscription. Lookups see the store as it was at
 * kv_store_view_get_revision(). A key with no value stored reads as the administrator's
 * default, if it has one. The #KvStoreView::changed signal tells each key whose value
 * really changed (deleting a key back to an equal default is no change), from the main
 * context the view was made in.
 */
#define KV_TYPE_STORE_VIEW (kv_store_view_get_type())
G_DECLARE_FINAL_TYPE(KvStoreView, kv_store_view, KV, STORE_VIEW, GObject)

/**
 * kv_store_view_new_sync:
 * @client: the store's client
 * @prefix: the keys the view holds: those starting with it ("" for all)
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Fills a view of @prefix and subscribes it, waiting for both.
 *
 * Returns: (transfer full) (nullable): the view, or %NULL
 */
KvStoreView *kv_store_view_new_sync(KvStoreClient *client, const char *prefix,
                                    GCancellable *cancellable, GError **error);

/**
 * kv_store_view_lookup:
 * @self: a #KvStoreView
 * @key: a key under the view's prefix
 *
 * Returns: (transfer full) (nullable): the value of @key: stored, else the
 *   administrator's default (GetDefaults); %NULL when it has neither
 */
GVariant *kv_store_view_lookup(KvStoreView *self, const char *key);

/**
 * kv_store_view_lookup_default:
 * @self: a #KvStoreView
 * @key: a key under the view's prefix
 *
 * Returns: (transfer full) (nullable): the administrator's default of @key, whether or
 *   not a value is stored; %NULL when it has none
 */
GVariant *kv_store_view_lookup_default(KvStoreView *self, const char *key);

/**
 * kv_store_view_get_revision:
 * @self: a #KvStoreView
 *
 * Returns: the store's revision the view holds
 */
guint64 kv_store_view_get_revision(KvStoreView *self);

/**
 * kv_store_view_list_keys:
 * @self: a #KvStoreView
 *
 * Returns: (transfer full): the keys the view holds a stored value of, sorted bytewise
 */
GStrv kv_store_view_list_keys(KvStoreView *self);

G_END_DECLS
