/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The replica of an etcd prefix. It is long because the replica's life is one state
 * machine: the load, the watch and its restarts, the reload after a compaction, writes
 * waiting for the watch, the probe's verdict on freshness and the read barrier all move
 * the applied revision and the current flag together. The writes themselves
 * (kv-etcd-writer.c), batched Sets (kv-etcd-puts.c), the probe and the HTTP client are
 * apart; the reload and the barrier could move out next. */
#include "kv-etcd-repository.h"

#include "kv-error.h"
#include "kv-etcd-client.h"
#include "kv-etcd-codec.h"
#include "kv-etcd-past.h"
#include "kv-etcd-probe.h"
#include "kv-etcd-puts.h"
#include "kv-etcd-writer.h"
#include "kv-log.h"
#include "kv-memory-repository.h"

#include <gio/gio.h>
#include <string.h>

/* Keys per Range request while loading. */
#define PAGE_KEYS 1000
/* The watch comes back after 0.1 s, then waits twice as long each time, up to 2 s. */
#define BACKOFF_FIRST_MS 100
#define BACKOFF_MAX_MS   2000

typedef struct {
  KvRepository parent;
  KvRepository *replica;
  KvEtcdClient *client;
  KvEtcdWriter *writer;
  KvEtcdPuts *puts; /* Sets on their way */
  sd_event *event;
  char *prefix;
  guint write_timeout_ms;
  KvEtcdStream *watch;
  guint watch_endpoint;
  gboolean watch_created;
  KvEtcdProbe *probe; /* of the watch's member, once the watch is created */
  gboolean current;   /* the watch runs, and its member answered as part of the cluster */
  guint64 applied;    /* the replica holds every change up to this revision */
  KvEtcdPast *past;   /* etcd's history before the load, being read back; or NULL */
  sd_event_source *past_deadline;
  GPtrArray *waiting; /* Submissions done in etcd, waiting for the watch */
  GHashTable *submissions;
  sd_event_source *retry;
  guint backoff_ms;
  KvRepositoryChangeFunc on_change;
  gpointer on_change_data;
  KvEtcdStateFunc state;
  gpointer state_data;
  struct _Reload *reload; /* under way, or NULL */
  /* Linearizable reads: a barrier write out (its syncs in @synced), and the syncs asked
   * since it went (@to_sync), which wait for the next. */
  GPtrArray *synced;
  GPtrArray *to_sync;
  guint64 barrier; /* the barrier's revision, once made; 0 while it is out */
  sd_event_source *barrier_deadline;
} KvEtcdRepository;

typedef struct {
  KvRepositorySyncFunc done;
  gpointer user_data;
  GDestroyNotify drop;
} Sync;

/* A sync never told (kvstored stops): what it holds is dropped. */
static void sync_drop(gpointer data)
{
  Sync *sync = data;

  if (sync->drop != NULL)
    sync->drop(sync->user_data);
  g_free(sync);
}

typedef struct _Reload Reload;

typedef struct {
  KvEtcdRepository *self;
  KvRepositorySubmitFunc done;
  gpointer user_data;
  guint64 revision;
  gboolean conflict;
  sd_event_source *deadline; /* while it waits for the watch */
} Submission;

static void say_state(KvEtcdRepository *self, gboolean current, const char *format, ...)
    G_GNUC_PRINTF(3, 4);

static void say_state(KvEtcdRepository *self, gboolean current, const char *format, ...)
{
  va_list args;

  self->current = current;
  if (self->state == NULL)
    return;
  va_start(args, format);
  g_autofree char *what = g_strdup_vprintf(format, args);
  va_end(args);
  self->state(current, what, self->state_data);
}

static void submission_free(Submission *submission)
{
  g_hash_table_remove(submission->self->submissions, submission);
  sd_event_source_disable_unref(submission->deadline);
  g_free(submission);
}

static void submission_complete(Submission *submission)
{
  g_autoptr(GError) error = NULL;

  g_ptr_array_remove(submission->self->waiting, submission);
  if (submission->conflict) {
    g_set_error_literal(&error, KV_ERROR, KV_ERROR_CONFLICT,
                        "another writer changed the data first");
    submission->done(0, error, submission->user_data);
  } else {
    submission->done(submission->revision, NULL, submission->user_data);
  }
  submission_free(submission);
}

