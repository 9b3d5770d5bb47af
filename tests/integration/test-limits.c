/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* kvstored against a hostile caller: replies larger than the bus carries, values nested
 * past its limit or holding file descriptors, oversized values and key lists. The private
 * bus has dbus-daemon's default message limit, 32 MiB, as the system bus: a reply over it
 * would make dbus-daemon drop kvstored, which every test's clean-exit check would see. */

#include "kv-config.h"
#include "kv-test-assert.h"
#include "kv-sd-bus-cleanup.h"
#include "kv-test-bus.h"

#include <gio/gunixfdlist.h>
#include <fcntl.h>
#include <poll.h>
#include <systemd/sd-bus.h>
#include <string.h>
#include <unistd.h>

#define ERROR_PREFIX "org.example.KVStore.Error."
#define BIG_BYTES    1000000 /* under the default 1 MiB limit */

static guint64 store_revision(KvTestBus *bus)
{
  g_autoptr(GVariant) value = kv_test_get_property(bus->connection, "Revision");

  return g_variant_get_uint64(value);
}

/* Asserts that kvstored still answers, from a second connection of its own. */
static void assert_alive(KvTestBus *bus)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GDBusConnection) other = kv_test_bus_connect(kv_test_bus_address(bus));
  g_autoptr(GVariant) reply =
      g_dbus_connection_call_sync(other, KV_BUS_NAME, KV_OBJECT_PATH, "org.freedesktop.DBus.Peer",
                                  "Ping", NULL, NULL, G_DBUS_CALL_FLAGS_NONE, 10000, NULL, &error);
  g_assert_no_error(error);
}

/* Asserts that @method fails with @error_name (its message containing @message_part) and
 * leaves the store's revision as it was. */
static void assert_refused(KvTestBus *bus, const char *method, GVariant *parameters,
                           const char *error_name, const char *message_part)
{
  guint64 before = store_revision(bus);
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = kv_test_bus_call(bus, method, parameters, &error);

  g_assert_null(reply);
  g_assert_nonnull(error);
  g_autofree char *remote = g_dbus_error_get_remote_error(error);
  if (remote == NULL)
    g_error("not a D-Bus error: %s", error->message);
  g_assert_cmpstr(remote, ==, error_name);
  if (message_part != NULL && strstr(error->message, message_part) == NULL)
    g_error("'%s' does not contain '%s'", error->message, message_part);
  g_assert_cmpuint(store_revision(bus), ==, before);
  assert_alive(bus);
}

static GVariant *big_value(guint8 fill)
{
  g_autofree guint8 *bytes = g_malloc(BIG_BYTES);

  memset(bytes, fill, BIG_BYTES);
  return g_variant_new_fixed_array(G_VARIANT_TYPE_BYTE, bytes, BIG_BYTES, 1);
}

static void set_value(KvTestBus *bus, const char *key, GVariant *value)
{
  g_autoptr(GVariant) reply = kv_test_bus_call_ok(bus, "Set", g_variant_new("(sv)", key, value));
}

/* 200 bytes of request that used to make a 40 MB reply. */
static void test_get_many_repeated_key(KvTestBus *bus, gconstpointer data)
{
  const char *keys[41];

  set_value(bus, "big", big_value(1));
  for (gsize i = 0; i < 40; i++)
    keys[i] = "big";
  keys[40] = NULL;
  g_autoptr(GVariant) reply =
      kv_test_bus_call_ok(bus, "GetMany", g_variant_new("(^as)", (char **)keys));
  g_autoptr(GVariant) found = g_variant_get_child_value(reply, 0);
  g_assert_cmpuint(g_variant_n_children(found), ==, 1);
  assert_alive(bus);
}

/* A store of 40 MB: more than one reply carries, but it pages. */
static void test_replies_over_the_bus_limit(KvTestBus *bus, gconstpointer data)
{
  g_autoptr(GPtrArray) keys = g_ptr_array_new_with_free_func(g_free);

  for (guint i = 0; i < 40; i++) {
    g_ptr_array_add(keys, g_strdup_printf("big/%02u", i));
    set_value(bus, g_ptr_array_index(keys, i), big_value((guint8)i));
  }
  g_ptr_array_add(keys, NULL);

  assert_refused(bus, "GetAll", g_variant_new("(s)", ""), ERROR_PREFIX "TooLarge", "GetAllPage");
  assert_refused(bus, "GetMany", g_variant_new("(^as)", (char **)keys->pdata),
                 ERROR_PREFIX "TooLarge", "fewer keys");
  g_autoptr(GVariant) all_keys = kv_test_bus_call_ok(bus, "Keys", g_variant_new("(s)", "big/"));
  g_autoptr(GVariant) key_list = g_variant_get_child_value(all_keys, 0);
  g_assert_cmpuint(g_variant_n_children(key_list), ==, 40);

  /* Pages: every key once, in order, each value intact, the last page's next "". */
  g_autofree char *after = g_strdup("");
  guint seen = 0, pages = 0;
  do {
    g_autoptr(GVariant) reply =
        kv_test_bus_call_ok(bus, "GetAllPage", g_variant_new("(ssu)", "big/", after, 0));
    g_autoptr(GVariant) entries = NULL;
    const char *key;
    GVariant *value;
    GVariantIter iter;
    g_variant_get(reply, "(@a{sv}s)", &entries, NULL);
    g_free(after);
    g_variant_get_child(reply, 1, "s", &after);
    g_variant_iter_init(&iter, entries);
    while (g_variant_iter_next(&iter, "{&sv}", &key, &value)) {
      g_autofree char *expected = g_strdup_printf("big/%02u", seen);
      g_assert_cmpstr(key, ==, expected);
      g_assert_cmpuint(g_variant_get_size(value), ==, BIG_BYTES);
      g_assert_cmpuint(((const guint8 *)g_variant_get_data(value))[BIG_BYTES - 1], ==, seen);
      g_variant_unref(value);
      seen++;
    }
    pages++;
  } while (*after != '\0');
  g_assert_cmpuint(seen, ==, 40);
  g_assert_cmpuint(pages, >=, 2);

  /* A limit smaller than a reply's room. */
  g_autoptr(GVariant) small =
      kv_test_bus_call_ok(bus, "KeysPage", g_variant_new("(ssu)", "big/", "big/10", 3));
  kv_assert_variant_eq(small, g_variant_new_parsed("(['big/11', 'big/12', 'big/13'], 'big/13')"));
  assert_alive(bus);
}

