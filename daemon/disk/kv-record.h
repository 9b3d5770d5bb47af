/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The framing shared by the journal and the snapshot files.
 *
 * A file starts with a 16-byte header: an 8-byte magic, a little-endian uint32 format
 * version and 4 reserved bytes. Records follow, each a 12-byte header -- uint32 payload
 * size, uint32 CRC-32C of the payload, uint32 CRC-32C of those first 8 bytes -- and the
 * payload, a serialized GVariant. */

#define KV_RECORD_FILE_HEADER_SIZE 16
#define KV_RECORD_HEADER_SIZE      12
#define KV_RECORD_FORMAT_VERSION   1

/* Appends the file header for @magic (8 bytes) to @buffer. */
void kv_record_append_file_header(GByteArray *buffer, const char magic[8]);

/* The same for a file of its own format @version (snapshots: kv-snapshot.c). */
void kv_record_append_file_header_version(GByteArray *buffer, const char magic[8], guint32 version);

/* Checks that @data starts with the header for @magic in a version this build reads;
 * G_FILE_ERROR_INVAL for another magic, G_FILE_ERROR_NOSYS for another version, naming
 * @path. */
gboolean kv_record_check_file_header(const guint8 *data, gsize size, const char magic[8],
                                     const char *path, GError **error);

/* The same for a file read in the versions from 1 to @newest, which *@out_version says. */
gboolean kv_record_check_file_header_versions(const guint8 *data, gsize size, const char magic[8],
                                              const char *path, guint32 newest,
                                              guint32 *out_version, GError **error);

/* Appends one record holding @payload to @buffer. */
void kv_record_append(GByteArray *buffer, GVariant *payload);

/* The same in two steps, for a payload serialized straight into @buffer: begin reserves
 * the record's header and returns where it starts; end, once the payload follows it,
 * fills it in. */
guint kv_record_begin(GByteArray *buffer);
void kv_record_end(GByteArray *buffer, guint start);

typedef enum {
  KV_RECORD_OK,      /* a whole record: *out_payload is set */
  KV_RECORD_END,     /* exactly at the end of the data */
  KV_RECORD_TORN,    /* an incomplete or garbled last record: the data ends in it */
  KV_RECORD_CORRUPT, /* damage with more data after it */
} KvRecordStatus;

/* Reads the record at *offset in @data (@size bytes in all) as a GVariant of @type and,
 * on KV_RECORD_OK, moves *offset past it. A record whose payload is not a normal-form
 * GVariant of @type counts as corrupt (or torn, when it is the last). */
KvRecordStatus kv_record_read(const guint8 *data, gsize size, gsize *offset,
                              const GVariantType *type, GVariant **out_payload);

/* The same without reading the payload as a GVariant: on KV_RECORD_OK, its bytes (in
 * @data, unaligned) are in *out_payload and *out_size, checked against their checksums
 * only. */
KvRecordStatus kv_record_read_bytes(const guint8 *data, gsize size, gsize *offset,
                                    const guint8 **out_payload, gsize *out_size);

/* Finds the first offset at or after @from in @data where a whole record with valid
 * checksums starts, in @out_offset; FALSE when there is none. Damage with none after it
 * is a torn tail, however long the garbage. */
gboolean kv_record_find_next(const guint8 *data, gsize size, gsize from, gsize *out_offset);

G_END_DECLS
