/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "kv-test-etcd.h"

#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* A loopback port free now, below the kernel's ephemeral range: one inside it, let go,
 * could be taken by an outgoing connection (of a test beside this one) before the member
 * binds it, or binds it again after a restart (tools/free-port.py does the same). Never
 * one it gave before: a port is let go of until its member binds it, so asking twice
 * could give the same one to two members, and the one that lost the race would never
 * come up. */
guint free_port(void)
{
  static GHashTable *given;
  g_autofree char *ranges = NULL;
  guint lowest_ephemeral = 32768;

  if (given == NULL)
    given = g_hash_table_new(g_direct_hash, g_direct_equal);

  if (g_file_get_contents("/proc/sys/net/ipv4/ip_local_port_range", &ranges, NULL, NULL))
    lowest_ephemeral = MAX((guint)g_ascii_strtoull(ranges, NULL, 10), 10001);
  for (;;) {
    guint port = (guint)g_random_int_range(10000, (gint32)lowest_ephemeral);
    struct sockaddr_in address = {.sin_family = AF_INET,
                                  .sin_port = htons((uint16_t)port),
                                  .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    g_assert_cmpint(fd, >=, 0);
    int r = bind(fd, (struct sockaddr *)&address, sizeof address);
    close(fd);
    if (r == 0 && g_hash_table_add(given, GUINT_TO_POINTER(port)))
      return port;
  }
}

gboolean member_healthy(const Member *member)
{
  g_autoptr(GSubprocess) check =
      g_subprocess_new(G_SUBPROCESS_FLAGS_STDOUT_SILENCE | G_SUBPROCESS_FLAGS_STDERR_SILENCE, NULL,
                       "etcdctl", "--endpoints", member->member_url, "--dial-timeout=1s",
                       "--command-timeout=1s", "endpoint", "health", NULL);

  return check != NULL && g_subprocess_wait_check(check, NULL, NULL);
}

void member_wait(const Member *member)
{
  /* By the clock, not by tries: a try that waits out its timeouts takes seconds. */
  gint64 deadline = g_get_monotonic_time() + 20 * G_USEC_PER_SEC;

  while (!member_healthy(member)) {
    if (g_get_monotonic_time() > deadline)
      g_error("etcd at %s did not come up in 20 s", member->member_url);
    g_usleep(200 * 1000);
  }
}

/* Starts member @i (again, on its data, when it ran before); without waiting for it. */
void member_spawn(Etcd *etcd, guint i)
{
  Member *member = &etcd->members[i];
  g_autoptr(GError) error = NULL;
  g_autofree char *name = g_strdup_printf("m%u", i);
  g_autofree char *data = g_build_filename(member->dir, "data", NULL);

  g_autoptr(GStrvBuilder) argv = g_strv_builder_new();
  const char *const common[] = {"etcd",
                                "--name",
                                name,
                                "--data-dir",
                                data,
                                "--listen-client-urls",
                                member->member_url,
                                "--advertise-client-urls",
                                member->member_url,
                                "--listen-peer-urls",
                                member->listen_peer,
                                "--initial-advertise-peer-urls",
                                member->peer_url,
                                "--initial-cluster",
                                etcd->initial,
                                "--initial-cluster-token",
                                "kvstore-test",
                                NULL};

  g_strv_builder_addv(argv, (const char **)common);
  if (etcd->options != NULL)
    g_strv_builder_addv(argv, (const char **)etcd->options);
  g_auto(GStrv) args = g_strv_builder_end(argv);
  member->process = g_subprocess_newv(
      (const char *const *)args,
      G_SUBPROCESS_FLAGS_STDOUT_SILENCE | G_SUBPROCESS_FLAGS_STDERR_SILENCE, &error);
  g_assert_no_error(error);
}

guint url_port(const char *url)
{
  return (guint)g_ascii_strtoull(strrchr(url, ':') + 1, NULL, 10);
}

Relay *relay_start(guint listen_port, const char *target_url)
{
  Relay *relay = g_new0(Relay, 1);
  g_autoptr(GError) error = NULL;
  g_autofree char *listen = g_strdup_printf("%u", listen_port);
  g_autofree char *target = g_strdup_printf("%u", url_port(target_url));
  g_autofree char *ready = NULL;

  relay->process =
      g_subprocess_new(G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_PIPE, &error,
                       kv_test_getenv("KV_TEST_FAULT_RELAY"), listen, target, NULL);
  g_assert_no_error(error);
  relay->out = g_data_input_stream_new(g_subprocess_get_stdout_pipe(relay->process));
  ready = g_data_input_stream_read_line(relay->out, NULL, NULL, &error);
  g_assert_no_error(error);
  g_assert_cmpstr(ready, ==, "ok");
  return relay;
}

void relay_tell(Relay *relay, const char *command)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *line = g_strdup_printf("%s\n", command);
  g_autofree char *answer = NULL;

  g_output_stream_write_all(g_subprocess_get_stdin_pipe(relay->process), line, strlen(line), NULL,
                            NULL, &error);
  g_assert_no_error(error);
  answer = g_data_input_stream_read_line(relay->out, NULL, NULL, &error);
  g_assert_no_error(error);
  g_assert_cmpstr(answer, ==, "ok");
}

