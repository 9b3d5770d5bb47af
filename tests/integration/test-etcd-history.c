/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A randomized history under faults, checked against etcd's own: clients on two hosts set
 * unique values on a few shared keys, compare-and-set them and increment counters, while
 * members are paused, leaders killed, members cut off from their peers, answers lost and
 * kvstored paused or killed (and started again), one fault after another. At the end, etcd's
 * history of the prefix is the witness: every write answered as made is in it exactly once; none
 * answered Conflict or Unavailable is; one answered Indeterminate is at most once; each counter
 * moved by exactly its increments made; and both replicas end equal to etcd.
 * KV_TEST_HISTORY_SECONDS sets how long faults come (20 s unless set: `tools/dev history` runs it
 * for minutes); KV_TEST_HISTORY_SEED repeats a run. */

#include "kv-test-etcd.h"

#include <json-glib/json-glib.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

/* Seconds of faults unless KV_TEST_HISTORY_SECONDS says: fewer under the sanitizers, which
 * make every call slower, to keep the suite within its time. */
#ifdef __SANITIZE_ADDRESS__
#define DEFAULT_SECONDS 10
#else
#define DEFAULT_SECONDS 20
#endif

#define CLIENTS     6
#define SHARED_KEYS 3
#define COUNTERS    2

typedef enum { MADE, NOT_MADE, UNKNOWN } Outcome;

typedef struct {
  GHashTable *values;     /* unique value -> Outcome of the write that carried it */
  guint64 made[COUNTERS]; /* increments answered as made */
  guint64 unknown[COUNTERS];
  guint answers[3];
  guint running;
} Ledger;

typedef struct {
  Fixture *f;
  Ledger *ledger;
  Host *host;
  guint id;
  guint n;
  char *value;   /* of the write out */
  char *value2;  /* a SetMany's second */
  gint counter;  /* of the increment out, or -1 */
  char *cas_key; /* of the compare-and-set being made */
  gboolean stop;
} Client;

static GRand *rng;

static void client_next(Client *client);

static Outcome outcome_of(const GError *error)
{
  if (error == NULL)
    return MADE;
  g_autofree char *remote = g_dbus_error_get_remote_error(error);
  if (g_strcmp0(remote, CONFLICT) == 0 || g_strcmp0(remote, UNAVAILABLE) == 0)
    return NOT_MADE;
  /* kvstored killed with the call in it: it may have sent the write. */
  if (g_strcmp0(remote, INDETERMINATE) == 0 ||
      g_strcmp0(remote, "org.freedesktop.DBus.Error.NoReply") == 0)
    return UNKNOWN;
  /* Sent while kvstored was down: it never had it. */
  if (g_strcmp0(remote, "org.freedesktop.DBus.Error.ServiceUnknown") == 0 ||
      g_strcmp0(remote, "org.freedesktop.DBus.Error.NameHasNoOwner") == 0)
    return NOT_MADE;
  g_error("a write failed with %s: %s", remote, error->message);
}

static void on_answer(GObject *source, GAsyncResult *result, gpointer user_data)
{
  Client *client = user_data;
  Ledger *ledger = client->ledger;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply =
      g_dbus_connection_call_finish(G_DBUS_CONNECTION(source), result, &error);
  Outcome outcome = outcome_of(error);

  ledger->answers[outcome]++;
  if (client->counter >= 0) {
    if (outcome == MADE)
      ledger->made[client->counter]++;
    else if (outcome == UNKNOWN)
      ledger->unknown[client->counter]++;
  }
  if (client->value != NULL)
    g_hash_table_insert(ledger->values, g_steal_pointer(&client->value), GINT_TO_POINTER(outcome));
  if (client->value2 != NULL)
    g_hash_table_insert(ledger->values, g_steal_pointer(&client->value2), GINT_TO_POINTER(outcome));
  client_next(client);
}

static void send(Client *client, const char *method, GVariant *parameters)
{
  g_dbus_connection_call(client->host->connection, KV_BUS_NAME, KV_OBJECT_PATH, KV_INTERFACE,
                         method, parameters, NULL, G_DBUS_CALL_FLAGS_NO_AUTO_START, 60000, NULL,
                         on_answer, client);
}

