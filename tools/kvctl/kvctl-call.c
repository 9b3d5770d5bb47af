/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What every kvctl command shares: its options, its calls, and how failures read. */

#include "kv-config.h"
#include "kv-sd-bus-cleanup.h"
#include "kvctl.h"
#include "kvctl-agent.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <unistd.h>

#define KV_ERROR_NOT_FOUND_NAME     "org.example.KVStore.Error.NotFound"
#define KV_ERROR_CONFLICT_NAME      "org.example.KVStore.Error.Conflict"
#define KV_ERROR_INDETERMINATE_NAME "org.example.KVStore.Error.Indeterminate"

int kvctl_usage_error(Kvctl *kvctl, const char *format, ...)
{
  const KvctlCommand *command = kvctl->command;
  va_list args;

  va_start(args, format);
  fputs("kvctl: ", stderr);
  if (command != NULL)
    fprintf(stderr, "%s: ", command->name);
  vfprintf(stderr, format, args);
  va_end(args);
  if (command != NULL)
    fprintf(stderr, "\nUsage: kvctl %s %s\nTry 'kvctl help %s'.\n", command->name,
            command->synopsis, command->name);
  else
    fputs("\nTry 'kvctl --help'.\n", stderr);
  return KVCTL_EXIT_USAGE;
}

gboolean kvctl_parse_options(Kvctl *kvctl, int *argc, char ***argv, const GOptionEntry *entries,
                             int *status)
{
  g_autoptr(GOptionContext) context = g_option_context_new(NULL);
  g_autoptr(GError) error = NULL;
  gboolean help = FALSE;
  const GOptionEntry help_entries[] = {
      {"help", 'h', 0, G_OPTION_ARG_NONE, &help, NULL, NULL},
      {NULL},
  };

  if (entries != NULL)
    g_option_context_add_main_entries(context, entries, NULL);
  g_option_context_add_main_entries(context, help_entries, NULL);
  /* Where options come first only, a value such as "-5" after the key is no option. */
  g_option_context_set_strict_posix(context, !kvctl->command->options_anywhere);
  g_option_context_set_help_enabled(context, FALSE);
  if (!g_option_context_parse(context, argc, argv, &error)) {
    *status = kvctl_usage_error(kvctl, "%s", error->message);
    return FALSE;
  }
  if (help) {
    kvctl_print_command_help(kvctl->command, stdout);
    *status = KVCTL_EXIT_OK;
    return FALSE;
  }
  /* GOption keeps the "--" that ended the options; past the options it is an argument. */
  for (int i = 1; i < *argc; i++) {
    if (strcmp((*argv)[i], "--") == 0) {
      memmove(*argv + i, *argv + i + 1, sizeof **argv * (gsize)(*argc - i));
      (*argc)--;
      break;
    }
    if (!kvctl->command->options_anywhere)
      break;
  }
  return TRUE;
}

gboolean kvctl_check_arguments(Kvctl *kvctl, int argc, int min, int max, const char *want,
                               int *status)
{
  int n = argc - 1;

  if (n < min || (max >= 0 && n > max)) {
    *status = kvctl_usage_error(kvctl, "%s, please", want);
    return FALSE;
  }
  return TRUE;
}

gboolean kvctl_parse_arguments(Kvctl *kvctl, int *argc, char ***argv, const GOptionEntry *entries,
                               int min, int max, const char *want, int *status)
{
  return kvctl_parse_options(kvctl, argc, argv, entries, status) &&
         kvctl_check_arguments(kvctl, *argc, min, max, want, status);
}

int kvctl_bus_failure(const char *what, int r)
{
  fprintf(stderr, "kvctl: %s: %s\n", what, g_strerror(-r));
  return KVCTL_EXIT_FAILURE;
}

int kvctl_read_failure(int r)
{
  return kvctl_bus_failure("cannot read the reply", r);
}

int kvctl_bus(Kvctl *kvctl, sd_bus **ret)
{
  if (kvctl->bus == NULL) {
    g_autoptr(sd_bus) bus = NULL;
    int r = kv_client_bus_connect(&kvctl->bus_options, &bus);
    if (r < 0)
      return kvctl_bus_failure("cannot connect to the bus", r);
    sd_bus_set_method_call_timeout(bus, kvctl->timeout_usec);
    /* polkit may ask the person at the terminal to authorize a write. */
    sd_bus_set_allow_interactive_authorization(bus, isatty(STDIN_FILENO));
    kvctl->bus = g_steal_pointer(&bus);
  }
  kvctl->call_start_usec = g_get_monotonic_time();
  *ret = kvctl->bus;
  return KVCTL_EXIT_OK;
}

int kvctl_new_call(Kvctl *kvctl, const char *member, sd_bus_message **ret)
{
  sd_bus *bus;
  int status = kvctl_bus(kvctl, &bus);
  if (status != KVCTL_EXIT_OK)
    return status;
  int r =
      sd_bus_message_new_method_call(bus, ret, KV_BUS_NAME, KV_OBJECT_PATH, KV_INTERFACE, member);
  return r < 0 ? kvctl_bus_failure("cannot build the call", r) : KVCTL_EXIT_OK;
}

static gboolean is_write(const char *member)
{
  static const char *const writes[] = {
      "Set",          "SetMany",    "Delete",        "DeleteMany",
      "DeletePrefix", "Increment",  "CompareAndSet", "CompareAndDelete",
      "SetLeased",    "SetWithTtl", "SetManyLeased", "CompareAndSetLeased",
      "GrantLease",   "KeepAlive",  "RevokeLease",   "Lock",
      "Unlock"};

  for (gsize i = 0; member != NULL && i < G_N_ELEMENTS(writes); i++)
    if (strcmp(member, writes[i]) == 0)
      return TRUE;
  return FALSE;
}

