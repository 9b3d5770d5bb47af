/* kvctl: drives org.example.KVStore from a shell. */

#include "kv-client-bus.h"
#include "kv-config.h"
#include "kv-sd-bus-cleanup.h"
#include "kv-service.h"
#include "kv-variant-bridge.h"
#include "kvctl-dump.h"
#include "kvctl-json-module.h"
#include "kvctl-page.h"
#include "kvctl-value.h"
#include "kvctl-watch.h"

#include <errno.h>
#include <unistd.h>

#include <stdio.h>
#include <string.h>

enum {
  KVCTL_EXIT_OK = 0,
  KVCTL_EXIT_MISSING = 1,
  KVCTL_EXIT_USAGE = 2,
  KVCTL_EXIT_FAILURE = 3,
  KVCTL_EXIT_CONFLICT = 4,
};

#define KV_ERROR_NOT_FOUND_NAME "org.example.KVStore.Error.NotFound"
#define KV_ERROR_CONFLICT_NAME  "org.example.KVStore.Error.Conflict"

static const char commands_help[] =
    "Commands:\n"
    "  get KEY [--revision]     Print the value of KEY (with --revision: REVISION<TAB>VALUE)\n"
    "  set [--type TYPE | --gvariant] KEY VALUE\n"
    "                           Store VALUE under KEY (a string unless --type or --gvariant)\n"
    "  set-many [--type TYPE | --gvariant] KEY=VALUE...\n"
    "                           Store all, atomically; print the new revision\n"
    "  cas [--type TYPE | --gvariant] KEY REVISION VALUE\n"
    "                           Store VALUE only if KEY is at REVISION (0: does not exist);\n"
    "                           print the new revision\n"
    "  exists KEY               Print true or false\n"
    "  del KEY...               Delete keys, atomically; print how many existed\n"
    "  incr KEY [DELTA]         Add DELTA (default 1) and print the result\n"
    "  keys [PREFIX]            List keys starting with PREFIX, sorted\n"
    "  dump [PREFIX] [--json]   Print the keys and values as typed GVariant text (or JSON)\n"
    "  load FILE [--json]       Store a dump (FILE or - for stdin): one atomic batch per\n"
    "                           5000 keys; print the last revision\n"
    "  watch [PREFIX]           Subscribe to PREFIX and print REVISION<TAB>KEY<TAB>VALUE\n"
    "                           or 'deleted' per change\n"
    "  access KEY               Print the access rule for KEY and whether you may read\n"
    "                           and write it (system bus)\n"
    "  ping                     Check that kvstored answers\n"
    "\n"
    "TYPE is string, bool, byte, int16, uint16, int32, uint32, int64, uint64, double,\n"
    "objectpath, signature, or a GVariant type string such as 'ai' or 'a{sv}'.\n"
    "get prints strings raw and other values as GVariant text; watch prints values as typed\n"
    "GVariant text. The GVariant text dump reads back every type exactly; JSON keeps only\n"
    "int64, double, string and boolean values as they were (see the README).\n"
    "\n"
    "Without --system, --user or --address, kvctl uses the session bus when\n"
    "DBUS_SESSION_BUS_ADDRESS is set, else the system bus.\n"
    "\n"
    "Exit status: 0 success, 1 key missing (get, exists), 2 usage error,\n"
    "3 error from the service or the bus (its message on stderr), 4 revision conflict (cas).";

static int usage_error(const char *format, ...) G_GNUC_PRINTF(1, 2);

static int usage_error(const char *format, ...)
{
  va_list args;

  va_start(args, format);
  fputs("kvctl: ", stderr);
  vfprintf(stderr, format, args);
  fputs("\nTry 'kvctl --help'.\n", stderr);
  va_end(args);
  return KVCTL_EXIT_USAGE;
}

static int bus_failure(const char *what, int r)
{
  fprintf(stderr, "kvctl: %s: %s\n", what, g_strerror(-r));
  return KVCTL_EXIT_FAILURE;
}

static int call_failure(const sd_bus_error *error, int r)
{
  if (sd_bus_error_is_set(error))
    fprintf(stderr, "kvctl: %s (%s)\n", error->message ? error->message : error->name, error->name);
  else
    fprintf(stderr, "kvctl: %s\n", g_strerror(-r));
  if (sd_bus_error_has_name(error, KV_ERROR_NOT_FOUND_NAME))
    return KVCTL_EXIT_MISSING;
  if (sd_bus_error_has_name(error, KV_ERROR_CONFLICT_NAME))
    return KVCTL_EXIT_CONFLICT;
  return KVCTL_EXIT_FAILURE;
}