/* The revision read, then a compare-and-set at it. */
static void on_read_for_cas(GObject *source, GAsyncResult *result, gpointer user_data)
{
  Client *client = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply =
      g_dbus_connection_call_finish(G_DBUS_CONNECTION(source), result, &error);
  guint64 revision = 0;

  if (reply != NULL)
    g_variant_get(reply, "(vt)", NULL, &revision);
  send(client, "CompareAndSet",
       g_variant_new("(stv)", client->cas_key, revision, g_variant_new_string(client->value)));
  g_clear_pointer(&client->cas_key, g_free);
}

static void client_next(Client *client)
{
  if (client->stop) {
    client->ledger->running--;
    return;
  }
  client->n++;
  client->counter = -1;
  client->value = g_strdup_printf("c%u-%u", client->id, client->n);
  g_autofree char *key = g_strdup_printf("s%d", g_rand_int_range(rng, 0, SHARED_KEYS));
  switch (g_rand_int_range(rng, 0, 4)) {
  case 0:
    send(client, "Set", g_variant_new("(sv)", key, g_variant_new_string(client->value)));
    break;
  case 1: {
    g_clear_pointer(&client->value, g_free);
    client->counter = g_rand_int_range(rng, 0, COUNTERS);
    g_autofree char *counter = g_strdup_printf("n%d", client->counter);
    send(client, "Increment", g_variant_new("(sx)", counter, (gint64)1));
    break;
  }
  case 2:
    client->cas_key = g_steal_pointer(&key);
    g_dbus_connection_call(client->host->connection, KV_BUS_NAME, KV_OBJECT_PATH, KV_INTERFACE,
                           "GetWithRevision", g_variant_new("(s)", client->cas_key), NULL,
                           G_DBUS_CALL_FLAGS_NO_AUTO_START, 60000, NULL, on_read_for_cas, client);
    break;
  default: {
    /* Two keys at once, in one transaction. */
    client->value2 = g_strdup_printf("c%u-%u-b", client->id, client->n);
    g_autoptr(GVariantBuilder) batch = g_variant_builder_new(G_VARIANT_TYPE("a{sv}"));
    g_variant_builder_add(batch, "{sv}", "s0", g_variant_new_string(client->value));
    g_variant_builder_add(batch, "{sv}", "s1", g_variant_new_string(client->value2));
    send(client, "SetMany", g_variant_new("(a{sv})", batch));
    break;
  }
  }
}

/* One fault, made and healed. */
typedef enum {
  PAUSE,
  KILL_LEADER,
  CUT_OFF,
  LOSE_ANSWERS,
  PAUSE_KVSTORED,
  KILL_KVSTORED,
  N_FAULTS
} Fault;

static void spin(gint64 usec)
{
  gint64 until = g_get_monotonic_time() + usec;

  while (g_get_monotonic_time() < until)
    if (!g_main_context_iteration(NULL, FALSE))
      g_usleep(1000);
}

