/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* kvctl end to end: output and exit status of each command against a real kvstored. */

#include "kv-config.h"
#include "kv-test-bus.h"

#include <glib/gstdio.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

typedef struct {
  const char *args; /* split on spaces; ~ is a space inside an argument, <empty> an empty one */
  int status;
  const char *out;      /* exact stdout, NULL to ignore */
  const char *err_part; /* part of stderr, NULL for empty stderr */
} Step;

static void run_kvctl_with_input(const char *const *argv, const char *input, int *status,
                                 char **out, char **err)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) full = g_ptr_array_new();

  g_ptr_array_add(full, (gpointer)kv_test_getenv("KV_TEST_KVCTL"));
  for (gsize i = 0; argv[i] != NULL; i++)
    g_ptr_array_add(full, (gpointer)argv[i]);
  g_ptr_array_add(full, NULL);

  g_autoptr(GSubprocess) process =
      g_subprocess_newv((const char *const *)full->pdata,
                        G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE |
                            (input != NULL ? G_SUBPROCESS_FLAGS_STDIN_PIPE : 0),
                        &error);
  g_assert_no_error(error);
  g_subprocess_communicate_utf8(process, input, NULL, out, err, &error);
  g_assert_no_error(error);
  g_assert_true(g_subprocess_get_if_exited(process));
  *status = g_subprocess_get_exit_status(process);
}

static void run_kvctl(const char *const *argv, int *status, char **out, char **err)
{
  run_kvctl_with_input(argv, NULL, status, out, err);
}

/* The store's revision when the test began (-1: not read): 0 on a new local store, the
 * cluster's revision on etcd, where every test's store is a new prefix of one cluster. */
static gint64 revision_base = -1;

static void kvctl_setup(KvTestBus *bus, gconstpointer data)
{
  kv_test_bus_setup(bus, data);
  revision_base = -1;
}

/* Reads the base that "{N}" in steps counts from (activating kvstored). */
static void read_revision_base(void)
{
  const char *argv[] = {"revision", NULL};
  g_autofree char *out = NULL, *err = NULL;
  int status;

  run_kvctl(argv, &status, &out, &err);
  g_assert_cmpint(status, ==, 0);
  revision_base = g_ascii_strtoll(out, NULL, 10);
}

/* @text with each "{N}" made the revision N changes after the test's start. */
static char *expand(const char *text)
{
  g_autoptr(GString) out = g_string_new(NULL);

  for (const char *p = text; *p != '\0'; p++) {
    char *end;
    guint64 n;
    if (*p == '{' && g_ascii_isdigit(p[1]) &&
        (n = g_ascii_strtoull(p + 1, &end, 10), *end == '}')) {
      g_assert_cmpint(revision_base, >=, 0);
      g_string_append_printf(out, "%" G_GUINT64_FORMAT, (guint64)revision_base + n);
      p = end;
      continue;
    }
    g_string_append_c(out, *p);
  }
  return g_string_free(g_steal_pointer(&out), FALSE);
}

static void run_steps(const Step *steps, gsize n_steps)
{
  for (gsize i = 0; i < n_steps; i++) {
    g_autofree char *args = expand(steps[i].args);
    g_autofree char *expected_out = steps[i].out != NULL ? expand(steps[i].out) : NULL;
    g_autofree char *expected_err = steps[i].err_part != NULL ? expand(steps[i].err_part) : NULL;
    g_auto(GStrv) argv = g_strsplit(args, " ", -1);
    g_autofree char *out = NULL;
    g_autofree char *err = NULL;
    int status;

    for (gsize a = 0; argv[a] != NULL; a++) {
      g_strdelimit(argv[a], "~", ' ');
      if (g_str_equal(argv[a], "<empty>"))
        argv[a][0] = '\0';
    }
    g_test_message("kvctl %s", args);
    run_kvctl((const char *const *)argv, &status, &out, &err);

    g_assert_cmpint(status, ==, steps[i].status);
    if (expected_out != NULL)
      g_assert_cmpstr(out, ==, expected_out);
    if (expected_err == NULL)
      g_assert_cmpstr(err, ==, "");
    else if (strstr(err, expected_err) == NULL)
      g_error("stderr '%s' does not contain '%s'", err, expected_err);
  }
}

