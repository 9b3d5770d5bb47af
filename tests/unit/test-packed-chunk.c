/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Packed snapshot chunks (format 2): every kind of value written and read back the same,
 * keys sharing prefixes and revisions going up and down, the size a benchmark entry
 * takes, and damaged bytes refused or read as UTF-8 keys with values in normal form, never
 * out of bounds (the ASan build runs this too). */

#include "kv-packed-chunk.h"
#include "kv-test-values.h"

#include <string.h>

typedef struct {
  char *key;
  guint64 revision;
  GVariant *value;
} Entry;

static void entry_clear(Entry *entry)
{
  g_free(entry->key);
  g_variant_unref(entry->value);
}

static GArray *entries_new(void)
{
  GArray *entries = g_array_new(FALSE, FALSE, sizeof(Entry));

  g_array_set_clear_func(entries, (GDestroyNotify)entry_clear);
  return entries;
}

static void add(GArray *entries, char *key, guint64 revision, GVariant *value)
{
  Entry entry = {key, revision, g_variant_take_ref(value)};

  g_array_append_val(entries, entry);
}

static GByteArray *pack(GArray *entries)
{
  GByteArray *out = g_byte_array_new();
  KvPackedWriter writer;

  kv_packed_writer_begin(&writer, out);
  for (guint i = 0; i < entries->len; i++) {
    Entry *entry = &g_array_index(entries, Entry, i);
    kv_packed_writer_add(&writer, entry->key, entry->revision, entry->value);
  }
  g_assert_cmpuint(kv_packed_writer_count(&writer), ==, entries->len);
  kv_packed_writer_end(&writer);
  return out;
}

static void check_read_back(GArray *entries)
{
  g_autoptr(GByteArray) packed = pack(entries);
  KvPackedReader reader;
  KvPackedEntry got;
  guint i = 0;

  kv_packed_reader_init(&reader, packed->data, packed->len);
  while (kv_packed_reader_next(&reader, &got) == KV_PACKED_ENTRY) {
    Entry *entry = &g_array_index(entries, Entry, i);
    g_assert_cmpstr(got.key, ==, entry->key);
    g_assert_cmpuint(got.revision, ==, entry->revision);
    g_assert_cmpstr(got.type, ==, g_variant_get_type_string(entry->value));
    g_assert_cmpmem(got.value, got.value_size, g_variant_get_data(entry->value),
                    g_variant_get_size(entry->value));
    i++;
  }
  g_assert_cmpuint(i, ==, entries->len);
  g_assert_true(reader.at == reader.end);
  kv_packed_reader_clear(&reader);
}

static int compare_keys(gconstpointer a, gconstpointer b)
{
  return strcmp(((const Entry *)a)->key, ((const Entry *)b)->key);
}

/* Every kind of value, under keys that share prefixes of every length, at revisions that
 * rise and fall (up to the largest), long keys and long values. */
static void test_every_value(void)
{
  g_autoptr(GArray) entries = entries_new();
  static const guint64 revisions[] = {1, 1, 9, 3, G_MAXUINT64, 0, 12345678901ULL, 2};

  for (gsize i = 0; i < G_N_ELEMENTS(kv_test_values); i++) {
    GVariant *value = g_variant_parse(NULL, kv_test_values[i], NULL, NULL, NULL);
    g_assert_nonnull(value);
    add(entries, g_strdup_printf("app/%c/%03zu", 'a' + (char)(i % 3), i),
        revisions[i % G_N_ELEMENTS(revisions)], value);
  }
  g_array_sort(entries, compare_keys);
  check_read_back(entries);

  g_autoptr(GArray) wide = entries_new();
  g_autofree char *long_text = g_strnfill(70000, 'v');
  add(wide, g_strnfill(KV_PACKED_KEY_MAX, 'k'), 1, g_variant_new_string(long_text));
  add(wide, g_strdup("l"), 2, g_variant_new_string(""));
  add(wide, g_strdup("l\xc3\xa9"), 3, g_variant_new_int32(7));
  check_read_back(wide);
}

/* The benchmark's keys and values: 16-byte keys of a running number, 16-byte strings,
 * written in batches of a thousand at one revision each. */
static void test_benchmark_entry_size(void)
{
  g_autoptr(GArray) entries = entries_new();

  for (guint i = 0; i < 256; i++)
    add(entries, g_strdup_printf("key:%012u", 500000 + i), 1 + (500000 + i) / 1000,
        g_variant_new_printf("v%015u", i));
  g_autoptr(GByteArray) packed = pack(entries);
  g_test_message("%.1f bytes an entry", (double)packed->len / entries->len);
  /* Key 3-4, revision 1, type 1, size 1, the value's 17. */
  g_assert_cmpuint(packed->len, <=, 26 * entries->len);
  check_read_back(entries);
}

/* Reads the @size bytes at @data to the end; whatever it hands on is checked. The number
 * of entries, or -1 when they are damaged. */
