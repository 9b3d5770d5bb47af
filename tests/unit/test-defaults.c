/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The administrator's defaults and locks (kv-defaults.c) and how reads use them
 * (kv-service.c), without a bus: layering of directories, masking, bad files, lookups,
 * locks on keys and prefixes. */
#include "kv-defaults.h"
#include "kv-error.h"
#include "kv-memory-repository.h"
#include "kv-service.h"
#include "kv-test-state-dir.h"

#include <glib/gstdio.h>
#include <string.h>

typedef struct {
  char *low, *high; /* /usr/share/…/defaults.d and /etc/…/defaults.d */
} Fixture;

static void setup(Fixture *f, gconstpointer data)
{
  f->low = g_dir_make_tmp("kv-defaults-low-XXXXXX", NULL);
  f->high = g_dir_make_tmp("kv-defaults-high-XXXXXX", NULL);
  g_assert_nonnull(f->low);
  g_assert_nonnull(f->high);
}

static void teardown(Fixture *f, gconstpointer data)
{
  kv_test_remove_dir(f->low);
  kv_test_remove_dir(f->high);
  g_free(f->low);
  g_free(f->high);
}

static void write_file(const char *dir, const char *name, const char *text)
{
  g_autofree char *path = g_build_filename(dir, name, NULL);

  g_assert_true(g_file_set_contents(path, text, -1, NULL));
}

static KvDefaults *load(Fixture *f, GError **error)
{
  const char *dirs[] = {f->low, f->high, NULL};

  return kv_defaults_load(dirs, error);
}

static KvDefaults *load_ok(Fixture *f)
{
  g_autoptr(GError) error = NULL;
  KvDefaults *defaults = load(f, &error);

  g_assert_no_error(error);
  return defaults;
}

static void assert_default(KvDefaults *defaults, const char *key, const char *text, const char *dir,
                           const char *name)
{
  const char *file;
  GVariant *value = kv_defaults_lookup(defaults, key, &file);

  if (text == NULL) {
    g_assert_null(value);
    return;
  }
  g_assert_nonnull(value);
  g_autofree char *printed = g_variant_print(value, TRUE);
  g_assert_cmpstr(printed, ==, text);
  g_autofree char *expected = g_build_filename(dir, name, NULL);
  g_assert_cmpstr(file, ==, expected);
}

static gboolean admits_window(const char *key, gpointer data)
{
  return g_str_has_prefix(key, "org/app/window/");
}

/* Groups are prefixes, their keys the keys under them; a later file wins; a file in the
 * higher directory masks the lower one of its name whole. */
static void test_layers(Fixture *f, gconstpointer data)
{
  write_file(f->low, "10-vendor.conf",
             "[org/app]\ncolor='blue'\nsize=uint32 3\n[/org/app/window/]\nmaximized=true\n");
  write_file(f->low, "20-distro.conf", "[org/app]\ncolor='green'\n");
  write_file(f->high, "20-distro.conf", "[org/app]\nfont='Sans'\n");
  write_file(f->high, "90-site.conf", "[org/app]\nsize=uint32 5\n");
  write_file(f->high, "notes.txt", "[org/app]\ncolor='red'\n");
  g_autoptr(KvDefaults) defaults = load_ok(f);

  assert_default(defaults, "org/app/color", "'blue'", f->low, "10-vendor.conf");
  assert_default(defaults, "org/app/font", "'Sans'", f->high, "20-distro.conf");
  assert_default(defaults, "org/app/size", "uint32 5", f->high, "90-site.conf");
  assert_default(defaults, "org/app/window/maximized", "true", f->low, "10-vendor.conf");
  assert_default(defaults, "org/app/missing", NULL, NULL, NULL);
  g_assert_cmpuint(kv_defaults_n_values(defaults), ==, 4);

  g_autoptr(GVariant) listed = g_variant_ref_sink(kv_defaults_list(defaults, "org/app/", NULL));
  g_autofree char *printed = g_variant_print(listed, FALSE);
  g_assert_cmpstr(
      printed, ==,
      "{'org/app/color': <'blue'>, 'org/app/font': <'Sans'>, 'org/app/size': <uint32 5>, "
      "'org/app/window/maximized': <true>}");

  /* What a caller may not read is left out (GetDefaults on the system bus). */
  KvKeyFilter only_window = {admits_window, NULL, NULL};
  g_autoptr(GVariant) filtered =
      g_variant_ref_sink(kv_defaults_list(defaults, "org/", &only_window));
  g_autofree char *filtered_text = g_variant_print(filtered, FALSE);
  g_assert_cmpstr(filtered_text, ==, "{'org/app/window/maximized': <true>}");
}

