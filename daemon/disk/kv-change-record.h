/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "kv-repository.h"
#include "kv-serialized-value.h"

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

/* A record's changes read straight from its payload's bytes, as KvChunkReader reads a
 * snapshot chunk (kv-snapshot-chunk.h): no GVariant made, every part checked as it is
 * read. For replaying a journal at start-up, where GLib's checks and children were most of
 * the time. */
typedef struct {
  const char *key;     /* in the record's bytes */
  const char *type;    /* the value's type, valid until the next change is read; NULL: deleted */
  const guint8 *value; /* its serialized bytes, in normal form, unaligned */
  gsize value_size;
} KvChangeEntry;

typedef struct {
  guint64 revision;
  KvFramedArray array; /* the changes */
  KvVariantChecker checker;
} KvChangeReader;

typedef enum {
  KV_CHANGE_ENTRY,   /* the next change is in the KvChangeEntry */
  KV_CHANGE_END,     /* every change was read */
  KV_CHANGE_DAMAGED, /* the bytes are not a record kvstored wrote */
} KvChangeStatus;

/* Starts reading the payload of @size bytes at @data; FALSE when it is not one. */
gboolean kv_change_reader_init(KvChangeReader *reader, const guint8 *data, gsize size);

/* Reads the next change into @entry. */
KvChangeStatus kv_change_reader_next(KvChangeReader *reader, KvChangeEntry *entry);

/* Frees what kv_change_record_read() made. */
void kv_change_record_clear(KvChangeRecord *record);

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(KvChangeRecord, kv_change_record_clear)

G_END_DECLS
