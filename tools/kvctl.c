/* kvctl: drives org.example.KVStore from a shell. */

#include "kv-client-bus.h"
#include "kv-config.h"
#include "kv-sd-bus-cleanup.h"
#include "kv-variant-bridge.h"
#include "kvctl-value.h"

#include <stdio.h>
#include <string.h>

enum {
  KVCTL_EXIT_OK = 0,
  KVCTL_EXIT_MISSING = 1,
  KVCTL_EXIT_USAGE = 2,
  KVCTL_EXIT_FAILURE = 3,
};

#define KV_ERROR_NOT_FOUND_NAME "org.example.KVStore.Error.NotFound"

static const char commands_help[] =
    "Commands:\n"
    "  get KEY                  Print the value of KEY\n"
    "  set [--type TYPE | --gvariant] KEY VALUE\n"
    "                           Store VALUE under KEY (a string unless --type or --gvariant)\n"
    "  exists KEY               Print true or false\n"
    "  del KEY...               Delete keys; print how many existed\n"
    "  incr KEY [DELTA]         Add DELTA (default 1) and print the result\n"
    "  keys [PREFIX]            List keys starting with PREFIX, sorted\n"
    "  dump [PREFIX]            Print KEY<TAB>VALUE lines, values as typed GVariant text\n"
    "  ping                     Check that kvstored answers\n"
    "\n"
    "TYPE is string, bool, byte, int16, uint16, int32, uint32, int64, uint64, double,\n"
    "objectpath, signature, or a GVariant type string such as 'ai' or 'a{sv}'.\n"
    "Strings print raw; other values print as GVariant text.\n"
    "\n"
    "Without --system, --user or --address, kvctl uses the session bus when\n"
    "DBUS_SESSION_BUS_ADDRESS is set, else the system bus.\n"
    "\n"
    "Exit status: 0 success, 1 key missing (get, exists), 2 usage error,\n"
    "3 error from the service or the bus (its message on stderr).";

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
  return sd_bus_error_has_name(error, KV_ERROR_NOT_FOUND_NAME) ? KVCTL_EXIT_MISSING
                                                               : KVCTL_EXIT_FAILURE;
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
  int r = sd_bus_message_new_method_call(bus, &message, KV_BUS_NAME, KV_OBJECT_PATH, KV_INTERFACE,
                                         member);
  if (r >= 0)
    r = sd_bus_message_append_basic(message, 's', key);
  if (r < 0)
    return bus_failure("cannot build the call", r);
  return call(bus, message, reply);
}

static void print_value(GVariant *value)
{
  g_autofree char *text = kvctl_format_value(value);

  puts(text);
}

static int command_get(sd_bus *bus, int argc, char **argv)
{
  g_autoptr(sd_bus_message) reply = NULL;
  g_autoptr(GVariant) value = NULL;

  if (argc != 2)
    return usage_error("usage: get KEY");
  int status = call_with_key(bus, "Get", argv[1], &reply);
  if (status != KVCTL_EXIT_OK)
    return status;
  int r = kv_variant_bridge_read_variant(reply, &value);
  if (r < 0)
    return bus_failure("cannot read the reply", r);
  print_value(value);
  return KVCTL_EXIT_OK;
}

static int command_set(sd_bus *bus, int argc, char **argv)
{
  g_autofree char *type_name = NULL;
  gboolean gvariant_text = FALSE;
  g_autoptr(GError) error = NULL;
  const GOptionEntry entries[] = {
      {"type", 't', 0, G_OPTION_ARG_STRING, &type_name, "Type of VALUE", "TYPE"},
      {"gvariant", 'g', 0, G_OPTION_ARG_NONE, &gvariant_text, "VALUE is typed GVariant text", NULL},
      {NULL},
  };
  g_autoptr(GOptionContext) context = g_option_context_new("KEY VALUE");

  g_option_context_add_main_entries(context, entries, NULL);
  g_option_context_set_strict_posix(context, TRUE);
  g_option_context_set_help_enabled(context, FALSE);
  if (!g_option_context_parse(context, &argc, &argv, &error))
    return usage_error("set: %s", error->message);
  if (argc != 3)
    return usage_error("usage: set [--type TYPE | --gvariant] KEY VALUE");
  if (type_name != NULL && gvariant_text)
    return usage_error("set: --type and --gvariant exclude each other");

  g_autoptr(GVariant) value = kvctl_parse_value(type_name, gvariant_text, argv[2], &error);
  if (value == NULL)
    return usage_error("set: %s", error->message);

  g_autoptr(sd_bus_message) message = NULL;
  int r = sd_bus_message_new_method_call(bus, &message, KV_BUS_NAME, KV_OBJECT_PATH, KV_INTERFACE,
                                         "Set");
  if (r >= 0)
    r = sd_bus_message_append_basic(message, 's', argv[1]);
  if (r >= 0)
    r = kv_variant_bridge_append_variant(message, value);
  if (r < 0)
    return bus_failure("cannot build the call", r);
  return call(bus, message, NULL);
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
    return bus_failure("cannot read the reply", r);
  puts(exists ? "true" : "false");
  return exists ? KVCTL_EXIT_OK : KVCTL_EXIT_MISSING;
}