static gboolean on_user_bus(Kvctl *kvctl)
{
  const char *scope = NULL;

  return sd_bus_get_scope(kvctl->bus, &scope) >= 0 && g_strcmp0(scope, "user") == 0;
}

/* Where kvstored's log is, for the bus kvctl talks to. */
static const char *journal_command(Kvctl *kvctl)
{
  return on_user_bus(kvctl) ? "journalctl --user -u kvstored" : "journalctl -u kvstored";
}

/* Whether @error says that kvstored could not be started or left without answering,
 * rather than that the call timed out. */
static gboolean daemon_went_away(Kvctl *kvctl, const sd_bus_error *error, int r)
{
  /* The bus answers NoReply both at the timeout and when the callee left: only the
   * clock tells them apart. */
  gboolean early =
      (guint64)(g_get_monotonic_time() - kvctl->call_start_usec) < kvctl->timeout_usec * 9 / 10;

  if (sd_bus_error_has_name(error, SD_BUS_ERROR_NO_REPLY) || r == -ECONNRESET)
    return early;
  return sd_bus_error_has_names(error, SD_BUS_ERROR_SERVICE_UNKNOWN,
                                SD_BUS_ERROR_NAME_HAS_NO_OWNER) ||
         (error->name != NULL &&
          (g_str_has_prefix(error->name, "org.freedesktop.DBus.Error.Spawn.") ||
           g_str_has_prefix(error->name, "org.freedesktop.systemd1.")));
}

int kvctl_call_failure(Kvctl *kvctl, const sd_bus_error *error, int r, gboolean write)
{
  const char *maybe_applied =
      "kvctl: the write may still have been applied: 'kvctl get --revision KEY' shows "
      "the revision of a key's last change, 'kvctl revision' the store's\n";

  if (daemon_went_away(kvctl, error, r)) {
    fprintf(stderr, "kvctl: kvstored stopped before answering, or could not be started: see '%s'",
            journal_command(kvctl));
    if (sd_bus_error_is_set(error))
      fprintf(stderr, " (%s: %s)", error->name, error->message ? error->message : "");
    fputc('\n', stderr);
    if (!write)
      return KVCTL_EXIT_FAILURE;
    fputs(maybe_applied, stderr);
    return KVCTL_EXIT_INDETERMINATE;
  }
  if (r == -ETIMEDOUT ||
      sd_bus_error_has_names(error, SD_BUS_ERROR_NO_REPLY, SD_BUS_ERROR_TIMEOUT)) {
    fprintf(stderr, "kvctl: no reply within %g s (set another limit with --timeout)\n",
            (double)kvctl->timeout_usec / G_USEC_PER_SEC);
    if (!write)
      return KVCTL_EXIT_FAILURE;
    fputs(maybe_applied, stderr);
    return KVCTL_EXIT_INDETERMINATE;
  }
  if (sd_bus_error_is_set(error))
    fprintf(stderr, "kvctl: %s (%s)\n", error->message ? error->message : error->name, error->name);
  else
    fprintf(stderr, "kvctl: %s\n", g_strerror(-r));
  if (sd_bus_error_has_name(error, KV_ERROR_NOT_FOUND_NAME))
    return KVCTL_EXIT_MISSING;
  if (sd_bus_error_has_name(error, KV_ERROR_CONFLICT_NAME))
    return KVCTL_EXIT_CONFLICT;
  if (sd_bus_error_has_name(error, KV_ERROR_INDETERMINATE_NAME)) {
    fputs(maybe_applied, stderr);
    return KVCTL_EXIT_INDETERMINATE;
  }
  return KVCTL_EXIT_FAILURE;
}

int kvctl_call(Kvctl *kvctl, sd_bus_message *message, sd_bus_message **reply)
{
  g_auto(sd_bus_error) error = SD_BUS_ERROR_NULL;
  gboolean write = is_write(sd_bus_message_get_member(message));

  /* Only writes may need polkit, and only a system bus has it. */
  if (write && kvctl->agent == 0 &&
      sd_bus_message_get_allow_interactive_authorization(message) > 0 && !on_user_bus(kvctl))
    kvctl->agent = kvctl_agent_start();
  kvctl->call_start_usec = g_get_monotonic_time();
  int r = sd_bus_call(kvctl->bus, message, 0, &error, reply);
  if (r >= 0)
    return KVCTL_EXIT_OK;
  return kvctl_call_failure(kvctl, &error, r, write);
}

int kvctl_call_with_key(Kvctl *kvctl, const char *member, const char *key, sd_bus_message **reply)
{
  g_autoptr(sd_bus_message) message = NULL;
  int status = kvctl_new_call(kvctl, member, &message);
  if (status != KVCTL_EXIT_OK)
    return status;
  int r = sd_bus_message_append_basic(message, 's', key);
  if (r < 0)
    return kvctl_bus_failure("cannot build the call", r);
  return kvctl_call(kvctl, message, reply);
}

int kvctl_print_revision_reply(sd_bus_message *reply)
{
  uint64_t revision;
  int r = sd_bus_message_read_basic(reply, 't', &revision);

  if (r < 0)
    return kvctl_read_failure(r);
  printf("%" PRIu64 "\n", revision);
  return KVCTL_EXIT_OK;
}
