/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "kv-repository.h"

#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* kvstore's keys and values in etcd, and the JSON of etcd's v3 gateway (every key and
 * value base64, every 64-bit number a string). No network here: unit-tested alone.
 *
 * A kvstore key K is the etcd key PREFIX K (the prefix is --etcd-prefix, "/kvstore/" by
 * default). A value is stored as its GVariant type string, one NUL byte, then the value
 * serialized in GVariant normal form (little-endian): "i\0" and 4 bytes for int32 7,
 * "s\0hello\0" for the string "hello". Every D-Bus type round-trips exactly. */

/* A key/value as etcd returns it. */
typedef struct {
  char *key; /* without the prefix */
  GVariant *value;
  guint64 mod_revision;
} KvEtcdEntry;

void kv_etcd_entry_clear(KvEtcdEntry *entry);

/* The bytes of @value (a floating reference is sunk) in etcd. */
GBytes *kv_etcd_encode_value(GVariant *value);

/* The value in @data, or NULL with G_IO_ERROR_INVALID_DATA when it is not one kvstore
 * wrote (no type, a type D-Bus cannot carry, bytes not in normal form). */
GVariant *kv_etcd_decode_value(const guint8 *data, gsize size, GError **error);

/* The etcd key range of every key starting with @prefix: the first key after all of
 * them (@prefix with its last byte one higher; "\0" for everything). */
char *kv_etcd_range_end(const char *prefix);

/* Requests, as JSON text. A range of the keys under @prefix that sort after the raw etcd
 * key @after (NULL: from the first), at @revision (0: the latest), at most @limit. */
char *kv_etcd_range_request(const char *prefix, const char *after, guint64 revision, guint limit);
char *kv_etcd_watch_request(const char *prefix, guint64 start_revision);

/* A write's identity in etcd: a key of its own (the raw etcd key) that its transaction
 * creates, or that a fence creates first, under a lease that removes it a while later.
 * Whether a write whose answer was lost took effect is read from it. */
typedef struct {
  const char *key;
  guint64 lease;
} KvEtcdMarker;

/* Where markers live: beside @prefix, outside its range, so that the watch of the prefix
 * never brings them ("/kvstore/" -> "/kvstore.writes/"). NULL for the empty prefix. */
char *kv_etcd_marker_prefix(const char *prefix);

/* A plain put of @change (with a value) under @prefix, for /v3/kv/put. */
char *kv_etcd_put_request(const char *prefix, const KvChange *change);

/* A transaction: every @compares holds (mod_revision equal) and @marker does not exist,
 * then every @changes, under @prefix, and @marker created (value "w"). Failed, it reads
 * @marker, then each compared key. */
char *kv_etcd_txn_request(const char *prefix, const KvChange *changes, gsize n_changes,
                          const KvCompare *compares, gsize n_compares, const KvEtcdMarker *marker);

/* The fence of a write whose answer never came: @marker created (value "f") unless the
 * write created it first; either way, read back. Once it is made, the write can no longer
 * take effect. */
char *kv_etcd_fence_request(const KvEtcdMarker *marker);

/* What a marker says, read from the answer to a transaction or a fence. */
typedef enum {
  KV_ETCD_MARK_ABSENT,  /* neither made: the compares failed (a transaction) */
  KV_ETCD_MARK_WRITTEN, /* the write took effect, at *@out_revision */
  KV_ETCD_MARK_FENCED,  /* the fence came first: the write never takes effect */
} KvEtcdMark;

/* The mark of a transaction or fence that answered @response: for one that succeeded,
 * what it made itself (WRITTEN at its revision, or FENCED). */
KvEtcdMark kv_etcd_mark(JsonObject *response, gboolean fence, guint64 *out_revision);

/* Leases: a grant of @ttl seconds, a keep-alive of @lease. */
char *kv_etcd_lease_grant_request(guint ttl);
char *kv_etcd_lease_keepalive_request(guint64 lease);
/* The ID of a granted lease (0: none), and the TTL left (<= 0: the lease is gone), from
 * the answer to a grant or to a keep-alive (whose object is under "result"). */
guint64 kv_etcd_lease_id(JsonObject *response);
gint64 kv_etcd_lease_ttl(JsonObject *response);

/* Reads @text as a JSON object; NULL with G_IO_ERROR_INVALID_DATA. */
JsonNode *kv_etcd_parse(const char *text, gsize length, GError **error);

/* header.revision of a response (or of a watch result), 0 when absent. */
guint64 kv_etcd_header_revision(JsonObject *response);

/* The oldest revision etcd still has, in a watch's answer that it cancelled because the
 * revision it was to start from was compacted away; 0 when it does not say. */
guint64 kv_etcd_watch_compact_revision(JsonObject *result);

/* The kvs of a range response decoded under @prefix: appends KvEtcdEntry to @entries.
 * Keys outside @prefix and values kvstore cannot read (written by another program) are
 * left out and counted in @out_skipped; the prefix itself (kvstored's read barrier) is
 * left out without a count. */
void kv_etcd_read_kvs(JsonObject *response, const char *prefix, GArray *entries,
                      guint *out_skipped);

/* The raw etcd key of the last kv of a range response, skipped or not, where the next
 * page starts after; NULL when it has none. */
char *kv_etcd_last_key(JsonObject *response);

/* The events of a watch result, in order, as entries (value NULL: deleted). A value
 * kvstore cannot read comes as a deletion, and is counted in @out_skipped. */
void kv_etcd_read_events(JsonObject *result, const char *prefix, GArray *entries,
                         guint *out_skipped);

/* The newest revision among the events of a watch result, read or left out; 0: none. */
guint64 kv_etcd_events_revision(JsonObject *result);

/* Whether a range response says more keys follow. */
gboolean kv_etcd_range_more(JsonObject *response);

/* What etcd's message @why for a request it refused says: a request over one of its
 * limits changed nothing, and sending it again will not help. */
typedef enum {
  KV_ETCD_REFUSAL_NONE,         /* not a limit: an outage, a timeout, another error */
  KV_ETCD_REFUSAL_TOO_LARGE,    /* over --max-request-bytes, or the gateway's 2 MiB */
  KV_ETCD_REFUSAL_TOO_MANY_OPS, /* a transaction over --max-txn-ops */
  KV_ETCD_REFUSAL_NO_LEASE,     /* the lease named is gone: nothing was made */
} KvEtcdRefusal;

KvEtcdRefusal kv_etcd_refusal(const char *why);

/* Whether a transaction's compares held. */
gboolean kv_etcd_txn_succeeded(JsonObject *response);

/* For a transaction that failed its compares: the revision the replica must reach to hold
 * the change that broke them (the newest revision of the compared keys, read by the
 * transaction's failure branch after its marker; the answer's own revision when one of
 * them is gone). */
guint64 kv_etcd_txn_conflict_revision(JsonObject *response);

G_END_DECLS
