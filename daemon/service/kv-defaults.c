/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "kv-defaults.h"

#include "kv-service.h"
#include "kv-value-check.h"
#include "kv-wire.h"

#include <errno.h>
#include <string.h>

typedef struct {
  GVariant *value;
  const char *file; /* interned */
} Default;

struct _KvDefaults {
  GStrv dirs;
  GTree *values; /* key → Default, in key order for listings */
  GTree *locks;  /* key or prefix → file (interned) */
};

static void default_free(Default *entry)
{
  g_variant_unref(entry->value);
  g_free(entry);
}

static int compare_keys(gconstpointer a, gconstpointer b, gpointer user_data)
{
  return strcmp(a, b);
}

static KvDefaults *defaults_new(const char *const *dirs)
{
  KvDefaults *self = g_new0(KvDefaults, 1);

  self->dirs = g_strdupv((char **)dirs);
  self->values = g_tree_new_full(compare_keys, NULL, g_free, (GDestroyNotify)default_free);
  self->locks = g_tree_new_full(compare_keys, NULL, g_free, NULL);
  return self;
}

KvDefaults *kv_defaults_new_empty(void)
{
  static const char *const none[] = {NULL};

  return defaults_new(none);
}

/* The names of the `*.conf` files of @dirs, each mapped to its path in the highest
 * directory that has it. */
static gboolean collect_files(const char *const *dirs, GHashTable *files, GError **error)
{
  for (gsize i = 0; dirs[i] != NULL; i++) {
    g_autoptr(GError) local_error = NULL;
    g_autoptr(GDir) dir = g_dir_open(dirs[i], 0, &local_error);
    if (dir == NULL) {
      if (g_error_matches(local_error, G_FILE_ERROR, G_FILE_ERROR_NOENT))
        continue;
      g_propagate_error(error, g_steal_pointer(&local_error));
      return FALSE;
    }
    const char *name;
    while ((name = g_dir_read_name(dir)) != NULL)
      if (g_str_has_suffix(name, ".conf") && name[0] != '.')
        g_hash_table_insert(files, g_strdup(name), g_build_filename(dirs[i], name, NULL));
  }
  return TRUE;
}

/* @group without the slashes at its ends: the prefix its keys go under. */
static char *group_prefix(const char *group)
{
  while (*group == '/')
    group++;
  char *prefix = g_strdup(group);
  gsize length = strlen(prefix);
  while (length > 0 && prefix[length - 1] == '/')
    prefix[--length] = '\0';
  return prefix;
}

/* A key of a defaults file, as a caller could write it (not kvstored's own). */
static gboolean check_key(const char *file, const char *key, GError **error)
{
  g_autoptr(GError) local_error = NULL;

  if (!kv_service_validate_key(key, &local_error)) {
    g_set_error(error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE, "%s: '%s': %s", file, key,
                local_error->message);
    return FALSE;
  }
  if (g_str_has_prefix(key, ".kvstore/")) {
    g_set_error(error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE,
                "%s: '%s': keys under .kvstore/ are kvstored's own", file, key);
    return FALSE;
  }
  return TRUE;
}

static gboolean load_locks(KvDefaults *self, GKeyFile *keyfile, const char *group, const char *file,
                           GError **error)
{
  g_auto(GStrv) names = g_key_file_get_keys(keyfile, group, NULL, NULL);

  for (gsize i = 0; names[i] != NULL; i++) {
    if (strcmp(names[i], KV_DEFAULTS_LOCKS_KEY) != 0) {
      g_set_error(error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_KEY_NOT_FOUND,
                  "%s: [%s] has no key '%s'; the locks are listed in " KV_DEFAULTS_LOCKS_KEY "=",
                  file, group, names[i]);
      return FALSE;
    }
  }
  g_auto(GStrv) locked =
      g_key_file_get_string_list(keyfile, group, KV_DEFAULTS_LOCKS_KEY, NULL, NULL);
  for (gsize i = 0; locked != NULL && locked[i] != NULL; i++) {
    if (!check_key(file, locked[i], error))
      return FALSE;
    g_tree_replace(self->locks, g_strdup(locked[i]), (gpointer)g_intern_string(file));
  }
  return TRUE;
}

