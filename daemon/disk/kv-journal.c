/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "kv-journal.h"

#include "kv-file-util.h"
#include "kv-record.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

static const char journal_magic[8] = {'K', 'V', 'S', 'T', 'J', 'R', 'N', '\n'};

/* What the buffer of records not yet written may keep between writes. */
#define PENDING_KEEP_BYTES (1024 * 1024)

struct _KvJournal {
  char *path;
  char *dir;
  int fd;
  gsize size;          /* flushed bytes */
  GByteArray *pending; /* records not yet written */
};

static KvJournal *journal_new(const char *path)
{
  KvJournal *self = g_new0(KvJournal, 1);

  self->path = g_strdup(path);
  self->dir = g_path_get_dirname(path);
  self->fd = -1;
  self->pending = g_byte_array_new();
  return self;
}

void kv_journal_free(KvJournal *self)
{
  if (self == NULL)
    return;
  if (self->fd >= 0)
    close(self->fd);
  g_byte_array_unref(self->pending);
  g_free(self->dir);
  g_free(self->path);
  g_free(self);
}

/* Replaces the file, atomically, with the header followed by @tail; returns its size. */
static gboolean write_file(KvJournal *self, const guint8 *tail, gsize tail_size, gsize *out_size,
                           GError **error)
{
  g_autoptr(GByteArray) contents = g_byte_array_new();
  g_autofree char *tmp = g_strconcat(self->path, ".tmp", NULL);

  kv_record_append_file_header(contents, journal_magic);
  g_byte_array_append(contents, tail, (guint)tail_size);
  *out_size = contents->len;
  return kv_file_replace(self->dir, tmp, self->path, contents->data, contents->len, error);
}

/* (Re)opens the file for writing, in place of any descriptor held before. */
static gboolean open_for_writing(KvJournal *self, GError **error)
{
  int fd = open(self->path, O_RDWR | O_CLOEXEC | O_NOFOLLOW);

  if (fd < 0) {
    kv_file_set_error(error, errno, "open", self->path);
    return FALSE;
  }
  if (self->fd >= 0)
    close(self->fd);
  self->fd = fd;
  return TRUE;
}

typedef enum {
  WALK_CLEAN,   /* whole records to the end, or to a torn tail */
  WALK_DAMAGED, /* damage that whole records follow */
  WALK_FAILED,  /* the replay function failed */
} WalkResult;

/* Who is told of each record: with its payload as a GVariant of @type (checked by GLib),
 * or as the bytes (the reader checks them). */
typedef struct {
  const GVariantType *type;
  KvJournalReplayFunc replay;
  KvJournalBytesFunc replay_bytes;
  gpointer user_data;
} Walker;

/* The next record at *@offset, told to @walker. */
static KvRecordStatus tell_record(const guint8 *data, gsize size, gsize *offset,
                                  const Walker *walker, GError **error, gboolean *told)
{
  *told = FALSE;
  if (walker->replay_bytes != NULL) {
    const guint8 *payload;
    gsize payload_size;
    KvRecordStatus status = kv_record_read_bytes(data, size, offset, &payload, &payload_size);
    if (status == KV_RECORD_OK)
      *told = walker->replay_bytes(payload, payload_size, walker->user_data, error);
    return status;
  }
  g_autoptr(GVariant) payload = NULL;
  KvRecordStatus status = kv_record_read(data, size, offset, walker->type, &payload);
  if (status == KV_RECORD_OK)
    *told = walker->replay(payload, walker->user_data, error);
  return status;
}

/* Replays the whole records of @data from offset @from up to the first that is not whole,
 * where *out_end is left. */
static WalkResult walk_records(const char *path, const guint8 *data, gsize size, gsize from,
                               const Walker *walker, gsize *out_end, GError **error)
{
  gsize offset = from;
  KvRecordStatus status;

  for (;;) {
    gsize at = offset, next;
    gboolean told;
    status = tell_record(data, size, &offset, walker, error, &told);
    if (status != KV_RECORD_OK) {
      *out_end = at;
      /* Garbage that no whole record follows is what a crash during an append leaves. */
      return status == KV_RECORD_CORRUPT && kv_record_find_next(data, size, at + 1, &next)
                 ? WALK_DAMAGED
                 : WALK_CLEAN;
    }
    if (!told) {
      g_prefix_error(error, "%s, record at offset %zu: ", path, at);
      *out_end = at;
      return WALK_FAILED;
    }
  }
}

