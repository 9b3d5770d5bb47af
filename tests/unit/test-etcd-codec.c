/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* kvstore's keys and values in etcd, and the gateway's JSON, without a network. */

#include "kv-etcd-codec.h"
#include "kv-test-assert.h"
#include "kv-test-values.h"

#include <gio/gio.h>
#include <string.h>

static void test_values_round_trip(void)
{
  for (gsize i = 0; i < G_N_ELEMENTS(kv_test_values); i++) {
    g_autoptr(GError) error = NULL;
    g_autoptr(GVariant) value = g_variant_parse(NULL, kv_test_values[i], NULL, NULL, &error);
    g_assert_no_error(error);
    g_autoptr(GBytes) bytes = kv_etcd_encode_value(value);
    gsize size;
    const guint8 *data = g_bytes_get_data(bytes, &size);
    g_autoptr(GVariant) back = kv_etcd_decode_value(data, size, &error);
    g_assert_no_error(error);
    g_assert_cmpvariant(back, value);
  }
}

/* The documented form: the type string, a NUL, the serialized value. */
static void test_value_form(void)
{
  g_autoptr(GBytes) int32 = kv_etcd_encode_value(g_variant_new_int32(7));
  g_autoptr(GBytes) text = kv_etcd_encode_value(g_variant_new_string("hello"));
  gsize size;
  const guint8 *data = g_bytes_get_data(int32, &size);

  g_assert_cmpmem(data, size, "i\0\7\0\0\0", 6);
  data = g_bytes_get_data(text, &size);
  g_assert_cmpmem(data, size, "s\0hello\0", 8);
}

static void test_bad_values_refused(void)
{
  static const struct {
    const char *data;
    gsize size;
  } cases[] = {
      {"plain-text", 10},   /* no NUL: no type */
      {"?\0x", 3},          /* no type */
      {"mi\0\0", 4},        /* a maybe */
      {"h\0\0\0\0\0", 6},   /* a file descriptor */
      {"ai\0\1\0\0", 6},    /* not a whole array of int32 */
      {"s\0abc", 5},        /* no terminating NUL: not normal form */
      {"i\0\1\0\0\0\0", 7}, /* a byte too many */
  };

  for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
    g_autoptr(GError) error = NULL;
    g_autoptr(GVariant) value =
        kv_etcd_decode_value((const guint8 *)cases[i].data, cases[i].size, &error);
    g_assert_null(value);
    g_assert_nonnull(error);
  }
}

static void test_range_end(void)
{
  g_autofree char *kvstore = kv_etcd_range_end("/kvstore/");
  g_autofree char *app = kv_etcd_range_end("app");
  g_autofree char *all = kv_etcd_range_end("");

  g_assert_cmpstr(kvstore, ==, "/kvstore0");
  g_assert_cmpstr(app, ==, "apq");
  g_assert_cmpstr(all, ==, "");
}

static char *base64(const char *text, gsize length)
{
  return g_base64_encode((const guchar *)text, length);
}

/* A transaction's compares and operations, keys under the prefix, and its marker: created
 * with the changes when absent; read first when the transaction fails. */
