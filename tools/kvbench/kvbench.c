/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* kvbench: measures a running kvstored against the cost of the bus itself. Every
 * figure comes with its ratio to org.freedesktop.DBus.Peer.Ping on the same daemon in
 * the same run, since absolute figures drift on a shared machine. */

#include "kv-client-bus.h"
#include "kvbench-attacks.h"
#include "kvbench-batch-memory.h"
#include "kvbench-etcd.h"
#include "kvbench-floor.h"
#include "kvbench-redis.h"
#include "kvbench-compaction.h"
#include "kvbench-leases.h"
#include "kvbench-resume.h"
#include "kvbench-sync.h"
#include "kv-config.h"
#include "kv-memory-repository.h"
#include "kv-sd-bus-cleanup.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define KEY_FORMAT "key:%012u"      /* 16 bytes */
#define PREFIX_100 "key:0000000001" /* selects key:000000000100 .. key:000000000199 */
#define SET_KEYS   64               /* keys each client's Sets go round */

typedef enum {
  OP_PING,
  OP_GET,
  OP_SET,
  OP_INCR,
  OP_EXISTS,
  OP_KEYS,
  OP_SET_MANY,
  OP_GET_MANY,
  OP_GET_ALL,
  OP_LOAD
} Op;

static const char *const op_names[] = {"ping", "get",     "set",     "incr",   "exists",
                                       "keys", "setmany", "getmany", "getall", "load"};
static const char *const op_members[] = {"Ping", "Get",     "Set",     "Increment", "Exists",
                                         "Keys", "SetMany", "GetMany", "GetAll",    "Set"};
/* Keys per SetMany and GetMany call measured. */
static const guint batch_sizes[] = {100, 1000};

typedef struct {
  KvClientBus bus;
  double duration;
  int pipeline;
  int clients;
  int keys;
  int raw_baseline; /* internal: measure the raw GHashTable baseline and exit */
  gboolean startup;
  gboolean stored;   /* the store holds the keys already: no preload */
  double compaction; /* seconds of Gets alone, then during a compaction */
  gboolean attacks;
  int resume;           /* changes to resume from, with --resume */
  int leases;           /* calls of each kind, with --leases */
  const char *sync_dir; /* where to measure a bare fdatasync loop, the durable writes' anchor */
  const char *etcd_url; /* the etcd member to put to directly, the etcd backend's anchor */
  const char *etcd_key; /* the etcd key it puts */
  guint ops;            /* bit 1 << Op for each operation to measure */
} Options;

/* What one measurement sends: the operation and its arguments. */
typedef struct {
  Op op;
  const char *prefix;
  char *value;     /* for set */
  const char *key; /* for get: this key instead of the preloaded ones */
  guint key_count;
  guint batch; /* keys per SetMany or GetMany */
  guint next;
  int client;
  const char *destination; /* NULL: kvstored */
} Workload;

typedef struct {
  GArray *latencies_ns; /* guint64 */
  double seconds;
  int failures;
} Result;

static guint64 now_ns(void)
{
  struct timespec ts;

  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (guint64)ts.tv_sec * G_GUINT64_CONSTANT(1000000000) + (guint64)ts.tv_nsec;
}

/* @w->batch preloaded keys from the @n-th batch on: an 'as' for GetMany, an 'a{sv}' of
 * 16-byte strings for SetMany. */
static int append_batch(sd_bus_message *m, const Workload *w, guint n)
{
  gboolean set = w->op == OP_SET_MANY;
  int r = sd_bus_message_open_container(m, 'a', set ? "{sv}" : "s");

  for (guint i = 0; r >= 0 && i < w->batch; i++) {
    char key[32], value[32];
    g_snprintf(key, sizeof key, KEY_FORMAT, (n * w->batch + i) % MAX(w->key_count, 1));
    g_snprintf(value, sizeof value, "value-%010u", n);
    r = set ? sd_bus_message_append(m, "{sv}", key, "s", value)
            : sd_bus_message_append_basic(m, 's', key);
  }
  return r < 0 ? r : sd_bus_message_close_container(m);
}

static int build_call(sd_bus *bus, Workload *w, sd_bus_message **ret)
{
  g_autoptr(sd_bus_message) m = NULL;
  char key[32];

  int r = sd_bus_message_new_method_call(
      bus, &m, w->destination != NULL ? w->destination : KV_BUS_NAME, KV_OBJECT_PATH,
      w->op == OP_PING ? "org.freedesktop.DBus.Peer" : KV_INTERFACE, op_members[w->op]);
  if (r < 0)
    return r;

  guint n = w->next++;
  g_snprintf(key, sizeof key, KEY_FORMAT, w->key_count > 0 ? n % w->key_count : 0);
  switch (w->op) {
  case OP_PING:
    break;
  case OP_GET:
  case OP_EXISTS:
    r = sd_bus_message_append(m, "s", w->key != NULL ? w->key : key);
    break;
  case OP_SET:
    /* One key per call in flight: on etcd, writes of one key take turns. */
    g_snprintf(key, sizeof key, "bench:set:%d:%u", w->client, n % SET_KEYS);
    r = sd_bus_message_append(m, "sv", key, "s", w->value);
    break;
  case OP_INCR:
    g_snprintf(key, sizeof key, "bench:counter:%d", w->client);
    r = sd_bus_message_append(m, "sx", key, (int64_t)1);
    break;
  case OP_KEYS:
  case OP_GET_ALL:
    r = sd_bus_message_append(m, "s", w->prefix);
    break;
  case OP_SET_MANY:
  case OP_GET_MANY:
    r = append_batch(m, w, n);
    break;
  case OP_LOAD: {
    /* The shape the memory target names: 16-byte keys, 16-byte string values. */
    char value[32];
    g_snprintf(key, sizeof key, KEY_FORMAT, n);
    g_snprintf(value, sizeof value, "value-%010u", n);
    r = sd_bus_message_append(m, "sv", key, "s", value);
    break;
  }
  }
  if (r < 0)
    return r;
  *ret = g_steal_pointer(&m);
  return 0;
}

static void result_init(Result *result)
{
  result->latencies_ns = g_array_new(FALSE, FALSE, sizeof(guint64));
  result->seconds = 0;
  result->failures = 0;
}

static void result_clear(Result *result)
{
  g_clear_pointer(&result->latencies_ns, g_array_unref);
}

/* One client, one call at a time, for @duration seconds. */
static int run_sync(sd_bus *bus, Workload *w, double duration, Result *result)
{
  guint64 start = now_ns();
  guint64 end = start + (guint64)(duration * 1e9);
  guint64 t;

  do {
    g_autoptr(sd_bus_message) call = NULL;
    g_autoptr(sd_bus_message) reply = NULL;
    g_auto(sd_bus_error) error = SD_BUS_ERROR_NULL;
    guint64 before = now_ns();
    int r = build_call(bus, w, &call);
    if (r < 0)
      return r;
    r = sd_bus_call(bus, call, 0, &error, &reply);
    t = now_ns();
    if (r < 0) {
      if (result->failures++ == 0)
        fprintf(stderr, "kvbench: %s failed: %s\n", op_names[w->op],
                error.message ? error.message : g_strerror(-r));
      continue;
    }
    guint64 latency = t - before;
    g_array_append_val(result->latencies_ns, latency);
    /* sd_bus_call() queues what else arrives: answer kvstored's Peer.Ping among it, or
     * it refuses this client after 64 MiB of replies (back-pressure). */
    while (sd_bus_process(bus, NULL) > 0)
      ;
  } while (t < end);
  result->seconds += (double)(t - start) / 1e9;
  return 0;
}