static void test_commands(KvTestBus *bus, gconstpointer data)
{
  static const Step steps[] = {
      {"ping", 0, "pong\n", NULL},
      {"get greeting", 1, "", "Key 'greeting' not found (org.example.KVStore.Error.NotFound)"},
      {"exists greeting", 1, "false\n", NULL},
      {"set greeting hello~world", 0, "", NULL},
      {"get greeting", 0, "hello world\n", NULL},
      {"exists greeting", 0, "true\n", NULL},
      {"set counter 10", 0, "", NULL},
      {"incr counter 5", 0, "15\n", NULL},
      {"get counter", 0, "15\n", NULL},
      {"incr counter", 0, "16\n", NULL},
      {"incr counter -20", 0, "-4\n", NULL},
      {"incr fresh", 0, "1\n", NULL},
      {"set --type int32 small 2147483647", 0, "", NULL},
      {"incr small", 3, "", "org.example.KVStore.Error.Overflow"},
      {"get small", 0, "2147483647\n", NULL},
      {"set --type double ratio 2.5", 0, "", NULL},
      {"incr ratio", 3, "", "double"},
      {"set --gvariant list [1,~2]", 0, "", NULL},
      {"get list", 0, "[1, 2]\n", NULL},
      {"set --type bool flag true", 0, "", NULL},
      {"set --type as names ['a',~'b']", 0, "", NULL},
      {"keys", 0, "counter\nflag\nfresh\ngreeting\nlist\nnames\nratio\nsmall\n", NULL},
      {"keys f", 0, "flag\nfresh\n", NULL},
      {"keys nothing", 0, "", NULL},
      {"dump f", 0, "{\n  'flag': <true>,\n  'fresh': <int64 1>\n}\n", NULL},
      {"dump greeting", 0, "{\n  'greeting': <'hello world'>\n}\n", NULL},
      {"dump nothing", 0, "@a{sv} {}\n", NULL},
      {"dump f --json", 0, "{\n  \"flag\" : true,\n  \"fresh\" : 1\n}\n", NULL},
      /* Eleven changes so far: every successful set and incr above. */
      {"get fresh --revision", 0, "{6}\t1\n", NULL},
      {"cas fresh {5} stale", 4, "", "Key 'fresh' is at revision {6}, not {5}"},
      {"cas --type int64 fresh {6} 2", 0, "{12}\n", NULL},
      {"cas new-key 0 first", 0, "{13}\n", NULL},
      {"set-many a=1 b=2", 0, "{14}\n", NULL},
      {"set-many --type int32 a=3 b=x", 2, "", "Cannot read the value"},
      {"set-many a", 2, "", "is not KEY=VALUE"},
      {"get a", 0, "1\n", NULL},
      {"del greeting missing counter", 0, "2\n", NULL},
      {"get greeting", 1, "", "not found"},
      {"set <empty> value", 3, "", "org.example.KVStore.Error.InvalidKey"},
  };

  read_revision_base();
  run_steps(steps, G_N_ELEMENTS(steps));
}

static void test_usage_errors(KvTestBus *bus, gconstpointer data)
{
  static const Step steps[] = {
      {"frobnicate", 2, "", "unknown command 'frobnicate'"},
      {"get", 2, "", "get: one KEY, please\nUsage: kvctl get [--revision]"},
      {"get a b", 2, "", "Try 'kvctl help get'."},
      {"set onlykey", 2, "", "Usage: kvctl set"},
      {"set --type float k 1", 2, "", "Unknown type 'float'"},
      {"set --type int32 k five", 2, "", "Cannot read the value"},
      {"set --type int32 --gvariant k 5", 2, "", "exclude each other"},
      {"set --gvariant k just~5", 2, "", "maybe"},
      {"incr k notanumber", 2, "", "not an int64"},
      {"del", 2, "", "Usage: kvctl del [--] KEY... | --prefix PREFIX"},
      {"del --prefix p k", 2, "", "KEYs, or --prefix PREFIX alone"},
      {"keys a b", 2, "", "Usage: kvctl keys"},
      {"keys --bogus", 2, "", "Unknown option --bogus"},
      {"keys -0 --json", 2, "", "exclude each other"},
      {"get --json --bogus k", 2, "", "Unknown option --bogus"},
      {"del --bogus k", 2, "", "Unknown option --bogus"},
      {"dump --bogus", 2, "", "Unknown option --bogus"},
      {"set --file /nonexistent/value k", 2, "", "Cannot open /nonexistent/value"},
      {"set --file /dev/null k v", 2, "", "KEY with --file"},
      {"load --batch-size 5001 f", 2, "", "--batch-size takes 1 to 5000 keys"},
      {"load --batch-size -1 f", 2, "", "--batch-size takes 1 to 5000 keys"},
      {"--timeout 0 ping", 2, "", "--timeout takes seconds"},
      {"--timeout soon ping", 2, "", "Cannot parse double value"},
      {"help frobnicate", 2, "", "no command 'frobnicate'"},
      {"cas k notanumber v", 2, "", "not a revision number"},
      {"cas k 1", 2, "", "Usage: kvctl cas"},
      {"get --bogus k", 2, "", "Unknown option"},
      {"dump a b", 2, "", "Usage: kvctl dump"},
      {"load", 2, "", "Usage: kvctl load"},
      {"load /nonexistent/dump", 2, "", "No such file"},
      {"watch a b", 2, "", "Usage: kvctl watch"},
      {"ping extra", 2, "", "Usage: kvctl ping"},
      {"--system --user ping", 2, "", "exclude each other"},
      {"--bogus ping", 2, "", "Unknown option"},
  };

  /* A usage error never touches the bus: the daemon is not even activated. */
  run_steps(steps, G_N_ELEMENTS(steps));
  g_assert_false(kv_test_bus_name_has_owner(bus));
}

static void test_help(KvTestBus *bus, gconstpointer data)
{
  static const Step steps[] = {
      {"--help", 0, NULL, NULL},
  };
  const char *argv[] = {"--help", NULL};
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  int status;

  run_steps(steps, G_N_ELEMENTS(steps));
  run_kvctl(argv, &status, &out, &err);
  g_assert_nonnull(strstr(out, "Exit status: 0 success, 1 key missing"));
  g_assert_nonnull(strstr(out, "  incr      Add DELTA (default 1) and print the result\n"));
}

