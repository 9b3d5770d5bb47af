/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What kvstored keeps across stops, crashes, idle exits and disk errors, on a private
 * bus that activates it with a state directory of the test's own. */

#include "kv-config.h"
#include "kv-test-assert.h"
#include "kv-test-bus.h"

#include <glib/gstdio.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>

static void set_string(KvTestBus *bus, const char *key, const char *value)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply =
      kv_test_bus_call(bus, "Set", g_variant_new("(sv)", key, g_variant_new_string(value)), &error);

  g_assert_no_error(error);
}

static char *get_string(KvTestBus *bus, const char *key)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = kv_test_bus_call(bus, "Get", g_variant_new("(s)", key), &error);
  g_autoptr(GVariant) value = NULL;

  g_assert_no_error(error);
  g_variant_get(reply, "(v)", &value);
  return g_variant_dup_string(value, NULL);
}

static gboolean exists(KvTestBus *bus, const char *key)
{
  g_autoptr(GVariant) reply = kv_test_bus_call(bus, "Exists", g_variant_new("(s)", key), NULL);
  gboolean found;

  g_assert_nonnull(reply);
  g_variant_get(reply, "(b)", &found);
  return found;
}

static void test_survives_restart(KvTestBus *bus, gconstpointer data)
{
  set_string(bus, "kept", "across a restart");
  g_autoptr(GVariant) reply =
      kv_test_bus_call(bus, "Increment", g_variant_new("(sx)", "counter", (gint64)41), NULL);
  g_assert_nonnull(reply);

  kv_test_bus_stop_daemon(bus);
  g_assert_false(kv_test_bus_name_has_owner(bus));

  /* The next call activates a new kvstored, which loads what the first one wrote. */
  g_autofree char *kept = get_string(bus, "kept");
  g_assert_cmpstr(kept, ==, "across a restart");
  g_autoptr(GVariant) counter =
      kv_test_bus_call(bus, "Increment", g_variant_new("(sx)", "counter", (gint64)1), NULL);
  kv_assert_variant_eq(counter, g_variant_new("(x)", (gint64)42));
}

static void wait_until_released(KvTestBus *bus)
{
  for (int i = 0; i < 1000 && kv_test_bus_name_has_owner(bus); i++)
    g_usleep(10 * 1000);
  g_assert_false(kv_test_bus_name_has_owner(bus));
}

static void test_idle_exit_and_reactivation(KvTestBus *bus, gconstpointer data)
{
  set_string(bus, "kept", "across an idle exit");
  wait_until_released(bus);
  /* It exited on its own, and cleanly. */
  kv_test_bus_assert_exited_cleanly(bus);

  g_autofree char *kept = get_string(bus, "kept");
  g_assert_cmpstr(kept, ==, "across an idle exit");
}

/* Calls spaced around the idle timeout land while kvstored releases its name: each must
 * be answered, by the old instance or a new one, and none may be lost. */
static void test_no_call_lost_around_idle_exit(KvTestBus *bus, gconstpointer data)
{
  enum { ROUNDS = 25 };

  for (int i = 0; i < ROUNDS; i++) {
    g_autoptr(GError) error = NULL;
    g_usleep((150 + g_test_rand_int_range(0, 100)) * 1000);
    g_autoptr(GVariant) reply =
        kv_test_bus_call(bus, "Increment", g_variant_new("(sx)", "calls", (gint64)1), &error);
    g_assert_no_error(error);
  }
  g_autoptr(GVariant) total =
      kv_test_bus_call(bus, "Increment", g_variant_new("(sx)", "calls", (gint64)0), NULL);
  kv_assert_variant_eq(total, g_variant_new("(x)", (gint64)ROUNDS));
}

static GSubprocess *spawn_daemon(KvTestBus *bus, GSubprocessLauncher *launcher)
{
  g_autoptr(GError) error = NULL;
  GSubprocess *process =
      g_subprocess_launcher_spawn(launcher, &error, kv_test_getenv("KV_TEST_KVSTORED"), "--session",
                                  "--state-dir", bus->state_dir, NULL);

  g_assert_no_error(error);
  for (int i = 0; i < 1000 && !kv_test_bus_name_has_owner(bus); i++)
    g_usleep(10 * 1000);
  g_assert_true(kv_test_bus_name_has_owner(bus));
  return process;
}