static void make_fault(Fixture *f, Fault fault, guint *made)
{
  Etcd *etcd = &f->etcd;
  guint member = (guint)g_rand_int_range(rng, 0, (gint32)etcd->n);
  gint64 lasting = g_rand_int_range(rng, 500, 2500) * 1000;

  /* One fault at a time: the last one's member is back first. */
  for (guint i = 0; i < etcd->n; i++)
    member_wait(&etcd->members[i]);
  made[fault]++;
  switch (fault) {
  case PAUSE:
    g_subprocess_send_signal(etcd->members[member].process, SIGSTOP);
    spin(lasting);
    g_subprocess_send_signal(etcd->members[member].process, SIGCONT);
    break;
  case KILL_LEADER: {
    guint leader = etcd_leader(etcd);
    member_stop(etcd, leader);
    spin(lasting);
    member_spawn(etcd, leader);
    break;
  }
  case CUT_OFF: {
    g_autofree char *from = g_strdup_printf("block-from X-Server-From: %" G_GINT64_MODIFIER "x",
                                            member_id(&etcd->members[member], NULL));
    relay_tell(etcd->members[member].peer_relay, "block");
    for (guint i = 0; i < etcd->n; i++)
      if (i != member)
        relay_tell(etcd->members[i].peer_relay, from);
    spin(lasting);
    for (guint i = 0; i < etcd->n; i++)
      relay_tell(etcd->members[i].peer_relay, "pass");
    break;
  }
  case LOSE_ANSWERS:
    /* On every member: whichever each host writes through. */
    for (guint i = 0; i < etcd->n; i++)
      relay_tell(etcd->members[i].client_relay, "drop-write-answers 3");
    spin(lasting);
    for (guint i = 0; i < etcd->n; i++)
      relay_tell(etcd->members[i].client_relay, "pass");
    break;
  case PAUSE_KVSTORED:
  case KILL_KVSTORED: {
    Host *host = member % 2 == 0 ? &f->a : &f->b;
    if (fault == PAUSE_KVSTORED) {
      g_subprocess_send_signal(host->kvstored, SIGSTOP);
      spin(lasting);
      g_subprocess_send_signal(host->kvstored, SIGCONT);
      break;
    }
    g_subprocess_send_signal(host->kvstored, SIGKILL);
    g_subprocess_wait(host->kvstored, NULL, NULL);
    g_clear_object(&host->kvstored);
    spin(lasting);
    kvstored_start(host, f);
    break;
  }
  case N_FAULTS:
    g_assert_not_reached();
  }
}

/* The newest revision of a key under the prefix (nothing is deleted here: the revision of
 * the prefix's last change). */
static guint64 newest_revision(Fixture *f)
{
  g_autofree char *out = NULL;
  g_autoptr(GSubprocess) etcdctl = g_subprocess_new(
      G_SUBPROCESS_FLAGS_STDOUT_PIPE, NULL, "etcdctl", "--endpoints", f->etcd.members[0].member_url,
      "get", "--prefix", f->prefix, "--sort-by=MODIFY", "--order=DESCEND", "--limit=1",
      "--keys-only", "-w", "json", NULL);

  g_assert_nonnull(etcdctl);
  g_subprocess_communicate_utf8(etcdctl, NULL, NULL, &out, NULL, NULL);
  const char *found = out != NULL ? strstr(out, "\"mod_revision\":") : NULL;
  g_assert_nonnull(found);
  return g_ascii_strtoull(found + strlen("\"mod_revision\":"), NULL, 10);
}

/* The history of the prefix from its first revision to its last change, as etcd's watch
 * gives it: every PUT as (key, value bytes). */
