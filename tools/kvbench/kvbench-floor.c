/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "kvbench-floor.h"

#include "kv-config.h"
#include "kv-sd-bus-cleanup.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#define FLOOR_VALUE "value-0000000001"

static int floor_get_many(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
  g_autoptr(sd_bus_message) reply = NULL;
  const char *key;
  int r = sd_bus_message_new_method_return(m, &reply);

  if (r >= 0)
    r = sd_bus_message_enter_container(m, 'a', "s");
  if (r >= 0)
    r = sd_bus_message_open_container(reply, 'a', "{sv}");
  while (r >= 0 && (r = sd_bus_message_read_basic(m, 's', &key)) > 0)
    r = sd_bus_message_append(reply, "{sv}", key, "s", FLOOR_VALUE);
  if (r >= 0)
    r = sd_bus_message_exit_container(m);
  if (r >= 0)
    r = sd_bus_message_close_container(reply);
  if (r < 0)
    return r;
  return sd_bus_send(NULL, reply, NULL);
}

static int floor_get(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
  const char *key;
  int r = sd_bus_message_read_basic(m, 's', &key);

  if (r < 0)
    return r;
  return sd_bus_reply_method_return(m, "v", "s", FLOOR_VALUE);
}

int kvbench_floor_read_set(sd_bus_message *m)
{
  const char *key;
  int r = sd_bus_message_read_basic(m, 's', &key);

  return r < 0 ? r : sd_bus_message_skip(m, "v");
}

static int floor_set(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
  int r = kvbench_floor_read_set(m);

  return r < 0 ? r : sd_bus_reply_method_return(m, NULL);
}

static int floor_increment(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
  guint64 *revision = userdata;
  const char *key;
  int64_t delta;
  int r = sd_bus_message_read(m, "sx", &key, &delta);

  if (r < 0)
    return r;
  return sd_bus_reply_method_return(m, "x", (int64_t)++ * revision * delta);
}

static int floor_set_many(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
  guint64 *revision = userdata;
  const char *key, *value;
  int r = sd_bus_message_enter_container(m, 'a', "{sv}");

  while (r >= 0 && (r = sd_bus_message_enter_container(m, 'e', "sv")) > 0) {
    r = sd_bus_message_read(m, "sv", &key, "s", &value);
    if (r >= 0)
      r = sd_bus_message_exit_container(m);
  }
  if (r >= 0)
    r = sd_bus_message_exit_container(m);
  if (r < 0)
    return r;
  return sd_bus_reply_method_return(m, "t", ++*revision);
}

static const sd_bus_vtable floor_vtable[] = {
    SD_BUS_VTABLE_START(0),
    SD_BUS_METHOD_WITH_ARGS("Get", SD_BUS_ARGS("s", key), SD_BUS_RESULT("v", value), floor_get, 0),
    SD_BUS_METHOD_WITH_ARGS("Set", SD_BUS_ARGS("s", key, "v", value), SD_BUS_NO_RESULT, floor_set,
                            0),
    SD_BUS_METHOD_WITH_ARGS("Increment", SD_BUS_ARGS("s", key, "x", delta),
                            SD_BUS_RESULT("x", value), floor_increment, 0),
    SD_BUS_METHOD_WITH_ARGS("GetMany", SD_BUS_ARGS("as", keys), SD_BUS_RESULT("a{sv}", found),
                            floor_get_many, 0),
    SD_BUS_METHOD_WITH_ARGS("SetMany", SD_BUS_ARGS("a{sv}", entries), SD_BUS_RESULT("t", revision),
                            floor_set_many, 0),
    SD_BUS_VTABLE_END};

/* The child: serves until kvbench ends it; its unique name goes to @fd first. */
static int serve(const KvClientBus *options, const sd_bus_vtable *vtable, void *userdata, int fd)
{
  g_autoptr(sd_bus) bus = NULL;
  const char *name;

  int r = kv_client_bus_connect(options, &bus);
  if (r >= 0)
    r = sd_bus_add_object_vtable(bus, NULL, KV_OBJECT_PATH, KV_INTERFACE, vtable, userdata);
  if (r >= 0)
    r = sd_bus_get_unique_name(bus, &name);
  if (r < 0)
    return r;
  gsize size = strlen(name) + 1;
  if (write(fd, name, size) != (ssize_t)size)
    return -errno;
  close(fd);
  for (;;) {
    r = sd_bus_process(bus, NULL);
    if (r < 0)
      return r;
    if (r == 0 && (r = sd_bus_wait(bus, UINT64_MAX)) < 0 && r != -EINTR)
      return r;
  }
}

int kvbench_peer_start(const KvClientBus *bus, const sd_bus_vtable *vtable, void *userdata,
                       KvbenchFloor *ret)
{
  int fds[2];
  char name[256];

  if (pipe2(fds, O_CLOEXEC) < 0)
    return -errno;
  pid_t pid = fork();
  if (pid < 0) {
    int saved = errno;
    close(fds[0]);
    close(fds[1]);
    return -saved;
  }
  if (pid == 0) {
    close(fds[0]);
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    _exit(serve(bus, vtable, userdata, fds[1]) < 0 ? 1 : 0);
  }
  close(fds[1]);
  ssize_t n = read(fds[0], name, sizeof name - 1);
  close(fds[0]);
  if (n <= 1 || name[n - 1] != '\0') {
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
    return -EIO;
  }
  *ret = (KvbenchFloor){pid, g_strdup(name)};
  return 0;
}

int kvbench_floor_start(const KvClientBus *bus, KvbenchFloor *ret)
{
  /* The child's own copy, after the fork. */
  static guint64 revision;

  return kvbench_peer_start(bus, floor_vtable, &revision, ret);
}

void kvbench_floor_stop(KvbenchFloor *self)
{
  if (self->pid > 0) {
    kill(self->pid, SIGTERM);
    waitpid(self->pid, NULL, 0);
  }
  self->pid = 0;
  g_clear_pointer(&self->name, g_free);
}
