/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Revisions, atomic batches, compare-and-set, change signals, and kvctl's watch, dump and
 * load, against kvstored on a private bus. */

#include "kv-config.h"
#include "kv-test-assert.h"
#include "kv-test-bus.h"
#include "kv-test-values.h"

#include <glib/gstdio.h>
#include <signal.h>
#include <string.h>

#define ERROR_PREFIX "org.example.KVStore.Error."

static guint64 store_revision(KvTestBus *bus)
{
  g_autoptr(GVariant) value = kv_test_get_property(bus->connection, "Revision");

  return g_variant_get_uint64(value);
}

static guint64 key_revision(KvTestBus *bus, const char *key)
{
  g_autoptr(GVariant) reply =
      kv_test_bus_call_ok(bus, "GetWithRevision", g_variant_new("(s)", key));
  g_autoptr(GVariant) value = NULL;
  guint64 revision;

  g_variant_get(reply, "(vt)", &value, &revision);
  return revision;
}

static GVariant *everything(KvTestBus *bus)
{
  g_autoptr(GVariant) reply = kv_test_bus_call_ok(bus, "GetAll", g_variant_new("(s)", ""));

  return g_variant_get_child_value(reply, 0);
}

static GVariant *entries_of(const char *text)
{
  g_autoptr(GError) error = NULL;
  GVariant *entries = g_variant_parse(G_VARIANT_TYPE("a{sv}"), text, NULL, NULL, &error);

  g_assert_no_error(error);
  return entries;
}

/* The parameters of a call taking one a{sv}, from GVariant text. */
static GVariant *entries_parameter(const char *text)
{
  g_autoptr(GVariant) entries = entries_of(text);

  return g_variant_new("(@a{sv})", entries);
}

static void assert_fails(KvTestBus *bus, const char *method, GVariant *parameters,
                         const char *error_name)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = kv_test_bus_call(bus, method, parameters, &error);
  g_autofree char *remote = NULL;

  g_assert_null(reply);
  remote = g_dbus_error_get_remote_error(error);
  g_assert_cmpstr(remote, ==, error_name);
}

static void test_revisions_grow_as_specified(KvTestBus *bus, gconstpointer data)
{
  /* On etcd the cluster's revision: counted from where this store starts. */
  guint64 base = store_revision(bus);
  g_autoptr(GVariant) r1 =
      kv_test_bus_call_ok(bus, "Set", g_variant_new("(sv)", "a", g_variant_new_int32(1)));
  g_assert_cmpuint(store_revision(bus), ==, base + 1);
  /* The same type and value again is still a change. */
  g_autoptr(GVariant) r2 =
      kv_test_bus_call_ok(bus, "Set", g_variant_new("(sv)", "a", g_variant_new_int32(1)));
  g_assert_cmpuint(store_revision(bus), ==, base + 2);
  g_assert_cmpuint(key_revision(bus, "a"), ==, base + 2);
  /* Deleting a missing key is not one. */
  g_autoptr(GVariant) r3 = kv_test_bus_call_ok(bus, "Delete", g_variant_new("(s)", "missing"));
  g_assert_cmpuint(store_revision(bus), ==, base + 2);

  /* A batch is one change: every key of it at the same revision. */
  g_autoptr(GVariant) batch =
      kv_test_bus_call_ok(bus, "SetMany", entries_parameter("{'b': <1>, 'c': <2>, 'd': <3>}"));
  kv_assert_variant_eq(batch, g_variant_new("(t)", base + 3));
  g_assert_cmpuint(key_revision(bus, "b"), ==, base + 3);
  g_assert_cmpuint(key_revision(bus, "d"), ==, base + 3);
  g_assert_cmpuint(key_revision(bus, "a"), ==, base + 2);

  const char *some[] = {"b", "missing", NULL};
  g_autoptr(GVariant) deleted =
      kv_test_bus_call_ok(bus, "DeleteMany", g_variant_new("(^as)", some));
  kv_assert_variant_eq(deleted, g_variant_new("(ut)", 1, base + 4));
  const char *none[] = {"missing", NULL};
  g_autoptr(GVariant) nothing =
      kv_test_bus_call_ok(bus, "DeleteMany", g_variant_new("(^as)", none));
  kv_assert_variant_eq(nothing, g_variant_new("(ut)", 0, base + 4));

  g_autoptr(GVariant) incr =
      kv_test_bus_call_ok(bus, "Increment", g_variant_new("(sx)", "n", (gint64)1));
  g_assert_cmpuint(store_revision(bus), ==, base + 5);
  g_autoptr(GVariant) cas = kv_test_bus_call_ok(
      bus, "CompareAndSet", g_variant_new("(stv)", "n", base + 5, g_variant_new_int64(9)));
  kv_assert_variant_eq(cas, g_variant_new("(t)", base + 6));

  /* Failed calls change nothing, revision included. */
  assert_fails(bus, "CompareAndSet", g_variant_new("(stv)", "n", base + 5, g_variant_new_int64(0)),
               ERROR_PREFIX "Conflict");
  assert_fails(bus, "Set", g_variant_new("(sv)", "", g_variant_new_int32(1)),
               ERROR_PREFIX "InvalidKey");
  g_assert_cmpuint(store_revision(bus), ==, base + 6);

  /* Revisions are kept across a restart (on etcd, each start of a kvstored makes one
   * write of its prefix, the etcd key no kvstore key is: the revision moves by one). */
  kv_test_bus_stop_daemon(bus);
  g_assert_cmpuint(store_revision(bus), ==, base + 6 + (kv_test_on_etcd() ? 1 : 0));
  g_assert_cmpuint(key_revision(bus, "a"), ==, base + 2);
  g_assert_cmpuint(key_revision(bus, "c"), ==, base + 3);
  g_assert_cmpuint(key_revision(bus, "n"), ==, base + 6);
}