/* @depth variants around a number. */
static GVariant *nested(guint depth)
{
  GVariant *value = g_variant_new_int32(7);

  for (guint i = 0; i < depth; i++)
    value = g_variant_new_variant(value);
  return value;
}

static void on_changed(GDBusConnection *connection, const char *sender, const char *path,
                       const char *interface, const char *member, GVariant *parameters,
                       gpointer user_data)
{
  *(GVariant **)user_data = g_variant_ref(parameters);
}

static void test_depth(KvTestBus *bus, gconstpointer data)
{
  g_autoptr(GVariant) deepest = g_variant_ref_sink(nested(61));
  GVariant *signal = NULL;
  guint subscription =
      g_dbus_connection_signal_subscribe(bus->connection, NULL, KV_INTERFACE, "Changed",
                                         KV_OBJECT_PATH, "deep", 0, on_changed, &signal, NULL);
  g_autoptr(GVariant) subscribed =
      kv_test_bus_call_ok(bus, "Subscribe", g_variant_new("(s)", "deep"));

  /* The deepest value the bus can carry in every reply: stored and read every way. */
  set_value(bus, "deep", deepest);
  while (signal == NULL)
    g_main_context_iteration(NULL, TRUE);
  g_autoptr(GVariant) changed = signal;
  g_autoptr(GVariant) signalled = g_variant_get_child_value(changed, 1);
  g_autoptr(GVariant) signalled_value = g_variant_get_variant(signalled);
  kv_assert_variant_eq(signalled_value, deepest);
  g_dbus_connection_signal_unsubscribe(bus->connection, subscription);

  g_autoptr(GVariant) got = kv_test_bus_call_ok(bus, "Get", g_variant_new("(s)", "deep"));
  g_autoptr(GVariant) got_value = g_variant_get_child_value(got, 0);
  g_autoptr(GVariant) got_inner = g_variant_get_variant(got_value);
  kv_assert_variant_eq(got_inner, deepest);
  const char *deep_key[] = {"deep", NULL};
  g_autoptr(GVariant) all = kv_test_bus_call_ok(bus, "GetAll", g_variant_new("(s)", ""));
  g_autoptr(GVariant) many =
      kv_test_bus_call_ok(bus, "GetMany", g_variant_new("(^as)", (char **)deep_key));
  kv_assert_variant_eq(all, many);
  g_autoptr(GVariant) page =
      kv_test_bus_call_ok(bus, "GetAllPage", g_variant_new("(ssu)", "", "", 0));
  g_autoptr(GVariant) page_entries = g_variant_get_child_value(page, 0);
  g_autoptr(GVariant) all_entries = g_variant_get_child_value(all, 0);
  kv_assert_variant_eq(page_entries, all_entries);

  /* One more level, however it comes. (SetMany cannot carry it: inside its a{sv} the bus
   * itself refuses the message.) */
  assert_refused(bus, "Set", g_variant_new("(sv)", "deeper", nested(62)),
                 ERROR_PREFIX "InvalidValueType", "62 containers deep");
  assert_refused(bus, "CompareAndSet", g_variant_new("(stv)", "deeper", (guint64)0, nested(62)),
                 ERROR_PREFIX "InvalidValueType", NULL);
  /* Deep inside a container rather than a chain of variants. */
  assert_refused(
      bus, "Set",
      g_variant_new("(sv)", "deeper",
                    g_variant_new_array(G_VARIANT_TYPE_VARIANT, (GVariant *[]){nested(61)}, 1)),
      ERROR_PREFIX "InvalidValueType", NULL);
}

/* @depth structs around a number: a few bytes of value, a long signature. */
static GVariant *nested_structs(guint depth)
{
  GVariant *value = g_variant_new_int32(1);

  for (guint i = 0; i < depth; i++)
    value = g_variant_new_tuple(&value, 1);
  return value;
}

/* Calls @method and returns how long its answer took, in seconds. */
static double timed_call(KvTestBus *bus, const char *method, GVariant *parameters)
{
  gint64 start = g_get_monotonic_time();
  g_autoptr(GVariant) reply = kv_test_bus_call_ok(bus, method, parameters);

  return (g_get_monotonic_time() - start) / 1e6;
}

/* A tiny value nested deep costs no more than its size: storing and reading it back (each
 * of which checks its depth) takes milliseconds, so that a Ping behind it waits no
 * longer. The depth walk once took 8-10 s for 28 structs, x4 every two levels. */
static void test_deep_values_cost_their_size(KvTestBus *bus, gconstpointer data)
{
  GVariantBuilder batch;

  g_variant_builder_init(&batch, G_VARIANT_TYPE("a{sv}"));
  for (int i = 0; i < 10; i++) {
    g_autofree char *key = g_strdup_printf("deep/%d", i);
    g_variant_builder_add(&batch, "{sv}", key, nested_structs(24));
  }
  double took[] = {
      timed_call(bus, "Set", g_variant_new("(sv)", "deep/x", nested_structs(28))),
      timed_call(bus, "SetMany", g_variant_new("(a{sv})", &batch)),
      timed_call(bus, "Get", g_variant_new("(s)", "deep/x")),
      timed_call(bus, "GetAll", g_variant_new("(s)", "deep/")),
  };
  for (gsize i = 0; i < G_N_ELEMENTS(took); i++) {
    g_test_message("call %zu: %.1f ms", i, took[i] * 1e3);
    g_assert_cmpfloat(took[i], <, 0.3);
  }
  assert_alive(bus);
}

