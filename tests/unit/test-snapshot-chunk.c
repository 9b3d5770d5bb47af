/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The reader of format-1 snapshot chunks against GLib's own reading of the same "a(stv)"
 * bytes: every kind of value, chunks large enough for wide framing offsets, and
 * damaged bytes, which must be refused or read as values in normal form, never out of
 * bounds (the ASan build runs this too). */

#include "kv-snapshot-chunk.h"
#include "kv-test-values.h"

#include <string.h>

/* A chunk of @n entries: key "key-I", revision I + 1, value kv_test_values[I % N], and
 * every @long_every-th value a long string, so that some entries need wide offsets. */
static GBytes *make_chunk(guint n, guint long_every)
{
  GVariantBuilder builder;

  g_variant_builder_init(&builder, G_VARIANT_TYPE("a(stv)"));
  for (guint i = 0; i < n; i++) {
    g_autofree char *key = g_strdup_printf("key-%u", i);
    g_autofree char *text = NULL;
    GVariant *value;
    if (long_every > 0 && i % long_every == 0) {
      text = g_strnfill(300 + i, 'x');
      value = g_variant_new_string(text);
    } else {
      value =
          g_variant_parse(NULL, kv_test_values[i % G_N_ELEMENTS(kv_test_values)], NULL, NULL, NULL);
      g_assert_nonnull(value);
    }
    g_variant_builder_add(&builder, "(stv)", key, (guint64)i + 1, value);
    if (text == NULL)
      g_variant_unref(value);
  }
  g_autoptr(GVariant) chunk = g_variant_ref_sink(g_variant_builder_end(&builder));
  return g_variant_get_data_as_bytes(chunk);
}

/* Reads @bytes with the reader and checks each entry against GLib's reading. */
static void check_against_glib(GBytes *bytes)
{
  g_autoptr(GVariant) chunk =
      g_variant_ref_sink(g_variant_new_from_bytes(G_VARIANT_TYPE("a(stv)"), bytes, FALSE));
  gsize size;
  const guint8 *data = g_bytes_get_data(bytes, &size);
  KvChunkReader reader;
  KvChunkEntry entry;
  gsize i = 0;

  g_assert_true(kv_chunk_reader_init(&reader, data, size));
  while (kv_chunk_reader_next(&reader, &entry) == KV_CHUNK_ENTRY) {
    const char *key;
    guint64 revision;
    g_autoptr(GVariant) value = NULL;
    g_variant_get_child(chunk, i, "(&stv)", &key, &revision, &value);
    g_assert_cmpstr(entry.key, ==, key);
    g_assert_cmpuint(entry.revision, ==, revision);
    g_assert_cmpstr(entry.type, ==, g_variant_get_type_string(value));
    g_assert_cmpmem(entry.value, entry.value_size, g_variant_get_data(value),
                    g_variant_get_size(value));
    i++;
  }
  g_assert_cmpuint(i, ==, g_variant_n_children(chunk));
}

static void test_every_value(void)
{
  g_autoptr(GBytes) small = make_chunk(G_N_ELEMENTS(kv_test_values), 0);
  /* Over 64 KiB: 4-byte offsets in the array, 2-byte ones in the long entries. */
  g_autoptr(GBytes) large = make_chunk(1000, 7);

  g_assert_cmpuint(g_bytes_get_size(large), >, G_MAXUINT16);
  check_against_glib(small);
  check_against_glib(large);
}

static void test_empty(void)
{
  KvChunkReader reader;
  KvChunkEntry entry;

  g_assert_true(kv_chunk_reader_init(&reader, (const guint8 *)"", 0));
  g_assert_cmpint(kv_chunk_reader_next(&reader, &entry), ==, KV_CHUNK_END);
}

/* Reads @data to the end; whatever it hands on must be a value in normal form. */
static KvChunkStatus read_all(const guint8 *data, gsize size)
{
  KvChunkReader reader;
  KvChunkEntry entry;
  KvChunkStatus status;

  if (!kv_chunk_reader_init(&reader, data, size))
    return KV_CHUNK_DAMAGED;
  while ((status = kv_chunk_reader_next(&reader, &entry)) == KV_CHUNK_ENTRY) {
    g_assert_true(g_utf8_validate(entry.key, -1, NULL));
    g_autoptr(GBytes) bytes = g_bytes_new(entry.value, entry.value_size);
    g_autoptr(GVariant) value =
        g_variant_ref_sink(g_variant_new_from_bytes(G_VARIANT_TYPE(entry.type), bytes, FALSE));
    g_assert_true(g_variant_is_normal_form(value));
  }
  return status;
}