typedef struct {
  Workload *workload;
  sd_bus *bus;
  Result *result;
  guint64 end;       /* no new call after this time */
  guint64 remaining; /* nor after this many calls */
  int in_flight;
  int error;
} Pipeline;

typedef struct {
  Pipeline *pipeline;
  guint64 sent;
} PendingCall;

static int send_pipelined(Pipeline *p);

static int on_pipelined_reply(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
  PendingCall *call = userdata;
  Pipeline *p = call->pipeline;
  guint64 latency = now_ns() - call->sent;

  g_free(call);
  p->in_flight--;
  if (sd_bus_message_is_method_error(m, NULL)) {
    if (p->result->failures++ == 0)
      fprintf(stderr, "kvbench: %s failed: %s\n", op_names[p->workload->op],
              sd_bus_message_get_error(m)->message);
  } else {
    g_array_append_val(p->result->latencies_ns, latency);
  }
  if (p->remaining > 0 && now_ns() < p->end && p->error >= 0)
    p->error = send_pipelined(p);
  return 0;
}

static int send_pipelined(Pipeline *p)
{
  g_autoptr(sd_bus_message) m = NULL;
  int r = build_call(p->bus, p->workload, &m);
  if (r < 0)
    return r;

  PendingCall *call = g_new0(PendingCall, 1);
  call->pipeline = p;
  call->sent = now_ns();
  /* A floating slot: sd-bus frees it with the reply. */
  r = sd_bus_call_async(p->bus, NULL, m, on_pipelined_reply, call, 0);
  if (r < 0) {
    g_free(call);
    return r;
  }
  p->in_flight++;
  p->remaining--;
  return 0;
}

/* One client keeping @depth calls in flight for @duration seconds or @limit calls,
 * whichever ends first. */
static int run_pipelined(sd_bus *bus, Workload *w, double duration, guint64 limit, int depth,
                         Result *result)
{
  guint64 start = now_ns();
  Pipeline p = {w, bus, result, start + (guint64)(duration * 1e9), limit, 0, 0};

  for (int i = 0; i < depth && p.remaining > 0 && p.error >= 0; i++)
    p.error = send_pipelined(&p);
  while (p.in_flight > 0) {
    int r = sd_bus_process(bus, NULL);
    if (r < 0)
      return r;
    if (r == 0 && (r = sd_bus_wait(bus, UINT64_MAX)) < 0)
      return r;
  }
  result->seconds += (double)(now_ns() - start) / 1e9;
  return p.error;
}

static gboolean read_all(int fd, void *buffer, gsize size)
{
  for (gsize got = 0; got < size;) {
    ssize_t n = read(fd, (char *)buffer + got, size - got);
    if (n <= 0)
      return FALSE;
    got += (gsize)n;
  }
  return TRUE;
}

static gboolean write_all(int fd, const void *buffer, gsize size)
{
  for (gsize put = 0; put < size;) {
    ssize_t n = write(fd, (const char *)buffer + put, size - put);
    if (n <= 0)
      return FALSE;
    put += (gsize)n;
  }
  return TRUE;
}

/* Runs in a forked child: its own connection, a synchronous loop, and the latencies
 * sent back through @fd. Never returns. */
static void run_client_process(const Options *options, Workload *w, double duration, int fd)
{
  g_autoptr(sd_bus) bus = NULL;
  Result mine;

  result_init(&mine);
  if (kv_client_bus_connect(&options->bus, &bus) < 0 || run_sync(bus, w, duration, &mine) < 0)
    _exit(1);
  guint64 header[2] = {mine.latencies_ns->len, (guint64)mine.failures};
  gboolean ok = write_all(fd, header, sizeof header) &&
                write_all(fd, mine.latencies_ns->data, mine.latencies_ns->len * sizeof(guint64));
  _exit(ok ? 0 : 1);
}

/* --clients processes side by side, each a synchronous client for @duration seconds. */
static int run_clients(const Options *options, Workload *w, double duration, Result *result)
{
  g_autofree pid_t *pids = g_new0(pid_t, options->clients);
  g_autofree int *fds = g_new0(int, options->clients);
  int status = 0;

  for (int c = 0; c < options->clients; c++) {
    int pipe_fds[2];
    if (pipe(pipe_fds) < 0)
      return -errno;
    w->client = c + 1;
    w->next = (guint)c * 7919;
    pids[c] = fork();
    if (pids[c] < 0)
      return -errno;
    if (pids[c] == 0) {
      close(pipe_fds[0]);
      run_client_process(options, w, duration, pipe_fds[1]);
    }
    close(pipe_fds[1]);
    fds[c] = pipe_fds[0];
  }

  for (int c = 0; c < options->clients; c++) {
    guint64 header[2] = {0, 0};
    if (read_all(fds[c], header, sizeof header)) {
      gsize old_len = result->latencies_ns->len;
      g_array_set_size(result->latencies_ns, old_len + header[0]);
      if (!read_all(fds[c], &g_array_index(result->latencies_ns, guint64, old_len),
                    header[0] * sizeof(guint64)))
        g_array_set_size(result->latencies_ns, old_len);
      result->failures += (int)header[1];
    }
    close(fds[c]);
    int child_status;
    if (waitpid(pids[c], &child_status, 0) < 0 || !WIFEXITED(child_status) ||
        WEXITSTATUS(child_status) != 0)
      status = -EIO;
  }
  result->seconds += duration;
  return status;
}

static int compare_u64(gconstpointer a, gconstpointer b)
{
  guint64 x = *(const guint64 *)a, y = *(const guint64 *)b;

  return x < y ? -1 : x > y;
}

typedef struct {
  double calls_per_second;
  double p50_us;
  double p99_us;
  double daemon_cpu_us; /* kvstored's CPU time per call, user and system */
} Figures;

static Figures summarize(Result *result)
{
  Figures f = {0, 0, 0, 0};
  guint n = result->latencies_ns->len;

  if (n == 0)
    return f;
  g_array_sort(result->latencies_ns, compare_u64);
  f.calls_per_second = n / result->seconds;
  f.p50_us = g_array_index(result->latencies_ns, guint64, n / 2) / 1e3;
  f.p99_us = g_array_index(result->latencies_ns, guint64, MIN(n - 1, (guint)(n * 0.99))) / 1e3;
  return f;
}

