/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "kv-snapshot.h"

#include "kv-file-util.h"
#include "kv-memory-repository.h"
#include "kv-record.h"
#include "kv-packed-chunk.h"
#include "kv-snapshot-chunk.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

static const char snapshot_magic[8] = {'K', 'V', 'S', 'T', 'S', 'N', 'P', '\n'};

/* Records: a "(tt)" head (store revision, key count), chunks of entries (key, revision,
 * value), and the head again as a trailer, so that a snapshot cut short can never pass for
 * a whole one. The chunks are packed (kv-packed-chunk.h) in format 2, which kvstored
 * writes; in format 1, which it still reads, they were GVariant "a(stv)"
 * (kv-snapshot-chunk.h). */
#define FORMAT_GVARIANT_CHUNKS 1
#define FORMAT_PACKED_CHUNKS   2
#define HEAD_TYPE              G_VARIANT_TYPE("(tt)")
/* A chunk is read whole or not at all: a damaged byte loses it whole under --repair. Small
 * chunks lose little (a 4,096-entry chunk once lost 2,880 keys to two bytes); the reader
 * takes chunks of any size. */
#define ENTRIES_PER_CHUNK 256
#define CHUNK_BYTES       (64 * 1024)
#define FLUSH_BYTES       (1024 * 1024)

static gboolean damaged(GError **error, const char *path, gsize offset, const char *what)
{
  g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_INVAL,
              "%s is damaged at offset %zu (%s); refusing to start rather than lose data", path,
              offset, what);
  return FALSE;
}

static gboolean read_expected(const guint8 *data, gsize size, gsize *offset,
                              const GVariantType *type, const char *path, GVariant **out,
                              GError **error)
{
  gsize at = *offset;

  if (kv_record_read(data, size, offset, type, out) != KV_RECORD_OK)
    return damaged(error, path, at, "a record is missing or fails its checksum");
  return TRUE;
}

/* read_chunk() of a packed chunk. */
static gboolean read_packed_chunk(const guint8 *data, gsize size, KvRepository *into,
                                  guint64 *loaded)
{
  KvPackedReader reader;
  KvPackedEntry entry;
  KvPackedStatus status;

  kv_packed_reader_init(&reader, data, size);
  while ((status = kv_packed_reader_next(&reader, &entry)) == KV_PACKED_ENTRY) {
    if (into != NULL)
      kv_memory_repository_load_data(into, entry.key, entry.type, entry.value, entry.value_size,
                                     entry.revision);
    (*loaded)++;
  }
  kv_packed_reader_clear(&reader);
  return status == KV_PACKED_END;
}

/* Reads the chunk of snapshot format @format in the @size bytes at @data, loading its
 * entries into @into (NULL: only checking them) and counting them in @loaded; FALSE when it
 * does not read as one. */
static gboolean read_chunk(guint32 format, const guint8 *data, gsize size, KvRepository *into,
                           guint64 *loaded)
{
  if (format == FORMAT_PACKED_CHUNKS)
    return read_packed_chunk(data, size, into, loaded);
  KvChunkReader reader;
  KvChunkEntry entry;
  KvChunkStatus status;

  if (!kv_chunk_reader_init(&reader, data, size))
    return FALSE;
  while ((status = kv_chunk_reader_next(&reader, &entry)) == KV_CHUNK_ENTRY) {
    if (into != NULL)
      kv_memory_repository_load_data(into, entry.key, entry.type, entry.value, entry.value_size,
                                     entry.revision);
    (*loaded)++;
  }
  return status == KV_CHUNK_END;
}

gboolean kv_snapshot_load(const char *path, KvRepository *into, guint64 *out_sequence,
                          GError **error)
{
  g_autoptr(GError) local_error = NULL;
  g_autoptr(GMappedFile) file = g_mapped_file_new(path, FALSE, &local_error);

  if (file == NULL && g_error_matches(local_error, G_FILE_ERROR, G_FILE_ERROR_NOENT)) {
    *out_sequence = 0;
    return TRUE;
  }
  if (file == NULL) {
    g_propagate_error(error, g_steal_pointer(&local_error));
    return FALSE;
  }

  const guint8 *data = (const guint8 *)g_mapped_file_get_contents(file);
  gsize size = g_mapped_file_get_length(file);
  gsize offset = KV_RECORD_FILE_HEADER_SIZE;
  g_autoptr(GVariant) head = NULL;
  g_autoptr(GVariant) trailer = NULL;
  guint64 sequence, count, loaded = 0;
  guint32 format;

  if (!kv_record_check_file_header_versions(data, size, snapshot_magic, path, FORMAT_PACKED_CHUNKS,
                                            &format, error) ||
      !read_expected(data, size, &offset, HEAD_TYPE, path, &head, error))
    return FALSE;
  g_variant_get(head, "(tt)", &sequence, &count);

  while (loaded < count) {
    gsize at = offset;
    const guint8 *chunk;
    gsize chunk_size;

    if (kv_record_read_bytes(data, size, &offset, &chunk, &chunk_size) != KV_RECORD_OK)
      return damaged(error, path, at, "a record is missing or fails its checksum");
    if (!read_chunk(format, chunk, chunk_size, into, &loaded))
      return damaged(error, path, at, "a chunk of entries does not read as one");
  }
  gsize trailer_offset = offset;
  if (!read_expected(data, size, &offset, HEAD_TYPE, path, &trailer, error))
    return FALSE;
  if (loaded != count || !g_variant_equal(head, trailer) || offset != size)
    return damaged(error, path, trailer_offset, "its end does not match its head");

  kv_memory_repository_set_revision(into, sequence);
  *out_sequence = sequence;
  return TRUE;
}

