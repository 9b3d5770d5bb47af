/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* kvstored: parses options, builds the repository, the service and the bus front, wires
 * them together and runs the event loop. Nothing else lives here; it is long because it
 * is the one place that knows every part: their options, the checks between them, and
 * their order of building and freeing. */

#include "kv-bus.h"
#include "kv-config.h"
#include "kv-etcd-repository.h"
#include "kv-idle.h"
#include "kv-log.h"
#include "kv-memory-repository.h"
#include "kv-persistent-repository.h"
#include "kv-repair.h"
#include "kv-sd-bus-cleanup.h"
#include "kv-service.h"
#include "kv-size-option.h"
#include "kv-state-dir.h"
#include "kv-value-check.h"
#include "kv-wire.h"

#include <errno.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <systemd/sd-daemon.h>

#define EXIT_USAGE              2
#define DEFAULT_COMPACT_BYTES   (4 * 1024 * 1024)
#define DEFAULT_HISTORY_CHANGES 10000
#define DEFAULT_HISTORY_BYTES   (4 * 1024 * 1024)
#define MAX_HISTORY_CHANGES     10000000
#define MAX_HISTORY_BYTES       (1024 * 1024 * 1024)
#define STATUS_INTERVAL_USEC    (1000 * 1000)
/* Messages taken after each turn of the event loop, beyond the one sd-bus takes. */
#define POST_MESSAGES 32
/* How long a stop waits for the writes in flight (an etcd cluster's) to be answered. */
#define STOP_WAIT_USEC             (10 * 1000 * 1000)
#define STOP_CHECK_USEC            (10 * 1000)
#define LARGEST_IDLE_TIMEOUT_HOURS 24
#define DEFAULT_MESSAGE_BYTES      (32 * 1024 * 1024)
#define MIN_MESSAGE_BYTES          (1024 * 1024)
#define DEFAULT_ACCESS_DIRS        "/usr/share/kvstore/access.d", "/etc/kvstore/access.d"
#define DEFAULT_DEFAULTS_DIRS      "/usr/share/kvstore/defaults.d", "/etc/kvstore/defaults.d"

typedef struct {
  gboolean session;
  gboolean system;
  gboolean version;
  gboolean in_memory;
  gboolean check;
  gboolean repair;
  char *state_dir;
  char *sync;
  char **access_dirs;
  char **defaults_dirs;
  double idle_timeout;
  guint64 max_value_size;
  guint64 max_message_size;
  guint64 compact_bytes;
  gint history_changes;
  guint64 history_bytes;
  char *etcd;
  char *etcd_prefix;
  double etcd_timeout;
  double etcd_start_timeout;
  double etcd_lease_ttl;
  gboolean etcd_linearizable_reads;
} Options;

/* What the event loop's callbacks need. */
typedef struct {
  KvRepository *repository;
  gboolean persistent;
  gboolean etcd;
  KvBus *front;
  sd_bus *bus;
  char *last_status;
  uint64_t stop_deadline;
} Daemon;

/* The access rules' directories, in rising priority. */
static char **access_dirs(const Options *options)
{
  static const char *const defaults[] = {DEFAULT_ACCESS_DIRS, NULL};

  return g_strdupv(options->access_dirs != NULL ? options->access_dirs : (char **)defaults);
}

/* A step of the start that failed with @r: said as the bus's loss when the bus went away
 * meanwhile (its daemon stopped, say), as any other failure otherwise. */
static int setup_failed(const char *what, int r, const char *bus_name)
{
  if (r == -ECONNRESET || r == -ENOTCONN || r == -EPIPE)
    kv_log(LOG_ERR, "Lost the connection to the %s bus while starting (cannot %s: %s); exiting",
           bus_name, what, g_strerror(-r));
  else
    kv_log(LOG_ERR, "Cannot %s: %s", what, g_strerror(-r));
  return EXIT_FAILURE;
}

/* The administrator's defaults' directories, in rising priority. */
static char **defaults_dirs(const Options *options)
{
  static const char *const defaults[] = {DEFAULT_DEFAULTS_DIRS, NULL};

  return g_strdupv(options->defaults_dirs != NULL ? options->defaults_dirs : (char **)defaults);
}

