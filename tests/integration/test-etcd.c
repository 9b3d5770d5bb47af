/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Two hosts, each a private bus with its own kvstored, sharing one etcd member started on
 * loopback ports in a temporary directory: one store for both. */

#include "kv-test-etcd.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>

/* A write on A is read on B once B's Changed has come, at the revision A was told. */
static void test_write_on_one_read_on_other(Fixture *f, gconstpointer data)
{
  Watcher watcher;
  guint id = watch(&f->b, "Changed", "Subscribe", &watcher);
  g_autoptr(GVariant) set = call_ok(
      &f->a, "CompareAndSet", g_variant_new("(stv)", "shared", (guint64)0, g_variant_new_int32(7)));
  guint64 revision;

  g_variant_get(set, "(t)", &revision);
  wait_for_signals(&watcher, 1);
  g_autofree char *expected = g_strdup_printf("('shared', <7>, %" G_GUINT64_FORMAT ")", revision);
  g_assert_cmpstr(g_ptr_array_index(watcher.seen, 0), ==, expected);
  g_autoptr(GVariant) read = call_ok(&f->b, "GetWithRevision", g_variant_new("(s)", "shared"));
  g_autoptr(GVariant) expected_read =
      g_variant_ref_sink(g_variant_new("(vt)", g_variant_new_int32(7), revision));
  g_assert_cmpvariant(read, expected_read);
  g_dbus_connection_signal_unsubscribe(f->b.connection, id);
  g_ptr_array_unref(watcher.seen);
}

/* CompareAndSet from both hosts at the same revision: exactly one wins. */
static void test_compare_and_set_race(Fixture *f, gconstpointer data)
{
  for (int round = 0; round < 10; round++) {
    g_autofree char *key = g_strdup_printf("race%d", round);
    g_autoptr(GVariant) set = call_ok(&f->a, "SetMany", g_variant_new_parsed("({%s: <0>},)", key));
    guint64 revision;
    g_variant_get(set, "(t)", &revision);
    /* B must know the key at that revision too. */
    g_autoptr(GVariant) seen = NULL;
    for (int i = 0; seen == NULL && i < 1000; i++) {
      g_autoptr(GVariant) reply = call_ok(&f->b, "Exists", g_variant_new("(s)", key));
      gboolean exists;
      g_variant_get(reply, "(b)", &exists);
      if (exists)
        seen = g_steal_pointer(&reply);
      else
        g_usleep(1000);
    }
    g_assert_nonnull(seen);
    Race race = {0, 0, 0, g_ptr_array_new_with_free_func(g_free)};
    race_call(&f->a, "CompareAndSet",
              g_variant_new("(stv)", key, revision, g_variant_new_string("by a")), &race);
    race_call(&f->b, "CompareAndSet",
              g_variant_new("(stv)", key, revision, g_variant_new_string("by b")), &race);
    race_wait(&race, 2);
    g_assert_cmpuint(race.succeeded, ==, 1);
    g_assert_cmpuint(race.conflicts, ==, 1);
    g_ptr_array_unref(race.errors);
  }
}

/* Increments from both hosts at once: none is lost. */
static void test_increments_sum(Fixture *f, gconstpointer data)
{
  const guint per_host = 100;
  Race race = {0, 0, 0, g_ptr_array_new_with_free_func(g_free)};

  for (guint i = 0; i < per_host; i++) {
    race_call(&f->a, "Increment", g_variant_new("(sx)", "counter", (gint64)1), &race);
    race_call(&f->b, "Increment", g_variant_new("(sx)", "counter", (gint64)1), &race);
  }
  race_wait(&race, 2 * per_host);
  g_assert_cmpuint(race.succeeded, ==, 2 * per_host);
  g_autoptr(GVariant) value = call_ok(&f->a, "Get", g_variant_new("(s)", "counter"));
  g_autoptr(GVariant) expected =
      g_variant_ref_sink(g_variant_new("(v)", g_variant_new_int64((gint64)(2 * per_host))));
  g_assert_cmpvariant(value, expected);
  g_ptr_array_unref(race.errors);
}

/* TCP connections to @port on loopback that this machine closed and keeps in TIME_WAIT. */
static guint closed_connections_to(guint port)
{
  g_autofree char *table = NULL;
  guint n = 0;

  g_assert_true(g_file_get_contents("/proc/net/tcp", &table, NULL, NULL));
  g_auto(GStrv) lines = g_strsplit(table, "\n", -1);
  for (guint i = 1; lines[i] != NULL; i++) {
    unsigned int remote_port, state;
    if (sscanf(lines[i], " %*u: %*x:%*x %*x:%x %x", &remote_port, &state) == 2 &&
        remote_port == port && state == 0x06)
      n++;
  }
  return n;
}