/* A struct of @n bytes: a type signature of @n + 2 characters. */
static GVariant *byte_struct(guint n)
{
  g_autofree GVariant **children = g_new(GVariant *, n);

  for (guint i = 0; i < n; i++)
    children[i] = g_variant_new_byte((guint8)i);
  return g_variant_new_tuple(children, n);
}

/* A value whose signature is 254 characters is stored and read back; one of 255, which
 * the bus carries but sd-bus cannot read, is refused by name (InvalidValueType), alone or
 * in a batch, and changes nothing. It was refused as an InconsistentMessage. */
static void test_longest_signature(KvTestBus *bus, gconstpointer data)
{
  g_autoptr(GVariant) longest = g_variant_ref_sink(byte_struct(252));
  set_value(bus, "longest", longest);
  g_autoptr(GVariant) got = kv_test_bus_call_ok(bus, "Get", g_variant_new("(s)", "longest"));
  g_autoptr(GVariant) boxed = g_variant_get_child_value(got, 0);
  g_autoptr(GVariant) back = g_variant_get_variant(boxed);
  kv_assert_variant_eq(back, longest);

  assert_refused(bus, "Set", g_variant_new("(sv)", "longer", byte_struct(253)),
                 ERROR_PREFIX "InvalidValueType", "'longer' has a type signature longer than 254");
  GVariantBuilder batch;
  g_variant_builder_init(&batch, G_VARIANT_TYPE("a{sv}"));
  g_variant_builder_add(&batch, "{sv}", "fine", g_variant_new_int32(1));
  g_variant_builder_add(&batch, "{sv}", "longer", byte_struct(253));
  assert_refused(bus, "SetMany", g_variant_new("(a{sv})", &batch), ERROR_PREFIX "InvalidValueType",
                 "A value in the batch");
}

/* Calls Set with @value, which holds handle 0, and /dev/null as fd 0 of the message. */
static void assert_fd_refused(KvTestBus *bus, const char *value_text)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GUnixFDList) fds = g_unix_fd_list_new();
  int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);

  g_assert_cmpint(g_unix_fd_list_append(fds, fd, &error), ==, 0);
  close(fd);
  g_autoptr(GVariant) value = g_variant_parse(NULL, value_text, NULL, NULL, &error);
  g_assert_no_error(error);
  guint64 before = store_revision(bus);
  g_autoptr(GVariant) reply = g_dbus_connection_call_with_unix_fd_list_sync(
      bus->connection, KV_BUS_NAME, KV_OBJECT_PATH, KV_INTERFACE, "Set",
      g_variant_new("(sv)", "fd", value), NULL, G_DBUS_CALL_FLAGS_NONE, 10000, fds, NULL, NULL,
      &error);
  g_assert_null(reply);
  g_autofree char *remote = g_dbus_error_get_remote_error(error);
  g_assert_cmpstr(remote, ==, ERROR_PREFIX "InvalidValueType");
  g_assert_nonnull(strstr(error->message, "file descriptor"));
  g_assert_cmpuint(store_revision(bus), ==, before);
}

static void test_nested_fds(KvTestBus *bus, gconstpointer data)
{
  assert_fd_refused(bus, "handle 0");
  assert_fd_refused(bus, "<<handle 0>>");
  assert_fd_refused(bus, "{'a': <handle 0>}");
  assert_fd_refused(bus, "[<1>, <handle 0>]");
  assert_fd_refused(bus, "(1, [<(2, <handle 0>)>])");
  assert_alive(bus);
}

static guint64 peak_rss_kib(pid_t pid)
{
  g_autofree char *path = g_strdup_printf("/proc/%d/status", (int)pid);
  g_autofree char *status = NULL;

  g_assert_true(g_file_get_contents(path, &status, NULL, NULL));
  const char *line = strstr(status, "VmHWM:");
  g_assert_nonnull(line);
  return g_ascii_strtoull(line + strlen("VmHWM:"), NULL, 10);
}

/* Values of ~28 MB, near the bus's limit: refused before they are converted, so that
 * kvstored's memory grows by about the message, not many times it. */
static void test_big_values_refused_early(KvTestBus *bus, gconstpointer data)
{
  enum { BOOLEANS = 7 * 1000 * 1000, BYTES = 28 * 1000 * 1000 };
  g_autofree gboolean *booleans = g_new0(gboolean, BOOLEANS);
  g_autofree guint8 *bytes = g_malloc0(BYTES);

  assert_alive(bus);
  pid_t pid = kv_test_bus_daemon_pid(bus);
  guint64 before = peak_rss_kib(pid);
  assert_refused(bus, "Set",
                 g_variant_new("(sv)", "bools",
                               g_variant_new_fixed_array(G_VARIANT_TYPE_BOOLEAN, booleans, BOOLEANS,
                                                         sizeof(guint8))),
                 ERROR_PREFIX "TooLarge", "bools");
  assert_refused(bus, "Set",
                 g_variant_new("(sv)", "bytes",
                               g_variant_new_fixed_array(G_VARIANT_TYPE_BYTE, bytes, BYTES, 1)),
                 ERROR_PREFIX "TooLarge", "bytes");
  /* Many small elements: one GVariant each if they were all converted. */
  GVariantBuilder strings;
  g_variant_builder_init(&strings, G_VARIANT_TYPE("as"));
  for (guint i = 0; i < 2 * 1000 * 1000; i++)
    g_variant_builder_add(&strings, "s", "");
  assert_refused(bus, "Set", g_variant_new("(sv)", "strings", g_variant_builder_end(&strings)),
                 ERROR_PREFIX "TooLarge", "strings");
  guint64 growth = peak_rss_kib(pid) - before;
  g_test_message("kvstored's peak RSS grew by %" G_GUINT64_FORMAT " KiB", growth);
  /* Converting whole, the 7M booleans alone took 2.6 GB. */
  g_assert_cmpuint(growth, <, 300 * 1024);
}

