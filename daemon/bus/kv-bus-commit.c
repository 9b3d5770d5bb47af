/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Group commit: replies to writes, and the signals of their changes, wait here until the
 * changes are committed, once per turn of the event loop. */
#include "kv-bus-commit.h"

#include "kv-bus-error.h"
#include "kv-log.h"
#include "kv-sd-bus-cleanup.h"
#include "kv-soon.h"

#include <malloc.h>
#include <sys/ioctl.h>

/* How long a write waits at most for the bus to be read to its end before its commit. */
#define COMMIT_WAIT_AT_MOST_USEC 2000

/* A message that waits for the commit: a reply to @call, or a signal (@call NULL). */
typedef struct {
  sd_bus_message *call;
  sd_bus_message *message;
} Outgoing;

struct _KvBusCommit {
  sd_bus *bus;
  KvService *service;
  KvBusAccess *access; /* NULL on the session bus */
  KvBusSignals *signals;
  KvBusProperties *properties;
  KvSoon *commit;         /* starts a commit of what waits */
  GArray *waiting;        /* Outgoing, in the order the changes were made */
  GArray *committing;     /* Outgoing of the commit under way, or NULL */
  gint64 last_commit_end; /* monotonic µs, when the last commit with writes finished */
  /* A large batch waits for the next commit, or is in the one under way. */
  gboolean trim_after_next;
  gboolean trim_after_this;
};

static void outgoing_clear(gpointer data)
{
  Outgoing *outgoing = data;

  g_clear_pointer(&outgoing->call, sd_bus_message_unref);
  g_clear_pointer(&outgoing->message, sd_bus_message_unref);
}

static GArray *waiting_new(void)
{
  GArray *waiting = g_array_new(FALSE, FALSE, sizeof(Outgoing));

  g_array_set_clear_func(waiting, outgoing_clear);
  return waiting;
}

/* Whether the bus has nothing more for us: no message in sd-bus's read queue, no byte
 * unread on its socket (sd-bus reads one message at a time). */
static gboolean input_drained(KvBusCommit *self)
{
  uint64_t queued = 1;
  int unread = 1;

  return sd_bus_get_n_queued_read(self->bus, &queued) >= 0 && queued == 0 &&
         ioctl(sd_bus_get_fd(self->bus), FIONREAD, &unread) >= 0 && unread == 0;
}

/* Queues @message (a reply to @call, or a signal when @call is NULL) for after the
 * commit. With a reply (the write is whole then: its signals were queued as it was
 * applied) the commit starts at once when nothing more is there to read, so that a
 * client waiting for each answer gets it in the turn of the loop that read its call;
 * else once the input is drained. Returns 1: for a method handler, the call is taken
 * care of. */
int kv_bus_commit_send_after(KvBusCommit *self, sd_bus_message *call, sd_bus_message *message)
{
  Outgoing outgoing = {call != NULL ? sd_bus_message_ref(call) : NULL, sd_bus_message_ref(message)};

  g_array_append_val(self->waiting, outgoing);
  int r = kv_soon_schedule(self->commit);
  if (r < 0)
    return r;
  if (call != NULL && input_drained(self))
    kv_bus_commit_input_drained(self);
  return 1;
}

static void message_unref(gpointer message)
{
  sd_bus_message_unref(message);
}

/* The Changes signals of what is committed up to @committed, to coalesced subscribers. */
static void send_coalesced(KvBusCommit *self, guint64 committed)
{
  g_autoptr(GPtrArray) signals = g_ptr_array_new_with_free_func(message_unref);
  int r = kv_bus_signals_flush(self->signals, committed, signals);

  if (r < 0)
    kv_log(LOG_ERR, "Cannot build the Changes signals: %s", g_strerror(-r));
  for (guint i = 0; i < signals->len; i++)
    (void)sd_bus_send(NULL, g_ptr_array_index(signals, i), NULL);
}

/* Sends what waited for a commit that ended: @batch at revision @committed, or with
 * @error, when every uncommitted change was undone: then what waits for the next commit
 * (writes made while the disk synced, built on what is now undone) fails too. */