static int new_call(sd_bus *bus, const char *member, sd_bus_message **ret)
{
  int r =
      sd_bus_message_new_method_call(bus, ret, KV_BUS_NAME, KV_OBJECT_PATH, KV_INTERFACE, member);

  return r < 0 ? bus_failure("cannot build the call", r) : KVCTL_EXIT_OK;
}

static int call(sd_bus *bus, sd_bus_message *message, sd_bus_message **reply)
{
  g_auto(sd_bus_error) error = SD_BUS_ERROR_NULL;
  int r = sd_bus_call(bus, message, 0, &error, reply);

  return r < 0 ? call_failure(&error, r) : KVCTL_EXIT_OK;
}

/* Sends method @member with one string argument. */
static int call_with_key(sd_bus *bus, const char *member, const char *key, sd_bus_message **reply)
{
  g_autoptr(sd_bus_message) message = NULL;
  int status = new_call(bus, member, &message);
  if (status != KVCTL_EXIT_OK)
    return status;
  int r = sd_bus_message_append_basic(message, 's', key);
  if (r < 0)
    return bus_failure("cannot build the call", r);
  return call(bus, message, reply);
}

static int json_failure(const GError *error)
{
  fprintf(stderr, "kvctl: %s\n", error->message);
  return KVCTL_EXIT_FAILURE;
}

static int read_failure(int r)
{
  return bus_failure("cannot read the reply", r);
}

/* Parses a command's own options. With @anywhere they may follow its arguments ("dump
 * app/ --json"); without, they come first, so that a value such as "-5" is not taken for
 * an option. */
static gboolean parse_command_options(int *argc, char ***argv, const GOptionEntry *entries,
                                      gboolean anywhere, GError **error)
{
  g_autoptr(GOptionContext) context = g_option_context_new(NULL);

  g_option_context_add_main_entries(context, entries, NULL);
  g_option_context_set_strict_posix(context, !anywhere);
  g_option_context_set_help_enabled(context, FALSE);
  return g_option_context_parse(context, argc, argv, error);
}

/* --type and --gvariant, for the commands that take values. */
typedef struct {
  char *type_name;
  gboolean gvariant_text;
} ValueOptions;

static int parse_value_options(int *argc, char ***argv, ValueOptions *options)
{
  g_autoptr(GError) error = NULL;
  const GOptionEntry entries[] = {
      {"type", 't', 0, G_OPTION_ARG_STRING, &options->type_name, NULL, NULL},
      {"gvariant", 'g', 0, G_OPTION_ARG_NONE, &options->gvariant_text, NULL, NULL},
      {NULL},
  };

  if (!parse_command_options(argc, argv, entries, FALSE, &error))
    return usage_error("%s: %s", (*argv)[0], error->message);
  if (options->type_name != NULL && options->gvariant_text)
    return usage_error("%s: --type and --gvariant exclude each other", (*argv)[0]);
  return KVCTL_EXIT_OK;
}

static GVariant *parse_value(const ValueOptions *options, const char *command, const char *text,
                             int *status)
{
  g_autoptr(GError) error = NULL;
  GVariant *value = kvctl_parse_value(options->type_name, options->gvariant_text, text, &error);

  if (value == NULL)
    *status = usage_error("%s: %s", command, error->message);
  return value;
}

static int print_revision_reply(sd_bus_message *reply)
{
  uint64_t revision;
  int r = sd_bus_message_read_basic(reply, 't', &revision);

  if (r < 0)
    return read_failure(r);
  printf("%" PRIu64 "\n", revision);
  return KVCTL_EXIT_OK;
}