static void test_address_option(KvTestBus *bus, gconstpointer data)
{
  const char *set[] = {"--address", kv_test_bus_address(bus), "set", "k", "v", NULL};
  const char *get[] = {"--address", kv_test_bus_address(bus), "get", "k", NULL};
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  int status;

  run_kvctl(set, &status, &out, &err);
  g_assert_cmpint(status, ==, 0);
  g_clear_pointer(&out, g_free);
  g_clear_pointer(&err, g_free);
  run_kvctl(get, &status, &out, &err);
  g_assert_cmpint(status, ==, 0);
  g_assert_cmpstr(out, ==, "v\n");
}

static void test_unreachable_bus(KvTestBus *bus, gconstpointer data)
{
  static const Step steps[] = {
      {"--address unix:path=/nonexistent/kvstore-test-socket ping", 3, "",
       "cannot connect to the bus"},
  };

  run_steps(steps, G_N_ELEMENTS(steps));
}

/* A kvctl without its JSON module (copied away from the build tree; not installed) still
 * does everything else, and says why --json cannot work. */
static void test_json_module_missing(KvTestBus *bus, gconstpointer data)
{
  g_autoptr(GError) error = NULL;

  if (g_file_test(KV_PKGLIBDIR "/kvctl-json.so", G_FILE_TEST_EXISTS)) {
    g_test_skip("kvstore is installed: a kvctl anywhere finds its JSON module");
    return;
  }
  g_autofree char *dir = g_dir_make_tmp("kvctl-alone-XXXXXX", &error);
  g_assert_no_error(error);
  g_autofree char *copy = g_build_filename(dir, "kvctl", NULL);
  g_autofree char *contents = NULL;
  gsize length;

  g_file_get_contents(kv_test_getenv("KV_TEST_KVCTL"), &contents, &length, &error);
  g_assert_no_error(error);
  g_file_set_contents_full(copy, contents, (gssize)length, G_FILE_SET_CONTENTS_NONE, 0755, &error);
  g_assert_no_error(error);

  const char *commands[][3] = {{"set", "k", "v"}, {"dump", "--json", NULL}, {"get", "k", NULL}};
  const int expected[] = {0, 3, 0};
  for (gsize i = 0; i < G_N_ELEMENTS(commands); i++) {
    g_autoptr(GSubprocess) process =
        g_subprocess_new(G_SUBPROCESS_FLAGS_STDOUT_SILENCE | G_SUBPROCESS_FLAGS_STDERR_PIPE, &error,
                         copy, commands[i][0], commands[i][1], commands[i][2], NULL);
    g_assert_no_error(error);
    g_autofree char *err = NULL;
    g_subprocess_communicate_utf8(process, NULL, NULL, NULL, &err, &error);
    g_assert_no_error(error);
    g_assert_cmpint(g_subprocess_get_exit_status(process), ==, expected[i]);
    if (expected[i] != 0 && strstr(err, "cannot load JSON support") == NULL)
      g_error("'%s' does not say that JSON support is missing", err);
  }
  g_unlink(copy);
  g_rmdir(dir);
}

/* What people expect of a command-line tool: help, version, "--", other ways to name the
 * bus. */
static void test_habits(KvTestBus *bus, gconstpointer data)
{
  static const Step steps[] = {
      {"--version", 0, "kvctl " KV_VERSION "\n", NULL},
      {"help incr", 0, NULL, NULL},
      {"set -- -dash -value", 0, "", NULL},
      {"get -- -dash", 0, "-value\n", NULL},
      {"exists -- -dash", 0, "true\n", NULL},
      {"keys -- -d", 0, "-dash\n", NULL},
      {"incr -- -count -5", 0, "-5\n", NULL},
      {"set k --", 0, "", NULL},
      {"get k", 0, "--\n", NULL},
      {"del -- -dash -count", 0, "2\n", NULL},
      {"--session set --type objectpath path /org/example/Thing", 0, "", NULL},
      {"get --json path", 0, "{\"type\":\"o\",\"value\":\"'/org/example/Thing'\"}\n", NULL},
      {"set --type signature sig a{sv}", 0, "", NULL},
      {"get sig", 0, "'a{sv}'\n", NULL},
      {"set --type objectpath bad not/a/path", 2, "", "Cannot read the value"},
      {"revision", 0, "{6}\n", NULL},
  };
  const char *help_argv[][3] = {
      {"help", "set", NULL}, {"set", "--help", NULL}, {"--help", NULL, NULL}};

  read_revision_base();
  run_steps(steps, G_N_ELEMENTS(steps));
  for (gsize i = 0; i < G_N_ELEMENTS(help_argv); i++) {
    g_autofree char *out = NULL;
    g_autofree char *err = NULL;
    int status;
    run_kvctl(help_argv[i], &status, &out, &err);
    g_assert_cmpint(status, ==, 0);
    g_assert_nonnull(strstr(out, "Usage: kvctl [OPTION...]"));
    g_assert_nonnull(strstr(out, i < 2 ? "kvctl set --file /etc/hostname" : "Exit status"));
  }
}