static void test_locks(Fixture *f, gconstpointer data)
{
  write_file(f->high, "50-locks.conf", "[.kvstore/locks]\nkeys=org/app/color;org/lockdown/\n");
  g_autoptr(KvDefaults) defaults = load_ok(f);

  g_assert_cmpuint(kv_defaults_n_locks(defaults), ==, 2);
  g_assert_nonnull(kv_defaults_lock_of(defaults, "org/app/color"));
  g_assert_null(kv_defaults_lock_of(defaults, "org/app/colors"));
  g_assert_null(kv_defaults_lock_of(defaults, "org/app/col"));
  g_assert_nonnull(kv_defaults_lock_of(defaults, "org/lockdown/usb"));
  g_assert_null(kv_defaults_lock_of(defaults, "org/lockdownx"));
  g_assert_true(
      g_str_has_suffix(kv_defaults_lock_of(defaults, "org/lockdown/a/b"), "50-locks.conf"));
  /* A DeletePrefix reaches a lock under it, or one that covers it. */
  g_assert_nonnull(kv_defaults_lock_within(defaults, "org/"));
  g_assert_nonnull(kv_defaults_lock_within(defaults, "org/lockdown/usb/"));
  g_assert_null(kv_defaults_lock_within(defaults, "org/other/"));
}

/* Each bad file is refused with its name and what is wrong, not half read. */
static void test_bad_files(Fixture *f, gconstpointer data)
{
  static const struct {
    const char *text;
    const char *says;
  } cases[] = {
      {"[org/app]\ncolor=blue\n", "is not a value in GVariant text"},
      {"[org/app\ncolor='blue'\n", "bad.conf"},
      {"[.kvstore/locks]\nkey=org/app\n", "the locks are listed in keys="},
      {"[.kvstore]\nlease/1=1\n", "keys under .kvstore/ are kvstored's own"},
      {"[org/app]\nnothing=@ms nothing\n", "D-Bus carries no value of type ms"},
      {"[org/app]\nhandle=@h 0\n", "org/app/handle"},
  };

  for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
    g_autoptr(GError) error = NULL;
    write_file(f->high, "bad.conf", cases[i].text);
    g_autoptr(KvDefaults) defaults = load(f, &error);
    g_assert_null(defaults);
    g_assert_nonnull(error);
    if (g_strstr_len(error->message, -1, cases[i].says) == NULL)
      g_error("case %zu: '%s' does not say '%s'", i, error->message, cases[i].says);
    g_assert_nonnull(g_strstr_len(error->message, -1, "bad.conf"));
  }
}

/* All the defaults together fit one GetDefaults reply: four values of 900 KB load, a
 * fifth is refused; a file masking the fifth's makes room again. */
static void test_total_bounded(Fixture *f, gconstpointer data)
{
  g_autofree char *big = g_strnfill(900 * 1000, 'x');
  g_autoptr(GError) error = NULL;

  for (guint i = 0; i < 4; i++) {
    g_autofree char *name = g_strdup_printf("%u.conf", i);
    g_autofree char *text = g_strdup_printf("[org/app]\nbig%u='%s'\n", i, big);
    write_file(f->low, name, text);
  }
  g_autoptr(KvDefaults) four = load_ok(f);
  g_assert_cmpuint(kv_defaults_n_values(four), ==, 4);

  g_autofree char *fifth = g_strdup_printf("[org/app]\nbig4='%s'\n", big);
  write_file(f->low, "4.conf", fifth);
  g_autoptr(KvDefaults) five = load(f, &error);
  g_assert_null(five);
  g_assert_error(error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE);
  g_assert_nonnull(strstr(error->message, "bytes in all"));

  write_file(f->high, "4.conf", "[org/app]\nsmall=1\n");
  g_autoptr(KvDefaults) masked = load_ok(f);
  g_assert_cmpuint(kv_defaults_n_values(masked), ==, 5);
}

static void test_missing_dirs(Fixture *f, gconstpointer data)
{
  const char *dirs[] = {"/nonexistent/kvstore/defaults.d", NULL};
  g_autoptr(GError) error = NULL;
  g_autoptr(KvDefaults) defaults = kv_defaults_load(dirs, &error);

  g_assert_no_error(error);
  g_assert_cmpuint(kv_defaults_n_values(defaults), ==, 0);
}

