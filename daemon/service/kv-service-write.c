/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The service's writes: each is worked out from the data as it is (its plan: changes,
 * and the conditions under which they are right), then submitted to the repository. A
 * repository shared with other writers may find a condition broken: the write is then
 * worked out again from the new data. It is long because it holds the plans of every
 * kind of write and the turns that keep writes of one key in order (where a repository
 * answers later); the turns could move to a file of their own. */

#include "kv-error.h"
#include "kv-increment.h"
#include "kv-service-private.h"

#include <stdlib.h>
#include <string.h>

/* A write that meets this many broken conditions in a row gives up: only a store that
 * others change that fast can make it so. */
#define MAX_ATTEMPTS 1000

/* CONFLICT unless @key is at @expected. */
static gboolean check_revision(KvService *self, const char *key, guint64 expected, GError **error)
{
  guint64 current = kv_service_revision_of(self, key);

  if (current == expected)
    return TRUE;
  if (current == 0)
    g_set_error(error, KV_ERROR, KV_ERROR_CONFLICT,
                "Key '%s' does not exist (revision 0), not at revision %" G_GUINT64_FORMAT, key,
                expected);
  else
    g_set_error(error, KV_ERROR, KV_ERROR_CONFLICT,
                "Key '%s' is at revision %" G_GUINT64_FORMAT ", not %" G_GUINT64_FORMAT, key,
                current, expected);
  return FALSE;
}

static int compare_changes(gconstpointer a, gconstpointer b)
{
  return strcmp(((const KvChange *)a)->key, ((const KvChange *)b)->key);
}

static gboolean plan_set_many(KvService *self, KvWrite *write, KvPlan *plan, GError **error)
{
  KvChange *changes = write->changes;
  gsize n = write->n_changes;

  if (!kv_service_validate_batch_size(n, error))
    return FALSE;
  for (gsize i = 0; i < n; i++)
    if (!kv_service_validate_key(changes[i].key, error) ||
        !kv_service_validate_value(self, changes[i].key, changes[i].value, error))
      return FALSE;
  /* Key order: the order the signals of a batch go out in, and duplicates side by side.
   * Clients often send them in order already: then one pass suffices. */
  gsize sorted = 1;
  while (sorted < n && compare_changes(&changes[sorted - 1], &changes[sorted]) < 0)
    sorted++;
  if (sorted < n)
    qsort(changes, n, sizeof *changes, compare_changes);
  for (gsize i = 1; i < n; i++)
    if (strcmp(changes[i - 1].key, changes[i].key) == 0) {
      g_set_error(error, KV_ERROR, KV_ERROR_INVALID_KEY, "Key '%s' appears twice in the batch",
                  changes[i].key);
      return FALSE;
    }
  g_array_append_vals(plan->changes, changes, n);
  return TRUE;
}

static gboolean plan_delete_many(KvService *self, KvWrite *write, KvPlan *plan, GError **error)
{
  const char *const *keys = write->keys;

  if (!kv_service_validate_batch_size(g_strv_length((char **)keys), error) ||
      !kv_service_validate_keys(keys, error))
    return FALSE;
  for (gsize i = 0; keys[i] != NULL; i++)
    if (kv_repository_exists(self->repository, keys[i]))
      kv_plan_change(plan, keys[i], NULL);
  g_array_sort(plan->changes, compare_changes);
  /* A key named twice is deleted once. */
  for (guint i = 1; i < plan->changes->len;)
    if (strcmp(g_array_index(plan->changes, KvChange, i - 1).key,
               g_array_index(plan->changes, KvChange, i).key) == 0)
      g_array_remove_index(plan->changes, i);
    else
      i++;
  /* What is deleted must still be there, for the count to be true. */
  for (guint i = 0; i < plan->changes->len; i++) {
    const char *key = g_array_index(plan->changes, KvChange, i).key;
    kv_plan_compare(plan, key, kv_service_revision_of(self, key));
  }
  write->deleted = plan->changes->len;
  return TRUE;
}

static gboolean plan_increment(KvService *self, KvWrite *write, KvPlan *plan, GError **error)
{
  g_autoptr(GError) local_error = NULL;
  guint64 revision = 0;

  if (!kv_service_validate_key(write->key, error))
    return FALSE;
  g_autoptr(GVariant) current = kv_repository_lookup(self->repository, write->key, &revision);
  GVariant *next = kv_increment(current, write->delta, &write->result, &local_error);
  if (next == NULL) {
    g_propagate_prefixed_error(error, g_steal_pointer(&local_error),
                               "Cannot increment '%s': ", write->key);
    return FALSE;
  }
  g_ptr_array_add(plan->values, next);
  if (!kv_service_validate_value(self, write->key, next, error))
    return FALSE;
  kv_plan_change(plan, write->key, next);
  /* From the value read: another writer's increment in between means counting again. */
  kv_plan_compare(plan, write->key, current != NULL ? revision : 0);
  return TRUE;
}

