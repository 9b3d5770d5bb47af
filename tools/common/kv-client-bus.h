/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>
#include <systemd/sd-bus.h>

G_BEGIN_DECLS

/* The bus a command-line client talks to, from its --system, --user and --address
 * options (at most one set). */
typedef struct {
  gboolean system;
  gboolean user;
  const char *address;
} KvClientBus;

/* Connects as @options say; with none set, to the session bus when
 * DBUS_SESSION_BUS_ADDRESS is set, else to the system bus. Returns 0 or a negative errno. */
int kv_client_bus_connect(const KvClientBus *options, sd_bus **ret);

G_END_DECLS