/* kvstored's CPU time so far in microseconds, or -1 (not on this machine, say). */
static double cpu_us(pid_t pid)
{
  g_autofree char *path = g_strdup_printf("/proc/%d/stat", (int)pid);
  g_autofree char *stat = NULL;
  unsigned long utime, stime;
  const char *end;

  /* utime and stime are fields 14 and 15; the command name before them may hold spaces. */
  if (pid <= 0 || !g_file_get_contents(path, &stat, NULL, NULL) ||
      (end = strrchr(stat, ')')) == NULL ||
      sscanf(end + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &utime, &stime) != 2)
    return -1;
  return (double)(utime + stime) * 1e6 / (double)sysconf(_SC_CLK_TCK);
}

static int run_mode(sd_bus *bus, const Options *options, Workload *w, const char *mode,
                    double seconds, Result *result)
{
  if (g_str_equal(mode, "sync"))
    return run_sync(bus, w, seconds, result);
  if (g_str_equal(mode, "pipeline"))
    return run_pipelined(bus, w, seconds, G_MAXUINT64, options->pipeline, result);
  return run_clients(options, w, seconds, result);
}

typedef struct {
  Result result;
  double cpu_us;
} Series;

/* Adds a slice of @seconds of @w in @mode to @series. */
static int run_slice(sd_bus *bus, const Options *options, pid_t pid, Workload *w, const char *mode,
                     double seconds, Series *series)
{
  double before = cpu_us(pid);
  int r = run_mode(bus, options, w, mode, seconds, &series->result);
  double after = cpu_us(pid);

  if (before >= 0 && after >= 0)
    series->cpu_us += after - before;
  if (r >= 0 && series->result.failures > 0)
    r = -EIO;
  return r;
}

static Figures series_figures(Series *series)
{
  Figures f = summarize(&series->result);

  if (series->result.latencies_ns->len > 0)
    f.daemon_cpu_us = series->cpu_us / series->result.latencies_ns->len;
  return f;
}

/* Measures @w and @anchor in the same mode in alternating slices, so that the drift of a
 * shared machine touches both alike. */
static int measure_against(sd_bus *bus, const Options *options, pid_t pid, Workload *w,
                           Workload *anchor, pid_t anchor_pid, const char *mode, Figures *out,
                           Figures *anchor_out)
{
  enum { SLICES = 4 };
  Series op_series = {.cpu_us = 0}, anchor_series = {.cpu_us = 0};
  int r = 0;

  result_init(&op_series.result);
  result_init(&anchor_series.result);
  for (int i = 0; i < SLICES && r >= 0; i++) {
    r = run_slice(bus, options, anchor_pid, anchor, mode, options->duration / SLICES,
                  &anchor_series);
    if (r >= 0)
      r = run_slice(bus, options, pid, w, mode, options->duration / SLICES, &op_series);
  }
  *out = series_figures(&op_series);
  *anchor_out = series_figures(&anchor_series);
  result_clear(&op_series.result);
  result_clear(&anchor_series.result);
  return r;
}

/* measure_against() Ping on kvstored. */
static int measure(sd_bus *bus, const Options *options, pid_t pid, Workload *w, const char *mode,
                   Figures *out, Figures *ping_out)
{
  Workload ping = {.op = OP_PING};

  return measure_against(bus, options, pid, w, &ping, pid, mode, out, ping_out);
}

static void print_header(void)
{
  printf("%-7s %6s %-9s %9s %8s %8s %7s %9s %7s %8s\n", "op", "bytes", "mode", "calls/s", "p50 us",
         "p99 us", "cpu us", "ping/s", "ping cpu", "vs ping");
}

static void print_row(const char *op, const char *size, const char *mode, const Figures *f,
                      const Figures *ping)
{
  printf("%-7s %6s %-9s %9.0f %8.1f %8.1f %7.1f %9.0f %8.1f %7.2fx\n", op, size, mode,
         f->calls_per_second, f->p50_us, f->p99_us, f->daemon_cpu_us, ping->calls_per_second,
         ping->daemon_cpu_us,
         f->calls_per_second > 0 ? ping->calls_per_second / f->calls_per_second : 0);
}

/* Asks the bus driver about kvstored's name: @method returns one value of @type. */
static int ask_about_name(sd_bus *bus, const char *method, char type, void *out)
{
  g_autoptr(sd_bus_message) reply = NULL;
  int r = sd_bus_call_method(bus, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                             "org.freedesktop.DBus", method, NULL, &reply, "s", KV_BUS_NAME);

  return r < 0 ? r : sd_bus_message_read_basic(reply, type, out);
}

static pid_t daemon_pid(sd_bus *bus)
{
  uint32_t pid = 0;

  return ask_about_name(bus, "GetConnectionUnixProcessID", 'u', &pid) < 0 ? -1 : (pid_t)pid;
}

/* The baseline of the memory target: a GHashTable of @n keys and values, each a
 * g_strdup of 16 bytes. Run in a fresh process (see raw_baseline_in_new_process()). */
static double raw_hash_table_bytes_per_key(int n)
{
  long before = kvbench_rss_kib(getpid());
  GHashTable *table = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);

  for (int i = 0; i < n; i++) {
    char key[32], value[32];
    g_snprintf(key, sizeof key, KEY_FORMAT, (guint)i);
    g_snprintf(value, sizeof value, "value-%010u", (guint)i);
    g_hash_table_insert(table, g_strdup(key), g_strdup(value));
  }
  double per_key = (kvbench_rss_kib(getpid()) - before) * 1024.0 / n;
  g_hash_table_unref(table);
  return per_key;
}

/* The store's Count, or 0 when it cannot be read. */
static guint32 store_count(sd_bus *bus)
{
  g_auto(sd_bus_error) error = SD_BUS_ERROR_NULL;
  guint32 count = 0;

  (void)sd_bus_get_property_trivial(bus, KV_BUS_NAME, KV_OBJECT_PATH, KV_INTERFACE, "Count", &error,
                                    'u', &count);
  return count;
}

static int preload(sd_bus *bus, const Options *options)
{
  Workload w = {.op = OP_LOAD};
  Result result;

  if (options->keys == 0)
    return 0;
  if (options->stored) {
    guint32 count = store_count(bus);
    printf("The store holds %u keys already (--stored)\n", count);
    return count >= (guint32)options->keys ? 0 : -ENOENT;
  }
  result_init(&result);
  int r = run_pipelined(bus, &w, G_MAXINT32, (guint64)options->keys, options->pipeline, &result);
  printf("Preloaded %d keys in %.1f s (%.0f sets/s, %d in flight)\n", options->keys, result.seconds,
         options->keys / result.seconds, options->pipeline);
  if (r >= 0 && result.failures > 0)
    r = -EIO;
  result_clear(&result);
  return r;
}

static gboolean count_key(const char *key, GVariant *value, guint64 revision, gpointer user_data)
{
  (*(guint *)user_data)++;
  return TRUE;
}

typedef struct {
  const char *prefix;
  guint matches;
} ScanFilter;

