/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libFuzzer: a state directory from bytes (a snapshot and a journal), loaded, checked and
 * repaired. Whatever the bytes, nothing crashes, --check calls healthy exactly what
 * kvstored loads, and a directory that --repair mended loads. */

#include "kv-persistent-repository.h"
#include "kv-repair.h"

#include <glib/gstdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const guint8 *data, size_t size);

static char *state_dir;

static void clear_dir(void)
{
  g_autoptr(GDir) dir = g_dir_open(state_dir, 0, NULL);
  const char *name;

  while (dir != NULL && (name = g_dir_read_name(dir)) != NULL) {
    g_autofree char *path = g_build_filename(state_dir, name, NULL);
    g_unlink(path);
  }
}

static void write_file(const char *name, const guint8 *data, gsize size)
{
  g_autofree char *path = g_build_filename(state_dir, name, NULL);

  if (!g_file_set_contents(path, (const char *)data, (gssize)size, NULL))
    abort();
}

/* The input: a 4-byte little-endian snapshot length, the snapshot, then the journal. */
int LLVMFuzzerTestOneInput(const guint8 *data, size_t size)
{
  KvRecoveryInfo info;

  if (state_dir == NULL)
    state_dir = g_dir_make_tmp("kvstore-fuzz-XXXXXX", NULL);
  if (size < 4)
    return 0;
  gsize snapshot_size = MIN(size - 4, (gsize)(data[0] | data[1] << 8 | data[2] << 16));
  clear_dir();
  if (data[3] & 1)
    write_file("snapshot", data + 4, snapshot_size);
  write_file("journal", data + 4 + snapshot_size, size - 4 - snapshot_size);

  g_autoptr(GString) report = g_string_new(NULL);
  gboolean healthy;
  g_autoptr(GError) error = NULL;
  if (kv_repair_check(state_dir, report, &healthy, NULL)) {
    g_autoptr(KvRepository) loaded = kv_persistent_repository_open(
        state_dir, KV_SYNC_NONE, G_MAXSIZE, NULL, NULL, NULL, &info, &error);
    /* --check says healthy exactly when kvstored would start. */
    if ((loaded != NULL) != healthy) {
      g_printerr("--check said %s, yet the start %s: %s\n%s", healthy ? "healthy" : "damaged",
                 loaded != NULL ? "loaded it" : "failed",
                 error != NULL ? error->message : "no error", report->str);
      abort();
    }
    g_clear_error(&error);
  }
  if (kv_repair(state_dir, report, NULL)) {
    g_autoptr(KvRepository) mended = kv_persistent_repository_open(
        state_dir, KV_SYNC_NONE, G_MAXSIZE, NULL, NULL, NULL, &info, &error);
    if (mended == NULL) {
      g_printerr("repaired, yet not loaded: %s\n%s", error->message, report->str);
      abort();
    }
  }
  return 0;
}