/* Writers for the crash test: each keeps a window of Sets in flight and records which
 * were acknowledged. */
typedef struct {
  GDBusConnection *connection;
  int id;
  int sent;
  int in_flight;
  gboolean stop;
  GHashTable *acknowledged; /* key -> value, both owned */
  int *running;
} Writer;

static void send_set(Writer *w);

typedef struct {
  Writer *writer;
  char *key;
  char *value;
} PendingSet;

static void on_pending_set_reply(GObject *source, GAsyncResult *result, gpointer user_data)
{
  PendingSet *pending = user_data;
  Writer *w = pending->writer;
  g_autoptr(GVariant) reply = g_dbus_connection_call_finish(w->connection, result, NULL);

  w->in_flight--;
  if (reply != NULL)
    g_hash_table_insert(w->acknowledged, g_steal_pointer(&pending->key),
                        g_steal_pointer(&pending->value));
  g_free(pending->key);
  g_free(pending->value);
  g_free(pending);
  if (!w->stop)
    send_set(w);
  else if (w->in_flight == 0)
    (*w->running)--;
}

static void send_set(Writer *w)
{
  PendingSet *pending = g_new0(PendingSet, 1);

  pending->writer = w;
  pending->key = g_strdup_printf("writer%d/%06d", w->id, w->sent);
  pending->value = g_strdup_printf("value %d of writer %d", w->sent, w->id);
  w->sent++;
  w->in_flight++;
  g_dbus_connection_call(w->connection, KV_BUS_NAME, KV_OBJECT_PATH, KV_INTERFACE, "Set",
                         g_variant_new("(sv)", pending->key, g_variant_new_string(pending->value)),
                         NULL, G_DBUS_CALL_FLAGS_NO_AUTO_START, 10000, NULL, on_pending_set_reply,
                         pending);
}

typedef struct {
  GSubprocess *daemon;
  Writer *writers;
  int n_writers;
} Crash;

static gboolean kill_daemon(gpointer user_data)
{
  Crash *crash = user_data;

  g_subprocess_force_exit(crash->daemon);
  for (int i = 0; i < crash->n_writers; i++)
    crash->writers[i].stop = TRUE;
  return G_SOURCE_REMOVE;
}

static void test_crash_keeps_acknowledged_writes(KvTestBus *bus, gconstpointer data)
{
  enum { WRITERS = 4, WINDOW = 8 };
  g_autoptr(GSubprocessLauncher) launcher = g_subprocess_launcher_new(G_SUBPROCESS_FLAGS_NONE);
  g_autoptr(GSubprocess) daemon = spawn_daemon(bus, launcher);
  Writer writers[WRITERS];
  int running = WRITERS;

  for (int i = 0; i < WRITERS; i++) {
    writers[i] = (Writer){.id = i, .running = &running};
    writers[i].acknowledged = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    writers[i].connection = kv_test_bus_connect(kv_test_bus_address(bus));
    for (int j = 0; j < WINDOW; j++)
      send_set(&writers[i]);
  }

  /* SIGKILL in the middle of the stream; each writer stops once its calls have failed. */
  Crash crash = {daemon, writers, WRITERS};
  g_timeout_add(400, kill_daemon, &crash);
  while (running > 0)
    g_main_context_iteration(NULL, TRUE);
  g_subprocess_wait(daemon, NULL, NULL);
  g_assert_true(g_subprocess_get_if_signaled(daemon));

  /* A new kvstored, activated on the same state, has every acknowledged write. */
  g_autoptr(GVariant) entries = kv_test_bus_get_all_pages(bus, "");
  guint acknowledged = 0;
  for (int i = 0; i < WRITERS; i++) {
    GHashTableIter iter;
    gpointer key, value;
    g_hash_table_iter_init(&iter, writers[i].acknowledged);
    while (g_hash_table_iter_next(&iter, &key, &value)) {
      g_autoptr(GVariant) stored = g_variant_lookup_value(entries, key, G_VARIANT_TYPE_STRING);
      if (stored == NULL)
        g_error("acknowledged write %s was lost", (const char *)key);
      g_assert_cmpstr(g_variant_get_string(stored, NULL), ==, value);
      acknowledged++;
    }
    g_hash_table_unref(writers[i].acknowledged);
    g_dbus_connection_close_sync(writers[i].connection, NULL, NULL);
    g_object_unref(writers[i].connection);
  }
  g_test_message("%u writes acknowledged before SIGKILL, %zu stored", acknowledged,
                 g_variant_n_children(entries));
  g_assert_cmpuint(acknowledged, >, 0);
}