/* The daemon inherits the environment of the bus: under AddressSanitizer, whose
 * quarantine keeps up to 256 MB of freed memory, a small one lets RSS show what kvstored
 * itself holds. Other builds ignore the variable. */
static void setup_small_quarantine(KvTestBus *bus, gconstpointer args)
{
  const char *options = g_getenv("ASAN_OPTIONS");
  g_autofree char *with_quarantine = g_strconcat(
      options != NULL ? options : "", options != NULL ? ":" : "", "quarantine_size_mb=4", NULL);

  g_setenv("ASAN_OPTIONS", with_quarantine, TRUE);
  kv_test_bus_setup(bus, args);
}

static char **many_keys(guint n)
{
  char **keys = g_new(char *, n + 1);

  for (guint i = 0; i < n; i++)
    keys[i] = g_strdup_printf("k%07u", i);
  keys[n] = NULL;
  return keys;
}

static void test_many_keys(KvTestBus *bus, gconstpointer data)
{
  g_auto(GStrv) million = many_keys(1000000);
  g_auto(GStrv) allowed = many_keys(5000);

  gint64 start = g_get_monotonic_time();
  assert_refused(bus, "GetMany", g_variant_new("(^as)", million), ERROR_PREFIX "TooLarge",
                 "at most 5000");
  g_test_message("GetMany of 1M keys refused in %.1f ms (with the checks around it)",
                 (g_get_monotonic_time() - start) / 1000.0);
  assert_refused(bus, "DeleteMany", g_variant_new("(^as)", million), ERROR_PREFIX "TooLarge",
                 "at most 5000");
  GVariantBuilder batch;
  g_variant_builder_init(&batch, G_VARIANT_TYPE("a{sv}"));
  for (guint i = 0; i <= 5000; i++)
    g_variant_builder_add(&batch, "{sv}", million[i], g_variant_new_boolean(TRUE));
  assert_refused(bus, "SetMany", g_variant_new("(a{sv})", &batch), ERROR_PREFIX "TooLarge",
                 "at most 5000");

  /* At the limit it works. */
  set_value(bus, "k0004999", g_variant_new_int32(5));
  start = g_get_monotonic_time();
  g_autoptr(GVariant) reply = kv_test_bus_call_ok(bus, "GetMany", g_variant_new("(^as)", allowed));
  g_test_message("GetMany of 5,000 keys answered in %.1f ms",
                 (g_get_monotonic_time() - start) / 1000.0);
  kv_assert_variant_eq(reply, g_variant_new_parsed("({'k0004999': <5>},)"));
  assert_alive(bus);
}

/* kvctl @command [@argument]: its standard output, and its exit status in @status. */
/* kvctl with up to three arguments (NULL: fewer). */
static char *run_kvctl(const char *command, const char *argument, const char *more,
                       const char *last, int *status)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *out = NULL;
  g_autoptr(GSubprocess) process =
      g_subprocess_new(G_SUBPROCESS_FLAGS_STDOUT_PIPE, &error, kv_test_getenv("KV_TEST_KVCTL"),
                       command, argument, more, last, NULL);

  g_assert_no_error(error);
  g_subprocess_communicate_utf8(process, NULL, NULL, &out, NULL, &error);
  g_assert_no_error(error);
  *status = g_subprocess_get_exit_status(process);
  return g_steal_pointer(&out);
}

/* More keys than one reply holds: Keys refuses, kvctl pages, and loads them back. */
static void test_kvctl_pages(KvTestBus *bus, gconstpointer data)
{
  enum { HALF = 12500 }; /* 25,000 keys: 5 pages */
  g_auto(GStrv) keys = many_keys(2 * HALF);
  /* Batches of 2,500 (5,000 to load back); etcd takes at most 128 keys a transaction. */
  guint batch_keys = kv_test_on_etcd() ? 100 : 2500;
  guint load_keys = kv_test_on_etcd() ? 100 : 5000;
  int status;

  /* In small batches: under MALLOC_PERTURB_, as the suite runs, libsystemd's allocations
   * for one batch's signals take time quadratic in their number. */
  for (guint first = 0; first < 2 * HALF; first += batch_keys) {
    GVariantBuilder batch;
    g_variant_builder_init(&batch, G_VARIANT_TYPE("a{sv}"));
    for (guint i = first; i < first + batch_keys; i++)
      g_variant_builder_add(&batch, "{sv}", keys[i], g_variant_new_uint32(i));
    g_autoptr(GVariant) reply =
        kv_test_bus_call_ok(bus, "SetMany", g_variant_new("(a{sv})", &batch));
  }
  assert_refused(bus, "Keys", g_variant_new("(s)", ""), ERROR_PREFIX "TooLarge", "KeysPage");

  g_autofree char *listed = run_kvctl("keys", NULL, NULL, NULL, &status);
  g_assert_cmpint(status, ==, 0);
  g_autofree char *expected = g_strjoinv("\n", keys);
  g_assert_true(g_str_has_suffix(listed, "\n"));
  listed[strlen(listed) - 1] = '\0';
  g_assert_true(g_str_equal(listed, expected));

  g_autofree char *dumped = run_kvctl("dump", NULL, NULL, NULL, &status);
  g_assert_cmpint(status, ==, 0);
  g_auto(GStrv) lines = g_strsplit(dumped, "\n", -1);
  /* One a{sv} document: "{", an entry a line, "}". */
  g_assert_cmpuint(g_strv_length(lines), ==, 2 * HALF + 3);
  g_assert_cmpstr(lines[0], ==, "{");
  g_assert_cmpstr(lines[2 * HALF], ==, "  'k0024999': <uint32 24999>");
  g_assert_cmpstr(lines[2 * HALF + 1], ==, "}");

  /* Loaded back: more keys than one SetMany takes, so in batches when asked; the last
   * revision. */
  g_autofree char *dump_path = g_build_filename(bus->status_dir, "dump", NULL);
  g_assert_true(g_file_set_contents(dump_path, dumped, -1, NULL));
  guint64 before = store_revision(bus);
  g_autofree char *batch_size = g_strdup_printf("%u", load_keys);
  g_autofree char *loaded = run_kvctl("load", "--batch-size", batch_size, dump_path, &status);
  g_assert_cmpint(status, ==, 0);
  g_autofree char *expected_revision =
      g_strdup_printf("%" G_GUINT64_FORMAT "\n", before + 2 * HALF / load_keys);
  g_assert_cmpstr(loaded, ==, expected_revision);
}

