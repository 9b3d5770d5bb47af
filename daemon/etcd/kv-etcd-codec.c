/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "kv-etcd-codec.h"

#include "kv-value-check.h"

#include <gio/gio.h>
#include <string.h>

void kv_etcd_entry_clear(KvEtcdEntry *entry)
{
  g_clear_pointer(&entry->key, g_free);
  g_clear_pointer(&entry->value, g_variant_unref);
}

GBytes *kv_etcd_encode_value(GVariant *value)
{
  g_autoptr(GVariant) owned = g_variant_ref_sink(value);
  g_autoptr(GVariant) normal = g_variant_get_normal_form(owned);
  const char *type = g_variant_get_type_string(normal);
  gsize type_size = strlen(type) + 1;
  gsize size = g_variant_get_size(normal);
  guint8 *data = g_malloc(type_size + size);

  memcpy(data, type, type_size);
  /* Copied, not stored in place: g_variant_store() wants the place aligned. */
  if (size > 0)
    memcpy(data + type_size, g_variant_get_data(normal), size);
  return g_bytes_new_take(data, type_size + size);
}

static GVariant *bad_value(GError **error, const char *why)
{
  g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "not a kvstore value: %s", why);
  return NULL;
}

GVariant *kv_etcd_decode_value(const guint8 *data, gsize size, GError **error)
{
  const guint8 *nul = memchr(data, '\0', size);

  if (nul == NULL)
    return bad_value(error, "no type");
  const char *type = (const char *)data;
  if (!g_variant_type_string_is_valid(type) || !g_variant_type_is_definite(G_VARIANT_TYPE(type)) ||
      strpbrk(type, "mh") != NULL)
    return bad_value(error, "a type D-Bus cannot carry");
  gsize offset = (gsize)(nul - data) + 1;
  g_autoptr(GBytes) bytes = g_bytes_new(data + offset, size - offset);
  g_autoptr(GVariant) value =
      g_variant_ref_sink(g_variant_new_from_bytes(G_VARIANT_TYPE(type), bytes, FALSE));
  if (!g_variant_is_normal_form(value))
    return bad_value(error, "not in normal form");
  /* Its nesting and file descriptors; its size is for the writer to limit. */
  if (!kv_value_check_storable("", value, G_MAXSIZE / 4, error))
    return NULL;
  return g_steal_pointer(&value);
}

char *kv_etcd_range_end(const char *prefix)
{
  gsize length = strlen(prefix);
  g_autofree char *end = g_strdup(prefix);

  /* The last byte that can grow; 0xff bytes carry over, as in etcd's clientv3. */
  while (length > 0) {
    if ((guint8)end[length - 1] < 0xff) {
      end[length - 1]++;
      end[length] = '\0';
      return g_steal_pointer(&end);
    }
    length--;
  }
  return g_strdup("");
}

static char *base64(const char *text)
{
  return g_base64_encode((const guchar *)text, strlen(text));
}

static char *to_text(JsonBuilder *builder)
{
  g_autoptr(JsonNode) root = json_builder_get_root(builder);

  return json_to_string(root, FALSE);
}

static void add_string(JsonBuilder *builder, const char *member, const char *text)
{
  json_builder_set_member_name(builder, member);
  json_builder_add_string_value(builder, text);
}

static void add_base64(JsonBuilder *builder, const char *member, const char *text)
{
  g_autofree char *encoded = base64(text);

  add_string(builder, member, encoded);
}

static void add_number(JsonBuilder *builder, const char *member, guint64 number)
{
  g_autofree char *text = g_strdup_printf("%" G_GUINT64_FORMAT, number);

  add_string(builder, member, text);
}

/* The end of a prefix's range; for the empty prefix, "\0": every key. */
static void add_range_end(JsonBuilder *builder, const char *end)
{
  if (end[0] != '\0')
    add_base64(builder, "range_end", end);
  else
    add_string(builder, "range_end", "AA==");
}

char *kv_etcd_range_request(const char *prefix, const char *after, guint64 revision, guint limit)
{
  g_autoptr(JsonBuilder) builder = json_builder_new();
  g_autofree char *end = kv_etcd_range_end(prefix);
  /* The first key after @after: @after and a NUL byte, which etcd keys may hold. */
  g_autofree char *start = after != NULL ? g_strdup(after) : g_strdup(prefix);
  gsize start_length = strlen(start) + (after != NULL ? 1 : 0);
  g_autofree char *start_base64 = g_base64_encode((const guchar *)start, start_length);

  json_builder_begin_object(builder);
  add_string(builder, "key", start_base64);
  add_range_end(builder, end);
  if (revision > 0)
    add_number(builder, "revision", revision);
  add_number(builder, "limit", limit);
  json_builder_end_object(builder);
  return to_text(builder);
}

