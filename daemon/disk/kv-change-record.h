/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "kv-repository.h"

G_BEGIN_DECLS

/* A journal record's payload, the GVariant "(ta(smv))" (KV_JOURNAL_RECORD_TYPE) of a
 * revision and its changes (key, and the new value or nothing for a deletion),
 * serialized by hand: byte for byte what GLib makes, without the three GVariants, the
 * format string and the copy GLib needs for each change. */
/* Appends the payload of @changes at @revision to @out. The values must be in normal
 * form (as every value GLib builds). */
void kv_change_record_serialize(GByteArray *out, guint64 revision, const KvChange *changes,
                                gsize n_changes);

/* A record's changes as read back: the revision and a KvChange array whose keys and
 * values point into the record's children, which @held keeps. */
typedef struct {
  guint64 revision;
  GArray *changes; /* KvChange */
  GPtrArray *held;
} KvChangeRecord;

/* Reads the payload @record (KV_JOURNAL_RECORD_TYPE) into @out, child by child, without a
 * format string to parse for each: replay is most of a start-up after many writes. */
void kv_change_record_read(GVariant *record, KvChangeRecord *out);

/* Frees what kv_change_record_read() made. */
void kv_change_record_clear(KvChangeRecord *record);

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(KvChangeRecord, kv_change_record_clear)

G_END_DECLS
