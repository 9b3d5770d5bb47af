/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "kv-etcd-probe.h"

#include "kv-etcd-codec.h"

#include <string.h>

#define INTERVAL_USEC G_USEC_PER_SEC
#define TIMEOUT_MS    1000

struct _KvEtcdProbe {
  KvEtcdClient *client;
  char *request;
  sd_event_source *timer;
  gboolean following;
  guint endpoint;
  guint generation; /* grows at each follow: an answer to an older question is not told */
  gboolean out;     /* a question is out */
  guint asked_generation;
  KvEtcdProbeFunc func;
  gpointer user_data;
};

static void ask(KvEtcdProbe *self);

static void on_answer(const char *body, gsize length, const GError *error, gpointer user_data)
{
  KvEtcdProbe *self = user_data;
  g_autoptr(GError) parse_error = NULL;
  g_autoptr(JsonNode) root = error == NULL ? kv_etcd_parse(body, length, &parse_error) : NULL;

  self->out = FALSE;
  if (!self->following)
    return;
  /* The member followed changed meanwhile: the new one is asked now. */
  if (self->asked_generation != self->generation) {
    ask(self);
    return;
  }
  self->func(error != NULL ? error : parse_error, self->user_data);
}

/* One question out at a time: its memory is the probe's own, and a client freed with it
 * out (which drops it without a word) leaks nothing. */
static void ask(KvEtcdProbe *self)
{
  if (self->out)
    return;
  self->out = TRUE;
  self->asked_generation = self->generation;
  kv_etcd_client_post_to(self->client, self->endpoint, "/v3/kv/range", self->request, TIMEOUT_MS,
                         on_answer, self);
}

static int on_timer(sd_event_source *source, uint64_t usec, void *user_data)
{
  KvEtcdProbe *self = user_data;

  sd_event_source_set_time_relative(source, INTERVAL_USEC);
  if (self->following)
    ask(self);
  return 0;
}

KvEtcdProbe *kv_etcd_probe_new(KvEtcdClient *client, sd_event *event, const char *prefix,
                               KvEtcdProbeFunc func, gpointer user_data)
{
  KvEtcdProbe *self = g_new0(KvEtcdProbe, 1);

  self->client = client;
  /* Linearizable (etcd's default): it goes through the leader's read index. One key,
   * counted only: nothing to carry back. */
  g_autofree char *key = g_base64_encode((const guchar *)prefix, strlen(prefix));
  self->request = g_strdup_printf("{\"key\":\"%s\",\"count_only\":true}", key);
  self->func = func;
  self->user_data = user_data;
  if (sd_event_add_time_relative(event, &self->timer, CLOCK_MONOTONIC, INTERVAL_USEC,
                                 INTERVAL_USEC / 10, on_timer, self) >= 0)
    sd_event_source_set_enabled(self->timer, SD_EVENT_ON);
  return self;
}

void kv_etcd_probe_follow(KvEtcdProbe *self, guint endpoint)
{
  self->following = TRUE;
  self->endpoint = endpoint;
  self->generation++;
  ask(self);
}

void kv_etcd_probe_stop(KvEtcdProbe *self)
{
  self->following = FALSE;
  self->generation++;
}

void kv_etcd_probe_free(KvEtcdProbe *self)
{
  if (self == NULL)
    return;
  sd_event_source_disable_unref(self->timer);
  g_free(self->request);
  g_free(self);
}
