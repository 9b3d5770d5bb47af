/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "kv-etcd-client.h"

#include <curl/curl.h>
#include <gio/gio.h>
#include <string.h>

/* A stream waits this long for a connection; once connected it has no end. */
#define STREAM_CONNECT_MS 3000
/* Idle connections kept for the next requests. curl's default, four per request in
 * progress, closed most of a burst's connections as it ended (a new connection for ~5% of
 * writes under a varying load, each leaving a port in TIME_WAIT for a minute). */
#define KEPT_CONNECTIONS 256L
/* A member that timed out, refused or failed a request is passed over for this long
 * while another may answer: a paused or cut-off member costs one timeout, not one each
 * request. */
#define SUSPECT_USEC (3 * G_USEC_PER_SEC)

typedef struct {
  KvEtcdClient *client;
  CURL *easy;
  struct curl_slist *headers;
  char *path;
  char *body;
  GByteArray *received;
  guint endpoint;  /* index of the endpoint tried */
  guint tried;     /* endpoints tried so far */
  gboolean pinned; /* to its endpoint alone */
  guint timeout_ms;
  gboolean idempotent; /* made twice, it does no harm: it may go to another endpoint */
  /* a unary request */
  KvEtcdResponseFunc done;
  /* a stream */
  KvEtcdLineFunc on_line;
  KvEtcdEndFunc on_end;
  gpointer user_data;
} Request;

struct _KvEtcdClient {
  sd_event *event;
  CURLM *multi;
  sd_event_source *timer;
  GHashTable *sockets; /* fd -> sd_event_source */
  GStrv endpoints;
  guint n_endpoints;
  guint current;         /* the endpoint that last answered */
  gint64 *suspect_until; /* per endpoint: monotonic µs it is passed over until */
  GHashTable *running;   /* Request, in flight */
};

static void request_free(Request *request)
{
  if (request->easy != NULL)
    curl_easy_cleanup(request->easy);
  curl_slist_free_all(request->headers);
  g_free(request->path);
  g_free(request->body);
  g_byte_array_unref(request->received);
  g_free(request);
}

/* A stream hands on each whole line it has; a line may end the stream itself. */
static void take_lines(Request *request)
{
  KvEtcdClient *client = request->client;
  GByteArray *received = request->received;
  g_autoptr(GPtrArray) lines = g_ptr_array_new_with_free_func((GDestroyNotify)g_bytes_unref);
  KvEtcdLineFunc on_line = request->on_line;
  gpointer user_data = request->user_data;
  guint start = 0;

  for (guint i = 0; i < received->len; i++) {
    if (received->data[i] != '\n')
      continue;
    if (i > start)
      g_ptr_array_add(lines, g_bytes_new(received->data + start, i - start));
    start = i + 1;
  }
  g_byte_array_remove_range(received, 0, start);
  for (guint i = 0; i < lines->len && g_hash_table_contains(client->running, request); i++) {
    gsize length;
    const char *line = g_bytes_get_data(g_ptr_array_index(lines, i), &length);
    on_line(line, length, user_data);
  }
}

/* Only stores: what a stream's lines lead to (new requests) may not happen inside curl's
 * callbacks, so they are handed on once curl has returned (deliver_lines()). */
static size_t on_data(char *data, size_t size, size_t count, void *user_data)
{
  Request *request = user_data;

  g_byte_array_append(request->received, (const guint8 *)data, (guint)(size * count));
  /* A stream that has said something resumes from where it got to, not from its start:
   * its owner sends it anew. */
  if (request->on_line != NULL)
    request->idempotent = FALSE;
  return size * count;
}

/* The lines every stream received, now that curl has returned. */
static void deliver_lines(KvEtcdClient *self)
{
  g_autoptr(GPtrArray) streams = g_ptr_array_new();
  GHashTableIter iter;
  Request *request;

  g_hash_table_iter_init(&iter, self->running);
  while (g_hash_table_iter_next(&iter, (gpointer *)&request, NULL))
    if (request->on_line != NULL && request->received->len > 0)
      g_ptr_array_add(streams, request);
  /* A line may end another stream, or this one: each is looked up again first. */
  for (guint i = 0; i < streams->len; i++)
    if (g_hash_table_contains(self->running, g_ptr_array_index(streams, i)))
      take_lines(g_ptr_array_index(streams, i));
}

