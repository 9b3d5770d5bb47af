/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* fault-relay LISTEN_PORT TARGET_PORT: relays each TCP connection made to
 * 127.0.0.1:LISTEN_PORT to 127.0.0.1:TARGET_PORT, and makes the faults the etcd fault tests
 * need, as told by lines on standard input (each answered "ok" on standard output once in
 * force):
 *   drop-write-answers N  the next N answers to a write (POST /v3/kv/txn or /v3/kv/put)
 *                       are thrown away, and their connection closed: etcd made the
 *                       write, its client never hears so
 *   block               nothing more goes either way, on any connection, old or new: a
 *                       network that drops every packet
 *   block-from TEXT     the same for connections whose first bytes hold TEXT (etcd peers
 *                       name themselves in an X-Server-From header)
 *   pass                every fault ends; blocked connections are closed
 * Runs until its standard input ends. */
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

#define MAX_LINKS  256
#define HEAD_BYTES 4096

typedef struct {
  int client, server;
  gboolean write_asked; /* the client's last bytes held a write */
  gboolean blocked;     /* nothing goes through */
  GString *head;        /* the client's first bytes */
} Link;

static Link links[MAX_LINKS];
static guint n_links;
static guint drop_answers;
static gboolean block_all;
static GPtrArray *blocked_texts;

static struct sockaddr_in loopback(guint port)
{
  return (struct sockaddr_in){.sin_family = AF_INET,
                              .sin_port = htons((uint16_t)port),
                              .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
}

static int listen_on(guint port)
{
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  struct sockaddr_in address = loopback(port);

  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind(fd, (struct sockaddr *)&address, sizeof address) < 0 || listen(fd, 64) < 0) {
    fprintf(stderr, "fault-relay: cannot listen on %u: %s\n", port, g_strerror(errno));
    exit(1);
  }
  return fd;
}

static int connect_to(guint port)
{
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  struct sockaddr_in address = loopback(port);

  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (connect(fd, (struct sockaddr *)&address, sizeof address) < 0) {
    close(fd);
    return -1;
  }
  return fd;
}

static void link_close(guint i)
{
  close(links[i].client);
  close(links[i].server);
  g_string_free(links[i].head, TRUE);
  links[i] = links[--n_links];
}

static gboolean head_blocked(const Link *link)
{
  for (guint i = 0; i < blocked_texts->len; i++)
    if (strstr(link->head->str, g_ptr_array_index(blocked_texts, i)) != NULL)
      return TRUE;
  return FALSE;
}

static gboolean write_all(int fd, const char *data, gssize length)
{
  while (length > 0) {
    gssize n = write(fd, data, (size_t)length);
    if (n <= 0)
      return FALSE;
    data += n;
    length -= n;
  }
  return TRUE;
}

/* Moves what @from has to @to; FALSE when the link is over. */
static gboolean relay(guint i, gboolean from_client)
{
  Link *link = &links[i];
  char buffer[65536];
  gssize n = read(from_client ? link->client : link->server, buffer, sizeof buffer - 1);

  if (n <= 0)
    return FALSE;
  buffer[n] = '\0';
  if (from_client) {
    if (link->head->len < HEAD_BYTES)
      g_string_append_len(link->head, buffer, MIN(n, (gssize)(HEAD_BYTES - link->head->len)));
    /* A request's body may come in bytes of its own: only a request line says what the
     * next answer is to. */
    if (strstr(buffer, " HTTP/1.1\r\n") != NULL)
      link->write_asked =
          strstr(buffer, "POST /v3/kv/txn") != NULL || strstr(buffer, "POST /v3/kv/put") != NULL;
    if (head_blocked(link))
      link->blocked = TRUE;
  } else if (link->write_asked && drop_answers > 0) {
    drop_answers--;
    return FALSE;
  }
  if (link->blocked)
    return TRUE;
  return write_all(from_client ? link->server : link->client, buffer, n);
}

static void command(const char *line)
{
  if (g_str_has_prefix(line, "drop-write-answers ")) {
    drop_answers = (guint)atoi(line + strlen("drop-write-answers "));
  } else if (strcmp(line, "block") == 0) {
    block_all = TRUE;
    for (guint i = 0; i < n_links; i++)
      links[i].blocked = TRUE;
  } else if (g_str_has_prefix(line, "block-from ")) {
    g_ptr_array_add(blocked_texts, g_strdup(line + strlen("block-from ")));
    for (guint i = 0; i < n_links; i++)
      links[i].blocked = links[i].blocked || head_blocked(&links[i]);
  } else if (strcmp(line, "pass") == 0) {
    drop_answers = 0;
    block_all = FALSE;
    g_ptr_array_set_size(blocked_texts, 0);
    for (guint i = 0; i < n_links;)
      if (links[i].blocked)
        link_close(i);
      else
        i++;
  } else {
    fprintf(stderr, "fault-relay: unknown command '%s'\n", line);
    exit(2);
  }
  printf("ok\n");
  fflush(stdout);
}

int main(int argc, char **argv)
{
  if (argc != 3) {
    fprintf(stderr, "usage: fault-relay LISTEN_PORT TARGET_PORT\n");
    return 2;
  }
  int listener = listen_on((guint)atoi(argv[1]));
  guint target = (guint)atoi(argv[2]);
  GString *input = g_string_new(NULL);

  blocked_texts = g_ptr_array_new_with_free_func(g_free);
  printf("ok\n");
  fflush(stdout);
  for (;;) {
    struct pollfd fds[2 + 2 * MAX_LINKS];
    guint n = 0;
    fds[n++] = (struct pollfd){.fd = STDIN_FILENO, .events = POLLIN};
    fds[n++] = (struct pollfd){.fd = listener, .events = POLLIN};
    for (guint i = 0; i < n_links; i++) {
      fds[n++] = (struct pollfd){.fd = links[i].client, .events = POLLIN};
      fds[n++] = (struct pollfd){.fd = links[i].server, .events = POLLIN};
    }
    if (poll(fds, n, -1) < 0 && errno != EINTR)
      return 1;
    /* Back to front: a link that ends takes the last one's place. */
    for (guint i = n_links; i-- > 0;) {
      short client_events = fds[2 + 2 * i].revents, server_events = fds[3 + 2 * i].revents;
      if ((client_events && !relay(i, TRUE)) || (server_events && !relay(i, FALSE)))
        link_close(i);
    }
    /* Commands last: "pass" closes links, which moves others out of their fds. */
    if (fds[0].revents) {
      char chunk[512];
      gssize got = read(STDIN_FILENO, chunk, sizeof chunk);
      if (got <= 0)
        return 0;
      g_string_append_len(input, chunk, got);
      char *newline;
      while ((newline = strchr(input->str, '\n')) != NULL) {
        *newline = '\0';
        command(input->str);
        g_string_erase(input, 0, newline - input->str + 1);
      }
    }
    if (fds[1].revents && n_links < MAX_LINKS) {
      int client = accept4(listener, NULL, NULL, SOCK_CLOEXEC);
      int server = client >= 0 ? connect_to(target) : -1;
      if (server >= 0) {
        links[n_links++] = (Link){client, server, FALSE, block_all, g_string_new(NULL)};
      } else if (client >= 0) {
        close(client);
      }
    }
  }
}