static int command_get(sd_bus *bus, int argc, char **argv)
{
  g_autoptr(sd_bus_message) reply = NULL;
  g_autoptr(GVariant) value = NULL;
  g_autoptr(GError) error = NULL;
  gboolean with_revision = FALSE;
  uint64_t revision = 0;
  const GOptionEntry entries[] = {
      {"revision", 'r', 0, G_OPTION_ARG_NONE, &with_revision, NULL, NULL},
      {NULL},
  };

  if (!parse_command_options(&argc, &argv, entries, TRUE, &error))
    return usage_error("get: %s", error->message);
  if (argc != 2)
    return usage_error("usage: get KEY [--revision]");
  int status = call_with_key(bus, with_revision ? "GetWithRevision" : "Get", argv[1], &reply);
  if (status != KVCTL_EXIT_OK)
    return status;
  int r = kv_variant_bridge_read_variant(reply, &value);
  if (r >= 0 && with_revision)
    r = sd_bus_message_read_basic(reply, 't', &revision);
  if (r < 0)
    return read_failure(r);

  g_autofree char *text = kvctl_format_value(value);
  if (with_revision)
    printf("%" PRIu64 "\t%s\n", revision, text);
  else
    puts(text);
  return KVCTL_EXIT_OK;
}

static int command_set(sd_bus *bus, int argc, char **argv)
{
  ValueOptions options = {NULL, FALSE};
  g_autoptr(sd_bus_message) message = NULL;
  int status = parse_value_options(&argc, &argv, &options);
  g_autofree char *type_name = options.type_name;

  if (status != KVCTL_EXIT_OK)
    return status;
  if (argc != 3)
    return usage_error("usage: set [--type TYPE | --gvariant] KEY VALUE");
  g_autoptr(GVariant) value = parse_value(&options, "set", argv[2], &status);
  if (value == NULL)
    return status;

  if ((status = new_call(bus, "Set", &message)) != KVCTL_EXIT_OK)
    return status;
  int r = sd_bus_message_append_basic(message, 's', argv[1]);
  if (r >= 0)
    r = kv_variant_bridge_append_variant(message, value);
  if (r < 0)
    return bus_failure("cannot build the call", r);
  return call(bus, message, NULL);
}

/* Sends SetMany with @entries and prints the revision. */
/* SetMany of @entries; its reply in @reply. */
static int call_set_many(sd_bus *bus, GVariant *entries, sd_bus_message **reply)
{
  g_autoptr(sd_bus_message) message = NULL;
  int status = new_call(bus, "SetMany", &message);
  if (status != KVCTL_EXIT_OK)
    return status;
  int r = kv_variant_bridge_append_value(message, entries);
  if (r < 0)
    return bus_failure("cannot build the call", r);
  return call(bus, message, reply);
}

static int set_many(sd_bus *bus, GVariant *entries)
{
  g_autoptr(sd_bus_message) reply = NULL;
  int status = call_set_many(bus, entries, &reply);

  return status != KVCTL_EXIT_OK ? status : print_revision_reply(reply);
}

/* A dump of any size, in batches of as many keys as one call takes; prints the revision of
 * the last. */
static int set_in_batches(sd_bus *bus, GVariant *entries)
{
  gsize n = g_variant_n_children(entries);
  g_autoptr(sd_bus_message) reply = NULL;
  gsize first = 0;

  do {
    GVariantBuilder batch;
    g_variant_builder_init(&batch, G_VARIANT_TYPE("a{sv}"));
    for (gsize i = first; i < MIN(n, first + KV_BATCH_MAX_KEYS); i++) {
      g_autoptr(GVariant) entry = g_variant_get_child_value(entries, i);
      g_variant_builder_add_value(&batch, entry);
    }
    g_autoptr(GVariant) part = g_variant_ref_sink(g_variant_builder_end(&batch));
    g_clear_pointer(&reply, sd_bus_message_unref);
    int status = call_set_many(bus, part, &reply);
    if (status != KVCTL_EXIT_OK)
      return status;
    first += KV_BATCH_MAX_KEYS;
  } while (first < n);
  return print_revision_reply(reply);
}

static int command_set_many(sd_bus *bus, int argc, char **argv)
{
  ValueOptions options = {NULL, FALSE};
  int status = parse_value_options(&argc, &argv, &options);
  g_autofree char *type_name = options.type_name;
  GVariantBuilder entries;

  if (status != KVCTL_EXIT_OK)
    return status;
  if (argc < 2)
    return usage_error("usage: set-many [--type TYPE | --gvariant] KEY=VALUE...");

  g_variant_builder_init(&entries, G_VARIANT_TYPE("a{sv}"));
  for (int i = 1; i < argc; i++) {
    const char *equals = strchr(argv[i], '=');
    if (equals == NULL) {
      g_variant_builder_clear(&entries);
      return usage_error("set-many: '%s' is not KEY=VALUE", argv[i]);
    }
    g_autofree char *key = g_strndup(argv[i], (gsize)(equals - argv[i]));
    g_autoptr(GVariant) value = parse_value(&options, "set-many", equals + 1, &status);
    if (value == NULL) {
      g_variant_builder_clear(&entries);
      return status;
    }
    g_variant_builder_add(&entries, "{sv}", key, value);
  }
  g_autoptr(GVariant) batch = g_variant_ref_sink(g_variant_builder_end(&entries));
  return set_many(bus, batch);
}

