/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* kvctl's commands for whoever runs kvstored: reload. */

#include "kv-sd-bus-cleanup.h"
#include "kvctl.h"

int kvctl_command_reload(Kvctl *kvctl, int argc, char **argv)
{
  g_autoptr(sd_bus_message) message = NULL;
  int status;

  if (!kvctl_parse_arguments(kvctl, &argc, &argv, NULL, 0, 0, "no arguments", &status))
    return status;
  status = kvctl_new_call(kvctl, "Reload", &message);
  if (status != KVCTL_EXIT_OK)
    return status;
  return kvctl_call(kvctl, message, NULL);
}
