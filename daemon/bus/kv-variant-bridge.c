/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "kv-variant-bridge.h"

#include "kv-wire.h"

#include <errno.h>
#include <string.h>

/* What a read may still take, in bytes on the wire, padding left out, so that a value
 * over the limit is refused before it is converted; G_MAXSIZE for no limit. */
typedef struct {
  gsize left;
} Budget;

static int charge(Budget *budget, gsize bytes)
{
  if (bytes > budget->left)
    return -EMSGSIZE;
  budget->left -= bytes;
  return 0;
}

static gsize basic_wire_size(char type, const char *string)
{
  switch (type) {
  case 's':
  case 'o':
    return 4 + strlen(string) + 1;
  case 'g':
    return 1 + strlen(string) + 1;
  default:
    return kv_wire_fixed_size(type);
  }
}

static int read_value(sd_bus_message *m, Budget *budget, GVariant **ret);
static int read_variant(sd_bus_message *m, Budget *budget, GVariant **ret);

static int read_basic(sd_bus_message *m, char type, Budget *budget, GVariant **ret)
{
  union {
    uint8_t y;
    int b;
    int16_t n;
    uint16_t q;
    int32_t i;
    uint32_t u;
    int64_t x;
    uint64_t t;
    double d;
    const char *s;
    int h;
  } v;
  int r = sd_bus_message_read_basic(m, type, &v);
  if (r < 0)
    return r;
  r = charge(budget, basic_wire_size(type, type == 's' || type == 'o' || type == 'g' ? v.s : NULL));
  if (r < 0)
    return r;

  switch (type) {
  case 'y':
    *ret = g_variant_new_byte(v.y);
    break;
  case 'b':
    *ret = g_variant_new_boolean(v.b);
    break;
  case 'n':
    *ret = g_variant_new_int16(v.n);
    break;
  case 'q':
    *ret = g_variant_new_uint16(v.q);
    break;
  case 'i':
    *ret = g_variant_new_int32(v.i);
    break;
  case 'u':
    *ret = g_variant_new_uint32(v.u);
    break;
  case 'x':
    *ret = g_variant_new_int64(v.x);
    break;
  case 't':
    *ret = g_variant_new_uint64(v.t);
    break;
  case 'd':
    *ret = g_variant_new_double(v.d);
    break;
  case 's':
    *ret = g_variant_new_string(v.s);
    break;
  case 'o':
    *ret = g_variant_new_object_path(v.s);
    break;
  case 'g':
    *ret = g_variant_new_signature(v.s);
    break;
  case 'h':
    *ret = g_variant_new_handle(-1);
    break;
  default:
    return -EINVAL;
  }
  g_variant_ref_sink(*ret);
  return 0;
}

/* The size of one element of an array of @type when GVariant and the wire lay it out
 * alike, so the array copies as is; 0 otherwise. */
static gsize fixed_element_size(const char *type)
{
  /* A boolean is 4 bytes on the wire but 1 in GVariant, and a handle means nothing here. */
  if (type[0] == '\0' || type[1] != '\0' || type[0] == 'b' || type[0] == 'h')
    return 0;
  return kv_wire_fixed_size(type[0]);
}

static int read_fixed_array(sd_bus_message *m, const char *element_type, Budget *budget,
                            GVariant **ret)
{
  const void *data;
  size_t size;
  int r = sd_bus_message_read_array(m, element_type[0], &data, &size);
  if (r < 0)
    return r;
  r = charge(budget, 4 + size);
  if (r < 0)
    return r;

  if (element_type[0] == 'b') {
    const int32_t *wire = data;
    gsize n = size / sizeof *wire;
    g_autofree guint8 *bytes = g_malloc(MAX(n, 1));
    for (gsize i = 0; i < n; i++)
      bytes[i] = wire[i] != 0;
    *ret = g_variant_ref_sink(g_variant_new_fixed_array(G_VARIANT_TYPE_BOOLEAN, bytes, n, 1));
    return 0;
  }
  gsize element_size = fixed_element_size(element_type);
  *ret = g_variant_ref_sink(g_variant_new_fixed_array(
      G_VARIANT_TYPE(element_type), size > 0 ? data : "", size / element_size, element_size));
  return 0;
}

/* Reads the children of an array, struct or dict entry whose GVariant type is
 * @container_type. */
