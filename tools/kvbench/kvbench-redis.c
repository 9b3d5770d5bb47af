/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "kvbench-redis.h"

#include <gio/gio.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static guint free_port(void)
{
  struct sockaddr_in address = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t length = sizeof address;
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  guint port = 0;

  if (fd >= 0 && bind(fd, (struct sockaddr *)&address, sizeof address) == 0 &&
      getsockname(fd, (struct sockaddr *)&address, &length) == 0)
    port = ntohs(address.sin_port);
  if (fd >= 0)
    close(fd);
  return port;
}

/* The rate of @test in redis-benchmark's CSV ("SET","123456.78",...). */
static double csv_rate(const char *csv, const char *test)
{
  g_autofree char *quoted = g_strdup_printf("\"%s\",\"", test);
  const char *line = strstr(csv, quoted);

  return line != NULL ? g_ascii_strtod(line + strlen(quoted), NULL) : 0;
}

gboolean kvbench_redis_rates(double *out_set_rate, double *out_get_rate, GError **error)
{
  g_autofree char *server = g_find_program_in_path("redis-server");
  g_autofree char *benchmark = g_find_program_in_path("redis-benchmark");
  g_autofree char *port = NULL;
  g_autofree char *csv = NULL;

  if (server == NULL || benchmark == NULL) {
    g_set_error_literal(error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                        "Redis is not installed (Debian: redis-server)");
    return FALSE;
  }
  port = g_strdup_printf("%u", free_port());
  g_autoptr(GSubprocess) redis =
      g_subprocess_new(G_SUBPROCESS_FLAGS_STDOUT_SILENCE, error, server, "--port", port, "--bind",
                       "127.0.0.1", "--save", "", "--appendonly", "no", NULL);
  if (redis == NULL)
    return FALSE;
  /* Until it listens. */
  for (int i = 0; i < 100; i++) {
    g_autoptr(GSubprocess) ping =
        g_subprocess_new(G_SUBPROCESS_FLAGS_STDOUT_SILENCE | G_SUBPROCESS_FLAGS_STDERR_SILENCE,
                         NULL, "redis-cli", "-p", port, "ping", NULL);
    if (ping != NULL && g_subprocess_wait_check(ping, NULL, NULL))
      break;
    g_usleep(50 * 1000);
  }
  g_autoptr(GSubprocess) run = g_subprocess_new(
      G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_SILENCE, error, benchmark, "-p",
      port, "-t", "set,get", "-n", "500000", "-P", "64", "-c", "1", "-d", "16", "--csv", NULL);
  gboolean ran = run != NULL && g_subprocess_communicate_utf8(run, NULL, NULL, &csv, NULL, error);
  g_subprocess_send_signal(redis, SIGTERM);
  g_subprocess_wait(redis, NULL, NULL);
  if (!ran)
    return FALSE;
  *out_set_rate = csv_rate(csv, "SET");
  *out_get_rate = csv_rate(csv, "GET");
  if (*out_set_rate <= 0 || *out_get_rate <= 0) {
    g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "redis-benchmark said: %s", csv);
    return FALSE;
  }
  return TRUE;
}
