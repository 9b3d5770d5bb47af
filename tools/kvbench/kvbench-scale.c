/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* kvstored's state directory at scale, without a bus: builds one with KEYS keys
 * ("key:%012u", 16-byte string values, in batches of BATCH keys, 1000 by default as
 * kvbench's preload writes them; 1: a record a key, as single Sets make), the first part folded
 * into a snapshot and the rest (SHARE of them) left in the journal; then opens it as kvstored does
 * at start, ROUNDS times, and prints the time, the split between snapshot and journal, and the
 * bytes on disk per key. kvbench-scale DIR KEYS SHARE [ROUNDS [BATCH]] With --settings, the keys
 * are settings-like paths (org/gnome/desktop/... and the like) and the values small typed ones, to
 * tell what the snapshot costs for such data. */
#include "kv-memory-repository.h"
#include "kv-persistent-repository.h"

#include <glib/gstdio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

/* kvstored's default history: the last changes, kept and read back at start. */
#define HISTORY_CHANGES 10000
#define HISTORY_BYTES   (4 * 1024 * 1024)

static gboolean settings_like;
static guint batch = 1000;

static char *key_of(guint i)
{
  static const char *const paths[] = {
      "org/gnome/desktop/interface/", "org/gnome/desktop/wm/preferences/",
      "org/gnome/shell/extensions/",  "org/gnome/settings-daemon/plugins/power/",
      "org/freedesktop/tracker/",     "com/example/editor/recent/",
  };

  if (!settings_like)
    return g_strdup_printf("key:%012u", i);
  return g_strdup_printf("gsettings/%s%s-%u", paths[i % G_N_ELEMENTS(paths)],
                         i % 3 == 0   ? "font-name"
                         : i % 3 == 1 ? "enable-animations"
                                      : "size",
                         i / (guint)G_N_ELEMENTS(paths));
}

static GVariant *value_of(guint i)
{
  if (!settings_like)
    return g_variant_new_printf("v%015u", i);
  switch (i % 3) {
  case 0:
    return g_variant_new_string("Cantarell 11");
  case 1:
    return g_variant_new_boolean(i % 2);
  default:
    return g_variant_new_int32((gint32)(i % 1000));
  }
}

static void check(gboolean ok, GError *error)
{
  if (!ok) {
    fprintf(stderr, "kvbench-scale: %s\n", error != NULL ? error->message : "failed");
    exit(1);
  }
}

/* Exits unless @repository, opened on @dir, holds @expected keys. */
static void check_count(KvRepository *repository, guint expected, const char *dir)
{
  guint count = kv_repository_count(repository);

  if (count != expected) {
    fprintf(stderr, "kvbench-scale: %s holds %u keys, not %u\n", dir, count, expected);
    exit(1);
  }
}

static void write_keys(KvRepository *repository, guint from, guint to)
{
  g_autoptr(GError) error = NULL;

  for (guint start = from; start < to; start += batch) {
    guint n = MIN(batch, to - start);
    g_autofree KvChange *changes = g_new0(KvChange, n);
    for (guint i = 0; i < n; i++) {
      changes[i].key = key_of(start + i);
      changes[i].value = g_variant_ref_sink(value_of(start + i));
    }
    gboolean ok = kv_repository_apply(repository, changes, n, &error) &&
                  kv_repository_commit(repository, &error);
    for (guint i = 0; i < n; i++) {
      g_free((char *)changes[i].key);
      g_variant_unref(changes[i].value);
    }
    check(ok, error);
  }
}

static gint64 file_size(const char *dir, const char *name)
{
  g_autofree char *path = g_build_filename(dir, name, NULL);
  GStatBuf st;

  return g_stat(path, &st) == 0 ? (gint64)st.st_size : 0;
}

static int compare_double(const void *a, const void *b)
{
  double x = *(const double *)a, y = *(const double *)b;

  return (x > y) - (x < y);
}

static long max_rss_kib(void)
{
  struct rusage usage;

  return getrusage(RUSAGE_SELF, &usage) == 0 ? usage.ru_maxrss : 0;
}

/* A background compaction of the store in @dir, as kvstored starts one after a commit
 * once the journal outgrew the snapshot: how long that commit keeps the event loop (the
 * fork: a reader waits as long), and how long the child takes, with its CPU. */
static void measure_compaction(const char *dir, guint keys)
{
  g_autoptr(GError) error = NULL;
  KvRecoveryInfo info;
  struct rusage before, after;
  /* A compaction as soon as the journal is larger than the snapshot. */
  KvRepository *repository =
      kv_persistent_repository_open(dir, KV_SYNC_NONE, 1, NULL, NULL, NULL, &info, &error);

  check(repository != NULL, error);
  getrusage(RUSAGE_CHILDREN, &before);
  KvChange change = {"compaction/trigger", g_variant_ref_sink(g_variant_new_int32(1))};
  gint64 start = g_get_monotonic_time();
  gboolean ok = kv_repository_apply(repository, &change, 1, &error) &&
                kv_repository_commit(repository, &error);
  gint64 stall = g_get_monotonic_time() - start;
  g_variant_unref(change.value);
  check(ok, error);
  kv_persistent_repository_wait_compaction(repository);
  gint64 total = g_get_monotonic_time() - start;
  getrusage(RUSAGE_CHILDREN, &after);
  double child_cpu = (after.ru_utime.tv_sec - before.ru_utime.tv_sec + after.ru_stime.tv_sec -
                      before.ru_stime.tv_sec) +
                     (after.ru_utime.tv_usec - before.ru_utime.tv_usec + after.ru_stime.tv_usec -
                      before.ru_stime.tv_usec) /
                         1e6;
  kv_repository_free(repository);
  printf("compaction of %u keys: the commit that forked it took %.1f ms (the event loop's "
         "stall); the snapshot was written in %.0f ms, %.0f ms of CPU in the child; now "
         "%.1f MB\n",
         keys, stall / 1e3, total / 1e3, child_cpu * 1e3, file_size(dir, "snapshot") / 1e6);
}

int main(int argc, char **argv)
{
  g_autoptr(GError) error = NULL;

  if (argc > 1 && strcmp(argv[1], "--settings") == 0) {
    settings_like = TRUE;
    argv++;
    argc--;
  }
  if (argc < 4) {
    fprintf(stderr, "usage: kvbench-scale [--settings] DIR KEYS JOURNAL_SHARE [ROUNDS [BATCH]]\n");
    return 2;
  }
  const char *dir = argv[1];
  guint keys = (guint)strtoul(argv[2], NULL, 10);
  double share = g_ascii_strtod(argv[3], NULL);
  guint rounds = argc > 4 ? (guint)strtoul(argv[4], NULL, 10) : 3;
  if (argc > 5)
    batch = MAX((guint)strtoul(argv[5], NULL, 10), 1);
  guint in_snapshot = (guint)(keys * (1 - share));
  KvRecoveryInfo info;

  gint64 start = g_get_monotonic_time();
  KvRepository *repository =
      kv_persistent_repository_open(dir, KV_SYNC_NONE, G_MAXSIZE, NULL, NULL, NULL, &info, &error);
  check(repository != NULL, error);
  check_count(repository, 0, dir);
  write_keys(repository, 0, in_snapshot);
  check(kv_persistent_repository_compact(repository, &error), error);
  write_keys(repository, in_snapshot, keys);
  kv_repository_free(repository);
  printf("built %u keys (%u in the snapshot, %u in the journal) in %.1f s\n", keys, in_snapshot,
         keys - in_snapshot, (g_get_monotonic_time() - start) / 1e6);

  gint64 snapshot = file_size(dir, "snapshot"), journal = file_size(dir, "journal");
  printf("on disk: snapshot %.1f MB, journal %.1f MB: %.1f bytes per key (snapshot %.1f per key "
         "in it, journal %.1f)\n",
         snapshot / 1e6, journal / 1e6, (double)(snapshot + journal) / MAX(keys, 1),
         (double)snapshot / MAX(in_snapshot, 1), (double)journal / MAX(keys - in_snapshot, 1));

  g_autofree double *ms = g_new(double, MAX(rounds, 1));
  for (guint r = 0; r < rounds; r++) {
    g_autoptr(KvHistory) history = kv_history_new(HISTORY_CHANGES, HISTORY_BYTES);
    start = g_get_monotonic_time();
    repository = kv_persistent_repository_open(dir, KV_SYNC_NONE, G_MAXSIZE, history, NULL, NULL,
                                               &info, &error);
    ms[r] = (g_get_monotonic_time() - start) / 1e3;
    check(repository != NULL, error);
    check_count(repository, keys, dir);
    kv_repository_free(repository);
  }
  qsort(ms, rounds, sizeof *ms, compare_double);
  printf("load: median %.0f ms of %u (%.0f ms per million keys; %" G_GUINT64_FORMAT
         " from the snapshot, then %" G_GUINT64_FORMAT " journal records); peak RSS %.0f MB\n",
         ms[rounds / 2], rounds, ms[rounds / 2] * 1e6 / MAX(keys, 1), info.snapshot_keys,
         info.journal_records, max_rss_kib() / 1024.0);
  printf("figures %u %.3f %.1f %" G_GINT64_FORMAT " %" G_GINT64_FORMAT "\n", keys, share,
         ms[rounds / 2], snapshot, journal);
  if (share > 0)
    measure_compaction(dir, keys);
  return 0;
}
