/* kvctl end to end: output and exit status of each command against a real kvstored. */

#include "kv-config.h"
#include "kv-test-bus.h"

#include <glib/gstdio.h>
#include <string.h>

typedef struct {
  const char *args; /* split on spaces; ~ is a space inside an argument, <empty> an empty one */
  int status;
  const char *out;      /* exact stdout, NULL to ignore */
  const char *err_part; /* part of stderr, NULL for empty stderr */
} Step;

static void run_kvctl(const char *const *argv, int *status, char **out, char **err)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) full = g_ptr_array_new();

  g_ptr_array_add(full, (gpointer)kv_test_getenv("KV_TEST_KVCTL"));
  for (gsize i = 0; argv[i] != NULL; i++)
    g_ptr_array_add(full, (gpointer)argv[i]);
  g_ptr_array_add(full, NULL);

  g_autoptr(GSubprocess) process =
      g_subprocess_newv((const char *const *)full->pdata,
                        G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE, &error);
  g_assert_no_error(error);
  g_subprocess_communicate_utf8(process, NULL, NULL, out, err, &error);
  g_assert_no_error(error);
  g_assert_true(g_subprocess_get_if_exited(process));
  *status = g_subprocess_get_exit_status(process);
}

static void run_steps(const Step *steps, gsize n_steps)
{
  for (gsize i = 0; i < n_steps; i++) {
    g_auto(GStrv) argv = g_strsplit(steps[i].args, " ", -1);
    g_autofree char *out = NULL;
    g_autofree char *err = NULL;
    int status;

    for (gsize a = 0; argv[a] != NULL; a++) {
      g_strdelimit(argv[a], "~", ' ');
      if (g_str_equal(argv[a], "<empty>"))
        argv[a][0] = '\0';
    }
    g_test_message("kvctl %s", steps[i].args);
    run_kvctl((const char *const *)argv, &status, &out, &err);

    g_assert_cmpint(status, ==, steps[i].status);
    if (steps[i].out != NULL)
      g_assert_cmpstr(out, ==, steps[i].out);
    if (steps[i].err_part == NULL)
      g_assert_cmpstr(err, ==, "");
    else if (strstr(err, steps[i].err_part) == NULL)
      g_error("stderr '%s' does not contain '%s'", err, steps[i].err_part);
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
      {"get fresh --revision", 0, "6\t1\n", NULL},
      {"cas fresh 5 stale", 4, "", "Key 'fresh' is at revision 6, not 5"},
      {"cas --type int64 fresh 6 2", 0, "12\n", NULL},
      {"cas new-key 0 first", 0, "13\n", NULL},
      {"set-many a=1 b=2", 0, "14\n", NULL},
      {"set-many --type int32 a=3 b=x", 2, "", "Cannot read the value"},
      {"set-many a", 2, "", "is not KEY=VALUE"},
      {"get a", 0, "1\n", NULL},
      {"del greeting missing counter", 0, "2\n", NULL},
      {"get greeting", 1, "", "not found"},
      {"set <empty> value", 3, "", "org.example.KVStore.Error.InvalidKey"},
  };

  run_steps(steps, G_N_ELEMENTS(steps));
}

static void test_usage_errors(KvTestBus *bus, gconstpointer data)
{
  static const Step steps[] = {
      {"frobnicate", 2, "", "unknown command 'frobnicate'"},
      {"get", 2, "", "usage: get KEY [--revision]"},
      {"get a b", 2, "", "usage: get KEY [--revision]"},
      {"set onlykey", 2, "", "usage: set"},
      {"set --type float k 1", 2, "", "Unknown type 'float'"},
      {"set --type int32 k five", 2, "", "Cannot read the value"},
      {"set --type int32 --gvariant k 5", 2, "", "exclude each other"},
      {"set --gvariant k just~5", 2, "", "maybe"},
      {"incr k notanumber", 2, "", "not an int64"},
      {"del", 2, "", "usage: del KEY..."},
      {"keys a b", 2, "", "usage: keys [PREFIX]"},
      {"cas k notanumber v", 2, "", "not a revision number"},
      {"cas k 1", 2, "", "usage: cas"},
      {"get --bogus k", 2, "", "Unknown option"},
      {"dump a b", 2, "", "usage: dump"},
      {"load", 2, "", "usage: load"},
      {"load /nonexistent/dump", 2, "", "No such file"},
      {"watch a b", 2, "", "usage: watch"},
      {"ping extra", 2, "", "usage: ping"},
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
  g_assert_nonnull(strstr(out, "incr KEY [DELTA]"));
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

int main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
#define ADD(path, func)                                                                            \
  g_test_add("/kvctl/" path, KvTestBus, NULL, kv_test_bus_setup, func, kv_test_bus_teardown)
  ADD("commands", test_commands);
  ADD("usage-errors", test_usage_errors);
  ADD("help", test_help);
  ADD("address-option", test_address_option);
  ADD("unreachable-bus", test_unreachable_bus);
  ADD("json-module-missing", test_json_module_missing);
#undef ADD
  return g_test_run();
}