static void test_txn_request(void)
{
  KvChange changes[] = {{"a", g_variant_ref_sink(g_variant_new_int32(7))}, {"b", NULL}};
  KvCompare compares[] = {{"a", 0}, {"b", 42}};
  KvEtcdMarker marker = {"/p.writes/x/1", 99};
  g_autofree char *text = kv_etcd_txn_request("/p/", changes, 2, compares, 2, &marker);
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) root = kv_etcd_parse(text, strlen(text), &error);
  g_autofree char *key_a = base64("/p/a", 4);
  g_autofree char *key_b = base64("/p/b", 4);
  g_autofree char *key_marker = base64(marker.key, strlen(marker.key));
  g_autofree char *value = base64("i\0\7\0\0\0", 6);

  g_assert_no_error(error);
  JsonObject *txn = json_node_get_object(root);
  JsonArray *compare = json_object_get_array_member(txn, "compare");
  JsonArray *success = json_object_get_array_member(txn, "success");
  g_assert_cmpuint(json_array_get_length(compare), ==, 3);
  JsonObject *second = json_array_get_object_element(compare, 1);
  g_assert_cmpstr(json_object_get_string_member(second, "key"), ==, key_b);
  g_assert_cmpstr(json_object_get_string_member(second, "target"), ==, "MOD");
  g_assert_cmpstr(json_object_get_string_member(second, "mod_revision"), ==, "42");
  JsonObject *absent = json_array_get_object_element(compare, 2);
  g_assert_cmpstr(json_object_get_string_member(absent, "key"), ==, key_marker);
  g_assert_cmpstr(json_object_get_string_member(absent, "target"), ==, "VERSION");
  g_assert_cmpstr(json_object_get_string_member(absent, "version"), ==, "0");
  g_assert_cmpuint(json_array_get_length(success), ==, 3);
  JsonObject *put =
      json_object_get_object_member(json_array_get_object_element(success, 0), "request_put");
  g_assert_cmpstr(json_object_get_string_member(put, "key"), ==, key_a);
  g_assert_cmpstr(json_object_get_string_member(put, "value"), ==, value);
  JsonObject *delete = json_object_get_object_member(json_array_get_object_element(success, 1),
                                                     "request_delete_range");
  g_assert_cmpstr(json_object_get_string_member(delete, "key"), ==, key_b);
  JsonObject *mark =
      json_object_get_object_member(json_array_get_object_element(success, 2), "request_put");
  g_assert_cmpstr(json_object_get_string_member(mark, "key"), ==, key_marker);
  g_assert_cmpstr(json_object_get_string_member(mark, "value"), ==, "dw==");
  g_assert_cmpstr(json_object_get_string_member(mark, "lease"), ==, "99");
  /* Failed, it reads its marker, then each compared key. */
  JsonArray *failure = json_object_get_array_member(txn, "failure");
  g_assert_cmpuint(json_array_get_length(failure), ==, 3);
  JsonObject *range =
      json_object_get_object_member(json_array_get_object_element(failure, 0), "request_range");
  g_assert_cmpstr(json_object_get_string_member(range, "key"), ==, key_marker);
  range = json_object_get_object_member(json_array_get_object_element(failure, 2), "request_range");
  g_assert_cmpstr(json_object_get_string_member(range, "key"), ==, key_b);
  g_variant_unref(changes[0].value);
}

/* A fence creates the marker as fenced ("f") unless it exists, and reads it otherwise. */
static void test_fence_request(void)
{
  KvEtcdMarker marker = {"/p.writes/x/1", 7};
  g_autofree char *text = kv_etcd_fence_request(&marker);
  g_autoptr(JsonNode) root = kv_etcd_parse(text, strlen(text), NULL);
  JsonObject *txn = json_node_get_object(root);
  g_autofree char *key = base64(marker.key, strlen(marker.key));

  JsonArray *compare = json_object_get_array_member(txn, "compare");
  g_assert_cmpuint(json_array_get_length(compare), ==, 1);
  g_assert_cmpstr(
      json_object_get_string_member(json_array_get_object_element(compare, 0), "target"), ==,
      "VERSION");
  JsonObject *put = json_object_get_object_member(
      json_array_get_object_element(json_object_get_array_member(txn, "success"), 0),
      "request_put");
  g_assert_cmpstr(json_object_get_string_member(put, "key"), ==, key);
  g_assert_cmpstr(json_object_get_string_member(put, "value"), ==, "Zg==");
  JsonObject *range = json_object_get_object_member(
      json_array_get_object_element(json_object_get_array_member(txn, "failure"), 0),
      "request_range");
  g_assert_cmpstr(json_object_get_string_member(range, "key"), ==, key);
}

/* Markers sort before the prefix and outside its range; none for the empty prefix. */
static void test_marker_prefix(void)
{
  g_autofree char *usual = kv_etcd_marker_prefix("/kvstore/");
  g_autofree char *other = kv_etcd_marker_prefix("app");

  g_assert_cmpstr(usual, ==, "/kvstore.writes/");
  g_assert_cmpint(strcmp(other, "app"), <, 0);
  g_assert_false(g_str_has_prefix(other, "app"));
  g_assert_null(kv_etcd_marker_prefix(""));
}

