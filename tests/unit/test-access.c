/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The access rules alone: built-in rules, drop-in files, longest prefix, groups, errors
 * naming file and line, and quota scopes. */

#include "kv-access.h"
#include "kv-test-state-dir.h"

#include <glib/gstdio.h>
#include <sys/stat.h>
#include <string.h>

static const gid_t no_groups[] = {1};
static const KvCaller root = {0, no_groups, 0};
static const KvCaller alice = {1000, no_groups, 0};
static const KvCaller bob = {1001, no_groups, 0};

typedef struct {
  char *usr;
  char *etc;
} Dirs;

static void dirs_setup(Dirs *d, gconstpointer data)
{
  d->usr = g_dir_make_tmp("kv-access-usr-XXXXXX", NULL);
  d->etc = g_dir_make_tmp("kv-access-etc-XXXXXX", NULL);
  g_assert_nonnull(d->usr);
  g_assert_nonnull(d->etc);
}

static void dirs_teardown(Dirs *d, gconstpointer data)
{
  kv_test_remove_dir(d->usr);
  kv_test_remove_dir(d->etc);
  g_free(d->usr);
  g_free(d->etc);
}

static void write_rule_file(const char *dir, const char *name, const char *text)
{
  g_autofree char *path = g_build_filename(dir, name, NULL);
  g_autoptr(GError) error = NULL;

  g_file_set_contents(path, text, -1, &error);
  g_assert_no_error(error);
}

static KvAccess *load(Dirs *d, GError **error)
{
  const char *dirs[] = {d->usr, d->etc, NULL};

  return kv_access_load(dirs, error);
}

static KvAccess *load_ok(Dirs *d)
{
  g_autoptr(GError) error = NULL;
  KvAccess *access = load(d, &error);

  g_assert_no_error(error);
  g_assert_nonnull(access);
  return access;
}

static void test_builtin(void)
{
  g_autoptr(KvAccess) access = kv_access_new_builtin();

  g_assert_true(kv_access_allows(access, &alice, "app/x", KV_ACCESS_READ));
  g_assert_false(kv_access_allows(access, &alice, "app/x", KV_ACCESS_WRITE));
  g_assert_true(kv_access_allows(access, &root, "app/x", KV_ACCESS_WRITE));
  g_assert_true(kv_access_everyone_reads(access, "app/x"));

  /* users/<uid>/ is its owner's alone. */
  g_assert_true(kv_access_allows(access, &alice, "users/1000/a", KV_ACCESS_WRITE));
  g_assert_true(kv_access_allows(access, &alice, "users/1000/a", KV_ACCESS_READ));
  g_assert_false(kv_access_allows(access, &bob, "users/1000/a", KV_ACCESS_READ));
  g_assert_false(kv_access_allows(access, &bob, "users/1000/a", KV_ACCESS_WRITE));
  g_assert_true(kv_access_allows(access, &root, "users/1000/a", KV_ACCESS_READ));
  g_assert_false(kv_access_everyone_reads(access, "users/1000/a"));
  g_assert_false(kv_access_everyone_reads(access, "users/0/a"));

  /* Only the canonical form: no leading zeros, a slash after the digits, a valid uid. */
  const char *not_private[] = {"users/01000/a",      "users/1000",
                               "users/1000x/a",      "users//a",
                               "users/4294967295/a", "users/99999999999999999999/a"};
  for (gsize i = 0; i < G_N_ELEMENTS(not_private); i++) {
    g_assert_false(kv_access_allows(access, &alice, not_private[i], KV_ACCESS_WRITE));
    g_assert_true(kv_access_everyone_reads(access, not_private[i]));
  }
  g_assert_false(kv_access_reads_all(access, &alice));
  g_assert_true(kv_access_reads_all(access, &root));
}

