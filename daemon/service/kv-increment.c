/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "kv-increment.h"

#include "kv-error.h"
#include "kv-type-name.h"

#include <errno.h>
#include <stdlib.h>

typedef struct {
  char type;
  gint64 min;
  gint64 max;
} IntegerRange;

/* uint64 stops at G_MAXINT64 because Increment returns the result as int64. */
static const IntegerRange integer_ranges[] = {
    {'y', 0, G_MAXUINT8},          {'n', G_MININT16, G_MAXINT16}, {'q', 0, G_MAXUINT16},
    {'i', G_MININT32, G_MAXINT32}, {'u', 0, G_MAXUINT32},         {'x', G_MININT64, G_MAXINT64},
    {'t', 0, G_MAXINT64},
};

gboolean kv_parse_canonical_int64(const char *text, gint64 *out_value)
{
  const char *digits = text[0] == '-' ? text + 1 : text;

  if (digits[0] == '\0')
    return FALSE;
  if (digits[0] == '0' && (digits[1] != '\0' || digits != text))
    return FALSE; /* leading zero, or "-0" */
  for (const char *p = digits; *p != '\0'; p++)
    if (!g_ascii_isdigit(*p))
      return FALSE;

  errno = 0;
  char *end = NULL;
  gint64 value = g_ascii_strtoll(text, &end, 10);
  if (errno == ERANGE || *end != '\0')
    return FALSE;

  *out_value = value;
  return TRUE;
}

static const IntegerRange *find_integer_range(char type)
{
  for (gsize i = 0; i < G_N_ELEMENTS(integer_ranges); i++)
    if (integer_ranges[i].type == type)
      return &integer_ranges[i];
  return NULL;
}

static gint64 integer_as_int64(GVariant *value)
{
  switch (g_variant_get_type_string(value)[0]) {
  case 'y':
    return g_variant_get_byte(value);
  case 'n':
    return g_variant_get_int16(value);
  case 'q':
    return g_variant_get_uint16(value);
  case 'i':
    return g_variant_get_int32(value);
  case 'u':
    return g_variant_get_uint32(value);
  default:
    return g_variant_get_int64(value);
  }
}

static GVariant *integer_new(char type, gint64 result)
{
  switch (type) {
  case 'y':
    return g_variant_new_byte((guint8)result);
  case 'n':
    return g_variant_new_int16((gint16)result);
  case 'q':
    return g_variant_new_uint16((guint16)result);
  case 'i':
    return g_variant_new_int32((gint32)result);
  case 'u':
    return g_variant_new_uint32((guint32)result);
  case 't':
    return g_variant_new_uint64((guint64)result);
  default:
    return g_variant_new_int64(result);
  }
}

static GVariant *increment_integer(GVariant *current, const IntegerRange *range, gint64 delta,
                                   gint64 *out_result, GError **error)
{
  gint64 result;
  gboolean overflow;

  /* __builtin_add_overflow adds in infinite precision, so a uint64 above G_MAXINT64
   * plus a negative delta is judged correctly. */
  if (range->type == 't')
    overflow = __builtin_add_overflow(g_variant_get_uint64(current), delta, &result);
  else
    overflow = __builtin_add_overflow(integer_as_int64(current), delta, &result);

  if (overflow || result < range->min || result > range->max) {
    g_autofree char *type_name = kv_type_name(current);
    g_autofree char *text = g_variant_print(current, FALSE);
    g_set_error(error, KV_ERROR, KV_ERROR_OVERFLOW, "%s + %" G_GINT64_FORMAT " does not fit %s%s",
                text, delta, type_name, range->type == 't' ? " within int64" : "");
    return NULL;
  }

  *out_result = result;
  return g_variant_ref_sink(integer_new(range->type, result));
}

static GVariant *increment_string(GVariant *current, gint64 delta, gint64 *out_result,
                                  GError **error)
{
  const char *text = g_variant_get_string(current, NULL);
  gint64 number, result;

  if (!kv_parse_canonical_int64(text, &number)) {
    g_set_error_literal(error, KV_ERROR, KV_ERROR_INVALID_VALUE_TYPE,
                        "the string does not hold a canonical base-10 int64");
    return NULL;
  }
  if (__builtin_add_overflow(number, delta, &result)) {
    g_set_error(error, KV_ERROR, KV_ERROR_OVERFLOW, "%s + %" G_GINT64_FORMAT " does not fit int64",
                text, delta);
    return NULL;
  }

  *out_result = result;
  g_autofree char *formatted = g_strdup_printf("%" G_GINT64_FORMAT, result);
  return g_variant_ref_sink(g_variant_new_string(formatted));
}

GVariant *kv_increment(GVariant *current, gint64 delta, gint64 *out_result, GError **error)
{
  if (current == NULL) {
    *out_result = delta;
    return g_variant_ref_sink(g_variant_new_int64(delta));
  }

  char type = g_variant_get_type_string(current)[0];
  const IntegerRange *range = find_integer_range(type);
  if (range != NULL)
    return increment_integer(current, range, delta, out_result, error);
  if (type == 's')
    return increment_string(current, delta, out_result, error);

  g_autofree char *type_name = kv_type_name(current);
  g_set_error(error, KV_ERROR, KV_ERROR_INVALID_VALUE_TYPE,
              "it holds a %s; only integers and strings holding a base-10 int64 can be "
              "incremented",
              type_name);
  return NULL;
}
