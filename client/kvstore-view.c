/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "kvstore/kvstore-view.h"

#include "kvstore/kvstore-error.h"

#include <stdlib.h>
#include <string.h>

#define BUS_NAME    "org.example.KVStore"
#define OBJECT_PATH "/org/example/KVStore"
#define INTERFACE   "org.example.KVStore"

struct _KvStoreView {
  GObject parent;
  KvStoreClient *client;
  GDBusConnection *connection;
  char *prefix;
  GHashTable *values;   /* key -> GVariant, as stored */
  GHashTable *defaults; /* key -> GVariant, the administrator's (GetDefaults) */
  /* Where the view is: every change up to @revision, and at @revision up to @key ("" for
   * all of it), is applied. A change at or before it came twice and is skipped. */
  guint64 revision;
  char *key;
  guint changes_id, lost_id, defaults_id, owner_id;
  char *owner; /* kvstored's unique name when last seen */
};

enum { SIGNAL_CHANGED, N_SIGNALS };
static guint signals[N_SIGNALS];

G_DEFINE_FINAL_TYPE(KvStoreView, kv_store_view, G_TYPE_OBJECT)

static void kv_store_view_dispose(GObject *object)
{
  KvStoreView *self = KV_STORE_VIEW(object);

  if (self->connection != NULL) {
    if (self->changes_id != 0)
      g_dbus_connection_signal_unsubscribe(self->connection, self->changes_id);
    if (self->lost_id != 0)
      g_dbus_connection_signal_unsubscribe(self->connection, self->lost_id);
    if (self->defaults_id != 0)
      g_dbus_connection_signal_unsubscribe(self->connection, self->defaults_id);
    self->changes_id = self->lost_id = self->defaults_id = 0;
  }
  if (self->owner_id != 0)
    g_bus_unwatch_name(self->owner_id);
  self->owner_id = 0;
  g_clear_object(&self->connection);
  g_clear_object(&self->client);
  G_OBJECT_CLASS(kv_store_view_parent_class)->dispose(object);
}

static void kv_store_view_finalize(GObject *object)
{
  KvStoreView *self = KV_STORE_VIEW(object);

  g_hash_table_unref(self->values);
  g_hash_table_unref(self->defaults);
  g_free(self->prefix);
  g_free(self->key);
  g_free(self->owner);
  G_OBJECT_CLASS(kv_store_view_parent_class)->finalize(object);
}

static void kv_store_view_class_init(KvStoreViewClass *klass)
{
  G_OBJECT_CLASS(klass)->dispose = kv_store_view_dispose;
  G_OBJECT_CLASS(klass)->finalize = kv_store_view_finalize;
  /**
   * KvStoreView::changed:
   * @view: the view
   * @key: the key whose value changed
   * @value: (nullable): its new value (stored, else its default), or %NULL when it has
   *   none
   * @revision: the revision of the change
   *
   * A key under the view's prefix has a new value, one that differs from the one before.
   */
  signals[SIGNAL_CHANGED] =
      g_signal_new("changed", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                   G_TYPE_NONE, 3, G_TYPE_STRING, G_TYPE_VARIANT, G_TYPE_UINT64);
}

static void kv_store_view_init(KvStoreView *self)
{
  self->values =
      g_hash_table_new_full(g_str_hash, g_str_equal, g_free, (GDestroyNotify)g_variant_unref);
  self->key = g_strdup("");
  self->defaults =
      g_hash_table_new_full(g_str_hash, g_str_equal, g_free, (GDestroyNotify)g_variant_unref);
}

/* What a read of @key returns: its stored value, else its default; NULL: none. */
static GVariant *effective(KvStoreView *self, const char *key)
{
  GVariant *value = g_hash_table_lookup(self->values, key);

  return value != NULL ? value : g_hash_table_lookup(self->defaults, key);
}

static gboolean same(GVariant *a, GVariant *b)
{
  return a == b || (a != NULL && b != NULL && g_variant_equal(a, b));
}

/* Tells @key's new value if it differs from @before (a reference, taken). */
static void tell_if_changed(KvStoreView *self, const char *key, GVariant *before, guint64 revision)
{
  g_autoptr(GVariant) old = before;
  GVariant *now = effective(self, key);

  if (!same(old, now))
    g_signal_emit(self, signals[SIGNAL_CHANGED], 0, key, now, revision);
}

static GVariant *ref_or_null(GVariant *value)
{
  return value != NULL ? g_variant_ref(value) : NULL;
}

/* Sets @key to @value (NULL: deleted) in the view, telling a real change if @tell: a
 * deleted key with a default changes only if its default differs. */
