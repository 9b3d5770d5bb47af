/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Preloaded into kvstored by the durability tests: a disk that syncs slowly, and one that
 * fails to. fdatasync() takes KV_TEST_SYNC_DELAY_MS longer, and fails with EIO while the
 * file KV_TEST_SYNC_FAIL_FILE exists. */
#include <dlfcn.h>
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

int fdatasync(int fd)
{
  int (*real)(int) = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
  const char *delay = getenv("KV_TEST_SYNC_DELAY_MS");
  const char *fail = getenv("KV_TEST_SYNC_FAIL_FILE");

  if (delay != NULL)
    usleep((useconds_t)atoi(delay) * 1000);
  if (fail != NULL && access(fail, F_OK) == 0) {
    errno = EIO;
    return -1;
  }
  return real(fd);
}
