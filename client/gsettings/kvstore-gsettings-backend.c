/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The GSettings backend "kvstore", a GIO module on libkvstore (GSETTINGS_BACKEND=kvstore
 * selects it; its priority is below every other backend's, so that it never takes over
 * unasked). Settings path P + key K is the kvstore key "gsettings" P K: "/org/gnome/x/"
 * and "y" is "gsettings/org/gnome/x/y". Reads never call: they come from a KvStoreView of
 * "gsettings/". Writes apply at once (a pending value that reads see), go to kvstored
 * asynchronously in batches (one out at a time; the writes meanwhile wait and go
 * together), and are taken back, with a changed signal, when kvstored refuses them.
 * GSettings hears of a key once per real change: its own writes with their origin tag
 * when made, and neither again when they come back from the store nor in between while
 * later writes of the key are on their way. */
#define G_SETTINGS_ENABLE_BACKEND
#include <gio/gsettingsbackend.h>

#include "kvstore/kvstore.h"

#include <string.h>

#define KEY_PREFIX "gsettings"
#define PRIORITY   (-200)

typedef struct {
  GSettingsBackend parent;
  KvStoreClient *client;
  KvStoreView *view;   /* NULL when kvstored could not be reached */
  GHashTable *pending; /* settings key -> Pending: written here, not yet in the view */
  GHashTable *queued;  /* settings key -> GVariant (NULL: reset), the next batch */
  guint calls_out;     /* the batch's calls sent, not yet answered */
  guint defaults_id;   /* the DefaultsChanged subscription */
} KvSettingsBackend;

typedef GSettingsBackendClass KvSettingsBackendClass;

static GType kv_settings_backend_get_type(void);
G_DEFINE_DYNAMIC_TYPE(KvSettingsBackend, kv_settings_backend, G_TYPE_SETTINGS_BACKEND)

void g_io_module_load(GIOModule *module);
void g_io_module_unload(GIOModule *module);
char **g_io_module_query(void);

/* A key written here: reads see its value until the view holds what the store made of
 * the writes. */
typedef struct {
  GVariant *value;  /* NULL: reset */
  guint in_flight;  /* the batches holding it, queued or sent, not yet answered */
  guint64 revision; /* the last answered write's; the view is to reach it */
  gboolean refused; /* the last answered write was refused */
} Pending;

static void value_unref(gpointer value)
{
  if (value != NULL)
    g_variant_unref(value);
}

static void pending_free(Pending *pending)
{
  if (pending->value != NULL)
    g_variant_unref(pending->value);
  g_free(pending);
}

static char *store_key(const char *key)
{
  return g_strconcat(KEY_PREFIX, key, NULL);
}

static GVariant *kv_settings_read(GSettingsBackend *backend, const char *key,
                                  const GVariantType *expected_type, gboolean default_value)
{
  KvSettingsBackend *self = (KvSettingsBackend *)backend;
  Pending *pending = g_hash_table_lookup(self->pending, key);

  /* The default GSettings falls back to when a value is reset: the administrator's,
   * else (NULL) the schema's. */
  if (default_value) {
    g_autofree char *stored_key = store_key(key);
    g_autoptr(GVariant) fallback =
        self->view != NULL ? kv_store_view_lookup_default(self->view, stored_key) : NULL;
    return fallback != NULL && g_variant_is_of_type(fallback, expected_type)
               ? g_steal_pointer(&fallback)
               : NULL;
  }
  if (pending != NULL)
    return pending->value != NULL && g_variant_is_of_type(pending->value, expected_type)
               ? g_variant_ref(pending->value)
               : NULL;
  if (self->view == NULL)
    return NULL;
  g_autofree char *stored_key = store_key(key);
  g_autoptr(GVariant) stored = kv_store_view_lookup(self->view, stored_key);
  /* A value of another type (written by someone else) reads as the default. */
  return stored != NULL && g_variant_is_of_type(stored, expected_type) ? g_variant_ref(stored)
                                                                       : NULL;
}

/* What the view holds of settings key @key. */
static GVariant *view_value(KvSettingsBackend *self, const char *key)
{
  g_autofree char *stored_key = store_key(key);

  return self->view != NULL ? kv_store_view_lookup(self->view, stored_key) : NULL;
}

