/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* kvctl: drives org.example.KVStore from a shell. The commands live in kvctl-read.c,
 * kvctl-write.c and kvctl-load.c, their help in kvctl-commands.c. */

#include "kv-config.h"
#include "kv-sd-bus-cleanup.h"
#include "kvctl.h"
#include "kvctl-agent.h"

#include <math.h>
#include <string.h>

static const char usage_text[] =
    "Usage: kvctl [OPTION...] COMMAND [ARGUMENTS...]\n"
    "Reads, writes and watches org.example.KVStore.\n"
    "\n"
    "Options:\n"
    "  --system             Use the system bus\n"
    "  --user, --session    Use the session (user) bus\n"
    "  --address ADDRESS    Use the bus at ADDRESS\n"
    "  --timeout SECONDS    Wait at most SECONDS for each reply (default 120)\n"
    "  -h, --help           Show this help; 'kvctl help COMMAND' shows a command's\n"
    "  --version            Show the version\n"
    "\n";

static const char trailer_text[] =
    "\n"
    "Each command takes --help, and '--' ends its options (for keys and values that begin\n"
    "with '-'). Without --system, --user or --address, kvctl uses the session bus when\n"
    "DBUS_SESSION_BUS_ADDRESS is set, else the system bus.\n"
    "\n"
    "Exit status: 0 success, 1 key missing (get, exists), 2 usage error,\n"
    "3 error from the service or the bus (its message on stderr), 4 revision conflict (cas).\n"
    "See kvctl(1).\n";

static void print_usage(void)
{
  fputs(usage_text, stdout);
  kvctl_print_commands(stdout);
  fputs(trailer_text, stdout);
}

static int command_help(Kvctl *kvctl, int argc, char **argv)
{
  if (argc == 1) {
    print_usage();
    return KVCTL_EXIT_OK;
  }
  const KvctlCommand *command = kvctl_command_find(argv[1]);
  if (argc > 2 || command == NULL)
    return kvctl_usage_error(kvctl, "help: no command '%s'", argv[1]);
  kvctl_print_command_help(command, stdout);
  return KVCTL_EXIT_OK;
}

int main(int argc, char **argv)
{
  Kvctl kvctl = {{0}, 0, NULL, NULL, 0, 0};
  g_autofree char *address = NULL;
  g_autoptr(GError) error = NULL;
  gboolean session = FALSE, help = FALSE, version = FALSE;
  double timeout = KVCTL_DEFAULT_TIMEOUT_SECONDS;
  const GOptionEntry entries[] = {
      {"system", 0, 0, G_OPTION_ARG_NONE, &kvctl.bus_options.system, NULL, NULL},
      {"user", 0, 0, G_OPTION_ARG_NONE, &kvctl.bus_options.user, NULL, NULL},
      {"session", 0, 0, G_OPTION_ARG_NONE, &session, NULL, NULL},
      {"address", 0, 0, G_OPTION_ARG_STRING, &address, NULL, NULL},
      {"timeout", 0, 0, G_OPTION_ARG_DOUBLE, &timeout, NULL, NULL},
      {"help", 'h', 0, G_OPTION_ARG_NONE, &help, NULL, NULL},
      {"version", 0, 0, G_OPTION_ARG_NONE, &version, NULL, NULL},
      {NULL},
  };
  g_autoptr(GOptionContext) context = g_option_context_new(NULL);

  g_option_context_add_main_entries(context, entries, NULL);
  g_option_context_set_help_enabled(context, FALSE);
  g_option_context_set_strict_posix(context, TRUE);
  if (!g_option_context_parse(context, &argc, &argv, &error))
    return kvctl_usage_error(&kvctl, "%s", error->message);
  if (help) {
    print_usage();
    return KVCTL_EXIT_OK;
  }
  if (version) {
    puts("kvctl " KV_VERSION);
    return KVCTL_EXIT_OK;
  }
  if (argc < 2)
    return kvctl_usage_error(&kvctl, "no command given");
  kvctl.bus_options.user |= session;
  if ((kvctl.bus_options.system ? 1 : 0) + (kvctl.bus_options.user ? 1 : 0) +
          (address != NULL ? 1 : 0) >
      1)
    return kvctl_usage_error(&kvctl, "--system, --user and --address exclude each other");
  kvctl.bus_options.address = address;
  if (!(timeout > 0 && timeout <= 24 * 3600) || !isfinite(timeout))
    return kvctl_usage_error(&kvctl, "--timeout takes seconds, more than 0 and at most a day");
  kvctl.timeout_usec = (guint64)(timeout * G_USEC_PER_SEC);

  if (strcmp(argv[1], "help") == 0)
    return command_help(&kvctl, argc - 1, argv + 1);
  kvctl.command = kvctl_command_find(argv[1]);
  if (kvctl.command == NULL)
    return kvctl_usage_error(&kvctl, "unknown command '%s'", argv[1]);
  int status = kvctl.command->run(&kvctl, argc - 1, argv + 1);
  g_clear_pointer(&kvctl.bus, sd_bus_flush_close_unref);
  kvctl_agent_stop(kvctl.agent);
  return status;
}