/* Bursts of writes and quiet between them: kvstored keeps its connections to etcd for
 * the next burst instead of closing most of them after each (curl's default cache holds
 * four per request in progress), which would use up the machine's ephemeral ports
 * under a steady load. */
static void test_connections_reused(Fixture *f, gconstpointer data)
{
  guint port = url_port(f->etcd.members[0].url);
  guint before = closed_connections_to(port);

  for (int burst = 0; burst < 5; burst++) {
    Race race = {0, 0, 0, g_ptr_array_new_with_free_func(g_free)};
    for (int i = 0; i < 32; i++) {
      g_autofree char *key = g_strdup_printf("burst%d", i);
      race_call(&f->a, "Set", g_variant_new("(sv)", key, g_variant_new_int32(burst)), &race);
    }
    race_wait(&race, 32);
    g_assert_cmpuint(race.succeeded, ==, 32);
    g_ptr_array_unref(race.errors);
  }
  guint closed = closed_connections_to(port) - before;
  g_test_message("connections to etcd closed during 5 bursts of 32 writes: %u", closed);
  g_assert_cmpuint(closed, <, 8);
}

static void on_get_answered(GObject *source, GAsyncResult *result, gpointer user_data)
{
  GPtrArray *gets = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply =
      g_dbus_connection_call_finish(G_DBUS_CONNECTION(source), result, &error);

  g_ptr_array_add(gets, reply != NULL ? g_variant_print(reply, FALSE)
                                      : g_strdup(g_dbus_error_get_remote_error(error)));
}

/* A client that sends a write and a read of its key without waiting for the write's
 * answer reads the write, as on a local store: the read waits for it. */
static void test_read_after_unanswered_write(Fixture *f, gconstpointer data)
{
  enum { ROUNDS = 20 };
  Race sets = {0, 0, 0, g_ptr_array_new_with_free_func(g_free)};
  g_autoptr(GPtrArray) gets = g_ptr_array_new_with_free_func(g_free);

  for (int i = 0; i < ROUNDS; i++) {
    race_call(&f->a, "Set", g_variant_new("(sv)", "mine", g_variant_new_int32(i)), &sets);
    g_dbus_connection_call(f->a.connection, KV_BUS_NAME, KV_OBJECT_PATH, KV_INTERFACE, "Get",
                           g_variant_new("(s)", "mine"), NULL, G_DBUS_CALL_FLAGS_NO_AUTO_START,
                           20000, NULL, on_get_answered, gets);
  }
  race_wait(&sets, ROUNDS);
  while (gets->len < ROUNDS)
    g_main_context_iteration(NULL, TRUE);
  for (int i = 0; i < ROUNDS; i++) {
    g_autofree char *expected = g_strdup_printf("(<%d>,)", i);
    g_assert_cmpstr(g_ptr_array_index(gets, i), ==, expected);
  }
  g_ptr_array_unref(sets.errors);
}

/* Set, DeletePrefix, Set and Keys of one prefix sent together, none waiting for an
 * answer: made in that order, as on a local store (the first key deleted, the second
 * kept and listed). */
static void test_prefix_calls_in_order(Fixture *f, gconstpointer data)
{
  Race sets = {0, 0, 0, g_ptr_array_new_with_free_func(g_free)};
  g_autoptr(GPtrArray) answers = g_ptr_array_new_with_free_func(g_free);

  race_call(&f->a, "Set", g_variant_new("(sv)", "p/x", g_variant_new_int32(1)), &sets);
  g_dbus_connection_call(f->a.connection, KV_BUS_NAME, KV_OBJECT_PATH, KV_INTERFACE, "DeletePrefix",
                         g_variant_new("(s)", "p/"), NULL, G_DBUS_CALL_FLAGS_NO_AUTO_START, 20000,
                         NULL, on_get_answered, answers);
  race_call(&f->a, "Set", g_variant_new("(sv)", "p/y", g_variant_new_int32(2)), &sets);
  g_dbus_connection_call(f->a.connection, KV_BUS_NAME, KV_OBJECT_PATH, KV_INTERFACE, "Keys",
                         g_variant_new("(s)", "p/"), NULL, G_DBUS_CALL_FLAGS_NO_AUTO_START, 20000,
                         NULL, on_get_answered, answers);
  race_wait(&sets, 2);
  while (answers->len < 2)
    g_main_context_iteration(NULL, TRUE);
  /* DeletePrefix: (deleted, revision). */
  g_assert_true(g_str_has_prefix(g_ptr_array_index(answers, 0), "(1, "));
  g_assert_cmpstr(g_ptr_array_index(answers, 1), ==, "(['p/y'],)");
  g_ptr_array_unref(sets.errors);
}