static int command_cas(sd_bus *bus, int argc, char **argv)
{
  ValueOptions options = {NULL, FALSE};
  g_autoptr(sd_bus_message) message = NULL;
  g_autoptr(sd_bus_message) reply = NULL;
  int status = parse_value_options(&argc, &argv, &options);
  g_autofree char *type_name = options.type_name;
  guint64 expected;

  if (status != KVCTL_EXIT_OK)
    return status;
  if (argc != 4)
    return usage_error("usage: cas [--type TYPE | --gvariant] KEY REVISION VALUE");
  if (!g_ascii_string_to_unsigned(argv[2], 10, 0, G_MAXUINT64, &expected, NULL))
    return usage_error("cas: REVISION '%s' is not a revision number", argv[2]);
  g_autoptr(GVariant) value = parse_value(&options, "cas", argv[3], &status);
  if (value == NULL)
    return status;

  if ((status = new_call(bus, "CompareAndSet", &message)) != KVCTL_EXIT_OK)
    return status;
  int r = sd_bus_message_append(message, "st", argv[1], (uint64_t)expected);
  if (r >= 0)
    r = kv_variant_bridge_append_variant(message, value);
  if (r < 0)
    return bus_failure("cannot build the call", r);
  if ((status = call(bus, message, &reply)) != KVCTL_EXIT_OK)
    return status;
  return print_revision_reply(reply);
}

static int command_exists(sd_bus *bus, int argc, char **argv)
{
  g_autoptr(sd_bus_message) reply = NULL;
  int exists;

  if (argc != 2)
    return usage_error("usage: exists KEY");
  int status = call_with_key(bus, "Exists", argv[1], &reply);
  if (status != KVCTL_EXIT_OK)
    return status;
  int r = sd_bus_message_read_basic(reply, 'b', &exists);
  if (r < 0)
    return read_failure(r);
  puts(exists ? "true" : "false");
  return exists ? KVCTL_EXIT_OK : KVCTL_EXIT_MISSING;
}

static int command_del(sd_bus *bus, int argc, char **argv)
{
  g_autoptr(sd_bus_message) message = NULL;
  g_autoptr(sd_bus_message) reply = NULL;
  uint32_t deleted;
  uint64_t revision;

  if (argc < 2)
    return usage_error("usage: del KEY...");
  int status = new_call(bus, "DeleteMany", &message);
  if (status != KVCTL_EXIT_OK)
    return status;
  int r = sd_bus_message_append_strv(message, argv + 1);
  if (r < 0)
    return bus_failure("cannot build the call", r);
  if ((status = call(bus, message, &reply)) != KVCTL_EXIT_OK)
    return status;
  r = sd_bus_message_read(reply, "ut", &deleted, &revision);
  if (r < 0)
    return read_failure(r);
  printf("%u\n", deleted);
  return KVCTL_EXIT_OK;
}

static int command_incr(sd_bus *bus, int argc, char **argv)
{
  g_autoptr(sd_bus_message) message = NULL;
  g_autoptr(sd_bus_message) reply = NULL;
  gint64 delta = 1;
  int64_t value;

  if (argc != 2 && argc != 3)
    return usage_error("usage: incr KEY [DELTA]");
  if (argc == 3 && !g_ascii_string_to_signed(argv[2], 10, G_MININT64, G_MAXINT64, &delta, NULL))
    return usage_error("incr: DELTA '%s' is not an int64", argv[2]);

  int status = new_call(bus, "Increment", &message);
  if (status != KVCTL_EXIT_OK)
    return status;
  int r = sd_bus_message_append(message, "sx", argv[1], (int64_t)delta);
  if (r < 0)
    return bus_failure("cannot build the call", r);
  if ((status = call(bus, message, &reply)) != KVCTL_EXIT_OK)
    return status;
  r = sd_bus_message_read_basic(reply, 'x', &value);
  if (r < 0)
    return read_failure(r);
  printf("%" PRId64 "\n", value);
  return KVCTL_EXIT_OK;
}