static KvJournal *journal_open(const char *path, const Walker *walker, gsize *out_dropped_bytes,
                               GError **error)
{
  g_autoptr(KvJournal) self = journal_new(path);
  g_autoptr(GError) local_error = NULL;
  gsize end, created_size;

  *out_dropped_bytes = 0;
  g_autoptr(GMappedFile) file = g_mapped_file_new(path, FALSE, &local_error);
  if (file == NULL && g_error_matches(local_error, G_FILE_ERROR, G_FILE_ERROR_NOENT)) {
    g_clear_error(&local_error);
    if (!write_file(self, NULL, 0, &created_size, error))
      return NULL;
    file = g_mapped_file_new(path, FALSE, error);
  } else if (file == NULL) {
    g_propagate_error(error, g_steal_pointer(&local_error));
    return NULL;
  }
  if (file == NULL)
    return NULL;

  const guint8 *data = (const guint8 *)g_mapped_file_get_contents(file);
  gsize size = g_mapped_file_get_length(file);
  if (!kv_record_check_file_header(data, size, journal_magic, path, error))
    return NULL;
  switch (walk_records(path, data, size, KV_RECORD_FILE_HEADER_SIZE, walker, &end, error)) {
  case WALK_CLEAN:
    break;
  case WALK_DAMAGED:
    g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_INVAL,
                "%s is damaged at offset %zu (checksum mismatch with whole records after it); "
                "refusing to start rather than lose data",
                path, end);
    return NULL;
  case WALK_FAILED:
    return NULL;
  }

  if (!open_for_writing(self, error))
    return NULL;
  if (end < size) {
    if (ftruncate(self->fd, (off_t)end) < 0 || fdatasync(self->fd) < 0) {
      kv_file_set_error(error, errno, "cut the torn tail of", path);
      return NULL;
    }
    *out_dropped_bytes = size - end;
  }
  self->size = end;
  return g_steal_pointer(&self);
}

KvJournal *kv_journal_open(const char *path, const GVariantType *type, KvJournalReplayFunc replay,
                           gpointer user_data, gsize *out_dropped_bytes, GError **error)
{
  Walker walker = {type, replay, NULL, user_data};

  return journal_open(path, &walker, out_dropped_bytes, error);
}

KvJournal *kv_journal_open_bytes(const char *path, KvJournalBytesFunc replay, gpointer user_data,
                                 gsize *out_dropped_bytes, GError **error)
{
  Walker walker = {NULL, NULL, replay, user_data};

  return journal_open(path, &walker, out_dropped_bytes, error);
}

void kv_journal_append_with(KvJournal *self, KvJournalSerializeFunc serialize, gpointer user_data)
{
  guint start = kv_record_begin(self->pending);

  serialize(self->pending, user_data);
  kv_record_end(self->pending, start);
}

gboolean kv_journal_has_pending(KvJournal *self)
{
  return self->pending->len > 0;
}

void kv_journal_discard(KvJournal *self)
{
  /* The buffer of a large batch goes with it, rather than stay as large for the small
   * records after it. */
  if (self->pending->len > PENDING_KEEP_BYTES) {
    g_byte_array_unref(self->pending);
    self->pending = g_byte_array_new();
    return;
  }
  g_byte_array_set_size(self->pending, 0);
}

void kv_journal_cut(KvJournal *self, gsize size)
{
  if (ftruncate(self->fd, (off_t)size) == 0)
    (void)fdatasync(self->fd);
  self->size = size;
}

gboolean kv_journal_write(KvJournal *self, GError **error)
{
  if (self->pending->len == 0)
    return TRUE;
  if (!kv_file_pwrite_all(self->fd, self->pending->data, self->pending->len, (goffset)self->size,
                          self->path, error)) {
    /* Nothing of this group may survive to be replayed: its callers get an error. */
    kv_journal_cut(self, self->size);
    kv_journal_discard(self);
    return FALSE;
  }
  self->size += self->pending->len;
  kv_journal_discard(self);
  return TRUE;
}

int kv_journal_fd(KvJournal *self)
{
  return self->fd;
}

gboolean kv_journal_flush(KvJournal *self, gboolean sync, GError **error)
{
  gsize before = self->size;

  if (!kv_journal_write(self, error))
    return FALSE;
  if (sync && self->size > before && fdatasync(self->fd) < 0) {
    kv_file_set_error(error, errno, "sync", self->path);
    kv_journal_cut(self, before);
    return FALSE;
  }
  return TRUE;
}