static gssize read_all(const guint8 *data, gsize size)
{
  KvPackedReader reader;
  KvPackedEntry entry;
  KvPackedStatus status;
  gssize n = 0;

  kv_packed_reader_init(&reader, data, size);
  while ((status = kv_packed_reader_next(&reader, &entry)) == KV_PACKED_ENTRY) {
    g_assert_true(g_utf8_validate(entry.key, -1, NULL));
    g_autoptr(GBytes) bytes = g_bytes_new(entry.value, entry.value_size);
    g_autoptr(GVariant) value =
        g_variant_ref_sink(g_variant_new_from_bytes(G_VARIANT_TYPE(entry.type), bytes, FALSE));
    g_assert_true(g_variant_is_normal_form(value));
    n++;
  }
  kv_packed_reader_clear(&reader);
  return status == KV_PACKED_END ? n : -1;
}

static void test_damage(void)
{
  g_autoptr(GArray) entries = entries_new();
  static const guint8 replacements[] = {0x00, 0x01, 0x7f, 0x80, 0xff};

  add(entries, g_strdup("app/a"), 5, g_variant_new_string("value"));
  add(entries, g_strdup("app/b"), 5, g_variant_new_int32(7));
  add(entries, g_strdup("app/bc"), 4, g_variant_new_parsed("{'x': <[1, 2]>}"));
  g_autoptr(GByteArray) packed = pack(entries);
  g_assert_cmpint(read_all(packed->data, packed->len), ==, 3);
  for (gsize size = 0; size < packed->len; size++) {
    g_autofree guint8 *prefix = g_memdup2(packed->data, MAX(size, 1));
    g_assert_cmpint(read_all(prefix, size), <, 3);
  }
  guint refused = 0;
  for (gsize at = 0; at < packed->len; at++)
    for (gsize r = 0; r < G_N_ELEMENTS(replacements); r++) {
      g_autofree guint8 *copy = g_memdup2(packed->data, packed->len);
      if (copy[at] == replacements[r])
        continue;
      copy[at] = replacements[r];
      refused += read_all(copy, packed->len) < 0;
    }
  g_assert_cmpuint(refused, >, 0);

  /* By hand: a first key sharing bytes with none before it; a type index never given; an
   * empty key; a key with a NUL; a varint of more than 64 bits. */
  static const struct {
    const char *bytes;
    gsize size;
  } bad[] = {
      {"\x01\x01"
       "a"
       "\x00\x00\x01"
       "i"
       "\x04"
       "\x07\x00\x00\x00",
       12},
      {"\x00\x01"
       "a"
       "\x00\x03"
       "\x04"
       "\x07\x00\x00\x00",
       10},
      {"\x00\x00"
       "\x00\x00\x01"
       "i"
       "\x04"
       "\x07\x00\x00\x00",
       11},
      {"\x00\x02"
       "a\x00"
       "\x00\x00\x01"
       "i"
       "\x04"
       "\x07\x00\x00\x00",
       14},
      {"\x00\x01"
       "a"
       "\xff\xff\xff\xff\xff\xff\xff\xff\xff\x7f",
       13},
  };
  for (gsize i = 0; i < G_N_ELEMENTS(bad); i++) {
    g_autofree guint8 *copy = g_memdup2(bad[i].bytes, bad[i].size);
    g_assert_cmpint(read_all(copy, bad[i].size), ==, -1);
  }
}

/* The readers' UTF-8 check, which takes ASCII eight bytes at a time, says what GLib says
 * of random text without NUL bytes: mostly ASCII, some multi-byte, some broken, at every
 * place in and after the 8-byte steps. */
static void test_utf8_like_glib(void)
{
  g_autoptr(GRand) rand = g_rand_new_with_seed(26);
  guint8 text[40];
  guint valid = 0;

  for (guint round = 0; round < 200000; round++) {
    gsize size = (gsize)g_rand_int_range(rand, 0, sizeof text);
    for (gsize i = 0; i < size; i++)
      text[i] = g_rand_int_range(rand, 0, 100) < 95 ? (guint8)g_rand_int_range(rand, 1, 0x80)
                                                    : (guint8)g_rand_int_range(rand, 0x80, 0x100);
    /* Now and then a valid two-byte character somewhere. */
    if (size >= 2 && round % 3 == 0) {
      gsize at = (gsize)g_rand_int_range(rand, 0, (gint32)size - 1);
      text[at] = 0xc3;
      text[at + 1] = 0xa9;
    }
    gboolean expected = g_utf8_validate_len((const char *)text, size, NULL);
    g_assert_cmpint(kv_serialized_text_is_utf8(text, size), ==, expected);
    valid += expected;
  }
  /* Both kinds were tried. */
  g_assert_cmpuint(valid, >, 1000);
  g_assert_cmpuint(valid, <, 199000);
}

int main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/packed-chunk/every-value", test_every_value);
  g_test_add_func("/packed-chunk/benchmark-entry-size", test_benchmark_entry_size);
  g_test_add_func("/packed-chunk/damage", test_damage);
  g_test_add_func("/packed-chunk/utf8-like-glib", test_utf8_like_glib);
  return g_test_run();
}