static void set_file_size_limit(GSubprocess *daemon, rlim_t limit)
{
  struct rlimit rl = {limit, RLIM_INFINITY};
  pid_t pid = (pid_t)g_ascii_strtoll(g_subprocess_get_identifier(daemon), NULL, 10);

  g_assert_cmpint(prlimit(pid, RLIMIT_FSIZE, &rl, NULL), ==, 0);
}

static void test_disk_error(KvTestBus *bus, gconstpointer data)
{
  g_autoptr(GSubprocessLauncher) launcher = g_subprocess_launcher_new(G_SUBPROCESS_FLAGS_NONE);
  g_autoptr(GSubprocess) daemon = spawn_daemon(bus, launcher);
  g_autofree char *big = g_strnfill(64 * 1024, 'x');
  g_autofree char *journal = g_build_filename(bus->state_dir, "journal", NULL);
  g_autoptr(GError) error = NULL;
  GStatBuf st;

  set_string(bus, "before", "the disk filled up");
  g_assert_cmpint(g_stat(journal, &st), ==, 0);

  /* The journal cannot grow by 64 KiB: writing fails with EFBIG, as on a full disk. */
  set_file_size_limit(daemon, (rlim_t)st.st_size + 1024);
  g_autoptr(GVariant) failed =
      kv_test_bus_call(bus, "Set", g_variant_new("(sv)", "big", g_variant_new_string(big)), &error);
  g_assert_null(failed);
  g_autofree char *name = g_dbus_error_get_remote_error(error);
  g_assert_cmpstr(name, ==, "org.example.KVStore.Error.StorageError");
  g_clear_error(&error);

  /* Nothing changed, reads go on, and so do writes once there is room again. */
  g_assert_false(exists(bus, "big"));
  g_autofree char *before = get_string(bus, "before");
  g_assert_cmpstr(before, ==, "the disk filled up");
  set_file_size_limit(daemon, RLIM_INFINITY);
  set_string(bus, "big", big);

  g_subprocess_send_signal(daemon, SIGTERM);
  g_subprocess_wait(daemon, NULL, NULL);
  g_assert_true(g_subprocess_get_if_exited(daemon));
  g_assert_cmpint(g_subprocess_get_exit_status(daemon), ==, 0);

  /* Reactivated: the failed write never happened, the later one did. */
  g_autofree char *after = get_string(bus, "big");
  g_assert_cmpstr(after, ==, big);
  g_autofree char *still = get_string(bus, "before");
  g_assert_cmpstr(still, ==, "the disk filled up");
}

/* kvstored on a disk whose fdatasync() takes @delay_ms longer and fails while @fail_file
 * exists (slow-sync.c, preloaded). */
static GSubprocess *spawn_on_slow_disk(KvTestBus *bus, guint delay_ms, const char *fail_file)
{
  g_autoptr(GSubprocessLauncher) launcher = g_subprocess_launcher_new(G_SUBPROCESS_FLAGS_NONE);
  g_autofree char *delay = g_strdup_printf("%u", delay_ms);
  const char *asan = g_getenv("ASAN_OPTIONS");
  /* The preloaded library comes before the sanitizer's runtime. */
  g_autofree char *asan_options = g_strdup_printf(
      "%s%sverify_asan_link_order=0", asan != NULL ? asan : "", asan != NULL ? ":" : "");

  g_subprocess_launcher_setenv(launcher, "LD_PRELOAD", kv_test_getenv("KV_TEST_SLOW_SYNC"), TRUE);
  g_subprocess_launcher_setenv(launcher, "ASAN_OPTIONS", asan_options, TRUE);
  g_subprocess_launcher_setenv(launcher, "KV_TEST_SYNC_DELAY_MS", delay, TRUE);
  g_subprocess_launcher_setenv(launcher, "KV_TEST_SYNC_FAIL_FILE", fail_file, TRUE);
  return spawn_daemon(bus, launcher);
}

static void set_async(KvTestBus *bus, const char *key, KvTestAnswer *answer)
{
  kv_test_call_async(bus->connection, "Set", g_variant_new("(sv)", key, g_variant_new_string(key)),
                     answer);
}

/* While the disk syncs a write (800 ms here), reads are answered, and the write only
 * after its sync. */