static void barrier_send(KvEtcdRepository *self);

/* The syncs of the barrier out, told @error (NULL: the replica holds it); the next
 * barrier goes for those asked since. */
static void barrier_done(KvEtcdRepository *self, const GError *error)
{
  g_autoptr(GPtrArray) synced = self->synced;

  self->synced = g_ptr_array_new_with_free_func(sync_drop);
  self->barrier = 0;
  self->barrier_deadline = sd_event_source_disable_unref(self->barrier_deadline);
  for (guint i = 0; i < synced->len; i++) {
    Sync *sync = g_ptr_array_index(synced, i);
    sync->done(error, sync->user_data);
    sync->drop = NULL;
  }
  if (self->to_sync->len > 0)
    barrier_send(self);
}

/* The writes whose revision the replica has reached. */
static void complete_reached(KvEtcdRepository *self)
{
  if (self->barrier != 0 && self->barrier <= self->applied)
    barrier_done(self, NULL);
  for (guint i = 0; i < self->waiting->len;) {
    Submission *submission = g_ptr_array_index(self->waiting, i);
    if (submission->revision <= self->applied)
      submission_complete(submission);
    else
      i++;
  }
}

/* Applies @entries, events of the watch or the differences found by a reload, to the
 * replica, a revision at a time, telling each change. */
static void apply_entries(KvEtcdRepository *self, GArray *entries, guint64 revision_if_none)
{
  for (guint i = 0; i < entries->len; i++) {
    KvEtcdEntry *entry = &g_array_index(entries, KvEtcdEntry, i);
    guint64 revision = entry->mod_revision != 0 ? entry->mod_revision : revision_if_none;
    kv_memory_repository_load(self->replica, entry->key, entry->value, revision);
    kv_memory_repository_set_revision(self->replica, MAX(revision, self->applied));
    if (self->on_change != NULL)
      self->on_change(entry->key, entry->value, revision, self->on_change_data);
  }
}

static void start_watch(KvEtcdRepository *self);
static void retry_watch(KvEtcdRepository *self, const char *why);

/* A page of a Range answer (@body) of the prefix: hands each kv to @func, sets *@revision
 * from the first page (later ones are asked at it) and moves *@after to its last key.
 * Returns 1 when more pages follow, 0 after the last, -1 with @error. */
typedef void (*LoadFunc)(KvEtcdEntry *entry, gpointer user_data);

static int take_page(KvEtcdRepository *self, const char *body, gsize length, guint64 *revision,
                     char **after, LoadFunc func, gpointer user_data, guint *skipped,
                     GError **error)
{
  g_autoptr(JsonNode) root = kv_etcd_parse(body, length, error);

  if (root == NULL)
    return -1;
  JsonObject *response = json_node_get_object(root);
  if (*revision == 0)
    *revision = kv_etcd_header_revision(response);
  g_autoptr(GArray) entries = g_array_new(FALSE, FALSE, sizeof(KvEtcdEntry));
  g_array_set_clear_func(entries, (GDestroyNotify)kv_etcd_entry_clear);
  kv_etcd_read_kvs(response, self->prefix, entries, skipped);
  for (guint i = 0; i < entries->len; i++)
    func(&g_array_index(entries, KvEtcdEntry, i), user_data);
  g_free(*after);
  *after = kv_etcd_last_key(response);
  return kv_etcd_range_more(response) && *after != NULL ? 1 : 0;
}

/* Calls @func with every kv of the prefix, page after page, all at one revision: the
 * revision, or 0 with @error. Waits for each page: for the start, before any call is
 * served. */
static guint64 load(KvEtcdRepository *self, guint64 at, LoadFunc func, gpointer user_data,
                    guint *out_skipped, GError **error)
{
  g_autofree char *after = NULL;
  guint64 revision = at;
  int more = 1;

  while (more > 0) {
    g_autofree char *request = kv_etcd_range_request(self->prefix, after, revision, PAGE_KEYS);
    g_autofree char *body =
        kv_etcd_client_post_sync(self->client, "/v3/kv/range", request, 10000, error);
    if (body == NULL)
      return 0;
    more =
        take_page(self, body, strlen(body), &revision, &after, func, user_data, out_skipped, error);
  }
  return more == 0 ? revision : 0;
}