static gboolean filter_key(const char *key, GVariant *value, guint64 revision, gpointer user_data)
{
  ScanFilter *filter = user_data;

  if (g_str_has_prefix(key, filter->prefix))
    filter->matches++;
  return TRUE;
}

/* The ordered index against a scan of every key, in process, on a repository of the
 * same size as the daemon's. */
static void compare_index_with_scan(int n)
{
  g_autoptr(KvRepository) repository = kv_memory_repository_new();
  enum { ROUNDS = 5 };
  guint64 index_ns = G_MAXUINT64, scan_ns = G_MAXUINT64;
  guint matches = 0;

  for (int i = 0; i < n; i++) {
    char key[32], value[32];
    g_snprintf(key, sizeof key, KEY_FORMAT, (guint)i);
    g_snprintf(value, sizeof value, "value-%010u", (guint)i);
    kv_repository_set(repository, key, g_variant_new_string(value), NULL);
  }
  for (int round = 0; round < ROUNDS; round++) {
    guint64 t0 = now_ns();
    matches = 0;
    kv_repository_foreach(repository, PREFIX_100, NULL, FALSE, count_key, &matches);
    guint64 t1 = now_ns();
    ScanFilter filter = {PREFIX_100, 0};
    kv_repository_foreach(repository, "", NULL, FALSE, filter_key, &filter);
    guint64 t2 = now_ns();
    index_ns = MIN(index_ns, t1 - t0);
    scan_ns = MIN(scan_ns, t2 - t1);
  }
  printf("In process, %d keys, prefix selecting %u: index %.1f us, full scan %.1f us "
         "(index takes %.5fx the scan's time)\n",
         n, matches, index_ns / 1e3, scan_ns / 1e3, (double)index_ns / (double)scan_ns);
}

static gboolean parse_ops(const char *text, guint *out_ops)
{
  g_auto(GStrv) names = g_strsplit(text, ",", -1);

  *out_ops = 0;
  for (gsize i = 0; names[i] != NULL; i++) {
    Op op;
    for (op = OP_GET; op <= OP_GET_MANY; op++)
      if (g_str_equal(names[i], op_names[op]))
        break;
    if (op > OP_GET_MANY)
      return FALSE;
    *out_ops |= 1u << op;
  }
  return *out_ops != 0;
}

static gboolean parse_sizes(const char *text, GArray **ret)
{
  g_auto(GStrv) parts = g_strsplit(text, ",", -1);
  g_autoptr(GArray) sizes = g_array_new(FALSE, FALSE, sizeof(guint64));

  for (gsize i = 0; parts[i] != NULL; i++) {
    guint64 size;
    if (!g_ascii_string_to_unsigned(parts[i], 10, 2, 64 * 1024 * 1024, &size, NULL))
      return FALSE;
    g_array_append_val(sizes, size);
  }
  *ret = g_steal_pointer(&sizes);
  return TRUE;
}

/* The table of single-key operations, each against Ping in the same mode. */
static int run_table(sd_bus *bus, const Options *options, pid_t pid, GArray *value_sizes)
{
  const char *modes[] = {"sync", "pipeline", "clients"};
  Figures f, ping;
  int r;

  print_header();
  for (Op op = OP_GET; op <= OP_EXISTS; op++) {
    if (!(options->ops & (1u << op)))
      continue;
    gboolean sized = op == OP_GET || op == OP_SET;
    for (guint s = 0; s < (sized ? value_sizes->len : 1); s++) {
      gsize size = sized ? g_array_index(value_sizes, guint64, s) : 16;
      g_autofree char *value = g_strnfill(size - 1, 'v');
      g_autofree char *size_text = sized ? g_strdup_printf("%zu", size) : g_strdup("-");
      g_autofree char *get_key = g_strdup_printf("bench:get:%zu", size);
      Workload w = {.op = op, .value = value, .key_count = (guint)options->keys};

      if (op == OP_GET) {
        /* Get reads back a value of the size under test. */
        r = sd_bus_call_method(bus, KV_BUS_NAME, KV_OBJECT_PATH, KV_INTERFACE, "Set", NULL, NULL,
                               "sv", get_key, "s", value);
        if (r < 0)
          return r;
        w.key = get_key;
      }
      for (gsize m = 0; m < G_N_ELEMENTS(modes); m++) {
        if ((r = measure(bus, options, pid, &w, modes[m], &f, &ping)) < 0)
          return r;
        print_row(op_names[op], size_text, modes[m], &f, &ping);
      }
    }
  }
  if (options->keys < 200 || !(options->ops & (1u << OP_KEYS)))
    return 0;

  const Op selections[] = {OP_KEYS, OP_GET_ALL};
  for (gsize i = 0; i < G_N_ELEMENTS(selections); i++) {
    Op op = selections[i];
    Workload w = {.op = op, .prefix = PREFIX_100};
    if ((r = measure(bus, options, pid, &w, "sync", &f, &ping)) < 0)
      return r;
    print_row(op_names[op], "100", "sync", &f, &ping);
  }
  printf("(keys and getall select 100 of %d keys with the prefix '%s')\n\n", options->keys,
         PREFIX_100);
  compare_index_with_scan(options->keys);
  return 0;
}

/* One client's Get, alone and while another process keeps --pipeline durable Sets in
 * flight: how long reads wait for the disk. */
static int run_reads_under_writes(sd_bus *bus, const Options *options)
{
  Workload get = {.op = OP_GET, .key_count = (guint)MAX(options->keys, 1)};
  Workload set = {.op = OP_SET, .value = (char *)"value-0000000001"};
  Result alone, loaded;
  int r;

  result_init(&alone);
  result_init(&loaded);
  if ((r = run_sync(bus, &get, options->duration, &alone)) < 0)
    return r;
  pid_t writer = fork();
  if (writer < 0)
    return -errno;
  if (writer == 0) {
    g_autoptr(sd_bus) own = NULL;
    Result mine;
    result_init(&mine);
    /* A little longer than the reads, so that they all run under load. */
    _exit(kv_client_bus_connect(&options->bus, &own) < 0 ||
                  run_pipelined(own, &set, options->duration + 0.5, G_MAXUINT64, options->pipeline,
                                &mine) < 0
              ? 1
              : 0);
  }
  g_usleep(200 * 1000);
  r = run_sync(bus, &get, options->duration, &loaded);
  int status;
  waitpid(writer, &status, 0);
  Figures a = summarize(&alone), l = summarize(&loaded);
  printf("One client's Get, p50/p99: alone %.0f/%.0f us; while %d durable Sets are in flight "
         "%.0f/%.0f us\n",
         a.p50_us, a.p99_us, options->pipeline, l.p50_us, l.p99_us);
  result_clear(&alone);
  result_clear(&loaded);
  return r;
}

/* One client's Set, each answered after it is durable, against a bare append+fdatasync
 * loop on the same file system, measured right after. */
