/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "kv-size-option.h"

#include <string.h>

gboolean kv_parse_size(const char *text, guint64 *out_size, GError **error)
{
  static const char suffixes[] = "KMG";
  g_autofree char *digits = g_strdup(text);
  gsize length = strlen(digits);
  guint shift = 0;
  guint64 number;

  if (length > 0) {
    const char *suffix = strchr(suffixes, g_ascii_toupper(digits[length - 1]));
    if (suffix != NULL && *suffix != '\0') {
      shift = 10 * (guint)(suffix - suffixes + 1);
      digits[length - 1] = '\0';
    }
  }

  if (!g_ascii_string_to_unsigned(digits, 10, 1, G_MAXUINT64 >> shift, &number, NULL)) {
    g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                "'%s' is not a size: give a positive number of bytes, optionally with K, M or G",
                text);
    return FALSE;
  }
  *out_size = number << shift;
  return TRUE;
}