static void load_into_replica(KvEtcdEntry *entry, gpointer user_data)
{
  KvEtcdRepository *self = user_data;

  kv_memory_repository_load(self->replica, entry->key, entry->value, entry->mod_revision);
}

static void collect_entry(KvEtcdEntry *entry, gpointer user_data)
{
  KvEtcdEntry *copy = g_new(KvEtcdEntry, 1);

  *copy = *entry;
  entry->key = NULL;
  entry->value = NULL;
  g_hash_table_insert(user_data, copy->key, copy);
}

static void entry_free(gpointer entry)
{
  kv_etcd_entry_clear(entry);
  g_free(entry);
}

typedef struct {
  GHashTable *fresh;
  GArray *changes; /* KvEtcdEntry */
  guint64 revision;
} Diff;

static gboolean find_deleted(const char *key, GVariant *value, guint64 revision, gpointer user_data)
{
  Diff *diff = user_data;

  if (!g_hash_table_contains(diff->fresh, key)) {
    KvEtcdEntry gone = {g_strdup(key), NULL, diff->revision};
    g_array_append_val(diff->changes, gone);
  }
  return TRUE;
}

/* A reload under way: etcd compacted away revisions the watch needed, so the prefix is
 * read again, page by page from the event loop (reads go on being answered from the
 * replica meanwhile), and what differs from the replica is told as changes. */
struct _Reload {
  KvEtcdRepository *self;
  GHashTable *fresh; /* key -> KvEtcdEntry */
  char *after;
  guint64 revision;
  guint skipped;
};

static void reload_free(Reload *reload)
{
  g_hash_table_unref(reload->fresh);
  g_free(reload->after);
  g_free(reload);
}

/* The replica made the cluster's again at the reload's revision. */
static void reload_apply(Reload *reload)
{
  KvEtcdRepository *self = reload->self;
  g_autoptr(GArray) changes = g_array_new(FALSE, FALSE, sizeof(KvEtcdEntry));
  g_array_set_clear_func(changes, (GDestroyNotify)kv_etcd_entry_clear);
  Diff diff = {reload->fresh, changes, reload->revision};
  GHashTableIter iter;
  KvEtcdEntry *entry;

  kv_repository_foreach(self->replica, "", NULL, FALSE, find_deleted, &diff);
  g_hash_table_iter_init(&iter, reload->fresh);
  while (g_hash_table_iter_next(&iter, NULL, (gpointer *)&entry)) {
    guint64 known = 0;
    g_autoptr(GVariant) value = kv_repository_lookup(self->replica, entry->key, &known);
    if (value != NULL && known == entry->mod_revision)
      continue;
    KvEtcdEntry changed = {g_strdup(entry->key), g_variant_ref(entry->value), entry->mod_revision};
    g_array_append_val(changes, changed);
  }
  apply_entries(self, changes, reload->revision);
  self->applied = MAX(self->applied, reload->revision);
  kv_memory_repository_set_revision(self->replica, self->applied);
  say_state(self, FALSE,
            "etcd had compacted away what the watch missed: reloaded %u keys at revision "
            "%" G_GUINT64_FORMAT ", %u of them changed or deleted",
            g_hash_table_size(reload->fresh), reload->revision, changes->len);
}

static void request_reload_page(Reload *reload);

static void on_reload_page(const char *body, gsize length, const GError *error, gpointer user_data)
{
  Reload *reload = user_data;
  KvEtcdRepository *self = reload->self;
  g_autoptr(GError) local_error = NULL;
  int more = error == NULL ? take_page(self, body, length, &reload->revision, &reload->after,
                                       collect_entry, reload->fresh, &reload->skipped, &local_error)
                           : -1;

  if (more > 0) {
    request_reload_page(reload);
    return;
  }
  self->reload = NULL;
  if (more < 0) {
    /* The watch comes back from where it was, is cancelled again, and the reload tried
     * again. */
    retry_watch(self, error != NULL ? error->message : local_error->message);
  } else {
    reload_apply(reload);
    complete_reached(self);
    start_watch(self);
  }
  reload_free(reload);
}