/* keys and dump: page through the keys with an optional prefix, whatever their number. */
static int page_through(sd_bus *bus, const char *member, const char *prefix, KvctlPageFunc func,
                        gpointer user_data)
{
  g_auto(sd_bus_error) error = SD_BUS_ERROR_NULL;
  int r = kvctl_page_each(bus, member, prefix != NULL ? prefix : "", func, user_data, &error);

  return r < 0 ? call_failure(&error, r) : KVCTL_EXIT_OK;
}

static void print_keys(GVariant *page, gpointer user_data)
{
  g_autofree const char **strv = g_variant_get_strv(page, NULL);

  for (gsize i = 0; strv[i] != NULL; i++)
    puts(strv[i]);
}

static int command_keys(sd_bus *bus, int argc, char **argv)
{
  if (argc > 2)
    return usage_error("usage: keys [PREFIX]");
  return page_through(bus, "KeysPage", argv[1], print_keys, NULL);
}

static void print_text_page(GVariant *page, gpointer user_data)
{
  g_autoptr(GString) text = g_string_new(NULL);

  kvctl_dump_append_text(text, page, user_data);
  fputs(text->str, stdout);
}

static void gather_entries(GVariant *page, gpointer user_data)
{
  GVariantIter iter;
  GVariant *entry;

  g_variant_iter_init(&iter, page);
  while ((entry = g_variant_iter_next_value(&iter)) != NULL) {
    g_variant_builder_add_value(user_data, entry);
    g_variant_unref(entry);
  }
}

static int command_dump(sd_bus *bus, int argc, char **argv)
{
  g_autoptr(GError) error = NULL;
  gboolean json = FALSE;
  const GOptionEntry entries_options[] = {
      {"json", 'j', 0, G_OPTION_ARG_NONE, &json, NULL, NULL},
      {NULL},
  };

  if (!parse_command_options(&argc, &argv, entries_options, TRUE, &error))
    return usage_error("dump: %s", error->message);
  if (argc > 2)
    return usage_error("usage: dump [PREFIX] [--json]");
  /* Text goes out a page at a time; JSON is one object. */
  if (!json) {
    gsize n_written = 0;
    g_autoptr(GString) end = g_string_new(NULL);
    int status = page_through(bus, "GetAllPage", argv[1], print_text_page, &n_written);
    if (status != KVCTL_EXIT_OK)
      return status;
    kvctl_dump_finish_text(end, n_written);
    fputs(end->str, stdout);
    return KVCTL_EXIT_OK;
  }

  KvctlJson json_module;
  if (!kvctl_json_load(&json_module, &error))
    return json_failure(error);
  GVariantBuilder all;
  g_variant_builder_init(&all, G_VARIANT_TYPE("a{sv}"));
  int status = page_through(bus, "GetAllPage", argv[1], gather_entries, &all);
  if (status != KVCTL_EXIT_OK) {
    g_variant_builder_clear(&all);
    return status;
  }
  g_autoptr(GVariant) entries = g_variant_ref_sink(g_variant_builder_end(&all));
  g_autofree char *text = json_module.to_json(entries);
  puts(text);
  return KVCTL_EXIT_OK;
}

static int command_load(sd_bus *bus, int argc, char **argv)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *text = NULL;
  gboolean json = FALSE;
  const GOptionEntry entries_options[] = {
      {"json", 'j', 0, G_OPTION_ARG_NONE, &json, NULL, NULL},
      {NULL},
  };

  if (!parse_command_options(&argc, &argv, entries_options, TRUE, &error))
    return usage_error("load: %s", error->message);
  if (argc != 2)
    return usage_error("usage: load FILE [--json]");

  if (g_str_equal(argv[1], "-")) {
    g_autoptr(GIOChannel) in = g_io_channel_unix_new(0);
    if (g_io_channel_read_to_end(in, &text, NULL, &error) != G_IO_STATUS_NORMAL)
      return usage_error("load: cannot read stdin: %s", error->message);
  } else if (!g_file_get_contents(argv[1], &text, NULL, &error)) {
    return usage_error("load: %s", error->message);
  }

  KvctlJson json_module;
  if (json && !kvctl_json_load(&json_module, &error))
    return json_failure(error);
  g_autoptr(GVariant) entries =
      json ? json_module.from_json(text, &error) : kvctl_dump_from_text(text, &error);
  if (entries == NULL)
    return usage_error("load: %s", error->message);
  return set_in_batches(bus, entries);
}

