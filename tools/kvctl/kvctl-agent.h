/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <sys/types.h>

/* Starts pkttyagent for this process when standard input is a terminal and kvctl is not
 * root, and waits (a few seconds at most) until it has registered; its pid, or 0 when
 * none was started. An agent already registered for the login session is left to
 * answer. */
pid_t kvctl_agent_start(void);

/* Stops the agent kvctl_agent_start() started (none for 0). */
void kvctl_agent_stop(pid_t pid);