static void request_reload_page(Reload *reload)
{
  KvEtcdRepository *self = reload->self;
  g_autofree char *request =
      kv_etcd_range_request(self->prefix, reload->after, reload->revision, PAGE_KEYS);

  kv_etcd_client_post(self->client, "/v3/kv/range", request, 10000, TRUE, on_reload_page, reload);
}

static void start_reload(KvEtcdRepository *self)
{
  Reload *reload = g_new0(Reload, 1);

  reload->self = self;
  reload->fresh = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, entry_free);
  self->reload = reload;
  say_state(self, FALSE, "etcd had compacted away what the watch missed: reloading");
  request_reload_page(reload);
}

static int on_retry(sd_event_source *source, uint64_t usec, void *user_data)
{
  start_watch(user_data);
  return 0;
}

/* The watch ended: it comes back from the last revision applied, after a while. */
static void retry_watch(KvEtcdRepository *self, const char *why)
{
  self->watch = NULL;
  kv_etcd_probe_stop(self->probe);
  say_state(self, FALSE,
            "etcd at %s: the watch ended (%s); again in %u ms, from revision %" G_GUINT64_FORMAT,
            kv_etcd_client_endpoint(self->client), why, self->backoff_ms, self->applied + 1);
  sd_event_source_disable_unref(self->retry);
  sd_event_add_time_relative(self->event, &self->retry, CLOCK_MONOTONIC,
                             (uint64_t)self->backoff_ms * 1000, 0, on_retry, self);
  self->backoff_ms = MIN(self->backoff_ms * 2, BACKOFF_MAX_MS);
}

static void on_watch_line(const char *line, gsize length, gpointer user_data)
{
  KvEtcdRepository *self = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) root = kv_etcd_parse(line, length, &error);

  if (root == NULL)
    return;
  JsonObject *result = json_object_get_object_member(json_node_get_object(root), "result");
  if (result == NULL)
    return;
  if (json_object_get_boolean_member_with_default(result, "canceled", FALSE)) {
    /* Compacted: what the watch needed is gone. */
    kv_etcd_stream_cancel(self->watch);
    self->watch = NULL;
    /* Only history before the load: read back what is left of it. */
    if (self->past != NULL) {
      kv_etcd_past_compacted(self->past, kv_etcd_watch_compact_revision(result));
      start_watch(self);
      return;
    }
    kv_etcd_probe_stop(self->probe);
    start_reload(self);
    return;
  }
  if (json_object_get_boolean_member_with_default(result, "created", FALSE)) {
    self->backoff_ms = BACKOFF_FIRST_MS;
    /* Its header is the cluster's revision at the watch's creation, not a promise: the
     * changes since the load (a write answered meanwhile, say) come after it. Current
     * again once its member answers a probe asked after this. */
    self->watch_created = TRUE;
    self->watch_endpoint = kv_etcd_stream_endpoint(self->watch);
    kv_etcd_probe_follow(self->probe, self->watch_endpoint);
    return;
  }
  g_autoptr(GArray) entries = g_array_new(FALSE, FALSE, sizeof(KvEtcdEntry));
  g_array_set_clear_func(entries, (GDestroyNotify)kv_etcd_entry_clear);
  guint skipped = 0;
  kv_etcd_read_events(result, self->prefix, entries, &skipped);
  if (self->past != NULL && kv_etcd_past_take(self->past, entries, kv_etcd_events_revision(result)))
    g_clear_pointer(&self->past, kv_etcd_past_free);
  apply_entries(self, entries, 0);
  /* The events' own revisions, not the header's: etcd splits a long catch-up into
   * answers whose header can be past their last event. */
  for (guint i = 0; i < entries->len; i++)
    self->applied = MAX(self->applied, g_array_index(entries, KvEtcdEntry, i).mod_revision);
  /* A barrier's event is left out, but the replica has reached it. */
  self->applied = MAX(self->applied, kv_etcd_events_revision(result));
  kv_memory_repository_set_revision(self->replica, self->applied);
  complete_reached(self);
}