static int command_watch(sd_bus *bus, int argc, char **argv)
{
  g_auto(sd_bus_error) error = SD_BUS_ERROR_NULL;

  if (argc > 2)
    return usage_error("usage: watch [PREFIX]");
  int r = kvctl_watch(bus, argc == 2 ? argv[1] : "", &error);
  if (r == -EBADMSG)
    return read_failure(r);
  return r < 0 ? call_failure(&error, r) : KVCTL_EXIT_OK;
}

static int command_access(sd_bus *bus, int argc, char **argv)
{
  g_autoptr(sd_bus_message) reply = NULL;
  const char *rule;
  int can_read, can_write;

  if (argc != 2)
    return usage_error("usage: access KEY");
  int status = call_with_key(bus, "CheckAccess", argv[1], &reply);
  if (status != KVCTL_EXIT_OK)
    return status;
  int r = sd_bus_message_read(reply, "sbb", &rule, &can_read, &can_write);
  if (r < 0)
    return read_failure(r);
  printf("rule: %s\nread: %s\nwrite: %s\n", rule, can_read ? "yes" : "no",
         can_write ? "yes" : "no (polkit may authorize it)");
  return KVCTL_EXIT_OK;
}

static int command_ping(sd_bus *bus, int argc, char **argv)
{
  g_autoptr(sd_bus_message) message = NULL;

  if (argc != 1)
    return usage_error("usage: ping");
  int r = sd_bus_message_new_method_call(bus, &message, KV_BUS_NAME, KV_OBJECT_PATH,
                                         "org.freedesktop.DBus.Peer", "Ping");
  if (r < 0)
    return bus_failure("cannot build the call", r);
  int status = call(bus, message, NULL);
  if (status == KVCTL_EXIT_OK)
    puts("pong");
  return status;
}

static const struct {
  const char *name;
  int (*run)(sd_bus *bus, int argc, char **argv);
} commands[] = {
    {"get", command_get},       {"set", command_set},       {"set-many", command_set_many},
    {"cas", command_cas},       {"exists", command_exists}, {"del", command_del},
    {"incr", command_incr},     {"keys", command_keys},     {"dump", command_dump},
    {"load", command_load},     {"watch", command_watch},   {"ping", command_ping},
    {"access", command_access},
};

int main(int argc, char **argv)
{
  KvClientBus options = {0};
  g_autofree char *address = NULL;
  g_autoptr(GError) error = NULL;
  const GOptionEntry entries[] = {
      {"system", 0, 0, G_OPTION_ARG_NONE, &options.system, "Use the system bus", NULL},
      {"user", 0, 0, G_OPTION_ARG_NONE, &options.user, "Use the session (user) bus", NULL},
      {"address", 0, 0, G_OPTION_ARG_STRING, &address, "Use the bus at ADDRESS", "ADDRESS"},
      {NULL},
  };
  g_autoptr(GOptionContext) context = g_option_context_new("COMMAND [ARGUMENTS...]");

  g_option_context_add_main_entries(context, entries, NULL);
  g_option_context_set_summary(context, "Reads, writes and watches org.example.KVStore.");
  g_option_context_set_description(context, commands_help);
  g_option_context_set_strict_posix(context, TRUE);
  if (!g_option_context_parse(context, &argc, &argv, &error))
    return usage_error("%s", error->message);
  if (argc < 2)
    return usage_error("no command given");
  if ((options.system ? 1 : 0) + (options.user ? 1 : 0) + (address != NULL ? 1 : 0) > 1)
    return usage_error("--system, --user and --address exclude each other");
  options.address = address;

  for (gsize i = 0; i < G_N_ELEMENTS(commands); i++) {
    if (strcmp(commands[i].name, argv[1]) != 0)
      continue;

    g_autoptr(sd_bus) bus = NULL;
    int r = kv_client_bus_connect(&options, &bus);
    if (r < 0)
      return bus_failure("cannot connect to the bus", r);
    /* polkit may ask the person at the terminal to authorize a write. */
    sd_bus_set_allow_interactive_authorization(bus, isatty(STDIN_FILENO));
    return commands[i].run(bus, argc - 1, argv + 1);
  }
  return usage_error("unknown command '%s'", argv[1]);
}