static CURL *make_easy(Request *request)
{
  KvEtcdClient *client = request->client;
  g_autofree char *url = g_strconcat(client->endpoints[request->endpoint], request->path, NULL);
  CURL *easy = curl_easy_init();

  if (easy == NULL)
    return NULL;
  curl_easy_setopt(easy, CURLOPT_URL, url);
  curl_easy_setopt(easy, CURLOPT_POSTFIELDS, request->body);
  curl_easy_setopt(easy, CURLOPT_HTTPHEADER, request->headers);
  curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, on_data);
  curl_easy_setopt(easy, CURLOPT_WRITEDATA, request);
  curl_easy_setopt(easy, CURLOPT_PRIVATE, request);
  curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(easy, CURLOPT_TCP_NODELAY, 1L);
  if (request->on_line != NULL) {
    curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, (long)STREAM_CONNECT_MS);
    /* A member that vanishes without closing the connection is found by keepalives. */
    curl_easy_setopt(easy, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(easy, CURLOPT_TCP_KEEPIDLE, 2L);
    curl_easy_setopt(easy, CURLOPT_TCP_KEEPINTVL, 1L);
  } else {
    curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, (long)request->timeout_ms);
    curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, (long)MIN(request->timeout_ms, 1000));
  }
  return easy;
}

/* The endpoint a request goes to first: the current one unless it is suspect and
 * another is not. With every one suspect (a leader killed: the others answer "no leader"
 * to the probes while they elect), the one suspected longest ago, never the one that
 * failed last, which may be a dead process refusing every connection. */
static guint choose_endpoint(KvEtcdClient *self)
{
  gint64 now = g_get_monotonic_time();
  guint soonest = self->current;

  for (guint i = 0; i < self->n_endpoints; i++) {
    guint endpoint = (self->current + i) % self->n_endpoints;
    if (self->suspect_until[endpoint] <= now)
      return endpoint;
    if (self->suspect_until[endpoint] < self->suspect_until[soonest])
      soonest = endpoint;
  }
  return soonest;
}

static void suspect(KvEtcdClient *self, guint endpoint)
{
  self->suspect_until[endpoint] = g_get_monotonic_time() + SUSPECT_USEC;
  if (self->current == endpoint)
    self->current = choose_endpoint(self);
}

static Request *request_new(KvEtcdClient *self, const char *path, const char *body)
{
  Request *request = g_new0(Request, 1);

  request->client = self;
  request->path = g_strdup(path);
  request->body = g_strdup(body);
  request->received = g_byte_array_new();
  request->headers = curl_slist_append(NULL, "Content-Type: application/json");
  request->endpoint = choose_endpoint(self);
  return request;
}

/* Whether the transfer that ended with @result never reached the endpoint, so that
 * sending it to another cannot make it happen twice: no connection was taken, or the time
 * ran out before one was made (a member behind a firewall that drops packets, or a loop
 * too busy to see the refusal in time). A connection that broke after the request went
 * out may have carried a write that etcd made: it is not sent again. */
static gboolean never_sent(CURL *easy, CURLcode result)
{
  curl_off_t pretransfer = 0;

  if (result == CURLE_COULDNT_CONNECT || result == CURLE_COULDNT_RESOLVE_HOST)
    return TRUE;
  /* curl stamps the moment before it sends, on a new connection or a kept one. */
  return result == CURLE_OPERATION_TIMEDOUT &&
         curl_easy_getinfo(easy, CURLINFO_PRETRANSFER_TIME_T, &pretransfer) == CURLE_OK &&
         pretransfer == 0;
}

/* Whether etcd's answer says it dropped the request before proposing it (no leader, or
 * the leader changed under it), so that another member may take it. */
static gboolean dropped_unproposed(GByteArray *body)
{
  g_autofree char *text = g_strndup((const char *)body->data, body->len);

  return strstr(text, "no leader") != NULL || strstr(text, "leader changed") != NULL;
}

/* The error of a finished transfer, or NULL (@unsent: never_sent()); @retry tells whether
 * another endpoint may do better, without the risk of a write made twice. */