static void on_watch_end(const GError *error, gpointer user_data)
{
  retry_watch(user_data, error->message);
}

static void start_watch(KvEtcdRepository *self)
{
  guint64 from = self->applied + 1;

  if (self->past != NULL) {
    kv_etcd_past_restart(self->past);
    from = kv_etcd_past_start(self->past);
  }
  g_autofree char *request = kv_etcd_watch_request(self->prefix, from);

  self->watch_created = FALSE;
  self->watch =
      kv_etcd_client_stream(self->client, "/v3/watch", request, on_watch_line, on_watch_end, self);
}

/* The watch's member answered a probe, or did not (@error): the replica is
 * current while it does; when it does not, the watch moves to another member, if there
 * is one. */
static void on_probe(const GError *error, gpointer user_data)
{
  KvEtcdRepository *self = user_data;
  const char *url = kv_etcd_client_endpoint_url(self->client, self->watch_endpoint);
  gboolean alone = kv_etcd_client_n_endpoints(self->client) == 1;

  if (error == NULL) {
    if (!self->current && self->watch != NULL && self->watch_created && self->reload == NULL)
      say_state(self, TRUE, "following etcd at %s from revision %" G_GUINT64_FORMAT, url,
                self->applied + 1);
    return;
  }
  /* With no other member, said once an outage; the probe goes on asking. */
  if (alone && !self->current)
    return;
  say_state(self, FALSE,
            "etcd at %s did not answer as a member of its cluster (%s): reads come from what "
            "it last sent%s",
            url, error->message,
            alone ? "; kvstored has no other member to turn to (it was given one URL)"
                  : "; the watch moves to another member");
  if (alone || self->watch == NULL)
    return;
  kv_etcd_client_suspect(self->client, self->watch_endpoint);
  kv_etcd_probe_stop(self->probe);
  kv_etcd_stream_cancel(self->watch);
  start_watch(self);
}

/* A write committed in etcd that the watch did not bring in time: it is answered all the
 * same (it is in the cluster); only reading it back here may lag. */
static int on_deadline(sd_event_source *source, uint64_t usec, void *user_data)
{
  submission_complete(user_data);
  return 0;
}

/* Not made in etcd (or perhaps made: KV_ERROR_INDETERMINATE), as @error says. */
static void submission_fail(Submission *submission, const GError *error)
{
  submission->done(0, error, submission->user_data);
  submission_free(submission);
}

/* Made in etcd: answered once the watch has brought its revision to the replica. */
static void await_watch(Submission *submission)
{
  KvEtcdRepository *self = submission->self;

  if (submission->revision <= self->applied) {
    submission_complete(submission);
    return;
  }
  g_ptr_array_add(self->waiting, submission);
  sd_event_add_time_relative(self->event, &submission->deadline, CLOCK_MONOTONIC,
                             (uint64_t)self->write_timeout_ms * 1000, 0, on_deadline, submission);
}

static void on_written(const KvEtcdWriteOutcome *outcome, gpointer user_data)
{
  Submission *submission = user_data;

  if (outcome->error != NULL) {
    submission_fail(submission, outcome->error);
    return;
  }
  /* Failed compares: the write is worked out again once the replica has the change that
   * broke them; waiting for the answer's own revision could mean waiting for a change
   * outside the prefix, which never comes here. */
  submission->conflict = outcome->conflict;
  submission->revision = outcome->revision;
  await_watch(submission);
}

static void on_put(guint64 revision, const GError *error, gpointer user_data)
{
  Submission *submission = user_data;

  if (error != NULL) {
    submission_fail(submission, error);
    return;
  }
  submission->revision = revision;
  await_watch(submission);
}