/* keys -0 and a key with a newline: each key whole, ended by a NUL. */
static void test_keys_null(KvTestBus *bus, gconstpointer data)
{
  const char *keys[] = {"two\nlines", "one"};
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) out = NULL;
  gsize length;

  for (gsize i = 0; i < G_N_ELEMENTS(keys); i++) {
    const char *argv[] = {"set", keys[i], "v", NULL};
    g_autofree char *o = NULL, *e = NULL;
    int status;
    run_kvctl(argv, &status, &o, &e);
    g_assert_cmpint(status, ==, 0);
  }
  g_autoptr(GSubprocess) process = g_subprocess_new(
      G_SUBPROCESS_FLAGS_STDOUT_PIPE, &error, kv_test_getenv("KV_TEST_KVCTL"), "keys", "-0", NULL);
  g_assert_no_error(error);
  g_subprocess_communicate(process, NULL, NULL, &out, NULL, &error);
  g_assert_no_error(error);
  const char *bytes = g_bytes_get_data(out, &length);
  g_assert_cmpmem(bytes, length, "one\0two\nlines\0", 14);

  const char *json[] = {"keys", "--json", NULL};
  g_autofree char *json_out = NULL, *json_err = NULL;
  int status;
  run_kvctl(json, &status, &json_out, &json_err);
  g_assert_cmpstr(json_out, ==, "[\n  \"one\",\n  \"two\\nlines\"\n]\n");
}

/* Values from stdin and files: larger than any command line, kept byte for byte. */
static void test_value_from_input(KvTestBus *bus, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GString) large = g_string_new(NULL);
  g_autofree char *out = NULL, *err = NULL;
  int status;

  while (large->len < 300 * 1024)
    g_string_append(large, "0123456789abcdef\n");
  const char *set_stdin[] = {"set", "big", "-", NULL};
  run_kvctl_with_input(set_stdin, large->str, &status, &out, &err);
  g_assert_cmpint(status, ==, 0);
  g_clear_pointer(&out, g_free);
  g_clear_pointer(&err, g_free);
  const char *get[] = {"get", "big", NULL};
  run_kvctl(get, &status, &out, &err);
  g_assert_cmpuint(strlen(out), ==, large->len + 1); /* and puts's newline */
  g_assert_true(strncmp(out, large->str, large->len) == 0);

  g_autofree char *path = g_build_filename(g_get_tmp_dir(), "kvctl-value-XXXXXX", NULL);
  int fd = g_mkstemp(path);
  g_assert_cmpint(fd, >=, 0);
  close(fd);
  g_file_set_contents(path, "[1, 2, 3]\n", -1, &error);
  g_assert_no_error(error);
  const Step steps[] = {
      {"set --type ai --file PATH list", 0, "", NULL},
      {"get list", 0, "[1, 2, 3]\n", NULL},
  };
  for (gsize i = 0; i < G_N_ELEMENTS(steps); i++) {
    g_auto(GStrv) argv = g_strsplit(steps[i].args, " ", -1);
    g_clear_pointer(&out, g_free);
    g_clear_pointer(&err, g_free);
    for (gsize a = 0; argv[a] != NULL; a++)
      if (g_str_equal(argv[a], "PATH")) {
        g_free(argv[a]);
        argv[a] = g_strdup(path);
      }
    run_kvctl((const char *const *)argv, &status, &out, &err);
    g_assert_cmpint(status, ==, steps[i].status);
    g_assert_cmpstr(out, ==, steps[i].out);
  }
  g_unlink(path);
}

static void test_delete_prefix(KvTestBus *bus, gconstpointer data)
{
  static const Step steps[] = {
      {"set-many app/a=1 app/b=2 apple=3 other=4", 0, "{1}\n", NULL},
      {"del --prefix app/", 0, "2\n", NULL},
      {"keys", 0, "apple\nother\n", NULL},
      {"del --prefix nothing/", 0, "0\n", NULL},
      {"revision", 0, "{2}\n", NULL},
      {"del --prefix <empty>", 0, "2\n", NULL},
      {"keys", 0, "", NULL},
  };

  read_revision_base();
  run_steps(steps, G_N_ELEMENTS(steps));
}

/* JSON never lies: every type goes out and comes back exactly, through kvctl and the bus. */
static void test_json_round_trip(KvTestBus *bus, gconstpointer data)
{
  static const Step steps[] = {
      {"set-many --gvariant s='text' b=true y=byte~0xff n=int16~-5 q=uint16~65535 "
       "i=int32~-7 u=uint32~4294967295 x=int64~9007199254740992 "
       "X=int64~9223372036854775807 t=uint64~18446744073709551615 d=1.5 D=2.0 "
       "inf=double~inf o=objectpath~'/a' g=signature~'ai' ai=[1,~2] "
       "e=@as~[] st=(1,~'x') dict={'k':~<1>}",
       0, "{1}\n", NULL},
      {"get --json x", 0, "9007199254740992\n", NULL},
      {"get --json X", 0, "{\"type\":\"x\",\"value\":\"9223372036854775807\"}\n", NULL},
      {"get --json D", 0, "2.0\n", NULL},
      {"get --json inf", 0, "{\"type\":\"d\",\"value\":\"inf\"}\n", NULL},
  };
  g_autofree char *text_before = NULL, *json = NULL, *text_after = NULL, *err = NULL;
  const char *dump_text[] = {"dump", NULL};
  const char *dump_json[] = {"dump", "--json", NULL};
  const char *del_all[] = {"del", "--prefix", "", NULL};
  const char *load_json[] = {"load", "--json", "-", NULL};
  int status;

  read_revision_base();
  run_steps(steps, G_N_ELEMENTS(steps));
  run_kvctl(dump_text, &status, &text_before, &err);
  g_clear_pointer(&err, g_free);
  run_kvctl(dump_json, &status, &json, &err);
  g_assert_cmpint(status, ==, 0);
  g_clear_pointer(&err, g_free);
  g_autofree char *out = NULL;
  run_kvctl(del_all, &status, &out, &err);
  g_assert_cmpstr(out, ==, "19\n");
  g_clear_pointer(&out, g_free);
  g_clear_pointer(&err, g_free);
  run_kvctl_with_input(load_json, json, &status, &out, &err);
  g_assert_cmpstr(err, ==, "");
  g_assert_cmpint(status, ==, 0);
  g_clear_pointer(&err, g_free);
  run_kvctl(dump_text, &status, &text_after, &err);
  g_assert_cmpstr(text_after, ==, text_before);
}