static void test_compare_and_delete(KvTestBus *bus, gconstpointer data)
{
  guint64 base = store_revision(bus);
  g_autoptr(GVariant) set =
      kv_test_bus_call_ok(bus, "Set", g_variant_new("(sv)", "k", g_variant_new_int32(1)));

  assert_fails(bus, "CompareAndDelete", g_variant_new("(st)", "k", (guint64)0),
               ERROR_PREFIX "Conflict");
  assert_fails(bus, "CompareAndDelete", g_variant_new("(st)", "k", base + 2),
               ERROR_PREFIX "Conflict");
  g_autoptr(GVariant) deleted =
      kv_test_bus_call_ok(bus, "CompareAndDelete", g_variant_new("(st)", "k", base + 1));
  kv_assert_variant_eq(deleted, g_variant_new("(t)", base + 2));
  /* Expecting a missing key to be missing: true, and no change. */
  g_autoptr(GVariant) absent =
      kv_test_bus_call_ok(bus, "CompareAndDelete", g_variant_new("(st)", "k", (guint64)0));
  kv_assert_variant_eq(absent, g_variant_new("(t)", base + 2));
  /* CompareAndSet with 0 creates only what does not exist. */
  g_autoptr(GVariant) created = kv_test_bus_call_ok(
      bus, "CompareAndSet", g_variant_new("(stv)", "k", (guint64)0, g_variant_new_int32(5)));
  kv_assert_variant_eq(created, g_variant_new("(t)", base + 3));
  assert_fails(bus, "CompareAndSet",
               g_variant_new("(stv)", "k", (guint64)0, g_variant_new_int32(6)),
               ERROR_PREFIX "Conflict");
}

static void test_get_many(KvTestBus *bus, gconstpointer data)
{
  g_autoptr(GVariant) batch =
      kv_test_bus_call_ok(bus, "SetMany", entries_parameter("{'a': <1>, 'b': <'two'>}"));
  const char *keys[] = {"b", "missing", "a", NULL};
  g_autoptr(GVariant) found = kv_test_bus_call_ok(bus, "GetMany", g_variant_new("(^as)", keys));
  g_autoptr(GVariant) expected = entries_of("{'b': <'two'>, 'a': <1>}");

  kv_assert_variant_eq(found, g_variant_new("(@a{sv})", expected));
  const char *bad[] = {"a", "", NULL};
  assert_fails(bus, "GetMany", g_variant_new("(^as)", bad), ERROR_PREFIX "InvalidKey");
}