static void etcd_submit(KvRepository *repository, const KvChange *changes, gsize n_changes,
                        const KvCompare *compares, gsize n_compares, KvRepositorySubmitFunc done,
                        gpointer user_data)
{
  KvEtcdRepository *self = (KvEtcdRepository *)repository;
  Submission *submission = g_new0(Submission, 1);

  submission->self = self;
  submission->done = done;
  submission->user_data = user_data;
  g_hash_table_add(self->submissions, submission);
  /* One key stored unconditionally (a Set): a put, which may go with others. */
  if (n_compares == 0 && n_changes == 1 && changes[0].value != NULL) {
    kv_etcd_puts_add(self->puts, changes[0].key, changes[0].value, self->write_timeout_ms, on_put,
                     submission);
    return;
  }
  kv_etcd_writer_submit(self->writer, changes, n_changes, compares, n_compares,
                        self->write_timeout_ms, on_written, submission);
}

static int on_barrier_deadline(sd_event_source *source, uint64_t usec, void *user_data)
{
  KvEtcdRepository *self = user_data;
  g_autoptr(GError) error =
      g_error_new(KV_ERROR, KV_ERROR_UNAVAILABLE,
                  "the replica did not catch up with etcd in %u s: a linearizable read cannot "
                  "be answered",
                  self->write_timeout_ms / 1000);

  barrier_done(self, error);
  return 0;
}

/* The barrier made in etcd: the syncs are done once the watch brings it. */
static void on_barrier(const KvEtcdWriteOutcome *outcome, gpointer user_data)
{
  KvEtcdRepository *self = user_data;

  if (outcome->error != NULL) {
    g_autoptr(GError) error = g_error_new(KV_ERROR, KV_ERROR_UNAVAILABLE,
                                          "etcd did not confirm that the replica is current: %s",
                                          outcome->error->message);
    barrier_done(self, error);
    return;
  }
  self->barrier = outcome->revision;
  if (self->barrier <= self->applied) {
    barrier_done(self, NULL);
    return;
  }
  sd_event_add_time_relative(self->event, &self->barrier_deadline, CLOCK_MONOTONIC,
                             (uint64_t)self->write_timeout_ms * 1000, 0, on_barrier_deadline, self);
}

/* A write of the prefix itself (no kvstore key: they are not empty), which every watch of
 * the prefix brings: once the replica has it, it has every change made before it was
 * asked. One barrier serves every read that came while none was out. */
static void barrier_send(KvEtcdRepository *self)
{
  g_autoptr(GPtrArray) asked = self->to_sync;
  g_autoptr(GVariant) value = g_variant_ref_sink(g_variant_new_boolean(TRUE));
  KvChange change = {"", value};

  self->to_sync = g_ptr_array_new_with_free_func(sync_drop);
  g_ptr_array_extend_and_steal(self->synced, g_steal_pointer(&asked));
  kv_etcd_writer_submit(self->writer, &change, 1, NULL, 0, self->write_timeout_ms, on_barrier,
                        self);
}

static void etcd_sync(KvRepository *repository, KvRepositorySyncFunc done, gpointer user_data,
                      GDestroyNotify drop)
{
  KvEtcdRepository *self = (KvEtcdRepository *)repository;
  Sync *sync = g_new(Sync, 1);

  *sync = (Sync){done, user_data, drop};
  g_ptr_array_add(self->to_sync, sync);
  if (self->synced->len == 0)
    barrier_send(self);
}

static void etcd_set_change_func(KvRepository *repository, KvRepositoryChangeFunc func,
                                 gpointer user_data)
{
  KvEtcdRepository *self = (KvEtcdRepository *)repository;

  self->on_change = func;
  self->on_change_data = user_data;
}

static GVariant *etcd_lookup(KvRepository *repository, const char *key, guint64 *out_revision)
{
  return kv_repository_lookup(((KvEtcdRepository *)repository)->replica, key, out_revision);
}

static GVariant *etcd_peek(KvRepository *repository, const char *key)
{
  return kv_repository_peek(((KvEtcdRepository *)repository)->replica, key);
}

static gboolean etcd_exists(KvRepository *repository, const char *key)
{
  return kv_repository_exists(((KvEtcdRepository *)repository)->replica, key);
}

static guint etcd_count(KvRepository *repository)
{
  return kv_repository_count(((KvEtcdRepository *)repository)->replica);
}

static guint64 etcd_revision(KvRepository *repository)
{
  return kv_repository_revision(((KvEtcdRepository *)repository)->replica);
}