char *kv_etcd_watch_request(const char *prefix, guint64 start_revision)
{
  g_autoptr(JsonBuilder) builder = json_builder_new();
  g_autofree char *end = kv_etcd_range_end(prefix);

  json_builder_begin_object(builder);
  json_builder_set_member_name(builder, "create_request");
  json_builder_begin_object(builder);
  add_base64(builder, "key", prefix);
  add_range_end(builder, end);
  add_number(builder, "start_revision", start_revision);
  json_builder_end_object(builder);
  json_builder_end_object(builder);
  return to_text(builder);
}

/* Opens an object whose member "key" is etcd's key of kvstore key @key. */
static void begin_key_object(JsonBuilder *builder, const char *prefix, const char *key)
{
  g_autofree char *etcd_key = g_strconcat(prefix, key, NULL);

  json_builder_begin_object(builder);
  add_base64(builder, "key", etcd_key);
}

/* The object of a put (key and value) or of a deletion (key) of @change. */
static void add_operation(JsonBuilder *builder, const char *prefix, const KvChange *change)
{
  begin_key_object(builder, prefix, change->key);
  if (change->value != NULL) {
    g_autoptr(GBytes) bytes = kv_etcd_encode_value(change->value);
    gsize size;
    const guchar *data = g_bytes_get_data(bytes, &size);
    g_autofree char *encoded = g_base64_encode(data, size);
    add_string(builder, "value", encoded);
  }
  json_builder_end_object(builder);
}

char *kv_etcd_put_request(const char *prefix, const KvChange *change)
{
  g_autoptr(JsonBuilder) builder = json_builder_new();

  add_operation(builder, prefix, change);
  return to_text(builder);
}

char *kv_etcd_marker_prefix(const char *prefix)
{
  gsize length = strlen(prefix);

  if (length == 0)
    return NULL;
  /* The last byte one lower sorts before every key of the prefix and starts none. */
  g_autofree char *beside = g_strdup(prefix);
  beside[length - 1]--;
  return g_strconcat(beside, "writes/", NULL);
}

/* Opens an object whose member "key" is the raw etcd key @key. */
static void begin_raw_key_object(JsonBuilder *builder, const char *key)
{
  json_builder_begin_object(builder);
  add_base64(builder, "key", key);
}

/* A compare that @marker does not exist yet. */
static void add_marker_absent(JsonBuilder *builder, const KvEtcdMarker *marker)
{
  begin_raw_key_object(builder, marker->key);
  add_string(builder, "target", "VERSION");
  add_string(builder, "result", "EQUAL");
  add_number(builder, "version", 0);
  json_builder_end_object(builder);
}

/* An operation @name ("request_put", ...) on @marker: creating it holds @mark. */
static void add_marker_operation(JsonBuilder *builder, const char *name, const KvEtcdMarker *marker,
                                 const char *mark)
{
  json_builder_begin_object(builder);
  json_builder_set_member_name(builder, name);
  begin_raw_key_object(builder, marker->key);
  if (mark != NULL) {
    add_base64(builder, "value", mark);
    add_number(builder, "lease", marker->lease);
  }
  json_builder_end_object(builder);
  json_builder_end_object(builder);
}

