/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "kv-serialized-value.h"

#include <glib.h>

G_BEGIN_DECLS

/* The entries of one snapshot chunk of format 1 (kvstored now writes format 2,
 * kv-packed-chunk.h), a serialized GVariant "a(stv)" (key, revision, value), read straight
 * from its bytes. GLib would make five GVariants an entry to walk
 * it, and check the whole chunk's normal form first: two thirds of loading a million keys.
 * Here each part is checked as it is read (offsets in bounds, the key a UTF-8 string, the
 * value's type valid and its bytes in normal form), so damaged bytes are refused and never
 * read out of bounds; what is handed on may be taken as trusted GVariant data. */

typedef struct {
  const char *key; /* in the chunk's bytes */
  guint64 revision;
  const char *type;    /* the value's type string, valid until the next entry is read */
  const guint8 *value; /* its serialized bytes, in normal form, unaligned */
  gsize value_size;
} KvChunkEntry;

typedef struct {
  KvFramedArray array;
  KvVariantChecker checker;
} KvChunkReader;

typedef enum {
  KV_CHUNK_ENTRY,   /* the next entry is in the KvChunkEntry */
  KV_CHUNK_END,     /* every entry was read */
  KV_CHUNK_DAMAGED, /* the bytes are not a chunk kvstored wrote */
} KvChunkStatus;

/* Starts reading the @size bytes at @data; FALSE when they cannot hold an array. */
gboolean kv_chunk_reader_init(KvChunkReader *reader, const guint8 *data, gsize size);

/* Reads the next entry into @entry. */
KvChunkStatus kv_chunk_reader_next(KvChunkReader *reader, KvChunkEntry *entry);

G_END_DECLS