/* Gives @service the administrator's defaults and locks; FALSE when a file is bad. */
static gboolean load_defaults(const Options *options, KvService *service)
{
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) dirs = defaults_dirs(options);
  KvDefaults *defaults = kv_defaults_load((const char *const *)dirs, &error);

  if (defaults == NULL) {
    kv_log(LOG_ERR, "Cannot read the defaults: %s", error->message);
    return FALSE;
  }
  if (kv_defaults_n_values(defaults) + kv_defaults_n_locks(defaults) > 0)
    kv_log(LOG_INFO, "The administrator's defaults: %u values and %u locks",
           kv_defaults_n_values(defaults), kv_defaults_n_locks(defaults));
  kv_service_set_defaults(service, defaults);
  return TRUE;
}

static gboolean parse_max_value_size(const char *option_name, const char *value, gpointer data,
                                     GError **error)
{
  Options *options = data;

  return kv_parse_size(value, &options->max_value_size, error);
}

static gboolean parse_max_message_size(const char *option_name, const char *value, gpointer data,
                                       GError **error)
{
  Options *options = data;

  return kv_parse_size(value, &options->max_message_size, error);
}

static gboolean parse_compact_size(const char *option_name, const char *value, gpointer data,
                                   GError **error)
{
  Options *options = data;

  return kv_parse_size(value, &options->compact_bytes, error);
}

static gboolean parse_history_size(const char *option_name, const char *value, gpointer data,
                                   GError **error)
{
  Options *options = data;

  return kv_parse_size(value, &options->history_bytes, error);
}

static gboolean usage_error(const char *message)
{
  fprintf(stderr, "kvstored: %s\nTry 'kvstored --help'.\n", message);
  return FALSE;
}