/* A batch on A comes to B whole, in one Changes signal at one revision. */
static void test_batch_whole(Fixture *f, gconstpointer data)
{
  Watcher watcher;
  guint id = watch(&f->b, "Changes", "SubscribeCoalesced", &watcher);
  g_autoptr(GVariant) set = call_ok(
      &f->a, "SetMany", g_variant_new_parsed("({'b1': <1>, 'b2': <'two'>, 'b3': <true>},)"));
  guint64 revision;

  g_variant_get(set, "(t)", &revision);
  wait_for_signals(&watcher, 1);
  g_autofree char *expected = g_strdup_printf("([('b1', false, <1>, %" G_GUINT64_FORMAT
                                              "), ('b2', false, <'two'>, %" G_GUINT64_FORMAT
                                              "), ('b3', false, <true>, %" G_GUINT64_FORMAT ")],)",
                                              revision, revision, revision);
  g_assert_cmpstr(g_ptr_array_index(watcher.seen, 0), ==, expected);
  g_dbus_connection_signal_unsubscribe(f->b.connection, id);
  g_ptr_array_unref(watcher.seen);
}

/* A kvstored that stops and starts again loads what was written meanwhile. */
static void test_restart_reloads(Fixture *f, gconstpointer data)
{
  g_autoptr(GVariant) before =
      call_ok(&f->a, "Set", g_variant_new("(sv)", "early", g_variant_new_string("x")));

  kvstored_stop(&f->b);
  g_autoptr(GVariant) during =
      call_ok(&f->a, "SetMany", g_variant_new_parsed("({'late': <2>, 'later': <3>},)"));
  g_autoptr(GVariant) gone = call_ok(&f->a, "Delete", g_variant_new("(s)", "early"));
  kvstored_start(&f->b, f);
  g_autoptr(GVariant) keys = call_ok(&f->b, "Keys", g_variant_new("(s)", ""));
  g_autoptr(GVariant) expected = g_variant_ref_sink(g_variant_new_parsed("(['late', 'later'],)"));
  g_assert_cmpvariant(keys, expected);
  g_autoptr(GVariant) revision_a = call_ok(&f->a, "GetWithRevision", g_variant_new("(s)", "later"));
  g_autoptr(GVariant) revision_b = call_ok(&f->b, "GetWithRevision", g_variant_new("(s)", "later"));
  g_assert_cmpvariant(revision_a, revision_b);
}

/* etcd gone: writes fail with Unavailable within the bound and change nothing; reads go
 * on from the replica. etcd back: writes work again, and every acknowledged one is there. */
static void test_outage(Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) kept =
      call_ok(&f->a, "Set", g_variant_new("(sv)", "kept", g_variant_new_int32(1)));

  wait_for_current(&f->a, TRUE);
  member_stop(&f->etcd, 0);
  gint64 start = g_get_monotonic_time();
  g_autoptr(GVariant) refused =
      call(&f->a, "Set", g_variant_new("(sv)", "lost", g_variant_new_int32(2)), &error);
  g_assert_null(refused);
  assert_remote_error(error, UNAVAILABLE);
  /* --etcd-timeout 5, and some slack for a slow machine. */
  g_assert_cmpint(g_get_monotonic_time() - start, <, 9 * G_USEC_PER_SEC);
  g_autoptr(GVariant) read = call_ok(&f->a, "Get", g_variant_new("(s)", "kept"));
  wait_for_current(&f->b, FALSE);

  member_restart(&f->etcd, 0);
  g_autoptr(GVariant) written = NULL;
  for (int i = 0; written == NULL; i++) {
    g_clear_error(&error);
    written = call(&f->a, "Set", g_variant_new("(sv)", "after", g_variant_new_int32(3)), &error);
    if (i == 100)
      g_error("writes did not come back in 10 s: %s", error->message);
    if (written == NULL)
      g_usleep(100 * 1000);
  }
  /* B follows again once its watch is back. */
  wait_for_keys(&f->b, "(['after', 'kept'],)");
  wait_for_current(&f->b, TRUE);
}

/* Three members: the one kvstored talks to stops, and writes go on through the others
 * (after a new leader, when it led); two stop, and a write fails within the bound while
 * reads go on: Indeterminate, since the member left may hold it in its log and make it
 * once the others are back; both come back, and writes work, every acknowledged one
 * there. */