static gboolean make_key_plan(KvService *self, KvWrite *write, KvPlan *plan, GError **error);

/* The changes of @write from the data as it is, or why it cannot be made. */
static gboolean make_plan(KvService *self, KvWrite *write, KvPlan *plan, GError **error)
{
  switch (write->kind) {
  case KV_WRITE_LEASE_GRANT:
  case KV_WRITE_LEASE_KEEP_ALIVE:
  case KV_WRITE_LEASE_REVOKE:
  case KV_WRITE_LOCK:
  case KV_WRITE_UNLOCK:
    return kv_service_plan_lease_write(self, write, plan, error);
  default:
    return make_key_plan(self, write, plan, error) &&
           kv_service_plan_leased_keys(self, write, plan, error);
  }
}

/* The changes to keys of @write. */
static gboolean make_key_plan(KvService *self, KvWrite *write, KvPlan *plan, GError **error)
{
  guint64 revision;

  switch (write->kind) {
  case KV_WRITE_SET:
    if (!kv_service_validate_key(write->key, error) ||
        !kv_service_validate_value(self, write->key, write->value, error))
      return FALSE;
    kv_plan_change(plan, write->key, write->value);
    return TRUE;
  case KV_WRITE_SET_MANY:
    return plan_set_many(self, write, plan, error);
  case KV_WRITE_DELETE:
    if (!kv_service_validate_key(write->key, error))
      return FALSE;
    /* Deleting a missing key is not an error, and not a change. */
    revision = kv_service_revision_of(self, write->key);
    write->deleted = revision != 0;
    if (revision != 0) {
      kv_plan_change(plan, write->key, NULL);
      kv_plan_compare(plan, write->key, revision);
    }
    return TRUE;
  case KV_WRITE_DELETE_MANY:
    return plan_delete_many(self, write, plan, error);
  case KV_WRITE_INCREMENT:
    return plan_increment(self, write, plan, error);
  case KV_WRITE_COMPARE_AND_SET:
    if (!kv_service_validate_key(write->key, error) ||
        !kv_service_validate_value(self, write->key, write->value, error) ||
        !check_revision(self, write->key, write->expected_revision, error))
      return FALSE;
    kv_plan_change(plan, write->key, write->value);
    kv_plan_compare(plan, write->key, write->expected_revision);
    return TRUE;
  case KV_WRITE_COMPARE_AND_DELETE:
    if (!kv_service_validate_key(write->key, error) ||
        !check_revision(self, write->key, write->expected_revision, error))
      return FALSE;
    /* Expecting a missing key of a missing key: nothing to do. */
    if (write->expected_revision != 0) {
      kv_plan_change(plan, write->key, NULL);
      kv_plan_compare(plan, write->key, write->expected_revision);
    }
    return TRUE;
  default:
    g_assert_not_reached();
  }
}

typedef struct {
  KvService *service;
  KvWrite *write;
  KvWriteDone done;
  gpointer user_data;
  KvPlan plan;
  guint attempts;
  GPtrArray *keys; /* the keys it names, borrowed from ->write (or the read's); NULL
                    * where writes do not take turns */
  /* A read waiting for its turn instead of a write (->write NULL): */
  KvServiceTurnFunc turn;
  gpointer turn_data;
  GDestroyNotify turn_drop;
  gboolean every_key; /* a read of every key (a listing): it waits for all writes */
  char *lease_key;    /* the key a write of a lease or lock takes turns on */
} Submission;

static void attempt(Submission *submission);

/* The keys @write names, whether it changes them or not; a keep-alive or a revoke names
 * its lease's record, a lock or unlock its lock's queue (kept in @lease_key), so that
 * those of one lease or lock take turns rather than all but one meet a changed record
 * and start again. */