static int run_sync_anchor(sd_bus *bus, const Options *options, pid_t pid)
{
  Workload w = {.op = OP_SET, .value = (char *)"value-0000000001"};
  Figures f, ping;
  int r;

  if (options->sync_dir == NULL)
    return 0;
  if ((r = measure(bus, options, pid, &w, "sync", &f, &ping)) < 0)
    return r;
  double bare = kvbench_bare_fdatasync_rate(options->sync_dir, options->duration);
  if (bare < 0)
    return (int)bare;
  printf("\nOne client's Set: %.0f/s (%.1f us of kvstored CPU each); a bare append+fdatasync "
         "loop in %s: %.0f/s; Set makes %.2fx the bare rate\n",
         f.calls_per_second, f.daemon_cpu_us, options->sync_dir, bare, f.calls_per_second / bare);
  return run_reads_under_writes(bus, options);
}

typedef struct {
  double median, lowest, highest;
} Spread;

/* The median, lowest and highest of @values (sorted in place), each times @scale. */
static Spread spread_of(double *values, gsize n, double scale)
{
  kvbench_sort_doubles(values, n);
  return (Spread){values[n / 2] * scale, values[0] * scale, values[n - 1] * scale};
}

/* measure_against() the same calls to @floor_peer (kvstored's Ping when NULL). */
static int measure_against_floor(sd_bus *bus, const Options *options, pid_t pid, Workload *w,
                                 const KvbenchFloor *floor_peer, const char *mode, Figures *out,
                                 Figures *floor_out)
{
  Workload anchor = *w;

  if (floor_peer == NULL)
    anchor = (Workload){.op = OP_PING};
  else
    anchor.destination = floor_peer->name;
  return measure_against(bus, options, pid, w, &anchor, floor_peer != NULL ? floor_peer->pid : pid,
                         mode, out, floor_out);
}

/* Set on kvstored --etcd, one at a time and pipelined, against puts straight to etcd and
 * against @front (a bare front on the bus: a put and nothing else), in rounds that take
 * turns with each other: etcd's latency on this VM moves by a third within a minute, so
 * each ratio is taken within a round. */
static int run_etcd_rounds(sd_bus *bus, const Options *options, pid_t pid, const char *etcd_key,
                           const KvbenchFloor *front)
{
  enum { ROUNDS = 3 };
  g_autoptr(GError) error = NULL;
  Workload w = {.op = OP_SET, .value = (char *)"value-0000000001"};
  Options round_options = *options;
  double added[ROUNDS], over_floor[ROUNDS], bus_share[ROUNDS], rate_ratio[ROUNDS];
  double set_p50[ROUNDS], put_p50[ROUNDS], set_rate[ROUNDS], put_rate[ROUNDS];
  double front_p50[ROUNDS], front_added[ROUNDS], over_front[ROUNDS];
  int r;

  round_options.duration = options->duration / ROUNDS;
  for (int i = 0; i < ROUNDS; i++) {
    Figures sync, pipelined, ping, pipelined_ping, beside_front, front_sync;
    double direct_sync, direct_p50, direct_pipelined;
    if ((r = measure(bus, &round_options, pid, &w, "sync", &sync, &ping)) < 0 ||
        (r = measure(bus, &round_options, pid, &w, "pipeline", &pipelined, &pipelined_ping)) < 0 ||
        (r = measure_against_floor(bus, &round_options, pid, &w, front, "sync", &beside_front,
                                   &front_sync)) < 0)
      return r;
    if (!kvbench_etcd_put_rates(options->etcd_url, etcd_key, round_options.duration,
                                options->pipeline, &direct_sync, &direct_p50, &direct_pipelined,
                                &error)) {
      fprintf(stderr, "kvbench: %s\n", error->message);
      return -EIO;
    }
    set_p50[i] = sync.p50_us;
    put_p50[i] = direct_p50;
    added[i] = (sync.p50_us - direct_p50) / direct_p50;
    /* No front on the bus can answer sooner than a bus round trip plus etcd's own put. */
    bus_share[i] = ping.p50_us / direct_p50;
    over_floor[i] = sync.p50_us / (direct_p50 + ping.p50_us);
    front_p50[i] = front_sync.p50_us;
    front_added[i] = (front_sync.p50_us - direct_p50) / direct_p50;
    over_front[i] = beside_front.p50_us / front_sync.p50_us;
    set_rate[i] = pipelined.calls_per_second;
    put_rate[i] = direct_pipelined;
    rate_ratio[i] = pipelined.calls_per_second / direct_pipelined;
  }
  Spread set = spread_of(set_p50, ROUNDS, 1), put = spread_of(put_p50, ROUNDS, 1);
  Spread add = spread_of(added, ROUNDS, 100), share = spread_of(bus_share, ROUNDS, 100);
  Spread floor_ratio = spread_of(over_floor, ROUNDS, 1);
  Spread bare = spread_of(front_p50, ROUNDS, 1), bare_add = spread_of(front_added, ROUNDS, 100);
  Spread bare_ratio = spread_of(over_front, ROUNDS, 1);
  Spread set_r = spread_of(set_rate, ROUNDS, 1), put_r = spread_of(put_rate, ROUNDS, 1);
  Spread rate = spread_of(rate_ratio, ROUNDS, 1);
  printf("\nSet on etcd against a put straight to etcd from C, in %d rounds taking turns "
         "(median, lowest-highest of the rounds):\n",
         ROUNDS);
  printf("  one at a time: Set p50 %.0f us (%.0f-%.0f); put p50 %.0f us (%.0f-%.0f)\n", set.median,
         set.lowest, set.highest, put.median, put.lowest, put.highest);
  printf("  kvstored adds %.0f%% (%.0f-%.0f%%) to etcd's latency; the bus's own round trip "
         "(Ping p50) is %.0f%% (%.0f-%.0f%%) of it; Set takes %.2fx (%.2f-%.2fx) a put plus a "
         "Ping\n",
         add.median, add.lowest, add.highest, share.median, share.lowest, share.highest,
         floor_ratio.median, floor_ratio.lowest, floor_ratio.highest);
  printf("  a bare front (a peer on the bus answering Set after one put, nothing else): p50 "
         "%.0f us (%.0f-%.0f), adds %.0f%% (%.0f-%.0f%%) to etcd's latency; kvstored's Set "
         "takes %.2fx (%.2f-%.2fx) its time, in slices taking turns with it\n",
         bare.median, bare.lowest, bare.highest, bare_add.median, bare_add.lowest, bare_add.highest,
         bare_ratio.median, bare_ratio.lowest, bare_ratio.highest);
  printf("  %u in flight: Set %.0f/s (%.0f-%.0f); puts %.0f/s (%.0f-%.0f); kvstored makes "
         "%.2fx (%.2f-%.2fx) etcd's rate\n",
         options->pipeline, set_r.median, set_r.lowest, set_r.highest, put_r.median, put_r.lowest,
         put_r.highest, rate.median, rate.lowest, rate.highest);
  return 0;
}

