/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* kvctl's reading commands: get, exists, keys, dump, revision, access, ping, watch. */

#include "kv-config.h"
#include "kv-sd-bus-cleanup.h"
#include "kv-variant-bridge.h"
#include "kvctl-dump.h"
#include "kvctl-json-module.h"
#include "kvctl-page.h"
#include "kvctl-progress.h"
#include "kvctl-value.h"
#include "kvctl.h"

#include <errno.h>
#include <inttypes.h>

static int json_failure(const GError *error)
{
  fprintf(stderr, "kvctl: %s\n", error->message);
  return KVCTL_EXIT_FAILURE;
}

int kvctl_command_get(Kvctl *kvctl, int argc, char **argv)
{
  g_autoptr(sd_bus_message) reply = NULL;
  g_autoptr(GVariant) value = NULL;
  g_autoptr(GError) error = NULL;
  gboolean with_revision = FALSE, json = FALSE;
  uint64_t revision = 0;
  KvctlJson json_module;
  int status;
  const GOptionEntry entries[] = {
      {"revision", 'r', 0, G_OPTION_ARG_NONE, &with_revision, NULL, NULL},
      {"json", 'j', 0, G_OPTION_ARG_NONE, &json, NULL, NULL},
      {NULL},
  };

  if (!kvctl_parse_arguments(kvctl, &argc, &argv, entries, 1, 1, "one KEY", &status))
    return status;
  if (json && !kvctl_json_load(&json_module, &error))
    return json_failure(error);
  status = kvctl_call_with_key(kvctl, with_revision ? "GetWithRevision" : "Get", argv[1], &reply);
  if (status != KVCTL_EXIT_OK)
    return status;
  int r = kv_variant_bridge_read_variant(reply, &value);
  if (r >= 0 && with_revision)
    r = sd_bus_message_read_basic(reply, 't', &revision);
  if (r < 0)
    return kvctl_read_failure(r);

  g_autofree char *text = json ? json_module.from_value(value) : kvctl_format_value(value);
  if (with_revision)
    printf("%" PRIu64 "\t%s\n", revision, text);
  else
    puts(text);
  return KVCTL_EXIT_OK;
}

int kvctl_command_exists(Kvctl *kvctl, int argc, char **argv)
{
  g_autoptr(sd_bus_message) reply = NULL;
  int exists, status;

  if (!kvctl_parse_arguments(kvctl, &argc, &argv, NULL, 1, 1, "one KEY", &status))
    return status;
  status = kvctl_call_with_key(kvctl, "Exists", argv[1], &reply);
  if (status != KVCTL_EXIT_OK)
    return status;
  int r = sd_bus_message_read_basic(reply, 'b', &exists);
  if (r < 0)
    return kvctl_read_failure(r);
  puts(exists ? "true" : "false");
  return exists ? KVCTL_EXIT_OK : KVCTL_EXIT_MISSING;
}

/* keys and dump: every page of keys with an optional prefix, whatever their number. */
static int page_through(Kvctl *kvctl, const char *member, const char *prefix, KvctlPageFunc func,
                        gpointer user_data)
{
  g_auto(sd_bus_error) error = SD_BUS_ERROR_NULL;
  sd_bus *bus;
  int status = kvctl_bus(kvctl, &bus);
  if (status != KVCTL_EXIT_OK)
    return status;
  int r = kvctl_page_each(bus, member, prefix != NULL ? prefix : "", func, user_data, &error);
  return r < 0 ? kvctl_call_failure(kvctl, &error, r, FALSE) : KVCTL_EXIT_OK;
}

typedef struct {
  char end;            /* after each key */
  GPtrArray *gathered; /* for JSON, instead of printing */
} KeysOutput;

static void print_keys(GVariant *page, gpointer user_data)
{
  KeysOutput *output = user_data;
  GVariantIter iter;
  const char *key;

  g_variant_iter_init(&iter, page);
  while (g_variant_iter_next(&iter, "&s", &key)) {
    if (output->gathered != NULL) {
      g_ptr_array_add(output->gathered, g_strdup(key));
      continue;
    }
    fputs(key, stdout);
    putchar(output->end);
  }
}

int kvctl_command_keys(Kvctl *kvctl, int argc, char **argv)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) gathered = NULL;
  gboolean null = FALSE, json = FALSE;
  KvctlJson json_module;
  int status;
  const GOptionEntry entries[] = {
      {"null", '0', 0, G_OPTION_ARG_NONE, &null, NULL, NULL},
      {"json", 'j', 0, G_OPTION_ARG_NONE, &json, NULL, NULL},
      {NULL},
  };

  if (!kvctl_parse_arguments(kvctl, &argc, &argv, entries, 0, 1, "at most one PREFIX", &status))
    return status;
  if (null && json)
    return kvctl_usage_error(kvctl, "-0 and --json exclude each other");
  if (json && !kvctl_json_load(&json_module, &error))
    return json_failure(error);
  if (json)
    gathered = g_ptr_array_new_with_free_func(g_free);

  KeysOutput output = {null ? '\0' : '\n', gathered};
  status = page_through(kvctl, "KeysPage", argv[1], print_keys, &output);
  if (status != KVCTL_EXIT_OK || !json)
    return status;
  g_ptr_array_add(gathered, NULL);
  g_autofree char *text = json_module.from_keys((const char *const *)gathered->pdata);
  puts(text);
  return KVCTL_EXIT_OK;
}

typedef struct {
  GVariantBuilder *gathered; /* for JSON, instead of printing */
  gsize n_written;
  KvctlProgress progress;
} DumpOutput;

