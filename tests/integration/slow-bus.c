/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Preloaded into kvstored by the limits tests: a kvstored that reads its bus more slowly
 * than callers can send, as one short of CPU would. Each message it receives (recvmsg())
 * takes KV_TEST_RECV_DELAY_US longer. */
#include <dlfcn.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

ssize_t recvmsg(int fd, struct msghdr *message, int flags)
{
  ssize_t (*real)(int, struct msghdr *, int) =
      (ssize_t(*)(int, struct msghdr *, int))dlsym(RTLD_NEXT, "recvmsg");
  const char *delay = getenv("KV_TEST_RECV_DELAY_US");
  ssize_t n = real(fd, message, flags);

  if (n > 0 && delay != NULL)
    usleep((useconds_t)atoi(delay));
  return n;
}
