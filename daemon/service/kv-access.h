/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>
#include <sys/types.h>

G_BEGIN_DECLS

/* Who may read and write which keys: rules by key prefix, read from drop-in files, and the
 * quota limits that go with them. No D-Bus here: callers are described by their ids.
 *
 * Built in: everyone reads, root writes, and each uid alone (and root) reads and writes
 * "users/<uid>/". A rule file's group "[Prefix P]" sets Read= and Write= (lists of
 * everyone, user:NAME|UID, group:NAME|GID) for keys starting with P, and optionally
 * Owner=USER, MaxKeys= and MaxBytes=; "[Default]" sets the rule for every other key;
 * "[Quota]" sets each uid's MaxKeys= and MaxBytes=. The longest matching prefix wins, a
 * file's rule over the built-in one of the same prefix. Root may do anything. */
typedef struct _KvAccess KvAccess;

typedef enum {
  KV_ACCESS_READ,
  KV_ACCESS_WRITE,
} KvAccessMode;

/* A caller: its uid and every group it is in. */
typedef struct {
  uid_t uid;
  const gid_t *gids;
  gsize n_gids;
} KvCaller;

#define KV_ACCESS_DEFAULT_MAX_KEYS  10000
#define KV_ACCESS_DEFAULT_MAX_BYTES (16 * 1024 * 1024)

/* The built-in rules alone. */
KvAccess *kv_access_new_builtin(void);

/* The built-in rules, then every "*.conf" of @dirs (NULL-terminated, in rising priority: a
 * file replaces one of the same name in an earlier directory), read in name order. Missing
 * directories are skipped. A bad file fails with G_KEY_FILE_ERROR naming it and the line. */
KvAccess *kv_access_load(const char *const *dirs, GError **error);

void kv_access_free(KvAccess *self);

/* Whether @caller may read or write @key. */
gboolean kv_access_allows(const KvAccess *self, const KvCaller *caller, const char *key,
                          KvAccessMode mode);

/* One caller under one set of rules, for kv_access_reader_admits(). */
typedef struct {
  const KvAccess *access;
  const KvCaller *caller;
} KvAccessReader;

/* Whether the reader @reader (a KvAccessReader) may read @key: a KvKeyFilter. */
gboolean kv_access_reader_admits(const char *key, gpointer reader);

/* For a @key that @caller may not read: a later key before which it may read none (the
 * first that it might), or NULL when it may read none after @key. Costs a pass over the
 * rules, not over the keys between. */
char *kv_access_next_readable(const KvAccess *self, const KvCaller *caller, const char *key);

/* kv_access_next_readable() for the reader @reader (a KvAccessReader): a KvKeyFilter's
 * skip. */
char *kv_access_reader_skip(const char *key, gpointer reader);

/* Whether every caller may read @key: its changes may be broadcast. */
gboolean kv_access_everyone_reads(const KvAccess *self, const char *key);

/* Whether @caller may read every key: no listing needs filtering. */
gboolean kv_access_reads_all(const KvAccess *self, const KvCaller *caller);

/* A line for people on the rule that decides @key: its prefix, where it comes from, who
 * may read and who may write. */
char *kv_access_describe(const KvAccess *self, const char *key);

/* The name of the quota @key counts against ("uid N" for "users/N/" and a rule's Owner=,
 * "prefix P" for a rule shared by several writers), and that quota's limits. */
char *kv_access_quota_scope(const KvAccess *self, const char *key, guint64 *out_max_keys,
                            guint64 *out_max_bytes);

/* Whether @uid is bound by quotas (everyone but root). */
gboolean kv_access_has_quota(uid_t uid);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(KvAccess, kv_access_free)

G_END_DECLS
