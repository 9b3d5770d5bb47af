/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "kv-etcd-writer.h"

#include "kv-error.h"

#include <gio/gio.h>
#include <string.h>

/* One attempt (or fence) waits this long for its member: a healthy member answers in
 * milliseconds, so one that has not answered by then is paused, cut off or without a
 * leader, and the next try goes to another. */
#define ATTEMPT_MS 1000
/* A try that found no member to take it waits this long before the next. */
#define PAUSE_MS 100
/* The lease of the markers: a minute beyond twice the longest write, renewed every
 * KEEPALIVE_S. A write goes out only under a lease that outlives it by LEASE_MARGIN_S, so
 * that a marker it made is still there when its fence looks for it. */
#define LEASE_EXTRA_S  60
#define KEEPALIVE_S    10
#define LEASE_MARGIN_S 15

struct _KvEtcdWriter {
  KvEtcdClient *client;
  sd_event *event;
  char *prefix;
  char *markers; /* "PREFIX-BESIDE/ID/" */
  guint64 sequence;
  guint lease_ttl_s;
  guint64 lease;        /* 0: none */
  gint64 lease_until;   /* monotonic µs it lasts at least until */
  gint64 granting;      /* when the grant out was sent; 0: none out */
  gint64 keeping;       /* when the keep-alive out was sent; 0: none out */
  guint64 kept;         /* the lease it keeps */
  GPtrArray *for_lease; /* Write, waiting for a lease */
  sd_event_source *keepalive;
  sd_event_source *regrant; /* a grant again, after a failed one */
  GHashTable *writes;       /* every Write not yet told */
};

typedef struct {
  KvEtcdWriter *writer;
  GArray *changes;  /* KvChange, copied */
  GArray *compares; /* KvCompare, copied */
  gint64 deadline;  /* monotonic µs */
  char *marker;     /* the current attempt's */
  guint64 marker_lease;
  gboolean unsettled; /* the current attempt may have taken effect */
  char *why;          /* what went wrong last */
  sd_event_source *pause;
  KvEtcdWriteFunc done;
  gpointer user_data;
} Write;

static void write_free(Write *write)
{
  for (guint i = 0; i < write->changes->len; i++) {
    KvChange *change = &g_array_index(write->changes, KvChange, i);
    g_free((char *)change->key);
    if (change->value != NULL)
      g_variant_unref(change->value);
  }
  for (guint i = 0; i < write->compares->len; i++)
    g_free((char *)g_array_index(write->compares, KvCompare, i).key);
  g_array_unref(write->changes);
  g_array_unref(write->compares);
  sd_event_source_disable_unref(write->pause);
  g_free(write->marker);
  g_free(write->why);
  g_free(write);
}

static gint64 remaining_usec(Write *write)
{
  return write->deadline - g_get_monotonic_time();
}

static void finish(Write *write, const KvEtcdWriteOutcome *outcome)
{
  g_hash_table_remove(write->writer->writes, write);
  g_ptr_array_remove(write->writer->for_lease, write);
  write->done(outcome, write->user_data);
  write_free(write);
}

static void finish_error(Write *write, GError *error)
{
  KvEtcdWriteOutcome outcome = {0, FALSE, error};

  finish(write, &outcome);
  g_error_free(error);
}

/* Out of time with the last attempt settled as not taken, or never sent. */
static void finish_unavailable(Write *write)
{
  finish_error(write, g_error_new(KV_ERROR, KV_ERROR_UNAVAILABLE,
                                  "etcd did not take the change; it was not made: %s",
                                  write->why != NULL ? write->why : "no time left"));
}

static void set_why(Write *write, const char *why)
{
  g_free(write->why);
  write->why = g_strdup(why);
}

static void write_try(Write *write);
static void fence(Write *write);

static guint attempt_timeout_ms(Write *write)
{
  return (guint)CLAMP(remaining_usec(write) / 1000, 1, ATTEMPT_MS);
}

static int on_pause_over(sd_event_source *source, uint64_t usec, void *user_data)
{
  Write *write = user_data;

  write->pause = sd_event_source_disable_unref(write->pause);
  if (write->unsettled)
    fence(write);
  else
    write_try(write);
  return 0;
}

/* The next try (a fence while the attempt is unsettled, else a new attempt) a moment
 * later, or at once when that moment is past the deadline (which then ends it). */
