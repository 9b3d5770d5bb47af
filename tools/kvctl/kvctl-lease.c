/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* kvctl lease and lock: leases by hand, and a command run while holding a lock, as
 * flock(1) runs one while holding a file's lock. */
#include "kvctl.h"

#include "kv-config.h"
#include "kv-sd-bus-cleanup.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

gboolean kvctl_parse_duration_ms(const char *text, guint64 *out_ms)
{
  static const struct {
    const char *suffix;
    guint64 ms;
  } units[] = {{"ms", 1}, {"s", 1000}, {"m", 60 * 1000}, {"h", 3600 * 1000}, {"", 1000}};
  char *end;
  double amount = g_ascii_strtod(text, &end);

  if (end == text || amount < 0)
    return FALSE;
  for (gsize i = 0; i < G_N_ELEMENTS(units); i++)
    if (strcmp(end, units[i].suffix) == 0) {
      double ms = amount * (double)units[i].ms;
      if (ms > (double)G_MAXUINT64 / 2)
        return FALSE;
      *out_ms = (guint64)(ms + 0.5);
      return TRUE;
    }
  return FALSE;
}

/* Reads a lease ID argument. */
static gboolean parse_lease(Kvctl *kvctl, const char *text, guint64 *out, int *status)
{
  if (g_ascii_string_to_unsigned(text, 10, 1, G_MAXUINT64, out, NULL))
    return TRUE;
  *status = kvctl_usage_error(kvctl, "'%s' is not a lease ID", text);
  return FALSE;
}

/* Calls @member with the one lease argument; @reply, when asked, is its answer. */
static int call_with_lease(Kvctl *kvctl, const char *member, guint64 lease, sd_bus_message **reply)
{
  g_autoptr(sd_bus_message) message = NULL;
  int status = kvctl_new_call(kvctl, member, &message);

  if (status != KVCTL_EXIT_OK)
    return status;
  int r = sd_bus_message_append(message, "t", (uint64_t)lease);
  if (r < 0)
    return kvctl_bus_failure("cannot build the call", r);
  return kvctl_call(kvctl, message, reply);
}

static int lease_grant(Kvctl *kvctl, int argc, char **argv)
{
  g_autoptr(sd_bus_message) message = NULL;
  g_autoptr(sd_bus_message) reply = NULL;
  g_autofree char *ttl_text = NULL;
  const GOptionEntry entries[] = {
      {"ttl", 0, 0, G_OPTION_ARG_STRING, &ttl_text, NULL, NULL},
      {NULL},
  };
  guint64 ttl_ms, lease;
  int status;

  if (!kvctl_parse_arguments(kvctl, &argc, &argv, entries, 0, 0, "only --ttl", &status))
    return status;
  if (ttl_text == NULL || !kvctl_parse_duration_ms(ttl_text, &ttl_ms) || ttl_ms == 0)
    return kvctl_usage_error(kvctl, "lease grant needs --ttl DURATION (30s, 500ms, 5m, 1h)");
  if ((status = kvctl_new_call(kvctl, "GrantLease", &message)) != KVCTL_EXIT_OK)
    return status;
  /* Bound to kvctl's connection, it would end as kvctl exits. */
  int r = sd_bus_message_append(message, "tb", (uint64_t)ttl_ms, 0);
  if (r < 0)
    return kvctl_bus_failure("cannot build the call", r);
  if ((status = kvctl_call(kvctl, message, &reply)) != KVCTL_EXIT_OK)
    return status;
  if ((r = sd_bus_message_read_basic(reply, 't', &lease)) < 0)
    return kvctl_read_failure(r);
  printf("%" PRIu64 "\n", lease);
  return KVCTL_EXIT_OK;
}

/* keep-alive and revoke: @member on one lease, printing the first number of its reply
 * (the TTL; how many keys went). */
