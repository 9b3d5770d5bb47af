/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "kvctl-dump.h"

void kvctl_dump_append_text(GString *out, GVariant *entries, gsize *n_written)
{
  GVariantIter iter;
  const char *key;
  GVariant *value;

  g_variant_iter_init(&iter, entries);
  while (g_variant_iter_next(&iter, "{&sv}", &key, &value)) {
    g_autoptr(GVariant) boxed = g_variant_ref_sink(g_variant_new_variant(value));
    g_autoptr(GVariant) quoted = g_variant_ref_sink(g_variant_new_string(key));
    g_autofree char *key_text = g_variant_print(quoted, FALSE);
    g_autofree char *value_text = g_variant_print(boxed, TRUE);

    g_string_append(out, (*n_written)++ == 0 ? "{\n" : ",\n");
    g_string_append_printf(out, "  %s: %s", key_text, value_text);
    g_variant_unref(value);
  }
}

void kvctl_dump_finish_text(GString *out, gsize n_written)
{
  g_string_append(out, n_written == 0 ? "@a{sv} {}\n" : "\n}\n");
}

char *kvctl_dump_to_text(GVariant *entries)
{
  g_autoptr(GString) out = g_string_new(NULL);
  gsize n_written = 0;

  kvctl_dump_append_text(out, entries, &n_written);
  kvctl_dump_finish_text(out, n_written);
  return g_string_free(g_steal_pointer(&out), FALSE);
}

GVariant *kvctl_dump_from_text(const char *text, GError **error)
{
  g_autoptr(GError) parse_error = NULL;
  GVariant *entries = g_variant_parse(G_VARIANT_TYPE("a{sv}"), text, NULL, NULL, &parse_error);

  if (entries == NULL) {
    g_autofree char *detail = g_variant_parse_error_print_context(parse_error, text);
    g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                "Not a dump in GVariant text (a{sv}): %s", detail);
  }
  return entries;
}