static guint64 rss_kib(pid_t pid)
{
  g_autofree char *path = g_strdup_printf("/proc/%d/status", (int)pid);
  g_autofree char *status = NULL;

  g_assert_true(g_file_get_contents(path, &status, NULL, NULL));
  return g_ascii_strtoull(strstr(status, "VmRSS:") + strlen("VmRSS:"), NULL, 10);
}

/* An sd-bus connection of the attacker's own to the test bus. */
static sd_bus *attacker_connect(KvTestBus *bus)
{
  sd_bus *attacker = NULL;

  g_assert_cmpint(sd_bus_new(&attacker), >=, 0);
  g_assert_cmpint(sd_bus_set_address(attacker, kv_test_bus_address(bus)), >=, 0);
  g_assert_cmpint(sd_bus_set_bus_client(attacker, 1), >=, 0);
  g_assert_cmpint(sd_bus_start(attacker), >=, 0);
  return attacker;
}

typedef struct {
  guint values;
  guint refused;
  guint other;
} Outcomes;

static int count_outcome(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error)
{
  Outcomes *outcomes = userdata;
  const sd_bus_error *error = sd_bus_message_get_error(reply);

  if (error == NULL)
    outcomes->values++;
  else if (sd_bus_error_has_name(error, SD_BUS_ERROR_LIMITS_EXCEEDED))
    outcomes->refused++;
  else
    outcomes->other++;
  return 0;
}

/* A new connection that sends @n calls of @method with the one argument @arg and reads
 * none of the replies; each is counted in @outcomes once read_outcomes() reads them. */
static sd_bus *send_unread(KvTestBus *bus, const char *method, const char *arg, guint n,
                           Outcomes *outcomes)
{
  sd_bus *attacker = attacker_connect(bus);

  for (guint i = 0; i < n; i++)
    g_assert_cmpint(sd_bus_call_method_async(attacker, NULL, KV_BUS_NAME, KV_OBJECT_PATH,
                                             KV_INTERFACE, method, count_outcome, outcomes, "s",
                                             arg),
                    >=, 0);
  /* Pushes the calls out without reading anything. */
  g_assert_cmpint(sd_bus_flush(attacker), >=, 0);
  return attacker;
}

/* Reads @attacker's replies (answering kvstored's pings on the way) until @n are counted. */
static void read_outcomes(sd_bus *attacker, Outcomes *outcomes, guint n)
{
  while (outcomes->values + outcomes->refused + outcomes->other < n) {
    int r = sd_bus_process(attacker, NULL);
    g_assert_cmpint(r, >=, 0);
    if (r == 0)
      g_assert_cmpint(sd_bus_wait(attacker, 10 * G_USEC_PER_SEC), >, 0);
  }
}

/* A caller that sends 300 calls of @method (@arg) answered with a 1 MB value and reads
 * nothing: 300 MB of replies if kvstored sent them all. It gets about 64 before kvstored
 * refuses the rest, others go on being served, and kvstored's memory stays bounded. */
static void check_slow_reader(KvTestBus *bus, const char *method, const char *arg)
{
  enum { CALLS = 300 };
  Outcomes outcomes = {0, 0, 0};

  set_value(bus, "small", g_variant_new_int32(1));
  sd_bus *attacker = send_unread(bus, method, arg, CALLS, &outcomes);

  pid_t pid = kv_test_bus_daemon_pid(bus);
  guint64 peak = 0;
  for (guint i = 0; i < 50; i++) {
    g_autoptr(GVariant) reply = kv_test_bus_call_ok(bus, "Get", g_variant_new("(s)", "small"));
    assert_alive(bus);
    peak = MAX(peak, rss_kib(pid));
    g_usleep(20 * 1000);
  }
  g_test_message("kvstored's RSS with a caller not reading: at most %" G_GUINT64_FORMAT " KiB",
                 peak);
  g_assert_cmpuint(peak, <, 200 * 1024);

  /* Now it reads: what it got, and kvstored's pings answered on the way. */
  read_outcomes(attacker, &outcomes, CALLS);
  g_test_message("%u values, %u refused", outcomes.values, outcomes.refused);
  g_assert_cmpuint(outcomes.other, ==, 0);
  g_assert_cmpuint(outcomes.values, <=, 70);
  g_assert_cmpuint(outcomes.refused, >=, CALLS - 70);
  sd_bus_flush_close_unref(attacker);

  /* Having read, it is served again. */
  g_autoptr(GVariant) again = kv_test_bus_call_ok(bus, "Get", g_variant_new("(s)", "small"));
}

static void test_slow_reader(KvTestBus *bus, gconstpointer data)
{
  set_value(bus, "big", big_value(7));
  check_slow_reader(bus, "Get", "big");
}

/* The same with GetDefaults of an administrator's default of 1 MB (setup_big_default). */
static void test_slow_defaults_reader(KvTestBus *bus, gconstpointer data)
{
  check_slow_reader(bus, "GetDefaults", "big/");
}

/* A defaults directory with a default of BIG_BYTES under "big/value", for kvstored. */
static char *big_default_dir;

static void setup_big_default(KvTestBus *bus, gconstpointer args)
{
  g_autofree char *text = g_strnfill(BIG_BYTES, 'x');
  g_autofree char *file = NULL;
  g_autofree char *contents = g_strdup_printf("[big]\nvalue=b'%s'\n", text);

  big_default_dir = g_dir_make_tmp("kv-limits-defaults-XXXXXX", NULL);
  file = g_build_filename(big_default_dir, "10-big.conf", NULL);
  g_assert_true(g_file_set_contents(file, contents, -1, NULL));
  g_autofree char *daemon_args = g_strdup_printf("--in-memory --defaults-dir %s", big_default_dir);
  kv_test_bus_setup(bus, daemon_args);
}

