/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* kvctl's JSON: a module of its own, loaded only by the commands that use JSON, so that
 * every other kvctl call starts without json-glib and GIO (kvctl-json-module.c). */

#include "kvctl-json.h"

#include <json-glib/json-glib.h>
#include <math.h>
#include <string.h>

/* The integers every JSON reader keeps exact, doubles being what many read numbers into. */
#define EXACT_INTEGER_MAX (G_GINT64_CONSTANT(1) << 53)

static JsonNode *node_from_value(GVariant *value)
{
  JsonNode *node = json_node_alloc();

  switch (g_variant_classify(value)) {
  case G_VARIANT_CLASS_STRING:
    return json_node_init_string(node, g_variant_get_string(value, NULL));
  case G_VARIANT_CLASS_BOOLEAN:
    return json_node_init_boolean(node, g_variant_get_boolean(value));
  case G_VARIANT_CLASS_INT64:
    if (ABS(g_variant_get_int64(value)) <= EXACT_INTEGER_MAX)
      return json_node_init_int(node, g_variant_get_int64(value));
    break;
  case G_VARIANT_CLASS_DOUBLE:
    /* json-glib writes a double with a fraction or an exponent: it reads back a double. */
    if (isfinite(g_variant_get_double(value)))
      return json_node_init_double(node, g_variant_get_double(value));
    break;
  default:
    break;
  }
  g_autoptr(JsonObject) tagged = json_object_new();
  g_autofree char *text = g_variant_print(value, FALSE);
  json_object_set_string_member(tagged, "type", g_variant_get_type_string(value));
  json_object_set_string_member(tagged, "value", text);
  return json_node_init_object(node, tagged);
}

char *kvctl_json_from_entries(GVariant *entries)
{
  g_autoptr(JsonObject) object = json_object_new();
  g_autoptr(JsonNode) node = json_node_alloc();
  GVariantIter iter;
  const char *key;
  GVariant *value;

  g_variant_iter_init(&iter, entries);
  while (g_variant_iter_next(&iter, "{&sv}", &key, &value)) {
    json_object_set_member(object, key, node_from_value(value));
    g_variant_unref(value);
  }
  return json_to_string(json_node_init_object(node, object), TRUE);
}

char *kvctl_json_from_value(GVariant *value)
{
  g_autoptr(JsonNode) node = node_from_value(value);

  return json_to_string(node, FALSE);
}

char *kvctl_json_from_keys(const char *const *keys)
{
  g_autoptr(JsonArray) array = json_array_new();
  g_autoptr(JsonNode) node = json_node_alloc();

  for (gsize i = 0; keys[i] != NULL; i++)
    json_array_add_string_element(array, keys[i]);
  return json_to_string(json_node_init_array(node, array), TRUE);
}

static void bad_value(GError **error, const char *key, const char *format, ...) G_GNUC_PRINTF(3, 4);

static void bad_value(GError **error, const char *key, const char *format, ...)
{
  va_list args;

  va_start(args, format);
  g_autofree char *why = g_strdup_vprintf(format, args);
  va_end(args);
  g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE, "Key '%s': %s", key, why);
}

/* An integer literal's end, from its first character. */
static const char *skip_number(const char *p)
{
  while (*p != '\0' && (g_ascii_isdigit(*p) || strchr("+-.eE", *p) != NULL))
    p++;
  return p;
}

/* json-glib reads an integer past int64 wrapped around, without a word: such literals are
 * found here first, with the key (a member of the outermost object) they belong to. */
static gboolean check_integers(const char *text, GError **error)
{
  g_autofree char *last_string = NULL;
  g_autofree char *key = NULL;
  int depth = 0;

  for (const char *p = text; *p != '\0';) {
    if (*p == '"') {
      const char *start = ++p;
      while (*p != '\0' && *p != '"')
        p += (*p == '\\' && p[1] != '\0') ? 2 : 1;
      if (depth == 1) {
        g_free(last_string);
        last_string = g_strndup(start, (gsize)(p - start));
      }
      p += *p != '\0';
      continue;
    }
    if (*p == '-' || g_ascii_isdigit(*p)) {
      const char *end = skip_number(p);
      g_autofree char *literal = g_strndup(p, (gsize)(end - p));
      if (strpbrk(literal, ".eE") == NULL &&
          !g_ascii_string_to_signed(literal, 10, G_MININT64, G_MAXINT64, NULL, NULL)) {
        bad_value(error, key != NULL ? key : "?",
                  "the integer %s does not fit int64; write it tagged, for example "
                  "{\"type\": \"t\", \"value\": \"%s\"}",
                  literal, literal);
        return FALSE;
      }
      p = end;
      continue;
    }
    if (*p == ':' && depth == 1) {
      g_free(key);
      key = g_strdup(last_string);
    } else if (*p == '{' || *p == '[')
      depth++;
    else if (*p == '}' || *p == ']')
      depth--;
    p++;
  }
  return TRUE;
}