static gboolean load_values(KvDefaults *self, GKeyFile *keyfile, const char *group,
                            const char *prefix, const char *file, GError **error)
{
  g_auto(GStrv) names = g_key_file_get_keys(keyfile, group, NULL, NULL);

  for (gsize i = 0; names[i] != NULL; i++) {
    g_autofree char *key =
        prefix[0] != '\0' ? g_strconcat(prefix, "/", names[i], NULL) : g_strdup(names[i]);
    if (!check_key(file, key, error))
      return FALSE;
    g_autofree char *text = g_key_file_get_value(keyfile, group, names[i], NULL);
    g_autoptr(GError) parse_error = NULL;
    g_autoptr(GVariant) value = g_variant_parse(NULL, text, NULL, NULL, &parse_error);
    if (value == NULL) {
      g_autofree char *why = g_variant_parse_error_print_context(parse_error, text);
      g_set_error(error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE,
                  "%s: [%s] %s is not a value in GVariant text: %s", file, group, names[i], why);
      return FALSE;
    }
    g_autoptr(GError) value_error = NULL;
    const char *type = g_variant_get_type_string(value);
    if (strchr(type, 'm') != NULL || strstr(type, "()") != NULL) {
      g_set_error(error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE,
                  "%s: [%s] %s: D-Bus carries no value of type %s", file, group, names[i], type);
      return FALSE;
    }
    if (!kv_value_check_storable(key, value, KV_DEFAULT_MAX_VALUE_SIZE, &value_error)) {
      g_set_error(error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE, "%s: [%s] %s: %s", file,
                  group, names[i], value_error->message);
      return FALSE;
    }
    Default *entry = g_new0(Default, 1);
    entry->value = g_steal_pointer(&value);
    entry->file = g_intern_string(file);
    g_tree_replace(self->values, g_steal_pointer(&key), entry);
  }
  return TRUE;
}

static gboolean load_file(KvDefaults *self, const char *file, GError **error)
{
  g_autoptr(GKeyFile) keyfile = g_key_file_new();
  g_autoptr(GError) local_error = NULL;

  if (!g_key_file_load_from_file(keyfile, file, G_KEY_FILE_NONE, &local_error)) {
    g_set_error(error, local_error->domain, local_error->code, "%s: %s", file,
                local_error->message);
    return FALSE;
  }
  g_auto(GStrv) groups = g_key_file_get_groups(keyfile, NULL);
  for (gsize i = 0; groups[i] != NULL; i++) {
    g_autofree char *prefix = group_prefix(groups[i]);
    gboolean ok = strcmp(prefix, KV_DEFAULTS_LOCKS_GROUP) == 0
                      ? load_locks(self, keyfile, groups[i], file, error)
                      : load_values(self, keyfile, groups[i], prefix, file, error);
    if (!ok)
      return FALSE;
  }
  return TRUE;
}

static int compare_names(gconstpointer a, gconstpointer b)
{
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

KvDefaults *kv_defaults_load(const char *const *dirs, GError **error)
{
  g_autoptr(GHashTable) files = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);

  if (!collect_files(dirs, files, error))
    return NULL;
  g_autofree gpointer *names = g_hash_table_get_keys_as_array(files, NULL);
  qsort(names, g_hash_table_size(files), sizeof *names, compare_names);

  g_autoptr(KvDefaults) self = defaults_new(dirs);
  for (guint i = 0; i < g_hash_table_size(files); i++)
    if (!load_file(self, g_hash_table_lookup(files, names[i]), error))
      return NULL;
  /* Bounded as a whole, so that one GetDefaults reply carries them all, on any bus. */
  g_autoptr(GVariant) all = g_variant_ref_sink(kv_defaults_list(self, "", NULL));
  gsize size = kv_wire_end(all, 0);
  if (size > KV_DEFAULTS_MAX_BYTES) {
    g_set_error(error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE,
                "the defaults take %zu bytes in all, more than the %u bytes one reply carries; "
                "keep large values out of the defaults",
                size, KV_DEFAULTS_MAX_BYTES);
    return NULL;
  }
  return g_steal_pointer(&self);
}