/* With --etcd-anchor: run_etcd_rounds() beside a bare front of its own. */
static int run_etcd_anchor(sd_bus *bus, const Options *options, pid_t pid)
{
  const char *etcd_key = options->etcd_key != NULL ? options->etcd_key : "/kvbench/anchor";
  KvbenchFloor front = {0};

  if (options->etcd_url == NULL)
    return 0;
  int r = kvbench_etcd_front_start(&options->bus, options->etcd_url, etcd_key, &front);
  if (r < 0)
    return r;
  r = run_etcd_rounds(bus, options, pid, etcd_key, &front);
  kvbench_floor_stop(&front);
  return r;
}

/* Get, Set and Increment of 16 bytes against the same calls to a peer that stores nothing. */
static int run_single_calls_against_floor(sd_bus *bus, const Options *options, pid_t pid,
                                          const KvbenchFloor *floor_peer)
{
  const char *modes[] = {"sync", "pipeline"};
  const Op ops[] = {OP_GET, OP_SET, OP_INCR};
  gboolean header = FALSE;
  Figures f, floor;
  int r;

  for (gsize o = 0; o < G_N_ELEMENTS(ops); o++) {
    /* Get reads the preloaded keys. */
    if (!(options->ops & (1u << ops[o])) || (ops[o] == OP_GET && options->keys == 0))
      continue;
    if (!header)
      printf("\n%-8s %-9s %9s %9s %9s %10s %9s\n", "op", "mode", "calls/s", "cpu us", "floor/s",
             "floor cpu", "vs floor");
    header = TRUE;
    for (gsize m = 0; m < G_N_ELEMENTS(modes); m++) {
      Workload w = {
          .op = ops[o], .value = (char *)"value-0000000001", .key_count = (guint)options->keys};
      if ((r = measure_against_floor(bus, options, pid, &w, floor_peer, modes[m], &f, &floor)) < 0)
        return r;
      printf("%-8s %-9s %9.0f %9.1f %9.0f %10.1f %8.2fx\n", op_names[ops[o]], modes[m],
             f.calls_per_second, f.daemon_cpu_us, floor.calls_per_second, floor.daemon_cpu_us,
             f.calls_per_second > 0 ? floor.calls_per_second / f.calls_per_second : 0.0);
    }
  }
  if (header)
    printf("(floor: the same calls answered by a peer that stores nothing; 'vs floor' is the "
           "time per call relative to it)\n");
  return 0;
}

/* SetMany and GetMany of the preloaded keys, in keys per second, each against the same
 * calls to a peer that stores nothing, or against Ping when there is none (NULL). */
static int run_batches_against_floor(sd_bus *bus, const Options *options, pid_t pid,
                                     const KvbenchFloor *floor_peer)
{
  const char *modes[] = {"sync", "pipeline"};
  Figures f, floor;
  int r;

  if (options->keys < 1000 || !(options->ops & (1u << OP_SET_MANY | 1u << OP_GET_MANY)))
    return 0;
  printf("\n%-8s %5s %-9s %9s %9s %8s %8s %10s %11s %10s %9s\n", "op", "keys", "mode", "calls/s",
         "keys/s", "p50 us", "p99 us", "cpu us/key", "floor keys/s", "floor cpu", "of floor");
  for (Op op = OP_SET_MANY; op <= OP_GET_MANY; op++) {
    if (!(options->ops & (1u << op)))
      continue;
    for (gsize b = 0; b < G_N_ELEMENTS(batch_sizes); b++)
      for (gsize m = 0; m < G_N_ELEMENTS(modes); m++) {
        guint n = batch_sizes[b];
        Workload w = {.op = op, .key_count = (guint)options->keys, .batch = n};
        if ((r = measure_against_floor(bus, options, pid, &w, floor_peer, modes[m], &f, &floor)) <
            0)
          return r;
        printf("%-8s %5u %-9s %9.0f %9.0f %8.1f %8.1f %10.2f", op_names[op], n, modes[m],
               f.calls_per_second, f.calls_per_second * n, f.p50_us, f.p99_us, f.daemon_cpu_us / n);
        if (floor_peer != NULL)
          printf(" %11.0f %10.2f %8.2fx\n", floor.calls_per_second * n, floor.daemon_cpu_us / n,
                 floor.calls_per_second > 0 ? f.calls_per_second / floor.calls_per_second : 0.0);
        else
          printf(" %11s %10s %9s\n", "-", "-", "-");
      }
  }
  printf("(pipeline: %d calls in flight; keys chosen among the %d preloaded; floor: the same "
         "calls answered by a peer that stores nothing, its CPU per key in 'floor cpu'; 'of "
         "floor' is kvstored's rate as a share of the floor's)\n",
         options->pipeline, options->keys);
  return 0;
}

/* Starts the floor peer, and checks that the bus lets us call it (a system bus's policy
 * lets callers reach kvstored only). FALSE, with the reason printed, when it cannot be
 * used. */
static gboolean floor_start(sd_bus *bus, const Options *options, KvbenchFloor *ret)
{
  g_auto(sd_bus_error) error = SD_BUS_ERROR_NULL;
  int r = kvbench_floor_start(&options->bus, ret);

  if (r < 0) {
    printf("\nFloor: skipped (cannot start the peer: %s)\n", g_strerror(-r));
    return FALSE;
  }
  r = sd_bus_call_method(bus, ret->name, KV_OBJECT_PATH, KV_INTERFACE, "Increment", &error, NULL,
                         "sx", "probe", (int64_t)0);
  if (r < 0) {
    printf("\nFloor: skipped (the bus refuses calls to the peer: %s)\n",
           error.message != NULL ? error.message : g_strerror(-r));
    kvbench_floor_stop(ret);
    return FALSE;
  }
  return TRUE;
}

/* Calls against a peer that stores nothing, then Redis's batches in the same run. */
static int run_against_floor(sd_bus *bus, const Options *options, pid_t pid)
{
  KvbenchFloor floor_peer = {0};
  gboolean have_floor = floor_start(bus, options, &floor_peer);
  int r = 0;

  if (have_floor)
    r = run_single_calls_against_floor(bus, options, pid, &floor_peer);
  if (r >= 0)
    r = run_batches_against_floor(bus, options, pid, have_floor ? &floor_peer : NULL);
  kvbench_floor_stop(&floor_peer);
  if (r < 0 || options->keys < 1000 || !(options->ops & (1u << OP_SET_MANY | 1u << OP_GET_MANY)))
    return r;

  g_autoptr(GError) error = NULL;
  double redis_set, redis_get;
  if (kvbench_redis_rates(&redis_set, &redis_get, &error))
    printf("Redis in the same run (redis-benchmark -P 64 -c 1 -d 16): SET %.0f/s, GET %.0f/s\n",
           redis_set, redis_get);
  else
    printf("Redis: skipped (%s)\n", error->message);
  return 0;
}

/* What large batches leave in kvstored's memory against small ones; last of all, so that
 * their 100 MB of values are in no figure before (the start-up's snapshot, say). */
