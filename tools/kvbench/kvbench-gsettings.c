/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* GSettings through whatever backend GSETTINGS_BACKEND names (bench-gsettings.sh runs it
 * with dconf's and with kvstore's, on one bus): SETS writes and a sync, GETS reads, and
 * ROUNDS times how long after a write another process (this program, "watch") is told.
 *   kvbench-gsettings run SETS GETS ROUNDS
 *   kvbench-gsettings watch                (prints "ready", then "VALUE TIME_US" per change)
 * The schema is org.example.Bench (count and k0 … k99: i), compiled by the script; the
 * writes go round the hundred keys. */
#define G_SETTINGS_ENABLE_BACKEND
#include <gio/gio.h>
#include <gio/gsettingsbackend.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The schema's keys k0 … k99, which the writes go round. */
#define KEYS 100

static void on_count(GSettings *settings, const char *key, gpointer user_data)
{
  g_print("%d %" G_GINT64_FORMAT "\n", g_settings_get_int(settings, key), g_get_monotonic_time());
}

static int watch(void)
{
  g_autoptr(GSettings) settings = g_settings_new("org.example.Bench");
  g_autoptr(GMainLoop) loop = g_main_loop_new(NULL, FALSE);

  /* Each line as it is printed: the other end is timing them. */
  setvbuf(stdout, NULL, _IOLBF, 0);
  /* Read once: GSettings tells changes of keys it has read. */
  (void)g_settings_get_int(settings, "count");
  g_signal_connect(settings, "changed::count", G_CALLBACK(on_count), NULL);
  g_print("ready\n");
  g_main_loop_run(loop);
  return 0;
}

static int compare_int64(const void *a, const void *b)
{
  gint64 x = *(const gint64 *)a, y = *(const gint64 *)b;

  return (x > y) - (x < y);
}

typedef struct {
  char *line;
  gboolean done;
} Line;

static void on_line(GObject *source, GAsyncResult *result, gpointer user_data)
{
  Line *line = user_data;

  line->line =
      g_data_input_stream_read_line_finish(G_DATA_INPUT_STREAM(source), result, NULL, NULL);
  line->done = TRUE;
}

/* The next line of @from, read while the main loop runs: a backend may send a write only
 * once the answer to the one before came (kvstore's does), which needs the loop. */
static char *next_line(GDataInputStream *from)
{
  Line line = {NULL, FALSE};

  g_data_input_stream_read_line_async(from, G_PRIORITY_DEFAULT, NULL, on_line, &line);
  while (!line.done)
    g_main_context_iteration(NULL, TRUE);
  return line.line;
}

/* Writes @value and waits until the watcher (its output in @from) says it saw it: the
 * time between, in µs. */
static gint64 seen_after(GSettings *settings, GDataInputStream *from, int value)
{
  gint64 start = g_get_monotonic_time();

  g_settings_set_int(settings, "count", value);
  for (;;) {
    g_autofree char *line = next_line(from);
    if (line == NULL) {
      g_printerr("kvbench-gsettings: the watcher ended\n");
      exit(1);
    }
    int seen;
    gint64 at;
    if (sscanf(line, "%d %" G_GINT64_FORMAT, &seen, &at) == 2 && seen == value)
      return at - start;
  }
}

static int run(const char *self, guint sets, guint gets, guint rounds)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GSettings) settings = g_settings_new("org.example.Bench");
  const char *backend = G_OBJECT_TYPE_NAME(g_settings_backend_get_default());

  (void)g_settings_get_int(settings, "count");
  gint64 start = g_get_monotonic_time();
  for (guint i = 0; i < sets; i++) {
    g_autofree char *key = g_strdup_printf("k%u", i % KEYS);
    g_settings_set_int(settings, key, (int)i + 1);
  }
  g_settings_sync();
  gint64 set_us = g_get_monotonic_time() - start;
  g_settings_set_int(settings, "count", (int)sets);
  g_settings_sync();
  g_autofree char *last = g_strdup_printf("k%u", (sets - 1) % KEYS);
  if (sets > 0 && g_settings_get_int(settings, last) != (int)sets) {
    g_printerr("kvbench-gsettings: %s: the last write did not read back\n", backend);
    return 1;
  }

  start = g_get_monotonic_time();
  gint64 sum = 0;
  for (guint i = 0; i < gets; i++)
    sum += g_settings_get_int(settings, "count");
  gint64 get_us = g_get_monotonic_time() - start;
  g_assert_cmpint(sum, ==, (gint64)gets * sets);

  const char *argv[] = {self, "watch", NULL};
  g_autoptr(GSubprocess) watcher = g_subprocess_newv(argv, G_SUBPROCESS_FLAGS_STDOUT_PIPE, &error);
  if (watcher == NULL) {
    g_printerr("kvbench-gsettings: %s\n", error->message);
    return 1;
  }
  g_autoptr(GDataInputStream) from = g_data_input_stream_new(g_subprocess_get_stdout_pipe(watcher));
  g_autofree char *ready = next_line(from);
  g_autofree gint64 *latency = g_new(gint64, MAX(rounds, 1));
  for (guint i = 0; i < rounds; i++)
    latency[i] = seen_after(settings, from, -(int)i - 1);
  g_settings_sync();
  g_subprocess_force_exit(watcher);
  qsort(latency, rounds, sizeof *latency, compare_int64);

  g_print("%s: %u sets of %d keys + sync %.0f ms (%.0f/s); %u gets %.0f ms (%.0f ns each); another "
          "process told after median %" G_GINT64_FORMAT " us, p99 %" G_GINT64_FORMAT
          " us (%u rounds)\n",
          backend, sets, KEYS, set_us / 1e3, sets / (set_us / 1e6), gets, get_us / 1e3,
          get_us * 1e3 / MAX(gets, 1), rounds > 0 ? latency[rounds / 2] : 0,
          rounds > 0 ? latency[rounds * 99 / 100] : 0, rounds);
  g_print("figures %s %" G_GINT64_FORMAT " %" G_GINT64_FORMAT " %" G_GINT64_FORMAT "\n", backend,
          set_us, get_us, rounds > 0 ? latency[rounds / 2] : 0);
  return 0;
}

int main(int argc, char **argv)
{
  if (argc == 2 && strcmp(argv[1], "watch") == 0)
    return watch();
  if (argc == 5 && strcmp(argv[1], "run") == 0)
    return run(argv[0], (guint)atoi(argv[2]), (guint)atoi(argv[3]), (guint)atoi(argv[4]));
  g_printerr("usage: kvbench-gsettings run SETS GETS ROUNDS | watch\n");
  return 2;
}
