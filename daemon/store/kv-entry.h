/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* One stored key and its value packed in a single allocation: the key string, the
 * value's type string and its serialized GVariant bytes. A GVariant per stored value
 * costs several allocations and ~150 bytes for a short string; an entry costs one. */
typedef struct _KvEntry KvEntry;

/* Packs @key, @value (not consumed; a floating reference stays floating) and the
 * revision of the change that stored it. */
KvEntry *kv_entry_new(const char *key, GVariant *value, guint64 revision);

/* The same from a value's type string and its serialized bytes, in normal form. */
KvEntry *kv_entry_new_from_data(const char *key, const char *type, gconstpointer data, gsize size,
                                guint64 revision);

/* The revision the entry was stored at. */
guint64 kv_entry_revision(const KvEntry *self);

/* The entry's key; the pointer stays valid, and unique to the entry, until it is freed. */
const char *kv_entry_key(const KvEntry *self);

/* The entry whose kv_entry_key() returned @key. */
KvEntry *kv_entry_from_key(const char *key);

/* A new, non-floating GVariant equal to the value the entry was made from. */
GVariant *kv_entry_dup_value(const KvEntry *self);

/* kv_entry_dup_value() over the entry's own bytes, not a copy: the value must be dropped
 * before the entry is freed. */
GVariant *kv_entry_peek_value(const KvEntry *self);

void kv_entry_free(KvEntry *self);

G_END_DECLS