static int read_container(sd_bus_message *m, char bus_type, const char *contents,
                          const char *container_type, Budget *budget, GVariant **ret)
{
  GVariantBuilder builder;
  /* An array's length word; a struct or dict entry adds only padding, which nested ones
   * share, so nothing is charged for it. */
  int r = charge(budget, bus_type == 'a' ? 4 : 0);
  if (r < 0)
    return r;
  r = sd_bus_message_enter_container(m, bus_type, contents);
  if (r < 0)
    return r;

  g_variant_builder_init(&builder, G_VARIANT_TYPE(container_type));
  while ((r = sd_bus_message_at_end(m, 0)) == 0) {
    g_autoptr(GVariant) child = NULL;
    r = read_value(m, budget, &child);
    if (r < 0)
      break;
    g_variant_builder_add_value(&builder, child);
  }
  if (r < 0 || (r = sd_bus_message_exit_container(m)) < 0) {
    g_variant_builder_clear(&builder);
    return r;
  }

  *ret = g_variant_ref_sink(g_variant_builder_end(&builder));
  return 0;
}

static int read_variant(sd_bus_message *m, Budget *budget, GVariant **ret)
{
  const char *contents;
  int r = sd_bus_message_peek_type(m, NULL, &contents);
  /* sd-bus takes a content signature of 255 characters, which the bus carries, for a
   * broken message; the bus checked the message, so that is what EBADMSG means here. */
  if (r == -EBADMSG)
    return -ENOTSUP;
  if (r < 0)
    return r;
  if (r == 0)
    return -ENXIO;
  r = charge(budget, 1 + strlen(contents) + 1);
  if (r < 0)
    return r;

  r = sd_bus_message_enter_container(m, 'v', contents);
  if (r < 0)
    return r;

  g_autoptr(GVariant) value = NULL;
  r = read_value(m, budget, &value);
  if (r < 0)
    return r;
  r = sd_bus_message_exit_container(m);
  if (r < 0)
    return r;

  *ret = g_steal_pointer(&value);
  return 0;
}

static int read_value(sd_bus_message *m, Budget *budget, GVariant **ret)
{
  char type;
  const char *contents;
  int r = sd_bus_message_peek_type(m, &type, &contents);
  if (r < 0)
    return r;
  if (r == 0)
    return -ENXIO;

  switch (type) {
  case 'a': {
    /* Read whole: booleans too, converted, rather than one GVariant per element. */
    if (fixed_element_size(contents) > 0 || strcmp(contents, "b") == 0)
      return read_fixed_array(m, contents, budget, ret);
    g_autofree char *array_type = g_strconcat("a", contents, NULL);
    return read_container(m, 'a', contents, array_type, budget, ret);
  }
  case 'r': {
    g_autofree char *struct_type = g_strconcat("(", contents, ")", NULL);
    return read_container(m, 'r', contents, struct_type, budget, ret);
  }
  case 'e': {
    g_autofree char *entry_type = g_strconcat("{", contents, "}", NULL);
    return read_container(m, 'e', contents, entry_type, budget, ret);
  }
  case 'v': {
    g_autoptr(GVariant) child = NULL;
    r = read_variant(m, budget, &child);
    if (r < 0)
      return r;
    *ret = g_variant_ref_sink(g_variant_new_variant(child));
    return 0;
  }
  default:
    return read_basic(m, type, budget, ret);
  }
}

int kv_variant_bridge_read_value(sd_bus_message *m, GVariant **ret)
{
  Budget unlimited = {G_MAXSIZE};

  return read_value(m, &unlimited, ret);
}

int kv_variant_bridge_read_variant(sd_bus_message *m, GVariant **ret)
{
  Budget unlimited = {G_MAXSIZE};

  return read_variant(m, &unlimited, ret);
}

int kv_variant_bridge_read_variant_bounded(sd_bus_message *m, gsize max_bytes, GVariant **ret)
{
  Budget budget = {max_bytes};

  return read_variant(m, &budget, ret);
}

int kv_variant_bridge_read_strv_borrowed(sd_bus_message *m, gsize max_n, const char ***ret)
{
  g_autoptr(GPtrArray) strings = g_ptr_array_new();
  const char *string;
  int r = sd_bus_message_enter_container(m, 'a', "s");
  if (r < 0)
    return r;

  /* One string at a time: sd_bus_message_read_strv() of libsystemd 252 takes time
   * quadratic in the number of strings. */
  while (strings->len <= max_n && (r = sd_bus_message_read_basic(m, 's', &string)) > 0)
    g_ptr_array_add(strings, (gpointer)string);
  if (r < 0)
    return r;
  if (strings->len <= max_n && (r = sd_bus_message_exit_container(m)) < 0)
    return r;

  g_ptr_array_add(strings, NULL);
  *ret = (const char **)g_ptr_array_free(g_steal_pointer(&strings), FALSE);
  return 0;
}

int kv_variant_bridge_read_strv(sd_bus_message *m, gsize max_n, GStrv *ret)
{
  g_autofree const char **borrowed = NULL;
  int r = kv_variant_bridge_read_strv_borrowed(m, max_n, &borrowed);

  if (r < 0)
    return r;
  *ret = g_strdupv((char **)borrowed);
  return 0;
}