static GPtrArray *write_keys(const KvWrite *write, char **lease_key)
{
  GPtrArray *keys = g_ptr_array_new();

  switch (write->kind) {
  case KV_WRITE_SET_MANY:
    for (gsize i = 0; i < write->n_changes; i++)
      g_ptr_array_add(keys, (gpointer)write->changes[i].key);
    break;
  case KV_WRITE_DELETE_MANY:
    for (gsize i = 0; write->keys[i] != NULL; i++)
      g_ptr_array_add(keys, (gpointer)write->keys[i]);
    break;
  case KV_WRITE_LEASE_KEEP_ALIVE:
  case KV_WRITE_LEASE_REVOKE:
    *lease_key = kv_lease_record_key(write->lease);
    g_ptr_array_add(keys, *lease_key);
    break;
  case KV_WRITE_LOCK:
  case KV_WRITE_UNLOCK:
    /* A lock's queue grows a place at a time: a thousand callers at once wait here, not
     * all in etcd together. */
    *lease_key = g_strconcat(KV_LOCK_PREFIX, write->name, NULL);
    g_ptr_array_add(keys, *lease_key);
    break;
  case KV_WRITE_LEASE_GRANT:
    /* A new key of kvstored's own, whose condition keeps it right. */
    break;
  default:
    g_ptr_array_add(keys, (gpointer)write->key);
  }
  return keys;
}

static gboolean names_any_of(const Submission *submission, GHashTable *keys)
{
  for (guint i = 0; i < submission->keys->len; i++)
    if (g_hash_table_contains(keys, g_ptr_array_index(submission->keys, i)))
      return TRUE;
  return FALSE;
}

static void submission_free(Submission *submission)
{
  g_clear_pointer(&submission->keys, g_ptr_array_unref);
  g_free(submission->lease_key);
  g_free(submission);
}

/* Marks @submission's keys busy and makes it; a read is answered and gone. */
static void start(KvService *self, Submission *submission)
{
  if (submission->write == NULL) {
    submission->turn(submission->turn_data);
    submission_free(submission);
    return;
  }
  for (guint i = 0; i < submission->keys->len; i++)
    g_hash_table_add(self->busy, g_ptr_array_index(submission->keys, i));
  attempt(submission);
}

/* Whether @submission must wait: a write in flight or an earlier waiting one names one of
 * its keys (any key, for a read of every key), or waits itself for every key. */
static gboolean must_wait(KvService *self, const Submission *submission, GHashTable *named_earlier,
                          gboolean every_key_earlier)
{
  if (every_key_earlier)
    return TRUE;
  if (submission->every_key)
    return g_hash_table_size(self->busy) > 0 || g_hash_table_size(named_earlier) > 0;
  return names_any_of(submission, self->busy) || names_any_of(submission, named_earlier);
}

/* Starts, in the order they came, the waiting writes none of whose keys a write in flight
 * or an earlier waiting one names. */
static void start_waiting(KvService *self)
{
  /* A write that ends at once (nothing to change) comes back here: the pass goes on. */
  if (self->starting) {
    self->start_again = TRUE;
    return;
  }
  self->starting = TRUE;
  do {
    g_autoptr(GHashTable) named_earlier = g_hash_table_new(g_str_hash, g_str_equal);
    gboolean every_key_earlier = FALSE;
    self->start_again = FALSE;
    for (GList *link = self->waiting->head, *next; link != NULL; link = next) {
      Submission *submission = link->data;
      next = link->next;
      if (must_wait(self, submission, named_earlier, every_key_earlier)) {
        every_key_earlier = every_key_earlier || submission->every_key;
        for (guint i = 0; i < submission->keys->len; i++)
          g_hash_table_add(named_earlier, g_ptr_array_index(submission->keys, i));
        /* A pass runs at each write's end: past a batch's worth of waiting keys, the
         * writes after them wait for a later pass rather than make each pass long. */
        if (g_hash_table_size(named_earlier) > KV_BATCH_MAX_KEYS)
          break;
        continue;
      }
      g_queue_delete_link(self->waiting, link);
      /* What a read's turn submits (a DeletePrefix's deletions) takes the read's place:
       * the pass starts again from there. */
      self->turn_place = next;
      start(self, submission);
      self->turn_place = NULL;
      if (self->start_again)
        break;
    }
  } while (self->start_again);
  self->starting = FALSE;
}

/* The waiting writes that name one of @failed's keys, taken out of the queue. */
static GPtrArray *take_writes_behind(KvService *self, Submission *failed)
{
  g_autoptr(GHashTable) keys = g_hash_table_new(g_str_hash, g_str_equal);
  GPtrArray *behind = g_ptr_array_new();

  for (guint i = 0; i < failed->keys->len; i++)
    g_hash_table_add(keys, g_ptr_array_index(failed->keys, i));
  for (GList *link = self->waiting->head, *next; link != NULL; link = next) {
    Submission *waiting = link->data;
    next = link->next;
    if (waiting->write != NULL && names_any_of(waiting, keys)) {
      g_ptr_array_add(behind, waiting);
      g_queue_delete_link(self->waiting, link);
    }
  }
  return behind;
}