static void pause_then_go_on(Write *write)
{
  if (remaining_usec(write) > PAUSE_MS * 1000 &&
      sd_event_add_time_relative(write->writer->event, &write->pause, CLOCK_MONOTONIC,
                                 PAUSE_MS * 1000, 0, on_pause_over, write) >= 0)
    return;
  on_pause_over(NULL, 0, write);
}

/* Whether @error says the request never left kvstored (no member took the connection). */
static gboolean never_sent(const GError *error)
{
  return g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED);
}

static KvEtcdRefusal refusal(const GError *error)
{
  return g_error_matches(error, G_IO_ERROR, G_IO_ERROR_FAILED) ? kv_etcd_refusal(error->message)
                                                               : KV_ETCD_REFUSAL_NONE;
}

/* The lease named is gone: the next attempt waits for a new one. */
static void forget_lease(KvEtcdWriter *self, guint64 lease)
{
  if (self->lease == lease)
    self->lease = 0;
}

/* A lost answer settled: the attempt took effect at @revision, or never will (0). */
static void settled(Write *write, guint64 revision)
{
  write->unsettled = FALSE;
  if (revision > 0) {
    KvEtcdWriteOutcome outcome = {revision, FALSE, NULL};
    finish(write, &outcome);
    return;
  }
  write_try(write);
}

static void on_fence(const char *body, gsize length, const GError *error, gpointer user_data)
{
  Write *write = user_data;
  g_autoptr(JsonNode) root = error == NULL ? kv_etcd_parse(body, length, NULL) : NULL;

  guint64 revision;
  /* A fence that succeeded made the marker; one that failed read it. An answer that says
   * neither settles nothing: the fence goes again. */
  switch (root != NULL ? kv_etcd_mark(json_node_get_object(root), TRUE, &revision)
                       : KV_ETCD_MARK_ABSENT) {
  case KV_ETCD_MARK_WRITTEN:
    settled(write, revision);
    return;
  case KV_ETCD_MARK_FENCED:
    settled(write, 0);
    return;
  case KV_ETCD_MARK_ABSENT:
    break;
  }
  /* No marker can be made without its lease, nor can the attempt's: gone, it had made none
   * (the lease outlived the attempt by a margin), and it never will. */
  if (error != NULL && refusal(error) == KV_ETCD_REFUSAL_NO_LEASE) {
    forget_lease(write->writer, write->marker_lease);
    settled(write, 0);
    return;
  }
  if (error != NULL)
    set_why(write, error->message);
  pause_then_go_on(write);
}

/* The attempt's answer was lost: make sure it can no longer take effect, and learn
 * whether it did. */
static void fence(Write *write)
{
  if (remaining_usec(write) <= 0) {
    finish_error(write, g_error_new(KV_ERROR, KV_ERROR_INDETERMINATE,
                                    "etcd did not answer in time whether it made the change, "
                                    "which may or may not have been made (read the key's "
                                    "revision to tell): %s",
                                    write->why));
    return;
  }
  KvEtcdMarker marker = {write->marker, write->marker_lease};
  g_autofree char *request = kv_etcd_fence_request(&marker);
  kv_etcd_client_post(write->writer->client, "/v3/kv/txn", request, attempt_timeout_ms(write),
                      FALSE, on_fence, write);
}

static void on_attempt(const char *body, gsize length, const GError *error, gpointer user_data)
{
  Write *write = user_data;
  g_autoptr(GError) parse_error = NULL;
  g_autoptr(JsonNode) root = error == NULL ? kv_etcd_parse(body, length, &parse_error) : NULL;

  if (root != NULL) {
    JsonObject *response = json_node_get_object(root);
    guint64 revision;
    switch (kv_etcd_mark(response, FALSE, &revision)) {
    case KV_ETCD_MARK_WRITTEN:
      settled(write, revision);
      return;
    case KV_ETCD_MARK_ABSENT: {
      KvEtcdWriteOutcome outcome = {kv_etcd_txn_conflict_revision(response), TRUE, NULL};
      finish(write, &outcome);
      return;
    }
    case KV_ETCD_MARK_FENCED:
      settled(write, 0);
      return;
    }
  }
  const GError *failure = error != NULL ? error : parse_error;
  KvEtcdRefusal kind = refusal(failure);
  set_why(write, failure->message);
  switch (kind) {
  case KV_ETCD_REFUSAL_TOO_LARGE:
  case KV_ETCD_REFUSAL_TOO_MANY_OPS:
    finish_error(write,
                 g_error_new(KV_ERROR, KV_ERROR_TOO_LARGE, "etcd takes no %s, and made nothing: %s",
                             kind == KV_ETCD_REFUSAL_TOO_LARGE
                                 ? "request this large (its --max-request-bytes)"
                                 : "transaction of this many keys (its --max-txn-ops)",
                             failure->message));
    return;
  case KV_ETCD_REFUSAL_NO_LEASE:
    forget_lease(write->writer, write->marker_lease);
    settled(write, 0);
    return;
  case KV_ETCD_REFUSAL_NONE:
    break;
  }
  if (never_sent(failure)) {
    write->unsettled = FALSE;
    pause_then_go_on(write);
    return;
  }
  fence(write);
}

