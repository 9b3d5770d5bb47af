/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "kv-serialized-value.h"

#include <glib.h>

G_BEGIN_DECLS

/* A snapshot chunk in the packed form (snapshot format 2): the entries in key order, each
 *   shared   varint: the bytes its key shares with the key before (0 for the first)
 *   length   varint: the bytes of the key after those
 *   suffix   those bytes
 *   revision varint: zigzag of the difference from the revision before (0 before the first)
 *   type     varint: a type seen before in the chunk, by its index; or the next index,
 *            followed by the new type string (varint length, bytes)
 *   size     varint: the value's bytes
 *   value    its GVariant serialization, in normal form
 * A chunk shares nothing with another, so --repair loses only the damaged ones. Sorted keys
 * share most of their bytes and a batch's keys their revision: 16-byte keys with 16-byte
 * strings take about 25 bytes an entry, where the GVariant form (format 1) took 58. Every
 * part is checked as it is read, as KvChunkReader does. */

/* The longest key a packed chunk holds (kvstored's own keys are a little longer than the
 * 4096 bytes callers may use). */
#define KV_PACKED_KEY_MAX 16384

typedef struct {
  const guint8 *data, *end;
  const guint8 *at;
  char key[KV_PACKED_KEY_MAX + 1];
  gsize key_length;
  guint64 revision;
  GPtrArray *types; /* char *, the chunk's type strings in the order they came */
  KvVariantChecker checker;
} KvPackedReader;

typedef struct {
  const char *key; /* valid until the next entry is read */
  guint64 revision;
  const char *type;
  const guint8 *value; /* in the chunk's bytes, in normal form, unaligned */
  gsize value_size;
} KvPackedEntry;

typedef enum {
  KV_PACKED_ENTRY,
  KV_PACKED_END,
  KV_PACKED_DAMAGED,
} KvPackedStatus;

/* Starts reading the @size bytes at @data. */
void kv_packed_reader_init(KvPackedReader *reader, const guint8 *data, gsize size);
KvPackedStatus kv_packed_reader_next(KvPackedReader *reader, KvPackedEntry *entry);
void kv_packed_reader_clear(KvPackedReader *reader);

/* Appends packed entries to a buffer: begin, add in key order, end. */
typedef struct {
  GByteArray *out;
  GString *last_key;
  guint64 last_revision;
  GHashTable *types; /* type string -> index + 1 */
  guint n;
} KvPackedWriter;

void kv_packed_writer_begin(KvPackedWriter *writer, GByteArray *out);
/* Appends an entry; @key must sort after the one before, @value be in normal form. */
void kv_packed_writer_add(KvPackedWriter *writer, const char *key, guint64 revision,
                          GVariant *value);
guint kv_packed_writer_count(const KvPackedWriter *writer);
void kv_packed_writer_end(KvPackedWriter *writer);

G_END_DECLS