static void test_bad_batch_changes_nothing(KvTestBus *bus, gconstpointer data)
{
  g_autofree char *long_key = g_strnfill(4097, 'k');
  g_autofree char *big = g_strnfill(1024 * 1024, 'x');
  GVariantBuilder duplicate;

  g_autoptr(GVariant) first =
      kv_test_bus_call_ok(bus, "SetMany", entries_parameter("{'a': <1>, 'b': <2>}"));
  g_autoptr(GVariant) before = everything(bus);
  guint64 revision = store_revision(bus);

  GVariantBuilder with_long_key;
  g_variant_builder_init(&with_long_key, G_VARIANT_TYPE("a{sv}"));
  g_variant_builder_add(&with_long_key, "{sv}", "a", g_variant_new_int32(10));
  g_variant_builder_add(&with_long_key, "{sv}", long_key, g_variant_new_int32(11));
  assert_fails(bus, "SetMany", g_variant_new("(a{sv})", &with_long_key), ERROR_PREFIX "InvalidKey");

  assert_fails(bus, "SetMany", entries_parameter("{'a': <10>, '': <11>}"),
               ERROR_PREFIX "InvalidKey");

  GVariantBuilder with_big;
  g_variant_builder_init(&with_big, G_VARIANT_TYPE("a{sv}"));
  g_variant_builder_add(&with_big, "{sv}", "a", g_variant_new_int32(10));
  g_variant_builder_add(&with_big, "{sv}", "z", g_variant_new_string(big));
  assert_fails(bus, "SetMany", g_variant_new("(a{sv})", &with_big), ERROR_PREFIX "TooLarge");

  g_variant_builder_init(&duplicate, G_VARIANT_TYPE("a{sv}"));
  g_variant_builder_add(&duplicate, "{sv}", "c", g_variant_new_int32(1));
  g_variant_builder_add(&duplicate, "{sv}", "c", g_variant_new_int32(2));
  assert_fails(bus, "SetMany", g_variant_new("(a{sv})", &duplicate), ERROR_PREFIX "InvalidKey");

  const char *keys[] = {"a", "", NULL};
  assert_fails(bus, "DeleteMany", g_variant_new("(^as)", keys), ERROR_PREFIX "InvalidKey");

  g_autoptr(GVariant) after = everything(bus);
  g_assert_cmpvariant(after, before);
  g_assert_cmpuint(store_revision(bus), ==, revision);
}

/* Two clients race CompareAndSet on one key, round after round: exactly one wins each. */
static void test_compare_and_set_race(KvTestBus *bus, gconstpointer data)
{
  enum { ROUNDS = 60 };
  GDBusConnection *connections[2];
  KvTestAnswer answers[2] = {{0}};
  g_autoptr(GError) error = NULL;

  for (int i = 0; i < 2; i++) {
    connections[i] = kv_test_bus_connect(kv_test_bus_address(bus));
  }

  guint64 base = store_revision(bus), revision = 0;
  for (int round = 0; round < ROUNDS; round++) {
    for (int i = 0; i < 2; i++)
      kv_test_call_async(connections[i], "CompareAndSet",
                         g_variant_new("(stv)", "lock", revision, g_variant_new_int32(i)),
                         &answers[i]);
    kv_test_answer_wait(&answers[0]);
    kv_test_answer_wait(&answers[1]);

    int winners = 0;
    for (int i = 0; i < 2; i++) {
      if (answers[i].reply != NULL) {
        winners++;
        g_variant_get(answers[i].reply, "(t)", &revision);
      } else {
        g_autofree char *name = g_dbus_error_get_remote_error(answers[i].error);
        g_assert_cmpstr(name, ==, ERROR_PREFIX "Conflict");
      }
      kv_test_answer_clear(&answers[i]);
    }
    g_assert_cmpint(winners, ==, 1);
  }
  g_assert_cmpuint(key_revision(bus, "lock"), ==, revision);
  g_assert_cmpuint(revision, ==, base + ROUNDS);
  for (int i = 0; i < 2; i++) {
    g_dbus_connection_close_sync(connections[i], NULL, NULL);
    g_object_unref(connections[i]);
  }
}

/* What a signal subscription received, as "revision key value-or-deleted" lines. */
typedef struct {
  GPtrArray *lines;
  guint64 last_revision;
} Received;

