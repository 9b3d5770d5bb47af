/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What the etcd client says when a request fails, against loopback sockets that fail in
 * each way: the writer's choice between Unavailable (not made) and Indeterminate (maybe
 * made) rests on whether the request can have left. */
#include "kv-etcd-client.h"

#include <gio/gio.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

typedef struct {
  sd_event *event;
  GError *error;
  gboolean done;
} Answer;

static void on_answer(const char *body, gsize length, const GError *error, gpointer user_data)
{
  Answer *answer = user_data;

  answer->error = error != NULL ? g_error_copy(error) : NULL;
  answer->done = TRUE;
  sd_event_exit(answer->event, 0);
}

static char *loopback_url(guint port)
{
  return g_strdup_printf("http://127.0.0.1:%u", port);
}

/* The error of one POST, that may wait @timeout_ms, with a client of @endpoints that
 * suspects @suspected (an index, or -1) already, as a probe that went unanswered does. */
static GError *post_error_on(const char *const *endpoints, int suspected, guint timeout_ms)
{
  sd_event *event = NULL;
  g_assert_cmpint(sd_event_new(&event), >=, 0);
  g_autoptr(KvEtcdClient) client = kv_etcd_client_new(event, endpoints);
  Answer answer = {event, NULL, FALSE};

  if (suspected >= 0)
    kv_etcd_client_suspect(client, (guint)suspected);
  kv_etcd_client_post(client, "/v3/kv/txn", "{}", timeout_ms, FALSE, on_answer, &answer);
  g_assert_cmpint(sd_event_loop(event), >=, 0);
  g_assert_true(answer.done);
  g_clear_pointer(&client, kv_etcd_client_free);
  sd_event_unref(event);
  return answer.error;
}

/* The error of one POST to 127.0.0.1:@port that may wait @timeout_ms. */
static GError *post_error(guint port, guint timeout_ms)
{
  g_autofree char *url = loopback_url(port);
  const char *endpoints[] = {url, NULL};

  return post_error_on(endpoints, -1, timeout_ms);
}

/* A listening socket on a free loopback port, backlog @backlog; its port in @port. */
static int listen_loopback(int backlog, guint *port)
{
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_in address = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t length = sizeof address;

  g_assert_cmpint(fd, >=, 0);
  g_assert_cmpint(bind(fd, (struct sockaddr *)&address, sizeof address), ==, 0);
  g_assert_cmpint(listen(fd, backlog), ==, 0);
  g_assert_cmpint(getsockname(fd, (struct sockaddr *)&address, &length), ==, 0);
  *port = ntohs(address.sin_port);
  return fd;
}

/* A connection that nobody will accept: the port is closed. The request never left. */
static void test_refused(void)
{
  guint port;
  close(listen_loopback(1, &port));

  g_autoptr(GError) error = post_error(port, 1000);
  g_assert_error(error, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED);
}

/* A member that drops every SYN (here: a listener whose queue is full and that never
 * accepts, as a firewall that drops packets looks): the connection is never made when
 * the time runs out, so the request never left either. Sending it elsewhere is safe, and
 * a write is Unavailable, not Indeterminate. */
static void test_connection_never_made(void)
{
  guint port;
  int listener = listen_loopback(0, &port);
  struct sockaddr_in address = {.sin_family = AF_INET,
                                .sin_port = htons((uint16_t)port),
                                .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  int fillers[4];

  /* Linux keeps backlog + 1 connections queued, and drops SYNs beyond. */
  for (guint i = 0; i < G_N_ELEMENTS(fillers); i++) {
    fillers[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    connect(fillers[i], (struct sockaddr *)&address, sizeof address);
  }
  gint64 start = g_get_monotonic_time();
  g_autoptr(GError) error = post_error(port, 300);
  g_assert_error(error, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED);
  g_assert_cmpint(g_get_monotonic_time() - start, >=, 250 * 1000);
  for (guint i = 0; i < G_N_ELEMENTS(fillers); i++)
    close(fillers[i]);
  close(listener);
}

/* A member that takes the request and never answers may have made it: timed out, and
 * not "never sent". */
static void test_sent_then_silence(void)
{
  guint port;
  int listener = listen_loopback(8, &port);

  g_autoptr(GError) error = post_error(port, 300);
  g_assert_error(error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  close(listener);
}

/* A leader killed: its port refuses, and the other member, asked by a probe a moment
 * before, did not answer while it elected a new leader. Every endpoint is suspect; the
 * request goes on to the one suspected longest ago, not back to the dead one. (It went
 * back to it, and a watch on a killed leader took 3 s of retries to move.) */
static void test_all_suspect_not_the_dead_one(void)
{
  guint dead_port, live_port;
  close(listen_loopback(1, &dead_port));
  int live = listen_loopback(8, &live_port);
  g_autofree char *dead_url = loopback_url(dead_port);
  g_autofree char *live_url = loopback_url(live_port);
  const char *endpoints[] = {dead_url, live_url, NULL};

  /* The live member, silent here, answers nothing: timed out, and named. */
  g_autoptr(GError) error = post_error_on(endpoints, 1, 300);
  g_assert_error(error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  g_assert_true(g_str_has_prefix(error->message, live_url));
  close(live);
}

int main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/etcd-client/refused", test_refused);
  g_test_add_func("/etcd-client/connection-never-made", test_connection_never_made);
  g_test_add_func("/etcd-client/sent-then-silence", test_sent_then_silence);
  g_test_add_func("/etcd-client/all-suspect-not-the-dead-one", test_all_suspect_not_the_dead_one);
  return g_test_run();
}