static void dump_page(GVariant *page, gpointer user_data)
{
  DumpOutput *output = user_data;

  if (output->gathered != NULL) {
    GVariantIter iter;
    GVariant *entry;
    g_variant_iter_init(&iter, page);
    while ((entry = g_variant_iter_next_value(&iter)) != NULL) {
      g_variant_builder_add_value(output->gathered, entry);
      g_variant_unref(entry);
      output->n_written++;
    }
  } else {
    g_autoptr(GString) text = g_string_new(NULL);
    kvctl_dump_append_text(text, page, &output->n_written);
    fputs(text->str, stdout);
  }
  kvctl_progress_update(&output->progress, output->n_written);
}

int kvctl_command_dump(Kvctl *kvctl, int argc, char **argv)
{
  g_autoptr(GError) error = NULL;
  gboolean json = FALSE;
  KvctlJson json_module;
  GVariantBuilder all;
  int status;
  const GOptionEntry entries[] = {
      {"json", 'j', 0, G_OPTION_ARG_NONE, &json, NULL, NULL},
      {NULL},
  };

  if (!kvctl_parse_arguments(kvctl, &argc, &argv, entries, 0, 1, "at most one PREFIX", &status))
    return status;
  if (json && !kvctl_json_load(&json_module, &error))
    return json_failure(error);

  /* Text goes out a page at a time; JSON is one object. */
  g_variant_builder_init(&all, G_VARIANT_TYPE("a{sv}"));
  DumpOutput output = {json ? &all : NULL, 0, {0}};
  kvctl_progress_init(&output.progress, "dumped");
  status = page_through(kvctl, "GetAllPage", argv[1], dump_page, &output);
  kvctl_progress_finish(&output.progress, output.n_written);
  if (status != KVCTL_EXIT_OK) {
    g_variant_builder_clear(&all);
    return status;
  }
  g_autoptr(GVariant) gathered = g_variant_ref_sink(g_variant_builder_end(&all));
  if (json) {
    g_autofree char *text = json_module.from_entries(gathered);
    puts(text);
    return KVCTL_EXIT_OK;
  }
  g_autoptr(GString) end = g_string_new(NULL);
  kvctl_dump_finish_text(end, output.n_written);
  fputs(end->str, stdout);
  return KVCTL_EXIT_OK;
}

int kvctl_command_revision(Kvctl *kvctl, int argc, char **argv)
{
  g_auto(sd_bus_error) error = SD_BUS_ERROR_NULL;
  uint64_t revision;
  sd_bus *bus;
  int status;

  if (!kvctl_parse_arguments(kvctl, &argc, &argv, NULL, 0, 0, "no arguments", &status))
    return status;
  if ((status = kvctl_bus(kvctl, &bus)) != KVCTL_EXIT_OK)
    return status;
  int r = sd_bus_get_property_trivial(bus, KV_BUS_NAME, KV_OBJECT_PATH, KV_INTERFACE, "Revision",
                                      &error, 't', &revision);
  if (r < 0)
    return kvctl_call_failure(kvctl, &error, r, FALSE);
  printf("%" PRIu64 "\n", revision);
  return KVCTL_EXIT_OK;
}

int kvctl_command_access(Kvctl *kvctl, int argc, char **argv)
{
  g_autoptr(sd_bus_message) reply = NULL;
  const char *rule;
  int can_read, can_write, status;

  if (!kvctl_parse_arguments(kvctl, &argc, &argv, NULL, 1, 1, "one KEY", &status))
    return status;
  status = kvctl_call_with_key(kvctl, "CheckAccess", argv[1], &reply);
  if (status != KVCTL_EXIT_OK)
    return status;
  int r = sd_bus_message_read(reply, "sbb", &rule, &can_read, &can_write);
  if (r < 0)
    return kvctl_read_failure(r);
  /* polkit cannot lift an administrator's lock. */
  const char *no = strstr(rule, "locked by the administrator") != NULL
                       ? "no (locked by the administrator)"
                       : "no (polkit may authorize it)";
  printf("rule: %s\nread: %s\nwrite: %s\n", rule, can_read ? "yes" : "no", can_write ? "yes" : no);
  return KVCTL_EXIT_OK;
}

int kvctl_command_origin(Kvctl *kvctl, int argc, char **argv)
{
  g_autoptr(sd_bus_message) reply = NULL;
  const char *origin, *file;
  int status;

  if (!kvctl_parse_arguments(kvctl, &argc, &argv, NULL, 1, 1, "one KEY", &status))
    return status;
  status = kvctl_call_with_key(kvctl, "GetOrigin", argv[1], &reply);
  if (status != KVCTL_EXIT_OK)
    return status;
  int r = sd_bus_message_read(reply, "ss", &origin, &file);
  if (r < 0)
    return kvctl_read_failure(r);
  if (file[0] != '\0')
    printf("%s %s\n", origin, file);
  else
    printf("%s\n", origin);
  return KVCTL_EXIT_OK;
}

int kvctl_command_ping(Kvctl *kvctl, int argc, char **argv)
{
  g_autoptr(sd_bus_message) message = NULL;
  sd_bus *bus;
  int status;

  if (!kvctl_parse_arguments(kvctl, &argc, &argv, NULL, 0, 0, "no arguments", &status))
    return status;
  if ((status = kvctl_bus(kvctl, &bus)) != KVCTL_EXIT_OK)
    return status;
  int r = sd_bus_message_new_method_call(bus, &message, KV_BUS_NAME, KV_OBJECT_PATH,
                                         "org.freedesktop.DBus.Peer", "Ping");
  if (r < 0)
    return kvctl_bus_failure("cannot build the call", r);
  status = kvctl_call(kvctl, message, NULL);
  if (status == KVCTL_EXIT_OK)
    puts("pong");
  return status;
}
