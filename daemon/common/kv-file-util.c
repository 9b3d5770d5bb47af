/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "kv-file-util.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <unistd.h>

void kv_file_set_error(GError **error, int saved_errno, const char *what, const char *path)
{
  g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(saved_errno), "Cannot %s %s: %s", what,
              path, g_strerror(saved_errno));
}

gboolean kv_file_pwrite_all(int fd, const void *data, gsize size, goffset offset, const char *path,
                            GError **error)
{
  const char *bytes = data;

  while (size > 0) {
    ssize_t n = pwrite(fd, bytes, size, offset);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      kv_file_set_error(error, errno, "write to", path);
      return FALSE;
    }
    bytes += n;
    size -= (gsize)n;
    offset += n;
  }
  return TRUE;
}

gboolean kv_file_sync_directory(const char *path, GError **error)
{
  int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

  if (fd < 0 || fsync(fd) < 0) {
    kv_file_set_error(error, errno, "sync the directory", path);
    if (fd >= 0)
      close(fd);
    return FALSE;
  }
  close(fd);
  return TRUE;
}

gboolean kv_file_replace(const char *dir, const char *path, const char *final_path,
                         const void *data, gsize size, GError **error)
{
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) {
    kv_file_set_error(error, errno, "create", path);
    return FALSE;
  }

  gboolean ok = kv_file_pwrite_all(fd, data, size, 0, path, error);
  if (ok && fdatasync(fd) < 0) {
    kv_file_set_error(error, errno, "sync", path);
    ok = FALSE;
  }
  close(fd);
  if (ok && rename(path, final_path) < 0) {
    kv_file_set_error(error, errno, "rename", path);
    ok = FALSE;
  }
  if (!ok) {
    g_unlink(path);
    return FALSE;
  }
  return kv_file_sync_directory(dir, error);
}