static void teardown_big_default(KvTestBus *bus, gconstpointer args)
{
  kv_test_bus_teardown(bus, args);
  kv_test_remove_tree(big_default_dir);
  g_clear_pointer(&big_default_dir, g_free);
}

/* A blocking dbus-python (libdbus) client without a main loop: it reads every reply but
 * never dispatches kvstored's Peer.Ping. argv[2] Gets of "big"; prints "done N". */
static const char blocking_client[] =
    "import dbus, sys\n"
    "bus = dbus.bus.BusConnection(sys.argv[1])\n"
    "store = dbus.Interface(bus.get_object('org.example.KVStore', '/org/example/KVStore',\n"
    "                                      introspect=False), 'org.example.KVStore')\n"
    "n = 0\n"
    "for i in range(int(sys.argv[2])):\n"
    "    store.Get('big', byte_arrays=True)\n"
    "    n += 1\n"
    "print('done', n, flush=True)\n";

/* Blocking clients read their replies though they answer no Ping: a dbus-python one and
 * an sd-bus one (sd_bus_call() queues the Pings it reads), side by side with a GDBus one,
 * each read 75 MB of replies, past the 64 MiB a peer may leave unread, and are never
 * refused; a caller that reads nothing beside them still is. */
static void test_blocking_clients(KvTestBus *bus, gconstpointer data)
{
  enum { GETS = 75, ATTACKER_CALLS = 150 };
  g_autoptr(GError) error = NULL;
  Outcomes outcomes = {0, 0, 0};

  set_value(bus, "big", big_value(3));
  sd_bus *attacker = send_unread(bus, "Get", "big", ATTACKER_CALLS, &outcomes);

  g_autofree char *gets = g_strdup_printf("%d", GETS);
  g_autoptr(GSubprocess) python = g_subprocess_new(
      G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE, &error, "/usr/bin/python3",
      "-c", blocking_client, kv_test_bus_address(bus), gets, NULL);
  g_assert_no_error(error);

  sd_bus *blocking = attacker_connect(bus);
  for (guint i = 0; i < GETS; i++) {
    g_auto(sd_bus_error) call_error = SD_BUS_ERROR_NULL;
    g_autoptr(sd_bus_message) reply = NULL;
    int r = sd_bus_call_method(blocking, KV_BUS_NAME, KV_OBJECT_PATH, KV_INTERFACE, "Get",
                               &call_error, &reply, "s", "big");
    if (r < 0)
      g_error("sd-bus blocking client, call %u: %s", i, call_error.message);
  }
  sd_bus_flush_close_unref(blocking);
  /* GDBus, which answers pings in its worker thread, side by side with them. */
  for (guint i = 0; i < GETS; i++) {
    g_autoptr(GVariant) got = kv_test_bus_call_ok(bus, "Get", g_variant_new("(s)", "big"));
  }

  g_autofree char *out = NULL, *err = NULL;
  g_subprocess_communicate_utf8(python, NULL, NULL, &out, &err, &error);
  g_assert_no_error(error);
  if (!g_subprocess_get_successful(python))
    g_error("dbus-python blocking client: %s%s", out, err);
  g_autofree char *done = g_strdup_printf("done %d\n", GETS);
  g_assert_cmpstr(out, ==, done);

  read_outcomes(attacker, &outcomes, ATTACKER_CALLS);
  g_test_message("the caller reading nothing: %u values, %u refused", outcomes.values,
                 outcomes.refused);
  g_assert_cmpuint(outcomes.refused, >=, ATTACKER_CALLS - 70);
  sd_bus_flush_close_unref(attacker);
}

/* A SetMany of 3,000 keys of 4 KB (100 on etcd, which takes no request over 2 MiB nor
 * transaction of more than 128 operations)
 * sharing all but their last bytes with @common, the keys named after @round; seconds. */
static double commit_long_keys(KvTestBus *bus, const char *common, int round)
{
  GVariantBuilder batch;

  g_variant_builder_init(&batch, G_VARIANT_TYPE("a{sv}"));
  for (int i = 0; i < (kv_test_on_etcd() ? 100 : 3000); i++) {
    g_autofree char *key = g_strdup_printf("%sk%d%04d", common, round, i);
    g_variant_builder_add(&batch, "{sv}", key, g_variant_new_int32(i));
  }
  return timed_call(bus, "SetMany", g_variant_new("(a{sv})", &batch));
}

/* Subscribes @subscriber to a prefix of @common and two numbers, which no key matches. */
static void subscribe_long(sd_bus *subscriber, const char *common, int c, int i)
{
  g_autofree char *prefix = g_strdup_printf("%sp%02d%02d", common, c, i);

  g_assert_cmpint(sd_bus_call_method(subscriber, KV_BUS_NAME, KV_OBJECT_PATH, KV_INTERFACE,
                                     "Subscribe", NULL, NULL, "s", prefix),
                  >=, 0);
}

/* 1,024 subscriptions (one uid's most, over 16 connections) to long prefixes that match
 * nothing cost a commit of 3,000 keys of 4 KB, which share all but their last bytes with
 * them, no more than one such subscription; a Ping after it is answered at once. Every
 * key was once compared with every prefix (4 GB of comparisons here: 2.6 times the
 * commit's own cost). In memory: a compaction of the journal these commits write would
 * fall on some and not others (a fork under ASan is slow). */