static void etcd_foreach(KvRepository *repository, const char *prefix, const char *after,
                         gboolean with_values, KvRepositoryForeachFunc func, gpointer user_data)
{
  kv_repository_foreach(((KvEtcdRepository *)repository)->replica, prefix, after, with_values, func,
                        user_data);
}

/* Changes are made in etcd, through kv_repository_submit(), never here. */
static gboolean etcd_apply(KvRepository *repository, const KvChange *changes, gsize n_changes,
                           GError **error)
{
  g_set_error_literal(error, KV_ERROR, KV_ERROR_STORAGE,
                      "an etcd repository takes changes through kv_repository_submit()");
  return FALSE;
}

/* Durability is etcd's: a change is committed when its submission is done. */
static gboolean etcd_commit(KvRepository *repository, GError **error)
{
  return TRUE;
}

static void etcd_free(KvRepository *repository)
{
  KvEtcdRepository *self = (KvEtcdRepository *)repository;

  /* Writes still out (kvstored waits for them before it stops, for a while) can no longer
   * be told: whoever submitted them is gone. */
  GList *pending = g_hash_table_get_keys(self->submissions);
  for (GList *l = pending; l != NULL; l = l->next)
    submission_free(l->data);
  g_list_free(pending);
  if (self->watch != NULL)
    kv_etcd_stream_cancel(self->watch);
  /* The client drops the reload's request without telling it. */
  kv_etcd_client_free(self->client);
  kv_etcd_probe_free(self->probe);
  kv_etcd_puts_free(self->puts);
  kv_etcd_writer_free(self->writer);
  g_clear_pointer(&self->reload, reload_free);
  g_ptr_array_unref(self->synced);
  g_ptr_array_unref(self->to_sync);
  sd_event_source_disable_unref(self->barrier_deadline);
  kv_etcd_past_free(self->past);
  sd_event_source_disable_unref(self->past_deadline);
  sd_event_source_disable_unref(self->retry);
  sd_event_unref(self->event);
  g_ptr_array_unref(self->waiting);
  g_hash_table_unref(self->submissions);
  kv_repository_free(self->replica);
  g_free(self->prefix);
  g_free(self);
}

static gboolean etcd_is_current(KvRepository *repository)
{
  return ((KvEtcdRepository *)repository)->current;
}

static const KvRepositoryVTable etcd_vtable = {
    .lookup = etcd_lookup,
    .peek = etcd_peek,
    .apply = etcd_apply,
    .exists = etcd_exists,
    .count = etcd_count,
    .revision = etcd_revision,
    .foreach = etcd_foreach,
    .commit = etcd_commit,
    .free = etcd_free,
    .submit = etcd_submit,
    .set_change_func = etcd_set_change_func,
    .is_current = etcd_is_current,
    .sync = etcd_sync,
};

/* A write of the prefix itself (no kvstore key), before the load: the load is made at its
 * revision, and its event tells the watch that reads etcd's history back where the
 * history ends (kv-etcd-past.h). Its revision, or 0 with @error. */
static guint64 put_barrier(KvEtcdRepository *self, GError **error)
{
  g_autoptr(GVariant) value = g_variant_ref_sink(g_variant_new_boolean(TRUE));
  KvChange change = {"", value};
  g_autofree char *request = kv_etcd_put_request(self->prefix, &change);
  g_autofree char *body =
      kv_etcd_client_post_sync(self->client, "/v3/kv/put", request, 10000, error);

  if (body == NULL)
    return 0;
  g_autoptr(JsonNode) root = kv_etcd_parse(body, strlen(body), error);
  if (root == NULL)
    return 0;
  guint64 revision = kv_etcd_header_revision(json_node_get_object(root));
  if (revision == 0)
    g_set_error(error, KV_ERROR, KV_ERROR_UNAVAILABLE, "etcd's answer to a put has no revision");
  return revision;
}

/* etcd's history before the load did not come back in time: resuming from before it is
 * refused (Compacted), and the watch goes on from the load. */
