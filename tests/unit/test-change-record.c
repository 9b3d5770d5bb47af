/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The hand serializer of journal records against GLib's own serialization of the same
 * "(ta(smv))": byte for byte, for every kind of value, deletions, no change at all, and
 * records wide enough for 2- and 4-byte framing offsets. */

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

int main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/change-record/every-value", test_every_value);
  g_test_add_func("/change-record/no-change", test_no_change);
  g_test_add_func("/change-record/wide-offsets", test_wide_offsets);
  return g_test_run();
}