static int run_batch_memory(sd_bus *bus, const Options *options)
{
  long small_kib, large_kib;
  int r;

  if (options->keys < 1000 || !(options->ops & (1u << OP_SET_MANY)))
    return 0;
  if ((r = kvbench_batch_memory(bus, daemon_pid(bus), &small_kib, &large_kib)) < 0)
    return r;
  printf("\nMemory left by batches: %d values of %d bytes in batches of %d: RSS +%.1f MiB; the "
         "same in batches of %d: +%.1f MiB (%.2fx)\n",
         KVBENCH_BATCH_MEMORY_KEYS, KVBENCH_BATCH_MEMORY_BYTES, KVBENCH_BATCH_MEMORY_SMALL,
         small_kib / 1024.0, KVBENCH_BATCH_MEMORY_LARGE, large_kib / 1024.0,
         small_kib > 0 ? (double)large_kib / small_kib : 0.0);
  return 0;
}

/* A fresh kvbench process measures the baseline, as fresh as kvstored's heap was. */
static double raw_baseline_in_new_process(int keys)
{
  g_autofree char *count = g_strdup_printf("%d", keys);
  const char *argv[] = {"/proc/self/exe", "--raw-baseline", count, NULL};
  g_autofree char *out = NULL;
  int status;

  if (!g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_DEFAULT, NULL, NULL, &out, NULL, &status,
                    NULL) ||
      !g_spawn_check_wait_status(status, NULL))
    return -1;
  return g_ascii_strtod(out, NULL);
}

static gboolean name_has_owner(sd_bus *bus)
{
  int owned = 0;

  return ask_about_name(bus, "NameHasOwner", 'b', &owned) >= 0 && owned;
}

/* Waits for kvstored to exit on idle (started with --idle-timeout), then times the
 * first call: D-Bus activation, loading the state, and the answer. */
static int measure_startup(sd_bus *bus, const Options *options)
{
  guint64 deadline = now_ns() + G_GUINT64_CONSTANT(300) * 1000000000;

  printf("\nWaiting for kvstored to exit on idle...\n");
  fflush(stdout);
  while (name_has_owner(bus)) {
    if (now_ns() > deadline)
      return -ETIMEDOUT;
    g_usleep(20 * 1000);
  }
  guint64 start = now_ns();
  int r = sd_bus_call_method(bus, KV_BUS_NAME, KV_OBJECT_PATH, "org.freedesktop.DBus.Peer", "Ping",
                             NULL, NULL, NULL);
  if (r < 0)
    return r;
  printf("Start-up with %d keys: %.0f ms from the call that activated kvstored to its answer\n",
         options->keys, (now_ns() - start) / 1e6);
  return 0;
}

/* Memory per key from the growth of kvstored's RSS over the keys the preload added; when
 * they were there already (a state directory from an earlier run), from its whole RSS
 * over all its keys, which counts its own baseline too. */
static void report_memory(const Options *options, long rss_before, long rss_after,
                          guint32 count_before, guint32 count_after)
{
  if (rss_before <= 0 || rss_after <= 0 || options->keys == 0 || count_after == 0)
    return;

  guint32 added = count_after - MIN(count_before, count_after);
  double per_key =
      added > 0 ? (rss_after - rss_before) * 1024.0 / added : rss_after * 1024.0 / count_after;
  double raw = raw_baseline_in_new_process(options->keys);
  if (added > 0)
    printf("kvstored resident memory: %.1f MiB -> %.1f MiB for %u more keys, %.1f bytes per "
           "key (16-byte keys, 16-byte strings)\n",
           rss_before / 1024.0, rss_after / 1024.0, added, per_key);
  else
    printf("kvstored resident memory: %.1f MiB for %u keys stored before this run: %.1f bytes "
           "per key, its baseline included (16-byte keys, 16-byte strings)\n",
           rss_after / 1024.0, count_after, per_key);
  printf("Raw GHashTable of two g_strdup strings: %.1f bytes per key; kvstored uses %.2fx\n\n", raw,
         per_key / raw);
}

static int run(const Options *options, GArray *value_sizes)
{
  g_autoptr(sd_bus) bus = NULL;
  int r = kv_client_bus_connect(&options->bus, &bus);
  if (r < 0) {
    fprintf(stderr, "kvbench: cannot connect to the bus: %s\n", g_strerror(-r));
    return 1;
  }
  /* Activates kvstored if it is not running yet. */
  r = sd_bus_call_method(bus, KV_BUS_NAME, KV_OBJECT_PATH, "org.freedesktop.DBus.Peer", "Ping",
                         NULL, NULL, NULL);
  if (r < 0) {
    fprintf(stderr, "kvbench: kvstored does not answer: %s\n", g_strerror(-r));
    return 1;
  }

  pid_t pid = daemon_pid(bus);
  if (options->resume > 0) {
    if ((r = kvbench_resume(bus, &options->bus, (guint)options->resume)) < 0) {
      fprintf(stderr, "kvbench: the resume failed: %s\n", g_strerror(-r));
      return 1;
    }
    return 0;
  }
  if (options->compaction > 0) {
    if ((r = kvbench_compaction(bus, (guint)options->keys, options->compaction)) < 0) {
      fprintf(stderr, "kvbench: the compaction's round failed: %s\n", g_strerror(-r));
      return 1;
    }
    return 0;
  }
  if (options->leases > 0) {
    g_autofree char *dir =
        g_strdup(options->sync_dir != NULL ? options->sync_dir : g_get_tmp_dir());
    if ((r = kvbench_leases(bus, (guint)options->leases, dir)) < 0) {
      fprintf(stderr, "kvbench: the leases' round failed: %s\n", g_strerror(-r));
      return 1;
    }
    return 0;
  }
  if (options->attacks) {
    if ((r = kvbench_attacks(bus, &options->bus, pid)) < 0) {
      fprintf(stderr, "kvbench: an attack failed to run: %s\n", g_strerror(-r));
      return 1;
    }
    return 0;
  }
  printf("kvbench %s: kvstored pid %d; %.2f s per figure, pipeline %d, %d clients\n"
         "'cpu us' is kvstored's own CPU time per call (user and system); the rest of a call's\n"
         "cost is the bus daemon's and the client's."
         " 'vs ping' is the time per call relative to Ping,\n"
         "measured in alternating slices with it in the same mode.\n\n",
         KV_VERSION, (int)pid, options->duration, options->pipeline, options->clients);

  long rss_before = kvbench_rss_kib(pid);
  guint32 count_before = store_count(bus);
  if ((r = preload(bus, options)) < 0) {
    fprintf(stderr, "kvbench: preload failed: %s\n", g_strerror(-r));
    return 1;
  }
  report_memory(options, rss_before, kvbench_rss_kib(pid), count_before, store_count(bus));

  if ((r = run_table(bus, options, pid, value_sizes)) < 0 ||
      (r = run_against_floor(bus, options, pid)) < 0 ||
      (r = run_sync_anchor(bus, options, pid)) < 0 ||
      (r = run_etcd_anchor(bus, options, pid)) < 0) {
    fprintf(stderr, "kvbench: measurement failed: %s\n", g_strerror(-r));
    return 1;
  }
  if (options->startup && (r = measure_startup(bus, options)) < 0) {
    fprintf(stderr, "kvbench: start-up measurement failed: %s\n", g_strerror(-r));
    return 1;
  }
  if ((r = run_batch_memory(bus, options)) < 0) {
    fprintf(stderr, "kvbench: the batch memory measurement failed: %s\n", g_strerror(-r));
    return 1;
  }
  return 0;
}

