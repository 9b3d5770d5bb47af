/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* delay-proxy LISTEN_PORT TARGET_PORT DELAY_US: relays each TCP connection made to
 * 127.0.0.1:LISTEN_PORT to 127.0.0.1:TARGET_PORT, and hands on what it reads either way
 * DELAY_US after reading it, in order. The network between etcd members, for
 * tools/kvbench/bench-etcd.sh: this VM's kernel has no netem to delay loopback traffic. Runs
 * until killed. */
#include <errno.h>
#include <glib.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_LINKS 64

typedef struct {
  gint64 due; /* monotonic µs */
  gsize length, sent;
  guint8 data[];
} Chunk;

/* One way of a relayed connection: read from @from, written to @to. */
typedef struct {
  int from, to;
  GQueue chunks; /* Chunk, oldest first */
} Way;

static Way ways[2 * MAX_LINKS];
static guint n_ways;

static int tcp_socket(void)
{
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;

  if (fd >= 0)
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

static struct sockaddr_in loopback(int port)
{
  return (struct sockaddr_in){.sin_family = AF_INET,
                              .sin_port = htons((uint16_t)port),
                              .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
}

static void close_link(guint way)
{
  guint first = way & ~1u;

  close(ways[first].from);
  close(ways[first].to);
  for (guint i = first; i < first + 2; i++)
    g_queue_clear_full(&ways[i].chunks, g_free);
  /* The last link takes the closed one's place. */
  n_ways -= 2;
  if (first != n_ways)
    memcpy(&ways[first], &ways[n_ways], 2 * sizeof(Way));
}

static void accept_link(int listener, int target_port)
{
  int in = accept4(listener, NULL, NULL, SOCK_CLOEXEC), out = tcp_socket();
  struct sockaddr_in target = loopback(target_port);
  int one = 1;

  if (in >= 0)
    setsockopt(in, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (in < 0 || out < 0 || n_ways == G_N_ELEMENTS(ways) ||
      connect(out, (struct sockaddr *)&target, sizeof target) < 0) {
    close(in);
    close(out);
    return;
  }
  ways[n_ways] = (Way){in, out, G_QUEUE_INIT};
  ways[n_ways + 1] = (Way){out, in, G_QUEUE_INIT};
  n_ways += 2;
}

/* Reads what @way has (FALSE: its connection ended). */
static gboolean take_in(Way *way, gint64 delay_us)
{
  guint8 buffer[65536];
  ssize_t n = read(way->from, buffer, sizeof buffer);

  if (n <= 0)
    return n < 0 && errno == EINTR;
  Chunk *chunk = g_malloc(sizeof(Chunk) + (gsize)n);
  *chunk = (Chunk){g_get_monotonic_time() + delay_us, (gsize)n, 0};
  memcpy(chunk->data, buffer, (gsize)n);
  g_queue_push_tail(&way->chunks, chunk);
  return TRUE;
}

/* Writes what is due on @way, whole (FALSE: its connection ended). */
static gboolean hand_on(Way *way, gint64 now)
{
  Chunk *chunk;

  while ((chunk = g_queue_peek_head(&way->chunks)) != NULL && chunk->due <= now) {
    while (chunk->sent < chunk->length) {
      ssize_t n = write(way->to, chunk->data + chunk->sent, chunk->length - chunk->sent);
      if (n < 0 && errno != EINTR)
        return FALSE;
      chunk->sent += n > 0 ? (gsize)n : 0;
    }
    g_free(g_queue_pop_head(&way->chunks));
  }
  return TRUE;
}

int main(int argc, char **argv)
{
  if (argc != 4) {
    fprintf(stderr, "usage: delay-proxy LISTEN_PORT TARGET_PORT DELAY_US\n");
    return 2;
  }
  int target_port = atoi(argv[2]);
  gint64 delay_us = g_ascii_strtoll(argv[3], NULL, 10);
  int listener = tcp_socket(), one = 1;
  struct sockaddr_in address = loopback(atoi(argv[1]));
  setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind(listener, (struct sockaddr *)&address, sizeof address) < 0 || listen(listener, 16) < 0) {
    perror("delay-proxy");
    return 1;
  }
  for (;;) {
    struct pollfd fds[1 + 2 * MAX_LINKS];
    guint polled = n_ways;
    gint64 now = g_get_monotonic_time(), next = G_MAXINT64;
    fds[0] = (struct pollfd){listener, POLLIN, 0};
    for (guint i = 0; i < polled; i++) {
      Chunk *head = g_queue_peek_head(&ways[i].chunks);
      if (head != NULL)
        next = MIN(next, head->due);
      fds[1 + i] = (struct pollfd){ways[i].from, POLLIN, 0};
    }
    /* Microseconds: ppoll's timeout is a timespec. */
    gint64 wait_us = MAX(0, next - now);
    struct timespec timeout = {wait_us / G_USEC_PER_SEC, (wait_us % G_USEC_PER_SEC) * 1000};
    if (ppoll(fds, 1 + polled, next == G_MAXINT64 ? NULL : &timeout, NULL) < 0 && errno != EINTR)
      return 1;
    if (fds[0].revents & POLLIN)
      accept_link(listener, target_port);
    now = g_get_monotonic_time();
    for (guint i = 0; i < polled; i++) {
      gboolean alive = TRUE;
      if (fds[1 + i].revents & (POLLIN | POLLHUP | POLLERR))
        alive = take_in(&ways[i], delay_us);
      if (alive)
        alive = hand_on(&ways[i], now);
      if (!alive) {
        close_link(i);
        break; /* the table moved: poll again */
      }
    }
  }
}
