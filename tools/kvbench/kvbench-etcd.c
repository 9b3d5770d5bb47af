/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "kvbench-etcd.h"

#include "kv-config.h"

#include <curl/curl.h>
#include <gio/gio.h>
#include <stdlib.h>
#include <string.h>

static size_t discard(char *data, size_t size, size_t count, void *user_data)
{
  return size * count;
}

static CURL *make_put(const char *url, const char *body, struct curl_slist *headers)
{
  CURL *easy = curl_easy_init();

  curl_easy_setopt(easy, CURLOPT_URL, url);
  curl_easy_setopt(easy, CURLOPT_POSTFIELDS, body);
  curl_easy_setopt(easy, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, discard);
  curl_easy_setopt(easy, CURLOPT_TCP_NODELAY, 1L);
  curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, 10000L);
  return easy;
}

/* The put body of @etcd_key with the value every kvbench Set writes. */
static char *put_body(const char *etcd_key)
{
  g_autofree char *key = g_base64_encode((const guchar *)etcd_key, strlen(etcd_key));
  g_autofree char *value = g_base64_encode((const guchar *)"value-0000000001", 16);

  return g_strdup_printf("{\"key\":\"%s\",\"value\":\"%s\"}", key, value);
}

typedef struct {
  const char *url;
  const char *body;
  struct curl_slist *headers;
  CURL *easy; /* made in the child, at its first Set */
} EtcdFront;

static int front_set(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
  EtcdFront *front = userdata;
  int r = kvbench_floor_read_set(m);

  if (r < 0)
    return r;
  if (front->easy == NULL)
    front->easy = make_put(front->url, front->body, front->headers);
  CURLcode result = curl_easy_perform(front->easy);
  if (result != CURLE_OK)
    return sd_bus_error_setf(ret_error, SD_BUS_ERROR_IO_ERROR, "put to %s: %s", front->url,
                             curl_easy_strerror(result));
  return sd_bus_reply_method_return(m, NULL);
}

static const sd_bus_vtable front_vtable[] = {
    SD_BUS_VTABLE_START(0),
    SD_BUS_METHOD_WITH_ARGS("Set", SD_BUS_ARGS("s", key, "v", value), SD_BUS_NO_RESULT, front_set,
                            0),
    SD_BUS_VTABLE_END};

int kvbench_etcd_front_start(const KvClientBus *bus, const char *url, const char *etcd_key,
                             KvbenchFloor *ret)
{
  g_autofree char *body = put_body(etcd_key);
  g_autofree char *put_url = g_strconcat(url, "/v3/kv/put", NULL);
  struct curl_slist *headers = curl_slist_append(NULL, "Content-Type: application/json");
  EtcdFront front = {put_url, body, headers, NULL};

  curl_global_init(CURL_GLOBAL_DEFAULT);
  int r = kvbench_peer_start(bus, front_vtable, &front, ret);
  curl_slist_free_all(headers);
  return r;
}

static int compare_doubles(const void *a, const void *b)
{
  double x = *(const double *)a, y = *(const double *)b;

  return (x > y) - (x < y);
}

void kvbench_sort_doubles(double *values, gsize n)
{
  qsort(values, n, sizeof(double), compare_doubles);
}

gboolean kvbench_etcd_put_rates(const char *url, const char *etcd_key, double seconds,
                                guint in_flight, double *out_sync_rate, double *out_sync_p50_us,
                                double *out_pipelined_rate, GError **error)
{
  g_autofree char *body = put_body(etcd_key);
  g_autofree char *put_url = g_strconcat(url, "/v3/kv/put", NULL);
  struct curl_slist *headers = curl_slist_append(NULL, "Content-Type: application/json");
  g_autoptr(GArray) latencies = g_array_new(FALSE, FALSE, sizeof(double));

  curl_global_init(CURL_GLOBAL_DEFAULT);
  CURL *easy = make_put(put_url, body, headers);
  gint64 start = g_get_monotonic_time(), end = start + (gint64)(seconds * G_USEC_PER_SEC);
  while (g_get_monotonic_time() < end) {
    gint64 before = g_get_monotonic_time();
    CURLcode result = curl_easy_perform(easy);
    if (result != CURLE_OK) {
      g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "put to %s: %s", put_url,
                  curl_easy_strerror(result));
      curl_easy_cleanup(easy);
      curl_slist_free_all(headers);
      return FALSE;
    }
    double us = (double)(g_get_monotonic_time() - before);
    g_array_append_val(latencies, us);
  }
  curl_easy_cleanup(easy);
  *out_sync_rate = latencies->len / ((double)(g_get_monotonic_time() - start) / G_USEC_PER_SEC);
  kvbench_sort_doubles((double *)latencies->data, latencies->len);
  *out_sync_p50_us = g_array_index(latencies, double, latencies->len / 2);

  CURLM *multi = curl_multi_init();
  for (guint i = 0; i < in_flight; i++)
    curl_multi_add_handle(multi, make_put(put_url, body, headers));
  guint64 done = 0;
  start = g_get_monotonic_time();
  end = start + (gint64)(seconds * G_USEC_PER_SEC);
  int running = (int)in_flight;
  while (running > 0) {
    curl_multi_perform(multi, &running);
    CURLMsg *message;
    int left;
    while ((message = curl_multi_info_read(multi, &left)) != NULL) {
      if (message->msg != CURLMSG_DONE)
        continue;
      CURL *finished = message->easy_handle;
      curl_multi_remove_handle(multi, finished);
      done += message->data.result == CURLE_OK;
      /* Again on the same connection, until the time is up. */
      if (g_get_monotonic_time() < end) {
        curl_multi_add_handle(multi, finished);
        running++;
      } else {
        curl_easy_cleanup(finished);
      }
    }
    if (running > 0)
      curl_multi_poll(multi, NULL, 0, 100, NULL);
  }
  *out_pipelined_rate = done / ((double)(g_get_monotonic_time() - start) / G_USEC_PER_SEC);
  curl_multi_cleanup(multi);
  curl_slist_free_all(headers);
  return TRUE;
}
