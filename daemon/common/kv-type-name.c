/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "kv-type-name.h"

static const char *basic_type_name(char type)
{
  switch (type) {
  case 'b':
    return "boolean";
  case 'y':
    return "byte";
  case 'n':
    return "int16";
  case 'q':
    return "uint16";
  case 'i':
    return "int32";
  case 'u':
    return "uint32";
  case 'x':
    return "int64";
  case 't':
    return "uint64";
  case 'h':
    return "file descriptor";
  case 'd':
    return "double";
  case 's':
    return "string";
  case 'o':
    return "object path";
  case 'g':
    return "signature";
  case 'v':
    return "variant";
  case 'a':
    return "array";
  case '(':
    return "struct";
  case '{':
    return "dict entry";
  case 'm':
    return "maybe";
  default:
    return "value";
  }
}

char *kv_type_name(GVariant *value)
{
  const char *type = g_variant_get_type_string(value);

  return g_strdup_printf("%s '%s'", basic_type_name(type[0]), type);
}