static void test_three_members(Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  Watcher watcher;
  guint id = watch(&f->b, "Changed", "Subscribe", &watcher);
  guint acknowledged = 0;

  for (guint round = 0; round < 2; round++) {
    member_stop(&f->etcd, round);
    for (int i = 0; i < 5; i++) {
      g_autofree char *key = g_strdup_printf("k%u", acknowledged);
      g_autoptr(GVariant) reply = call_ok(round == 0 ? &f->a : &f->b, "Set",
                                          g_variant_new("(sv)", key, g_variant_new_int32(i)));
      acknowledged++;
    }
    member_restart(&f->etcd, round);
  }
  wait_for_signals(&watcher, acknowledged);

  member_stop(&f->etcd, 1);
  member_stop(&f->etcd, 2);
  gint64 start = g_get_monotonic_time();
  g_autoptr(GVariant) refused =
      call(&f->a, "Set", g_variant_new("(sv)", "lost", g_variant_new_int32(0)), &error);
  assert_remote_error(error, INDETERMINATE);
  g_assert_cmpint(g_get_monotonic_time() - start, <, 15 * G_USEC_PER_SEC);
  g_autoptr(GVariant) read = call_ok(&f->b, "Get", g_variant_new("(s)", "k0"));

  member_spawn(&f->etcd, 1);
  member_spawn(&f->etcd, 2);
  member_wait(&f->etcd.members[1]);
  member_wait(&f->etcd.members[2]);
  g_autoptr(GVariant) written = NULL;
  for (int i = 0; written == NULL; i++) {
    g_clear_error(&error);
    written = call(&f->a, "Set", g_variant_new("(sv)", "back", g_variant_new_int32(1)), &error);
    if (i == 100)
      g_error("writes did not come back: %s", error->message);
    if (written == NULL)
      g_usleep(100 * 1000);
  }
  g_autoptr(GVariant) keys = call_ok(&f->a, "Keys", g_variant_new("(s)", "k"));
  g_autoptr(GVariant) all = g_variant_get_child_value(keys, 0);
  g_assert_cmpuint(g_variant_n_children(all), ==, acknowledged);
  g_dbus_connection_signal_unsubscribe(f->b.connection, id);
  g_ptr_array_unref(watcher.seen);
}

/* A kvstored started before its cluster waits for it, and serves once it answers; one whose
 * cluster does not answer in time gives up, saying why. */
static void test_start_before_cluster(Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *err = NULL;

  kvstored_stop(&f->b);
  member_stop(&f->etcd, 0);
  g_autoptr(GSubprocess) gives_up =
      kvstored_spawn(&f->b, f, G_SUBPROCESS_FLAGS_STDERR_PIPE, "--etcd-start-timeout", "1");
  g_subprocess_communicate_utf8(gives_up, NULL, NULL, NULL, &err, &error);
  g_assert_no_error(error);
  g_assert_cmpint(g_subprocess_get_exit_status(gives_up), ==, 1);
  g_assert_nonnull(strstr(err, "waiting for etcd"));
  g_assert_nonnull(strstr(err, "etcd did not answer within 1 s"));

  f->b.kvstored = kvstored_spawn(&f->b, f, G_SUBPROCESS_FLAGS_NONE, NULL, NULL);
  g_usleep(G_USEC_PER_SEC);
  member_restart(&f->etcd, 0);
  g_autoptr(GVariant) written =
      call_ok(&f->b, "Set", g_variant_new("(sv)", "late", g_variant_new_string("start")));
  g_autoptr(GVariant) read = call_ok(&f->b, "Get", g_variant_new("(s)", "late"));
  /* A's watch comes back with the member too, maybe after B's write was answered: A has
   * the write once its watch brings it. */
  for (int i = 0; i < 200 && count_keys(&f->a, "late") == 0; i++)
    g_usleep(50 * 1000);
  g_assert_cmpuint(count_keys(&f->a, "late"), ==, 1);
}

/* A write larger than etcd takes is TooLarge, not an outage, and changes nothing. */
static void test_too_large_for_etcd(Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *big = g_strnfill(900 * 1000, 'v');
  GVariantBuilder entries;

  g_variant_builder_init(&entries, G_VARIANT_TYPE("a{sv}"));
  for (int i = 0; i < 3; i++) {
    g_autofree char *key = g_strdup_printf("big/%d", i);
    g_variant_builder_add(&entries, "{sv}", key, g_variant_new_string(big));
  }
  g_autoptr(GVariant) refused = call(&f->a, "SetMany", g_variant_new("(a{sv})", &entries), &error);
  assert_remote_error(error, "org.example.KVStore.Error.TooLarge");
  g_assert_nonnull(strstr(error->message, "max-request-bytes"));
  wait_for_keys(&f->a, "(@as [],)");

  /* More operations than etcd takes in one transaction (--max-txn-ops, 128 unless set):
   * TooLarge too, no outage; nothing is stored. */
  g_clear_error(&error);
  g_variant_builder_init(&entries, G_VARIANT_TYPE("a{sv}"));
  for (int i = 0; i < 200; i++) {
    g_autofree char *key = g_strdup_printf("many/%03d", i);
    g_variant_builder_add(&entries, "{sv}", key, g_variant_new_int32(i));
  }
  g_autoptr(GVariant) too_many = call(&f->a, "SetMany", g_variant_new("(a{sv})", &entries), &error);
  assert_remote_error(error, "org.example.KVStore.Error.TooLarge");
  g_assert_nonnull(strstr(error->message, "max-txn-ops"));
  wait_for_keys(&f->a, "(@as [],)");
}

