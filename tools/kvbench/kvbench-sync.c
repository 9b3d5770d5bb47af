/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "kvbench-sync.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

double kvbench_bare_fdatasync_rate(const char *dir, double seconds)
{
  g_autofree char *path = g_build_filename(dir, "kvbench-fdatasync-XXXXXX", NULL);
  char record[64];
  int fd = g_mkstemp_full(path, O_WRONLY | O_APPEND, 0600);

  if (fd < 0)
    return -errno;
  memset(record, 'r', sizeof record);
  gint64 end = g_get_monotonic_time() + (gint64)(seconds * G_USEC_PER_SEC);
  gint64 start = g_get_monotonic_time();
  guint64 n = 0;
  int r = 0;
  while (r == 0 && g_get_monotonic_time() < end) {
    if (write(fd, record, sizeof record) != (ssize_t)sizeof record || fdatasync(fd) != 0)
      r = -errno;
    n++;
  }
  gint64 elapsed = g_get_monotonic_time() - start;
  close(fd);
  g_unlink(path);
  return r < 0 ? r : (double)n * G_USEC_PER_SEC / (double)elapsed;
}