/* Reads of @key go to the view again once its writes are answered and the view has
 * reached them (or they were refused); GSettings hears only if that changes what it
 * read. @view_revision: where the view is for @key. */
static void settle(KvSettingsBackend *self, const char *key, guint64 view_revision)
{
  Pending *pending = g_hash_table_lookup(self->pending, key);

  if (pending == NULL || pending->in_flight > 0 ||
      (!pending->refused && view_revision < pending->revision))
    return;
  g_autoptr(GVariant) now = view_value(self, key);
  gboolean same =
      pending->value == NULL ? now == NULL : now != NULL && g_variant_equal(pending->value, now);
  g_autofree char *owned_key = g_strdup(key);
  g_hash_table_remove(self->pending, key);
  if (!same)
    g_settings_backend_changed((GSettingsBackend *)self, owned_key, NULL);
}

/* One call on its way (a batch's SetMany or DeleteMany): the settings keys it carries. */
typedef struct {
  KvSettingsBackend *self;
  GPtrArray *keys;
} Call;

static void flush(KvSettingsBackend *self);

/* @call was answered: made at @revision, or refused with @error. */
static void call_done(Call *call, guint64 revision, const GError *error)
{
  KvSettingsBackend *self = call->self;
  guint64 view_revision = self->view != NULL ? kv_store_view_get_revision(self->view) : 0;

  for (guint i = 0; i < call->keys->len; i++) {
    const char *key = g_ptr_array_index(call->keys, i);
    Pending *pending = g_hash_table_lookup(self->pending, key);
    pending->in_flight--;
    pending->refused = error != NULL;
    pending->revision = MAX(pending->revision, revision);
    /* Refused: what reads see goes back to what the store holds. */
    settle(self, key, view_revision);
  }
  /* GSettings has no way to tell the writer: said, not a warning (a program running with
   * fatal warnings would end on it). */
  if (error != NULL)
    g_message("kvstore settings: kvstored refused a write, taken back: %s", error->message);
  g_ptr_array_unref(call->keys);
  g_free(call);
  if (--self->calls_out == 0)
    flush(self);
  g_object_unref(self);
}

static void on_call_done(GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply =
      g_dbus_connection_call_finish(G_DBUS_CONNECTION(source), result, &error);
  guint64 revision = 0;

  if (error != NULL && error->domain == KV_STORE_ERROR)
    g_dbus_error_strip_remote_error(error);
  /* SetMany answers (t revision), DeleteMany (u deleted, t revision). */
  if (reply != NULL)
    g_variant_get_child(reply, g_variant_n_children(reply) - 1, "t", &revision);
  call_done(user_data, revision, error);
}

static void send(KvSettingsBackend *self, GPtrArray *keys, const char *method, GVariant *parameters)
{
  Call *call = g_new0(Call, 1);

  call->self = g_object_ref(self);
  call->keys = g_ptr_array_ref(keys);
  self->calls_out++;
  g_dbus_connection_call(kv_store_client_get_connection(self->client), "org.example.KVStore",
                         "/org/example/KVStore", "org.example.KVStore", method, parameters, NULL,
                         G_DBUS_CALL_FLAGS_NONE, -1, NULL, on_call_done, call);
}

/* Sends the writes queued as one batch, unless one is out: then they wait for it,
 * gathering the writes that come meanwhile (a key written twice goes once, with its last
 * value). So a program that writes in a burst has at most two calls out (the bus counts
 * the replies each connection awaits: 128 on the system bus), and a burst costs a few
 * commits, not one per write. The values go in one SetMany, then the resets in one
 * DeleteMany: a delayed apply lands as one revision (two with resets). */
