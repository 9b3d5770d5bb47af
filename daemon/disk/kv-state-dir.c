/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "kv-state-dir.h"

#include "kv-file-util.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
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

gboolean kv_state_dir_give_back(const char *dir, GError **error)
{
  struct stat dir_st;
  g_autoptr(GDir) entries = g_dir_open(dir, 0, error);

  if (entries == NULL)
    return FALSE;
  if (stat(dir, &dir_st) < 0) {
    kv_file_set_error(error, errno, "examine", dir);
    return FALSE;
  }
  if (dir_st.st_uid == 0)
    return TRUE;
  const char *name;
  while ((name = g_dir_read_name(entries)) != NULL) {
    g_autofree char *path = g_build_filename(dir, name, NULL);
    struct stat st;
    if (lstat(path, &st) < 0 || !S_ISREG(st.st_mode))
      continue;
    if ((st.st_uid != dir_st.st_uid || st.st_gid != dir_st.st_gid) &&
        lchown(path, dir_st.st_uid, dir_st.st_gid) < 0) {
      kv_file_set_error(error, errno, "give to the directory's owner", path);
      return FALSE;
    }
    if ((st.st_mode & 077) != 0 && chmod(path, st.st_mode & 0700) < 0) {
      kv_file_set_error(error, errno, "make private", path);
      return FALSE;
    }
  }
  return TRUE;
}

/* Who holds the lock on @fd's file, as the holder wrote it there (see take_lock()); 0
 * when it cannot be told. The file, not /proc/locks, which a ProcSubset=pid sandbox
 * hides. */
static pid_t lock_holder(int fd)
{
  char text[32] = {0};
  ssize_t n = pread(fd, text, sizeof text - 1, 0);

  if (n <= 0)
    return 0;
  gint64 pid = g_ascii_strtoll(text, NULL, 10);
  return pid > 0 && pid <= G_MAXINT32 ? (pid_t)pid : 0;
}

/* Takes the lock on @fd without waiting, and writes this process's pid into the file
 * for another kvstored to name it. */
static gboolean take_lock(int fd)
{
  if (flock(fd, LOCK_EX | LOCK_NB) < 0)
    return FALSE;
  g_autofree char *pid = g_strdup_printf("%d\n", (int)getpid());
  /* The pid only informs: the lock is held whether or not it could be written. */
  if (ftruncate(fd, 0) == 0)
    (void)!pwrite(fd, pid, strlen(pid), 0);
  return TRUE;
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
    if (take_lock(fd))
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
