/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A polkit text agent for a person at a terminal, as systemctl starts one: without an
 * agent registered for the session (no desktop, an ssh login), polkit would have nobody
 * to ask for a password, and a write the rules refuse would fail with
 * InteractiveAuthorizationRequired. */

#include "kvctl-agent.h"

#include <glib.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>
#include <systemd/sd-login.h>
#include <unistd.h>

#define PKTTYAGENT "/usr/bin/pkttyagent"
/* How long the agent may take to register before kvctl goes on without it. */
#define REGISTER_TIMEOUT_MS 5000

pid_t kvctl_agent_start(void)
{
  int fds[2];

  /* root is authorized without asking; a session bus has no polkit. */
  if (!isatty(STDIN_FILENO) || geteuid() == 0 || access(PKTTYAGENT, X_OK) < 0)
    return 0;
  /* --fallback keeps a desktop's agent for the login session, if there is one. Without a
   * session (a shell from su, runuser or a service) polkitd (122) never uses a fallback
   * agent: it finds an agent for a process only through its session then. */
  g_autofree char *session = NULL;
  gboolean in_session = sd_pid_get_session(0, &session) >= 0;
  if (pipe2(fds, O_CLOEXEC) < 0)
    return 0;
  pid_t pid = fork();
  if (pid < 0) {
    close(fds[0]);
    close(fds[1]);
    return 0;
  }
  if (pid == 0) {
    char notify_fd[16], process[32];
    /* The write end stays open across exec: the agent writes to it once registered. */
    int notify = dup(fds[1]);
    if (notify < 0)
      _exit(127);
    snprintf(notify_fd, sizeof notify_fd, "%d", notify);
    /* kvctl's process: polkitd maps the bus name kvstored asks about to it. */
    snprintf(process, sizeof process, "%d", (int)getppid());
    execl(PKTTYAGENT, PKTTYAGENT, "--notify-fd", notify_fd, "--process", process,
          in_session ? "--fallback" : (char *)NULL, (char *)NULL);
    _exit(127);
  }
  close(fds[1]);
  /* Written to, or closed when the agent exits: either way kvctl goes on. */
  struct pollfd ready = {fds[0], POLLIN, 0};
  (void)poll(&ready, 1, REGISTER_TIMEOUT_MS);
  close(fds[0]);
  return pid;
}

void kvctl_agent_stop(pid_t pid)
{
  if (pid <= 0)
    return;
  kill(pid, SIGTERM);
  while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
    ;
}
