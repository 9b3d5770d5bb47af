/* kvctl's JSON dumps: a module of its own, loaded only by the commands that use JSON,
 * so that every other kvctl call starts without json-glib and GIO (kvctl-json-module.c). */

#include "kvctl-dump.h"

#include <json-glib/json-glib.h>

char *kvctl_dump_to_json(GVariant *entries)
{
  g_autoptr(JsonNode) node = json_gvariant_serialize(entries);

  return json_to_string(node, TRUE);
}

GVariant *kvctl_dump_from_json(const char *text, GError **error)
{
  g_autoptr(GError) local_error = NULL;
  g_autoptr(JsonNode) node = json_from_string(text, &local_error);

  if (node == NULL || !JSON_NODE_HOLDS_OBJECT(node)) {
    g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE, "Not a JSON object: %s",
                local_error != NULL ? local_error->message : "another kind of JSON value");
    return NULL;
  }
  GVariant *entries = json_gvariant_deserialize(node, "a{sv}", &local_error);
  if (entries == NULL) {
    g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                "JSON that does not map to values: %s", local_error->message);
    return NULL;
  }
  return g_variant_ref_sink(entries);
}