static void apply(KvStoreView *self, const char *key, GVariant *value, guint64 revision,
                  gboolean tell)
{
  GVariant *before = ref_or_null(effective(self, key));

  if (value != NULL)
    g_hash_table_replace(self->values, g_strdup(key), g_variant_ref(value));
  else
    g_hash_table_remove(self->values, key);
  if (tell)
    tell_if_changed(self, key, before, revision);
  else if (before != NULL)
    g_variant_unref(before);
}

/* The entries of @reply's first argument, an a{sv}, into @table (key -> GVariant). */
static void add_entries(GHashTable *table, GVariant *reply)
{
  g_autoptr(GVariant) entries = g_variant_get_child_value(reply, 0);
  GVariantIter iter;
  const char *key;
  GVariant *value;

  g_variant_iter_init(&iter, entries);
  while (g_variant_iter_next(&iter, "{&sv}", &key, &value))
    g_hash_table_replace(table, g_strdup(key), value);
}

/* Reads the administrator's defaults under the prefix again, telling the keys whose value
 * they change if @tell. A kvstored without them (UnknownMethod) has none. */
static gboolean read_defaults(KvStoreView *self, gboolean tell, GCancellable *cancellable,
                              GError **error)
{
  g_autoptr(GError) local_error = NULL;
  g_autoptr(GVariant) reply =
      g_dbus_connection_call_sync(self->connection, BUS_NAME, OBJECT_PATH, INTERFACE, "GetDefaults",
                                  g_variant_new("(s)", self->prefix), G_VARIANT_TYPE("(a{sv})"),
                                  G_DBUS_CALL_FLAGS_NONE, -1, cancellable, &local_error);

  if (reply == NULL && !g_error_matches(local_error, G_DBUS_ERROR, G_DBUS_ERROR_UNKNOWN_METHOD)) {
    g_propagate_error(error, g_steal_pointer(&local_error));
    return FALSE;
  }
  GHashTable *old = self->defaults;
  self->defaults =
      g_hash_table_new_full(g_str_hash, g_str_equal, g_free, (GDestroyNotify)g_variant_unref);
  if (reply != NULL)
    add_entries(self->defaults, reply);
  g_autoptr(GHashTable) keys = g_hash_table_new(g_str_hash, g_str_equal);
  GHashTableIter iter;
  gpointer key;
  g_hash_table_iter_init(&iter, old);
  while (g_hash_table_iter_next(&iter, &key, NULL))
    g_hash_table_add(keys, key);
  g_hash_table_iter_init(&iter, self->defaults);
  while (g_hash_table_iter_next(&iter, &key, NULL))
    g_hash_table_add(keys, key);
  g_hash_table_iter_init(&iter, keys);
  while (tell && g_hash_table_iter_next(&iter, &key, NULL)) {
    if (g_hash_table_contains(self->values, key))
      continue;
    tell_if_changed(self, key, ref_or_null(g_hash_table_lookup(old, key)), self->revision);
  }
  g_hash_table_unref(old);
  return TRUE;
}

/* Applies one change of the history unless the view has it already, and moves past it. */
static void take_change(KvStoreView *self, const char *key, GVariant *value, guint64 revision,
                        gboolean tell)
{
  if (revision < self->revision ||
      (revision == self->revision && (self->key[0] == '\0' || strcmp(key, self->key) <= 0)))
    return;
  apply(self, key, value, revision, tell);
  self->revision = revision;
  g_free(self->key);
  self->key = g_strdup(key);
}

/* Applies an a(sbvt) of changes. */
static void take_changes(KvStoreView *self, GVariant *changes, gboolean tell)
{
  GVariantIter iter;
  const char *key;
  gboolean deleted;
  GVariant *value;
  guint64 revision;

  g_variant_iter_init(&iter, changes);
  while (g_variant_iter_next(&iter, "(&sbvt)", &key, &deleted, &value, &revision)) {
    if (g_str_has_prefix(key, self->prefix))
      take_change(self, key, deleted ? NULL : value, revision, tell);
    g_variant_unref(value);
  }
}

/* Every change under the prefix after where the view is, pulled page by page, and the
 * view then at the store's revision of the last page. */
static gboolean pull(KvStoreView *self, gboolean tell, GCancellable *cancellable, GError **error)
{
  gboolean more = TRUE;
  /* Inside a revision, from its start: what was applied of it is skipped. */
  guint64 since = self->key[0] != '\0' ? self->revision - 1 : self->revision;
  g_autofree char *after = g_strdup("");

  while (more) {
    g_autoptr(GVariant) reply = g_dbus_connection_call_sync(
        self->connection, BUS_NAME, OBJECT_PATH, INTERFACE, "ChangesSince",
        g_variant_new("(stsu)", self->prefix, since, after, 0), G_VARIANT_TYPE("(a(sbvt)tsb)"),
        G_DBUS_CALL_FLAGS_NONE, -1, cancellable, error);
    if (reply == NULL)
      return FALSE;
    g_autoptr(GVariant) changes = g_variant_get_child_value(reply, 0);
    take_changes(self, changes, tell);
    g_free(after);
    g_variant_get_child(reply, 1, "t", &since);
    g_variant_get_child(reply, 2, "s", &after);
    g_variant_get_child(reply, 3, "b", &more);
  }
  /* The last page's next is the store's revision: all of it is in. */
  if (since > self->revision) {
    self->revision = since;
    g_free(self->key);
    self->key = g_strdup("");
  }
  return TRUE;
}

