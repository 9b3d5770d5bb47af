/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* kvctl's writing commands: set, set-many, cas, del, incr (load is in kvctl-load.c). */

#include "kv-sd-bus-cleanup.h"
#include "kv-variant-bridge.h"
#include "kvctl-input.h"
#include "kvctl-value.h"
#include "kvctl.h"

#include <inttypes.h>
#include <string.h>

/* --type and --gvariant, for the commands that take values. */
typedef struct {
  char *type_name;
  gboolean gvariant_text;
  char *file;
  char *ttl; /* set: a lease of its own, or one granted before */
  char *lease;
} ValueOptions;

static void value_options_clear(ValueOptions *options)
{
  g_free(options->type_name);
  g_free(options->file);
  g_free(options->ttl);
  g_free(options->lease);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(ValueOptions, value_options_clear)

/* @for_set: with set's own options too (--file, --ttl, --lease). */
static gboolean parse_value_options(Kvctl *kvctl, int *argc, char ***argv, ValueOptions *options,
                                    gboolean for_set, int *status)
{
  const GOptionEntry entries[] = {
      {"type", 't', 0, G_OPTION_ARG_STRING, &options->type_name, NULL, NULL},
      {"gvariant", 'g', 0, G_OPTION_ARG_NONE, &options->gvariant_text, NULL, NULL},
      {for_set ? "file" : NULL, 'f', 0, G_OPTION_ARG_FILENAME, &options->file, NULL, NULL},
      {for_set ? "ttl" : NULL, 0, 0, G_OPTION_ARG_STRING, &options->ttl, NULL, NULL},
      {for_set ? "lease" : NULL, 0, 0, G_OPTION_ARG_STRING, &options->lease, NULL, NULL},
      {NULL},
  };

  if (!kvctl_parse_options(kvctl, argc, argv, entries, status))
    return FALSE;
  if (options->type_name != NULL && options->gvariant_text) {
    *status = kvctl_usage_error(kvctl, "--type and --gvariant exclude each other");
    return FALSE;
  }
  if (options->ttl != NULL && options->lease != NULL) {
    *status = kvctl_usage_error(kvctl, "--ttl and --lease exclude each other");
    return FALSE;
  }
  return TRUE;
}

/* set --ttl and --lease: SetWithTtl or SetLeased, whose number goes between key and value;
 * set --ttl prints the key's lease. */
static int set_with_lease(Kvctl *kvctl, const ValueOptions *options, const char *key,
                          GVariant *value)
{
  g_autoptr(sd_bus_message) message = NULL;
  g_autoptr(sd_bus_message) reply = NULL;
  guint64 number, revision, lease;
  int status;

  if (options->ttl != NULL && (!kvctl_parse_duration_ms(options->ttl, &number) || number == 0))
    return kvctl_usage_error(kvctl, "--ttl takes a duration (30s, 500ms, 5m, 1h), not '%s'",
                             options->ttl);
  if (options->lease != NULL &&
      !g_ascii_string_to_unsigned(options->lease, 10, 1, G_MAXUINT64, &number, NULL))
    return kvctl_usage_error(kvctl, "--lease takes a lease ID, not '%s'", options->lease);
  status = kvctl_new_call(kvctl, options->ttl != NULL ? "SetWithTtl" : "SetLeased", &message);
  if (status != KVCTL_EXIT_OK)
    return status;
  int r = sd_bus_message_append(message, "st", key, (uint64_t)number);
  if (r >= 0)
    r = kv_variant_bridge_append_variant(message, value);
  if (r < 0)
    return kvctl_bus_failure("cannot build the call", r);
  if ((status = kvctl_call(kvctl, message, &reply)) != KVCTL_EXIT_OK)
    return status;
  if (options->lease != NULL)
    return KVCTL_EXIT_OK;
  if ((r = sd_bus_message_read(reply, "tt", &revision, &lease)) < 0)
    return kvctl_read_failure(r);
  printf("%" PRIu64 "\n", lease);
  return KVCTL_EXIT_OK;
}

static GVariant *parse_value(Kvctl *kvctl, const ValueOptions *options, const char *text,
                             int *status)
{
  g_autoptr(GError) error = NULL;
  GVariant *value = kvctl_parse_value(options->type_name, options->gvariant_text, text, &error);

  if (value == NULL)
    *status = kvctl_usage_error(kvctl, "%s", error->message);
  return value;
}

/* Appends @key's string and @value's variant to @message, and sends it. */
static int call_key_value(Kvctl *kvctl, sd_bus_message *message, const char *key, GVariant *value,
                          sd_bus_message **reply)
{
  int r = sd_bus_message_append_basic(message, 's', key);
  if (r >= 0)
    r = kv_variant_bridge_append_variant(message, value);
  if (r < 0)
    return kvctl_bus_failure("cannot build the call", r);
  return kvctl_call(kvctl, message, reply);
}

int kvctl_command_set(Kvctl *kvctl, int argc, char **argv)
{
  g_auto(ValueOptions) options = {NULL, FALSE, NULL};
  g_autoptr(sd_bus_message) message = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *input = NULL;
  int status;

  if (!parse_value_options(kvctl, &argc, &argv, &options, TRUE, &status))
    return status;
  int n = options.file != NULL ? 1 : 2;
  if (!kvctl_check_arguments(kvctl, argc, n, n, "KEY and VALUE (or KEY with --file)", &status))
    return status;
  const char *source = options.file != NULL ? options.file : argv[2];
  if (options.file != NULL || strcmp(source, "-") == 0) {
    if ((input = kvctl_read_input(source, &error)) == NULL)
      return kvctl_usage_error(kvctl, "%s", error->message);
  }
  g_autoptr(GVariant) value =
      parse_value(kvctl, &options, input != NULL ? input : argv[2], &status);
  if (value == NULL)
    return status;
  if (options.ttl != NULL || options.lease != NULL)
    return set_with_lease(kvctl, &options, argv[1], value);

  if ((status = kvctl_new_call(kvctl, "Set", &message)) != KVCTL_EXIT_OK)
    return status;
  return call_key_value(kvctl, message, argv[1], value, NULL);
}

int kvctl_command_set_many(Kvctl *kvctl, int argc, char **argv)
{
  g_auto(ValueOptions) options = {NULL, FALSE, NULL};
  g_autoptr(sd_bus_message) message = NULL;
  g_autoptr(sd_bus_message) reply = NULL;
  GVariantBuilder entries;
  int status;

  if (!parse_value_options(kvctl, &argc, &argv, &options, FALSE, &status) ||
      !kvctl_check_arguments(kvctl, argc, 1, -1, "at least one KEY=VALUE", &status))
    return status;

  g_variant_builder_init(&entries, G_VARIANT_TYPE("a{sv}"));
  for (int i = 1; i < argc; i++) {
    const char *equals = strchr(argv[i], '=');
    if (equals == NULL) {
      g_variant_builder_clear(&entries);
      return kvctl_usage_error(kvctl, "'%s' is not KEY=VALUE", argv[i]);
    }
    g_autofree char *key = g_strndup(argv[i], (gsize)(equals - argv[i]));
    g_autoptr(GVariant) value = parse_value(kvctl, &options, equals + 1, &status);
    if (value == NULL) {
      g_variant_builder_clear(&entries);
      return status;
    }
    g_variant_builder_add(&entries, "{sv}", key, value);
  }
  g_autoptr(GVariant) batch = g_variant_ref_sink(g_variant_builder_end(&entries));
  if ((status = kvctl_new_call(kvctl, "SetMany", &message)) != KVCTL_EXIT_OK)
    return status;
  int r = kv_variant_bridge_append_value(message, batch);
  if (r < 0)
    return kvctl_bus_failure("cannot build the call", r);
  if ((status = kvctl_call(kvctl, message, &reply)) != KVCTL_EXIT_OK)
    return status;
  return kvctl_print_revision_reply(reply);
}

int kvctl_command_cas(Kvctl *kvctl, int argc, char **argv)
{
  g_auto(ValueOptions) options = {NULL, FALSE, NULL};
  g_autoptr(sd_bus_message) message = NULL;
  g_autoptr(sd_bus_message) reply = NULL;
  guint64 expected;
  int status;

  if (!parse_value_options(kvctl, &argc, &argv, &options, FALSE, &status) ||
      !kvctl_check_arguments(kvctl, argc, 3, 3, "KEY, REVISION and VALUE", &status))
    return status;
  if (!g_ascii_string_to_unsigned(argv[2], 10, 0, G_MAXUINT64, &expected, NULL))
    return kvctl_usage_error(kvctl, "REVISION '%s' is not a revision number", argv[2]);
  g_autoptr(GVariant) value = parse_value(kvctl, &options, argv[3], &status);
  if (value == NULL)
    return status;

  if ((status = kvctl_new_call(kvctl, "CompareAndSet", &message)) != KVCTL_EXIT_OK)
    return status;
  /* CompareAndSet takes the revision between key and value. */
  int r = sd_bus_message_append(message, "st", argv[1], (uint64_t)expected);
  if (r >= 0)
    r = kv_variant_bridge_append_variant(message, value);
  if (r < 0)
    return kvctl_bus_failure("cannot build the call", r);
  if ((status = kvctl_call(kvctl, message, &reply)) != KVCTL_EXIT_OK)
    return status;
  return kvctl_print_revision_reply(reply);
}

int kvctl_command_del(Kvctl *kvctl, int argc, char **argv)
{
  g_autoptr(sd_bus_message) message = NULL;
  g_autoptr(sd_bus_message) reply = NULL;
  g_autofree char *prefix = NULL;
  uint32_t deleted;
  uint64_t revision;
  int status;
  const GOptionEntry entries[] = {
      {"prefix", 'p', 0, G_OPTION_ARG_STRING, &prefix, NULL, NULL},
      {NULL},
  };

  if (!kvctl_parse_options(kvctl, &argc, &argv, entries, &status) ||
      !kvctl_check_arguments(kvctl, argc, prefix != NULL ? 0 : 1, prefix != NULL ? 0 : -1,
                             "KEYs, or --prefix PREFIX alone", &status))
    return status;
  status = kvctl_new_call(kvctl, prefix != NULL ? "DeletePrefix" : "DeleteMany", &message);
  if (status != KVCTL_EXIT_OK)
    return status;
  int r = prefix != NULL ? sd_bus_message_append_basic(message, 's', prefix)
                         : sd_bus_message_append_strv(message, argv + 1);
  if (r < 0)
    return kvctl_bus_failure("cannot build the call", r);
  if ((status = kvctl_call(kvctl, message, &reply)) != KVCTL_EXIT_OK)
    return status;
  r = sd_bus_message_read(reply, "ut", &deleted, &revision);
  if (r < 0)
    return kvctl_read_failure(r);
  printf("%" PRIu32 "\n", deleted);
  return KVCTL_EXIT_OK;
}

int kvctl_command_incr(Kvctl *kvctl, int argc, char **argv)
{
  g_autoptr(sd_bus_message) message = NULL;
  g_autoptr(sd_bus_message) reply = NULL;
  gint64 delta = 1;
  int64_t value;
  int status;

  if (!kvctl_parse_arguments(kvctl, &argc, &argv, NULL, 1, 2, "KEY and at most a DELTA", &status))
    return status;
  if (argc == 3 && !g_ascii_string_to_signed(argv[2], 10, G_MININT64, G_MAXINT64, &delta, NULL))
    return kvctl_usage_error(kvctl, "DELTA '%s' is not an int64", argv[2]);

  if ((status = kvctl_new_call(kvctl, "Increment", &message)) != KVCTL_EXIT_OK)
    return status;
  int r = sd_bus_message_append(message, "sx", argv[1], (int64_t)delta);
  if (r < 0)
    return kvctl_bus_failure("cannot build the call", r);
  if ((status = kvctl_call(kvctl, message, &reply)) != KVCTL_EXIT_OK)
    return status;
  r = sd_bus_message_read_basic(reply, 'x', &value);
  if (r < 0)
    return kvctl_read_failure(r);
  printf("%" PRId64 "\n", value);
  return KVCTL_EXIT_OK;
}