static void relay_free(Relay *relay)
{
  if (relay == NULL)
    return;
  g_subprocess_force_exit(relay->process);
  g_subprocess_wait(relay->process, NULL, NULL);
  g_object_unref(relay->out);
  g_object_unref(relay->process);
  g_free(relay);
}

void etcd_start(Etcd *etcd, guint n, const char *const *options)
{
  g_autoptr(GPtrArray) urls = g_ptr_array_new();
  g_autoptr(GPtrArray) peers = g_ptr_array_new_with_free_func(g_free);
  g_autoptr(GError) error = NULL;

  etcd->n = n;
  etcd->options = options;
  for (guint i = 0; i < n; i++) {
    Member *member = &etcd->members[i];
    member->dir = g_dir_make_tmp("kvstore-etcd-XXXXXX", &error);
    g_assert_no_error(error);
    member->member_url = g_strdup_printf("http://127.0.0.1:%u", free_port());
    member->listen_peer = g_strdup_printf("http://127.0.0.1:%u", free_port());
    if (etcd->relayed) {
      guint client_port = free_port(), peer_port = free_port();
      member->client_relay = relay_start(client_port, member->member_url);
      member->peer_relay = relay_start(peer_port, member->listen_peer);
      member->url = g_strdup_printf("http://127.0.0.1:%u", client_port);
      member->peer_url = g_strdup_printf("http://127.0.0.1:%u", peer_port);
    } else {
      member->url = g_strdup(member->member_url);
      member->peer_url = g_strdup(member->listen_peer);
    }
    g_ptr_array_add(urls, member->url);
    g_ptr_array_add(peers, g_strdup_printf("m%u=%s", i, member->peer_url));
  }
  g_ptr_array_add(urls, NULL);
  g_ptr_array_add(peers, NULL);
  etcd->urls = g_strjoinv(",", (char **)urls->pdata);
  etcd->initial = g_strjoinv(",", (char **)peers->pdata);
  /* All at once: a member of three is healthy only once it has a quorum. */
  for (guint i = 0; i < n; i++)
    member_spawn(etcd, i);
  for (guint i = 0; i < n; i++)
    member_wait(&etcd->members[i]);
}

void member_stop(Etcd *etcd, guint i)
{
  Member *member = &etcd->members[i];

  g_subprocess_send_signal(member->process, SIGKILL);
  g_subprocess_wait(member->process, NULL, NULL);
  g_clear_object(&member->process);
}

void member_restart(Etcd *etcd, guint i)
{
  member_spawn(etcd, i);
  member_wait(&etcd->members[i]);
}