gsize kv_journal_size(KvJournal *self)
{
  return self->size;
}

/* Replaces the file with the header followed by @tail, and reopens it. */
static gboolean replace_file(KvJournal *self, const guint8 *tail, gsize tail_size, GError **error)
{
  gsize size;

  if (!write_file(self, tail, tail_size, &size, error) || !open_for_writing(self, error))
    return FALSE;
  self->size = size;
  return TRUE;
}

gboolean kv_journal_reset(KvJournal *self, GError **error)
{
  return replace_file(self, NULL, 0, error);
}

gboolean kv_journal_drop_head(KvJournal *self, gsize offset, GError **error)
{
  g_return_val_if_fail(offset >= KV_RECORD_FILE_HEADER_SIZE && offset <= self->size, FALSE);
  gsize tail_size = self->size - offset;
  g_autofree guint8 *tail = g_malloc(MAX(tail_size, 1));

  for (gsize got = 0; got < tail_size;) {
    ssize_t n = pread(self->fd, tail + got, tail_size - got, (off_t)(offset + got));
    if (n <= 0) {
      kv_file_set_error(error, n < 0 ? errno : EIO, "read", self->path);
      return FALSE;
    }
    got += (gsize)n;
  }
  return replace_file(self, tail, tail_size, error);
}

static gboolean count_record(GVariant *payload, gpointer user_data, GError **error)
{
  (*(guint *)user_data)++;
  return TRUE;
}

static gboolean count_record_bytes(const guint8 *payload, gsize size, gpointer user_data,
                                   GError **error)
{
  (*(guint *)user_data)++;
  return TRUE;
}

/* kv_journal_scan() with @walker, past the damage counting with @counter. */
static gboolean journal_scan(const char *path, const Walker *walker, Walker *counter,
                             KvJournalScan *out, GError **error)
{
  g_autoptr(GError) local_error = NULL;
  g_autoptr(GMappedFile) file = g_mapped_file_new(path, FALSE, &local_error);

  *out = (KvJournalScan){0};
  if (file == NULL && g_error_matches(local_error, G_FILE_ERROR, G_FILE_ERROR_NOENT))
    return TRUE;
  if (file == NULL) {
    g_propagate_error(error, g_steal_pointer(&local_error));
    return FALSE;
  }

  const guint8 *data = (const guint8 *)g_mapped_file_get_contents(file);
  out->exists = TRUE;
  out->size = g_mapped_file_get_length(file);
  if (!kv_record_check_file_header(data, out->size, journal_magic, path, &local_error)) {
    out->other_version = g_error_matches(local_error, G_FILE_ERROR, G_FILE_ERROR_NOSYS);
    out->header_problem = g_strdup(local_error->message);
    return TRUE;
  }
  counter->user_data = &out->records_after;
  WalkResult result = walk_records(path, data, out->size, KV_RECORD_FILE_HEADER_SIZE, walker,
                                   &out->end, &local_error);
  /* A whole record that the walker refuses is damage as much as a bad checksum. */
  if (result == WALK_FAILED)
    out->damage_reason = g_strdup(local_error->message);
  out->damaged = result != WALK_CLEAN;
  /* Past the damage: how many whole records it cuts off. */
  for (gsize at = out->end; out->damaged && kv_record_find_next(data, out->size, at + 1, &at);)
    walk_records(path, data, out->size, at, counter, &at, NULL);
  return TRUE;
}

gboolean kv_journal_scan(const char *path, const GVariantType *type, KvJournalReplayFunc func,
                         gpointer user_data, KvJournalScan *out, GError **error)
{
  Walker walker = {type, func, NULL, user_data};
  Walker counter = {type, count_record, NULL, NULL};

  return journal_scan(path, &walker, &counter, out, error);
}

gboolean kv_journal_scan_bytes(const char *path, KvJournalBytesFunc func, gpointer user_data,
                               KvJournalScan *out, GError **error)
{
  Walker walker = {NULL, NULL, func, user_data};
  Walker counter = {NULL, NULL, count_record_bytes, NULL};

  return journal_scan(path, &walker, &counter, out, error);
}

void kv_journal_scan_clear(KvJournalScan *scan)
{
  g_clear_pointer(&scan->header_problem, g_free);
  g_clear_pointer(&scan->damage_reason, g_free);
}
