/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "kv-page.h"

#include <glib.h>

G_BEGIN_DECLS

/* The administrator's defaults and locks, as dconf's system databases give them: read-only
 * layers of values that a read returns where no value is stored, and keys or prefixes
 * that no caller but root may write. They come from `*.conf` files (GKeyFile) in a list
 * of directories, lowest first (/usr/share/kvstore/defaults.d, then
 * /etc/kvstore/defaults.d): a file masks the file of the same name in a lower directory,
 * and the files are read in name order whatever their directory, a later one's value of
 * a key winning. Each group names a prefix and each of its keys a key under it, with a
 * value in GVariant text:
 *
 *   [gsettings/org/gnome/desktop/interface]
 *   clock-format='24h'
 *
 * is the key "gsettings/org/gnome/desktop/interface/clock-format". The group
 * [.kvstore/locks] has one key, keys=, a list of locked keys and prefixes (ending in /). */
typedef struct _KvDefaults KvDefaults;

/* The most all the defaults may take together, as one GetDefaults reply, so that it
 * fits well within a bus's largest message (32 MiB on dbus-daemon's system bus) and
 * kvstored's own bound on a reply (8 MiB). */
#define KV_DEFAULTS_MAX_BYTES (4u * 1024 * 1024)

/* The group of a defaults file that lists the locks, and its one key. */
#define KV_DEFAULTS_LOCKS_GROUP ".kvstore/locks"
#define KV_DEFAULTS_LOCKS_KEY   "keys"

/* Reads the files in @dirs (lowest first; missing directories are empty). NULL with
 * @error naming the file (and line or key) of the first bad one, or when the values take
 * more than KV_DEFAULTS_MAX_BYTES together. */
KvDefaults *kv_defaults_load(const char *const *dirs, GError **error);

/* No defaults and no locks. */
KvDefaults *kv_defaults_new_empty(void);

/* The directories @self was read from, to read them again on reload. */
const char *const *kv_defaults_get_dirs(KvDefaults *self);

/* The default of @key (borrowed), and the file it comes from in @out_file; or NULL. */
GVariant *kv_defaults_lookup(KvDefaults *self, const char *key, const char **out_file);

/* The lock on @key (itself or a prefix of it), as the file that sets it; or NULL. */
const char *kv_defaults_lock_of(KvDefaults *self, const char *key);

/* The first lock that a DeletePrefix of @prefix would reach: on a key or prefix under
 * @prefix, or on a prefix of it; its file, or NULL. */
const char *kv_defaults_lock_within(KvDefaults *self, const char *prefix);

/* The defaults of the keys starting with @prefix that @filter (if not NULL) admits, as a new
 * a{sv} in key order. */
GVariant *kv_defaults_list(KvDefaults *self, const char *prefix, const KvKeyFilter *filter);

/* Whether @a and @b hold the same defaults and locks. */
gboolean kv_defaults_equal(KvDefaults *a, KvDefaults *b);

guint kv_defaults_n_values(KvDefaults *self);
guint kv_defaults_n_locks(KvDefaults *self);

void kv_defaults_free(KvDefaults *self);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(KvDefaults, kv_defaults_free)

G_END_DECLS