static void test_reads_while_syncing(KvTestBus *bus, gconstpointer data)
{
  g_autofree char *no_failure = g_build_filename(bus->status_dir, "no-such-file", NULL);
  g_autoptr(GSubprocess) daemon = spawn_on_slow_disk(bus, 800, no_failure);
  KvTestAnswer set = {0};

  set_string(bus, "read", "while the disk syncs");
  set_async(bus, "written", &set);
  /* The write's sync has started by now. */
  g_usleep(100 * 1000);
  gint64 start = g_get_monotonic_time();
  g_autofree char *read = get_string(bus, "read");
  g_assert_cmpstr(read, ==, "while the disk syncs");
  g_assert_cmpint(g_get_monotonic_time() - start, <, 500 * 1000);
  /* Answered before the write, which still waits for its sync. */
  g_main_context_iteration(NULL, FALSE);
  g_assert_false(set.done);
  kv_test_answer_wait(&set);
  g_assert_no_error(set.error);
  kv_test_answer_clear(&set);

  g_subprocess_send_signal(daemon, SIGTERM);
  g_assert_true(g_subprocess_wait_check(daemon, NULL, NULL));
}

/* A sync that fails undoes its write and every write made while it ran: all of them get
 * StorageError, none is there afterwards, and later writes work. */
static void test_failed_sync_fails_later_writes(KvTestBus *bus, gconstpointer data)
{
  g_autofree char *fail = g_build_filename(bus->status_dir, "fail-syncs", NULL);
  g_autoptr(GSubprocess) daemon = spawn_on_slow_disk(bus, 300, fail);
  KvTestAnswer first = {0}, during = {0};

  set_string(bus, "kept", "from before");
  g_assert_true(g_file_set_contents(fail, "", 0, NULL));
  set_async(bus, "first", &first);
  g_usleep(100 * 1000);
  set_async(bus, "during", &during);
  kv_test_answer_wait(&first);
  kv_test_answer_wait(&during);
  for (KvTestAnswer *answer = &first; answer != NULL; answer = answer == &first ? &during : NULL) {
    g_assert_nonnull(answer->error);
    g_autofree char *name = g_dbus_error_get_remote_error(answer->error);
    g_assert_cmpstr(name, ==, "org.example.KVStore.Error.StorageError");
    kv_test_answer_clear(answer);
  }
  g_assert_false(exists(bus, "first"));
  g_assert_false(exists(bus, "during"));

  g_assert_cmpint(g_unlink(fail), ==, 0);
  set_string(bus, "after", "the disk recovered");
  g_subprocess_send_signal(daemon, SIGTERM);
  g_assert_true(g_subprocess_wait_check(daemon, NULL, NULL));
  g_assert_false(exists(bus, "first"));
  g_assert_false(exists(bus, "during"));
  g_autofree char *kept = get_string(bus, "kept");
  g_assert_cmpstr(kept, ==, "from before");
  g_autofree char *after = get_string(bus, "after");
  g_assert_cmpstr(after, ==, "the disk recovered");
}

/* A journal damaged before its tail stops kvstored from starting, with the file and
 * the offset in its message, and leaves the file as it was. */
static void test_refuses_damaged_journal(KvTestBus *bus, gconstpointer data)
{
  g_autofree char *journal = g_build_filename(bus->state_dir, "journal", NULL);
  g_autofree char *bytes = NULL;
  g_autofree char *after = NULL;
  g_autofree char *err = NULL;
  g_autoptr(GError) error = NULL;
  gsize size, after_size;

  set_string(bus, "first", "record");
  set_string(bus, "second", "record");
  kv_test_bus_stop_daemon(bus);
  g_assert_true(g_file_get_contents(journal, &bytes, &size, NULL));
  bytes[16 + 12 + 4] ^= 0x20; /* in the first record's payload */
  g_assert_true(g_file_set_contents(journal, bytes, (gssize)size, NULL));

  g_autoptr(GSubprocess) daemon =
      g_subprocess_new(G_SUBPROCESS_FLAGS_STDERR_PIPE, &error, kv_test_getenv("KV_TEST_KVSTORED"),
                       "--session", "--state-dir", bus->state_dir, NULL);
  g_assert_no_error(error);
  g_subprocess_communicate_utf8(daemon, NULL, NULL, NULL, &err, &error);
  g_assert_no_error(error);
  g_assert_cmpint(g_subprocess_get_exit_status(daemon), ==, 1);
  if (strstr(err, journal) == NULL || strstr(err, "damaged at offset 16") == NULL)
    g_error("'%s' does not name the file and the offset", err);

  g_assert_true(g_file_get_contents(journal, &after, &after_size, NULL));
  g_assert_cmpmem(after, after_size, bytes, size);
}