static GPtrArray *read_history(Fixture *f)
{
  guint64 last = newest_revision(f), seen = 0;
  g_autofree char *end = g_strdup(f->prefix);
  end[strlen(end) - 1]++;
  g_autofree char *key64 = g_base64_encode((const guchar *)f->prefix, strlen(f->prefix));
  g_autofree char *end64 = g_base64_encode((const guchar *)end, strlen(end));
  g_autofree char *body = g_strdup_printf(
      "{\"create_request\":{\"key\":\"%s\",\"range_end\":\"%s\",\"start_revision\":\"1\"}}", key64,
      end64);
  g_autofree char *url = g_strconcat(f->etcd.members[0].member_url, "/v3/watch", NULL);
  /* The watch never ends: it is read up to the last change, for a minute at most. */
  g_autoptr(GSubprocess) curl =
      g_subprocess_new(G_SUBPROCESS_FLAGS_STDOUT_PIPE, NULL, "curl", "-s", "-N", "--max-time", "60",
                       "-X", "POST", url, "-d", body, NULL);
  GPtrArray *puts = g_ptr_array_new_with_free_func((GDestroyNotify)g_bytes_unref);

  g_assert_nonnull(curl);
  g_autoptr(GDataInputStream) out = g_data_input_stream_new(g_subprocess_get_stdout_pipe(curl));
  while (seen < last) {
    g_autofree char *line = g_data_input_stream_read_line(out, NULL, NULL, NULL);
    g_autoptr(JsonParser) parser = json_parser_new();
    if (line == NULL)
      g_error("etcd's watch ended at revision %" G_GUINT64_FORMAT ", before %" G_GUINT64_FORMAT,
              seen, last);
    if (line[0] == '\0' || !json_parser_load_from_data(parser, line, -1, NULL))
      continue;
    JsonObject *result =
        json_object_get_object_member(json_node_get_object(json_parser_get_root(parser)), "result");
    if (result == NULL || !json_object_has_member(result, "events"))
      continue;
    JsonArray *events = json_object_get_array_member(result, "events");
    for (guint j = 0; j < json_array_get_length(events); j++) {
      JsonObject *kv =
          json_object_get_object_member(json_array_get_object_element(events, j), "kv");
      gsize key_length, value_length;
      g_autofree guchar *key =
          g_base64_decode(json_object_get_string_member(kv, "key"), &key_length);
      g_autofree guchar *value = g_base64_decode(
          json_object_get_string_member_with_default(kv, "value", ""), &value_length);
      seen =
          MAX(seen, g_ascii_strtoull(json_object_get_string_member(kv, "mod_revision"), NULL, 10));
      /* The prefix itself: kvstored's barrier (each start writes one), no kvstore key. */
      if (key_length == strlen(f->prefix))
        continue;
      g_ptr_array_add(puts, g_bytes_new(key + strlen(f->prefix), key_length - strlen(f->prefix)));
      g_ptr_array_add(puts, g_bytes_new(value, value_length));
      seen =
          MAX(seen, g_ascii_strtoull(json_object_get_string_member(kv, "mod_revision"), NULL, 10));
    }
  }
  g_subprocess_force_exit(curl);
  g_subprocess_wait(curl, NULL, NULL);
  return puts;
}

static void check_history(Fixture *f, Ledger *ledger)
{
  g_autoptr(GPtrArray) puts = read_history(f);
  g_autoptr(GHashTable) seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
  guint64 applied[COUNTERS] = {0};

  for (guint i = 0; i < puts->len; i += 2) {
    gsize key_length, length;
    const char *key = g_bytes_get_data(g_ptr_array_index(puts, i), &key_length);
    const guint8 *value = g_bytes_get_data(g_ptr_array_index(puts, i + 1), &length);
    if (key_length == 2 && key[0] == 'n') {
      gint64 number;
      g_assert_cmpuint(length, ==, 2 + sizeof number);
      memcpy(&number, value + 2, sizeof number);
      guint counter = (guint)(key[1] - '0');
      applied[counter]++;
      /* Each change of a counter is one increment: 1, 2, 3... */
      g_assert_cmpint(number, ==, (gint64)applied[counter]);
      continue;
    }
    /* "s\0VALUE\0": a string. */
    g_assert_cmpuint(length, >, 3);
    g_autofree char *text = g_strndup((const char *)value + 2, length - 3);
    guint count = GPOINTER_TO_UINT(g_hash_table_lookup(seen, text));
    g_hash_table_replace(seen, g_strdup(text), GUINT_TO_POINTER(count + 1));
  }
  GHashTableIter iter;
  gpointer value, outcome;
  g_hash_table_iter_init(&iter, ledger->values);
  while (g_hash_table_iter_next(&iter, &value, &outcome)) {
    guint count = GPOINTER_TO_UINT(g_hash_table_lookup(seen, value));
    if (GPOINTER_TO_INT(outcome) == MADE && count != 1)
      g_error("'%s' was answered as made and is in etcd's history %u times", (char *)value, count);
    if (GPOINTER_TO_INT(outcome) == NOT_MADE && count != 0)
      g_error("'%s' was answered as not made and is in etcd's history %u times", (char *)value,
              count);
    if (count > 1)
      g_error("'%s' is in etcd's history %u times", (char *)value, count);
  }
  g_hash_table_iter_init(&iter, seen);
  while (g_hash_table_iter_next(&iter, &value, NULL))
    if (!g_hash_table_contains(ledger->values, value))
      g_error("'%s' is in etcd's history, but no client wrote it", (char *)value);
  for (guint c = 0; c < COUNTERS; c++) {
    g_test_message("counter n%u: %" G_GUINT64_FORMAT " increments made, %" G_GUINT64_FORMAT
                   " perhaps made, %" G_GUINT64_FORMAT " in etcd",
                   c, ledger->made[c], ledger->unknown[c], applied[c]);
    g_assert_cmpuint(applied[c], >=, ledger->made[c]);
    g_assert_cmpuint(applied[c], <=, ledger->made[c] + ledger->unknown[c]);
  }
}