static GVariant *tagged_value(const char *key, JsonObject *object, GError **error)
{
  JsonNode *type_node = json_object_get_member(object, "type");
  JsonNode *text_node = json_object_get_member(object, "value");

  if (json_object_get_size(object) != 2 || type_node == NULL || text_node == NULL ||
      json_node_get_value_type(type_node) != G_TYPE_STRING ||
      json_node_get_value_type(text_node) != G_TYPE_STRING) {
    bad_value(error, key,
              "an object is the tagged form {\"type\": TYPE, \"value\": TEXT}, both strings, "
              "and nothing else");
    return NULL;
  }
  const char *type = json_node_get_string(type_node);
  const char *text = json_node_get_string(text_node);
  if (!g_variant_type_string_is_valid(type) || !g_variant_type_is_definite(G_VARIANT_TYPE(type)) ||
      strchr(type, 'm') != NULL) {
    bad_value(error, key, "'%s' is not a GVariant type string D-Bus carries", type);
    return NULL;
  }
  g_autoptr(GError) parse_error = NULL;
  GVariant *value = g_variant_parse(G_VARIANT_TYPE(type), text, NULL, NULL, &parse_error);
  if (value == NULL) {
    g_autofree char *detail = g_variant_parse_error_print_context(parse_error, text);
    bad_value(error, key, "not GVariant text of type '%s': %s", type, detail);
  }
  return value;
}

static GVariant *value_from_node(const char *key, JsonNode *node, GError **error)
{
  switch (JSON_NODE_TYPE(node)) {
  case JSON_NODE_NULL:
    bad_value(error, key,
              "null is no value: every value has a type (an empty list, for example, is "
              "{\"type\": \"as\", \"value\": \"@as []\"})");
    return NULL;
  case JSON_NODE_ARRAY:
    bad_value(error, key,
              "a JSON array has no one GVariant type; write it tagged, for example "
              "{\"type\": \"ai\", \"value\": \"[1, 2]\"}");
    return NULL;
  case JSON_NODE_OBJECT:
    return tagged_value(key, json_node_get_object(node), error);
  case JSON_NODE_VALUE:
    break;
  }
  /* A full reference, as g_variant_parse() gives for the tagged form. */
  switch (json_node_get_value_type(node)) {
  case G_TYPE_STRING:
    return g_variant_ref_sink(g_variant_new_string(json_node_get_string(node)));
  case G_TYPE_BOOLEAN:
    return g_variant_ref_sink(g_variant_new_boolean(json_node_get_boolean(node)));
  case G_TYPE_INT64:
    return g_variant_ref_sink(g_variant_new_int64(json_node_get_int(node)));
  case G_TYPE_DOUBLE:
    return g_variant_ref_sink(g_variant_new_double(json_node_get_double(node)));
  default:
    bad_value(error, key, "a JSON value kvctl cannot read");
    return NULL;
  }
}

GVariant *kvctl_json_to_entries(const char *text, GError **error)
{
  g_autoptr(GError) local_error = NULL;

  if (!check_integers(text, error))
    return NULL;
  g_autoptr(JsonNode) root = json_from_string(text, &local_error);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT(root)) {
    g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE, "Not a JSON object: %s",
                local_error != NULL ? local_error->message : "another kind of JSON value");
    return NULL;
  }

  JsonObject *object = json_node_get_object(root);
  g_autoptr(GList) members = json_object_get_members(object);
  GVariantBuilder entries;
  g_variant_builder_init(&entries, G_VARIANT_TYPE("a{sv}"));
  for (GList *l = members; l != NULL; l = l->next) {
    const char *key = l->data;
    g_autoptr(GVariant) value = value_from_node(key, json_object_get_member(object, key), error);
    if (value == NULL) {
      g_variant_builder_clear(&entries);
      return NULL;
    }
    g_variant_builder_add(&entries, "{sv}", key, value);
  }
  return g_variant_ref_sink(g_variant_builder_end(&entries));
}