static void on_signal(GDBusConnection *connection, const char *sender, const char *path,
                      const char *interface, const char *member, GVariant *parameters,
                      gpointer user_data)
{
  Received *received = user_data;
  g_autoptr(GVariant) value = NULL;
  const char *key;
  guint64 revision;

  if (g_str_equal(member, "Changed"))
    g_variant_get(parameters, "(&svt)", &key, &value, &revision);
  else
    g_variant_get(parameters, "(&st)", &key, &revision);
  g_autofree char *text = value != NULL ? g_variant_print(value, TRUE) : g_strdup("deleted");
  g_ptr_array_add(received->lines,
                  g_strdup_printf("%" G_GUINT64_FORMAT " %s %s", revision, key, text));
  received->last_revision = MAX(received->last_revision, revision);
}

static guint subscribe(KvTestBus *bus, const char *arg0, GDBusSignalFlags flags, Received *received)
{
  received->lines = g_ptr_array_new_with_free_func(g_free);
  received->last_revision = 0;
  guint id =
      g_dbus_connection_signal_subscribe(bus->connection, KV_BUS_NAME, KV_INTERFACE, NULL,
                                         KV_OBJECT_PATH, arg0, flags, on_signal, received, NULL);
  /* kvstored sends signals only where someone subscribed; after the match rule, so
   * that the bus has it before anything is written. */
  g_autoptr(GVariant) reply = kv_test_bus_call_ok(bus, "Subscribe", g_variant_new("(s)", ""));
  return id;
}

static void wait_for_revision(Received *received, guint64 revision)
{
  gint64 deadline = g_get_monotonic_time() + 20 * G_USEC_PER_SEC;

  while (received->last_revision < revision && g_get_monotonic_time() < deadline)
    g_main_context_iteration(NULL, TRUE);
  g_assert_cmpuint(received->last_revision, >=, revision);
}

typedef struct {
  GDBusConnection *connection;
  int in_flight;
} Writer;

static void on_write_reply(GObject *source, GAsyncResult *result, gpointer user_data)
{
  Writer *writer = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = g_dbus_connection_call_finish(writer->connection, result, &error);

  g_assert_no_error(error);
  writer->in_flight--;
}

static void write_async(Writer *writer, const char *method, GVariant *parameters)
{
  writer->in_flight++;
  g_dbus_connection_call(writer->connection, KV_BUS_NAME, KV_OBJECT_PATH, KV_INTERFACE, method,
                         parameters, NULL, G_DBUS_CALL_FLAGS_NONE, -1, NULL, on_write_reply,
                         writer);
}

static void test_watcher_sees_every_change_in_order(KvTestBus *bus, gconstpointer data)
{
  enum { WRITERS = 3, WRITES = 40 };
  Received received;
  Writer writers[WRITERS];
  guint id = subscribe(bus, NULL, G_DBUS_SIGNAL_FLAGS_NONE, &received);
  guint expected_changes = 0;

  for (int w = 0; w < WRITERS; w++) {
    writers[w] = (Writer){NULL, 0};
    writers[w].connection = kv_test_bus_connect(kv_test_bus_address(bus));
  }
  /* All writers at once, many calls in flight: single writes, batches and deletions. */
  for (int i = 0; i < WRITES; i++)
    for (int w = 0; w < WRITERS; w++) {
      g_autofree char *key = g_strdup_printf("w%d/%02d", w, i);
      g_autofree char *other = g_strdup_printf("w%d/%02d-batch", w, i);
      if (i % 5 == 4) {
        GVariantBuilder batch;
        g_variant_builder_init(&batch, G_VARIANT_TYPE("a{sv}"));
        g_variant_builder_add(&batch, "{sv}", other, g_variant_new_int32(i));
        g_variant_builder_add(&batch, "{sv}", key, g_variant_new_int32(i));
        write_async(&writers[w], "SetMany", g_variant_new("(a{sv})", &batch));
        expected_changes += 2;
      } else if (i % 5 == 3) {
        g_autofree char *earlier = g_strdup_printf("w%d/%02d", w, i - 1);
        write_async(&writers[w], "Delete", g_variant_new("(s)", earlier));
        expected_changes += 1;
      } else {
        write_async(&writers[w], "Set", g_variant_new("(sv)", key, g_variant_new_int32(i)));
        expected_changes += 1;
      }
    }
  gboolean busy = TRUE;
  while (busy) {
    g_main_context_iteration(NULL, TRUE);
    busy = FALSE;
    for (int w = 0; w < WRITERS; w++)
      busy = busy || writers[w].in_flight > 0;
  }

  guint64 final = store_revision(bus);
  wait_for_revision(&received, final);
  /* Exactly once each, in revision order; a batch shares a revision, in key order. */
  g_assert_cmpuint(received.lines->len, ==, expected_changes);
  guint64 previous_revision = 0;
  g_autofree char *previous_key = NULL;
  g_autoptr(GHashTable) seen = g_hash_table_new(g_str_hash, g_str_equal);
  for (guint i = 0; i < received.lines->len; i++) {
    const char *line = g_ptr_array_index(received.lines, i);
    g_auto(GStrv) fields = g_strsplit(line, " ", 3);
    guint64 revision = g_ascii_strtoull(fields[0], NULL, 10);
    g_assert_true(g_hash_table_add(seen, (gpointer)line));
    g_assert_cmpuint(revision, >=, previous_revision);
    if (revision == previous_revision)
      g_assert_cmpstr(previous_key, <, fields[1]);
    previous_revision = revision;
    g_free(previous_key);
    previous_key = g_strdup(fields[1]);
  }
  g_assert_cmpuint(previous_revision, ==, final);

  g_dbus_connection_signal_unsubscribe(bus->connection, id);
  g_ptr_array_unref(received.lines);
  for (int w = 0; w < WRITERS; w++) {
    g_dbus_connection_close_sync(writers[w].connection, NULL, NULL);
    g_object_unref(writers[w].connection);
  }
}

