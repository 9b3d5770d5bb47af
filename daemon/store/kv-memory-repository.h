/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "kv-repository.h"

G_BEGIN_DECLS

/* A repository that keeps everything in memory; it never fails and its commit does
 * nothing. */
KvRepository *kv_memory_repository_new(void);

/* For loading stored state, not a change: puts @value (NULL: removes @key) with the
 * @revision it was stored at, without moving the store's revision. */
void kv_memory_repository_load(KvRepository *repository, const char *key, GVariant *value,
                               guint64 revision);

/* The same from a value's type string and serialized bytes, in normal form: no GVariant
 * made for each of a million keys loaded. */
void kv_memory_repository_load_data(KvRepository *repository, const char *key, const char *type,
                                    gconstpointer data, gsize size, guint64 revision);

/* For loading stored state: sets the store's revision. */
void kv_memory_repository_set_revision(KvRepository *repository, guint64 revision);

G_END_DECLS