static int lease_action(Kvctl *kvctl, int argc, char **argv, const char *member)
{
  g_autoptr(sd_bus_message) reply = NULL;
  guint64 lease;
  int status;

  if (!kvctl_parse_arguments(kvctl, &argc, &argv, NULL, 1, 1, "a lease ID", &status) ||
      !parse_lease(kvctl, argv[1], &lease, &status))
    return status;
  if ((status = call_with_lease(kvctl, member, lease, &reply)) != KVCTL_EXIT_OK)
    return status;
  char type;
  int r = sd_bus_message_peek_type(reply, &type, NULL);
  uint64_t number = 0;
  uint32_t small = 0;
  if (r >= 0)
    r = sd_bus_message_read_basic(reply, type, type == 'u' ? (void *)&small : (void *)&number);
  if (r < 0)
    return kvctl_read_failure(r);
  printf("%" PRIu64 "\n", type == 'u' ? (uint64_t)small : number);
  return KVCTL_EXIT_OK;
}

static int lease_keep_alive(Kvctl *kvctl, int argc, char **argv)
{
  return lease_action(kvctl, argc, argv, "KeepAlive");
}

static int lease_revoke(Kvctl *kvctl, int argc, char **argv)
{
  return lease_action(kvctl, argc, argv, "RevokeLease");
}

int kvctl_command_lease(Kvctl *kvctl, int argc, char **argv)
{
  static const struct {
    const char *name;
    int (*run)(Kvctl *kvctl, int argc, char **argv);
  } actions[] = {
      {"grant", lease_grant}, {"keep-alive", lease_keep_alive}, {"revoke", lease_revoke}};

  if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
    int status;
    kvctl_parse_options(kvctl, &argc, &argv, NULL, &status);
    return argc < 2 ? kvctl_usage_error(kvctl, "lease needs grant, keep-alive or revoke") : status;
  }
  for (gsize i = 0; i < G_N_ELEMENTS(actions); i++)
    if (strcmp(argv[1], actions[i].name) == 0)
      return actions[i].run(kvctl, argc - 1, argv + 1);
  return kvctl_usage_error(kvctl, "'%s' is not grant, keep-alive or revoke", argv[1]);
}

/* A lock being waited for: LockAcquired with its token ends the wait. */
typedef struct {
  const char *name;
  guint64 token;
  gboolean acquired;
} Waiting;

static int on_lock_acquired(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
  Waiting *waiting = userdata;
  const char *name;
  uint64_t token;

  if (sd_bus_message_read(m, "st", &name, &token) >= 0 && strcmp(name, waiting->name) == 0 &&
      token == waiting->token)
    waiting->acquired = TRUE;
  return 0;
}

/* Processes the bus until @waiting holds its lock, or until @deadline (monotonic µs, 0:
 * none); a negative errno when the connection fails. */
static int wait_for_lock(sd_bus *bus, Waiting *waiting, gint64 deadline)
{
  while (!waiting->acquired) {
    int r = sd_bus_process(bus, NULL);
    if (r < 0)
      return r;
    if (r > 0)
      continue;
    gint64 now = g_get_monotonic_time();
    if (deadline != 0 && now >= deadline)
      return -ETIMEDOUT;
    r = sd_bus_wait(bus, deadline != 0 ? (uint64_t)(deadline - now) : UINT64_MAX);
    if (r < 0)
      return r;
  }
  return 0;
}

/* Runs @argv with the lock's name and token in its environment; its exit status, the
 * shell's way (128 + N for a signal). The bus is served meanwhile, so that the connection
 * that holds the lock stays alive and read. */
static int run_holding(Kvctl *kvctl, sd_bus *bus, Waiting *waiting, char **argv)
{
  g_autofree char *token = g_strdup_printf("%" PRIu64, waiting->token);
  pid_t pid = fork();

  if (pid < 0)
    return kvctl_bus_failure("cannot start the command", -errno);
  if (pid == 0) {
    setenv("KVSTORE_LOCK_NAME", waiting->name, 1);
    setenv("KVSTORE_LOCK_TOKEN", token, 1);
    execvp(argv[0], argv);
    fprintf(stderr, "kvctl: cannot run %s: %s\n", argv[0], g_strerror(errno));
    _exit(127);
  }
  /* A pidfd is readable once the command exits: waited for beside the bus's socket. */
  int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
  int wstatus;
  while (waitpid(pid, &wstatus, WNOHANG) != pid) {
    while (sd_bus_process(bus, NULL) > 0)
      ;
    struct pollfd fds[2] = {{sd_bus_get_fd(bus), sd_bus_get_events(bus), 0}, {pidfd, POLLIN, 0}};
    /* Without a pidfd (an old kernel), the exit is looked for ten times a second. */
    (void)poll(fds, pidfd >= 0 ? 2 : 1, 100);
  }
  if (pidfd >= 0)
    close(pidfd);
  if (WIFSIGNALED(wstatus))
    return 128 + WTERMSIG(wstatus);
  return WEXITSTATUS(wstatus);
}

