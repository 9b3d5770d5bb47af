/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "kv-persistent-repository.h"
#include "kv-state-dir.h"

#include <fcntl.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <sys/file.h>
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

typedef struct {
  guint calls;
  pid_t holder;
} Waiting;

static void on_waiting(const char *dir, pid_t holder, guint wait_seconds, gpointer user_data)
{
  Waiting *waiting = user_data;

  waiting->calls++;
  waiting->holder = holder;
}

/* Holds the lock of a new state directory as another kvstored would, through a
 * descriptor of its own; returns it. */
static int hold_lock(const char *dir)
{
  const char *none[] = {NULL};

  g_assert_true(kv_state_dir_prepare(dir, none, NULL));
  int fd = kv_state_dir_lock(dir, 0, NULL, NULL, NULL);
  g_assert_cmpint(fd, >=, 0);
  return fd;
}

/* A held lock: the waiter says at once who holds it, and says it again when it gives up. */
static void test_lock_wait_names_holder(void)
{
  g_autofree char *dir = make_tmp_dir();
  const char *files[] = {"lock", NULL};
  g_autoptr(GError) error = NULL;
  Waiting waiting = {0, 0};
  int held = hold_lock(dir);

  g_assert_cmpint(kv_state_dir_lock(dir, 1, on_waiting, &waiting, &error), ==, -1);
  g_assert_error(error, G_FILE_ERROR, G_FILE_ERROR_EXIST);
  g_autofree char *by = g_strdup_printf("in use by another kvstored (pid %d)", (int)getpid());
  g_assert_nonnull(strstr(error->message, by));
  g_assert_cmpuint(waiting.calls, ==, 1);
  g_assert_cmpint(waiting.holder, ==, getpid());

  close(held);
  g_clear_error(&error);
  int fd = kv_state_dir_lock(dir, 1, on_waiting, &waiting, &error);
  g_assert_no_error(error);
  g_assert_cmpint(fd, >=, 0);
  g_assert_cmpuint(waiting.calls, ==, 1);
  close(fd);
  remove_dir(dir, files);
}

/* SIGTERM, blocked as kvstored blocks it, ends the wait at once. */
static void test_lock_wait_ends_on_sigterm(void)
{
  g_autofree char *dir = make_tmp_dir();
  const char *files[] = {"lock", NULL};
  g_autoptr(GError) error = NULL;
  sigset_t mask, old_mask;
  int held = hold_lock(dir);

  sigemptyset(&mask);
  sigaddset(&mask, SIGTERM);
  g_assert_cmpint(sigprocmask(SIG_BLOCK, &mask, &old_mask), ==, 0);
  g_assert_cmpint(raise(SIGTERM), ==, 0);
  gint64 start = g_get_monotonic_time();
  g_assert_cmpint(kv_state_dir_lock(dir, 20, NULL, NULL, &error), ==, -1);
  g_assert_error(error, G_FILE_ERROR, G_FILE_ERROR_INTR);
  g_assert_cmpint(g_get_monotonic_time() - start, <, 5 * G_USEC_PER_SEC);
  g_assert_cmpint(sigprocmask(SIG_SETMASK, &old_mask, NULL), ==, 0);
  close(held);
  remove_dir(dir, files);
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
    KvRepository *repository = kv_persistent_repository_open(dir, KV_SYNC_ALWAYS, 1 << 20, NULL,
                                                             NULL, NULL, &info, &error);
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
  g_test_add_func("/state-dir/lock-wait-names-holder", test_lock_wait_names_holder);
  g_test_add_func("/state-dir/lock-wait-ends-on-sigterm", test_lock_wait_ends_on_sigterm);
  return g_test_run();
}
