/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The thread that runs fdatasync(): its result, its end told through its descriptor, and
 * a failure passed back as the errno. */

#include "kv-syncer.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <poll.h>
#include <unistd.h>

static void test_sync_and_fail(void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(KvSyncer) syncer = kv_syncer_new(&error);
  g_autofree char *path = NULL;
  int pipe_fds[2];

  g_assert_no_error(error);
  /* Nothing started: nothing ended. */
  g_assert_cmpint(kv_syncer_finish(syncer, FALSE), ==, -EAGAIN);

  int fd = g_file_open_tmp("kvstore-syncer-XXXXXX", &path, &error);
  g_assert_no_error(error);
  g_assert_cmpint(write(fd, "data", 4), ==, 4);
  kv_syncer_start(syncer, fd);
  struct pollfd ended = {kv_syncer_fd(syncer), POLLIN, 0};
  g_assert_cmpint(poll(&ended, 1, 10000), ==, 1);
  g_assert_cmpint(kv_syncer_finish(syncer, FALSE), ==, 0);
  g_assert_cmpint(kv_syncer_finish(syncer, FALSE), ==, -EAGAIN);

  /* A pipe cannot be synced: EINVAL comes back. */
  g_assert_cmpint(pipe(pipe_fds), ==, 0);
  kv_syncer_start(syncer, pipe_fds[0]);
  g_assert_cmpint(kv_syncer_finish(syncer, TRUE), ==, EINVAL);

  close(pipe_fds[0]);
  close(pipe_fds[1]);
  close(fd);
  g_unlink(path);
}

int main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/syncer/sync-and-fail", test_sync_and_fail);
  return g_test_run();
}
