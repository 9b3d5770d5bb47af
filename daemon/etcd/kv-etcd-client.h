/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>
#include <systemd/sd-event.h>

G_BEGIN_DECLS

/* HTTP to etcd's v3 JSON gateway: libcurl's multi interface driven by sd-event, so that
 * nothing waits on the network in the event loop and many requests are in flight at once.
 * Requests go to the endpoint that last answered, unless it failed lately (no answer in
 * time, no connection, HTTP 5xx) and another did not: then it is passed over for a few
 * seconds. A request that fails to connect goes on to the next endpoint. */
typedef struct _KvEtcdClient KvEtcdClient;

/* The answer to a request: its body, or @error (G_IO_ERROR_TIMED_OUT past the timeout,
 * G_IO_ERROR_CONNECTION_REFUSED when no endpoint took the connection, or none was made in
 * time, so that the request never left, G_IO_ERROR_HOST_UNREACHABLE when a connection broke,
 * G_IO_ERROR_FAILED for an HTTP error, with etcd's message). */
typedef void (*KvEtcdResponseFunc)(const char *body, gsize length, const GError *error,
                                   gpointer user_data);

/* Each line (one JSON object) a stream sends. */
typedef void (*KvEtcdLineFunc)(const char *line, gsize length, gpointer user_data);

/* The end of a stream: @error says why (never NULL: a watch never ends well). */
typedef void (*KvEtcdEndFunc)(const GError *error, gpointer user_data);

typedef struct _KvEtcdStream KvEtcdStream;

/* A client of the etcd cluster at @endpoints ("http://HOST:PORT"), on @event. */
KvEtcdClient *kv_etcd_client_new(sd_event *event, const char *const *endpoints);

/* Frees the client; requests still in flight are dropped without a word. */
void kv_etcd_client_free(KvEtcdClient *self);

/* POSTs @body to @path ("/v3/kv/txn"); @done is told once, from the event loop. A
 * request that may have reached etcd goes to another endpoint only when it is
 * @idempotent; one that surely did not (no connection, or etcd had no leader) always. */
void kv_etcd_client_post(KvEtcdClient *self, const char *path, const char *body, guint timeout_ms,
                         gboolean idempotent, KvEtcdResponseFunc done, gpointer user_data);

/* POSTs to @endpoint (an index into the endpoints) and no other: a probe of one member. */
void kv_etcd_client_post_to(KvEtcdClient *self, guint endpoint, const char *path, const char *body,
                            guint timeout_ms, KvEtcdResponseFunc done, gpointer user_data);

/* The same, waiting for the answer without the event loop: for the start, before any
 * call is served. Returns the body, or NULL with @error. */
char *kv_etcd_client_post_sync(KvEtcdClient *self, const char *path, const char *body,
                               guint timeout_ms, GError **error);

/* POSTs @body to @path and hands each line of the endless answer to @on_line, until the
 * connection ends (@on_end; the stream is gone after it) or kv_etcd_stream_cancel(). */
KvEtcdStream *kv_etcd_client_stream(KvEtcdClient *self, const char *path, const char *body,
                                    KvEtcdLineFunc on_line, KvEtcdEndFunc on_end,
                                    gpointer user_data);

/* Ends @stream without telling its end function. */
void kv_etcd_stream_cancel(KvEtcdStream *stream);

/* The endpoint requests go to first (the last that answered). */
const char *kv_etcd_client_endpoint(KvEtcdClient *self);

guint kv_etcd_client_n_endpoints(KvEtcdClient *self);
const char *kv_etcd_client_endpoint_url(KvEtcdClient *self, guint endpoint);

/* Passes @endpoint over for a while: a probe found its member behind the cluster. */
void kv_etcd_client_suspect(KvEtcdClient *self, guint endpoint);

/* The endpoint (index) @stream is on. */
guint kv_etcd_stream_endpoint(KvEtcdStream *stream);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(KvEtcdClient, kv_etcd_client_free)

G_END_DECLS
