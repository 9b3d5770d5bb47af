/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "kv-wire.h"

#include <string.h>

static gsize align(gsize offset, gsize alignment)
{
  return (offset + alignment - 1) & ~(alignment - 1);
}

/* D-Bus alignment of a value of @type (a complete type string). */
static gsize type_alignment(const char *type)
{
  switch (type[0]) {
  case 'n':
  case 'q':
    return 2;
  case 'b':
  case 'i':
  case 'u':
  case 'h':
  case 's':
  case 'o':
  case 'a':
    return 4;
  case 'x':
  case 't':
  case 'd':
  case '(':
  case '{':
    return 8;
  default:
    return 1; /* y, g, v */
  }
}

gsize kv_wire_fixed_size(char type)
{
  switch (type) {
  case 'y':
    return 1;
  case 'n':
  case 'q':
    return 2;
  case 'b': /* 1 byte in GVariant, 4 on the wire */
  case 'i':
  case 'u':
  case 'h':
    return 4;
  case 'x':
  case 't':
  case 'd':
    return 8;
  default:
    return 0;
  }
}

/* The wire size of one element of an array of @type when every element has the same size
 * and alignment, so a whole array costs n times that; 0 otherwise. */
static gsize fixed_wire_size(const char *type)
{
  return type[0] != '\0' && type[1] == '\0' ? kv_wire_fixed_size(type[0]) : 0;
}

static gsize children_end(GVariant *value, gsize offset)
{
  GVariantIter iter;
  GVariant *child;

  g_variant_iter_init(&iter, value);
  while ((child = g_variant_iter_next_value(&iter)) != NULL) {
    offset = kv_wire_end(child, offset);
    g_variant_unref(child);
  }
  return offset;
}

gsize kv_wire_variant_end(GVariant *value, gsize offset)
{
  /* The signature: a length byte, the type string and its nul. */
  offset += 1 + strlen(g_variant_get_type_string(value)) + 1;
  return kv_wire_end(value, offset);
}

gsize kv_wire_end(GVariant *value, gsize offset)
{
  const char *type = g_variant_get_type_string(value);
  gsize fixed = fixed_wire_size(type);

  if (fixed > 0)
    return align(offset, fixed) + fixed;
  switch (type[0]) {
  case 's':
  case 'o':
    return align(offset, 4) + 4 + g_variant_get_size(value);
  case 'g':
    return offset + 1 + g_variant_get_size(value);
  case 'v': {
    g_autoptr(GVariant) child = g_variant_get_variant(value);
    return kv_wire_variant_end(child, offset);
  }
  case 'a': {
    const char *element = type + 1;
    gsize element_size = fixed_wire_size(element);
    offset = align(align(offset, 4) + 4, type_alignment(element));
    if (element_size > 0)
      return offset + g_variant_n_children(value) * element_size;
    return children_end(value, offset);
  }
  case '(':
  case '{':
    return children_end(value, align(offset, 8));
  default:
    return offset; /* maybe types have no wire form; the bridge refuses them */
  }
}

/* The depth of a value of @type when it holds no variant. */
static guint type_depth(const GVariantType *type)
{
  if (g_variant_type_is_basic(type))
    return 0;
  if (g_variant_type_is_array(type) || g_variant_type_is_maybe(type))
    return 1 + type_depth(g_variant_type_element(type));

  guint deepest = 0;
  for (const GVariantType *item = g_variant_type_first(type); item != NULL;
       item = g_variant_type_next(item)) {
    /* Once a level: MAX() would walk the item twice, and every level below it again. */
    guint depth = type_depth(item);
    deepest = MAX(deepest, depth);
  }
  return 1 + deepest;
}

KvWireShape kv_wire_shape(GVariant *value)
{
  const char *type = g_variant_get_type_string(value);
  KvWireShape shape = {0, strchr(type, 'h') != NULL};

  if (strchr(type, 'v') == NULL) {
    shape.depth = type_depth(g_variant_get_type(value));
    return shape;
  }
  if (g_variant_is_container(value)) {
    GVariantIter iter;
    GVariant *child;

    g_variant_iter_init(&iter, value);
    while ((child = g_variant_iter_next_value(&iter)) != NULL) {
      KvWireShape inner = kv_wire_shape(child);
      shape.depth = MAX(shape.depth, inner.depth);
      shape.has_fd = shape.has_fd || inner.has_fd;
      g_variant_unref(child);
    }
    shape.depth++;
  }
  return shape;
}
