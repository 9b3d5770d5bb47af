/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "kv-state-dir.h"

#include "kv-file-util.h"

#include <errno.h>
#include <signal.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

char *kv_state_dir_resolve(const char *option, gboolean session_bus)
{
  const char *systemd_dirs = g_getenv("STATE_DIRECTORY");
  const char *xdg_state = g_getenv("XDG_STATE_HOME");

  if (option != NULL)
    return g_strdup(option);
  if (systemd_dirs != NULL && systemd_dirs[0] != '\0') {
    /* systemd passes one path per StateDirectory= entry, separated by colons. */
    g_auto(GStrv) dirs = g_strsplit(systemd_dirs, ":", 2);
    return g_strdup(dirs[0]);
  }
  if (!session_bus)
    return g_strdup("/var/lib/kvstore");
  /* XDG: a relative XDG_STATE_HOME is invalid and must be ignored. */
  if (xdg_state != NULL && g_path_is_absolute(xdg_state))
    return g_build_filename(xdg_state, "kvstore", NULL);
  return g_build_filename(g_get_home_dir(), ".local", "state", "kvstore", NULL);
}

static gboolean fail(GError **error, const char *path, const char *what)
{
  g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_PERM, "%s %s; refusing to use it", path, what);
  return FALSE;
}

gboolean kv_state_dir_prepare(const char *dir, const char *const *files, GError **error)
{
  struct stat st;

  if (g_mkdir_with_parents(dir, 0700) < 0) {
    int saved = errno;
    g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(saved),
                "Cannot create the state directory %s: %s", dir, g_strerror(saved));
    return FALSE;
  }
  if (lstat(dir, &st) < 0)
    return fail(error, dir, "cannot be examined");
  if (S_ISLNK(st.st_mode))
    return fail(error, dir, "is a symbolic link");
  if (!S_ISDIR(st.st_mode))
    return fail(error, dir, "is not a directory");
  if (st.st_uid != geteuid())
    return fail(error, dir, "belongs to another user");
  /* The data may be private: nobody else reads the files, even by name. */
  if ((st.st_mode & 07777) != 0700 && chmod(dir, 0700) < 0)
    return fail(error, dir, "has a mode that lets others in and cannot be changed");

  for (gsize i = 0; files[i] != NULL; i++) {
    g_autofree char *path = g_build_filename(dir, files[i], NULL);
    if (lstat(path, &st) < 0)
      continue;
    if (S_ISLNK(st.st_mode))
      return fail(error, path, "is a symbolic link");
    if (!S_ISREG(st.st_mode))
      return fail(error, path, "is not a regular file");
  }
  return TRUE;
}

/* Who holds an flock on @fd's file, as /proc/locks tells ("1: FLOCK ADVISORY WRITE PID
 * MAJOR:MINOR:INODE 0 EOF"); 0 when it cannot be told. */
static pid_t lock_holder(int fd)
{
  g_autofree char *locks = NULL;
  struct stat st;

  if (fstat(fd, &st) < 0 || !g_file_get_contents("/proc/locks", &locks, NULL, NULL))
    return 0;
  g_autofree char *file = g_strdup_printf("%02x:%02x:%" G_GUINT64_FORMAT, major(st.st_dev),
                                          minor(st.st_dev), (guint64)st.st_ino);
  g_auto(GStrv) lines = g_strsplit(locks, "\n", -1);
  for (gsize i = 0; lines[i] != NULL; i++) {
    g_auto(GStrv) fields = g_strsplit_set(lines[i], " ", -1);
    g_autoptr(GPtrArray) words = g_ptr_array_new();
    for (gsize f = 0; fields[f] != NULL; f++)
      if (fields[f][0] != '\0')
        g_ptr_array_add(words, fields[f]);
    /* A lock others wait for is listed again with "->" before its fields. */
    guint first = words->len > 0 && g_str_equal(g_ptr_array_index(words, 0), "->") ? 1 : 0;
    if (words->len >= first + 6 && g_str_equal(g_ptr_array_index(words, first + 1), "FLOCK") &&
        g_str_equal(g_ptr_array_index(words, first + 5), file))
      return (pid_t)g_ascii_strtoll(g_ptr_array_index(words, first + 4), NULL, 10);
  }
  return 0;
}

/* Waits @usec, or less when SIGTERM or SIGINT (blocked, as kvstored blocks them) comes:
 * TRUE then. */
static gboolean stop_requested(long usec)
{
  struct timespec timeout = {0, usec * 1000};
  sigset_t stop, blocked;

  sigemptyset(&stop);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGINT);
  if (sigprocmask(SIG_BLOCK, NULL, &blocked) < 0 || !sigismember(&blocked, SIGTERM)) {
    g_usleep((gulong)usec);
    return FALSE;
  }
  return sigtimedwait(&stop, NULL, &timeout) > 0;
}

int kv_state_dir_lock(const char *dir, guint wait_seconds, KvLockWaitFunc waiting,
                      gpointer user_data, GError **error)
{
  g_autofree char *path = g_build_filename(dir, "lock", NULL);
  int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);

  if (fd < 0) {
    kv_file_set_error(error, errno, "open", path);
    return -1;
  }
  for (guint i = 0; i <= wait_seconds * 20; i++) {
    if (flock(fd, LOCK_EX | LOCK_NB) == 0)
      return fd;
    if (errno != EWOULDBLOCK || i == wait_seconds * 20)
      break;
    if (i == 0 && waiting != NULL)
      waiting(dir, lock_holder(fd), wait_seconds, user_data);
    if (stop_requested(G_USEC_PER_SEC / 20)) {
      g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_INTR,
                  "Stopped while waiting for the lock of %s", dir);
      close(fd);
      return -1;
    }
  }
  pid_t holder = lock_holder(fd);
  g_autofree char *by = holder > 0 ? g_strdup_printf(" (pid %d)", (int)holder) : g_strdup("");
  g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_EXIST,
              "%s is in use by another kvstored%s (still locked after %u s)", dir, by,
              wait_seconds);
  close(fd);
  return -1;
}
