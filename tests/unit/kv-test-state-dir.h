/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "kv-persistent-repository.h"

G_BEGIN_DECLS

/* A temporary state directory for the persistence and repair tests, removed with all it
 * holds at teardown, and the persistent repository opened on it. */
typedef struct {
  char *dir;
  char *journal;
  char *snapshot;
  GPtrArray *warnings; /* what the repository logged */
  KvHistory *history;  /* given to the repository when a test sets it; freed at teardown */
} KvTestState;

/* Removes the directory @path and the files in it (one level). */
void kv_test_remove_dir(const char *path);

void kv_test_state_setup(KvTestState *f, gconstpointer data);
void kv_test_state_teardown(KvTestState *f, gconstpointer data);

/* Opens the repository of @f->dir, its warnings collected in @f->warnings. */
KvRepository *kv_test_state_open(KvTestState *f, gsize compact_bytes, KvRecoveryInfo *info,
                                 GError **error);

/* kv_test_state_open() that must succeed, without compaction. */
KvRepository *kv_test_state_open_ok(KvTestState *f);

/* Sets @key and commits, which must succeed. */
void kv_test_set_committed(KvRepository *repository, const char *key, GVariant *value);

/* Everything in @repository as an a{sv}, to compare whole states. */
GVariant *kv_test_state_contents(KvRepository *repository);

G_END_DECLS