/* JSON that kvctl cannot load faithfully is refused whole, naming the key. */
static void test_json_refused(KvTestBus *bus, gconstpointer data)
{
  static const struct {
    const char *json;
    const char *err_part;
  } cases[] = {
      {"{\"ok\": 1, \"n\": null}", "Key 'n': null is no value"},
      {"{\"big\": 18446744073709551615}", "Key 'big': the integer 18446744073709551615"},
      {"{\"low\": -9223372036854775809}", "Key 'low': the integer -9223372036854775809"},
      {"{\"list\": [1, 2]}", "Key 'list': a JSON array"},
      {"{\"o\": {\"a\": 1}}", "Key 'o': an object is the tagged form"},
      {"{\"m\": {\"type\": \"mi\", \"value\": \"5\"}}", "'mi' is not a GVariant type string"},
      {"{\"t\": {\"type\": \"t\", \"value\": \"-1\"}}", "Key 't': not GVariant text of type 't'"},
      {"[1]", "Not a JSON object"},
  };
  const char *load_json[] = {"load", "--json", "-", NULL};

  for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
    g_autofree char *out = NULL, *err = NULL;
    int status;
    run_kvctl_with_input(load_json, cases[i].json, &status, &out, &err);
    g_assert_cmpint(status, ==, 2);
    if (strstr(err, cases[i].err_part) == NULL)
      g_error("'%s': stderr '%s' lacks '%s'", cases[i].json, err, cases[i].err_part);
  }
  const Step after[] = {{"keys", 0, "", NULL}};
  run_steps(after, G_N_ELEMENTS(after));
}

static char *dump_of(guint n_keys, const char *last_key)
{
  GString *text = g_string_new("{\n");

  for (guint i = 0; i < n_keys; i++)
    g_string_append_printf(text, "  'k%05u': <%u>,\n", i, i);
  g_string_append_printf(text, "  '%s': <'last'>\n}\n", last_key);
  return g_string_free(text, FALSE);
}

/* load is atomic unless asked for batches; a failed batch says what is stored. */
static void test_load_batches(KvTestBus *bus, gconstpointer data)
{
  g_autofree char *large = dump_of(5000, "z");
  g_autofree char *bad = dump_of(4, "");
  const char *load[] = {"load", "-", NULL};
  const char *load_batches[] = {"load", "--batch-size", "2000", "-", NULL};
  const char *load_small_batches[] = {"load", "--batch-size", "2", "-", NULL};
  g_autofree char *out = NULL, *err = NULL;
  int status;

  if (kv_test_on_etcd()) {
    g_test_skip("etcd takes at most 128 operations in a transaction: batches of 2000 do not "
                "apply");
    return;
  }
  read_revision_base();
  run_kvctl_with_input(load, large, &status, &out, &err);
  g_assert_cmpint(status, ==, 3);
  g_assert_nonnull(strstr(err, "5001 keys are more than one atomic change takes (5000)"));
  g_assert_nonnull(strstr(err, "--batch-size"));
  const Step none[] = {{"revision", 0, "{0}\n", NULL}};
  run_steps(none, G_N_ELEMENTS(none));

  g_clear_pointer(&out, g_free);
  g_clear_pointer(&err, g_free);
  run_kvctl_with_input(load_batches, large, &status, &out, &err);
  g_assert_cmpint(status, ==, 0);
  g_assert_cmpstr(out, ==, "3\n");
  g_assert_cmpstr(err, ==, ""); /* no progress: stderr is no terminal */

  g_clear_pointer(&out, g_free);
  g_clear_pointer(&err, g_free);
  run_kvctl_with_input(load_small_batches, bad, &status, &out, &err);
  g_assert_cmpint(status, ==, 3);
  g_assert_nonnull(strstr(err, "InvalidKey"));
  g_assert_nonnull(strstr(err, "stopped at the batch of keys 5 to 5; the 4 keys before it"));
  const Step after[] = {{"revision", 0, "{5}\n", NULL}};
  run_steps(after, G_N_ELEMENTS(after));
}

/* A write that gets no answer in time: kvctl says it may have been applied, and how to
 * tell, and exits 5 (a read that times out, 3). kvstored is stopped (SIGSTOP) to make it
 * so. */