static GError *transfer_error(Request *request, CURLcode result, gboolean unsent, gboolean *retry)
{
  long status = 0;

  *retry = FALSE;
  if (result != CURLE_OK) {
    *retry = unsent || (request->idempotent && result != CURLE_OPERATION_TIMEDOUT);
    int code = unsent                               ? G_IO_ERROR_CONNECTION_REFUSED
               : result == CURLE_OPERATION_TIMEDOUT ? G_IO_ERROR_TIMED_OUT
                                                    : G_IO_ERROR_HOST_UNREACHABLE;
    return g_error_new(G_IO_ERROR, code, "%s: %s%s", request->client->endpoints[request->endpoint],
                       curl_easy_strerror(result),
                       unsent && result == CURLE_OPERATION_TIMEDOUT ? " (no connection made)" : "");
  }
  curl_easy_getinfo(request->easy, CURLINFO_RESPONSE_CODE, &status);
  if (status == 200)
    return NULL;
  /* etcd answers 503 while it has no leader, or when a proposal timed out (which it may
   * still make): another member may do better. */
  *retry = status >= 500 && (request->idempotent || dropped_unproposed(request->received));
  return g_error_new(G_IO_ERROR, G_IO_ERROR_FAILED, "%s: HTTP %ld: %.*s",
                     request->client->endpoints[request->endpoint], status,
                     (int)MIN(request->received->len, 200), (const char *)request->received->data);
}

static gboolean start(Request *request)
{
  request->easy = make_easy(request);
  if (request->easy == NULL ||
      curl_multi_add_handle(request->client->multi, request->easy) != CURLM_OK)
    return FALSE;
  g_hash_table_add(request->client->running, request);
  return TRUE;
}

/* curl starts a new transfer from a timer of 0 ms; starting it here saves a turn of the
 * event loop and two timer changes for each request. Never called from curl's callbacks:
 * requests are made from the event loop's own (and finish() runs after curl returned). */
static void kick(KvEtcdClient *self)
{
  int running;

  curl_multi_socket_action(self->multi, CURL_SOCKET_TIMEOUT, 0, &running);
}

/* A transfer is over: answer it, or send it to the next endpoint. */
static void finish(KvEtcdClient *self, Request *request, CURLcode result)
{
  gboolean retry;
  gboolean unsent = never_sent(request->easy, result);
  g_autoptr(GError) error = transfer_error(request, result, unsent, &retry);
  long status = 0;

  curl_easy_getinfo(request->easy, CURLINFO_RESPONSE_CODE, &status);

  g_hash_table_remove(self->running, request);
  curl_multi_remove_handle(self->multi, request->easy);
  curl_easy_cleanup(request->easy);
  request->easy = NULL;
  request->tried++;
  /* A member that did not answer, or answered that it could not serve (no leader, a
   * proposal that timed out), is passed over for a while; one that answered is current. A
   * stream ends with an error always: only one that never connected tells against it. */
  gboolean failed = request->on_line != NULL ? unsent : result != CURLE_OK || status >= 500;
  if (failed) {
    suspect(self, request->endpoint);
  } else {
    self->suspect_until[request->endpoint] = 0;
    self->current = request->endpoint;
  }
  if (error != NULL && retry && !request->pinned && request->tried < self->n_endpoints) {
    request->endpoint = choose_endpoint(self);
    g_byte_array_set_size(request->received, 0);
    if (start(request))
      return;
  }
  if (request->on_line != NULL) {
    if (error == NULL)
      error = g_error_new_literal(G_IO_ERROR, G_IO_ERROR_CLOSED, "etcd ended the stream");
    request->on_end(error, request->user_data);
  } else {
    request->done((const char *)request->received->data, request->received->len, error,
                  request->user_data);
  }
  request_free(request);
}

static void check_finished(KvEtcdClient *self)
{
  CURLMsg *message;
  int left;

  deliver_lines(self);
  while ((message = curl_multi_info_read(self->multi, &left)) != NULL) {
    if (message->msg != CURLMSG_DONE)
      continue;
    Request *request = NULL;
    curl_easy_getinfo(message->easy_handle, CURLINFO_PRIVATE, (char **)&request);
    finish(self, request, message->data.result);
  }
}

static int on_io(sd_event_source *source, int fd, uint32_t revents, void *user_data)
{
  KvEtcdClient *self = user_data;
  int action = 0, running;

  if (revents & EPOLLIN)
    action |= CURL_CSELECT_IN;
  if (revents & EPOLLOUT)
    action |= CURL_CSELECT_OUT;
  if (revents & (EPOLLERR | EPOLLHUP))
    action |= CURL_CSELECT_ERR;
  curl_multi_socket_action(self->multi, fd, action, &running);
  check_finished(self);
  return 0;
}