static void flush(KvSettingsBackend *self)
{
  if (self->calls_out > 0 || g_hash_table_size(self->queued) == 0)
    return;
  g_autoptr(GHashTable) batch = g_steal_pointer(&self->queued);
  g_autoptr(GPtrArray) set_keys = g_ptr_array_new_with_free_func(g_free);
  g_autoptr(GPtrArray) reset_keys = g_ptr_array_new_with_free_func(g_free);
  g_autoptr(GPtrArray) deleted = g_ptr_array_new_with_free_func(g_free);
  GVariantBuilder entries;
  GHashTableIter iter;
  gpointer key, value;

  self->queued = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, value_unref);
  g_variant_builder_init(&entries, G_VARIANT_TYPE_VARDICT);
  g_hash_table_iter_init(&iter, batch);
  while (g_hash_table_iter_next(&iter, &key, &value)) {
    g_autofree char *stored_key = store_key(key);
    if (value != NULL) {
      g_variant_builder_add(&entries, "{sv}", stored_key, value);
      g_ptr_array_add(set_keys, g_strdup(key));
    } else {
      g_ptr_array_add(deleted, g_steal_pointer(&stored_key));
      g_ptr_array_add(reset_keys, g_strdup(key));
    }
  }
  /* SetMany and DeleteMany, not Set and Delete: their answers have the revision. */
  if (set_keys->len > 0)
    send(self, set_keys, "SetMany", g_variant_new("(a{sv})", &entries));
  else
    g_variant_builder_clear(&entries);
  g_ptr_array_add(deleted, NULL);
  if (reset_keys->len > 0)
    send(self, reset_keys, "DeleteMany", g_variant_new("(^as)", deleted->pdata));
}

/* Queues @value (NULL: reset) for @key; reads see it from now on. */
static void queue(KvSettingsBackend *self, const char *key, GVariant *value)
{
  Pending *pending = g_hash_table_lookup(self->pending, key);

  if (pending == NULL) {
    pending = g_new0(Pending, 1);
    g_hash_table_insert(self->pending, g_strdup(key), pending);
  }
  if (pending->value != NULL)
    g_variant_unref(pending->value);
  pending->value = value != NULL ? g_variant_ref_sink(value) : NULL;
  /* Once per batch it is in. */
  if (!g_hash_table_contains(self->queued, key))
    pending->in_flight++;
  g_hash_table_replace(self->queued, g_strdup(key),
                       pending->value != NULL ? g_variant_ref(pending->value) : NULL);
}

static gboolean kv_settings_write(GSettingsBackend *backend, const char *key, GVariant *value,
                                  gpointer origin_tag)
{
  KvSettingsBackend *self = (KvSettingsBackend *)backend;
  g_autoptr(GVariant) owned = g_variant_ref_sink(value);

  queue(self, key, owned);
  g_settings_backend_changed(backend, key, origin_tag);
  flush(self);
  return TRUE;
}

static void kv_settings_reset(GSettingsBackend *backend, const char *key, gpointer origin_tag)
{
  KvSettingsBackend *self = (KvSettingsBackend *)backend;

  queue(self, key, NULL);
  g_settings_backend_changed(backend, key, origin_tag);
  flush(self);
}

static gboolean queue_tree_entry(gpointer key, gpointer value, gpointer user_data)
{
  queue(user_data, key, value);
  return FALSE;
}

static gboolean kv_settings_write_tree(GSettingsBackend *backend, GTree *changes,
                                       gpointer origin_tag)
{
  KvSettingsBackend *self = (KvSettingsBackend *)backend;

  g_tree_foreach(changes, queue_tree_entry, self);
  g_settings_backend_changed_tree(backend, changes, origin_tag);
  flush(self);
  return TRUE;
}

static gboolean kv_settings_get_writable(GSettingsBackend *backend, const char *key)
{
  KvSettingsBackend *self = (KvSettingsBackend *)backend;
  g_autofree char *stored_key = store_key(key);
  gboolean can_write = FALSE;
  g_autoptr(GVariant) reply = g_dbus_connection_call_sync(
      kv_store_client_get_connection(self->client), "org.example.KVStore", "/org/example/KVStore",
      "org.example.KVStore", "CheckAccess", g_variant_new("(s)", stored_key),
      G_VARIANT_TYPE("(sbb)"), G_DBUS_CALL_FLAGS_NONE, -1, NULL, NULL);

  if (reply != NULL)
    g_variant_get(reply, "(&sbb)", NULL, NULL, &can_write);
  return can_write;
}

static GPermission *kv_settings_get_permission(GSettingsBackend *backend, const char *path)
{
  return g_simple_permission_new(TRUE);
}