static void test_write_timeout(KvTestBus *bus, gconstpointer data)
{
  static const Step steps[] = {
      {"ping", 0, "pong\n", NULL},
  };
  static const Step stalled[] = {
      {"--timeout 0.3 set k v", 5, "",
       "no reply within 0.3 s (set another limit with --timeout)\nkvctl: the write may still "
       "have been applied: 'kvctl get --revision KEY'"},
      {"--timeout 0.3 exists k", 3, "", "no reply within 0.3 s"},
  };

  run_steps(steps, G_N_ELEMENTS(steps));
  pid_t pid = kv_test_bus_daemon_pid(bus);
  g_assert_cmpint(kill(pid, SIGSTOP), ==, 0);
  run_steps(stalled, G_N_ELEMENTS(stalled));
  g_assert_cmpint(kill(pid, SIGCONT), ==, 0);
  /* The write reached kvstored before the timeout: it is applied now, or (on etcd, once
   * the cluster has taken it) very soon. */
  const char *get[] = {"get", "k", NULL};
  for (int i = 0; i < 100; i++) {
    g_autofree char *out = NULL, *err = NULL;
    int status;
    run_kvctl(get, &status, &out, &err);
    if (status == 0)
      break;
    g_usleep(50 * 1000);
  }
  const Step after[] = {{"get k", 0, "v\n", NULL}};
  run_steps(after, G_N_ELEMENTS(after));
}

/* kvstored dies with a write in flight: kvctl says so at once, and where the log is, not
 * that no reply came within its timeout. */
static void test_daemon_gone(KvTestBus *bus, gconstpointer data)
{
  static const Step steps[] = {{"ping", 0, "pong\n", NULL}};
  g_autoptr(GError) error = NULL;

  run_steps(steps, G_N_ELEMENTS(steps));
  pid_t pid = kv_test_bus_daemon_pid(bus);
  g_assert_cmpint(kill(pid, SIGSTOP), ==, 0);
  g_autoptr(GSubprocess) process =
      g_subprocess_new(G_SUBPROCESS_FLAGS_STDOUT_SILENCE | G_SUBPROCESS_FLAGS_STDERR_PIPE, &error,
                       kv_test_getenv("KV_TEST_KVCTL"), "--timeout", "60", "set", "k", "v", NULL);
  g_assert_no_error(error);
  g_usleep(300 * 1000);
  gint64 start = g_get_monotonic_time();
  g_assert_cmpint(kill(pid, SIGKILL), ==, 0);
  g_autofree char *err = NULL;
  g_subprocess_communicate_utf8(process, NULL, NULL, NULL, &err, &error);
  g_assert_no_error(error);
  g_assert_cmpint(g_subprocess_get_exit_status(process), ==, 5);
  g_assert_cmpint(g_get_monotonic_time() - start, <, 10 * G_USEC_PER_SEC);
  if (strstr(err, "kvctl: kvstored stopped before answering, or could not be started: see "
                  "'journalctl") == NULL ||
      strstr(err, "no reply within") != NULL || strstr(err, "may still have been applied") == NULL)
    g_error("kvctl after kvstored died: '%s'", err);
}

/* Progress shows on a terminal only (script(1) gives kvctl one). */
static void test_progress(KvTestBus *bus, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *script = g_find_program_in_path("script");

  if (script == NULL) {
    g_test_skip("script(1) is not installed");
    return;
  }
  const Step steps[] = {{"set-many a=1 b=2 c=3", 0, "{1}\n", NULL}, {"dump", 0, NULL, NULL}};
  read_revision_base();
  run_steps(steps, G_N_ELEMENTS(steps));
  g_autofree char *command = g_strdup_printf("%s dump >/dev/null", kv_test_getenv("KV_TEST_KVCTL"));
  g_autoptr(GSubprocess) process =
      g_subprocess_new(G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_MERGE, &error,
                       script, "-qec", command, "/dev/null", NULL);
  g_assert_no_error(error);
  g_autofree char *out = NULL;
  g_subprocess_communicate_utf8(process, NULL, NULL, &out, NULL, &error);
  g_assert_no_error(error);
  if (strstr(out, "kvctl: dumped 3 keys (") == NULL)
    g_error("no progress on a terminal: '%s'", out);
}

/* kvctl changes: the history after a revision, and inside one; then watch --since, which
 * prints the same changes first and then the live ones. */
