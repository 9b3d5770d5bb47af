/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "kvctl-input.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

char *kvctl_read_input(const char *path, GError **error)
{
  gboolean is_stdin = strcmp(path, "-") == 0;
  const char *name = is_stdin ? "standard input" : path;
  int fd = is_stdin ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC);

  if (fd < 0) {
    int saved = errno;
    g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(saved), "Cannot open %s: %s", name,
                g_strerror(saved));
    return NULL;
  }
  g_autoptr(GByteArray) data = g_byte_array_new();
  guint8 buffer[65536];
  for (;;) {
    ssize_t n = read(fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      int saved = errno;
      if (!is_stdin)
        close(fd);
      g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(saved), "Cannot read %s: %s", name,
                  g_strerror(saved));
      return NULL;
    }
    if (n == 0)
      break;
    if (data->len + (gsize)n > KVCTL_INPUT_MAX_BYTES) {
      if (!is_stdin)
        close(fd);
      g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_FAILED, "%s is larger than %u MiB", name,
                  KVCTL_INPUT_MAX_BYTES / (1024 * 1024));
      return NULL;
    }
    g_byte_array_append(data, buffer, (guint)n);
  }
  if (!is_stdin)
    close(fd);
  if (memchr(data->data, '\0', data->len) != NULL) {
    g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_INVAL,
                "%s holds a NUL byte, which no string or GVariant text may hold (store bytes "
                "as --type ay)",
                name);
    return NULL;
  }
  g_byte_array_append(data, (const guint8 *)"", 1);
  return (char *)g_byte_array_free(g_steal_pointer(&data), FALSE);
}