int main(int argc, char **argv)
{
  Options options = {.duration = 1.0, .pipeline = 32, .clients = 4, .keys = 10000};
  g_autofree char *address = NULL;
  g_autofree char *value_sizes_text = NULL;
  g_autofree char *ops_text = NULL;
  g_autofree char *etcd_url = NULL, *etcd_key = NULL, *sync_dir = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GArray) value_sizes = NULL;
  const GOptionEntry entries[] = {
      {"system", 0, 0, G_OPTION_ARG_NONE, &options.bus.system, "Use the system bus", NULL},
      {"user", 0, 0, G_OPTION_ARG_NONE, &options.bus.user, "Use the session (user) bus", NULL},
      {"address", 0, 0, G_OPTION_ARG_STRING, &address, "Use the bus at ADDRESS", "ADDRESS"},
      {"duration", 'd', 0, G_OPTION_ARG_DOUBLE, &options.duration, "Seconds per figure (default 1)",
       "SECONDS"},
      {"pipeline", 'p', 0, G_OPTION_ARG_INT, &options.pipeline,
       "Calls in flight in pipeline mode (default 32)", "N"},
      {"clients", 'c', 0, G_OPTION_ARG_INT, &options.clients,
       "Client processes in clients mode (default 4)", "N"},
      {"keys", 'k', 0, G_OPTION_ARG_INT, &options.keys,
       "Keys to preload: 16-byte keys with 16-byte string values (default 10000)", "N"},
      {"ops", 'o', 0, G_OPTION_ARG_STRING, &ops_text,
       "Operations to measure (default get,set,incr,exists,keys,setmany,getmany)", "LIST"},
      {"etcd-anchor", 0, 0, G_OPTION_ARG_STRING, &etcd_url,
       "Compare Set (of a kvstored --etcd) with puts straight to the etcd member at URL, "
       "and with a bare front on the bus that answers Set after one such put",
       "URL"},
      {"etcd-anchor-key", 0, 0, G_OPTION_ARG_STRING, &etcd_key,
       "The etcd key the anchor puts (default /kvbench/anchor; one under kvstored's prefix "
       "makes etcd tell kvstored's watch of each put, as for kvstored's own writes)",
       "KEY"},
      {"sync-anchor", 0, 0, G_OPTION_ARG_FILENAME, &sync_dir,
       "Compare one client's Set with a bare append+fdatasync loop in DIR (kvstored's "
       "file system)",
       "DIR"},
      {"attacks", 0, 0, G_OPTION_ARG_NONE, &options.attacks,
       "Only time the calls of a hostile caller and how long they stall others", NULL},
      {"resume", 0, 0, G_OPTION_ARG_INT, &options.resume,
       "Only write N changes and time a resume from before them (ChangesSince, "
       "SubscribeSince) against GetAllPage of as many entries; kvstored must keep N changes",
       "N"},
      {"stored", 0, 0, G_OPTION_ARG_NONE, &options.stored,
       "The store holds the --keys keys already (tools/kvbench/bench-scale.sh builds such a "
       "store with kvbench-scale): measure without preloading them",
       NULL},
      {"compaction", 0, 0, G_OPTION_ARG_DOUBLE, &options.compaction,
       "Only time one client's Gets of the --keys the store holds for SECONDS, then again "
       "after a Set that starts a compaction (bench-scale.sh prepares such a store)",
       "SECONDS"},
      {"leases", 0, 0, G_OPTION_ARG_INT, &options.leases,
       "Only time N leased Sets against N plain ones, and N uncontended Lock+Unlock against "
       "flock(2) on a file (in --sync-anchor's DIR, else the temporary directory)",
       "N"},
      {"startup", 0, 0, G_OPTION_ARG_NONE, &options.startup,
       "At the end, wait for kvstored to exit on idle and time its re-activation", NULL},
      {"raw-baseline", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_INT, &options.raw_baseline, NULL,
       NULL},
      {"value-sizes", 's', 0, G_OPTION_ARG_STRING, &value_sizes_text,
       "Value sizes for get and set, bytes serialized (default 16,1024,65536)", "LIST"},
      {NULL},
  };
  g_autoptr(GOptionContext) context = g_option_context_new("- measure kvstored");

  g_option_context_add_main_entries(context, entries, NULL);
  g_option_context_set_description(
      context,
      "Preloads keys, reports kvstored's resident memory per key against a raw GHashTable,\n"
      "then measures ping, get, set, incr and exists in three modes: sync (one client, one\n"
      "call at a time), pipeline (one client, N calls in flight) and clients (N processes,\n"
      "each sync). Each row gives calls/s, median and 99th percentile latency, and the\n"
      "time per call relative to org.freedesktop.DBus.Peer.Ping in the same mode, which\n"
      "costs a full bus round trip and no work in kvstored. Finally Keys and GetAll with a\n"
      "prefix selecting 100 keys, and the ordered index against a full scan in process.\n"
      "Then Get, Set and Increment, and SetMany and GetMany of 100 and 1000 keys (in keys\n"
      "per second), each against the same calls to a peer that stores nothing (the bus's\n"
      "own limit for them), with Redis's batches when it is installed; one client's Set\n"
      "against a bare fdatasync loop\n"
      "and its Get under durable writes (--sync-anchor).\n"
      "With --startup, the time kvstored takes to come back with all those keys.\n"
      "Last (with setmany), the memory large batches leave against small ones.\n"
      "Exit status: 0 success, 1 failure, 2 usage error.");
  if (!g_option_context_parse(context, &argc, &argv, &error)) {
    fprintf(stderr, "kvbench: %s\n", error->message);
    return 2;
  }
  if (argc > 1 || options.duration <= 0 || options.pipeline < 1 || options.clients < 1 ||
      options.keys < 0 || options.resume < 0 || options.leases < 0 ||
      !parse_sizes(value_sizes_text ? value_sizes_text : "16,1024,65536", &value_sizes)) {
    fprintf(stderr, "kvbench: invalid arguments; try 'kvbench --help'\n");
    return 2;
  }
  options.bus.address = address;
  options.etcd_url = etcd_url;
  options.etcd_key = etcd_key;
  options.sync_dir = sync_dir;
  if (!parse_ops(ops_text ? ops_text : "get,set,incr,exists,keys,setmany,getmany", &options.ops)) {
    fprintf(stderr,
            "kvbench: --ops takes a list of get, set, incr, exists, keys, setmany, getmany\n");
    return 2;
  }
  if (options.raw_baseline > 0) {
    printf("%.1f\n", raw_hash_table_bytes_per_key(options.raw_baseline));
    return 0;
  }
  return run(&options, value_sizes);
}
