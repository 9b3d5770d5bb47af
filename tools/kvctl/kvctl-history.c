/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* kvctl watch and changes: the store's changes as they happen, or from the history of
 * recent changes after a revision. */
#include "kvctl-watch.h"
#include "kvctl.h"

#include "kv-sd-bus-cleanup.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>

/* Reads the value of --since into @out; a usage error in @status otherwise. */
static gboolean parse_since(Kvctl *kvctl, const char *text, guint64 *out, int *status)
{
  if (g_ascii_string_to_unsigned(text, 10, 0, G_MAXUINT64, out, NULL))
    return TRUE;
  *status = kvctl_usage_error(kvctl, "--since takes a revision number, not '%s'", text);
  return FALSE;
}

int kvctl_command_watch(Kvctl *kvctl, int argc, char **argv)
{
  g_auto(sd_bus_error) error = SD_BUS_ERROR_NULL;
  g_autofree char *since_text = NULL;
  const GOptionEntry entries[] = {
      {"since", 0, 0, G_OPTION_ARG_STRING, &since_text, NULL, NULL},
      {NULL},
  };
  guint64 since = 0;
  sd_bus *bus;
  int status;

  if (!kvctl_parse_arguments(kvctl, &argc, &argv, entries, 0, 1, "at most one PREFIX", &status))
    return status;
  if (since_text != NULL && !parse_since(kvctl, since_text, &since, &status))
    return status;
  if ((status = kvctl_bus(kvctl, &bus)) != KVCTL_EXIT_OK)
    return status;
  int r =
      kvctl_watch(bus, argc == 2 ? argv[1] : "", since_text != NULL ? (gint64)since : -1, &error);
  if (r == -EBADMSG)
    return kvctl_read_failure(r);
  return r < 0 ? kvctl_call_failure(kvctl, &error, r, FALSE) : KVCTL_EXIT_OK;
}

/* Prints the changes of one ChangesSince reply and reads where the next page starts. */
static int print_page(sd_bus_message *reply, guint64 *next, char **next_after, int *more)
{
  const char *after;
  int r = kvctl_print_changes(reply);

  if (r >= 0)
    r = sd_bus_message_read(reply, "tsb", next, &after, more);
  if (r < 0)
    return kvctl_read_failure(r);
  g_free(*next_after);
  *next_after = g_strdup(after);
  return KVCTL_EXIT_OK;
}

int kvctl_command_changes(Kvctl *kvctl, int argc, char **argv)
{
  g_autofree char *since_text = NULL;
  g_autofree char *after = NULL;
  const GOptionEntry entries[] = {
      {"since", 0, 0, G_OPTION_ARG_STRING, &since_text, NULL, NULL},
      {"after", 0, 0, G_OPTION_ARG_STRING, &after, NULL, NULL},
      {NULL},
  };
  guint64 since = 0;
  int more = TRUE;
  int status;

  if (!kvctl_parse_arguments(kvctl, &argc, &argv, entries, 0, 1, "at most one PREFIX", &status))
    return status;
  if (since_text != NULL && !parse_since(kvctl, since_text, &since, &status))
    return status;
  /* Page after page, each resumed where the last ended, until the history's end. */
  while (more) {
    g_autoptr(sd_bus_message) call = NULL;
    g_autoptr(sd_bus_message) reply = NULL;
    if ((status = kvctl_new_call(kvctl, "ChangesSince", &call)) != KVCTL_EXIT_OK)
      return status;
    int r = sd_bus_message_append(call, "stsu", argc == 2 ? argv[1] : "", since,
                                  after != NULL ? after : "", 0);
    if (r < 0)
      return kvctl_bus_failure("cannot build the call", r);
    if ((status = kvctl_call(kvctl, call, &reply)) != KVCTL_EXIT_OK)
      return status;
    if ((status = print_page(reply, &since, &after, &more)) != KVCTL_EXIT_OK)
      return status;
  }
  /* On stderr, so that stdout holds only changes: where a later run goes on. */
  fprintf(stderr,
          "kvctl: every change up to revision %" PRIu64 " (go on with --since %" PRIu64 ")\n",
          since, since);
  return KVCTL_EXIT_OK;
}