char *kv_etcd_txn_request(const char *prefix, const KvChange *changes, gsize n_changes,
                          const KvCompare *compares, gsize n_compares, const KvEtcdMarker *marker)
{
  g_autoptr(JsonBuilder) builder = json_builder_new();

  json_builder_begin_object(builder);
  json_builder_set_member_name(builder, "compare");
  json_builder_begin_array(builder);
  for (gsize i = 0; i < n_compares; i++) {
    begin_key_object(builder, prefix, compares[i].key);
    add_string(builder, "target", "MOD");
    add_string(builder, "result", "EQUAL");
    /* A key that does not exist has mod_revision 0. */
    add_number(builder, "mod_revision", compares[i].revision);
    json_builder_end_object(builder);
  }
  /* Made once already (its answer lost, the request sent again), it fails here. */
  add_marker_absent(builder, marker);
  json_builder_end_array(builder);

  json_builder_set_member_name(builder, "success");
  json_builder_begin_array(builder);
  for (gsize i = 0; i < n_changes; i++) {
    json_builder_begin_object(builder);
    json_builder_set_member_name(builder,
                                 changes[i].value != NULL ? "request_put" : "request_delete_range");
    add_operation(builder, prefix, &changes[i]);
    json_builder_end_object(builder);
  }
  add_marker_operation(builder, "request_put", marker, "w");
  json_builder_end_array(builder);

  /* Failed, it reads its marker (made already?), then the compared keys: their revisions
   * say which change broke it. */
  json_builder_set_member_name(builder, "failure");
  json_builder_begin_array(builder);
  add_marker_operation(builder, "request_range", marker, NULL);
  for (gsize i = 0; i < n_compares; i++) {
    json_builder_begin_object(builder);
    json_builder_set_member_name(builder, "request_range");
    begin_key_object(builder, prefix, compares[i].key);
    json_builder_end_object(builder);
    json_builder_end_object(builder);
  }
  json_builder_end_array(builder);
  json_builder_end_object(builder);
  return to_text(builder);
}

char *kv_etcd_fence_request(const KvEtcdMarker *marker)
{
  g_autoptr(JsonBuilder) builder = json_builder_new();

  json_builder_begin_object(builder);
  json_builder_set_member_name(builder, "compare");
  json_builder_begin_array(builder);
  add_marker_absent(builder, marker);
  json_builder_end_array(builder);
  json_builder_set_member_name(builder, "success");
  json_builder_begin_array(builder);
  add_marker_operation(builder, "request_put", marker, "f");
  json_builder_end_array(builder);
  json_builder_set_member_name(builder, "failure");
  json_builder_begin_array(builder);
  add_marker_operation(builder, "request_range", marker, NULL);
  json_builder_end_array(builder);
  json_builder_end_object(builder);
  return to_text(builder);
}

/* An object of one number, @member. */
static char *number_object(const char *member, guint64 number)
{
  g_autoptr(JsonBuilder) builder = json_builder_new();

  json_builder_begin_object(builder);
  add_number(builder, member, number);
  json_builder_end_object(builder);
  return to_text(builder);
}

char *kv_etcd_lease_grant_request(guint ttl)
{
  return number_object("TTL", ttl);
}

char *kv_etcd_lease_keepalive_request(guint64 lease)
{
  return number_object("ID", lease);
}

JsonNode *kv_etcd_parse(const char *text, gsize length, GError **error)
{
  g_autoptr(JsonParser) parser = json_parser_new();
  g_autoptr(GError) local_error = NULL;

  if (!json_parser_load_from_data(parser, text, (gssize)length, &local_error) ||
      !JSON_NODE_HOLDS_OBJECT(json_parser_get_root(parser))) {
    g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "etcd sent no JSON object: %s",
                local_error != NULL ? local_error->message : "another kind of value");
    return NULL;
  }
  return json_parser_steal_root(parser);
}

/* A 64-bit number, which the gateway writes as a string. */
static guint64 number_member(JsonObject *object, const char *member)
{
  JsonNode *node = object != NULL ? json_object_get_member(object, member) : NULL;

  if (node == NULL || !JSON_NODE_HOLDS_VALUE(node))
    return 0;
  if (json_node_get_value_type(node) == G_TYPE_STRING)
    return g_ascii_strtoull(json_node_get_string(node), NULL, 10);
  return (guint64)json_node_get_int(node);
}

static JsonObject *object_member(JsonObject *object, const char *member)
{
  JsonNode *node = object != NULL ? json_object_get_member(object, member) : NULL;

  return node != NULL && JSON_NODE_HOLDS_OBJECT(node) ? json_node_get_object(node) : NULL;
}

static gboolean boolean_member(JsonObject *object, const char *member)
{
  JsonNode *node = json_object_get_member(object, member);

  return node != NULL && JSON_NODE_HOLDS_VALUE(node) && json_node_get_boolean(node);
}

guint64 kv_etcd_header_revision(JsonObject *response)
{
  return number_member(object_member(response, "header"), "revision");
}

guint64 kv_etcd_watch_compact_revision(JsonObject *result)
{
  return number_member(result, "compact_revision");
}

gboolean kv_etcd_range_more(JsonObject *response)
{
  return boolean_member(response, "more");
}