static gboolean parse_options(int *argc, char ***argv, Options *options)
{
  g_autoptr(GError) error = NULL;
  const GOptionEntry entries[] = {
      {"session", 0, 0, G_OPTION_ARG_NONE, &options->session, "Serve on the session (user) bus",
       NULL},
      {"system", 0, 0, G_OPTION_ARG_NONE, &options->system, "Serve on the system bus", NULL},
      {"state-dir", 0, 0, G_OPTION_ARG_FILENAME, &options->state_dir,
       "Keep the data in DIR (default: see below)", "DIR"},
      {"in-memory", 0, 0, G_OPTION_ARG_NONE, &options->in_memory,
       "Keep the data in memory only: it is lost on exit", NULL},
      {"sync", 0, 0, G_OPTION_ARG_STRING, &options->sync,
       "always (default): reply to a write once it is on stable storage; none: once it is "
       "written to the kernel, which a crash of the machine can lose",
       "always|none"},
      {"idle-timeout", 0, 0, G_OPTION_ARG_DOUBLE, &options->idle_timeout,
       "Exit after SECONDS without calls (0, the default: never)", "SECONDS"},
      {"max-value-size", 0, 0, G_OPTION_ARG_CALLBACK, parse_max_value_size,
       "Refuse values whose serialized size exceeds SIZE bytes (suffixes K, M, G; default 1M)",
       "SIZE"},
      {"max-message-size", 0, 0, G_OPTION_ARG_CALLBACK, parse_max_message_size,
       "Never send a message larger than SIZE, the bus's limit (default 32M, the system "
       "bus's; larger replies are refused with TooLarge)",
       "SIZE"},
      {"compact-size", 0, 0, G_OPTION_ARG_CALLBACK, parse_compact_size,
       "Fold the journal into a new snapshot once it is larger than SIZE and than the "
       "snapshot (default 4M)",
       "SIZE"},
      {"history-changes", 0, 0, G_OPTION_ARG_INT, &options->history_changes,
       "Keep the last N changes for callers that resume from a revision (ChangesSince, "
       "SubscribeSince; default 10000, 0: none)",
       "N"},
      {"history-size", 0, 0, G_OPTION_ARG_CALLBACK, parse_history_size,
       "Keep at most SIZE bytes of them (default 4M)", "SIZE"},
      {"access-dir", 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &options->access_dirs,
       "On the system bus, read the access rules from the *.conf files of DIR instead of "
       "/usr/share/kvstore/access.d and /etc/kvstore/access.d (repeatable; later "
       "directories override earlier ones)",
       "DIR"},
      {"defaults-dir", 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &options->defaults_dirs,
       "Read the administrator's defaults and locks from the *.conf files of DIR instead of "
       "/usr/share/kvstore/defaults.d and /etc/kvstore/defaults.d (repeatable; later "
       "directories override earlier ones)",
       "DIR"},
      {"etcd", 0, 0, G_OPTION_ARG_STRING, &options->etcd,
       "Keep the data in the etcd cluster at URLS (http://HOST:PORT, separated by commas), "
       "shared with every kvstored using it, instead of a state directory",
       "URLS"},
      {"etcd-prefix", 0, 0, G_OPTION_ARG_STRING, &options->etcd_prefix,
       "With --etcd: the prefix of kvstore's etcd keys (default /kvstore/)", "PREFIX"},
      {"etcd-timeout", 0, 0, G_OPTION_ARG_DOUBLE, &options->etcd_timeout,
       "With --etcd: answer a write within SECONDS: Unavailable when it was not made, "
       "Indeterminate when the cluster did not tell (default 5)",
       "SECONDS"},
      {"etcd-start-timeout", 0, 0, G_OPTION_ARG_DOUBLE, &options->etcd_start_timeout,
       "With --etcd: wait up to SECONDS for the cluster at the start (default 30)", "SECONDS"},
      {"etcd-lease-ttl", 0, 0, G_OPTION_ARG_DOUBLE, &options->etcd_lease_ttl,
       "With --etcd: a lease bound to a caller's connection ends at the latest SECONDS after "
       "this host's kvstored stops renewing it (it dies with its host; default 60)",
       "SECONDS"},
      {"etcd-linearizable-reads", 0, 0, G_OPTION_ARG_NONE, &options->etcd_linearizable_reads,
       "With --etcd: answer each read only once the replica holds every write the cluster "
       "made before it came (one write to etcd per batch of reads)",
       NULL},
      {"check", 0, 0, G_OPTION_ARG_NONE, &options->check,
       "Examine the state directory and report its files and any damage, then exit (0: "
       "healthy, 1: damaged)",
       NULL},
      {"repair", 0, 0, G_OPTION_ARG_NONE, &options->repair,
       "Repair the state directory, keeping every intact record and each damaged file "
       "beside it, report what was kept and dropped, then exit",
       NULL},
      {"version", 0, 0, G_OPTION_ARG_NONE, &options->version, "Print the version and exit", NULL},
      {NULL},
  };
  g_autoptr(GOptionContext) context = g_option_context_new("- key/value store on D-Bus");
  GOptionGroup *group = g_option_group_new(NULL, NULL, NULL, options, NULL);

  g_option_group_add_entries(group, entries);
  g_option_context_set_main_group(context, group);
  g_option_context_set_description(
      context,
      "Without --session or --system, kvstored serves the bus that activated it, else the\n"
      "system bus. The data lives in --state-dir, else $STATE_DIRECTORY (systemd), else on\n"
      "the session bus $XDG_STATE_HOME/kvstore (~/.local/state/kvstore), else\n"
      "/var/lib/kvstore. kvstored exits 0 on SIGTERM or SIGINT, after committing what is\n"
      "pending, 1 on failure and 2 on a usage error.");

  if (!g_option_context_parse(context, argc, argv, &error))
    return usage_error(error->message);
  if (*argc > 1) {
    g_autofree char *message = g_strdup_printf("unexpected argument '%s'", (*argv)[1]);
    return usage_error(message);
  }
  if (options->session && options->system)
    return usage_error("--session and --system exclude each other");
  if (options->etcd != NULL &&
      (options->state_dir != NULL || options->in_memory || options->check || options->repair))
    return usage_error("--etcd keeps the data in etcd: it excludes --state-dir, --in-memory, "
                       "--check and --repair");
  if (options->etcd == NULL && (options->etcd_prefix != NULL || options->etcd_timeout != 0 ||
                                options->etcd_start_timeout != 0 || options->etcd_lease_ttl != 0 ||
                                options->etcd_linearizable_reads))
    return usage_error("--etcd-prefix, --etcd-timeout, --etcd-start-timeout, --etcd-lease-ttl "
                       "and --etcd-linearizable-reads need --etcd");
  if (options->etcd_lease_ttl < 0 || options->etcd_lease_ttl > 3600 ||
      (options->etcd_lease_ttl != 0 && options->etcd_lease_ttl < 0.5))
    return usage_error("--etcd-lease-ttl takes 0.5 to 3600 seconds");
  if (options->etcd_timeout < 0 || options->etcd_timeout > 3600 ||
      options->etcd_start_timeout < 0 || options->etcd_start_timeout > 3600)
    return usage_error("--etcd-timeout and --etcd-start-timeout take 0 to 3600 seconds");
  /* Write markers live beside the prefix, outside its range: the whole key space has no
   * outside. */
  if (options->etcd_prefix != NULL && options->etcd_prefix[0] == '\0')
    return usage_error("--etcd-prefix must not be empty");
  if (options->check && options->repair)
    return usage_error("--check and --repair exclude each other");
  if ((options->check || options->repair) && options->in_memory)
    return usage_error("--check and --repair need a state directory, not --in-memory");
  if (options->in_memory && options->state_dir != NULL)
    return usage_error("--in-memory and --state-dir exclude each other");
  if (options->sync != NULL && strcmp(options->sync, "always") != 0 &&
      strcmp(options->sync, "none") != 0)
    return usage_error("--sync takes 'always' or 'none'");
  if (options->max_message_size < MIN_MESSAGE_BYTES ||
      options->max_message_size > KV_WIRE_MAX_MESSAGE_BYTES)
    return usage_error("--max-message-size takes a size from 1M to 128M");
  /* The largest Changed signal: a key, a value and a revision, with its header. */
  if (options->max_value_size > options->max_message_size ||
      KV_VALUE_WIRE_LIMIT(options->max_value_size) + KV_KEY_MAX_BYTES + KV_REPLY_RESERVED_BYTES >
          options->max_message_size)
    return usage_error("--max-value-size is too large for --max-message-size: twice the "
                       "value size and a key must fit one message, with 64K to spare");
  /* The history lives in memory: a bound, not a store of its own. */
  if (options->history_changes < 0 || options->history_changes > MAX_HISTORY_CHANGES)
    return usage_error("--history-changes takes a number from 0 to 10000000");
  if (options->history_bytes > MAX_HISTORY_BYTES)
    return usage_error("--history-size takes a size up to 1G");
  if (!(options->idle_timeout >= 0 && options->idle_timeout <= LARGEST_IDLE_TIMEOUT_HOURS * 3600))
    return usage_error("--idle-timeout takes a number of seconds from 0 to 86400");
  return TRUE;
}