/* Every prefix, and every byte of a chunk set to each of a few values: refused, or read
 * as normal-form values, in bounds. Each damaged copy is its own allocation, so that ASan
 * sees a read past its end. */
static void test_damage(void)
{
  g_autoptr(GBytes) bytes = make_chunk(12, 5);
  gsize size;
  const guint8 *data = g_bytes_get_data(bytes, &size);
  const guint8 patterns[] = {0x00, 0x01, 0x07, 0x80, 0xff};
  guint damaged = 0;

  for (gsize cut = 0; cut < size; cut++) {
    g_autofree guint8 *copy = g_memdup2(data, cut);
    damaged += read_all(copy, cut) == KV_CHUNK_DAMAGED;
  }
  for (gsize at = 0; at < size; at++)
    for (gsize p = 0; p < G_N_ELEMENTS(patterns); p++) {
      g_autofree guint8 *copy = g_memdup2(data, size);
      copy[at] = patterns[p];
      damaged += read_all(copy, size) == KV_CHUNK_DAMAGED;
    }
  /* Most damage is seen; some (a value's byte changed to another valid one) cannot be. */
  g_assert_cmpuint(damaged, >, size);
}

/* A chunk of one entry made by hand: key "k\0", padding to 8, revision 1, then @value,
 * a NUL, @type, and the key's end offset (2); then the entry's end offset. */
static GByteArray *make_entry(const char *type, const char *value, gsize value_size)
{
  GByteArray *chunk = g_byte_array_new();
  guint64 revision = 1;

  g_byte_array_append(chunk, (const guint8 *)"k\0\0\0\0\0\0\0", 8);
  g_byte_array_append(chunk, (const guint8 *)&revision, 8);
  g_byte_array_append(chunk, (const guint8 *)value, (guint)value_size);
  g_byte_array_append(chunk, (const guint8 *)"", 1);
  g_byte_array_append(chunk, (const guint8 *)type, (guint)strlen(type));
  g_byte_array_append(chunk, (const guint8 *)"\2", 1);
  guint8 end = (guint8)chunk->len;
  g_byte_array_append(chunk, &end, 1);
  return chunk;
}

/* Values GLib would not call normal, framed correctly, each refused. */
static void test_not_normal(void)
{
  g_autoptr(GByteArray) good = make_entry("s", "ab", 3);
  const struct {
    const char *type;
    const char *value;
    gsize value_size;
  } cases[] = {
      {"s", "ab", 2},          /* no NUL */
      {"s", "a\0b\0", 4},      /* a NUL inside */
      {"s", "\xff\xfe\0", 3},  /* not UTF-8 */
      {"b", "\2", 1},          /* neither true nor false */
      {"i", "\1\2\3", 3},      /* short */
      {"o", "a/b\0", 4},       /* not an object path */
      {"ai", "\1\2\3\4\5", 5}, /* not a whole number of int32 */
      {"(", "", 0},            /* not a type */
      {"ma", "", 0},           /* not a type either */
  };

  /* The same framing with a good value reads. */
  g_assert_cmpint(read_all(good->data, good->len), ==, KV_CHUNK_END);
  for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
    g_autoptr(GByteArray) chunk = make_entry(cases[i].type, cases[i].value, cases[i].value_size);
    g_test_message("case %zu: %s", i, cases[i].type);
    g_assert_cmpint(read_all(chunk->data, chunk->len), ==, KV_CHUNK_DAMAGED);
  }
}

int main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/snapshot-chunk/every-value", test_every_value);
  g_test_add_func("/snapshot-chunk/empty", test_empty);
  g_test_add_func("/snapshot-chunk/damage", test_damage);
  g_test_add_func("/snapshot-chunk/not-normal", test_not_normal);
  return g_test_run();
}