/* Waits for every write queued to be sent and answered. */
static void kv_settings_sync(GSettingsBackend *backend)
{
  KvSettingsBackend *self = (KvSettingsBackend *)backend;

  while (self->calls_out > 0 || g_hash_table_size(self->queued) > 0)
    g_main_context_iteration(NULL, TRUE);
}

/* The view tells a real change of the store: GSettings is told, unless reads of the key
 * see a value written here, which they do until the view reaches its writes. */
static void on_view_changed(KvStoreView *view, const char *stored_key, GVariant *value,
                            guint64 revision, gpointer user_data)
{
  KvSettingsBackend *self = user_data;
  const char *key = stored_key + strlen(KEY_PREFIX);

  if (key[0] != '/')
    return;
  if (g_hash_table_contains(self->pending, key)) {
    settle(self, key, revision);
    return;
  }
  g_settings_backend_changed((GSettingsBackend *)self, key, NULL);
}

static void on_defaults_changed(GDBusConnection *connection, const char *sender, const char *path,
                                const char *interface, const char *member, GVariant *parameters,
                                gpointer user_data)
{
  g_settings_backend_path_writable_changed(user_data, "/");
}

static void kv_settings_backend_finalize(GObject *object)
{
  KvSettingsBackend *self = (KvSettingsBackend *)object;

  if (self->defaults_id != 0)
    g_dbus_connection_signal_unsubscribe(kv_store_client_get_connection(self->client),
                                         self->defaults_id);
  g_clear_object(&self->view);
  g_clear_object(&self->client);
  g_hash_table_unref(self->pending);
  g_hash_table_unref(self->queued);
  G_OBJECT_CLASS(kv_settings_backend_parent_class)->finalize(object);
}

static void kv_settings_backend_init(KvSettingsBackend *self)
{
  g_autoptr(GError) error = NULL;

  self->pending =
      g_hash_table_new_full(g_str_hash, g_str_equal, g_free, (GDestroyNotify)pending_free);
  self->queued = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, value_unref);
  self->client = kv_store_client_new_sync(G_BUS_TYPE_SESSION, NULL, &error);
  if (self->client != NULL)
    self->view = kv_store_view_new_sync(self->client, KEY_PREFIX "/", NULL, &error);
  if (self->view == NULL) {
    g_message("kvstore settings: cannot read the store, defaults only: %s", error->message);
    return;
  }
  g_signal_connect(self->view, "changed", G_CALLBACK(on_view_changed), self);
  /* Locks may have come or gone: GSettings asks get_writable again. */
  self->defaults_id = g_dbus_connection_signal_subscribe(
      kv_store_client_get_connection(self->client), "org.example.KVStore", "org.example.KVStore",
      "DefaultsChanged", "/org/example/KVStore", NULL, G_DBUS_SIGNAL_FLAGS_NONE,
      on_defaults_changed, self, NULL);
}

static void kv_settings_backend_class_init(KvSettingsBackendClass *klass)
{
  GSettingsBackendClass *backend = G_SETTINGS_BACKEND_CLASS(klass);

  G_OBJECT_CLASS(klass)->finalize = kv_settings_backend_finalize;
  backend->read = kv_settings_read;
  backend->write = kv_settings_write;
  backend->write_tree = kv_settings_write_tree;
  backend->reset = kv_settings_reset;
  backend->get_writable = kv_settings_get_writable;
  backend->get_permission = kv_settings_get_permission;
  backend->sync = kv_settings_sync;
}

static void kv_settings_backend_class_finalize(KvSettingsBackendClass *klass)
{
}

void g_io_module_load(GIOModule *module)
{
  kv_settings_backend_register_type(G_TYPE_MODULE(module));
  g_io_extension_point_implement(G_SETTINGS_BACKEND_EXTENSION_POINT_NAME,
                                 kv_settings_backend_get_type(), "kvstore", PRIORITY);
}

void g_io_module_unload(GIOModule *module)
{
}

char **g_io_module_query(void)
{
  return g_strsplit(G_SETTINGS_BACKEND_EXTENSION_POINT_NAME, "!", 0);
}