/* Sends a Set of each of @n keys "PREFIX%03d" with @value, without waiting, and checks that
 * each was taken. */
static void set_together(Host *host, const char *prefix, guint n, GVariant *value)
{
  Race race = {0, 0, 0, g_ptr_array_new_with_free_func(g_free)};

  g_variant_ref_sink(value);
  for (guint i = 0; i < n; i++) {
    g_autofree char *key = g_strdup_printf("%s%03u", prefix, i);
    race_call(host, "Set", g_variant_new("(sv)", key, value), &race);
  }
  race_wait(&race, n);
  g_assert_cmpuint(race.succeeded, ==, n);
  g_ptr_array_unref(race.errors);
  g_variant_unref(value);
}

/* The revision of @key on @host. */
static guint64 key_revision(Host *host, const char *key)
{
  g_autoptr(GVariant) reply = call_ok(host, "GetWithRevision", g_variant_new("(s)", key));
  guint64 revision;

  g_variant_get(reply, "(vt)", NULL, &revision);
  return revision;
}

/* Sets of different keys that come while others are out go to etcd together, in one
 * transaction (they share its revision); each is stored, and B tells each once. */
static void test_sets_go_together(Fixture *f, gconstpointer data)
{
  enum { SETS = 48 };
  Watcher watcher;
  guint id = watch(&f->b, "Changed", "Subscribe", &watcher);
  g_autoptr(GHashTable) revisions = g_hash_table_new(NULL, NULL);

  set_together(&f->a, "k", SETS, g_variant_new_string("v"));
  wait_for_signals(&watcher, SETS);
  for (guint i = 0; i < SETS; i++) {
    g_autofree char *key = g_strdup_printf("k%03u", i);
    g_autoptr(GVariant) value = call_ok(&f->b, "Get", g_variant_new("(s)", key));
    g_autoptr(GVariant) expected = g_variant_ref_sink(g_variant_new_parsed("(<'v'>,)"));
    g_assert_cmpvariant(value, expected);
    g_hash_table_add(revisions, GSIZE_TO_POINTER((gsize)key_revision(&f->a, key)));
  }
  g_test_message("%d Sets sent together took %u revisions", SETS, g_hash_table_size(revisions));
  g_assert_cmpuint(g_hash_table_size(revisions), <, SETS);
  g_usleep(200 * 1000);
  g_main_context_iteration(NULL, FALSE);
  g_assert_cmpuint(watcher.seen->len, ==, SETS);
  g_dbus_connection_signal_unsubscribe(f->b.connection, id);
  g_ptr_array_unref(watcher.seen);
}

/* On a member that takes at most 3 operations and 300 kB a request, Sets sent together
 * are all stored: a transaction of them that etcd refuses goes again one put at a time.
 * (Each alone is within the limits; a SetMany over them fails with TooLarge.) */
static void test_sets_within_etcd_limits(Fixture *f, gconstpointer data)
{
  g_autofree char *big = g_strnfill(120 * 1000, 'v');

  set_together(&f->a, "small", 24, g_variant_new_int32(7));
  g_assert_cmpuint(count_keys(&f->a, "small"), ==, 24);
  set_together(&f->a, "big", 6, g_variant_new_string(big));
  g_assert_cmpuint(count_keys(&f->a, "big"), ==, 6);
}

/* A kvstored whose watch comes back after etcd compacted the revisions it missed reloads
 * the prefix and tells what differs: B is stopped (SIGSTOP) while the member it watches
 * goes away, A writes and deletes, and the cluster is compacted. */