const char *const *kv_defaults_get_dirs(KvDefaults *self)
{
  return (const char *const *)self->dirs;
}

GVariant *kv_defaults_lookup(KvDefaults *self, const char *key, const char **out_file)
{
  Default *entry = g_tree_lookup(self->values, key);

  if (out_file != NULL)
    *out_file = entry != NULL ? entry->file : NULL;
  return entry != NULL ? entry->value : NULL;
}

typedef struct {
  const char *key;
  gboolean within; /* also locks under @key, as a prefix */
  const char *file;
} LockSearch;

static gboolean find_lock(gpointer key, gpointer value, gpointer user_data)
{
  LockSearch *search = user_data;
  const char *lock = key;

  if (strcmp(lock, search->key) == 0 ||
      (g_str_has_suffix(lock, "/") && g_str_has_prefix(search->key, lock)) ||
      (search->within && g_str_has_prefix(lock, search->key)))
    search->file = value;
  return search->file != NULL;
}

const char *kv_defaults_lock_of(KvDefaults *self, const char *key)
{
  LockSearch search = {key, FALSE, NULL};

  g_tree_foreach(self->locks, find_lock, &search);
  return search.file;
}

const char *kv_defaults_lock_within(KvDefaults *self, const char *prefix)
{
  LockSearch search = {prefix, TRUE, NULL};

  g_tree_foreach(self->locks, find_lock, &search);
  return search.file;
}

typedef struct {
  const char *prefix;
  const KvKeyFilter *filter;
  GVariantBuilder builder;
} Listing;

static gboolean add_listed(gpointer key, gpointer value, gpointer user_data)
{
  Listing *listing = user_data;
  Default *entry = value;

  if (g_str_has_prefix(key, listing->prefix) &&
      (listing->filter == NULL || listing->filter->admits(key, listing->filter->data)))
    g_variant_builder_add(&listing->builder, "{sv}", (const char *)key, entry->value);
  return FALSE;
}

GVariant *kv_defaults_list(KvDefaults *self, const char *prefix, const KvKeyFilter *filter)
{
  Listing listing = {prefix, filter};

  g_variant_builder_init(&listing.builder, G_VARIANT_TYPE("a{sv}"));
  g_tree_foreach(self->values, add_listed, &listing);
  return g_variant_builder_end(&listing.builder);
}

typedef struct {
  GTree *other;
  gboolean values;
  gboolean differ;
} Comparison;

static gboolean compare_entry(gpointer key, gpointer value, gpointer user_data)
{
  Comparison *comparison = user_data;
  gpointer other = g_tree_lookup(comparison->other, key);

  if (other == NULL)
    comparison->differ = TRUE;
  else if (comparison->values)
    comparison->differ = !g_variant_equal(((Default *)value)->value, ((Default *)other)->value) ||
                         ((Default *)value)->file != ((Default *)other)->file;
  else
    comparison->differ = value != other;
  return comparison->differ;
}

static gboolean trees_equal(GTree *a, GTree *b, gboolean values)
{
  Comparison comparison = {b, values, FALSE};

  if (g_tree_nnodes(a) != g_tree_nnodes(b))
    return FALSE;
  g_tree_foreach(a, compare_entry, &comparison);
  return !comparison.differ;
}

gboolean kv_defaults_equal(KvDefaults *a, KvDefaults *b)
{
  return trees_equal(a->values, b->values, TRUE) && trees_equal(a->locks, b->locks, FALSE);
}

guint kv_defaults_n_values(KvDefaults *self)
{
  return (guint)g_tree_nnodes(self->values);
}

guint kv_defaults_n_locks(KvDefaults *self)
{
  return (guint)g_tree_nnodes(self->locks);
}

void kv_defaults_free(KvDefaults *self)
{
  if (self == NULL)
    return;
  g_strfreev(self->dirs);
  g_tree_unref(self->values);
  g_tree_unref(self->locks);
  g_free(self);
}