/* Tells @submission's writer and frees it; @started: its keys are busy for it. */
static void finish(KvService *self, Submission *submission, const GError *error, gboolean started)
{
  /* Before the write, which owns the key strings, is told and gone. */
  if (started && self->takes_turns)
    for (guint i = 0; i < submission->keys->len; i++)
      g_hash_table_remove(self->busy, g_ptr_array_index(submission->keys, i));
  submission->done(submission->write, error, submission->user_data);
  kv_plan_clear(&submission->plan);
  submission_free(submission);
}

static void submission_finish(Submission *submission, const GError *error)
{
  KvService *self = submission->service;
  g_autoptr(GPtrArray) behind = NULL;

  /* The writes waiting behind one that found the store unreachable fail with it, at
   * once: one after the other, each would take its own timeout. */
  if (self->takes_turns && g_error_matches(error, KV_ERROR, KV_ERROR_UNAVAILABLE))
    behind = take_writes_behind(self, submission);
  finish(self, submission, error, TRUE);
  for (guint i = 0; behind != NULL && i < behind->len; i++)
    finish(self, g_ptr_array_index(behind, i), error, FALSE);
  if (self->takes_turns)
    start_waiting(self);
}

static void on_submitted(guint64 revision, const GError *error, gpointer user_data)
{
  Submission *submission = user_data;
  KvService *self = submission->service;

  if (g_error_matches(error, KV_ERROR, KV_ERROR_CONFLICT) && submission->attempts < MAX_ATTEMPTS) {
    attempt(submission);
    return;
  }
  if (error != NULL) {
    submission_finish(submission, error);
    return;
  }
  submission->write->revision = revision;
  /* A repository that reports its changes itself has told them already. */
  if (!self->repository_tells_changes)
    for (guint i = 0; i < submission->plan.changes->len; i++) {
      const KvChange *change = &g_array_index(submission->plan.changes, KvChange, i);
      kv_service_tell_change(self, change->key, change->value, revision);
    }
  submission_finish(submission, NULL);
}

static void attempt(Submission *submission)
{
  KvService *self = submission->service;
  g_autoptr(GError) error = NULL;

  submission->attempts++;
  kv_plan_init(&submission->plan);
  if (!make_plan(self, submission->write, &submission->plan, &error)) {
    submission_finish(submission, error);
    return;
  }
  KvPlan *plan = &submission->plan;
  if (plan->changes->len == 0) {
    submission->write->revision = kv_repository_revision(self->repository);
    submission_finish(submission, NULL);
    return;
  }
  kv_repository_submit(self->repository, (const KvChange *)plan->changes->data, plan->changes->len,
                       (const KvCompare *)plan->compares->data, plan->compares->len, on_submitted,
                       submission);
}

void kv_service_submit(KvService *self, KvWrite *write, KvWriteDone done, gpointer user_data)
{
  Submission *submission = g_new0(Submission, 1);

  submission->service = self;
  submission->write = write;
  submission->done = done;
  submission->user_data = user_data;
  if (!self->takes_turns) {
    attempt(submission);
    return;
  }
  submission->keys = write_keys(write, &submission->lease_key);
  if (self->starting) {
    /* From a read's turn, or a write that ended at once: in the read's place, or last. */
    if (self->turn_place != NULL)
      g_queue_insert_before(self->waiting, self->turn_place, submission);
    else
      g_queue_push_tail(self->waiting, submission);
    self->start_again = TRUE;
    return;
  }
  /* Writes of one key are made in the order they came, each planned from what the ones
   * before it left: a Delete after a Set still in flight deletes what it set. */
  if (g_queue_is_empty(self->waiting) && !names_any_of(submission, self->busy)) {
    start(self, submission);
    return;
  }
  g_queue_push_tail(self->waiting, submission);
  start_waiting(self);
}

gboolean kv_service_read_waits(KvService *self, const char *const *keys, gsize n_keys)
{
  if (!self->takes_turns)
    return FALSE;
  if (keys == NULL)
    return g_hash_table_size(self->busy) > 0 || !g_queue_is_empty(self->waiting);
  for (gsize i = 0; i < n_keys; i++)
    if (g_hash_table_contains(self->busy, keys[i]))
      return TRUE;
  /* A write waiting for another key may name this one too. */
  return !g_queue_is_empty(self->waiting);
}