static int unlock(Kvctl *kvctl, const char *name, guint64 token)
{
  g_autoptr(sd_bus_message) message = NULL;
  int status = kvctl_new_call(kvctl, "Unlock", &message);

  if (status != KVCTL_EXIT_OK)
    return status;
  int r = sd_bus_message_append(message, "st", name, (uint64_t)token);
  if (r < 0)
    return kvctl_bus_failure("cannot build the call", r);
  return kvctl_call(kvctl, message, NULL);
}

int kvctl_command_lock(Kvctl *kvctl, int argc, char **argv)
{
  g_autoptr(sd_bus_message) message = NULL;
  g_autoptr(sd_bus_message) reply = NULL;
  g_autoptr(sd_bus_slot) match = NULL;
  g_autofree char *timeout_text = NULL;
  const GOptionEntry entries[] = {
      {"timeout", 'w', 0, G_OPTION_ARG_STRING, &timeout_text, NULL, NULL},
      {NULL},
  };
  guint64 timeout_ms = 0, lease;
  int acquired, status;
  sd_bus *bus;

  if (!kvctl_parse_options(kvctl, &argc, &argv, entries, &status))
    return status;
  /* Options end at NAME: a "--" after it only separates the command. */
  if (argc > 2 && strcmp(argv[2], "--") == 0) {
    memmove(argv + 2, argv + 3, sizeof *argv * (gsize)(argc - 2));
    argc--;
  }
  if (!kvctl_check_arguments(kvctl, argc, 2, -1, "NAME and a COMMAND", &status))
    return status;
  if (timeout_text != NULL && !kvctl_parse_duration_ms(timeout_text, &timeout_ms))
    return kvctl_usage_error(kvctl, "--timeout takes a duration (10s, 500ms, 5m), not '%s'",
                             timeout_text);
  Waiting waiting = {argv[1], 0, FALSE};
  if ((status = kvctl_bus(kvctl, &bus)) != KVCTL_EXIT_OK)
    return status;
  /* The match first: the signal may come right after the reply. */
  int r = sd_bus_match_signal(bus, &match, KV_BUS_NAME, KV_OBJECT_PATH, KV_INTERFACE,
                              "LockAcquired", on_lock_acquired, &waiting);
  if (r < 0)
    return kvctl_bus_failure("cannot watch for the lock", r);
  if ((status = kvctl_new_call(kvctl, "Lock", &message)) != KVCTL_EXIT_OK)
    return status;
  /* Lease 0: one of its own, bound to this connection: the lock goes if kvctl does. */
  r = sd_bus_message_append(message, "st", waiting.name, (uint64_t)0);
  if (r < 0)
    return kvctl_bus_failure("cannot build the call", r);
  if ((status = kvctl_call(kvctl, message, &reply)) != KVCTL_EXIT_OK)
    return status;
  r = sd_bus_message_read(reply, "ttb", &waiting.token, &lease, &acquired);
  if (r < 0)
    return kvctl_read_failure(r);
  waiting.acquired = waiting.acquired || acquired;
  gint64 deadline = timeout_text != NULL ? g_get_monotonic_time() + (gint64)timeout_ms * 1000 : 0;
  r = wait_for_lock(bus, &waiting, deadline);
  if (r == -ETIMEDOUT) {
    fprintf(stderr, "kvctl: lock '%s' is still held by another after %s\n", waiting.name,
            timeout_text);
    unlock(kvctl, waiting.name, waiting.token);
    return KVCTL_EXIT_CONFLICT;
  }
  if (r < 0)
    return kvctl_bus_failure("lost the bus while waiting for the lock", r);
  status = run_holding(kvctl, bus, &waiting, argv + 2);
  int unlocked = unlock(kvctl, waiting.name, waiting.token);
  return unlocked != KVCTL_EXIT_OK && status == 0 ? unlocked : status;
}
