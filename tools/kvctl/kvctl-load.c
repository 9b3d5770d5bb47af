/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* kvctl load: a dump back into the store, atomically, or in batches when asked. */

#include "kv-sd-bus-cleanup.h"
#include "kv-service.h"
#include "kv-variant-bridge.h"
#include "kvctl-dump.h"
#include "kvctl-input.h"
#include "kvctl-json-module.h"
#include "kvctl-progress.h"
#include "kvctl.h"

#include <inttypes.h>

/* Entries @first up to @end of @entries, as one SetMany; its revision in @revision. */
static int set_batch(Kvctl *kvctl, GVariant *entries, gsize first, gsize end, uint64_t *revision)
{
  g_autoptr(sd_bus_message) message = NULL;
  g_autoptr(sd_bus_message) reply = NULL;
  GVariantBuilder batch;
  int status = kvctl_new_call(kvctl, "SetMany", &message);
  if (status != KVCTL_EXIT_OK)
    return status;

  g_variant_builder_init(&batch, G_VARIANT_TYPE("a{sv}"));
  for (gsize i = first; i < end; i++) {
    g_autoptr(GVariant) entry = g_variant_get_child_value(entries, i);
    g_variant_builder_add_value(&batch, entry);
  }
  g_autoptr(GVariant) part = g_variant_ref_sink(g_variant_builder_end(&batch));
  int r = kv_variant_bridge_append_value(message, part);
  if (r < 0)
    return kvctl_bus_failure("cannot build the call", r);
  if ((status = kvctl_call(kvctl, message, &reply)) != KVCTL_EXIT_OK)
    return status;
  r = sd_bus_message_read_basic(reply, 't', revision);
  return r < 0 ? kvctl_read_failure(r) : KVCTL_EXIT_OK;
}

/* The dump in @path; NULL with @status set and the error printed when it cannot be read:
 * a usage error, unless JSON support is missing. */
static GVariant *read_dump(const char *path, gboolean json, int *status)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *text = kvctl_read_input(path, &error);
  KvctlJson json_module;
  GVariant *entries = NULL;

  *status = KVCTL_EXIT_USAGE;
  if (text != NULL && !json)
    entries = kvctl_dump_from_text(text, &error);
  else if (text != NULL && !kvctl_json_load(&json_module, &error))
    *status = KVCTL_EXIT_FAILURE;
  else if (text != NULL)
    entries = json_module.to_entries(text, &error);
  if (entries == NULL)
    fprintf(stderr, "kvctl: load: %s\n", error->message);
  return entries;
}

int kvctl_command_load(Kvctl *kvctl, int argc, char **argv)
{
  gboolean json = FALSE;
  gint batch_size = 0;
  uint64_t revision = 0;
  int status;
  const GOptionEntry entries_options[] = {
      {"json", 'j', 0, G_OPTION_ARG_NONE, &json, NULL, NULL},
      {"batch-size", 'b', 0, G_OPTION_ARG_INT, &batch_size, NULL, NULL},
      {NULL},
  };

  if (!kvctl_parse_arguments(kvctl, &argc, &argv, entries_options, 1, 1,
                             "one FILE (or - for standard input)", &status))
    return status;
  if (batch_size < 0 || batch_size > KV_BATCH_MAX_KEYS)
    return kvctl_usage_error(kvctl, "--batch-size takes 1 to %d keys", KV_BATCH_MAX_KEYS);

  g_autoptr(GVariant) entries = read_dump(argv[1], json, &status);
  if (entries == NULL)
    return status;
  gsize n = g_variant_n_children(entries);
  if (batch_size == 0 && n > KV_BATCH_MAX_KEYS) {
    fprintf(stderr,
            "kvctl: load: %zu keys are more than one atomic change takes (%d); nothing was "
            "stored. Load them in batches with --batch-size %d: each batch is then atomic on "
            "its own\n",
            n, KV_BATCH_MAX_KEYS, KV_BATCH_MAX_KEYS);
    return KVCTL_EXIT_FAILURE;
  }

  gsize size = batch_size == 0 ? MAX(n, 1) : (gsize)batch_size;
  KvctlProgress progress;
  kvctl_progress_init(&progress, "loaded");
  gsize first = 0;
  do {
    gsize end = MIN(n, first + size);
    status = set_batch(kvctl, entries, first, end, &revision);
    if (status != KVCTL_EXIT_OK) {
      kvctl_progress_finish(&progress, first);
      if (first > 0)
        fprintf(stderr,
                "kvctl: load: stopped at the batch of keys %zu to %zu; the %zu keys before it "
                "are stored\n",
                first + 1, end, first);
      return status;
    }
    first = end;
    kvctl_progress_update(&progress, first);
  } while (first < n);
  kvctl_progress_finish(&progress, n);
  printf("%" PRIu64 "\n", revision);
  return KVCTL_EXIT_OK;
}