static void test_many_subscriptions(KvTestBus *bus, gconstpointer data)
{
  enum { CONNECTIONS = 16, PER_CONNECTION = 64 };
  g_autofree char *common = g_strnfill(4000, 'k');
  sd_bus *subscribers[CONNECTIONS];

  /* One subscription of the same length first: matching a key costs a pass over its
   * bytes (its prefixes' hashes), with one subscription as with 1,024. */
  for (int c = 0; c < CONNECTIONS; c++)
    subscribers[c] = attacker_connect(bus);
  subscribe_long(subscribers[0], common, 0, 0);
  double alone = commit_long_keys(bus, common, 0);
  alone = MIN(alone, commit_long_keys(bus, common, 1));
  for (int c = 0; c < CONNECTIONS; c++) {
    for (int i = c == 0 ? 1 : 0; i < PER_CONNECTION; i++)
      subscribe_long(subscribers[c], common, c, i);
  }
  double among = MIN(commit_long_keys(bus, common, 2), commit_long_keys(bus, common, 3));
  gint64 start = g_get_monotonic_time();
  assert_alive(bus);
  double ping = (g_get_monotonic_time() - start) / 1e6;
  g_test_message("SetMany of long keys: %.1f ms with one subscription, %.1f ms among 1,024; "
                 "a Ping after: %.1f ms",
                 alone * 1e3, among * 1e3, ping * 1e3);
  /* Generous for an ASan build on a loaded machine, where the commit with more
   * subscribers took up to 2.2x (not in the matching, which a unit test times alike):
   * the old scan cost 5x. */
  g_assert_cmpfloat(among, <, 3 * alone + 0.05);
  g_assert_cmpfloat(ping, <, 0.3);
  for (int c = 0; c < CONNECTIONS; c++)
    sd_bus_flush_close_unref(subscribers[c]);
}

typedef struct {
  guint changes; /* entries of Changes signals */
  guint lost;    /* SubscriptionLost signals */
} Watched;

static int count_signal(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
  Watched *watched = userdata;

  if (sd_bus_message_is_signal(m, KV_INTERFACE, "SubscriptionLost")) {
    watched->lost++;
    return 0;
  }
  if (!sd_bus_message_is_signal(m, KV_INTERFACE, "Changes"))
    return 0;
  g_assert_cmpint(sd_bus_message_enter_container(m, 'a', "(sbvt)"), >, 0);
  while (sd_bus_message_skip(m, "(sbvt)") > 0)
    watched->changes++;
  return 0;
}

/* A subscriber that reads nothing while 100 MB of changes are committed: kvstored sends
 * it 64 MiB at most, then ends its subscriptions rather than hold more for it (or let
 * the bus do so), and tells it with SubscriptionLost; others are served all along. */
static void test_slow_subscriber(KvTestBus *bus, gconstpointer data)
{
  enum { BATCHES = 4, PER_BATCH = 25 };
  Watched watched = {0, 0};

  sd_bus *attacker = attacker_connect(bus);
  g_assert_cmpint(sd_bus_match_signal(attacker, NULL, NULL, KV_OBJECT_PATH, KV_INTERFACE, NULL,
                                      count_signal, &watched),
                  >=, 0);
  g_assert_cmpint(sd_bus_call_method(attacker, KV_BUS_NAME, KV_OBJECT_PATH, KV_INTERFACE,
                                     "SubscribeCoalesced", NULL, NULL, "s", ""),
                  >=, 0);

  pid_t pid = kv_test_bus_daemon_pid(bus);
  guint64 peak = 0;
  for (guint b = 0; b < BATCHES; b++) {
    GVariantBuilder entries;
    g_variant_builder_init(&entries, G_VARIANT_TYPE("a{sv}"));
    for (guint i = 0; i < PER_BATCH; i++) {
      g_autofree char *key = g_strdup_printf("big/%02u", i);
      g_variant_builder_add(&entries, "{sv}", key, big_value((guint8)b));
    }
    g_autoptr(GVariant) batch = g_variant_ref_sink(g_variant_builder_end(&entries));
    /* etcd takes no request over 1.5 MiB: there the batch is a Set a key. */
    if (kv_test_on_etcd()) {
      GVariantIter iter;
      const char *key;
      GVariant *value;
      g_variant_iter_init(&iter, batch);
      while (g_variant_iter_loop(&iter, "{&sv}", &key, &value))
        set_value(bus, key, value);
    } else {
      g_autoptr(GVariant) reply =
          kv_test_bus_call_ok(bus, "SetMany", g_variant_new("(@a{sv})", batch));
    }
    assert_alive(bus);
    peak = MAX(peak, rss_kib(pid));
  }
  g_test_message("kvstored's RSS with a subscriber not reading: at most %" G_GUINT64_FORMAT " KiB",
                 peak);
  g_assert_cmpuint(peak, <, 200 * 1024);

  /* Now it reads: what it was sent, then the news that its subscription ended. */
  while (watched.lost == 0) {
    int r = sd_bus_process(attacker, NULL);
    g_assert_cmpint(r, >=, 0);
    if (r == 0)
      g_assert_cmpint(sd_bus_wait(attacker, 10 * G_USEC_PER_SEC), >, 0);
  }
  g_test_message("%u changes received, then SubscriptionLost", watched.changes);
  g_assert_cmpuint(watched.changes, >, 0);
  g_assert_cmpuint(watched.changes, <, BATCHES * PER_BATCH);
  /* Nothing more comes: the subscription is gone. */
  set_value(bus, "big/00", g_variant_new_int32(1));
  guint before = watched.changes;
  g_assert_cmpint(sd_bus_call_method(attacker, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                     "org.freedesktop.DBus.Peer", "Ping", NULL, NULL, ""),
                  >=, 0);
  while (sd_bus_process(attacker, NULL) > 0)
    ;
  g_assert_cmpuint(watched.changes, ==, before);
  g_assert_cmpuint(watched.lost, ==, 1);
  sd_bus_flush_close_unref(attacker);
}

enum { FLOODERS = 3, FLOOD_DEPTH = 64 };

/* Callers that keep FLOOD_DEPTH Pings each in flight, one sent as one is answered, from
 * a thread of their own, until told to stop or for 10 s at most. */
typedef struct {
  sd_bus *connections[FLOODERS];
  gint answered;
  gint stop;
} Flood;