static void test_equal(Fixture *f, gconstpointer data)
{
  write_file(f->low, "a.conf", "[k]\na=1\n[.kvstore/locks]\nkeys=k/a\n");
  g_autoptr(KvDefaults) one = load_ok(f);
  g_autoptr(KvDefaults) two = load_ok(f);
  g_assert_true(kv_defaults_equal(one, two));

  write_file(f->low, "a.conf", "[k]\na=2\n[.kvstore/locks]\nkeys=k/a\n");
  g_autoptr(KvDefaults) other_value = load_ok(f);
  g_assert_false(kv_defaults_equal(one, other_value));
  write_file(f->low, "a.conf", "[k]\na=1\n");
  g_autoptr(KvDefaults) no_lock = load_ok(f);
  g_assert_false(kv_defaults_equal(one, no_lock));
}

/* Reads fall back to the defaults, at revision 0; a stored value wins; deleting it
 * returns the key to its default; GetMany mixes both. */
static void test_service_reads(Fixture *f, gconstpointer data)
{
  write_file(f->low, "a.conf", "[app]\ncolor='blue'\nsize=3\n");
  g_autoptr(KvRepository) repository = kv_memory_repository_new();
  g_autoptr(KvService) service = kv_service_new(repository, KV_DEFAULT_MAX_VALUE_SIZE);
  g_autoptr(GError) error = NULL;
  guint64 revision = 99;
  const char *file;

  kv_service_set_defaults(service, load_ok(f));
  g_autoptr(GVariant) blue = kv_service_get_with_revision(service, "app/color", &revision, &error);
  g_assert_no_error(error);
  g_assert_cmpstr(g_variant_get_string(blue, NULL), ==, "blue");
  g_assert_cmpuint(revision, ==, 0);
  g_assert_cmpstr(kv_service_get_origin(service, "app/color", &file, &error), ==, "default");
  g_assert_true(g_str_has_suffix(file, "a.conf"));
  g_assert_cmpstr(kv_service_get_origin(service, "app/none", &file, &error), ==, "none");
  g_assert_null(file);
  g_assert_null(kv_service_get_origin(service, "", &file, &error));
  g_assert_error(error, KV_ERROR, KV_ERROR_INVALID_KEY);
  g_clear_error(&error);

  g_assert_true(kv_service_set(service, "app/color", g_variant_new_string("red"), &error));
  g_assert_true(kv_service_commit(service, &error));
  g_autoptr(GVariant) red = kv_service_get(service, "app/color", &error);
  g_assert_cmpstr(g_variant_get_string(red, NULL), ==, "red");
  g_assert_cmpstr(kv_service_get_origin(service, "app/color", &file, &error), ==, "stored");

  const char *keys[] = {"app/color", "app/size", "app/none", NULL};
  g_autoptr(KvPage) page = kv_service_get_many(service, keys, G_MAXSIZE, NULL, &error);
  g_assert_no_error(error);
  g_assert_cmpuint(page->keys->len, ==, 2);
  g_assert_cmpstr(g_ptr_array_index(page->keys, 0), ==, "app/color");
  g_assert_cmpstr(g_variant_get_string(g_ptr_array_index(page->values, 0), NULL), ==, "red");
  g_assert_cmpstr(g_ptr_array_index(page->keys, 1), ==, "app/size");
  g_assert_cmpint(g_variant_get_int32(g_ptr_array_index(page->values, 1)), ==, 3);

  gboolean existed;
  g_assert_true(kv_service_delete(service, "app/color", &existed, &error));
  g_assert_true(kv_service_commit(service, &error));
  g_autoptr(GVariant) back = kv_service_get(service, "app/color", &error);
  g_assert_cmpstr(g_variant_get_string(back, NULL), ==, "blue");
  g_assert_null(kv_service_get(service, "app/none", &error));
  g_assert_error(error, KV_ERROR, KV_ERROR_NOT_FOUND);
}

int main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
#define ADD(name, func) g_test_add("/defaults/" name, Fixture, NULL, setup, func, teardown)
  ADD("layers", test_layers);
  ADD("locks", test_locks);
  ADD("bad-files", test_bad_files);
  ADD("total-bounded", test_total_bounded);
  ADD("missing-dirs", test_missing_dirs);
  ADD("equal", test_equal);
  ADD("service-reads", test_service_reads);
#undef ADD
  return g_test_run();
}