static void test_changes(KvTestBus *bus, gconstpointer data)
{
  read_revision_base();
  static const Step steps[] = {
      {"set h/a 1", 0, "", NULL},
      {"set-many h/b=2 h/c=3", 0, "{2}\n", NULL},
      {"del h/a", 0, "1\n", NULL},
      {"set other 4", 0, "", NULL},
      {"changes --since {0} h/", 0,
       "{1}\th/a\t'1'\n{2}\th/b\t'2'\n{2}\th/c\t'3'\n{3}\th/a\tdeleted\n",
       "every change up to revision {4} (go on with --since {4})"},
      {"changes --since {2} --after h/b h/", 0, "{2}\th/c\t'3'\n{3}\th/a\tdeleted\n",
       "up to revision {4}"},
      {"changes --since {4}", 0, "", "up to revision {4}"},
      {"changes --since {9} h/", 3, "", "org.freedesktop.DBus.Error.InvalidArgs"},
      {"changes --since later", 2, "", "--since takes a revision number, not 'later'"},
      {"watch --since x", 2, "", "--since takes a revision number, not 'x'"},
  };

  run_steps(steps, G_N_ELEMENTS(steps));

  g_autofree char *since = expand("{1}");
  const char *argv[] = {kv_test_getenv("KV_TEST_KVCTL"), "watch", "--since", since, "h/", NULL};
  g_autoptr(GError) error = NULL;
  g_autoptr(GSubprocess) watch = g_subprocess_newv(
      argv, G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_SILENCE, &error);
  g_assert_no_error(error);
  g_autoptr(GDataInputStream) lines = g_data_input_stream_new(g_subprocess_get_stdout_pipe(watch));
  g_autofree char *expected = expand("{2}\th/b\t'2'|{2}\th/c\t'3'|{3}\th/a\tdeleted|"
                                     "{5}\th/d\t'5'|");
  g_autoptr(GString) got = g_string_new(NULL);
  for (int i = 0; i < 4; i++) {
    /* The live change, once the history's three are in: none twice, none missing. */
    if (i == 3) {
      const Step live[] = {{"set h/d 5", 0, "", NULL}};
      run_steps(live, 1);
    }
    g_autofree char *line = g_data_input_stream_read_line(lines, NULL, NULL, &error);
    g_assert_no_error(error);
    g_assert_nonnull(line);
    g_string_append_printf(got, "%s|", line);
  }
  g_assert_cmpstr(got->str, ==, expected);
  g_subprocess_send_signal(watch, SIGTERM);
  g_assert_true(g_subprocess_wait_check(watch, NULL, &error));
  g_assert_no_error(error);
}

/* A watcher that stops reading loses its subscription (past 64 MiB unread) and, once it
 * reads again, goes on from the history after the last change it printed: every change
 * once, none missing. */
static void test_watch_resumes_lost_subscription(KvTestBus *bus, gconstpointer data)
{
  enum { VALUES = 80 };
  g_autofree char *megabyte = g_strnfill(1000 * 1000, 'm');
  g_autoptr(GError) error = NULL;

  if (kv_test_on_etcd()) {
    g_test_skip("80 MB of values is more than a test's etcd member takes quickly");
    return;
  }
  read_revision_base();
  g_autofree char *since = expand("{0}");
  const char *argv[] = {kv_test_getenv("KV_TEST_KVCTL"), "watch", "--since", since, "big/", NULL};
  g_autoptr(GSubprocess) watch = g_subprocess_newv(
      argv, G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE, &error);
  g_assert_no_error(error);
  g_autoptr(GDataInputStream) out = g_data_input_stream_new(g_subprocess_get_stdout_pipe(watch));
  g_autoptr(GDataInputStream) err = g_data_input_stream_new(g_subprocess_get_stderr_pipe(watch));
  g_autofree char *watching = g_data_input_stream_read_line(err, NULL, NULL, &error);
  g_assert_nonnull(strstr(watching, "watching changes"));

  pid_t pid = (pid_t)g_ascii_strtoll(g_subprocess_get_identifier(watch), NULL, 10);
  g_assert_cmpint(kill(pid, SIGSTOP), ==, 0);
  for (guint i = 0; i < VALUES; i++) {
    g_autofree char *key = g_strdup_printf("big/%02u", i);
    g_autoptr(GVariant) reply =
        kv_test_bus_call_ok(bus, "Set", g_variant_new("(sv)", key, g_variant_new_string(megabyte)));
  }
  g_assert_cmpint(kill(pid, SIGCONT), ==, 0);
  for (guint i = 0; i < VALUES; i++) {
    g_autofree char *line = g_data_input_stream_read_line(out, NULL, NULL, &error);
    g_assert_no_error(error);
    g_assert_nonnull(line);
    g_autofree char *expected =
        g_strdup_printf("%" G_GINT64_FORMAT "\tbig/%02u\t'", revision_base + i + 1, i);
    g_assert_true(g_str_has_prefix(line, expected));
  }
  g_autofree char *lost = g_data_input_stream_read_line(err, NULL, NULL, &error);
  g_test_message("%s", lost);
  g_assert_nonnull(strstr(lost, "the subscription was lost"));
  g_subprocess_send_signal(watch, SIGTERM);
  g_assert_true(g_subprocess_wait_check(watch, NULL, &error));
  g_assert_no_error(error);
}

/* Whether `kvctl exists KEY` says so. */
static gboolean kvctl_exists(const char *key)
{
  const char *argv[] = {"exists", key, NULL};
  g_autofree char *out = NULL, *err = NULL;
  int status;

  run_kvctl(argv, &status, &out, &err);
  return status == 0;
}

static void test_leases(KvTestBus *bus, gconstpointer data)
{
  read_revision_base();
  static const Step steps[] = {
      {"set --ttl 300ms t/a x", 0, "{1}\n", NULL},
      {"exists t/a", 0, "true\n", NULL},
      {"lease grant --ttl 60s", 0, "{2}\n", NULL},
      {"set --lease {2} t/b y", 0, "", NULL},
      {"lease keep-alive {2}", 0, "60000\n", NULL},
      {"lease revoke {2}", 0, "1\n", NULL},
      {"exists t/b", 1, "false\n", NULL},
      {"lease revoke {2}", 3, "", "org.example.KVStore.Error.LeaseNotFound"},
      {"set --lease 999999 t/c x", 3, "", "org.example.KVStore.Error.LeaseNotFound"},
      {"set --ttl 0 t/c x", 2, "", "--ttl takes a duration"},
      {"set --ttl soon t/c x", 2, "", "--ttl takes a duration"},
      {"set --ttl 5s --lease 3 t/c x", 2, "", "--ttl and --lease exclude each other"},
      {"lease grant", 2, "", "lease grant needs --ttl"},
      {"lease keep-alive many", 2, "", "'many' is not a lease ID"},
      {"lease frobnicate", 2, "", "'frobnicate' is not grant, keep-alive or revoke"},
      {"set .kvstore/lease/1 x", 3, "", "org.example.KVStore.Error.InvalidKey"},
  };

  run_steps(steps, G_N_ELEMENTS(steps));
  gint64 deadline = g_get_monotonic_time() + 5 * G_USEC_PER_SEC;
  while (kvctl_exists("t/a"))
    g_assert_cmpint(g_get_monotonic_time(), <, deadline);
}