/* A second bus of the test's own, for a second kvstored on the same state directory. */
typedef struct {
  GSubprocess *daemon;
  char *address;
  GDBusConnection *connection;
} OtherBus;

static void other_bus_start(OtherBus *other)
{
  g_autoptr(GError) error = NULL;

  other->daemon = g_subprocess_new(G_SUBPROCESS_FLAGS_STDOUT_PIPE, &error, "dbus-daemon",
                                   "--session", "--nofork", "--print-address=1", NULL);
  g_assert_no_error(error);
  g_autoptr(GDataInputStream) out =
      g_data_input_stream_new(g_subprocess_get_stdout_pipe(other->daemon));
  other->address = g_data_input_stream_read_line(out, NULL, NULL, &error);
  g_assert_no_error(error);
  other->connection = kv_test_bus_connect(other->address);
}

static void other_bus_stop(OtherBus *other)
{
  g_dbus_connection_close_sync(other->connection, NULL, NULL);
  g_clear_object(&other->connection);
  g_subprocess_force_exit(other->daemon);
  g_subprocess_wait(other->daemon, NULL, NULL);
  g_clear_object(&other->daemon);
  g_clear_pointer(&other->address, g_free);
}

/* Starts kvstored on @other with @state_dir; its stderr is piped. */
static GSubprocess *spawn_on_other_bus(OtherBus *other, const char *state_dir)
{
  g_autoptr(GSubprocessLauncher) launcher =
      g_subprocess_launcher_new(G_SUBPROCESS_FLAGS_STDERR_PIPE);
  g_autoptr(GError) error = NULL;

  g_subprocess_launcher_setenv(launcher, "DBUS_SESSION_BUS_ADDRESS", other->address, TRUE);
  GSubprocess *process =
      g_subprocess_launcher_spawn(launcher, &error, kv_test_getenv("KV_TEST_KVSTORED"), "--session",
                                  "--state-dir", state_dir, NULL);
  g_assert_no_error(error);
  return process;
}

static void stop_cleanly(GSubprocess *daemon)
{
  g_subprocess_send_signal(daemon, SIGTERM);
  g_subprocess_wait(daemon, NULL, NULL);
  g_assert_true(g_subprocess_get_if_exited(daemon));
  g_assert_cmpint(g_subprocess_get_exit_status(daemon), ==, 0);
}

/* A kvstored activated while another still uses the state directory (one that is
 * finishing after its idle exit, say) waits for it, then loads all it wrote. */
static void test_second_instance_waits_for_the_lock(KvTestBus *bus, gconstpointer data)
{
  g_autoptr(GSubprocessLauncher) launcher = g_subprocess_launcher_new(G_SUBPROCESS_FLAGS_NONE);
  g_autoptr(GSubprocess) first = spawn_daemon(bus, launcher);
  OtherBus other = {NULL, NULL, NULL};
  g_autoptr(GError) error = NULL;

  set_string(bus, "written", "by the first");
  other_bus_start(&other);
  g_autoptr(GSubprocess) second = spawn_on_other_bus(&other, bus->state_dir);
  g_usleep(300 * 1000);
  /* Written while the second waits: it can only have it by loading after the first left. */
  set_string(bus, "later", "while the second waited");

  stop_cleanly(first);
  g_autoptr(GVariant) reply = g_dbus_connection_call_sync(
      other.connection, KV_BUS_NAME, KV_OBJECT_PATH, KV_INTERFACE, "GetMany",
      g_variant_new("(^as)", (const char *[]){"written", "later", NULL}), G_VARIANT_TYPE("(a{sv})"),
      G_DBUS_CALL_FLAGS_NO_AUTO_START, 20000, NULL, &error);
  g_assert_no_error(error);
  g_autoptr(GVariant) found = g_variant_get_child_value(reply, 0);
  g_assert_cmpuint(g_variant_n_children(found), ==, 2);

  stop_cleanly(second);
  other_bus_stop(&other);
}