/* Both replicas hold what etcd holds. */
static void check_replicas(Fixture *f)
{
  wait_for_current(&f->a, TRUE);
  wait_for_current(&f->b, TRUE);
  g_autoptr(GVariant) a = NULL, b = NULL;
  for (int i = 0; i < 100; i++) {
    g_clear_pointer(&a, g_variant_unref);
    g_clear_pointer(&b, g_variant_unref);
    a = call_ok(&f->a, "GetAll", g_variant_new("(s)", ""));
    b = call_ok(&f->b, "GetAll", g_variant_new("(s)", ""));
    if (g_variant_equal(a, b))
      break;
    g_usleep(50 * 1000);
  }
  g_assert_cmpvariant(a, b);
}

static void test_history(Fixture *f, gconstpointer data)
{
  const char *seconds_text = g_getenv("KV_TEST_HISTORY_SECONDS");
  const char *seed_text = g_getenv("KV_TEST_HISTORY_SEED");
  guint seconds = seconds_text != NULL ? (guint)atoi(seconds_text) : DEFAULT_SECONDS;
  guint32 seed =
      seed_text != NULL ? (guint32)g_ascii_strtoull(seed_text, NULL, 10) : g_random_int();
  Ledger ledger = {g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL)};
  Client clients[CLIENTS];
  guint faults[N_FAULTS] = {0};

  g_test_message("seed %u (KV_TEST_HISTORY_SEED repeats it), %u s of faults", seed, seconds);
  rng = g_rand_new_with_seed(seed);
  for (guint i = 0; i < CLIENTS; i++) {
    clients[i] = (Client){f, &ledger, i % 2 == 0 ? &f->a : &f->b, i};
    ledger.running++;
    client_next(&clients[i]);
  }
  gint64 end = g_get_monotonic_time() + (gint64)seconds * G_USEC_PER_SEC;
  while (g_get_monotonic_time() < end) {
    spin(g_rand_int_range(rng, 200, 1000) * 1000);
    make_fault(f, (Fault)g_rand_int_range(rng, 0, N_FAULTS), faults);
  }
  for (guint i = 0; i < f->etcd.n; i++)
    member_wait(&f->etcd.members[i]);
  for (guint i = 0; i < CLIENTS; i++)
    clients[i].stop = TRUE;
  while (ledger.running > 0)
    g_main_context_iteration(NULL, TRUE);
  g_test_message("faults: %u pause, %u kill-leader, %u cut-off, %u lose-answers, %u "
                 "pause-kvstored, %u kill-kvstored; answers: %u made, %u not made (Conflict, "
                 "Unavailable, kvstored not there), %u perhaps made (Indeterminate, kvstored "
                 "killed with the call)",
                 faults[PAUSE], faults[KILL_LEADER], faults[CUT_OFF], faults[LOSE_ANSWERS],
                 faults[PAUSE_KVSTORED], faults[KILL_KVSTORED], ledger.answers[MADE],
                 ledger.answers[NOT_MADE], ledger.answers[UNKNOWN]);
  check_history(f, &ledger);
  check_replicas(f);
  g_hash_table_unref(ledger.values);
  g_rand_free(rng);
}

int main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  if (!etcd_installed())
    return g_test_run();
  static const Cluster three_relayed = {3, NULL, TRUE};
  g_test_add("/etcd-history/randomized", Fixture, &three_relayed, setup, test_history, teardown);
  return g_test_run();
}
