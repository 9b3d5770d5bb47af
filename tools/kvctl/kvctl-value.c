/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "kvctl-value.h"

#include <string.h>

static const struct {
  const char *name;
  const char *type;
} type_names[] = {
    {"string", "s"}, {"bool", "b"},       {"boolean", "b"},   {"byte", "y"},  {"int16", "n"},
    {"uint16", "q"}, {"int32", "i"},      {"uint32", "u"},    {"int64", "x"}, {"uint64", "t"},
    {"double", "d"}, {"objectpath", "o"}, {"signature", "g"},
};

static const char *resolve_type(const char *type_name, GError **error)
{
  for (gsize i = 0; i < G_N_ELEMENTS(type_names); i++)
    if (strcmp(type_names[i].name, type_name) == 0)
      return type_names[i].type;
  if (g_variant_type_string_is_valid(type_name) &&
      g_variant_type_is_definite(G_VARIANT_TYPE(type_name)))
    return type_name;

  g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
              "Unknown type '%s': use string, bool, byte, int16, uint16, int32, uint32, int64, "
              "uint64, double, objectpath, signature or a GVariant type string such as 'ai'",
              type_name);
  return NULL;
}

static GVariant *parse_text(const GVariantType *type, const char *text, GError **error)
{
  g_autoptr(GError) parse_error = NULL;
  g_autoptr(GVariant) value = g_variant_parse(type, text, NULL, NULL, &parse_error);

  if (value == NULL) {
    g_autofree char *detail = g_variant_parse_error_print_context(parse_error, text);
    g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE, "Cannot read the value: %s",
                detail);
    return NULL;
  }
  /* D-Bus has no maybe type: such a value could not be sent. */
  if (strchr(g_variant_get_type_string(value), 'm') != NULL) {
    g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                "Type '%s' holds a maybe ('m'), which D-Bus cannot carry",
                g_variant_get_type_string(value));
    return NULL;
  }
  return g_steal_pointer(&value);
}

GVariant *kvctl_parse_value(const char *type_name, gboolean gvariant_text, const char *text,
                            GError **error)
{
  /* A D-Bus string must be UTF-8, and so must GVariant text, whose parser does not check
   * what it puts in the strings it reads. */
  if (!g_utf8_validate(text, -1, NULL)) {
    g_set_error_literal(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                        "The value is not valid UTF-8: store bytes as --type ay, for example "
                        "[byte 0xff, 0xfe]");
    return NULL;
  }
  if (gvariant_text)
    return parse_text(NULL, text, error);
  if (type_name == NULL)
    return g_variant_ref_sink(g_variant_new_string(text));

  const char *type = resolve_type(type_name, error);
  if (type == NULL)
    return NULL;
  if (strcmp(type, "s") == 0)
    return g_variant_ref_sink(g_variant_new_string(text));
  /* The plain forms, /org/example and ai, besides GVariant text ('/org/example'). */
  if (strcmp(type, "o") == 0 && g_variant_is_object_path(text))
    return g_variant_ref_sink(g_variant_new_object_path(text));
  if (strcmp(type, "g") == 0 && g_variant_is_signature(text))
    return g_variant_ref_sink(g_variant_new_signature(text));
  return parse_text(G_VARIANT_TYPE(type), text, error);
}

char *kvctl_format_value(GVariant *value)
{
  if (g_variant_is_of_type(value, G_VARIANT_TYPE_STRING))
    return g_variant_dup_string(value, NULL);
  return g_variant_print(value, FALSE);
}