static void test_prefix_rules(Dirs *d, gconstpointer data)
{
  write_rule_file(d->usr, "50-app.conf",
                  "# the app service writes its own prefix\n"
                  "[Prefix app/]\n"
                  "Read=everyone\n"
                  "Write=user:1000\n"
                  "\n"
                  "[Prefix app/secret/]\n"
                  "Read=user:1000\n"
                  "Write=user:1000\n"
                  "[Prefix app/secret/shared/]\n"
                  "Read=user:1000 user:1001\n"
                  "Write=user:1000\n");
  g_autoptr(KvAccess) access = load_ok(d);

  g_assert_true(kv_access_allows(access, &alice, "app/x", KV_ACCESS_WRITE));
  g_assert_false(kv_access_allows(access, &bob, "app/x", KV_ACCESS_WRITE));
  g_assert_true(kv_access_allows(access, &bob, "app/x", KV_ACCESS_READ));
  /* The longest prefix wins, in either direction. */
  g_assert_false(kv_access_allows(access, &bob, "app/secret/x", KV_ACCESS_READ));
  g_assert_true(kv_access_allows(access, &bob, "app/secret/shared/x", KV_ACCESS_READ));
  g_assert_false(kv_access_allows(access, &bob, "app/secret/shared/x", KV_ACCESS_WRITE));
  g_assert_false(kv_access_everyone_reads(access, "app/secret/x"));
  g_assert_true(kv_access_everyone_reads(access, "app/x"));
  /* Outside every rule: the default. */
  g_assert_false(kv_access_allows(access, &alice, "apps", KV_ACCESS_WRITE));
  g_assert_true(kv_access_allows(access, &bob, "apps", KV_ACCESS_READ));

  g_autofree char *line = kv_access_describe(access, "app/secret/y");
  if (g_strrstr(line, "app/secret/") == NULL || g_strrstr(line, "50-app.conf:6") == NULL)
    g_error("'%s' does not name the rule and its line", line);
  g_autofree char *builtin = kv_access_describe(access, "users/7/k");
  g_assert_cmpstr(builtin, ==, "prefix 'users/7/' (built-in): read: uid 7; write: uid 7");
  g_autofree char *fallback = kv_access_describe(access, "other");
  g_assert_cmpstr(fallback, ==, "prefix '' (built-in): read: everyone; write: root only");
}

static void test_groups_and_names(Dirs *d, gconstpointer data)
{
  /* Debian always has the root and nogroup groups and the daemon user. */
  write_rule_file(d->usr, "10-groups.conf",
                  "[Prefix shared/]\n"
                  "Read=group:nogroup\n"
                  "Write=group:65534 user:daemon\n");
  g_autoptr(KvAccess) access = load_ok(d);
  const gid_t in_nogroup[] = {100, 65534};
  const KvCaller member = {2000, in_nogroup, G_N_ELEMENTS(in_nogroup)};
  const KvCaller daemon_user = {1, no_groups, 1};

  g_assert_true(kv_access_allows(access, &member, "shared/a", KV_ACCESS_READ));
  g_assert_true(kv_access_allows(access, &member, "shared/a", KV_ACCESS_WRITE));
  g_assert_true(kv_access_allows(access, &daemon_user, "shared/a", KV_ACCESS_WRITE));
  g_assert_false(kv_access_allows(access, &daemon_user, "shared/a", KV_ACCESS_READ));
  g_assert_false(kv_access_allows(access, &alice, "shared/a", KV_ACCESS_READ));
}

static void test_etc_replaces_usr(Dirs *d, gconstpointer data)
{
  write_rule_file(d->usr, "50-app.conf", "[Prefix app/]\nRead=everyone\nWrite=user:1000\n");
  write_rule_file(d->etc, "50-app.conf", "[Prefix app/]\nRead=everyone\nWrite=user:1001\n");
  write_rule_file(d->usr, "60-more.conf", "[Default]\nRead=user:1000\n");
  write_rule_file(d->usr, "README", "not a rule file [");
  g_autoptr(KvAccess) access = load_ok(d);

  g_assert_false(kv_access_allows(access, &alice, "app/x", KV_ACCESS_WRITE));
  g_assert_true(kv_access_allows(access, &bob, "app/x", KV_ACCESS_WRITE));
  /* [Default] replaces the built-in rule for other keys. */
  g_assert_true(kv_access_allows(access, &alice, "other", KV_ACCESS_READ));
  g_assert_false(kv_access_allows(access, &bob, "other", KV_ACCESS_READ));
  g_assert_false(kv_access_everyone_reads(access, "other"));
}