/* Whether kvstored serves a session bus rather than the system bus. */
static gboolean serves_session_bus(const Options *options)
{
  const char *starter = g_getenv("DBUS_STARTER_BUS_TYPE");

  if (options->session || options->system)
    return options->session;
  return starter != NULL && strcmp(starter, "system") != 0;
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

static void log_message(int priority, const char *message, gpointer user_data)
{
  kv_log(priority, "%s", message);
}

/* How the etcd replica stands: in the log, and at once in STATUS=. */
static void report_etcd_state(gboolean current, const char *what, gpointer user_data)
{
  g_autofree char *status = g_strdup_printf("STATUS=%s", what);

  kv_log(current ? LOG_INFO : LOG_NOTICE, "%s", what);
  sd_notify(0, status);
}

/* A start that cannot load the data: the reason goes to the log and to systemd's
 * status (`systemctl status kvstored`), as the start fails. */
static void load_failed(const char *format, ...) G_GNUC_PRINTF(1, 2);
static void load_failed(const char *format, ...)
{
  va_list args;
  va_start(args, format);
  g_autofree char *message = g_strdup_vprintf(format, args);
  va_end(args);

  kv_log(LOG_ERR, "%s", message);
  sd_notifyf(0, "STATUS=%s", message);
}

/* The repository on etcd; @history gets etcd's own history of the last --history-changes
 * revisions before the load. */
static KvRepository *open_etcd(const Options *options, sd_event *event, KvHistory *history)
{
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) endpoints = g_strsplit(options->etcd, ",", -1);
  KvEtcdOptions etcd = {
      (const char *const *)endpoints,
      options->etcd_prefix != NULL ? options->etcd_prefix : "/kvstore/",
      (guint)((options->etcd_timeout > 0 ? options->etcd_timeout : 5) * 1000),
      (guint)((options->etcd_start_timeout > 0 ? options->etcd_start_timeout : 30) * 1000),
      history,
      (guint64)options->history_changes,
  };
  KvRepository *repository = kv_etcd_repository_open(&etcd, event, report_etcd_state, NULL, &error);

  if (repository == NULL)
    load_failed("Cannot load the data: %s", error->message);
  return repository;
}