void etcd_free(Etcd *etcd)
{
  for (guint i = 0; i < etcd->n; i++) {
    Member *member = &etcd->members[i];
    if (member->process != NULL)
      member_stop(etcd, i);
    relay_free(member->client_relay);
    relay_free(member->peer_relay);
    kv_test_remove_tree(member->dir);
    g_free(member->dir);
    g_free(member->url);
    g_free(member->member_url);
    g_free(member->peer_url);
    g_free(member->listen_peer);
  }
  g_free(etcd->urls);
  g_free(etcd->initial);
}

gboolean name_has_owner(Host *host)
{
  g_autoptr(GVariant) reply = g_dbus_connection_call_sync(
      host->connection, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
      "NameHasOwner", g_variant_new("(s)", KV_BUS_NAME), G_VARIANT_TYPE("(b)"),
      G_DBUS_CALL_FLAGS_NONE, 1000, NULL, NULL);
  gboolean owned = FALSE;

  if (reply != NULL)
    g_variant_get(reply, "(b)", &owned);
  return owned;
}

/* kvstored on @host's bus, on the cluster; writes time out after 5 s (the default): time
 * for a member's fsync on a busy machine; on three members 10 s, time for a new leader
 * when the machine is so busy that heartbeats come late. */
/* kvstored on @host's bus with @flags (stderr piped, say) and one more option, @option
 * @value (NULL: none); without waiting for it. */
GSubprocess *kvstored_spawn(Host *host, const Fixture *f, GSubprocessFlags flags,
                            const char *option, const char *value)
{
  g_autoptr(GSubprocessLauncher) launcher = g_subprocess_launcher_new(flags);
  g_autoptr(GError) error = NULL;

  g_subprocess_launcher_setenv(launcher, "DBUS_SESSION_BUS_ADDRESS", host->address, TRUE);
  GSubprocess *process = g_subprocess_launcher_spawn(
      launcher, &error, kv_test_getenv("KV_TEST_KVSTORED"), "--session", "--etcd",
      host->etcd_urls != NULL ? host->etcd_urls : f->etcd.urls, "--etcd-prefix", f->prefix,
      "--etcd-timeout", f->etcd.n == 1 ? "5" : "10", option, value, NULL);
  g_assert_no_error(error);
  return process;
}

void kvstored_start(Host *host, const Fixture *f)
{
  host->kvstored = kvstored_spawn(host, f, G_SUBPROCESS_FLAGS_NONE, host->option, NULL);
  gint64 deadline = g_get_monotonic_time() + 15 * G_USEC_PER_SEC;

  while (!name_has_owner(host)) {
    if (g_get_monotonic_time() > deadline)
      g_error("kvstored did not take its name in 15 s");
    g_usleep(50 * 1000);
  }
}

void kvstored_stop(Host *host)
{
  g_subprocess_send_signal(host->kvstored, SIGTERM);
  g_subprocess_wait(host->kvstored, NULL, NULL);
  g_assert_true(g_subprocess_get_if_exited(host->kvstored));
  g_assert_cmpint(g_subprocess_get_exit_status(host->kvstored), ==, 0);
  g_clear_object(&host->kvstored);
}

void host_start(Host *host, const Fixture *f)
{
  g_autoptr(GError) error = NULL;

  host->dir = g_dir_make_tmp("kvstore-host-XXXXXX", &error);
  g_assert_no_error(error);
  g_autofree char *config = g_build_filename(host->dir, "bus.conf", NULL);
  g_autofree char *text = g_strdup_printf(
      "<busconfig><type>session</type><listen>unix:dir=%s</listen><auth>EXTERNAL</auth>"
      "<policy context=\"default\"><allow send_destination=\"*\" eavesdrop=\"true\"/>"
      "<allow eavesdrop=\"true\"/><allow own=\"*\"/></policy></busconfig>",
      host->dir);
  g_file_set_contents(config, text, -1, &error);
  g_assert_no_error(error);
  g_autofree char *config_option = g_strdup_printf("--config-file=%s", config);
  host->bus = g_subprocess_new(G_SUBPROCESS_FLAGS_STDOUT_PIPE, &error, "dbus-daemon", config_option,
                               "--print-address=1", "--nofork", NULL);
  g_assert_no_error(error);
  g_autoptr(GDataInputStream) out =
      g_data_input_stream_new(g_subprocess_get_stdout_pipe(host->bus));
  host->address = g_data_input_stream_read_line(out, NULL, NULL, &error);
  g_assert_no_error(error);
  host->connection =
      g_dbus_connection_new_for_address_sync(host->address,
                                             G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT |
                                                 G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
                                             NULL, NULL, &error);
  g_assert_no_error(error);
  kvstored_start(host, f);
}