/* @line, whose first field is a revision counted from the store's start, with that
 * field counted from @base (the store's revision at the start: on etcd, the cluster's). */
static char *at_revision(guint64 base, const char *line)
{
  char *rest;
  guint64 offset = g_ascii_strtoull(line, &rest, 10);

  return g_strdup_printf("%" G_GUINT64_FORMAT "%s", base + offset, rest);
}

static void assert_line(GPtrArray *lines, guint i, guint64 base, const char *expected)
{
  g_autofree char *line = at_revision(base, expected);

  g_assert_cmpstr(g_ptr_array_index(lines, i), ==, line);
}

static void test_arg0_filters(KvTestBus *bus, gconstpointer data)
{
  guint64 base = store_revision(bus);
  Received under, exact, all;
  guint under_id = subscribe(bus, "app/settings/", G_DBUS_SIGNAL_FLAGS_MATCH_ARG0_PATH, &under);
  guint exact_id = subscribe(bus, "exact", G_DBUS_SIGNAL_FLAGS_NONE, &exact);
  guint all_id = subscribe(bus, NULL, G_DBUS_SIGNAL_FLAGS_NONE, &all);
  const char *keys[] = {
      "app/settings/a", "app/settings/deep/b", "app/settingsX", "app/other", "exact", "exactly"};

  for (gsize i = 0; i < G_N_ELEMENTS(keys); i++) {
    g_autoptr(GVariant) reply = kv_test_bus_call_ok(
        bus, "Set", g_variant_new("(sv)", keys[i], g_variant_new_boolean(TRUE)));
  }
  g_autoptr(GVariant) deleted =
      kv_test_bus_call_ok(bus, "Delete", g_variant_new("(s)", "app/settings/a"));
  /* Signals for one connection arrive in order: once the catch-all saw the last, the
   * filtered subscriptions have seen all they will. */
  wait_for_revision(&all, base + G_N_ELEMENTS(keys) + 1);

  g_assert_cmpuint(under.lines->len, ==, 3);
  assert_line(under.lines, 0, base, "1 app/settings/a true");
  assert_line(under.lines, 1, base, "2 app/settings/deep/b true");
  assert_line(under.lines, 2, base, "7 app/settings/a deleted");
  g_assert_cmpuint(exact.lines->len, ==, 1);
  assert_line(exact.lines, 0, base, "5 exact true");
  g_assert_cmpuint(all.lines->len, ==, G_N_ELEMENTS(keys) + 1);

  g_dbus_connection_signal_unsubscribe(bus->connection, under_id);
  g_dbus_connection_signal_unsubscribe(bus->connection, exact_id);
  g_dbus_connection_signal_unsubscribe(bus->connection, all_id);
  g_ptr_array_unref(under.lines);
  g_ptr_array_unref(exact.lines);
  g_ptr_array_unref(all.lines);
}