/* The store options ask for; NULL with @exit_status set when there is none. */
static KvRepository *open_store(const Options *options, sd_event *event, KvHistory *history,
                                int *exit_status)
{
  g_autoptr(GError) error = NULL;
  KvRecoveryInfo info;

  *exit_status = EXIT_FAILURE;
  if (options->etcd != NULL)
    return open_etcd(options, event, history);
  if (options->in_memory) {
    kv_log(LOG_INFO, "Keeping the data in memory only");
    return kv_memory_repository_new();
  }

  g_autofree char *dir = kv_state_dir_resolve(options->state_dir, serves_session_bus(options));
  KvSyncMode sync = g_strcmp0(options->sync, "none") == 0 ? KV_SYNC_NONE : KV_SYNC_ALWAYS;
  gint64 start = g_get_monotonic_time();
  KvRepository *repository = kv_persistent_repository_open(
      dir, sync, options->compact_bytes, history, log_message, NULL, &info, &error);
  if (repository == NULL && g_error_matches(error, G_FILE_ERROR, G_FILE_ERROR_INVAL)) {
    load_failed("Cannot load the data: %s. 'kvstored --check --state-dir=%s' shows what is "
                "damaged; 'kvstored --repair --state-dir=%s' keeps every intact record",
                error->message, dir, dir);
    return NULL;
  }
  if (g_error_matches(error, G_FILE_ERROR, G_FILE_ERROR_INTR)) {
    kv_log(LOG_INFO, "Stopping: %s", error->message);
    *exit_status = EXIT_SUCCESS;
    return NULL;
  }
  if (repository == NULL) {
    load_failed("Cannot load the data: %s", error->message);
    return NULL;
  }
  /* Reads are answered while the disk syncs. */
  if (!kv_persistent_repository_sync_off_loop(repository, event, &error)) {
    kv_log(LOG_ERR, "Cannot start the thread that syncs the journal: %s", error->message);
    kv_repository_free(repository);
    return NULL;
  }
  kv_log(LOG_INFO,
         "Loaded %u keys from %s in %.0f ms (%" G_GUINT64_FORMAT
         " from the snapshot, then %" G_GUINT64_FORMAT " journal records); sync %s",
         kv_repository_count(repository), dir, (g_get_monotonic_time() - start) / 1000.0,
         info.snapshot_keys, info.journal_records, sync == KV_SYNC_NONE ? "none" : "always");
  return repository;
}

/* The repository options ask for, with @history filled from what it keeps (a state
 * directory's copy) or started at its revision; NULL with @exit_status set when there is
 * none. */
static KvRepository *open_repository(const Options *options, sd_event *event, KvHistory *history,
                                     int *exit_status)
{
  KvRepository *repository = open_store(options, event, history, exit_status);

  /* The memory and etcd repositories keep no history: it starts now. */
  if (repository != NULL && (options->in_memory || options->etcd != NULL))
    kv_history_start_at(history, kv_repository_revision(repository));
  return repository;
}