void host_stop(Host *host)
{
  if (host->kvstored != NULL)
    kvstored_stop(host);
  g_dbus_connection_close_sync(host->connection, NULL, NULL);
  g_clear_object(&host->connection);
  g_subprocess_force_exit(host->bus);
  g_subprocess_wait(host->bus, NULL, NULL);
  g_clear_object(&host->bus);
  g_clear_pointer(&host->address, g_free);
  kv_test_remove_tree(host->dir);
  g_clear_pointer(&host->dir, g_free);
  g_clear_pointer(&host->etcd_urls, g_free);
}

void setup(Fixture *f, gconstpointer data)
{
  const Cluster *cluster = data;

  f->prefix = g_strdup_printf("/kvstore-test-%08x/", g_random_int());
  f->etcd.relayed = cluster != NULL && cluster->relayed;
  /* Each step said, so that a setup that hangs (CI run 64: etcd-history, no output in
   * 120 s) shows where. */
  gint64 start = g_get_monotonic_time();
  etcd_start(&f->etcd, cluster != NULL ? cluster->members : 1,
             cluster != NULL ? cluster->options : NULL);
  g_test_message("etcd: %u members up in %.1f s at %s", f->etcd.n,
                 (g_get_monotonic_time() - start) / 1e6, f->etcd.urls);
  host_start(&f->a, f);
  host_start(&f->b, f);
  g_test_message("kvstored A and B serving after %.1f s", (g_get_monotonic_time() - start) / 1e6);
}

void teardown(Fixture *f, gconstpointer data)
{
  host_stop(&f->a);
  host_stop(&f->b);
  etcd_free(&f->etcd);
  g_free(f->prefix);
}

GVariant *call(Host *host, const char *method, GVariant *parameters, GError **error)
{
  return g_dbus_connection_call_sync(host->connection, KV_BUS_NAME, KV_OBJECT_PATH, KV_INTERFACE,
                                     method, parameters, NULL, G_DBUS_CALL_FLAGS_NO_AUTO_START,
                                     30000, NULL, error);
}

GVariant *call_ok(Host *host, const char *method, GVariant *parameters)
{
  g_autoptr(GError) error = NULL;
  GVariant *reply = call(host, method, parameters, &error);

  g_assert_no_error(error);
  return reply;
}

void assert_remote_error(const GError *error, const char *name)
{
  g_assert_nonnull(error);
  g_autofree char *remote = g_dbus_error_get_remote_error(error);
  g_assert_cmpstr(remote, ==, name);
}

static void on_signal(GDBusConnection *connection, const char *sender, const char *path,
                      const char *interface, const char *member, GVariant *parameters,
                      gpointer user_data)
{
  Watcher *watcher = user_data;

  g_ptr_array_add(watcher->seen, g_variant_print(parameters, FALSE));
}

/* Spins until @watcher has seen @n signals, or fails after 10 s. */
void wait_for_signals(Watcher *watcher, guint n)
{
  gint64 deadline = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;

  while (watcher->seen->len < n) {
    if (g_get_monotonic_time() > deadline)
      g_error("saw %u signals in 10 s, not %u", watcher->seen->len, n);
    g_main_context_iteration(NULL, FALSE);
    g_usleep(1000);
  }
}