/* curl's own record of each socket (curl_multi_assign()) tells a socket it watches from
 * a new one that took the number of a closed one: the watch of the closed one, if still
 * here, is dropped, never reused. */
static int on_socket(CURL *easy, curl_socket_t fd, int what, void *user_data, void *socket_data)
{
  KvEtcdClient *self = user_data;
  sd_event_source *source = socket_data;

  if (what == CURL_POLL_REMOVE) {
    curl_multi_assign(self->multi, fd, NULL);
    g_hash_table_remove(self->sockets, GINT_TO_POINTER(fd));
    return 0;
  }
  uint32_t events = (what & CURL_POLL_IN ? EPOLLIN : 0) | (what & CURL_POLL_OUT ? EPOLLOUT : 0);
  if (source != NULL && sd_event_source_set_io_events(source, events) >= 0)
    return 0;
  g_hash_table_remove(self->sockets, GINT_TO_POINTER(fd));
  if (sd_event_add_io(self->event, &source, fd, events, on_io, self) < 0)
    return -1;
  g_hash_table_insert(self->sockets, GINT_TO_POINTER(fd), source);
  curl_multi_assign(self->multi, fd, source);
  return 0;
}

static int on_timer(sd_event_source *source, uint64_t usec, void *user_data)
{
  KvEtcdClient *self = user_data;
  int running;

  curl_multi_socket_action(self->multi, CURL_SOCKET_TIMEOUT, 0, &running);
  check_finished(self);
  return 0;
}

static int on_timeout_change(CURLM *multi, long timeout_ms, void *user_data)
{
  KvEtcdClient *self = user_data;

  if (timeout_ms < 0)
    return sd_event_source_set_enabled(self->timer, SD_EVENT_OFF) < 0 ? -1 : 0;
  uint64_t now;
  sd_event_now(self->event, CLOCK_MONOTONIC, &now);
  /* curl's timer is mostly a request's timeout, moved at every request; a tenth of it in
   * slack lets sd-event keep the kernel timer where it is. Short ones (curl's "now", its
   * connection attempts) keep 1 µs: sd-event's default would let them slip by 250 ms. */
  uint64_t accuracy = timeout_ms >= 100 ? (uint64_t)timeout_ms * 100 : 1;
  if (sd_event_source_set_time_accuracy(self->timer, accuracy) < 0 ||
      sd_event_source_set_time(self->timer, now + (uint64_t)timeout_ms * 1000) < 0 ||
      sd_event_source_set_enabled(self->timer, SD_EVENT_ONESHOT) < 0)
    return -1;
  return 0;
}

static void source_unref(gpointer source)
{
  sd_event_source_disable_unref(source);
}