/* --check and --repair: offline, on the state directory alone. */
static int examine_state(const Options *options)
{
  g_autofree char *dir = kv_state_dir_resolve(options->state_dir, serves_session_bus(options));
  g_autoptr(GString) report = g_string_new(NULL);
  g_autoptr(GError) error = NULL;
  gboolean healthy = TRUE;
  gboolean done = options->repair ? kv_repair(dir, report, &error)
                                  : kv_repair_check(dir, report, &healthy, &error);

  fputs(report->str, stdout);
  if (!done)
    fprintf(stderr, "kvstored: %s\n", error->message);
  /* Root repairing the service's directory: the service must still open every file,
   * whatever was written before a failure too. */
  g_autoptr(GError) give_error = NULL;
  if (geteuid() == 0 && !kv_state_dir_give_back(dir, &give_error)) {
    fprintf(stderr, "kvstored: %s\n", give_error->message);
    return EXIT_FAILURE;
  }
  if (!done)
    return EXIT_FAILURE;
  return healthy ? EXIT_SUCCESS : EXIT_FAILURE;
}

/* sd-bus takes one message a turn of the event loop; after each turn this takes the
 * messages already read too (a few dozen at most, so that the rest of the loop comes
 * round), without going back to epoll for each, and once none is left commits the writes
 * they made (one commit for all, as the commit's idle source would a turn later). */
static int on_post(sd_event_source *source, void *userdata)
{
  Daemon *daemon = userdata;

  for (int i = 0; i < POST_MESSAGES; i++) {
    int r = sd_bus_process(daemon->bus, NULL);
    if (r < 0)
      return 0;
    if (r == 0) {
      if (daemon->front != NULL)
        kv_bus_input_drained(daemon->front);
      return 0;
    }
  }
  return 0;
}

/* Stops once the writes in flight (an etcd cluster's, waiting for its answer) are done,
 * or at the deadline. */
static int on_stop_check(sd_event_source *source, uint64_t usec, void *userdata)
{
  Daemon *daemon = userdata;

  if (!kv_bus_is_idle(daemon->front) && usec < daemon->stop_deadline) {
    int r = sd_event_source_set_time(source, usec + STOP_CHECK_USEC);
    return r < 0 ? r : sd_event_source_set_enabled(source, SD_EVENT_ONESHOT);
  }
  kv_bus_commit(daemon->front);
  return sd_event_exit(sd_event_source_get_event(source), 0);
}

static int on_exit_signal(sd_event_source *source, const struct signalfd_siginfo *info,
                          void *userdata)
{
  Daemon *daemon = userdata;
  sd_event *event = sd_event_source_get_event(source);
  uint64_t now;

  kv_log(LOG_INFO, "Stopping on %s", strsignal((int)info->ssi_signo));
  kv_bus_commit(daemon->front);
  if (kv_bus_is_idle(daemon->front))
    return sd_event_exit(event, 0);
  sd_event_now(event, CLOCK_MONOTONIC, &now);
  daemon->stop_deadline = now + STOP_WAIT_USEC;
  return sd_event_add_time(event, NULL, CLOCK_MONOTONIC, now + STOP_CHECK_USEC, 0, on_stop_check,
                           daemon);
}

static int on_reload_signal(sd_event_source *source, const struct signalfd_siginfo *info,
                            void *userdata)
{
  Daemon *daemon = userdata;

  /* kv_bus_reload() logs the outcome; a bad file keeps the old rules. */
  (void)kv_bus_reload(daemon->front, NULL);
  return 0;
}

static int add_signal_handlers(sd_event *event, Daemon *daemon)
{
  sigset_t mask;

  /* Blocked so that sd-event receives them through a signalfd. */
  sigemptyset(&mask);
  sigaddset(&mask, SIGTERM);
  sigaddset(&mask, SIGINT);
  sigaddset(&mask, SIGHUP);
  if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
    return -errno;
  /* A full disk or RLIMIT_FSIZE must fail a write with EFBIG, not kill the daemon. */
  signal(SIGXFSZ, SIG_IGN);

  int r = sd_event_add_signal(event, NULL, SIGTERM, on_exit_signal, daemon);
  if (r >= 0)
    r = sd_event_add_signal(event, NULL, SIGHUP, on_reload_signal, daemon);
  if (r < 0)
    return r;
  return sd_event_add_signal(event, NULL, SIGINT, on_exit_signal, daemon);
}

