/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* kvctl's commands: names, usage and help. The man page kvctl(1) says the same at length. */

#include "kvctl.h"

#include <string.h>

static const KvctlCommand commands[] = {
    {"get", "[--revision] [--json] [--] KEY", "Print the value of KEY",
     "Prints strings as they are and other values as GVariant text. With --revision, prints\n"
     "REVISION<TAB>VALUE, the revision being that of the key's last change. With --json,\n"
     "prints the value as JSON (see 'kvctl help dump' for the form of each type).\n"
     "Exit status 1 when KEY does not exist.\n"
     "\n"
     "Examples:\n"
     "  kvctl get app/greeting\n"
     "  kvctl get --revision app/counter\n"
     "  kvctl get -- -key-with-a-dash\n",
     TRUE, kvctl_command_get},
    {"set",
     "[--type TYPE | --gvariant] [--file PATH] [--ttl DURATION | --lease LEASE] [--] KEY "
     "[VALUE | -]",
     "Store VALUE under KEY",
     "VALUE is a string unless --type or --gvariant says otherwise. With '-' for VALUE the\n"
     "value is read from standard input, and with --file from PATH, as it is: a trailing\n"
     "newline is kept in a string. A value from a file may be as large as kvstored takes\n"
     "(1 MiB by default), well past the length of a command line.\n"
     "\n"
     "TYPE is string, bool, byte, int16, uint16, int32, uint32, int64, uint64, double,\n"
     "objectpath, signature, or a GVariant type string such as 'ai' or 'a{sv}', whose\n"
     "VALUE is GVariant text. --gvariant reads VALUE as GVariant text with its type\n"
     "('int64 5', \"['a', 'b']\").\n"
     "\n"
     "--ttl DURATION (30s, 500ms, 5m, 1h) stores the key for that long: it is deleted then,\n"
     "unless its lease, whose ID is printed, is kept alive ('kvctl lease'). --lease LEASE\n"
     "writes the key with a lease granted before: it goes when the lease ends.\n"
     "\n"
     "Examples:\n"
     "  kvctl set app/greeting 'hello world'\n"
     "  kvctl set --ttl 30s cache/token abc123\n"
     "  kvctl set --type uint32 app/port 8080\n"
     "  kvctl set --type objectpath app/object /org/example/Thing\n"
     "  kvctl set --gvariant app/list \"['a', 'b']\"\n"
     "  kvctl set app/motd - < /etc/motd\n"
     "  kvctl set --file /etc/hostname app/hostname\n"
     "  kvctl set -- -dashed-key value\n",
     FALSE, kvctl_command_set},
    {"set-many", "[--type TYPE | --gvariant] [--] KEY=VALUE...",
     "Store all, atomically; print the new revision",
     "Stores every KEY=VALUE as one change at one revision: all or nothing. TYPE and\n"
     "--gvariant apply to every value, as for set. At most 5000 keys.\n"
     "\n"
     "Example:\n"
     "  kvctl set-many --type int32 app/width=800 app/height=600\n",
     FALSE, kvctl_command_set_many},
    {"cas", "[--type TYPE | --gvariant] [--] KEY REVISION VALUE",
     "Store VALUE only if KEY is at REVISION",
     "Compare and set: stores VALUE only if the last change of KEY was at REVISION (0: KEY\n"
     "must not exist), and prints the new revision. Exit status 4 when KEY is at another\n"
     "revision; nothing is changed then.\n"
     "\n"
     "Example:\n"
     "  rev=$(kvctl get --revision app/config | cut -f1)\n"
     "  kvctl cas app/config \"$rev\" new-value\n",
     FALSE, kvctl_command_cas},
    {"exists", "[--] KEY", "Print true or false",
     "Prints true, or false with exit status 1.\n"
     "\n"
     "Example:\n"
     "  kvctl exists app/greeting && echo present\n",
     FALSE, kvctl_command_exists},
    {"del", "[--] KEY... | --prefix PREFIX", "Delete keys, atomically; print how many existed",
     "Deletes the KEYs (or, with --prefix, every key starting with PREFIX) as one change,\n"
     "and prints how many existed. --prefix deletes at most 5000 keys; with more, nothing\n"
     "is deleted and kvstored says so. An empty PREFIX names every key.\n"
     "\n"
     "Examples:\n"
     "  kvctl del app/greeting app/counter\n"
     "  kvctl del --prefix app/cache/\n",
     TRUE, kvctl_command_del},
    {"incr", "[--] KEY [DELTA]", "Add DELTA (default 1) and print the result",
     "Adds DELTA, which may be negative, to the integer under KEY (a missing key counts\n"
     "as int64 0), keeping its type; fails with Overflow when the result leaves the type's\n"
     "range.\n"
     "\n"
     "Examples:\n"
     "  kvctl incr app/visits\n"
     "  kvctl incr app/stock -3\n",
     FALSE, kvctl_command_incr},
    {"keys", "[-0 | --json] [--] [PREFIX]", "List keys starting with PREFIX, sorted",
     "Prints one key per line; with -0 (--null) each key ends with a NUL byte instead, so\n"
     "that keys holding newlines stay whole (for xargs -0); with --json, one JSON array.\n"
     "\n"
     "Examples:\n"
     "  kvctl keys app/\n"
     "  kvctl keys -0 app/ | xargs -0 -n 100 kvctl del --\n",
     TRUE, kvctl_command_keys},
    {"dump", "[--json] [--] [PREFIX]", "Print keys and values as typed GVariant text or JSON",
     "GVariant text (the default) keeps every type exactly and quotes every key, so keys\n"
     "with newlines are safe; 'kvctl load' reads it back.\n"
     "\n"
     "JSON: strings, booleans, doubles (finite, written with a fraction or exponent) and\n"
     "int64 values from -2^53 to 2^53 are plain JSON values; every other value is written\n"
     "as {\"type\": T, \"value\": TEXT}, its GVariant type string and GVariant text, which\n"
     "loads back exactly (uint64 18446744073709551615 is {\"type\": \"t\", \"value\":\n"
     "\"18446744073709551615\"}).\n"
     "\n"
     "Progress goes to standard error when it is a terminal.\n"
     "\n"
     "Examples:\n"
     "  kvctl dump app/ > app.dump\n"
     "  kvctl dump --json > all.json\n",
     TRUE, kvctl_command_dump},
    {"load", "[--json] [--batch-size N] [--] FILE", "Store a dump (FILE, or - for stdin)",
     "Stores every entry of a dump made by 'kvctl dump' (GVariant text, or JSON with\n"
     "--json) as one atomic change, and prints its revision. A dump of more than 5000 keys\n"
     "is more than one call takes: --batch-size N (at most 5000) stores it in batches of N\n"
     "keys, each atomic on its own, and prints the last revision; should a batch fail, the\n"
     "batches before it stay stored, and kvctl says how far it got.\n"
     "JSON: plain strings, booleans and numbers load as string, bool, int64 or double; the\n"
     "tagged form {\"type\": T, \"value\": TEXT} as the type it names. null, JSON arrays and\n"
     "other objects are refused, naming the key.\n"
     "\n"
     "Progress goes to standard error when it is a terminal.\n"
     "\n"
     "Examples:\n"
     "  kvctl load app.dump\n"
     "  kvctl dump --json | ssh other-host kvctl load --json -\n"
     "  kvctl load --batch-size 5000 big.dump\n",
     TRUE, kvctl_command_load},
    {"watch", "[--since REVISION] [--] [PREFIX]",
     "Print changes of keys starting with PREFIX as they happen",
     "Subscribes to PREFIX and prints REVISION<TAB>KEY<TAB>VALUE (typed GVariant text), or\n"
     "'deleted' for the value, per change, until interrupted. With --since, first every\n"
     "change after REVISION, from kvstored's history of recent changes, with no gap and\n"
     "none twice: a watcher that stopped goes on from the last revision it printed.\n"
     "A subscription that kvstored ends (the watch read too slowly) is resumed from the\n"
     "last change printed, and said so on standard error.\n"
     "\n"
     "Examples:\n"
     "  kvctl watch app/\n"
     "  kvctl watch --since 1200 app/\n",
     TRUE, kvctl_command_watch},
    {"changes", "[--since REVISION [--after KEY]] [--] [PREFIX]",
     "Print the changes of keys starting with PREFIX after a revision",
     "Prints every change after REVISION (default 0: all the history holds) as 'watch'\n"
     "does, page by page from kvstored's history of recent changes, then, on standard\n"
     "error, the revision to go on from next time. Fails with Compacted when the history\n"
     "no longer holds every change after REVISION: then read everything again (dump).\n"
     "--after KEY resumes inside a revision, after KEY.\n"
     "\n"
     "Example:\n"
     "  kvctl changes --since 1200 app/\n",
     TRUE, kvctl_command_changes},
    {"lease", "grant --ttl DURATION | keep-alive LEASE | revoke LEASE",
     "Grant, keep alive or revoke a lease",
     "grant prints the new lease's ID: it ends DURATION (30s, 500ms, 5m, 1h) from now\n"
     "unless kept alive. keep-alive moves its end to DURATION from now and prints its TTL\n"
     "in ms. revoke ends it now, deleting every key written with it, and prints how many\n"
     "there were. Keys go with a lease through 'set --lease'. LeaseNotFound (exit status\n"
     "3) when the lease has ended.\n"
     "\n"
     "Example:\n"
     "  lease=$(kvctl lease grant --ttl 30s)\n"
     "  kvctl set --lease \"$lease\" workers/$(hostname) busy\n"
     "  while work; do kvctl lease keep-alive \"$lease\"; done\n",
     FALSE, kvctl_command_lease},
    {"lock", "[--timeout DURATION] [--] NAME COMMAND [ARG...]",
     "Run COMMAND while holding the lock NAME",
     "Waits for the lock NAME (callers are served in the order they came), runs COMMAND\n"
     "with KVSTORE_LOCK_NAME and KVSTORE_LOCK_TOKEN (the fencing token: larger for each\n"
     "later holder) in its environment, and releases the lock when it exits, with its exit\n"
     "status, as flock(1) does for files. If kvctl dies, the lock goes with its connection.\n"
     "With --timeout, gives up after DURATION: exit status 4, COMMAND not run.\n"
     "On kvstored over etcd the lock holds across every host sharing the cluster.\n"
     "\n"
     "Examples:\n"
     "  kvctl lock nightly-backup -- /usr/local/bin/backup\n"
     "  kvctl lock --timeout 10s db-migrate -- sh -c 'migrate --token \"$KVSTORE_LOCK_TOKEN\"'\n",
     FALSE, kvctl_command_lock},
    {"revision", "", "Print the store's revision",
     "Prints the revision of the store's last change: after a write that timed out, a\n"
     "revision past the one before it tells that some write was applied.\n",
     TRUE, kvctl_command_revision},
    {"access", "[--] KEY", "Print the access rule for KEY, and what you may do (system bus)",
     "Prints the rule that governs KEY and whether you may read and write it.\n"
     "\n"
     "Example:\n"
     "  kvctl --system access users/1000/theme\n",
     TRUE, kvctl_command_access},
    {"origin", "[--] KEY", "Print where KEY's value comes from: stored, default FILE, none",
     "Prints 'stored' when a value of KEY is stored; 'default' and the file when a read\n"
     "returns the administrator's default (defaults.d); 'none' when it has neither. A lock\n"
     "on KEY shows in 'kvctl access'.\n"
     "\n"
     "Example:\n"
     "  kvctl origin gsettings/org/gnome/desktop/interface/clock-format\n",
     TRUE, kvctl_command_origin},
    {"ping", "", "Check that kvstored answers", "Prints pong.\n", TRUE, kvctl_command_ping},
    {"reload", "", "Make kvstored read its access rules again (root)",
     "Asks kvstored to read its access rules again, as SIGHUP does, and waits for the\n"
     "outcome: exit status 3, with the file, line and reason, when a rule file is refused;\n"
     "the old rules then stay. 'systemctl reload kvstored' runs this.\n"
     "\n"
     "Example:\n"
     "  kvctl --system reload\n",
     TRUE, kvctl_command_reload},
};

const KvctlCommand *kvctl_command_find(const char *name)
{
  for (gsize i = 0; i < G_N_ELEMENTS(commands); i++)
    if (strcmp(commands[i].name, name) == 0)
      return &commands[i];
  return NULL;
}

void kvctl_print_commands(FILE *out)
{
  fputs("Commands:\n", out);
  for (gsize i = 0; i < G_N_ELEMENTS(commands); i++)
    fprintf(out, "  %-9s %s\n", commands[i].name, commands[i].summary);
}

void kvctl_print_command_help(const KvctlCommand *command, FILE *out)
{
  fprintf(out, "Usage: kvctl [OPTION...] %s %s\n\n%s.\n\n%s", command->name, command->synopsis,
          command->summary, command->description);
}
