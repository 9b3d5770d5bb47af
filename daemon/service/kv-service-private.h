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
  /* Where writes are answered later (etcd), writes of one key take turns, in the order
   * they came: the keys writes in flight name, and the writes waiting for their turn. */
  gboolean takes_turns;
  GHashTable *busy; /* borrowed key strings */
  GQueue *waiting;  /* Submission, oldest first */
  gboolean starting, start_again;
  GList *turn_place;     /* where what a read's turn submits goes: before this waiting one */
  gboolean linearizable; /* reads wait for the repository to catch up first */
  KvHistory *history;    /* borrowed; NULL: none kept */
  KvRepositoryCommitFunc commit_done; /* the commit under way's caller */
  gpointer commit_done_data;
};

/* Tells the history and the change observer of a change made at @revision. */
void kv_service_tell_change(KvService *self, const char *key, GVariant *value, guint64 revision);

/* Forgets the writes still waiting for their turn, untold, and drops the reads
 * (kvstored is stopping). */
void kv_service_drop_waiting(KvService *self);

/* A batch names at most KV_BATCH_MAX_KEYS keys: TOO_LARGE otherwise. */
gboolean kv_service_validate_batch_size(gsize n, GError **error);

/* kv_service_validate_key() for each of @keys: a batch is refused whole. */
gboolean kv_service_validate_keys(const char *const *keys, GError **error);

/* Whether @value may be stored under @key: a type the bus carries, within the size
 * limit. */
gboolean kv_service_validate_value(KvService *self, const char *key, GVariant *value,
                                   GError **error);

G_END_DECLS