static char *run_kvctl(const char *const *args, const char *input, int expected_status)
{
  g_autoptr(GPtrArray) argv = g_ptr_array_new();
  g_autoptr(GError) error = NULL;
  g_autofree char *err = NULL;
  char *out = NULL;

  g_ptr_array_add(argv, (gpointer)kv_test_getenv("KV_TEST_KVCTL"));
  for (gsize i = 0; args[i] != NULL; i++)
    g_ptr_array_add(argv, (gpointer)args[i]);
  g_ptr_array_add(argv, NULL);
  g_autoptr(GSubprocess) process =
      g_subprocess_newv((const char *const *)argv->pdata,
                        G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_PIPE |
                            G_SUBPROCESS_FLAGS_STDERR_PIPE,
                        &error);
  g_assert_no_error(error);
  g_subprocess_communicate_utf8(process, input, NULL, &out, &err, &error);
  g_assert_no_error(error);
  if (g_subprocess_get_exit_status(process) != expected_status)
    g_error("kvctl %s exited %d: %s", args[0], g_subprocess_get_exit_status(process), err);
  return out;
}

/* Empties the store: stops kvstored and removes its state, and deletes every key (on
 * etcd, where the state is the cluster's). Returns the revision it has then: 0, or the
 * cluster's. */
static guint64 start_empty(KvTestBus *bus)
{
  const char *names[] = {"journal", "snapshot", "lock"};

  kv_test_bus_stop_daemon(bus);
  for (gsize i = 0; i < G_N_ELEMENTS(names); i++) {
    g_autofree char *path = g_build_filename(bus->state_dir, names[i], NULL);
    g_unlink(path);
  }
  g_autoptr(GVariant) deleted = kv_test_bus_call_ok(bus, "DeletePrefix", g_variant_new("(s)", ""));
  g_autoptr(GVariant) all = everything(bus);
  g_assert_cmpuint(g_variant_n_children(all), ==, 0);
  return store_revision(bus);
}

static void test_dump_and_load_round_trip(KvTestBus *bus, gconstpointer data)
{
  GVariantBuilder all;

  g_variant_builder_init(&all, G_VARIANT_TYPE("a{sv}"));
  for (gsize i = 0; i < G_N_ELEMENTS(kv_test_values); i++) {
    g_autofree char *key = g_strdup_printf("type/%02zu 'quoted'", i);
    g_autoptr(GVariant) value = g_variant_parse(NULL, kv_test_values[i], NULL, NULL, NULL);
    g_variant_builder_add(&all, "{sv}", key, value);
  }
  g_autoptr(GVariant) set = kv_test_bus_call_ok(bus, "SetMany", g_variant_new("(a{sv})", &all));
  g_autoptr(GVariant) before = everything(bus);
  g_autofree char *dump = run_kvctl((const char *[]){"dump", NULL}, NULL, 0);

  guint64 base = start_empty(bus);
  g_autofree char *revision = run_kvctl((const char *[]){"load", "-", NULL}, dump, 0);
  g_autofree char *expected = at_revision(base, "1\n");
  g_assert_cmpstr(revision, ==, expected);
  g_autoptr(GVariant) after = everything(bus);
  g_assert_cmpvariant(after, before);
}

static void test_json_dump_and_load(KvTestBus *bus, gconstpointer data)
{
  g_autoptr(GVariant) set =
      kv_test_bus_call_ok(bus, "SetMany",
                          entries_parameter("{'int64': <int64 -5>, 'double': <2.5>, 'string': "
                                            "<'text'>, 'bool': <true>, 'int32': <7>}"));
  g_autofree char *json = run_kvctl((const char *[]){"dump", "--json", NULL}, NULL, 0);

  start_empty(bus);
  g_autofree char *revision = run_kvctl((const char *[]){"load", "--json", "-", NULL}, json, 0);
  g_autoptr(GVariant) after = everything(bus);
  /* Every type comes back as it was: the int32 in the tagged form. */
  g_autoptr(GVariant) expected =
      entries_of("{'bool': <true>, 'double': <2.5>, 'int32': <7>, 'int64': <int64 -5>, 'string': "
                 "<'text'>}");
  g_assert_cmpvariant(after, expected);

  g_autofree char *bad = run_kvctl((const char *[]){"load", "--json", "-", NULL}, "[1, 2]", 2);
  g_autofree char *bad_text = run_kvctl((const char *[]){"load", "-", NULL}, "{'a': 1", 2);
}