/* A failed transaction waits for the newest revision of its compared keys (the responses
 * after its marker's), or for its own revision when one of them is gone. */
static void test_conflict_revision(void)
{
  const char *both =
      "{\"header\":{\"revision\":\"90\"},\"responses\":["
      "{\"response_range\":{}},"
      "{\"response_range\":{\"kvs\":[{\"key\":\"L3AvYQ==\",\"mod_revision\":\"41\"}],"
      "\"count\":\"1\"}},"
      "{\"response_range\":{\"kvs\":[{\"key\":\"L3AvYg==\",\"mod_revision\":\"57\"}],"
      "\"count\":\"1\"}}]}";
  const char *one_gone = "{\"header\":{\"revision\":\"90\"},\"responses\":["
                         "{\"response_range\":{}},"
                         "{\"response_range\":{\"kvs\":[{\"key\":\"L3AvYQ==\","
                         "\"mod_revision\":\"41\"}],\"count\":\"1\"}},"
                         "{\"response_range\":{}}]}";
  g_autoptr(JsonNode) found = kv_etcd_parse(both, strlen(both), NULL);
  g_autoptr(JsonNode) gone = kv_etcd_parse(one_gone, strlen(one_gone), NULL);
  guint64 revision;

  g_assert_cmpuint(kv_etcd_txn_conflict_revision(json_node_get_object(found)), ==, 57);
  g_assert_cmpuint(kv_etcd_txn_conflict_revision(json_node_get_object(gone)), ==, 90);
  g_assert_cmpint(kv_etcd_mark(json_node_get_object(found), FALSE, &revision), ==,
                  KV_ETCD_MARK_ABSENT);
}

/* What a marker says: made by the write (at its revision) or by a fence; a transaction or
 * fence that succeeded made it itself. */
static void test_marks(void)
{
  const char *written = "{\"header\":{\"revision\":\"90\"},\"responses\":["
                        "{\"response_range\":{\"kvs\":[{\"key\":\"eA==\",\"mod_revision\":"
                        "\"77\",\"value\":\"dw==\"}],\"count\":\"1\"}}]}";
  const char *fenced = "{\"header\":{\"revision\":\"90\"},\"responses\":["
                       "{\"response_range\":{\"kvs\":[{\"key\":\"eA==\",\"mod_revision\":"
                       "\"80\",\"value\":\"Zg==\"}],\"count\":\"1\"}}]}";
  const char *made = "{\"header\":{\"revision\":\"91\"},\"succeeded\":true}";
  g_autoptr(JsonNode) w = kv_etcd_parse(written, strlen(written), NULL);
  g_autoptr(JsonNode) f = kv_etcd_parse(fenced, strlen(fenced), NULL);
  g_autoptr(JsonNode) m = kv_etcd_parse(made, strlen(made), NULL);
  guint64 revision = 0;

  g_assert_cmpint(kv_etcd_mark(json_node_get_object(w), TRUE, &revision), ==, KV_ETCD_MARK_WRITTEN);
  g_assert_cmpuint(revision, ==, 77);
  g_assert_cmpint(kv_etcd_mark(json_node_get_object(f), FALSE, &revision), ==, KV_ETCD_MARK_FENCED);
  g_assert_cmpint(kv_etcd_mark(json_node_get_object(m), FALSE, &revision), ==,
                  KV_ETCD_MARK_WRITTEN);
  g_assert_cmpuint(revision, ==, 91);
  g_assert_cmpint(kv_etcd_mark(json_node_get_object(m), TRUE, &revision), ==, KV_ETCD_MARK_FENCED);
}

/* Leases: a grant's ID and TTL, a keep-alive's TTL under "result" (none: the lease is
 * gone). */