KvEtcdRefusal kv_etcd_refusal(const char *why)
{
  if (strstr(why, "request is too large") != NULL || strstr(why, "larger than max") != NULL)
    return KV_ETCD_REFUSAL_TOO_LARGE;
  if (strstr(why, "too many operations in txn request") != NULL)
    return KV_ETCD_REFUSAL_TOO_MANY_OPS;
  if (strstr(why, "requested lease not found") != NULL)
    return KV_ETCD_REFUSAL_NO_LEASE;
  return KV_ETCD_REFUSAL_NONE;
}

gboolean kv_etcd_txn_succeeded(JsonObject *response)
{
  return boolean_member(response, "succeeded");
}

/* The kvs a transaction's @index-th response read, or NULL when it read none. */
static JsonArray *txn_read_kvs(JsonObject *response, guint index)
{
  JsonNode *node = json_object_get_member(response, "responses");
  JsonArray *responses =
      node != NULL && JSON_NODE_HOLDS_ARRAY(node) ? json_node_get_array(node) : NULL;

  if (responses == NULL || index >= json_array_get_length(responses))
    return NULL;
  JsonObject *range =
      object_member(json_array_get_object_element(responses, index), "response_range");
  JsonNode *kvs_node = range != NULL ? json_object_get_member(range, "kvs") : NULL;
  JsonArray *kvs =
      kvs_node != NULL && JSON_NODE_HOLDS_ARRAY(kvs_node) ? json_node_get_array(kvs_node) : NULL;
  return kvs != NULL && json_array_get_length(kvs) > 0 ? kvs : NULL;
}

static guint txn_responses(JsonObject *response)
{
  JsonNode *node = json_object_get_member(response, "responses");

  return node != NULL && JSON_NODE_HOLDS_ARRAY(node)
             ? json_array_get_length(json_node_get_array(node))
             : 0;
}

guint64 kv_etcd_txn_conflict_revision(JsonObject *response)
{
  guint64 revision = 0;

  /* The first response is the marker's. */
  for (guint i = 1; i < txn_responses(response); i++) {
    JsonArray *kvs = txn_read_kvs(response, i);
    /* A compared key that is gone was deleted at a revision the answer does not give. */
    if (kvs == NULL)
      return kv_etcd_header_revision(response);
    revision = MAX(revision, number_member(json_array_get_object_element(kvs, 0), "mod_revision"));
  }
  return revision != 0 ? revision : kv_etcd_header_revision(response);
}

KvEtcdMark kv_etcd_mark(JsonObject *response, gboolean fence, guint64 *out_revision)
{
  *out_revision = kv_etcd_header_revision(response);
  if (kv_etcd_txn_succeeded(response))
    return fence ? KV_ETCD_MARK_FENCED : KV_ETCD_MARK_WRITTEN;
  JsonArray *kvs = txn_read_kvs(response, 0);
  if (kvs == NULL)
    return KV_ETCD_MARK_ABSENT;
  JsonObject *kv = json_array_get_object_element(kvs, 0);
  gsize length;
  g_autofree guchar *mark =
      g_base64_decode(json_object_get_string_member_with_default(kv, "value", ""), &length);
  *out_revision = number_member(kv, "mod_revision");
  return length == 1 && mark[0] == 'w' ? KV_ETCD_MARK_WRITTEN : KV_ETCD_MARK_FENCED;
}

guint64 kv_etcd_lease_id(JsonObject *response)
{
  return number_member(response, "ID");
}

gint64 kv_etcd_lease_ttl(JsonObject *response)
{
  JsonObject *result = object_member(response, "result");
  JsonNode *node = json_object_get_member(result != NULL ? result : response, "TTL");

  if (node == NULL || !JSON_NODE_HOLDS_VALUE(node))
    return 0;
  if (json_node_get_value_type(node) == G_TYPE_STRING)
    return g_ascii_strtoll(json_node_get_string(node), NULL, 10);
  return json_node_get_int(node);
}

/* One kv: its key under @prefix and, unless @deleted, its value. FALSE for a key that is
 * no kvstore key; TRUE with no value (and *@unreadable set) for a value kvstore cannot
 * read. */
