/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The hand serializer of journal records against GLib's own serialization of the same
 * "(ta(smv))": byte for byte, for every kind of value, deletions, no change at all, and
 * records wide enough for 2- and 4-byte framing offsets; the reader gives each back, and
 * refuses damaged bytes without reading out of bounds. */

#include "kv-change-record.h"
#include "kv-persistent-repository.h"
#include "kv-test-values.h"

static void check_like_glib(guint64 revision, const KvChange *changes, gsize n)
{
  GVariantBuilder builder;

  g_variant_builder_init(&builder, G_VARIANT_TYPE("a(smv)"));
  for (gsize i = 0; i < n; i++)
    g_variant_builder_add(&builder, "(smv)", changes[i].key, changes[i].value);
  g_autoptr(GVariant) expected = g_variant_ref_sink(g_variant_new("(ta(smv))", revision, &builder));
  g_assert_true(g_variant_is_of_type(expected, KV_JOURNAL_RECORD_TYPE));
  g_autoptr(GByteArray) got = g_byte_array_new();
  /* Something before it, as in the journal's queue: offsets count from the record. */
  g_byte_array_append(got, (const guint8 *)"head", 4);
  kv_change_record_serialize(got, revision, changes, n);
  g_assert_cmpmem(got->data + 4, got->len - 4, g_variant_get_data(expected),
                  g_variant_get_size(expected));

  /* And the reader gives back every change, from the bytes. */
  KvChangeReader reader;
  KvChangeEntry entry;
  gsize read = 0;
  g_assert_true(kv_change_reader_init(&reader, got->data + 4, got->len - 4));
  g_assert_cmpuint(reader.revision, ==, revision);
  while (kv_change_reader_next(&reader, &entry) == KV_CHANGE_ENTRY) {
    g_assert_cmpuint(read, <, n);
    g_assert_cmpstr(entry.key, ==, changes[read].key);
    if (changes[read].value == NULL) {
      g_assert_null(entry.type);
    } else {
      g_assert_cmpstr(entry.type, ==, g_variant_get_type_string(changes[read].value));
      g_assert_cmpmem(entry.value, entry.value_size, g_variant_get_data(changes[read].value),
                      g_variant_get_size(changes[read].value));
    }
    read++;
  }
  g_assert_cmpuint(read, ==, n);
}

/* Reads every change of the @size bytes at @data that the reader takes; the count, or -1
 * when it finds them damaged. */
static gssize read_all(const guint8 *data, gsize size)
{
  KvChangeReader reader;
  KvChangeEntry entry;
  KvChangeStatus status;
  gssize n = 0;

  if (!kv_change_reader_init(&reader, data, size))
    return -1;
  while ((status = kv_change_reader_next(&reader, &entry)) == KV_CHANGE_ENTRY)
    n++;
  return status == KV_CHANGE_DAMAGED ? -1 : n;
}

static GVariant *parse(const char *text)
{
  /* A full reference already, not a floating one. */
  GVariant *value = g_variant_parse(NULL, text, NULL, NULL, NULL);

  g_assert_nonnull(value);
  return value;
}

/* Each value alone, deleted alone, and all of them in one record with deletions. */
static void test_every_value(void)
{
  gsize n = G_N_ELEMENTS(kv_test_values);
  g_autoptr(GPtrArray) values = g_ptr_array_new_with_free_func((GDestroyNotify)g_variant_unref);
  g_autoptr(GPtrArray) keys = g_ptr_array_new_with_free_func(g_free);
  g_autofree KvChange *changes = g_new0(KvChange, 2 * n);

  for (gsize i = 0; i < n; i++) {
    g_ptr_array_add(values, parse(kv_test_values[i]));
    g_ptr_array_add(keys, g_strdup_printf("key/%zu", i));
    changes[2 * i] = (KvChange){g_ptr_array_index(keys, i), g_ptr_array_index(values, i)};
    changes[2 * i + 1] = (KvChange){g_ptr_array_index(keys, i), NULL};
    check_like_glib(i + 1, &changes[2 * i], 1);
    check_like_glib(i + 1, &changes[2 * i + 1], 1);
  }
  check_like_glib(G_MAXUINT64, changes, 2 * n);
}

static void test_no_change(void)
{
  check_like_glib(7, NULL, 0);
}

/* A key of 300 bytes (a change past 255 bytes), a value of 70,000 (past 65,535), and a
 * thousand small changes (an array past 65,535 bytes). */
static void test_wide_offsets(void)
{
  g_autofree char *long_key = g_strnfill(300, 'k');
  g_autofree char *long_text = g_strnfill(70000, 'v');
  g_autoptr(GVariant) long_value = g_variant_ref_sink(g_variant_new_string(long_text));
  g_autoptr(GVariant) small = g_variant_ref_sink(g_variant_new_string("value-0000000001"));
  KvChange wide[] = {{long_key, small}, {"b", long_value}, {"c", NULL}};
  g_autofree KvChange *many = g_new0(KvChange, 1000);
  g_autoptr(GPtrArray) keys = g_ptr_array_new_with_free_func(g_free);

  check_like_glib(1, wide, 1);
  check_like_glib(2, wide + 1, 1);
  check_like_glib(3, wide, G_N_ELEMENTS(wide));
  for (guint i = 0; i < 1000; i++) {
    g_ptr_array_add(keys, g_strdup_printf("key:%012u", i));
    many[i] = (KvChange){g_ptr_array_index(keys, i), i % 3 == 0 ? NULL : small};
  }
  check_like_glib(4, many, 1000);
}

/* Damaged bytes (every prefix, every byte changed to a few values) never make the reader
 * read out of bounds (the sanitizer build says so) nor take a damaged record whole: a
 * change of a framing offset or a key's NUL is refused. */
static void test_damage(void)
{
  g_autoptr(GVariant) text = g_variant_ref_sink(g_variant_new_string("value"));
  g_autoptr(GVariant) number = g_variant_ref_sink(g_variant_new_int32(7));
  KvChange changes[] = {{"app/a", text}, {"app/b", NULL}, {"app/c", number}};
  g_autoptr(GByteArray) record = g_byte_array_new();
  static const guint8 replacements[] = {0x00, 0x01, 0x7f, 0xff};

  kv_change_record_serialize(record, 9, changes, G_N_ELEMENTS(changes));
  g_assert_cmpint(read_all(record->data, record->len), ==, 3);
  for (gsize size = 0; size < record->len; size++) {
    g_autofree guint8 *prefix = g_memdup2(record->data, MAX(size, 1));
    g_assert_cmpint(read_all(prefix, size), <, 3);
  }
  guint refused = 0;
  for (gsize at = 0; at < record->len; at++)
    for (gsize r = 0; r < G_N_ELEMENTS(replacements); r++) {
      g_autofree guint8 *copy = g_memdup2(record->data, record->len);
      if (copy[at] == replacements[r])
        continue;
      copy[at] = replacements[r];
      refused += read_all(copy, record->len) < 0;
    }
  g_assert_cmpuint(refused, >, 0);
  /* The last framing offset points past the array: refused. */
  g_autofree guint8 *bad_end = g_memdup2(record->data, record->len);
  bad_end[record->len - 1] = 0xff;
  g_assert_cmpint(read_all(bad_end, record->len), ==, -1);
}

int main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/change-record/every-value", test_every_value);
  g_test_add_func("/change-record/no-change", test_no_change);
  g_test_add_func("/change-record/wide-offsets", test_wide_offsets);
  g_test_add_func("/change-record/damage", test_damage);
  return g_test_run();
}