/* Waits until lock @name's queue (`kvctl keys .kvstore/lock/NAME/`) is @n long. */
static void wait_queue_length(const char *name, guint n)
{
  g_autofree char *prefix = g_strdup_printf(".kvstore/lock/%s/", name);
  const char *argv[] = {"keys", prefix, NULL};
  gint64 deadline = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;

  for (;;) {
    g_autofree char *out = NULL, *err = NULL;
    int status;
    run_kvctl(argv, &status, &out, &err);
    g_auto(GStrv) lines = g_strsplit(out, "\n", -1);
    if (g_strv_length(lines) == n + 1)
      return;
    g_assert_cmpint(g_get_monotonic_time(), <, deadline);
    g_usleep(10000);
  }
}

/* kvctl lock runs its command with the token, and exits with its status; a waiter gets
 * the lock when its holder is killed; --timeout gives up. */
static void test_lock(KvTestBus *bus, gconstpointer data)
{
  g_autoptr(GError) error = NULL;

  read_revision_base();
  static const Step steps[] = {
      {"lock job -- sh -c echo~$KVSTORE_LOCK_NAME~$KVSTORE_LOCK_TOKEN", 0, "job {1}\n", NULL},
      {"lock job sh -c exit~7", 7, "", NULL},
      {"lock job", 2, "", "NAME and a COMMAND"},
      {"lock --timeout soon job true", 2, "", "--timeout takes a duration"},
      {"lock <empty> true", 3, "", "org.example.KVStore.Error.InvalidKey"},
      {"keys .kvstore/", 0, "", NULL},
  };
  run_steps(steps, G_N_ELEMENTS(steps));

  /* A holder that runs cat until its stdin closes, killed while holding the lock. */
  const char *holder_argv[] = {kv_test_getenv("KV_TEST_KVCTL"), "lock", "job", "--", "cat", NULL};
  g_autoptr(GSubprocess) holder = g_subprocess_newv(
      holder_argv, G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_SILENCE, &error);
  g_assert_no_error(error);
  wait_queue_length("job", 1);
  static const Step busy[] = {
      {"lock --timeout 200ms job -- echo never", 4, "", "lock 'job' is still held by another"},
  };
  run_steps(busy, G_N_ELEMENTS(busy));

  const char *waiter_argv[] = {kv_test_getenv("KV_TEST_KVCTL"),
                               "lock",
                               "--timeout",
                               "20s",
                               "job",
                               "--",
                               "echo",
                               "second",
                               NULL};
  g_autoptr(GSubprocess) waiter =
      g_subprocess_newv(waiter_argv, G_SUBPROCESS_FLAGS_STDOUT_PIPE, &error);
  g_assert_no_error(error);
  /* It waits: two places in the queue, the holder's and its own. */
  wait_queue_length("job", 2);
  g_subprocess_force_exit(holder);
  g_autofree char *out = NULL;
  g_subprocess_communicate_utf8(waiter, NULL, NULL, &out, NULL, &error);
  g_assert_no_error(error);
  g_assert_cmpstr(out, ==, "second\n");
  g_assert_cmpint(g_subprocess_get_exit_status(waiter), ==, 0);
  /* The killed holder's cat ends with its stdin. */
  g_output_stream_close(g_subprocess_get_stdin_pipe(holder), NULL, NULL);
}

int main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
#define ADD(path, func)                                                                            \
  g_test_add("/kvctl/" path, KvTestBus, NULL, kvctl_setup, func, kv_test_bus_teardown)
  ADD("commands", test_commands);
  ADD("usage-errors", test_usage_errors);
  ADD("help", test_help);
  ADD("address-option", test_address_option);
  ADD("unreachable-bus", test_unreachable_bus);
  ADD("json-module-missing", test_json_module_missing);
  ADD("habits", test_habits);
  ADD("keys-null", test_keys_null);
  ADD("value-from-input", test_value_from_input);
  ADD("delete-prefix", test_delete_prefix);
  ADD("json-round-trip", test_json_round_trip);
  ADD("json-refused", test_json_refused);
  ADD("load-batches", test_load_batches);
  ADD("write-timeout", test_write_timeout);
  ADD("daemon-gone", test_daemon_gone);
  ADD("progress", test_progress);
  ADD("changes", test_changes);
  ADD("leases", test_leases);
  ADD("lock", test_lock);
  g_test_add("/kvctl/watch-resumes-lost-subscription", KvTestBus, "--in-memory --history-size 200M",
             kvctl_setup, test_watch_resumes_lost_subscription, kv_test_bus_teardown);
#undef ADD
  return g_test_run();
}