/* Reads one line from kvctl watch's output, failing after a while. */
static char *read_line(GDataInputStream *in)
{
  g_autoptr(GError) error = NULL;
  char *line = g_data_input_stream_read_line(in, NULL, NULL, &error);

  g_assert_no_error(error);
  g_assert_nonnull(line);
  return line;
}

static void watch_and_check(KvTestBus *bus, const char *prefix, const char *const *expected)
{
  guint64 base = store_revision(bus);
  g_autoptr(GError) error = NULL;
  g_autoptr(GSubprocess) watch =
      g_subprocess_new(G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE, &error,
                       kv_test_getenv("KV_TEST_KVCTL"), "watch", prefix, NULL);
  g_assert_no_error(error);
  g_autoptr(GDataInputStream) out = g_data_input_stream_new(g_subprocess_get_stdout_pipe(watch));
  g_autoptr(GDataInputStream) err = g_data_input_stream_new(g_subprocess_get_stderr_pipe(watch));

  /* kvctl says on stderr when its match rule is in place. */
  g_autofree char *ready = read_line(err);
  g_assert_nonnull(strstr(ready, "watching"));

  g_autoptr(GVariant) batch = kv_test_bus_call_ok(
      bus, "SetMany", entries_parameter("{'app/b': <'x'>, 'app/a': <1>, 'apple': <2>}"));
  g_autoptr(GVariant) deleted = kv_test_bus_call_ok(bus, "Delete", g_variant_new("(s)", "app/a"));
  g_autoptr(GVariant) other =
      kv_test_bus_call_ok(bus, "Set", g_variant_new("(sv)", "zzz", g_variant_new_int32(0)));

  for (gsize i = 0; expected[i] != NULL; i++) {
    g_autofree char *line = read_line(out);
    g_autofree char *expected_line = at_revision(base, expected[i]);
    g_assert_cmpstr(line, ==, expected_line);
  }
  g_subprocess_send_signal(watch, SIGTERM);
  g_subprocess_wait(watch, NULL, &error);
  g_assert_no_error(error);
  g_assert_cmpint(g_subprocess_get_exit_status(watch), ==, 0);
}

static void test_kvctl_watch_under_path(KvTestBus *bus, gconstpointer data)
{
  /* The bus filters: only keys under app/, so not 'apple' nor 'zzz'. */
  const char *expected[] = {"1\tapp/a\t1", "1\tapp/b\t'x'", "2\tapp/a\tdeleted", NULL};

  g_autofree char *pong = run_kvctl((const char *[]){"ping", NULL}, NULL, 0);
  watch_and_check(bus, "app/", expected);
}

static void test_kvctl_watch_prefix(KvTestBus *bus, gconstpointer data)
{
  /* kvctl filters: any key starting with 'app'. */
  const char *expected[] = {"1\tapp/a\t1", "1\tapp/b\t'x'", "1\tapple\t2", "2\tapp/a\tdeleted",
                            NULL};

  g_autofree char *pong = run_kvctl((const char *[]){"ping", NULL}, NULL, 0);
  watch_and_check(bus, "app", expected);
}

int main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
#define ADD(path, func)                                                                            \
  g_test_add("/revisions/" path, KvTestBus, NULL, kv_test_bus_setup, func, kv_test_bus_teardown)
  ADD("grow-as-specified", test_revisions_grow_as_specified);
  ADD("compare-and-delete", test_compare_and_delete);
  ADD("get-many", test_get_many);
  ADD("bad-batch-changes-nothing", test_bad_batch_changes_nothing);
  ADD("compare-and-set-race", test_compare_and_set_race);
  ADD("watcher-sees-every-change-in-order", test_watcher_sees_every_change_in_order);
  ADD("arg0-filters", test_arg0_filters);
  ADD("dump-and-load-round-trip", test_dump_and_load_round_trip);
  ADD("json-dump-and-load", test_json_dump_and_load);
  ADD("kvctl-watch-under-path", test_kvctl_watch_under_path);
  ADD("kvctl-watch-prefix", test_kvctl_watch_prefix);
#undef ADD
  return g_test_run();
}
