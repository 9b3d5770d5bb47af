/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* What kv-service.c and kv-service-write.c share. */

#include "kv-service.h"

G_BEGIN_DECLS

struct _KvService {
  KvRepository *repository;
  gsize max_value_size;
  KvServiceChangeFunc on_change;
  gpointer on_change_data;
  gboolean repository_tells_changes; /* the repository reports changes itself */
  /* Keys a write in flight rests on (its compares), each with the writes parked until it
   * is done: writes of one key from this kvstored take turns instead of breaking each
   * other's conditions. Only a repository that answers later ever has any. */
  GHashTable *busy;     /* key -> GPtrArray of parked submissions */
  gboolean takes_turns; /* the repository answers submissions later */
};

/* A batch names at most KV_BATCH_MAX_KEYS keys: TOO_LARGE otherwise. */
gboolean kv_service_validate_batch_size(gsize n, GError **error);

/* kv_service_validate_key() for each of @keys: a batch is refused whole. */
gboolean kv_service_validate_keys(const char *const *keys, GError **error);

/* Whether @value may be stored under @key: a type the bus carries, within the size
 * limit. */
gboolean kv_service_validate_value(KvService *self, const char *key, GVariant *value,
                                   GError **error);

G_END_DECLS
