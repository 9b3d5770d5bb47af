/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "kv-access.h"
#include "kv-repository.h"

G_BEGIN_DECLS

/* How many keys and bytes each quota scope (see kv_access_quota_scope()) holds, derived
 * from the data: built by walking the store, then kept up to date with each write. An
 * entry's bytes are its key's length and its value's serialized GVariant size. */
typedef struct _KvQuota KvQuota;

/* One key a write touches: its value's size before and after (-1: no value). */
typedef struct {
  const char *key;
  gssize old_size;
  gssize new_size;
} KvQuotaChange;

/* The usage of every scope of @access in @repository. */
KvQuota *kv_quota_new(KvRepository *repository, const KvAccess *access);

/* Whether @changes keep every scope they grow within its limits; QUOTA_EXCEEDED naming
 * the scope and the limit otherwise. Changes that shrink a scope are always allowed. */
gboolean kv_quota_check(KvQuota *self, const KvAccess *access, const KvQuotaChange *changes,
                        gsize n_changes, GError **error);

/* Counts @changes, once they are applied. */
void kv_quota_apply(KvQuota *self, const KvAccess *access, const KvQuotaChange *changes,
                    gsize n_changes);

/* The keys and bytes @scope holds now. */
void kv_quota_usage(KvQuota *self, const char *scope, guint64 *out_keys, guint64 *out_bytes);

void kv_quota_free(KvQuota *self);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(KvQuota, kv_quota_free)

G_END_DECLS