guint watch(Host *host, const char *member, const char *subscribe, Watcher *watcher)
{
  g_autoptr(GVariant) reply = call_ok(host, subscribe, g_variant_new("(s)", ""));

  watcher->seen = g_ptr_array_new_with_free_func(g_free);
  return g_dbus_connection_signal_subscribe(host->connection, NULL, KV_INTERFACE, member,
                                            KV_OBJECT_PATH, NULL, G_DBUS_SIGNAL_FLAGS_NONE,
                                            on_signal, watcher, NULL);
}

static void on_raced(GObject *source, GAsyncResult *result, gpointer user_data)
{
  Race *race = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply =
      g_dbus_connection_call_finish(G_DBUS_CONNECTION(source), result, &error);

  race->answered++;
  if (reply != NULL) {
    race->succeeded++;
    return;
  }
  g_autofree char *remote = g_dbus_error_get_remote_error(error);
  if (g_strcmp0(remote, CONFLICT) == 0)
    race->conflicts++;
  else
    g_ptr_array_add(race->errors, g_strdup(error->message));
}

void race_call(Host *host, const char *method, GVariant *parameters, Race *race)
{
  g_dbus_connection_call(host->connection, KV_BUS_NAME, KV_OBJECT_PATH, KV_INTERFACE, method,
                         parameters, NULL, G_DBUS_CALL_FLAGS_NO_AUTO_START, 20000, NULL, on_raced,
                         race);
}

void race_wait(Race *race, guint n)
{
  while (race->answered < n)
    g_main_context_iteration(NULL, TRUE);
  for (guint i = 0; i < race->errors->len; i++)
    g_test_message("%s", (const char *)g_ptr_array_index(race->errors, i));
  g_assert_cmpuint(race->errors->len, ==, 0);
}

/* Waits up to 10 s for @host's Keys("") to be @expected (GVariant text), then checks it. */
void wait_for_keys(Host *host, const char *expected_text)
{
  g_autoptr(GVariant) expected = g_variant_ref_sink(g_variant_new_parsed(expected_text));
  g_autoptr(GVariant) keys = NULL;

  for (int i = 0; i < 200; i++) {
    g_clear_pointer(&keys, g_variant_unref);
    keys = call_ok(host, "Keys", g_variant_new("(s)", ""));
    if (g_variant_equal(keys, expected))
      break;
    g_usleep(50 * 1000);
  }
  g_assert_cmpvariant(keys, expected);
}

/* The number of keys @host lists under @prefix. */
guint count_keys(Host *host, const char *prefix)
{
  g_autoptr(GVariant) keys = call_ok(host, "Keys", g_variant_new("(s)", prefix));
  g_autoptr(GVariant) listed = g_variant_get_child_value(keys, 0);

  return (guint)g_variant_n_children(listed);
}

gboolean replica_current(Host *host)
{
  g_autoptr(GVariant) value = kv_test_get_property(host->connection, "ReplicaCurrent");

  return g_variant_get_boolean(value);
}

/* Waits up to 10 s for @host's ReplicaCurrent to be @expected. */
void wait_for_current(Host *host, gboolean expected)
{
  for (int i = 0; replica_current(host) != expected; i++) {
    if (i == 200)
      g_error("ReplicaCurrent did not become %d in 10 s", expected);
    g_usleep(50 * 1000);
  }
}

/* A number member @name of the JSON @text, which etcdctl prints unquoted; 0 when absent. */
static guint64 json_number(const char *text, const char *name)
{
  g_autofree char *pattern = g_strdup_printf("\"%s\":", name);
  const char *found = strstr(text, pattern);

  return found != NULL ? g_ascii_strtoull(found + strlen(pattern), NULL, 10) : 0;
}