static int command_del(sd_bus *bus, int argc, char **argv)
{
  unsigned deleted = 0;

  if (argc < 2)
    return usage_error("usage: del KEY...");
  for (int i = 1; i < argc; i++) {
    g_autoptr(sd_bus_message) reply = NULL;
    int existed;
    int status = call_with_key(bus, "Delete", argv[i], &reply);
    if (status != KVCTL_EXIT_OK)
      return status;
    int r = sd_bus_message_read_basic(reply, 'b', &existed);
    if (r < 0)
      return bus_failure("cannot read the reply", r);
    deleted += existed ? 1 : 0;
  }
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

  int r = sd_bus_message_new_method_call(bus, &message, KV_BUS_NAME, KV_OBJECT_PATH, KV_INTERFACE,
                                         "Increment");
  if (r >= 0)
    r = sd_bus_message_append(message, "sx", argv[1], (int64_t)delta);
  if (r < 0)
    return bus_failure("cannot build the call", r);
  int status = call(bus, message, &reply);
  if (status != KVCTL_EXIT_OK)
    return status;
  r = sd_bus_message_read_basic(reply, 'x', &value);
  if (r < 0)
    return bus_failure("cannot read the reply", r);
  printf("%" PRId64 "\n", value);
  return KVCTL_EXIT_OK;
}

/* keys and dump: both select by an optional prefix. */
static int call_selection(sd_bus *bus, const char *member, int argc, char **argv, GVariant **ret)
{
  g_autoptr(sd_bus_message) reply = NULL;

  if (argc > 2)
    return usage_error("usage: %s [PREFIX]", argv[0]);
  int status = call_with_key(bus, member, argc == 2 ? argv[1] : "", &reply);
  if (status != KVCTL_EXIT_OK)
    return status;
  int r = kv_variant_bridge_read_value(reply, ret);
  if (r < 0)
    return bus_failure("cannot read the reply", r);
  return KVCTL_EXIT_OK;
}

static int command_keys(sd_bus *bus, int argc, char **argv)
{
  g_autoptr(GVariant) keys = NULL;
  int status = call_selection(bus, "Keys", argc, argv, &keys);
  if (status != KVCTL_EXIT_OK)
    return status;

  g_autofree const char **strv = g_variant_get_strv(keys, NULL);
  for (gsize i = 0; strv[i] != NULL; i++)
    puts(strv[i]);
  return KVCTL_EXIT_OK;
}

static int command_dump(sd_bus *bus, int argc, char **argv)
{
  g_autoptr(GVariant) entries = NULL;
  int status = call_selection(bus, "GetAll", argc, argv, &entries);
  if (status != KVCTL_EXIT_OK)
    return status;

  GVariantIter iter;
  const char *key;
  GVariant *value;
  g_variant_iter_init(&iter, entries);
  while (g_variant_iter_next(&iter, "{&sv}", &key, &value)) {
    g_autofree char *text = g_variant_print(value, TRUE);
    printf("%s\t%s\n", key, text);
    g_variant_unref(value);
  }
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
    {"get", command_get},   {"set", command_set},   {"exists", command_exists},
    {"del", command_del},   {"incr", command_incr}, {"keys", command_keys},
    {"dump", command_dump}, {"ping", command_ping},
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
  g_option_context_set_summary(context, "Reads and writes org.example.KVStore.");
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
    return commands[i].run(bus, argc - 1, argv + 1);
  }
  return usage_error("unknown command '%s'", argv[1]);
}