static void test_reload_after_compaction(Fixture *f, gconstpointer data)
{
  /* More keys than one Range page holds (1000): the reload reads several. */
  for (int batch = 0; batch < 10; batch++) {
    GVariantBuilder bulk;
    g_variant_builder_init(&bulk, G_VARIANT_TYPE("a{sv}"));
    for (int i = 0; i < 120; i++) {
      g_autofree char *key = g_strdup_printf("~bulk/%04d", batch * 120 + i);
      g_variant_builder_add(&bulk, "{sv}", key, g_variant_new_int32(i));
    }
    g_autoptr(GVariant) stored = call_ok(&f->a, "SetMany", g_variant_new("(a{sv})", &bulk));
  }
  g_autoptr(GVariant) first = call_ok(
      &f->a, "SetMany", g_variant_new_parsed("({'stays': <1>, 'changes': <1>, 'goes': <1>},)"));
  Watcher watcher;
  guint id = watch(&f->b, "Changed", "Subscribe", &watcher);

  for (int i = 0; i < 200 && count_keys(&f->b, "") < 1203; i++)
    g_usleep(20 * 1000);
  g_assert_cmpuint(count_keys(&f->b, ""), ==, 1203);
  pid_t b = (pid_t)g_ascii_strtoll(g_subprocess_get_identifier(f->b.kvstored), NULL, 10);
  g_assert_cmpint(kill(b, SIGSTOP), ==, 0);
  member_stop(&f->etcd, 0);
  g_autoptr(GVariant) changed =
      call_ok(&f->a, "SetMany", g_variant_new_parsed("({'changes': <2>, 'new': <3>},)"));
  g_autoptr(GVariant) gone = call_ok(&f->a, "Delete", g_variant_new("(s)", "goes"));
  /* Compacted up to the last change: what B missed is gone from etcd. */
  g_autoptr(GVariant) later = call_ok(
      &f->a, "CompareAndSet", g_variant_new("(stv)", "later", (guint64)0, g_variant_new_int32(4)));
  g_autoptr(GVariant) revision = call_ok(&f->a, "GetWithRevision", g_variant_new("(s)", "later"));
  guint64 last;
  g_variant_get(revision, "(vt)", NULL, &last);
  g_autofree char *compact_to = g_strdup_printf("%" G_GUINT64_FORMAT, last);
  g_autoptr(GSubprocess) compact =
      g_subprocess_new(G_SUBPROCESS_FLAGS_STDOUT_SILENCE, NULL, "etcdctl", "--endpoints",
                       f->etcd.members[1].url, "compact", compact_to, NULL);
  g_assert_true(g_subprocess_wait_check(compact, NULL, NULL));
  g_assert_cmpint(kill(b, SIGCONT), ==, 0);

  /* B tells 'changes', 'later' and 'new' as changed (and 'goes' as deleted, unwatched
   * here). */
  wait_for_signals(&watcher, 3);
  g_assert_cmpuint(count_keys(&f->b, "~bulk/"), ==, 1200);
  for (int i = 0; i < 200 && count_keys(&f->b, "") != 1204; i++)
    g_usleep(20 * 1000);
  g_assert_cmpuint(count_keys(&f->b, ""), ==, 1204);
  g_autoptr(GVariant) goes = call_ok(&f->b, "Exists", g_variant_new("(s)", "goes"));
  g_autoptr(GVariant) absent = g_variant_ref_sink(g_variant_new("(b)", FALSE));
  g_assert_cmpvariant(goes, absent);
  g_autoptr(GVariant) value = call_ok(&f->b, "Get", g_variant_new("(s)", "changes"));
  g_autoptr(GVariant) two = g_variant_ref_sink(g_variant_new("(v)", g_variant_new_int32(2)));
  g_assert_cmpvariant(value, two);
  member_restart(&f->etcd, 0);
  g_dbus_connection_signal_unsubscribe(f->b.connection, id);
  g_ptr_array_unref(watcher.seen);
}

static void on_lock_acquired(GDBusConnection *connection, const char *sender, const char *path,
                             const char *interface, const char *member, GVariant *parameters,
                             gpointer user_data)
{
  guint64 *token = user_data;

  g_variant_get(parameters, "(&st)", NULL, token);
}

static void lock_on(GDBusConnection *connection, guint64 *token, gboolean *acquired)
{
  g_autoptr(GError) error = NULL;
  guint64 lease;
  g_autoptr(GVariant) reply =
      g_dbus_connection_call_sync(connection, KV_BUS_NAME, KV_OBJECT_PATH, KV_INTERFACE, "Lock",
                                  g_variant_new("(st)", "fleet-job", (guint64)0), NULL,
                                  G_DBUS_CALL_FLAGS_NONE, 10000, NULL, &error);

  g_assert_no_error(error);
  g_variant_get(reply, "(ttb)", token, &lease, acquired);
}

/* A lock across hosts: a caller on B waits while one on A holds it, and gets it (told by
 * B's kvstored) once A's caller leaves A's bus. */
static void test_lock_across_hosts(Fixture *f, gconstpointer data)
{
  GDBusConnection *on_a = kv_test_bus_connect(f->a.address);
  g_autoptr(GDBusConnection) on_b = kv_test_bus_connect(f->b.address);
  guint64 token_a, token_b, told = 0;
  gboolean acquired;

  guint id = g_dbus_connection_signal_subscribe(on_b, KV_BUS_NAME, KV_INTERFACE, "LockAcquired",
                                                KV_OBJECT_PATH, NULL, G_DBUS_SIGNAL_FLAGS_NONE,
                                                on_lock_acquired, &told, NULL);
  lock_on(on_a, &token_a, &acquired);
  g_assert_true(acquired);
  lock_on(on_b, &token_b, &acquired);
  g_assert_false(acquired);
  g_assert_cmpuint(token_b, >, token_a);

  g_dbus_connection_close_sync(on_a, NULL, NULL);
  g_object_unref(on_a);
  gint64 deadline = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;
  while (told != token_b) {
    g_assert_cmpint(g_get_monotonic_time(), <, deadline);
    if (!g_main_context_iteration(NULL, FALSE))
      g_usleep(1000);
  }
  g_dbus_connection_signal_unsubscribe(on_b, id);
}