static void commit_ended(KvBusCommit *self, GArray *batch, guint64 committed, const GError *error)
{
  if (error != NULL) {
    kv_bus_access_recount(self->access);
    kv_bus_signals_discard(self->signals);
    g_array_append_vals(batch, self->waiting->data, self->waiting->len);
    /* Moved, not copied: the batch holds their references now. */
    g_array_set_clear_func(self->waiting, NULL);
    g_array_unref(self->waiting);
    self->waiting = waiting_new();
  }
  /* Before the replies: a caller's proxy learns of its own write no later than of the
   * reply. */
  if (error == NULL)
    kv_bus_properties_announce(self->properties, kv_service_count(self->service), committed);
  for (guint i = 0; i < batch->len; i++) {
    Outgoing *outgoing = &g_array_index(batch, Outgoing, i);
    g_auto(sd_bus_error) bus_error = SD_BUS_ERROR_NULL;

    /* A peer that has gone away cannot be told; the others must still be. The signals
     * of changes that were rolled back are never sent. */
    if (error == NULL)
      (void)sd_bus_send(NULL, outgoing->message, NULL);
    else if (outgoing->call != NULL && kv_bus_error_set(&bus_error, error) < 0)
      (void)sd_bus_reply_method_error(outgoing->call, &bus_error);
  }
  if (error == NULL)
    send_coalesced(self, committed);
  /* A commit can take long (fdatasync, a compaction): its callers only now go on. */
  if (batch->len > 0)
    self->last_commit_end = g_get_monotonic_time();
}

static void on_commit_done(guint64 committed, const GError *error, gpointer user_data)
{
  KvBusCommit *self = user_data;
  GArray *batch = g_steal_pointer(&self->committing);

  commit_ended(self, batch, committed, error);
  g_array_unref(batch);
  /* A large batch's passing copies (its message, the values read from it) were freed
   * among entries that stay: their pages go back to the system rather than stay with
   * kvstored for good. */
  if (self->trim_after_this)
    malloc_trim(0);
  /* What came while the disk synced is the next commit's. */
  if (self->waiting->len > 0 || kv_bus_signals_has_pending(self->signals))
    (void)kv_soon_schedule(self->commit);
}

/* Starts a commit of what waits, unless one is under way: its end starts the next. */
static void start_commit(KvBusCommit *self)
{
  if (self->committing != NULL)
    return;
  self->committing = g_steal_pointer(&self->waiting);
  self->waiting = waiting_new();
  self->trim_after_this = self->trim_after_next;
  self->trim_after_next = FALSE;
  kv_service_commit_start(self->service, on_commit_done, self);
}

void kv_bus_commit_now(KvBusCommit *self)
{
  g_autoptr(GError) error = NULL;

  kv_service_commit_wait(self->service);
  g_autoptr(GArray) batch = g_steal_pointer(&self->waiting);
  self->waiting = waiting_new();
  gboolean committed = kv_service_commit(self->service, &error);
  commit_ended(self, batch, kv_service_revision(self->service), committed ? NULL : error);
}

void kv_bus_commit_input_drained(KvBusCommit *self)
{
  if (!kv_soon_pending(self->commit))
    return;
  kv_soon_cancel(self->commit);
  start_commit(self);
}

gint64 kv_bus_commit_last_end(KvBusCommit *self)
{
  return self->last_commit_end;
}

gboolean kv_bus_commit_is_idle(KvBusCommit *self)
{
  return self->waiting->len == 0 && self->committing == NULL;
}

static void on_commit(gpointer userdata)
{
  start_commit(userdata);
}

int kv_bus_commit_schedule(KvBusCommit *self)
{
  return kv_soon_schedule(self->commit);
}

void kv_bus_commit_trim_after_next(KvBusCommit *self)
{
  self->trim_after_next = TRUE;
}

int kv_bus_commit_new(sd_bus *bus, KvService *service, KvBusAccess *access, KvBusSignals *signals,
                      KvBusProperties *properties, KvBusCommit **ret)
{
  KvBusCommit *self = g_new0(KvBusCommit, 1);

  *self = (KvBusCommit){bus, service, access, signals, properties};
  self->waiting = waiting_new();
  /* Once the bus has no more input ready, so that every write read in this turn shares
   * one commit, or COMMIT_WAIT_AT_MOST_USEC after the first write waited. */
  int r =
      kv_soon_new(sd_bus_get_event(bus), COMMIT_WAIT_AT_MOST_USEC, on_commit, self, &self->commit);
  if (r < 0) {
    kv_bus_commit_free(self);
    return r;
  }
  *ret = self;
  return 0;
}

void kv_bus_commit_free(KvBusCommit *self)
{
  if (self == NULL)
    return;
  /* A commit under way tells this object of its end: it ends first. */
  if (self->committing != NULL)
    kv_service_commit_wait(self->service);
  kv_soon_free(self->commit);
  g_array_unref(self->waiting);
  g_free(self);
}