static gboolean read_kv(JsonObject *kv, const char *prefix, gboolean deleted, KvEtcdEntry *entry,
                        gboolean *unreadable)
{
  const char *key64 =
      kv != NULL ? json_object_get_string_member_with_default(kv, "key", NULL) : NULL;
  gsize key_length, value_length;

  *unreadable = FALSE;
  if (key64 == NULL)
    return FALSE;
  g_autofree guchar *key = g_base64_decode(key64, &key_length);
  gsize prefix_length = strlen(prefix);
  if (key_length <= prefix_length || memcmp(key, prefix, prefix_length) != 0 ||
      memchr(key, '\0', key_length) != NULL ||
      !g_utf8_validate((char *)key, (gssize)key_length, NULL))
    return FALSE;
  entry->key = g_strndup((char *)key + prefix_length, key_length - prefix_length);
  entry->mod_revision = number_member(kv, "mod_revision");
  entry->value = NULL;
  if (deleted)
    return TRUE;
  g_autofree guchar *value =
      g_base64_decode(json_object_get_string_member_with_default(kv, "value", ""), &value_length);
  entry->value = kv_etcd_decode_value(value, value_length, NULL);
  *unreadable = entry->value == NULL;
  return TRUE;
}

/* Whether @kv is the prefix itself: no kvstore key (they are not empty), but kvstored's
 * barrier (kv-etcd-repository.c), which is no one else's value. */
static gboolean is_barrier(JsonObject *kv, const char *prefix_base64)
{
  return kv != NULL &&
         g_strcmp0(json_object_get_string_member_with_default(kv, "key", NULL), prefix_base64) == 0;
}

void kv_etcd_read_kvs(JsonObject *response, const char *prefix, GArray *entries, guint *out_skipped)
{
  JsonNode *node = json_object_get_member(response, "kvs");
  JsonArray *kvs = node != NULL && JSON_NODE_HOLDS_ARRAY(node) ? json_node_get_array(node) : NULL;
  g_autofree char *barrier = base64(prefix);

  for (guint i = 0; kvs != NULL && i < json_array_get_length(kvs); i++) {
    KvEtcdEntry entry = {NULL, NULL, 0};
    gboolean unreadable;
    if (is_barrier(json_array_get_object_element(kvs, i), barrier))
      continue;
    if (read_kv(json_array_get_object_element(kvs, i), prefix, FALSE, &entry, &unreadable) &&
        !unreadable) {
      g_array_append_val(entries, entry);
      continue;
    }
    kv_etcd_entry_clear(&entry);
    (*out_skipped)++;
  }
}

char *kv_etcd_last_key(JsonObject *response)
{
  JsonNode *node = json_object_get_member(response, "kvs");
  JsonArray *kvs = node != NULL && JSON_NODE_HOLDS_ARRAY(node) ? json_node_get_array(node) : NULL;
  gsize length;

  if (kvs == NULL || json_array_get_length(kvs) == 0)
    return NULL;
  JsonObject *last = json_array_get_object_element(kvs, json_array_get_length(kvs) - 1);
  const char *key64 = json_object_get_string_member_with_default(last, "key", "");
  guchar *key = g_base64_decode(key64, &length);
  char *text = g_strndup((const char *)key, length);
  g_free(key);
  return text;
}

void kv_etcd_read_events(JsonObject *result, const char *prefix, GArray *entries,
                         guint *out_skipped)
{
  JsonNode *node = json_object_get_member(result, "events");
  JsonArray *events =
      node != NULL && JSON_NODE_HOLDS_ARRAY(node) ? json_node_get_array(node) : NULL;
  g_autofree char *barrier = base64(prefix);

  for (guint i = 0; events != NULL && i < json_array_get_length(events); i++) {
    JsonObject *event = json_array_get_object_element(events, i);
    if (is_barrier(object_member(event, "kv"), barrier))
      continue;
    /* PUT, the default, is left out of the JSON. */
    gboolean deleted =
        g_strcmp0(json_object_get_string_member_with_default(event, "type", "PUT"), "DELETE") == 0;
    KvEtcdEntry entry = {NULL, NULL, 0};
    gboolean unreadable;
    /* A value kvstore cannot read hides the key, as if it were deleted. */
    if (!read_kv(object_member(event, "kv"), prefix, deleted, &entry, &unreadable)) {
      (*out_skipped)++;
      continue;
    }
    *out_skipped += unreadable;
    g_array_append_val(entries, entry);
  }
}

guint64 kv_etcd_events_revision(JsonObject *result)
{
  JsonNode *node = json_object_get_member(result, "events");
  JsonArray *events =
      node != NULL && JSON_NODE_HOLDS_ARRAY(node) ? json_node_get_array(node) : NULL;
  guint64 revision = 0;

  for (guint i = 0; events != NULL && i < json_array_get_length(events); i++) {
    JsonObject *kv = object_member(json_array_get_object_element(events, i), "kv");
    revision = MAX(revision, number_member(kv, "mod_revision"));
  }
  return revision;
}