static void assert_load_fails(Dirs *d, const char *text, const char *expected)
{
  g_autoptr(GError) error = NULL;

  write_rule_file(d->etc, "bad.conf", text);
  g_autoptr(KvAccess) access = load(d, &error);
  g_assert_null(access);
  g_assert_nonnull(error);
  g_autofree char *where = g_strdup_printf("%s/bad.conf:%s", d->etc, expected);
  if (!g_str_has_prefix(error->message, where))
    g_error("'%s' does not start with '%s'", error->message, where);
}

static void test_bad_files(Dirs *d, gconstpointer data)
{
  assert_load_fails(d, "[Prefix a/]\nRead=everyone\nWrite=user:no-such-user-here\n", "3:");
  assert_load_fails(d, "\n[Prefix a/]\nRead=everybody\n", "3:");
  assert_load_fails(d, "[Prefix a/]\nWrite=group:no-such-group-here\n", "2:");
  assert_load_fails(d, "[Prefix a/]\nRead=everyone\nWrtie=user:0\n", "3:");
  assert_load_fails(d, "[Prefix a/]\nthis is not a setting\n", "2:");
  assert_load_fails(d, "# ok\n[Prefix a/\nRead=everyone\n", "2:");
  assert_load_fails(d, "[Preifx a/]\nRead=everyone\n", "1:");
  assert_load_fails(d, "[Quota]\nMaxKeys=lots\n", "2:");
  assert_load_fails(d, "[Prefix a/]\nMaxBytes=-1\n", "2:");
  assert_load_fails(d, "[Prefix a/]\nOwner=no-such-user-here\n", "2:");
}

static void test_quota_scopes(Dirs *d, gconstpointer data)
{
  write_rule_file(d->usr, "50-app.conf",
                  "[Quota]\nMaxKeys=100\nMaxBytes=5000\n"
                  "[Prefix app/]\nWrite=user:1000\nOwner=1000\n"
                  "[Prefix shared/]\nWrite=user:1000 user:1001\nMaxKeys=7\n");
  g_autoptr(KvAccess) access = load_ok(d);
  guint64 max_keys, max_bytes;

  g_autofree char *own = kv_access_quota_scope(access, "users/1000/a", &max_keys, &max_bytes);
  g_assert_cmpstr(own, ==, "uid 1000");
  g_assert_cmpuint(max_keys, ==, 100);
  g_assert_cmpuint(max_bytes, ==, 5000);
  /* The owner's prefix counts against the owner's own quota. */
  g_autofree char *owned = kv_access_quota_scope(access, "app/a", &max_keys, &max_bytes);
  g_assert_cmpstr(owned, ==, "uid 1000");
  g_autofree char *shared = kv_access_quota_scope(access, "shared/a", &max_keys, &max_bytes);
  g_assert_cmpstr(shared, ==, "prefix 'shared/'");
  g_assert_cmpuint(max_keys, ==, 7);
  g_assert_cmpuint(max_bytes, ==, 5000);

  g_autoptr(KvAccess) builtin = kv_access_new_builtin();
  g_autofree char *fallback = kv_access_quota_scope(builtin, "x", &max_keys, &max_bytes);
  g_assert_cmpstr(fallback, ==, "prefix ''");
  g_assert_cmpuint(max_keys, ==, KV_ACCESS_DEFAULT_MAX_KEYS);
  g_assert_cmpuint(max_bytes, ==, KV_ACCESS_DEFAULT_MAX_BYTES);
  g_assert_false(kv_access_has_quota(0));
  g_assert_true(kv_access_has_quota(1000));
}

