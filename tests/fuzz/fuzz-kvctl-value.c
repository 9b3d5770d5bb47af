/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libFuzzer: kvctl's value parser with every type name and GVariant text; whatever it
 * accepts prints back without a crash. */

#include "kvctl-value.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const guint8 *data, size_t size);

static const char *const type_names[] = {
    NULL,    "string", "bool",   "byte",       "int16",     "uint16", "int32", "uint32",
    "int64", "uint64", "double", "objectpath", "signature", "ai",     "a{sv}", "(sv)",
};

int LLVMFuzzerTestOneInput(const guint8 *data, size_t size)
{
  if (size < 1)
    return 0;
  g_autofree char *text = g_strndup((const char *)data + 1, size - 1);
  guint choice = data[0] % (G_N_ELEMENTS(type_names) + 1);
  gboolean gvariant_text = choice == G_N_ELEMENTS(type_names);
  const char *type_name = gvariant_text ? NULL : type_names[choice];

  g_autoptr(GVariant) value = kvctl_parse_value(type_name, gvariant_text, text, NULL);
  if (value != NULL)
    g_free(kvctl_format_value(value));
  return 0;
}