static void test_leases(void)
{
  const char *granted = "{\"header\":{},\"ID\":\"4111120475568763909\",\"TTL\":\"60\"}";
  const char *kept = "{\"result\":{\"header\":{},\"ID\":\"41\",\"TTL\":\"59\"}}";
  const char *gone = "{\"result\":{\"header\":{},\"ID\":\"41\"}}";
  g_autoptr(JsonNode) g = kv_etcd_parse(granted, strlen(granted), NULL);
  g_autoptr(JsonNode) k = kv_etcd_parse(kept, strlen(kept), NULL);
  g_autoptr(JsonNode) x = kv_etcd_parse(gone, strlen(gone), NULL);
  g_autofree char *keepalive = kv_etcd_lease_keepalive_request(41);

  g_assert_cmpuint(kv_etcd_lease_id(json_node_get_object(g)), ==, 4111120475568763909ULL);
  g_assert_cmpint(kv_etcd_lease_ttl(json_node_get_object(g)), ==, 60);
  g_assert_cmpint(kv_etcd_lease_ttl(json_node_get_object(k)), ==, 59);
  g_assert_cmpint(kv_etcd_lease_ttl(json_node_get_object(x)), ==, 0);
  g_assert_cmpstr(keepalive, ==, "{\"ID\":\"41\"}");
}

/* etcd's messages for requests over its limits (as its JSON gateway gives them) are told
 * apart from other failures, which may pass. */
static void test_refusals(void)
{
  g_assert_cmpint(kv_etcd_refusal("http://127.0.0.1:2379: HTTP 400: {\"error\":\"etcdserver: "
                                  "request is too large\",\"code\":3}"),
                  ==, KV_ETCD_REFUSAL_TOO_LARGE);
  g_assert_cmpint(kv_etcd_refusal("HTTP 413: grpc: received message larger than max (2100000 vs. "
                                  "2097152)"),
                  ==, KV_ETCD_REFUSAL_TOO_LARGE);
  g_assert_cmpint(kv_etcd_refusal("HTTP 400: {\"error\":\"etcdserver: too many operations in "
                                  "txn request\"}"),
                  ==, KV_ETCD_REFUSAL_TOO_MANY_OPS);
  g_assert_cmpint(kv_etcd_refusal("HTTP 503: etcdserver: request timed out"), ==,
                  KV_ETCD_REFUSAL_NONE);
  g_assert_cmpint(kv_etcd_refusal("HTTP 503: etcdserver: no leader"), ==, KV_ETCD_REFUSAL_NONE);
}

/* A range response: numbers as strings, keys outside the prefix and values of other
 * programs left out, the last raw key kept for the next page. */
static void test_range_response(void)
{
  g_autofree char *good_key = base64("/p/a", 4);
  g_autofree char *good_value = base64("i\0\7\0\0\0", 6);
  g_autofree char *foreign_key = base64("/p/b", 4);
  g_autofree char *foreign_value = base64("text", 4);
  g_autofree char *text =
      g_strdup_printf("{\"header\":{\"revision\":\"9\"},\"more\":true,\"kvs\":["
                      "{\"key\":\"%s\",\"value\":\"%s\",\"mod_revision\":\"5\"},"
                      "{\"key\":\"%s\",\"value\":\"%s\",\"mod_revision\":\"6\"}]}",
                      good_key, good_value, foreign_key, foreign_value);
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) root = kv_etcd_parse(text, strlen(text), &error);
  g_autoptr(GArray) entries = g_array_new(FALSE, FALSE, sizeof(KvEtcdEntry));
  guint skipped = 0;

  g_assert_no_error(error);
  JsonObject *response = json_node_get_object(root);
  g_assert_cmpuint(kv_etcd_header_revision(response), ==, 9);
  g_assert_true(kv_etcd_range_more(response));
  kv_etcd_read_kvs(response, "/p/", entries, &skipped);
  g_assert_cmpuint(entries->len, ==, 1);
  g_assert_cmpuint(skipped, ==, 1);
  KvEtcdEntry *entry = &g_array_index(entries, KvEtcdEntry, 0);
  g_assert_cmpstr(entry->key, ==, "a");
  g_assert_cmpuint(entry->mod_revision, ==, 5);
  kv_assert_variant_eq(entry->value, g_variant_new_int32(7));
  kv_etcd_entry_clear(entry);
  g_autofree char *last = kv_etcd_last_key(response);
  g_assert_cmpstr(last, ==, "/p/b");
}