/* The example the package ships reads as documented, once its names exist here. */
static void test_shipped_example(Dirs *d, gconstpointer data)
{
  g_autofree char *path =
      g_build_filename(g_getenv("KV_TEST_EXAMPLES_DIR"), "50-example-service.conf", NULL);
  g_autofree char *text = NULL;
  g_autoptr(GError) error = NULL;

  g_file_get_contents(path, &text, NULL, &error);
  g_assert_no_error(error);
  g_auto(GStrv) parts = g_strsplit(text, "exampled", -1);
  g_autofree char *with_daemon = g_strjoinv("daemon", parts);
  g_auto(GStrv) groups = g_strsplit(with_daemon, "examplectl", -1);
  g_autofree char *with_adm = g_strjoinv("adm", groups);
  write_rule_file(d->usr, "50-example.conf", with_adm);
  g_autoptr(KvAccess) access = load_ok(d);
  const gid_t adm[] = {4};
  const KvCaller daemon_user = {1, no_groups, 0};
  const KvCaller admin = {1000, adm, 1};

  g_assert_true(kv_access_allows(access, &daemon_user, "org.example.daemon/x", KV_ACCESS_WRITE));
  g_assert_true(kv_access_allows(access, &alice, "org.example.daemon/x", KV_ACCESS_READ));
  g_assert_false(kv_access_allows(access, &alice, "org.example.daemon/secret/x", KV_ACCESS_READ));
  g_assert_true(kv_access_allows(access, &admin, "org.example.daemon/secret/x", KV_ACCESS_READ));
  g_assert_false(kv_access_allows(access, &admin, "org.example.daemon/secret/x", KV_ACCESS_WRITE));
  guint64 max_keys, max_bytes;
  g_autofree char *scope =
      kv_access_quota_scope(access, "org.example.daemon/secret/x", &max_keys, &max_bytes);
  g_assert_cmpstr(scope, ==, "uid 1");
}

/* Asserts that for @caller, @key is hidden and the next key it might read is @next
 * (NULL: none after @key), and that every key in between that the test names is hidden. */
static void assert_next_readable(const KvAccess *access, const KvCaller *caller, const char *key,
                                 const char *next, const char *const *between)
{
  g_autofree char *found = kv_access_next_readable(access, caller, key);

  g_assert_false(kv_access_allows(access, caller, key, KV_ACCESS_READ));
  if (g_strcmp0(found, next) != 0)
    g_error("after '%s': '%s', expected '%s'", key, found, next);
  for (gsize i = 0; between != NULL && between[i] != NULL; i++) {
    g_assert_cmpint(strcmp(between[i], key), >, 0);
    g_assert_true(next == NULL || strcmp(between[i], next) < 0);
    g_assert_false(kv_access_allows(access, caller, between[i], KV_ACCESS_READ));
  }
}

/* A listing passes over what its caller may not read by asking where the hidden range
 * ends: the end of the hiding rule's prefix, or the first longer rule inside it, or the
 * caller's own private prefix. */
static void test_next_readable(Dirs *d, gconstpointer data)
{
  write_rule_file(d->etc, "50-test.conf",
                  "[Prefix app/]\nRead=user:1\n\n"
                  "[Prefix app/open/]\nRead=everyone\n\n"
                  "[Prefix app/open/closed/]\nRead=user:1\n\n"
                  "[Prefix users/1001/shared/]\nRead=everyone\n");
  g_autoptr(KvAccess) access = load_ok(d);

  assert_next_readable(access, &alice, "users/5/x", "users/50",
                       (const char *[]){"users/5/y", "users/5/\xff", NULL});
  assert_next_readable(access, &alice, "users/100/a", "users/1000",
                       (const char *[]){"users/100/b", NULL});
  assert_next_readable(access, &alice, "users/1001/a", "users/1001/shared/",
                       (const char *[]){"users/1001/b", "users/1001/sh", NULL});
  assert_next_readable(access, &alice, "app/a", "app/open/",
                       (const char *[]){"app/b", "app/o", NULL});
  assert_next_readable(access, &alice, "app/open/closed/a", "app/open/closed0",
                       (const char *[]){"app/open/closed/z", NULL});
  assert_next_readable(access, &alice, "app/p", "app0", (const char *[]){"app/zz", NULL});

  /* Everything hidden by [Default]: only longer rules and the caller's own prefix. */
  write_rule_file(d->etc, "60-default.conf", "[Default]\nRead=user:1\n");
  g_autoptr(KvAccess) closed = load_ok(d);
  assert_next_readable(closed, &alice, "a", "app/", (const char *[]){"ab", "apo", NULL});
  assert_next_readable(closed, &alice, "users/1001/shared0", "users/10010",
                       (const char *[]){"users/1001/t", NULL});
  assert_next_readable(closed, &alice, "users/", "users/1000/",
                       (const char *[]){"users/1", "users/100/a", NULL});
  assert_next_readable(closed, &alice, "v", NULL, (const char *[]){"w", "\xff", NULL});
}