/* ...and gives up with a clear message if the other never lets go. */
static void test_second_instance_gives_up(KvTestBus *bus, gconstpointer data)
{
  /* The same 20 s again under the sanitizers would check nothing more: the unit test
   * state-dir/lock-wait-names-holder gives up after 1 s there, through the same code. */
  if (KV_SANITIZED) {
    g_test_skip("20 s of waiting, shown in the plain build");
    return;
  }
  g_autoptr(GSubprocessLauncher) launcher = g_subprocess_launcher_new(G_SUBPROCESS_FLAGS_NONE);
  g_autoptr(GSubprocess) first = spawn_daemon(bus, launcher);
  OtherBus other = {NULL, NULL, NULL};
  g_autoptr(GError) error = NULL;
  g_autofree char *err = NULL;

  other_bus_start(&other);
  g_autoptr(GSubprocess) second = spawn_on_other_bus(&other, bus->state_dir);
  g_subprocess_communicate_utf8(second, NULL, NULL, NULL, &err, &error);
  g_assert_no_error(error);
  g_assert_cmpint(g_subprocess_get_exit_status(second), ==, 1);
  g_autofree char *by =
      g_strdup_printf("is in use by another kvstored (pid %s)", g_subprocess_get_identifier(first));
  g_assert_nonnull(strstr(err, by));

  stop_cleanly(first);
  other_bus_stop(&other);
}

/* The wait is logged at once, naming the holder, and SIGTERM ends it: exit 0, at once. */
static void test_second_instance_logs_and_stops(KvTestBus *bus, gconstpointer data)
{
  g_autoptr(GSubprocessLauncher) launcher = g_subprocess_launcher_new(G_SUBPROCESS_FLAGS_NONE);
  g_autoptr(GSubprocess) first = spawn_daemon(bus, launcher);
  OtherBus other = {NULL, NULL, NULL};
  g_autoptr(GError) error = NULL;

  set_string(bus, "written", "by the first");
  other_bus_start(&other);
  g_autoptr(GSubprocess) second = spawn_on_other_bus(&other, bus->state_dir);
  g_autoptr(GDataInputStream) err = g_data_input_stream_new(g_subprocess_get_stderr_pipe(second));
  g_autofree char *expected = g_strdup_printf("Waiting up to 20 s for process %s to release",
                                              g_subprocess_get_identifier(first));
  for (;;) {
    g_autofree char *line = g_data_input_stream_read_line(err, NULL, NULL, &error);
    g_assert_no_error(error);
    g_assert_nonnull(line);
    if (strstr(line, expected) != NULL)
      break;
  }
  gint64 start = g_get_monotonic_time();
  g_subprocess_send_signal(second, SIGTERM);
  g_subprocess_wait(second, NULL, NULL);
  g_assert_cmpint(g_get_monotonic_time() - start, <, 5 * G_USEC_PER_SEC);
  g_assert_true(g_subprocess_get_if_exited(second));
  g_assert_cmpint(g_subprocess_get_exit_status(second), ==, 0);

  stop_cleanly(first);
  other_bus_stop(&other);
}

int main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
#define ADD(path, args, func)                                                                      \
  g_test_add("/durability/" path, KvTestBus, args, kv_test_bus_setup, func, kv_test_bus_teardown)
  ADD("survives-restart", NULL, test_survives_restart);
  ADD("idle-exit-and-reactivation", "--idle-timeout 0.5", test_idle_exit_and_reactivation);
  ADD("no-call-lost-around-idle-exit", "--idle-timeout 0.2", test_no_call_lost_around_idle_exit);
  ADD("crash-keeps-acknowledged-writes", NULL, test_crash_keeps_acknowledged_writes);
  ADD("disk-error", NULL, test_disk_error);
  ADD("reads-while-syncing", NULL, test_reads_while_syncing);
  ADD("failed-sync-fails-later-writes", NULL, test_failed_sync_fails_later_writes);
  ADD("refuses-damaged-journal", NULL, test_refuses_damaged_journal);
  ADD("second-instance-waits-for-the-lock", NULL, test_second_instance_waits_for_the_lock);
  ADD("second-instance-logs-and-stops", NULL, test_second_instance_logs_and_stops);
  /* About 20 s: how long kvstored waits for the lock before it gives up. */
  ADD("second-instance-gives-up", NULL, test_second_instance_gives_up);
#undef ADD
  return g_test_run();
}