static int append_basic(sd_bus_message *m, GVariant *value)
{
  char type = g_variant_get_type_string(value)[0];

  switch (type) {
  case 'y': {
    uint8_t v = g_variant_get_byte(value);
    return sd_bus_message_append_basic(m, type, &v);
  }
  case 'b': {
    int v = g_variant_get_boolean(value);
    return sd_bus_message_append_basic(m, type, &v);
  }
  case 'n': {
    int16_t v = g_variant_get_int16(value);
    return sd_bus_message_append_basic(m, type, &v);
  }
  case 'q': {
    uint16_t v = g_variant_get_uint16(value);
    return sd_bus_message_append_basic(m, type, &v);
  }
  case 'i': {
    int32_t v = g_variant_get_int32(value);
    return sd_bus_message_append_basic(m, type, &v);
  }
  case 'u': {
    uint32_t v = g_variant_get_uint32(value);
    return sd_bus_message_append_basic(m, type, &v);
  }
  case 'x': {
    int64_t v = g_variant_get_int64(value);
    return sd_bus_message_append_basic(m, type, &v);
  }
  case 't': {
    uint64_t v = g_variant_get_uint64(value);
    return sd_bus_message_append_basic(m, type, &v);
  }
  case 'd': {
    double v = g_variant_get_double(value);
    return sd_bus_message_append_basic(m, type, &v);
  }
  case 's':
  case 'o':
  case 'g':
    return sd_bus_message_append_basic(m, type, g_variant_get_string(value, NULL));
  default:
    return -EINVAL; /* maybe and handle have no meaning on the wire here */
  }
}

static int append_children(sd_bus_message *m, char bus_type, const char *contents, GVariant *value)
{
  GVariantIter iter;
  GVariant *child;
  int r = sd_bus_message_open_container(m, bus_type, contents);
  if (r < 0)
    return r;

  g_variant_iter_init(&iter, value);
  while ((child = g_variant_iter_next_value(&iter)) != NULL) {
    r = kv_variant_bridge_append_value(m, child);
    g_variant_unref(child);
    if (r < 0)
      return r;
  }
  return sd_bus_message_close_container(m);
}

int kv_variant_bridge_append_value(sd_bus_message *m, GVariant *value)
{
  const char *type = g_variant_get_type_string(value);

  switch (type[0]) {
  case 'a': {
    gsize element_size = fixed_element_size(type + 1);
    if (element_size > 0) {
      gsize n_elements;
      const void *data = g_variant_get_fixed_array(value, &n_elements, element_size);
      return sd_bus_message_append_array(m, type[1], data, n_elements * element_size);
    }
    return append_children(m, 'a', type + 1, value);
  }
  case '(':
  case '{': {
    if (type[1] == ')')
      return -EINVAL; /* D-Bus has no empty struct */
    g_autofree char *contents = g_strndup(type + 1, strlen(type) - 2);
    return append_children(m, type[0] == '(' ? 'r' : 'e', contents, value);
  }
  case 'v': {
    g_autoptr(GVariant) child = g_variant_get_variant(value);
    return kv_variant_bridge_append_variant(m, child);
  }
  default:
    return append_basic(m, value);
  }
}

int kv_variant_bridge_append_variant(sd_bus_message *m, GVariant *value)
{
  int r = sd_bus_message_open_container(m, 'v', g_variant_get_type_string(value));
  if (r < 0)
    return r;
  r = kv_variant_bridge_append_value(m, value);
  if (r < 0)
    return r;
  return sd_bus_message_close_container(m);
}

static void change_clear(gpointer data)
{
  g_clear_pointer(&((KvChange *)data)->value, g_variant_unref);
}

int kv_variant_bridge_read_changes(sd_bus_message *m, gsize max_n, gsize max_value_bytes,
                                   GArray **ret)
{
  g_autoptr(GArray) changes = g_array_new(FALSE, FALSE, sizeof(KvChange));
  gsize n = 0;
  int r = sd_bus_message_enter_container(m, 'a', "{sv}");
  if (r < 0)
    return r;

  g_array_set_clear_func(changes, change_clear);
  while (n++ <= max_n && (r = sd_bus_message_enter_container(m, 'e', "sv")) > 0) {
    KvChange change = {NULL, NULL};
    Budget budget = {max_value_bytes};
    if ((r = sd_bus_message_read_basic(m, 's', &change.key)) < 0 ||
        (r = read_variant(m, &budget, &change.value)) < 0)
      break;
    g_array_append_val(changes, change);
    if ((r = sd_bus_message_exit_container(m)) < 0)
      break;
  }
  if (r < 0)
    return r;
  *ret = g_steal_pointer(&changes);
  return 0;
}