static int ping_again(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error)
{
  Flood *flood = userdata;

  g_atomic_int_inc(&flood->answered);
  return sd_bus_call_method_async(sd_bus_message_get_bus(reply), NULL, KV_BUS_NAME, KV_OBJECT_PATH,
                                  "org.freedesktop.DBus.Peer", "Ping", ping_again, flood, NULL);
}

static gpointer run_flood(gpointer data)
{
  Flood *flood = data;
  gint64 end = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;

  for (int i = 0; i < FLOODERS; i++)
    for (int j = 0; j < FLOOD_DEPTH; j++)
      g_assert_cmpint(sd_bus_call_method_async(flood->connections[i], NULL, KV_BUS_NAME,
                                               KV_OBJECT_PATH, "org.freedesktop.DBus.Peer", "Ping",
                                               ping_again, flood, NULL),
                      >=, 0);
  while (!g_atomic_int_get(&flood->stop) && g_get_monotonic_time() < end) {
    struct pollfd fds[FLOODERS];
    for (int i = 0; i < FLOODERS; i++) {
      while (sd_bus_process(flood->connections[i], NULL) > 0)
        ;
      fds[i] = (struct pollfd){sd_bus_get_fd(flood->connections[i]),
                               (short)sd_bus_get_events(flood->connections[i]), 0};
    }
    poll(fds, FLOODERS, 10);
  }
  return NULL;
}

/* kvstored preloaded with slow-bus.c: it takes 100 µs longer to receive each message,
 * as when it is short of CPU. */
static void setup_slow_bus_reader(KvTestBus *bus, gconstpointer args)
{
  /* The bus daemon keeps the environment it was started with, for kvstored. */
  g_setenv("KV_TEST_PRELOAD", kv_test_getenv("KV_TEST_SLOW_BUS"), TRUE);
  g_setenv("KV_TEST_RECV_DELAY_US", "100", TRUE);
  kv_test_bus_setup(bus, args);
  g_unsetenv("KV_TEST_PRELOAD");
  g_unsetenv("KV_TEST_RECV_DELAY_US");
}

/* Callers that send faster than kvstored reads: its bus is never read to its end, which a
 * write's commit waited for (it would wait as long as they go on, 10 s here). Writes are
 * answered all the same, after the calls sent before them, and the callers' are too. */
static void test_writes_under_a_flood(KvTestBus *bus, gconstpointer data)
{
  Flood flood = {.answered = 0, .stop = 0};

  set_value(bus, "warm", g_variant_new_int32(1));
  for (int i = 0; i < FLOODERS; i++)
    flood.connections[i] = attacker_connect(bus);
  GThread *thread = g_thread_new("flood", run_flood, &flood);
  gint64 flooding_by = g_get_monotonic_time() + 5 * G_USEC_PER_SEC;
  while (g_atomic_int_get(&flood.answered) < 500 && g_get_monotonic_time() < flooding_by)
    g_usleep(1000);
  g_assert_cmpint(g_atomic_int_get(&flood.answered), >=, 500);

  gint64 start = g_get_monotonic_time();
  set_value(bus, "written", g_variant_new_string("under a flood"));
  gint64 took = g_get_monotonic_time() - start;
  gint answered = g_atomic_int_get(&flood.answered);
  g_atomic_int_set(&flood.stop, 1);
  g_thread_join(thread);
  g_test_message("a Set under a flood of Pings: %" G_GINT64_FORMAT " ms; %d Pings answered",
                 took / 1000, answered);
  g_assert_cmpint(took, <, 2 * G_USEC_PER_SEC);
  g_autoptr(GVariant) reply = kv_test_bus_call_ok(bus, "Get", g_variant_new("(s)", "written"));
  g_autoptr(GVariant) value = NULL;
  g_variant_get(reply, "(v)", &value);
  g_assert_cmpstr(g_variant_get_string(value, NULL), ==, "under a flood");
  for (int i = 0; i < FLOODERS; i++)
    sd_bus_flush_close_unref(flood.connections[i]);
}

int main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
#define ADD(path, func, args)                                                                      \
  g_test_add("/limits/" path, KvTestBus, args, kv_test_bus_setup, func, kv_test_bus_teardown)
  ADD("get-many-repeated-key", test_get_many_repeated_key, NULL);
  ADD("replies-over-the-bus-limit", test_replies_over_the_bus_limit, "--in-memory");
  ADD("depth", test_depth, NULL);
  ADD("nested-fds", test_nested_fds, NULL);
  g_test_add("/limits/big-values-refused-early", KvTestBus, "--in-memory", setup_small_quarantine,
             test_big_values_refused_early, kv_test_bus_teardown);
  ADD("many-keys", test_many_keys, "--in-memory");
  ADD("kvctl-pages", test_kvctl_pages, "--in-memory");
  ADD("slow-reader", test_slow_reader, "--in-memory");
  g_test_add("/limits/slow-defaults-reader", KvTestBus, NULL, setup_big_default,
             test_slow_defaults_reader, teardown_big_default);
  ADD("slow-subscriber", test_slow_subscriber, "--in-memory");
  g_test_add("/limits/blocking-clients", KvTestBus, NULL, kv_test_bus_setup, test_blocking_clients,
             kv_test_bus_teardown);
  g_test_add("/limits/many-subscriptions", KvTestBus, "--in-memory", kv_test_bus_setup,
             test_many_subscriptions, kv_test_bus_teardown);
  g_test_add("/limits/longest-signature", KvTestBus, NULL, kv_test_bus_setup,
             test_longest_signature, kv_test_bus_teardown);
  g_test_add("/limits/deep-values-cost-their-size", KvTestBus, NULL, kv_test_bus_setup,
             test_deep_values_cost_their_size, kv_test_bus_teardown);
  g_test_add("/limits/writes-under-a-flood", KvTestBus, NULL, setup_slow_bus_reader,
             test_writes_under_a_flood, kv_test_bus_teardown);
#undef ADD
  return g_test_run();
}
