#include "kv-persistent-repository.h"
#include "kv-state-dir.h"

#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void test_resolution(void)
{
  const struct {
    const char *option;
    const char *state_directory;
    const char *xdg_state_home;
    gboolean session;
    const char *expected;
  } cases[] = {
      {"/given", "/run/ignored", "/xdg", TRUE, "/given"},
      {NULL, "/var/lib/kvstore", "/xdg", TRUE, "/var/lib/kvstore"},
      {NULL, "/first:/second", NULL, FALSE, "/first"},
      {NULL, NULL, "/xdg", TRUE, "/xdg/kvstore"},
      {NULL, NULL, "relative/is/ignored", TRUE, "/home/tester/.local/state/kvstore"},
      {NULL, NULL, NULL, TRUE, "/home/tester/.local/state/kvstore"},
      {NULL, NULL, "/xdg", FALSE, "/var/lib/kvstore"},
      {NULL, "", NULL, FALSE, "/var/lib/kvstore"},
  };

  for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
    if (cases[i].state_directory != NULL)
      g_setenv("STATE_DIRECTORY", cases[i].state_directory, TRUE);
    else
      g_unsetenv("STATE_DIRECTORY");
    if (cases[i].xdg_state_home != NULL)
      g_setenv("XDG_STATE_HOME", cases[i].xdg_state_home, TRUE);
    else
      g_unsetenv("XDG_STATE_HOME");

    g_autofree char *dir = kv_state_dir_resolve(cases[i].option, cases[i].session);
    g_assert_cmpstr(dir, ==, cases[i].expected);
  }
}

static char *make_tmp_dir(void)
{
  g_autoptr(GError) error = NULL;
  char *dir = g_dir_make_tmp("kvstore-state-dir-XXXXXX", &error);

  g_assert_no_error(error);
  return dir;
}

static void remove_dir(const char *dir, const char *const *names)
{
  for (gsize i = 0; names[i] != NULL; i++) {
    g_autofree char *path = g_build_filename(dir, names[i], NULL);
    g_unlink(path);
  }
  g_rmdir(dir);
}

static void test_mode_fixed(void)
{
  g_autofree char *dir = make_tmp_dir();
  const char *none[] = {NULL};
  g_autoptr(GError) error = NULL;
  struct stat st;

  g_assert_cmpint(chmod(dir, 0755), ==, 0);
  g_assert_true(kv_state_dir_prepare(dir, none, &error));
  g_assert_no_error(error);
  g_assert_cmpint(stat(dir, &st), ==, 0);
  g_assert_cmpint(st.st_mode & 07777, ==, 0700);
  remove_dir(dir, none);
}

static void test_symlinked_dir_refused(void)
{
  g_autofree char *real = make_tmp_dir();
  g_autofree char *link = g_strconcat(real, "-link", NULL);
  const char *none[] = {NULL};
  g_autoptr(GError) error = NULL;

  g_assert_cmpint(symlink(real, link), ==, 0);
  g_assert_false(kv_state_dir_prepare(link, none, &error));
  g_assert_error(error, G_FILE_ERROR, G_FILE_ERROR_PERM);
  g_assert_nonnull(strstr(error->message, "symbolic link"));
  g_unlink(link);
  remove_dir(real, none);
}

/* A link planted where kvstored keeps a file would make it read or write elsewhere. */
static void test_planted_symlinks_refused(void)
{
  const char *names[] = {"journal", "lock", "snapshot", "snapshot.tmp", "journal.tmp", NULL};

  for (gsize i = 0; names[i] != NULL; i++) {
    g_autofree char *dir = make_tmp_dir();
    g_autofree char *target = g_build_filename(dir, "target", NULL);
    g_autofree char *planted = g_build_filename(dir, names[i], NULL);
    g_autoptr(GError) error = NULL;
    g_autofree char *contents = NULL;
    KvRecoveryInfo info;

    g_assert_true(g_file_set_contents(target, "precious", -1, NULL));
    g_assert_cmpint(symlink(target, planted), ==, 0);
    KvRepository *repository =
        kv_persistent_repository_open(dir, KV_SYNC_ALWAYS, 1 << 20, NULL, NULL, &info, &error);
    g_assert_null(repository);
    g_assert_nonnull(error);
    g_assert_nonnull(strstr(error->message, "symbolic link"));
    g_assert_nonnull(strstr(error->message, names[i]));
    g_assert_true(g_file_get_contents(target, &contents, NULL, NULL));
    g_assert_cmpstr(contents, ==, "precious");
    const char *left[] = {names[i], "target", NULL};
    remove_dir(dir, left);
  }
}

int main(int argc, char **argv)
{
  /* g_get_home_dir() reads HOME once: set it before anything asks. */
  g_setenv("HOME", "/home/tester", TRUE);
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/state-dir/resolution", test_resolution);
  g_test_add_func("/state-dir/mode-fixed", test_mode_fixed);
  g_test_add_func("/state-dir/symlinked-dir-refused", test_symlinked_dir_refused);
  g_test_add_func("/state-dir/planted-symlinks-refused", test_planted_symlinks_refused);
  return g_test_run();
}