/* The events of watch result @result under "/p/". */
static GArray *read_events(JsonObject *result, guint *skipped)
{
  GArray *entries = g_array_new(FALSE, FALSE, sizeof(KvEtcdEntry));

  g_array_set_clear_func(entries, (GDestroyNotify)kv_etcd_entry_clear);
  kv_etcd_read_events(result, "/p/", entries, skipped);
  return entries;
}

/* Watch events: PUT is the default type; a value of another program hides its key. */
static void test_watch_events(void)
{
  g_autofree char *key_a = base64("/p/a", 4);
  g_autofree char *key_b = base64("/p/b", 4);
  g_autofree char *value = base64("s\0x\0", 4);
  g_autofree char *foreign = base64("text", 4);
  g_autofree char *text =
      g_strdup_printf("{\"result\":{\"header\":{\"revision\":\"12\"},\"events\":["
                      "{\"kv\":{\"key\":\"%s\",\"value\":\"%s\",\"mod_revision\":\"11\"}},"
                      "{\"type\":\"DELETE\",\"kv\":{\"key\":\"%s\",\"mod_revision\":\"12\"}},"
                      "{\"kv\":{\"key\":\"%s\",\"value\":\"%s\",\"mod_revision\":\"12\"}}]}}",
                      key_a, value, key_a, key_b, foreign);
  g_autoptr(JsonNode) root = kv_etcd_parse(text, strlen(text), NULL);
  JsonObject *result = json_object_get_object_member(json_node_get_object(root), "result");
  guint skipped = 0;
  g_autoptr(GArray) entries = read_events(result, &skipped);
  g_assert_cmpuint(entries->len, ==, 3);
  g_assert_cmpuint(skipped, ==, 1);
  g_assert_nonnull(g_array_index(entries, KvEtcdEntry, 0).value);
  g_assert_null(g_array_index(entries, KvEtcdEntry, 1).value);
  g_assert_cmpstr(g_array_index(entries, KvEtcdEntry, 2).key, ==, "b");
  g_assert_null(g_array_index(entries, KvEtcdEntry, 2).value);
  g_assert_cmpuint(g_array_index(entries, KvEtcdEntry, 2).mod_revision, ==, 12);
}

/* A barrier (the prefix itself) is no entry and no skipped value, but its revision counts:
 * the replica has reached it. */
static void test_barrier_event(void)
{
  g_autofree char *barrier = base64("/p/", 3);
  g_autofree char *value = base64("b\0\1", 3);
  g_autofree char *text = g_strdup_printf(
      "{\"result\":{\"events\":[{\"kv\":{\"key\":\"%s\",\"value\":\"%s\",\"mod_revision\":"
      "\"40\"}}]}}",
      barrier, value);
  g_autoptr(JsonNode) root = kv_etcd_parse(text, strlen(text), NULL);
  JsonObject *result = json_object_get_object_member(json_node_get_object(root), "result");
  guint skipped = 0;
  g_autoptr(GArray) entries = read_events(result, &skipped);
  g_assert_cmpuint(entries->len, ==, 0);
  g_assert_cmpuint(skipped, ==, 0);
  g_assert_cmpuint(kv_etcd_events_revision(result), ==, 40);
}

int main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/etcd-codec/values-round-trip", test_values_round_trip);
  g_test_add_func("/etcd-codec/value-form", test_value_form);
  g_test_add_func("/etcd-codec/bad-values-refused", test_bad_values_refused);
  g_test_add_func("/etcd-codec/range-end", test_range_end);
  g_test_add_func("/etcd-codec/txn-request", test_txn_request);
  g_test_add_func("/etcd-codec/fence-request", test_fence_request);
  g_test_add_func("/etcd-codec/marker-prefix", test_marker_prefix);
  g_test_add_func("/etcd-codec/marks", test_marks);
  g_test_add_func("/etcd-codec/leases", test_leases);
  g_test_add_func("/etcd-codec/barrier-event", test_barrier_event);
  g_test_add_func("/etcd-codec/conflict-revision", test_conflict_revision);
  g_test_add_func("/etcd-codec/refusals", test_refusals);
  g_test_add_func("/etcd-codec/range-response", test_range_response);
  g_test_add_func("/etcd-codec/watch-events", test_watch_events);
  return g_test_run();
}