static int on_past_deadline(sd_event_source *source, uint64_t usec, void *user_data)
{
  KvEtcdRepository *self = user_data;

  if (self->past == NULL)
    return 0;
  kv_log(LOG_WARNING,
         "etcd's history before revision %" G_GUINT64_FORMAT
         " did not come back within %u ms: a resume from before it is refused",
         self->applied, self->write_timeout_ms);
  g_clear_pointer(&self->past, kv_etcd_past_free);
  if (self->watch != NULL) {
    kv_etcd_stream_cancel(self->watch);
    self->watch = NULL;
    kv_etcd_probe_stop(self->probe);
    start_watch(self);
  }
  return 0;
}

KvRepository *kv_etcd_repository_open(const KvEtcdOptions *options, sd_event *event,
                                      KvEtcdStateFunc state, gpointer state_data, GError **error)
{
  g_autoptr(KvRepository) owned = NULL;
  KvEtcdRepository *self = g_new0(KvEtcdRepository, 1);
  owned = &self->parent;

  self->parent.vtable = &etcd_vtable;
  self->replica = kv_memory_repository_new();
  self->client = kv_etcd_client_new(event, options->endpoints);
  self->writer =
      kv_etcd_writer_new(self->client, event, options->prefix, options->write_timeout_ms);
  self->puts = kv_etcd_puts_new(self->writer, event);
  self->probe = kv_etcd_probe_new(self->client, event, options->prefix, on_probe, self);
  self->event = sd_event_ref(event);
  self->prefix = g_strdup(options->prefix);
  self->write_timeout_ms = options->write_timeout_ms;
  self->waiting = g_ptr_array_new();
  self->submissions = g_hash_table_new(NULL, NULL);
  self->synced = g_ptr_array_new_with_free_func(sync_drop);
  self->to_sync = g_ptr_array_new_with_free_func(sync_drop);
  self->backoff_ms = BACKOFF_FIRST_MS;
  self->state = state;
  self->state_data = state_data;

  /* The cluster may come up after kvstored: ask again, a little later each time. */
  gint64 give_up = g_get_monotonic_time() + (gint64)options->start_timeout_ms * 1000;
  guint wait_ms = BACKOFF_FIRST_MS;
  for (;;) {
    g_autoptr(GError) load_error = NULL;
    guint skipped = 0;
    /* Loaded at a barrier's revision when the history is read back: kv-etcd-past.h. */
    guint64 barrier = options->history != NULL ? put_barrier(self, &load_error) : 0;
    guint64 revision = load_error != NULL
                           ? 0
                           : load(self, barrier, load_into_replica, self, &skipped, &load_error);
    if (revision > 0) {
      self->applied = revision;
      kv_memory_repository_set_revision(self->replica, revision);
      /* Current as loaded; the watch keeps it so from the next revision. */
      say_state(self, TRUE, "loaded %u keys of etcd at %s at revision %" G_GUINT64_FORMAT "%s",
                kv_repository_count(self->replica), kv_etcd_client_endpoint(self->client), revision,
                skipped > 0 ? " (left out values kvstore did not write)" : "");
      break;
    }
    if (g_get_monotonic_time() + (gint64)wait_ms * 1000 > give_up) {
      g_set_error(error, KV_ERROR, KV_ERROR_UNAVAILABLE, "etcd did not answer within %u s: %s",
                  options->start_timeout_ms / 1000, load_error->message);
      return NULL;
    }
    say_state(self, FALSE, "waiting for etcd: %s; asking again in %u ms", load_error->message,
              wait_ms);
    g_usleep((gulong)wait_ms * 1000);
    wait_ms = MIN(wait_ms * 2, BACKOFF_MAX_MS);
  }
  /* The watch starts further back, for the history; the barrier's event, at the load's
   * revision, tells that the history before it is all in. */
  if (options->history != NULL && options->history_revisions > 0 && self->applied > 1) {
    guint64 back = MIN(options->history_revisions, self->applied - 1);
    self->past = kv_etcd_past_new(options->history, self->applied - back, self->applied);
    sd_event_add_time_relative(event, &self->past_deadline, CLOCK_MONOTONIC,
                               (uint64_t)self->write_timeout_ms * 1000, 0, on_past_deadline, self);
  }
  start_watch(self);
  return g_steal_pointer(&owned);
}
