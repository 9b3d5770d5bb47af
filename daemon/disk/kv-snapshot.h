/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "kv-repository.h"

G_BEGIN_DECLS

/* The snapshot file: every key and value of a repository at one journal sequence
 * number, in checksummed records (kv-record.h). It is only ever replaced whole:
 * kv_snapshot_write() makes "<path>.tmp", kv_snapshot_install() renames it into place. */

/* Loads the snapshot at @path into @into, a memory repository, keys with their
 * revisions, and returns the store revision it was taken at, which @into takes too; a
 * missing file is an empty snapshot at revision 0. Any damage is an error. */
gboolean kv_snapshot_load(const char *path, KvRepository *into, guint64 *out_sequence,
                          GError **error);

/* What kv_snapshot_salvage() kept. */
typedef struct {
  gboolean head_found;  /* the head or the trailer was whole: @sequence and @count hold */
  guint64 sequence;     /* the store revision the snapshot was taken at */
  guint64 count;        /* the keys it held */
  guint64 salvaged;     /* the keys loaded from whole records */
  gsize damaged_bytes;  /* bytes in no whole record */
  gboolean ends_differ; /* head and trailer whole, but not the same (the trailer counts) */
} KvSnapshotSalvage;

/* Loads into @into every entry of the snapshot at @path that sits in a whole record,
 * whatever damage lies around it, and tells what it found. FALSE with @error only when
 * the file cannot be read or is not a snapshot of this version. */
gboolean kv_snapshot_salvage(const char *path, KvRepository *into, KvSnapshotSalvage *out,
                             GError **error);

/* Writes everything in @from, taken at @sequence, to "<path>.tmp" and fsync()s it. */
gboolean kv_snapshot_write(const char *path, KvRepository *from, guint64 sequence, GError **error);

/* Renames "<path>.tmp" over @path and syncs the directory. */
gboolean kv_snapshot_install(const char *path, GError **error);

G_END_DECLS