/* A head or trailer record: 16 bytes that read as one. */
static gboolean read_head(GBytes *payload, guint64 *sequence, guint64 *count)
{
  if (g_bytes_get_size(payload) != 16)
    return FALSE;
  g_autoptr(GVariant) head =
      g_variant_ref_sink(g_variant_new_from_bytes(HEAD_TYPE, payload, FALSE));
  g_variant_get(head, "(tt)", sequence, count);
  return TRUE;
}

gboolean kv_snapshot_salvage(const char *path, KvRepository *into, KvSnapshotSalvage *out,
                             GError **error)
{
  g_autoptr(GMappedFile) file = g_mapped_file_new(path, FALSE, error);

  *out = (KvSnapshotSalvage){0};
  if (file == NULL)
    return FALSE;
  const guint8 *data = (const guint8 *)g_mapped_file_get_contents(file);
  gsize size = g_mapped_file_get_length(file);
  guint32 format;
  if (!kv_record_check_file_header_versions(data, size, snapshot_magic, path, FORMAT_PACKED_CHUNKS,
                                            &format, error))
    return FALSE;

  /* Every record whose checksums hold, found past any damage: the first and the last are
   * the head and the trailer, the others chunks. */
  gsize at = KV_RECORD_FILE_HEADER_SIZE;
  gboolean first = TRUE;
  while (at < size) {
    const guint8 *record;
    gsize record_size;
    gsize start = at;
    if (kv_record_read_bytes(data, size, &at, &record, &record_size) != KV_RECORD_OK) {
      out->damaged_bytes += 1;
      if (!kv_record_find_next(data, size, start + 1, &at)) {
        out->damaged_bytes += size - start - 1;
        break;
      }
      out->damaged_bytes += at - start - 1;
      first = FALSE;
      continue;
    }
    g_autoptr(GBytes) payload = g_bytes_new(record, record_size);
    guint64 sequence, count, checked = 0;
    if ((first || at == size) && read_head(payload, &sequence, &count)) {
      out->ends_differ = out->head_found && (sequence != out->sequence || count != out->count);
      out->head_found = TRUE;
      out->sequence = sequence;
      out->count = count;
    } else if (!read_chunk(format, record, record_size, NULL, &checked) ||
               !read_chunk(format, record, record_size, into, &out->salvaged)) {
      /* A chunk is loaded whole or not at all. */
      out->damaged_bytes += at - start;
    }
    first = FALSE;
  }
  return TRUE;
}

typedef struct {
  int fd;
  const char *path;
  GByteArray *buffer;
  gsize written;
  KvPackedWriter chunk; /* while a chunk is open */
  guint record;         /* where its record starts in buffer */
  gboolean in_chunk;
  GError *error;
} Writer;

static gboolean writer_flush(Writer *w, gboolean force)
{
  if (w->error != NULL || (!force && w->buffer->len < FLUSH_BYTES))
    return w->error == NULL;
  if (!kv_file_pwrite_all(w->fd, w->buffer->data, w->buffer->len, (goffset)w->written, w->path,
                          &w->error))
    return FALSE;
  w->written += w->buffer->len;
  g_byte_array_set_size(w->buffer, 0);
  return TRUE;
}

static void writer_end_chunk(Writer *w)
{
  kv_packed_writer_end(&w->chunk);
  kv_record_end(w->buffer, w->record);
  w->in_chunk = FALSE;
  writer_flush(w, FALSE);
}

static gboolean add_entry(const char *key, GVariant *value, guint64 revision, gpointer user_data)
{
  Writer *w = user_data;

  if (w->error != NULL)
    return FALSE;
  if (!w->in_chunk) {
    w->record = kv_record_begin(w->buffer);
    kv_packed_writer_begin(&w->chunk, w->buffer);
    w->in_chunk = TRUE;
  }
  kv_packed_writer_add(&w->chunk, key, revision, value);
  if (kv_packed_writer_count(&w->chunk) == ENTRIES_PER_CHUNK ||
      w->buffer->len - w->record >= CHUNK_BYTES)
    writer_end_chunk(w);
  return TRUE;
}

gboolean kv_snapshot_write(const char *path, KvRepository *from, guint64 sequence, GError **error)
{
  g_autofree char *tmp = g_strconcat(path, ".tmp", NULL);
  g_autoptr(GByteArray) buffer = g_byte_array_new();
  g_autoptr(GVariant) head =
      g_variant_ref_sink(g_variant_new("(tt)", sequence, (guint64)kv_repository_count(from)));
  Writer w = {.path = tmp, .buffer = buffer};

  w.fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (w.fd < 0) {
    kv_file_set_error(error, errno, "create", tmp);
    return FALSE;
  }
  kv_record_append_file_header_version(buffer, snapshot_magic, FORMAT_PACKED_CHUNKS);
  kv_record_append(buffer, head);
  kv_repository_foreach(from, "", NULL, TRUE, add_entry, &w);
  if (w.in_chunk)
    writer_end_chunk(&w);
  kv_record_append(buffer, head);

  if (writer_flush(&w, TRUE) && fdatasync(w.fd) < 0)
    kv_file_set_error(&w.error, errno, "sync", tmp);
  close(w.fd);
  if (w.error != NULL) {
    g_propagate_error(error, w.error);
    unlink(tmp);
    return FALSE;
  }
  return TRUE;
}

gboolean kv_snapshot_install(const char *path, GError **error)
{
  g_autofree char *tmp = g_strconcat(path, ".tmp", NULL);
  g_autofree char *dir = g_path_get_dirname(path);

  if (rename(tmp, path) < 0) {
    kv_file_set_error(error, errno, "rename", tmp);
    return FALSE;
  }
  return kv_file_sync_directory(dir, error);
}