static char *describe(Daemon *daemon)
{
  guint count = kv_repository_count(daemon->repository);

  if (daemon->etcd)
    return g_strdup_printf(
        "%u keys, etcd revision %" G_GUINT64_FORMAT "%s", count,
        kv_repository_revision(daemon->repository),
        kv_repository_is_current(daemon->repository) ? "" : ", not following the cluster now");
  if (!daemon->persistent)
    return g_strdup_printf("%u keys in memory", count);
  return g_strdup_printf("%u keys, journal %.1f KiB", count,
                         kv_persistent_repository_journal_size(daemon->repository) / 1024.0);
}

static int on_status_timer(sd_event_source *source, uint64_t usec, void *userdata)
{
  Daemon *daemon = userdata;
  g_autofree char *status = describe(daemon);

  if (g_strcmp0(status, daemon->last_status) != 0) {
    g_autofree char *message = g_strconcat("STATUS=", status, NULL);
    sd_notify(0, message);
    g_free(daemon->last_status);
    daemon->last_status = g_steal_pointer(&status);
  }
  int r = sd_event_source_set_time(source, usec + STATUS_INTERVAL_USEC);
  return r < 0 ? r : sd_event_source_set_enabled(source, SD_EVENT_ON);
}

static int run(const Options *options)
{
  g_autoptr(sd_event) event = NULL;
  g_autoptr(KvHistory) history = NULL;
  g_autoptr(KvRepository) repository = NULL;
  g_autoptr(KvService) service = NULL;
  g_autoptr(sd_bus) bus = NULL;
  g_autoptr(KvPeerFlow) flow = NULL;
  g_autoptr(KvBusCallers) callers = NULL;
  g_autoptr(KvBusAccess) access = NULL;
  g_autoptr(KvBus) front = NULL;
  g_autoptr(KvIdle) idle = NULL;
  Daemon daemon = {0};
  const char *bus_name;

  int r = sd_event_default(&event);
  if (r < 0) {
    kv_log(LOG_ERR, "Cannot create the event loop: %s", g_strerror(-r));
    return EXIT_FAILURE;
  }
  r = add_signal_handlers(event, &daemon);
  if (r < 0) {
    kv_log(LOG_ERR, "Cannot watch SIGTERM, SIGINT and SIGHUP: %s", g_strerror(-r));
    return EXIT_FAILURE;
  }
  /* Pings systemd's watchdog when WatchdogSec= is set; does nothing otherwise. */
  sd_event_set_watchdog(event, 1);

  r = open_bus(options, &bus, &bus_name);
  if (r < 0) {
    kv_log(LOG_ERR, "Cannot connect to the %s bus: %s", bus_name, g_strerror(-r));
    return EXIT_FAILURE;
  }
  r = sd_bus_attach_event(bus, event, SD_EVENT_PRIORITY_NORMAL);
  if (r < 0) {
    kv_log(LOG_ERR, "Cannot attach the bus to the event loop: %s", g_strerror(-r));
    return EXIT_FAILURE;
  }
  /* Losing the bus makes the loop exit with EXIT_FAILURE. */
  sd_bus_set_exit_on_disconnect(bus, 1);
  daemon.bus = bus;
  r = sd_event_add_post(event, NULL, on_post, &daemon);
  if (r < 0) {
    kv_log(LOG_ERR, "Cannot watch the event loop's turns: %s", g_strerror(-r));
    return EXIT_FAILURE;
  }

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
  /* Calls that arrive while the data loads wait in the bus's queue: the loop is not
   * running yet. Taking the name first tells a second kvstored at once that it is not
   * needed, and lets a new instance wait for the lock of one that is still finishing. */
  int exit_status;
  history = kv_history_new((guint)options->history_changes, options->history_bytes);
  repository = open_repository(options, event, history, &exit_status);
  if (repository == NULL)
    return exit_status;
  service = kv_service_new(repository, options->max_value_size);
  if (!load_defaults(options, service))
    return EXIT_FAILURE;
  kv_service_set_history(service, history);
  kv_service_set_linearizable(service, options->etcd_linearizable_reads);
  if (options->etcd != NULL) {
    kv_service_set_lease_max_keys(service, KV_ETCD_LEASE_MAX_KEYS);
    kv_service_set_bound_ttl(
        service, (guint64)((options->etcd_lease_ttl > 0 ? options->etcd_lease_ttl : 60) * 1000));
  }
  r = kv_peer_flow_new(bus, KV_INTERFACE, &flow);
  if (r < 0)
    return setup_failed("watch the callers' unread replies", r, bus_name);
  r = kv_bus_callers_new(bus, &callers);
  if (r < 0)
    return setup_failed("watch the callers", r, bus_name);
  /* The session bus is one user's: only the system bus has access rules. */
  if (!serves_session_bus(options)) {
    g_autoptr(GError) error = NULL;
    g_auto(GStrv) dirs = access_dirs(options);
    access = kv_bus_access_new(bus, callers, repository, (const char *const *)dirs, &error);
    if (access == NULL) {
      kv_log(LOG_ERR, "Cannot read the access rules: %s", error->message);
      return EXIT_FAILURE;
    }
  }
  r = kv_bus_new(bus, service, flow, callers, access, options->max_message_size, &front);
  if (r < 0)
    return setup_failed("publish " KV_OBJECT_PATH, r, bus_name);
  daemon.repository = repository;
  daemon.persistent = !options->in_memory && options->etcd == NULL;
  daemon.etcd = options->etcd != NULL;
  daemon.front = front;

  if (options->idle_timeout > 0) {
    r = kv_idle_new(bus, front, KV_BUS_NAME, (guint64)(options->idle_timeout * 1e6), &idle);
    if (r < 0)
      return setup_failed("watch for idleness", r, bus_name);
  }
  r = sd_event_add_time_relative(event, NULL, CLOCK_MONOTONIC, 0, 0, on_status_timer, &daemon);
  if (r < 0) {
    kv_log(LOG_ERR, "Cannot add the status timer: %s", g_strerror(-r));
    return EXIT_FAILURE;
  }

  kv_log(LOG_INFO, "Version %s serving %s on the %s bus", KV_VERSION, KV_BUS_NAME, bus_name);
  sd_notify(0, "READY=1");

  r = sd_event_loop(event);
  sd_notify(0, "STOPPING=1");
  g_free(daemon.last_status);
  if (r < 0) {
    kv_log(LOG_ERR, "Event loop failed: %s", g_strerror(-r));
    return EXIT_FAILURE;
  }
  if (r != 0)
    kv_log(LOG_ERR, "Lost the connection to the %s bus; exiting", bus_name);
  return r;
}