static void send_attempt(Write *write)
{
  KvEtcdWriter *self = write->writer;

  g_free(write->marker);
  write->marker = g_strdup_printf("%s%016" G_GINT64_MODIFIER "x", self->markers, ++self->sequence);
  write->marker_lease = self->lease;
  write->unsettled = TRUE;
  KvEtcdMarker marker = {write->marker, write->marker_lease};
  g_autofree char *request =
      kv_etcd_txn_request(self->prefix, (const KvChange *)write->changes->data, write->changes->len,
                          (const KvCompare *)write->compares->data, write->compares->len, &marker);
  kv_etcd_client_post(self->client, "/v3/kv/txn", request, attempt_timeout_ms(write), FALSE,
                      on_attempt, write);
}

static gboolean lease_lasts(KvEtcdWriter *self, Write *write)
{
  return self->lease != 0 &&
         self->lease_until > write->deadline + (gint64)LEASE_MARGIN_S * G_USEC_PER_SEC;
}

static void grant(KvEtcdWriter *self);

/* A new attempt, once the lease is good for it; UNAVAILABLE when out of time. */
static void write_try(Write *write)
{
  KvEtcdWriter *self = write->writer;

  if (remaining_usec(write) <= 0) {
    finish_unavailable(write);
    return;
  }
  if (!lease_lasts(self, write)) {
    g_ptr_array_add(self->for_lease, write);
    grant(self);
    return;
  }
  send_attempt(write);
}

/* The writes waiting for a lease: tried now that there is one, or failed when out of
 * time. */
static void serve_waiting(KvEtcdWriter *self)
{
  g_autoptr(GPtrArray) waiting = self->for_lease;

  self->for_lease = g_ptr_array_new();
  for (guint i = 0; i < waiting->len; i++) {
    Write *write = g_ptr_array_index(waiting, i);
    if (lease_lasts(self, write) || remaining_usec(write) <= 0)
      write_try(write);
    else
      g_ptr_array_add(self->for_lease, write);
  }
}

static int on_regrant(sd_event_source *source, uint64_t usec, void *user_data)
{
  KvEtcdWriter *self = user_data;

  self->regrant = sd_event_source_disable_unref(self->regrant);
  grant(self);
  return 0;
}

static void on_grant(const char *body, gsize length, const GError *error, gpointer user_data)
{
  KvEtcdWriter *self = user_data;
  g_autoptr(JsonNode) root = error == NULL ? kv_etcd_parse(body, length, NULL) : NULL;
  guint64 lease = root != NULL ? kv_etcd_lease_id(json_node_get_object(root)) : 0;
  gint64 ttl = root != NULL ? kv_etcd_lease_ttl(json_node_get_object(root)) : 0;

  if (lease != 0 && ttl > 0) {
    self->lease = lease;
    self->lease_until = self->granting + ttl * G_USEC_PER_SEC;
  } else {
    const char *why = error != NULL ? error->message : "etcd granted no lease";
    for (guint i = 0; i < self->for_lease->len; i++)
      set_why(g_ptr_array_index(self->for_lease, i), why);
  }
  self->granting = 0;
  serve_waiting(self);
  if (self->for_lease->len > 0 && self->regrant == NULL)
    sd_event_add_time_relative(self->event, &self->regrant, CLOCK_MONOTONIC, PAUSE_MS * 1000, 0,
                               on_regrant, self);
}

/* A new lease for the markers, unless one is being granted. A grant whose answer is lost
 * leaves a lease that nothing uses: it ends by itself. */
static void grant(KvEtcdWriter *self)
{
  if (self->granting != 0 || self->regrant != NULL)
    return;
  self->granting = g_get_monotonic_time();
  g_autofree char *body = kv_etcd_lease_grant_request(self->lease_ttl_s);
  kv_etcd_client_post(self->client, "/v3/lease/grant", body, ATTEMPT_MS, FALSE, on_grant, self);
}