/* A FIFO, a directory or a huge file under a rule file's name fails the load at once,
 * naming it; a FIFO once blocked kvstored's reload for good. */
static void test_not_rule_files(Dirs *d, gconstpointer data)
{
  g_autofree char *fifo = g_build_filename(d->etc, "40-fifo.conf", NULL);
  g_autofree char *dir = g_build_filename(d->etc, "41-dir.conf", NULL);
  g_autofree char *big = g_build_filename(d->etc, "42-big.conf", NULL);
  g_autoptr(GError) error = NULL;

  g_assert_cmpint(mkfifo(fifo, 0644), ==, 0);
  g_assert_null(load(d, &error));
  g_assert_nonnull(strstr(error->message, "40-fifo.conf: not a regular file"));
  g_assert_cmpint(g_unlink(fifo), ==, 0);
  g_clear_error(&error);

  g_assert_cmpint(g_mkdir(dir, 0755), ==, 0);
  g_assert_null(load(d, &error));
  g_assert_nonnull(strstr(error->message, "41-dir.conf: not a regular file"));
  g_assert_cmpint(g_rmdir(dir), ==, 0);
  g_clear_error(&error);

  g_autofree char *lines = g_strnfill(2 * 1024 * 1024, '#');
  g_assert_true(g_file_set_contents(big, lines, -1, NULL));
  g_assert_null(load(d, &error));
  g_assert_nonnull(strstr(error->message, "42-big.conf: larger than 1 MiB"));
  g_assert_cmpint(g_unlink(big), ==, 0);
  g_autoptr(KvAccess) fine = load_ok(d);
}

static void test_missing_dirs(void)
{
  const char *dirs[] = {"/nonexistent/kvstore/access.d", NULL};
  g_autoptr(GError) error = NULL;
  g_autoptr(KvAccess) access = kv_access_load(dirs, &error);

  g_assert_no_error(error);
  g_assert_false(kv_access_allows(access, &alice, "x", KV_ACCESS_WRITE));
}

int main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/access/builtin", test_builtin);
  g_test_add_func("/access/missing-dirs", test_missing_dirs);
  g_test_add("/access/prefix-rules", Dirs, NULL, dirs_setup, test_prefix_rules, dirs_teardown);
  g_test_add("/access/groups-and-names", Dirs, NULL, dirs_setup, test_groups_and_names,
             dirs_teardown);
  g_test_add("/access/etc-replaces-usr", Dirs, NULL, dirs_setup, test_etc_replaces_usr,
             dirs_teardown);
  g_test_add("/access/bad-files", Dirs, NULL, dirs_setup, test_bad_files, dirs_teardown);
  g_test_add("/access/shipped-example", Dirs, NULL, dirs_setup, test_shipped_example,
             dirs_teardown);
  g_test_add("/access/quota-scopes", Dirs, NULL, dirs_setup, test_quota_scopes, dirs_teardown);
  g_test_add("/access/not-rule-files", Dirs, NULL, dirs_setup, test_not_rule_files, dirs_teardown);
  g_test_add("/access/next-readable", Dirs, NULL, dirs_setup, test_next_readable, dirs_teardown);
  return g_test_run();
}
