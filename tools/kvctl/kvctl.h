/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "kv-client-bus.h"

#include <glib.h>
#include <stdio.h>
#include <systemd/sd-bus.h>

G_BEGIN_DECLS

enum {
  KVCTL_EXIT_OK = 0,
  KVCTL_EXIT_MISSING = 1,
  KVCTL_EXIT_USAGE = 2,
  KVCTL_EXIT_FAILURE = 3,
  KVCTL_EXIT_CONFLICT = 4,
  KVCTL_EXIT_INDETERMINATE = 5, /* a write that may or may not have been made */
};

/* One call's default wait for its reply; `load` of a full batch on a slow disk takes a
 * fraction of it. */
#define KVCTL_DEFAULT_TIMEOUT_SECONDS 120

typedef struct KvctlCommand KvctlCommand;

/* What a command runs with. */
typedef struct {
  KvClientBus bus_options;
  guint64 timeout_usec;
  sd_bus *bus; /* connected at the first call */
  const KvctlCommand *command;
  guint64 call_start_usec; /* when the last call was sent (monotonic) */
  pid_t agent;             /* pkttyagent started for the first write, or 0 */
} Kvctl;

struct KvctlCommand {
  const char *name;
  const char *synopsis;    /* what follows "kvctl NAME" */
  const char *summary;     /* one line for the list of commands */
  const char *description; /* the rest of `kvctl help NAME`, examples included */
  gboolean options_anywhere;
  int (*run)(Kvctl *kvctl, int argc, char **argv);
};

/* The command called @name, or NULL. */
const KvctlCommand *kvctl_command_find(const char *name);

/* The list of commands, for --help. */
void kvctl_print_commands(FILE *out);

/* `kvctl help NAME`. */
void kvctl_print_command_help(const KvctlCommand *command, FILE *out);

/* Says what is wrong with the command line, and where help is; returns KVCTL_EXIT_USAGE. */
int kvctl_usage_error(Kvctl *kvctl, const char *format, ...) G_GNUC_PRINTF(2, 3);

/* Parses the running command's options (@entries may be NULL: --help alone), ending at
 * "--", which is removed. Returns TRUE to go on; FALSE with @status set when the command
 * is done: help printed (0) or a usage error (2). */
gboolean kvctl_parse_options(Kvctl *kvctl, int *argc, char ***argv, const GOptionEntry *entries,
                             int *status);

/* Whether between @min and @max arguments (@max -1: any number) follow the command's name
 * in @argc; FALSE with a usage error in @status, where @want says what they are. */
gboolean kvctl_check_arguments(Kvctl *kvctl, int argc, int min, int max, const char *want,
                               int *status);

/* kvctl_parse_options(), then kvctl_check_arguments(). */
gboolean kvctl_parse_arguments(Kvctl *kvctl, int *argc, char ***argv, const GOptionEntry *entries,
                               int min, int max, const char *want, int *status);

/* Prints "kvctl: WHAT: error" and returns KVCTL_EXIT_FAILURE. */
int kvctl_bus_failure(const char *what, int r);
int kvctl_read_failure(int r);

/* A method call to kvstored (connecting at the first); a status. */
int kvctl_new_call(Kvctl *kvctl, const char *member, sd_bus_message **ret);

/* Sends @message and waits for its reply, up to the timeout; prints what failed and
 * returns the exit status for it (for a write that timed out, that it may still have been
 * applied). */
int kvctl_call(Kvctl *kvctl, sd_bus_message *message, sd_bus_message **reply);

/* Method @member with one string argument. */
int kvctl_call_with_key(Kvctl *kvctl, const char *member, const char *key, sd_bus_message **reply);

/* The exit status for a failed call, its error printed. */
int kvctl_call_failure(Kvctl *kvctl, const sd_bus_error *error, int r, gboolean write);

/* Prints the revision a reply starts with. */
int kvctl_print_revision_reply(sd_bus_message *reply);

/* The connected bus (connecting now if need be); a status. */
int kvctl_bus(Kvctl *kvctl, sd_bus **ret);

/* The commands. */
int kvctl_command_get(Kvctl *kvctl, int argc, char **argv);
int kvctl_command_exists(Kvctl *kvctl, int argc, char **argv);
int kvctl_command_keys(Kvctl *kvctl, int argc, char **argv);
int kvctl_command_dump(Kvctl *kvctl, int argc, char **argv);
int kvctl_command_revision(Kvctl *kvctl, int argc, char **argv);
int kvctl_command_access(Kvctl *kvctl, int argc, char **argv);
int kvctl_command_origin(Kvctl *kvctl, int argc, char **argv);
int kvctl_command_ping(Kvctl *kvctl, int argc, char **argv);
int kvctl_command_reload(Kvctl *kvctl, int argc, char **argv);
int kvctl_command_watch(Kvctl *kvctl, int argc, char **argv);
int kvctl_command_changes(Kvctl *kvctl, int argc, char **argv);
int kvctl_command_set(Kvctl *kvctl, int argc, char **argv);
int kvctl_command_set_many(Kvctl *kvctl, int argc, char **argv);
int kvctl_command_cas(Kvctl *kvctl, int argc, char **argv);
int kvctl_command_del(Kvctl *kvctl, int argc, char **argv);
int kvctl_command_incr(Kvctl *kvctl, int argc, char **argv);
int kvctl_command_load(Kvctl *kvctl, int argc, char **argv);
int kvctl_command_lease(Kvctl *kvctl, int argc, char **argv);
int kvctl_command_lock(Kvctl *kvctl, int argc, char **argv);

/* Reads a duration: a number with ms, s (the default), m or h after it. */
gboolean kvctl_parse_duration_ms(const char *text, guint64 *out_ms);

G_END_DECLS