static void on_kept(const char *body, gsize length, const GError *error, gpointer user_data)
{
  KvEtcdWriter *self = user_data;
  g_autoptr(JsonNode) root = error == NULL ? kv_etcd_parse(body, length, NULL) : NULL;

  if (root != NULL && self->kept == self->lease) {
    gint64 ttl = kv_etcd_lease_ttl(json_node_get_object(root));
    if (ttl > 0)
      self->lease_until = self->keeping + ttl * G_USEC_PER_SEC;
    else
      self->lease = 0; /* gone: the next write asks for another */
  }
  self->keeping = 0;
}

static int on_keepalive(sd_event_source *source, uint64_t usec, void *user_data)
{
  KvEtcdWriter *self = user_data;

  sd_event_source_set_time_relative(source, (uint64_t)KEEPALIVE_S * G_USEC_PER_SEC);
  if (self->lease == 0 || self->keeping != 0)
    return 0;
  self->keeping = g_get_monotonic_time();
  self->kept = self->lease;
  g_autofree char *body = kv_etcd_lease_keepalive_request(self->lease);
  kv_etcd_client_post(self->client, "/v3/lease/keepalive", body, ATTEMPT_MS, TRUE, on_kept, self);
  return 0;
}

KvEtcdWriter *kv_etcd_writer_new(KvEtcdClient *client, sd_event *event, const char *prefix,
                                 guint max_timeout_ms)
{
  KvEtcdWriter *self = g_new0(KvEtcdWriter, 1);
  g_autofree char *beside = kv_etcd_marker_prefix(prefix);

  g_return_val_if_fail(beside != NULL, NULL);
  self->client = client;
  self->event = sd_event_ref(event);
  self->prefix = g_strdup(prefix);
  /* Another kvstored, or this one started again, never takes the same markers. */
  self->markers = g_strdup_printf("%s%08x%08x/", beside, g_random_int(), g_random_int());
  self->lease_ttl_s = LEASE_EXTRA_S + 2 * (max_timeout_ms / 1000 + 1);
  self->for_lease = g_ptr_array_new();
  self->writes = g_hash_table_new(NULL, NULL);
  if (sd_event_add_time_relative(event, &self->keepalive, CLOCK_MONOTONIC,
                                 (uint64_t)KEEPALIVE_S * G_USEC_PER_SEC, G_USEC_PER_SEC,
                                 on_keepalive, self) >= 0)
    sd_event_source_set_enabled(self->keepalive, SD_EVENT_ON);
  /* Asked for now, so that the first write need not wait for it. */
  grant(self);
  return self;
}

void kv_etcd_writer_submit(KvEtcdWriter *self, const KvChange *changes, gsize n_changes,
                           const KvCompare *compares, gsize n_compares, guint timeout_ms,
                           KvEtcdWriteFunc done, gpointer user_data)
{
  Write *write = g_new0(Write, 1);

  write->writer = self;
  write->changes = g_array_sized_new(FALSE, FALSE, sizeof(KvChange), (guint)n_changes);
  write->compares = g_array_sized_new(FALSE, FALSE, sizeof(KvCompare), (guint)n_compares);
  for (gsize i = 0; i < n_changes; i++) {
    KvChange copy = {g_strdup(changes[i].key),
                     changes[i].value != NULL ? g_variant_ref_sink(changes[i].value) : NULL};
    g_array_append_val(write->changes, copy);
  }
  for (gsize i = 0; i < n_compares; i++) {
    KvCompare copy = {g_strdup(compares[i].key), compares[i].revision};
    g_array_append_val(write->compares, copy);
  }
  write->deadline = g_get_monotonic_time() + (gint64)timeout_ms * 1000;
  write->done = done;
  write->user_data = user_data;
  g_hash_table_add(self->writes, write);
  write_try(write);
}

void kv_etcd_writer_free(KvEtcdWriter *self)
{
  if (self == NULL)
    return;
  GList *writes = g_hash_table_get_keys(self->writes);
  for (GList *l = writes; l != NULL; l = l->next)
    write_free(l->data);
  g_list_free(writes);
  g_hash_table_unref(self->writes);
  g_ptr_array_unref(self->for_lease);
  sd_event_source_disable_unref(self->keepalive);
  sd_event_source_disable_unref(self->regrant);
  sd_event_unref(self->event);
  g_free(self->prefix);
  g_free(self->markers);
  g_free(self);
}