/* A lease bound to a caller on A lives as long as A's kvstored renews it (three of its
 * TTLs here), and ends within its TTL once A's kvstored dies (SIGKILL: the host gone),
 * though the caller is still connected: B's kvstored ends it. */
static void test_bound_lease_dies_with_host(Fixture *f, gconstpointer data)
{
  kvstored_stop(&f->a);
  f->a.option = "--etcd-lease-ttl=1";
  kvstored_start(&f->a, f);
  g_autoptr(GDBusConnection) owner = kv_test_bus_connect(f->a.address);
  guint64 lease;
  g_autoptr(GVariant) granted = g_dbus_connection_call_sync(
      owner, KV_BUS_NAME, KV_OBJECT_PATH, KV_INTERFACE, "GrantLease",
      g_variant_new("(tb)", (guint64)0, TRUE), NULL, G_DBUS_CALL_FLAGS_NONE, 10000, NULL, NULL);
  g_assert_nonnull(granted);
  g_variant_get(granted, "(t)", &lease);
  g_autoptr(GVariant) set = g_dbus_connection_call_sync(
      owner, KV_BUS_NAME, KV_OBJECT_PATH, KV_INTERFACE, "SetLeased",
      g_variant_new("(stv)", "hosts/a", lease, g_variant_new_string("up")), NULL,
      G_DBUS_CALL_FLAGS_NONE, 10000, NULL, NULL);
  g_assert_nonnull(set);
  g_usleep(3 * G_USEC_PER_SEC);
  g_assert_cmpuint(count_keys(&f->b, "hosts/"), ==, 1);

  g_subprocess_force_exit(f->a.kvstored);
  g_subprocess_wait(f->a.kvstored, NULL, NULL);
  g_clear_object(&f->a.kvstored);
  gint64 start = g_get_monotonic_time();
  while (count_keys(&f->b, "hosts/") + count_keys(&f->b, ".kvstore/") > 0) {
    g_assert_cmpint(g_get_monotonic_time() - start, <, 10 * G_USEC_PER_SEC);
    g_usleep(20 * 1000);
  }
  g_test_message("The dead host's bound key went %.0f ms after its kvstored was killed",
                 (g_get_monotonic_time() - start) / 1000.0);
}

/* A caller that leaves right after asking for a bound lease leaves before the lease is
 * there to end (the grant is on its way to etcd): its kvstored ends the lease at the
 * next renewal instead of renewing it for ever. */
static void test_bound_lease_of_caller_gone_before_grant(Fixture *f, gconstpointer data)
{
  kvstored_stop(&f->a);
  f->a.option = "--etcd-lease-ttl=1";
  kvstored_start(&f->a, f);
  GDBusConnection *gone = kv_test_bus_connect(f->a.address);
  g_autoptr(GError) error = NULL;
  /* A first grant, answered: kvstored knows the caller (its credentials), and the second
   * is made at once, without a question to the bus, while the caller leaves. */
  g_autoptr(GVariant) first = g_dbus_connection_call_sync(
      gone, KV_BUS_NAME, KV_OBJECT_PATH, KV_INTERFACE, "GrantLease",
      g_variant_new("(tb)", (guint64)0, TRUE), NULL, G_DBUS_CALL_FLAGS_NONE, 10000, NULL, &error);
  g_assert_no_error(error);
  g_autoptr(GDBusMessage) call =
      g_dbus_message_new_method_call(KV_BUS_NAME, KV_OBJECT_PATH, KV_INTERFACE, "GrantLease");
  g_dbus_message_set_body(call, g_variant_new("(tb)", (guint64)0, TRUE));
  g_dbus_message_set_flags(call, G_DBUS_MESSAGE_FLAGS_NO_REPLY_EXPECTED);
  g_dbus_connection_send_message(gone, call, G_DBUS_SEND_MESSAGE_FLAGS_NONE, NULL, &error);
  g_assert_no_error(error);
  g_dbus_connection_close_sync(gone, NULL, NULL);
  g_object_unref(gone);
  /* Time for the grant to land and for a few renewals (a third of a second each): then
   * no lease is left, or soon. (Where the bus told of the departure before kvstored
   * took the second call, it refused the grant, and there is nothing to end.) */
  g_usleep(1500 * 1000);
  gint64 start = g_get_monotonic_time();
  while (count_keys(&f->b, ".kvstore/lease/") > 0) {
    g_assert_cmpint(g_get_monotonic_time() - start, <, (KV_SANITIZED ? 10 : 5) * G_USEC_PER_SEC);
    g_usleep(20 * 1000);
  }
}

