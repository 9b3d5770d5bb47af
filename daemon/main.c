/* kvstored: parses options, builds the repository, the service and the bus front, wires
 * them together and runs the event loop. Nothing else lives here. */

#include "kv-bus.h"
#include "kv-config.h"
#include "kv-log.h"
#include "kv-memory-repository.h"
#include "kv-sd-bus-cleanup.h"
#include "kv-service.h"
#include "kv-size-option.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <systemd/sd-daemon.h>

#define EXIT_USAGE 2

typedef struct {
  gboolean session;
  gboolean system;
  gboolean version;
  guint64 max_value_size;
} Options;

static gboolean parse_max_value_size(const char *option_name, const char *value, gpointer data,
                                     GError **error)
{
  Options *options = data;

  return kv_parse_size(value, &options->max_value_size, error);
}

static gboolean parse_options(int *argc, char ***argv, Options *options)
{
  g_autoptr(GError) error = NULL;
  const GOptionEntry entries[] = {
      {"session", 0, 0, G_OPTION_ARG_NONE, &options->session, "Serve on the session (user) bus",
       NULL},
      {"system", 0, 0, G_OPTION_ARG_NONE, &options->system, "Serve on the system bus", NULL},
      {"max-value-size", 0, 0, G_OPTION_ARG_CALLBACK, parse_max_value_size,
       "Refuse values whose serialized size exceeds SIZE bytes (suffixes K, M, G; default 1M)",
       "SIZE"},
      {"version", 0, 0, G_OPTION_ARG_NONE, &options->version, "Print the version and exit", NULL},
      {NULL},
  };
  g_autoptr(GOptionContext) context = g_option_context_new("- key/value store on D-Bus");
  GOptionGroup *group = g_option_group_new(NULL, NULL, NULL, options, NULL);

  g_option_group_add_entries(group, entries);
  g_option_context_set_main_group(context, group);
  g_option_context_set_description(
      context, "Without --session or --system, kvstored serves the bus that activated it,\n"
               "else the system bus. It exits 0 on SIGTERM or SIGINT, 1 on failure and 2\n"
               "on a usage error.");

  if (!g_option_context_parse(context, argc, argv, &error)) {
    fprintf(stderr, "kvstored: %s\nTry 'kvstored --help'.\n", error->message);
    return FALSE;
  }
  if (*argc > 1) {
    fprintf(stderr, "kvstored: unexpected argument '%s'\nTry 'kvstored --help'.\n", (*argv)[1]);
    return FALSE;
  }
  if (options->session && options->system) {
    fprintf(stderr, "kvstored: --session and --system exclude each other\n");
    return FALSE;
  }
  return TRUE;
}

static int open_bus(const Options *options, sd_bus **ret, const char **ret_name)
{
  gboolean activated =
      g_getenv("DBUS_STARTER_BUS_TYPE") != NULL || g_getenv("DBUS_STARTER_ADDRESS") != NULL;

  if (options->session) {
    *ret_name = "session";
    return sd_bus_open_user(ret);
  }
  if (options->system || !activated) {
    *ret_name = "system";
    return sd_bus_open_system(ret);
  }
  *ret_name = "activating";
  return sd_bus_open(ret);
}

static int add_exit_signals(sd_event *event)
{
  sigset_t mask;

  /* Blocked so that sd-event receives them through a signalfd. */
  sigemptyset(&mask);
  sigaddset(&mask, SIGTERM);
  sigaddset(&mask, SIGINT);
  if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
    return -errno;

  /* A NULL handler makes sd-event exit its loop with code 0. */
  int r = sd_event_add_signal(event, NULL, SIGTERM, NULL, NULL);
  if (r < 0)
    return r;
  return sd_event_add_signal(event, NULL, SIGINT, NULL, NULL);
}

static int run(const Options *options)
{
  g_autoptr(sd_event) event = NULL;
  g_autoptr(KvRepository) repository = kv_memory_repository_new();
  g_autoptr(KvService) service = kv_service_new(repository, options->max_value_size);
  g_autoptr(sd_bus) bus = NULL;
  g_autoptr(sd_bus_slot) slot = NULL;
  const char *bus_name;

  int r = sd_event_default(&event);
  if (r < 0) {
    kv_log(LOG_ERR, "Cannot create the event loop: %s", g_strerror(-r));
    return EXIT_FAILURE;
  }
  r = add_exit_signals(event);
  if (r < 0) {
    kv_log(LOG_ERR, "Cannot watch SIGTERM and SIGINT: %s", g_strerror(-r));
    return EXIT_FAILURE;
  }
  r = open_bus(options, &bus, &bus_name);
  if (r < 0) {
    kv_log(LOG_ERR, "Cannot connect to the %s bus: %s", bus_name, g_strerror(-r));
    return EXIT_FAILURE;
  }
  r = kv_bus_add_object(bus, service, &slot);
  if (r < 0) {
    kv_log(LOG_ERR, "Cannot publish %s: %s", KV_OBJECT_PATH, g_strerror(-r));
    return EXIT_FAILURE;
  }
  r = sd_bus_attach_event(bus, event, SD_EVENT_PRIORITY_NORMAL);
  if (r < 0) {
    kv_log(LOG_ERR, "Cannot attach the bus to the event loop: %s", g_strerror(-r));
    return EXIT_FAILURE;
  }
  /* Losing the bus makes the loop exit with EXIT_FAILURE. */
  sd_bus_set_exit_on_disconnect(bus, 1);

  r = sd_bus_request_name(bus, KV_BUS_NAME, 0);
  if (r == -EEXIST) {
    kv_log(LOG_ERR, "The name %s is already owned on the %s bus; is another kvstored running?",
           KV_BUS_NAME, bus_name);
    return EXIT_FAILURE;
  }
  if (r < 0) {
    kv_log(LOG_ERR, "Cannot acquire the name %s: %s", KV_BUS_NAME, g_strerror(-r));
    return EXIT_FAILURE;
  }

  kv_log(LOG_INFO, "Version %s serving %s on the %s bus", KV_VERSION, KV_BUS_NAME, bus_name);
  sd_notify(0, "READY=1\nSTATUS=Serving " KV_BUS_NAME);

  r = sd_event_loop(event);
  sd_notify(0, "STOPPING=1");
  if (r < 0) {
    kv_log(LOG_ERR, "Event loop failed: %s", g_strerror(-r));
    return EXIT_FAILURE;
  }
  if (r != 0)
    kv_log(LOG_ERR, "Lost the connection to the %s bus; exiting", bus_name);
  else
    kv_log(LOG_INFO, "Stopping on request");
  return r;
}

int main(int argc, char **argv)
{
  Options options = {.max_value_size = KV_DEFAULT_MAX_VALUE_SIZE};

  if (!parse_options(&argc, &argv, &options))
    return EXIT_USAGE;
  if (options.version) {
    printf("kvstored %s\n", KV_VERSION);
    return EXIT_SUCCESS;
  }

  return run(&options);
}