void kv_service_wait_turn(KvService *self, const char *const *keys, gsize n_keys,
                          KvServiceTurnFunc func, gpointer user_data, GDestroyNotify drop)
{
  Submission *submission = g_new0(Submission, 1);

  submission->service = self;
  submission->keys = g_ptr_array_new();
  for (gsize i = 0; keys != NULL && i < n_keys; i++)
    g_ptr_array_add(submission->keys, (gpointer)keys[i]);
  submission->every_key = keys == NULL;
  submission->turn = func;
  submission->turn_data = user_data;
  submission->turn_drop = drop;
  g_queue_push_tail(self->waiting, submission);
  start_waiting(self);
}

void kv_service_drop_waiting(KvService *self)
{
  Submission *submission;

  while ((submission = g_queue_pop_head(self->waiting)) != NULL) {
    if (submission->write == NULL && submission->turn_drop != NULL)
      submission->turn_drop(submission->turn_data);
    submission_free(submission);
  }
}

/* The synchronous calls, for a repository that makes its changes itself. */
typedef struct {
  gboolean done;
  GError *error;
} Outcome;

static void on_done(KvWrite *write, const GError *error, gpointer user_data)
{
  Outcome *outcome = user_data;

  outcome->done = TRUE;
  if (error != NULL)
    outcome->error = g_error_copy(error);
}

static gboolean run(KvService *self, KvWrite *write, GError **error)
{
  Outcome outcome = {FALSE, NULL};

  kv_service_submit(self, write, on_done, &outcome);
  /* A repository whose changes are made elsewhere answers later: use kv_service_submit(). */
  g_return_val_if_fail(outcome.done, FALSE);
  if (outcome.error != NULL) {
    g_propagate_error(error, outcome.error);
    return FALSE;
  }
  return TRUE;
}

gboolean kv_service_set_many(KvService *self, KvChange *changes, gsize n_changes,
                             guint64 *out_revision, GError **error)
{
  KvWrite write = {.kind = KV_WRITE_SET_MANY, .changes = changes, .n_changes = n_changes};

  if (!run(self, &write, error))
    return FALSE;
  *out_revision = write.revision;
  return TRUE;
}

gboolean kv_service_delete_many(KvService *self, const char *const *keys, guint *out_deleted,
                                guint64 *out_revision, GError **error)
{
  KvWrite write = {.kind = KV_WRITE_DELETE_MANY, .keys = keys};

  if (!run(self, &write, error))
    return FALSE;
  *out_deleted = write.deleted;
  *out_revision = write.revision;
  return TRUE;
}

gboolean kv_service_compare_and_set(KvService *self, const char *key, guint64 expected_revision,
                                    GVariant *value, guint64 *out_revision, GError **error)
{
  g_autoptr(GVariant) owned = g_variant_ref_sink(value);
  KvWrite write = {.kind = KV_WRITE_COMPARE_AND_SET,
                   .key = key,
                   .value = owned,
                   .expected_revision = expected_revision};

  if (!run(self, &write, error))
    return FALSE;
  *out_revision = write.revision;
  return TRUE;
}

gboolean kv_service_compare_and_delete(KvService *self, const char *key, guint64 expected_revision,
                                       guint64 *out_revision, GError **error)
{
  KvWrite write = {
      .kind = KV_WRITE_COMPARE_AND_DELETE, .key = key, .expected_revision = expected_revision};

  if (!run(self, &write, error))
    return FALSE;
  *out_revision = write.revision;
  return TRUE;
}

gboolean kv_service_set(KvService *self, const char *key, GVariant *value, GError **error)
{
  g_autoptr(GVariant) owned = g_variant_ref_sink(value);
  KvWrite write = {.kind = KV_WRITE_SET, .key = key, .value = owned};

  return run(self, &write, error);
}

gboolean kv_service_delete(KvService *self, const char *key, gboolean *out_existed, GError **error)
{
  KvWrite write = {.kind = KV_WRITE_DELETE, .key = key};

  if (!run(self, &write, error))
    return FALSE;
  *out_existed = write.deleted != 0;
  return TRUE;
}

gboolean kv_service_increment(KvService *self, const char *key, gint64 delta, gint64 *out_value,
                              GError **error)
{
  KvWrite write = {.kind = KV_WRITE_INCREMENT, .key = key, .delta = delta};

  if (!run(self, &write, error))
    return FALSE;
  *out_value = write.result;
  return TRUE;
}