/* The number of changes ChangesSince(@since) gives on @host, all pages; -1 with the
 * error's name in @error_name when it refuses. */
static gint changes_since(Host *host, guint64 since, char **error_name)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply =
      call(host, "ChangesSince", g_variant_new("(stsu)", "h/", since, "", 5000), &error);

  if (reply == NULL) {
    *error_name = g_dbus_error_get_remote_error(error);
    return -1;
  }
  g_autoptr(GVariant) changes = g_variant_get_child_value(reply, 0);
  return (gint)g_variant_n_children(changes);
}

/* A kvstored that starts reads etcd's history back: it resumes a watcher from before its
 * start, as far back as etcd has not compacted; further back, Compacted. */
static void test_resume_from_etcd_history(Fixture *f, gconstpointer data)
{
  g_autofree char *error_name = NULL;
  guint64 before = 0, middle = 0;

  for (int i = 0; i < 40; i++) {
    g_autoptr(GVariant) set =
        call_ok(&f->a, "Set", g_variant_new("(sv)", "h/k", g_variant_new_int32(i)));
    g_autoptr(GVariant) read = call_ok(&f->a, "GetWithRevision", g_variant_new("(s)", "h/k"));
    guint64 revision;
    g_variant_get(read, "(vt)", NULL, &revision);
    if (i == 0)
      before = revision - 1;
    if (i == 19)
      middle = revision;
  }
  /* B started before them, and saw them; restarted, it still serves them. */
  kvstored_stop(&f->b);
  kvstored_start(&f->b, f);
  g_assert_cmpint(changes_since(&f->b, before, &error_name), ==, 40);

  /* etcd compacted up to the 20th: B restarted serves the 20 after it, not before. */
  g_autofree char *compact_to = g_strdup_printf("%" G_GUINT64_FORMAT, middle);
  g_autoptr(GSubprocess) compact =
      g_subprocess_new(G_SUBPROCESS_FLAGS_STDOUT_SILENCE, NULL, "etcdctl", "--endpoints",
                       f->etcd.members[0].url, "compact", compact_to, NULL);
  g_assert_true(g_subprocess_wait_check(compact, NULL, NULL));
  kvstored_stop(&f->b);
  kvstored_start(&f->b, f);
  g_assert_cmpint(changes_since(&f->b, middle, &error_name), ==, 20);
  g_assert_cmpint(changes_since(&f->b, before, &error_name), ==, -1);
  g_assert_cmpstr(error_name, ==, "org.example.KVStore.Error.Compacted");
}

int main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  if (!etcd_installed())
    return g_test_run();
#define ADD(path, func) g_test_add("/etcd/" path, Fixture, NULL, setup, func, teardown)
  ADD("write-on-one-read-on-other", test_write_on_one_read_on_other);
  ADD("compare-and-set-race", test_compare_and_set_race);
  ADD("increments-sum", test_increments_sum);
  ADD("batch-whole", test_batch_whole);
  ADD("connections-reused", test_connections_reused);
  ADD("read-after-unanswered-write", test_read_after_unanswered_write);
  ADD("prefix-calls-in-order", test_prefix_calls_in_order);
  ADD("restart-reloads", test_restart_reloads);
  ADD("outage", test_outage);
  ADD("start-before-cluster", test_start_before_cluster);
  ADD("too-large-for-etcd", test_too_large_for_etcd);
  ADD("sets-go-together", test_sets_go_together);
  ADD("lock-across-hosts", test_lock_across_hosts);
  ADD("resume-from-etcd-history", test_resume_from_etcd_history);
  ADD("bound-lease-dies-with-host", test_bound_lease_dies_with_host);
  ADD("bound-lease-of-caller-gone-before-grant", test_bound_lease_of_caller_gone_before_grant);
  static const char *const low_limits[] = {"--max-txn-ops", "3", "--max-request-bytes", "300000",
                                           NULL};
  static const Cluster strict = {1, low_limits};
  g_test_add("/etcd/sets-within-etcd-limits", Fixture, &strict, setup, test_sets_within_etcd_limits,
             teardown);
  static const Cluster three = {3, NULL};
  g_test_add("/etcd/three-members", Fixture, &three, setup, test_three_members, teardown);
  g_test_add("/etcd/reload-after-compaction", Fixture, &three, setup, test_reload_after_compaction,
             teardown);
#undef ADD
  return g_test_run();
}