/* What etcdctl prints for @args against @member, or NULL when it fails. */
static char *etcdctl(const Member *member, const char *const *args)
{
  g_autoptr(GPtrArray) argv = g_ptr_array_new();
  g_autofree char *out = NULL;

  g_ptr_array_add(argv, (gpointer) "etcdctl");
  g_ptr_array_add(argv, (gpointer) "--endpoints");
  g_ptr_array_add(argv, member->member_url);
  g_ptr_array_add(argv, (gpointer) "--command-timeout=3s");
  for (guint i = 0; args[i] != NULL; i++)
    g_ptr_array_add(argv, (gpointer)args[i]);
  g_ptr_array_add(argv, NULL);
  g_autoptr(GSubprocess) process =
      g_subprocess_newv((const char *const *)argv->pdata,
                        G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_SILENCE, NULL);
  if (process == NULL || !g_subprocess_communicate_utf8(process, NULL, NULL, &out, NULL, NULL) ||
      !g_subprocess_get_successful(process))
    return NULL;
  return g_steal_pointer(&out);
}

/* What etcdctl prints for @args against any member that runs and answers. */
static char *etcdctl_any(const Fixture *f, const char *const *args)
{
  for (guint i = 0; i < f->etcd.n; i++) {
    if (f->etcd.members[i].process == NULL)
      continue;
    char *out = etcdctl(&f->etcd.members[i], args);
    if (out != NULL)
      return out;
  }
  g_error("no etcd member answered etcdctl %s %s", args[0], args[1]);
}

guint64 etcd_key_version(const Fixture *f, const char *key)
{
  g_autofree char *etcd_key = g_strconcat(f->prefix, key, NULL);
  const char *const args[] = {"get", etcd_key, "-w", "json", NULL};
  g_autofree char *out = etcdctl_any(f, args);

  return json_number(out, "version");
}

GHashTable *etcd_versions(const Fixture *f, const char *start)
{
  g_autofree char *etcd_start = g_strconcat(f->prefix, start, NULL);
  const char *const args[] = {"get", "--prefix", etcd_start, "-w", "json", NULL};
  g_autofree char *out = etcdctl_any(f, args);
  g_autoptr(JsonParser) parser = json_parser_new();
  GHashTable *versions = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);

  g_assert_true(json_parser_load_from_data(parser, out, -1, NULL));
  JsonObject *root = json_node_get_object(json_parser_get_root(parser));
  JsonArray *kvs =
      json_object_has_member(root, "kvs") ? json_object_get_array_member(root, "kvs") : NULL;
  for (guint i = 0; kvs != NULL && i < json_array_get_length(kvs); i++) {
    JsonObject *kv = json_array_get_object_element(kvs, i);
    gsize length;
    g_autofree guchar *key = g_base64_decode(json_object_get_string_member(kv, "key"), &length);
    g_autofree char *text = g_strndup((const char *)key, length);
    g_hash_table_insert(versions, g_strdup(text + strlen(f->prefix)),
                        GUINT_TO_POINTER((guint)json_object_get_int_member(kv, "version")));
  }
  return versions;
}

guint64 member_id(const Member *member, guint64 *out_leader)
{
  const char *const args[] = {"endpoint", "status", "-w", "json", NULL};
  g_autofree char *out = etcdctl(member, args);

  g_assert_nonnull(out);
  if (out_leader != NULL)
    *out_leader = json_number(out, "leader");
  return json_number(out, "member_id");
}

guint etcd_leader(const Etcd *etcd)
{
  /* Between two leaders, none: asked again for up to 10 s. */
  for (int attempt = 0; attempt < 100; attempt++) {
    guint64 leader;
    member_id(&etcd->members[0], &leader);
    for (guint i = 0; i < etcd->n; i++)
      if (leader != 0 && member_id(&etcd->members[i], NULL) == leader)
        return i;
    g_usleep(100 * 1000);
  }
  g_error("no member leads");
}

gboolean etcd_installed(void)
{
  g_autofree char *etcd = g_find_program_in_path("etcd");

  if (etcd == NULL)
    g_test_skip("etcd is not installed (Debian: etcd-server)");
  return etcd != NULL;
}
