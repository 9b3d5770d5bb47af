/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "kv-etcd-puts.h"

#include "kv-error.h"
#include "kv-soon.h"

#include <gio/gio.h>
#include <string.h>

/* A transaction takes at most this many puts and this many bytes of keys and values:
 * well under etcd's limits by default (128 operations, 1.5 MiB); a put over the bytes
 * goes alone. */
#define TXN_PUTS  64
#define TXN_BYTES (256 * 1024)
/* The longest a put waits for the bus to be read to its end: a stream of calls that
 * never lets it be (idle sources then never run) does not hold writes back. */
#define WAIT_AT_MOST_USEC 2000

typedef struct {
  char *key;
  GVariant *value;
  gint64 deadline; /* monotonic µs */
  KvEtcdPutFunc done;
  gpointer user_data;
} Put;

struct _KvEtcdPuts {
  KvEtcdWriter *writer;
  GQueue waiting;  /* Put, oldest first */
  GHashTable *out; /* Batch, sent and not answered */
  KvSoon *send;    /* the waiting puts, once the bus is read (WAIT_AT_MOST_USEC at most) */
};

typedef struct {
  KvEtcdPuts *self;
  GPtrArray *puts;
} Batch;

static void put_free(Put *put)
{
  g_free(put->key);
  g_variant_unref(put->value);
  g_free(put);
}

static void batch_free(Batch *batch)
{
  g_hash_table_remove(batch->self->out, batch);
  g_ptr_array_unref(batch->puts);
  g_free(batch);
}

static gsize put_bytes(const Put *put)
{
  return strlen(put->key) + g_variant_get_size(put->value);
}

static void on_answer(const KvEtcdWriteOutcome *outcome, gpointer user_data);

static int compare_keys(gconstpointer a, gconstpointer b)
{
  return strcmp((*(Put *const *)a)->key, (*(Put *const *)b)->key);
}

/* Sends @puts (taking them) as one write, in key order: the watch then tells them in that
 * order, as it does a SetMany's, and a revision's signals go out sorted. Its timeout is
 * what remains of the oldest's. */
static void send_puts(KvEtcdPuts *self, GPtrArray *puts)
{
  Batch *batch = g_new0(Batch, 1);
  gint64 deadline = G_MAXINT64;

  batch->self = self;
  batch->puts = puts;
  g_ptr_array_sort(puts, compare_keys);
  g_autofree KvChange *changes = g_new(KvChange, puts->len);
  for (guint i = 0; i < puts->len; i++) {
    Put *put = g_ptr_array_index(puts, i);
    changes[i] = (KvChange){put->key, put->value};
    deadline = MIN(deadline, put->deadline);
  }
  gint64 left_ms = (deadline - g_get_monotonic_time()) / 1000;
  g_hash_table_add(self->out, batch);
  kv_etcd_writer_submit(self->writer, changes, puts->len, NULL, 0,
                        (guint)CLAMP(left_ms, 1, G_MAXUINT), on_answer, batch);
}

static void send_alone(KvEtcdPuts *self, Put *put)
{
  GPtrArray *puts = g_ptr_array_new_with_free_func((GDestroyNotify)put_free);

  g_ptr_array_add(puts, put);
  send_puts(self, puts);
}

/* The oldest waiting puts, as many as one transaction takes. */
static void send_oldest(KvEtcdPuts *self)
{
  GPtrArray *puts = g_ptr_array_new_with_free_func((GDestroyNotify)put_free);
  gsize bytes = 0;

  while (puts->len < TXN_PUTS && !g_queue_is_empty(&self->waiting)) {
    gsize next = put_bytes(g_queue_peek_head(&self->waiting));
    if (puts->len > 0 && bytes + next > TXN_BYTES)
      break;
    bytes += next;
    g_ptr_array_add(puts, g_queue_pop_head(&self->waiting));
  }
  send_puts(self, puts);
}

/* The waiting puts, oldest first, in as few transactions as they fit. */
static void on_send(gpointer user_data)
{
  KvEtcdPuts *self = user_data;

  while (!g_queue_is_empty(&self->waiting))
    send_oldest(self);
}

static void on_answer(const KvEtcdWriteOutcome *outcome, gpointer user_data)
{
  Batch *batch = user_data;
  KvEtcdPuts *self = batch->self;
  g_autoptr(GPtrArray) puts = g_ptr_array_ref(batch->puts);

  batch_free(batch);
  /* A transaction over one of etcd's limits may be a few puts each within them: they
   * go again alone, and each has its own answer. */
  if (puts->len > 1 && g_error_matches(outcome->error, KV_ERROR, KV_ERROR_TOO_LARGE)) {
    while (puts->len > 0)
      send_alone(self, g_ptr_array_steal_index(puts, 0));
    return;
  }
  for (guint i = 0; i < puts->len; i++) {
    Put *put = g_ptr_array_index(puts, i);
    put->done(outcome->revision, outcome->error, put->user_data);
  }
}

KvEtcdPuts *kv_etcd_puts_new(KvEtcdWriter *writer, sd_event *event)
{
  KvEtcdPuts *self = g_new0(KvEtcdPuts, 1);

  self->writer = writer;
  g_queue_init(&self->waiting);
  self->out = g_hash_table_new(NULL, NULL);
  /* Once nothing else is ready, the calls already on the bus are read, and their puts go
   * in one transaction. */
  int r = kv_soon_new(event, WAIT_AT_MOST_USEC, on_send, self, &self->send);
  if (r < 0)
    g_error("Cannot add an event source: %s", g_strerror(-r));
  return self;
}

void kv_etcd_puts_add(KvEtcdPuts *self, const char *key, GVariant *value, guint timeout_ms,
                      KvEtcdPutFunc done, gpointer user_data)
{
  Put *put = g_new0(Put, 1);

  put->key = g_strdup(key);
  put->value = g_variant_ref_sink(value);
  put->deadline = g_get_monotonic_time() + (gint64)timeout_ms * 1000;
  put->done = done;
  put->user_data = user_data;
  /* Nothing ahead of it: no other write could go with it soon. */
  if (g_hash_table_size(self->out) == 0 && g_queue_is_empty(&self->waiting)) {
    send_alone(self, put);
    return;
  }
  g_queue_push_tail(&self->waiting, put);
  /* Puts enough for a whole transaction have nothing more to wait for: they go now, and
   * a stream of Sets that keeps the bus from being read to its end is sent as it comes. */
  if (g_queue_get_length(&self->waiting) >= TXN_PUTS)
    send_oldest(self);
  (void)kv_soon_schedule(self->send);
}

void kv_etcd_puts_free(KvEtcdPuts *self)
{
  kv_soon_free(self->send);
  g_queue_clear_full(&self->waiting, (GDestroyNotify)put_free);
  GList *out = g_hash_table_get_keys(self->out);
  for (GList *l = out; l != NULL; l = l->next)
    batch_free(l->data);
  g_list_free(out);
  g_hash_table_unref(self->out);
  g_free(self);
}