static guint64 store_revision(KvStoreView *self, GCancellable *cancellable, GError **error)
{
  guint64 revision = 0;
  g_autoptr(GVariant) reply = g_dbus_connection_call_sync(
      self->connection, BUS_NAME, OBJECT_PATH, "org.freedesktop.DBus.Properties", "Get",
      g_variant_new("(ss)", INTERFACE, "Revision"), G_VARIANT_TYPE("(v)"), G_DBUS_CALL_FLAGS_NONE,
      -1, cancellable, error);

  if (reply != NULL) {
    g_autoptr(GVariant) value = NULL;
    g_variant_get(reply, "(v)", &value);
    revision = g_variant_get_uint64(value);
  }
  return revision;
}

/* Reads every entry under the prefix into the view, as the store is from revision
 * @from on; telling the keys that differ from what the view held if @tell. */
static gboolean fill(KvStoreView *self, gboolean tell, GCancellable *cancellable, GError **error)
{
  g_autoptr(GError) local_error = NULL;
  guint64 from = store_revision(self, cancellable, &local_error);
  g_autoptr(GHashTable) fresh =
      g_hash_table_new_full(g_str_hash, g_str_equal, g_free, (GDestroyNotify)g_variant_unref);
  g_autofree char *after = g_strdup("");

  if (local_error != NULL) {
    g_propagate_error(error, g_steal_pointer(&local_error));
    return FALSE;
  }
  do {
    g_autoptr(GVariant) reply = g_dbus_connection_call_sync(
        self->connection, BUS_NAME, OBJECT_PATH, INTERFACE, "GetAllPage",
        g_variant_new("(ssu)", self->prefix, after, 0), G_VARIANT_TYPE("(a{sv}s)"),
        G_DBUS_CALL_FLAGS_NONE, -1, cancellable, error);
    if (reply == NULL)
      return FALSE;
    add_entries(fresh, reply);
    g_free(after);
    g_variant_get_child(reply, 1, "s", &after);
  } while (after[0] != '\0');

  /* What went away, then what is new or different. */
  g_autoptr(GPtrArray) gone = g_ptr_array_new_with_free_func(g_free);
  GHashTableIter iter;
  gpointer key, value;
  g_hash_table_iter_init(&iter, self->values);
  while (g_hash_table_iter_next(&iter, &key, NULL))
    if (!g_hash_table_contains(fresh, key))
      g_ptr_array_add(gone, g_strdup(key));
  for (guint i = 0; i < gone->len; i++)
    apply(self, g_ptr_array_index(gone, i), NULL, from, tell);
  g_hash_table_iter_init(&iter, fresh);
  while (g_hash_table_iter_next(&iter, &key, &value))
    apply(self, key, value, from, tell);
  /* The pages were read at revisions from @from on: the changes after it bring them all
   * to one revision. */
  self->revision = from;
  g_free(self->key);
  self->key = g_strdup("");
  return pull(self, tell, cancellable, error);
}

static void on_changes(GDBusConnection *connection, const char *sender, const char *path,
                       const char *interface, const char *member, GVariant *parameters,
                       gpointer user_data)
{
  KvStoreView *self = user_data;
  g_autoptr(GVariant) changes = g_variant_get_child_value(parameters, 0);

  take_changes(self, changes, TRUE);
}

static gboolean subscribe(KvStoreView *self, GCancellable *cancellable, GError **error)
{
  guint64 since = self->key[0] != '\0' ? self->revision - 1 : self->revision;
  g_autoptr(GVariant) reply = g_dbus_connection_call_sync(
      self->connection, BUS_NAME, OBJECT_PATH, INTERFACE, "SubscribeSince",
      g_variant_new("(st)", self->prefix, since), G_VARIANT_TYPE("(t)"), G_DBUS_CALL_FLAGS_NONE, -1,
      cancellable, error);

  return reply != NULL;
}

/* The subscription is gone (kvstored restarted, or dropped it): subscribe again from
 * where the view is, and catch up with what came meanwhile; from the start when the
 * history no longer holds it. The signals of the backlog come again, and are skipped. */