int main(int argc, char **argv)
{
  Options options = {
      .max_value_size = KV_DEFAULT_MAX_VALUE_SIZE,
      .max_message_size = DEFAULT_MESSAGE_BYTES,
      .compact_bytes = DEFAULT_COMPACT_BYTES,
      .history_changes = DEFAULT_HISTORY_CHANGES,
      .history_bytes = DEFAULT_HISTORY_BYTES,
  };

  /* A fixed threshold: glibc otherwise raises it to the size of the largest block freed
   * (a 25 MB batch message, say), after which such blocks come from the heap and stay in
   * the process once freed: 1.44x the RSS after 5000 10 kB values in one batch than in
   * fifty. Blocks this large are mapped and unmapped on their own. */
  mallopt(M_MMAP_THRESHOLD, 256 * 1024);
  if (!parse_options(&argc, &argv, &options))
    return EXIT_USAGE;
  if (options.version) {
    printf("kvstored %s\n", KV_VERSION);
    return EXIT_SUCCESS;
  }

  int status = options.check || options.repair ? examine_state(&options) : run(&options);
  g_free(options.state_dir);
  g_free(options.sync);
  g_strfreev(options.access_dirs);
  g_strfreev(options.defaults_dirs);
  g_free(options.etcd);
  g_free(options.etcd_prefix);
  return status;
}