KvEtcdClient *kv_etcd_client_new(sd_event *event, const char *const *endpoints)
{
  KvEtcdClient *self = g_new0(KvEtcdClient, 1);

  curl_global_init(CURL_GLOBAL_DEFAULT);
  self->event = sd_event_ref(event);
  self->endpoints = g_strdupv((char **)endpoints);
  self->n_endpoints = g_strv_length(self->endpoints);
  self->suspect_until = g_new0(gint64, self->n_endpoints);
  self->sockets = g_hash_table_new_full(NULL, NULL, NULL, source_unref);
  self->running = g_hash_table_new(NULL, NULL);
  self->multi = curl_multi_init();
  curl_multi_setopt(self->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
  curl_multi_setopt(self->multi, CURLMOPT_SOCKETDATA, self);
  curl_multi_setopt(self->multi, CURLMOPT_TIMERFUNCTION, on_timeout_change);
  curl_multi_setopt(self->multi, CURLMOPT_TIMERDATA, self);
  curl_multi_setopt(self->multi, CURLMOPT_MAXCONNECTS, KEPT_CONNECTIONS);
  sd_event_add_time(event, &self->timer, CLOCK_MONOTONIC, UINT64_MAX, 1, on_timer, self);
  sd_event_source_set_enabled(self->timer, SD_EVENT_OFF);
  return self;
}

static void fail_now(Request *request, const char *why)
{
  g_autoptr(GError) error = g_error_new(G_IO_ERROR, G_IO_ERROR_FAILED, "%s", why);

  if (request->on_line != NULL)
    request->on_end(error, request->user_data);
  else
    request->done(NULL, 0, error, request->user_data);
  request_free(request);
}

/* Starts @request, a unary one, or fails it at once. */
static void post(KvEtcdClient *self, Request *request, guint timeout_ms, KvEtcdResponseFunc done,
                 gpointer user_data)
{
  request->timeout_ms = timeout_ms;
  request->done = done;
  request->user_data = user_data;
  if (!start(request)) {
    fail_now(request, "cannot start an HTTP request");
    return;
  }
  kick(self);
}

void kv_etcd_client_post(KvEtcdClient *self, const char *path, const char *body, guint timeout_ms,
                         gboolean idempotent, KvEtcdResponseFunc done, gpointer user_data)
{
  Request *request = request_new(self, path, body);

  request->idempotent = idempotent;
  post(self, request, timeout_ms, done, user_data);
}

void kv_etcd_client_post_to(KvEtcdClient *self, guint endpoint, const char *path, const char *body,
                            guint timeout_ms, KvEtcdResponseFunc done, gpointer user_data)
{
  Request *request = request_new(self, path, body);

  request->endpoint = endpoint;
  request->pinned = TRUE;
  post(self, request, timeout_ms, done, user_data);
}

char *kv_etcd_client_post_sync(KvEtcdClient *self, const char *path, const char *body,
                               guint timeout_ms, GError **error)
{
  guint n = self->n_endpoints;
  g_autoptr(GError) last_error = NULL;

  for (guint i = 0; i < n; i++) {
    Request *request = request_new(self, path, body);
    request->endpoint = (self->current + i) % n;
    request->timeout_ms = timeout_ms;
    request->idempotent = TRUE; /* a read */
    request->easy = make_easy(request);
    gboolean retry = FALSE;
    CURLcode result = request->easy != NULL ? curl_easy_perform(request->easy) : CURLE_FAILED_INIT;
    g_clear_error(&last_error);
    last_error = transfer_error(request, result, never_sent(request->easy, result), &retry);
    if (last_error == NULL) {
      self->current = request->endpoint;
      g_byte_array_append(request->received, (const guint8 *)"", 1);
      char *text = g_strdup((const char *)request->received->data);
      request_free(request);
      return text;
    }
    request_free(request);
    if (!retry)
      break;
  }
  g_propagate_error(error, g_steal_pointer(&last_error));
  return NULL;
}

KvEtcdStream *kv_etcd_client_stream(KvEtcdClient *self, const char *path, const char *body,
                                    KvEtcdLineFunc on_line, KvEtcdEndFunc on_end,
                                    gpointer user_data)
{
  Request *request = request_new(self, path, body);

  request->on_line = on_line;
  request->on_end = on_end;
  request->user_data = user_data;
  request->idempotent = TRUE; /* until it receives something */
  if (!start(request)) {
    fail_now(request, "cannot start an HTTP request");
    return NULL;
  }
  return (KvEtcdStream *)request;
}

static void cancel(Request *request)
{
  g_hash_table_remove(request->client->running, request);
  if (request->easy != NULL)
    curl_multi_remove_handle(request->client->multi, request->easy);
  request_free(request);
}

void kv_etcd_stream_cancel(KvEtcdStream *stream)
{
  cancel((Request *)stream);
}

const char *kv_etcd_client_endpoint(KvEtcdClient *self)
{
  return self->endpoints[self->current];
}

guint kv_etcd_client_n_endpoints(KvEtcdClient *self)
{
  return self->n_endpoints;
}

const char *kv_etcd_client_endpoint_url(KvEtcdClient *self, guint endpoint)
{
  return self->endpoints[endpoint];
}

void kv_etcd_client_suspect(KvEtcdClient *self, guint endpoint)
{
  suspect(self, endpoint);
}

guint kv_etcd_stream_endpoint(KvEtcdStream *stream)
{
  return ((Request *)stream)->endpoint;
}

void kv_etcd_client_free(KvEtcdClient *self)
{
  if (self == NULL)
    return;
  /* What is still in flight is dropped, its callbacks never told. */
  GList *running = g_hash_table_get_keys(self->running);
  for (GList *l = running; l != NULL; l = l->next)
    cancel(l->data);
  g_list_free(running);
  g_hash_table_unref(self->running);
  curl_multi_cleanup(self->multi);
  g_hash_table_unref(self->sockets);
  sd_event_source_disable_unref(self->timer);
  sd_event_unref(self->event);
  g_strfreev(self->endpoints);
  g_free(self->suspect_until);
  g_free(self);
}