static void resume(KvStoreView *self)
{
  g_autoptr(GError) error = NULL;

  if (!subscribe(self, NULL, &error) &&
      g_error_matches(error, KV_STORE_ERROR, KV_STORE_ERROR_COMPACTED)) {
    g_clear_error(&error);
    /* From the revision the store is at: what the view missed is read whole. */
    if (fill(self, TRUE, NULL, &error))
      subscribe(self, NULL, &error);
  } else if (error == NULL) {
    pull(self, TRUE, NULL, &error);
  }
  if (error != NULL)
    g_warning("kvstore view of '%s': cannot follow the store: %s", self->prefix, error->message);
}

/* read_defaults() from the main loop, telling what changed; a failure is said. */
static void reread_defaults(KvStoreView *self)
{
  g_autoptr(GError) error = NULL;

  if (!read_defaults(self, TRUE, NULL, &error))
    g_warning("kvstore view of '%s': cannot read the defaults: %s", self->prefix, error->message);
}

static void on_defaults_changed(GDBusConnection *connection, const char *sender, const char *path,
                                const char *interface, const char *member, GVariant *parameters,
                                gpointer user_data)
{
  reread_defaults(user_data);
}

static void on_lost(GDBusConnection *connection, const char *sender, const char *path,
                    const char *interface, const char *member, GVariant *parameters,
                    gpointer user_data)
{
  resume(user_data);
}

static void on_owner(GDBusConnection *connection, const char *name, const char *owner,
                     gpointer user_data)
{
  KvStoreView *self = user_data;
  gboolean again = self->owner != NULL && strcmp(self->owner, owner) != 0;

  /* A kvstored started again (after an idle exit, say) has no subscription of ours. */
  g_free(self->owner);
  self->owner = g_strdup(owner);
  if (!again)
    return;
  /* Its defaults may have changed while it was away. */
  reread_defaults(self);
  resume(self);
}

KvStoreView *kv_store_view_new_sync(KvStoreClient *client, const char *prefix,
                                    GCancellable *cancellable, GError **error)
{
  g_return_val_if_fail(KV_IS_STORE_CLIENT(client), NULL);
  g_autoptr(KvStoreView) self = g_object_new(KV_TYPE_STORE_VIEW, NULL);

  (void)KV_STORE_ERROR;
  self->client = g_object_ref(client);
  self->connection = g_object_ref(kv_store_client_get_connection(client));
  self->prefix = g_strdup(prefix);
  if (!read_defaults(self, FALSE, cancellable, error) || !fill(self, FALSE, cancellable, error))
    return NULL;
  /* Signals first, so that none between the subscription and its answer is missed. */
  self->changes_id = g_dbus_connection_signal_subscribe(
      self->connection, BUS_NAME, INTERFACE, "Changes", OBJECT_PATH, NULL, G_DBUS_SIGNAL_FLAGS_NONE,
      on_changes, self, NULL);
  self->lost_id = g_dbus_connection_signal_subscribe(self->connection, BUS_NAME, INTERFACE,
                                                     "SubscriptionLost", OBJECT_PATH, NULL,
                                                     G_DBUS_SIGNAL_FLAGS_NONE, on_lost, self, NULL);
  self->defaults_id = g_dbus_connection_signal_subscribe(
      self->connection, BUS_NAME, INTERFACE, "DefaultsChanged", OBJECT_PATH, NULL,
      G_DBUS_SIGNAL_FLAGS_NONE, on_defaults_changed, self, NULL);
  if (!subscribe(self, cancellable, error) || !pull(self, FALSE, cancellable, error))
    return NULL;
  self->owner_id = g_bus_watch_name_on_connection(
      self->connection, BUS_NAME, G_BUS_NAME_WATCHER_FLAGS_NONE, on_owner, NULL, self, NULL);
  return g_steal_pointer(&self);
}

GVariant *kv_store_view_lookup(KvStoreView *self, const char *key)
{
  g_return_val_if_fail(KV_IS_STORE_VIEW(self), NULL);
  return ref_or_null(effective(self, key));
}

GVariant *kv_store_view_lookup_default(KvStoreView *self, const char *key)
{
  g_return_val_if_fail(KV_IS_STORE_VIEW(self), NULL);
  return ref_or_null(g_hash_table_lookup(self->defaults, key));
}

guint64 kv_store_view_get_revision(KvStoreView *self)
{
  g_return_val_if_fail(KV_IS_STORE_VIEW(self), 0);
  return self->revision;
}

static int compare_keys(const void *a, const void *b)
{
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

GStrv kv_store_view_list_keys(KvStoreView *self)
{
  g_return_val_if_fail(KV_IS_STORE_VIEW(self), NULL);
  guint n;
  g_autofree const char **keys = (const char **)g_hash_table_get_keys_as_array(self->values, &n);

  qsort(keys, n, sizeof *keys, compare_keys);
  return g_strdupv((char **)keys);
}
