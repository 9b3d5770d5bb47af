/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>
#include <sys/types.h>

G_BEGIN_DECLS

/* Where kvstored keeps its data: @option (--state-dir) if given; else the first entry of
 * $STATE_DIRECTORY (systemd's StateDirectory=); else, serving a session bus,
 * $XDG_STATE_HOME/kvstore or ~/.local/state/kvstore; else /var/lib/kvstore. */
char *kv_state_dir_resolve(const char *option, gboolean session_bus);

/* Creates @dir (mode 0700) if needed, and makes sure it is fit to hold the data: a real
 * directory, not a symbolic link, owned by us; a mode that lets others in is set back to
 * 0700. The files named in @files (NULL-terminated) must not be symbolic links or
 * anything but regular files where they exist. Else an error naming the path. */
gboolean kv_state_dir_prepare(const char *dir, const char *const *files, GError **error);

/* Told once, when kv_state_dir_lock() finds the lock taken and starts waiting: @holder
 * is the pid that holds it (0 when it cannot be told). */
typedef void (*KvLockWaitFunc)(const char *dir, pid_t holder, guint wait_seconds,
                               gpointer user_data);

/* Takes the exclusive lock of the state directory @dir (its file "lock"), waiting up to
 * @wait_seconds for another holder: a kvstored activated while the previous one is still
 * finishing waits for it, and says so through @waiting (may be NULL). SIGTERM or SIGINT,
 * when blocked (as kvstored blocks them for its event loop), end the wait: -1 with
 * G_FILE_ERROR_INTR. Returns the lock's descriptor (close it to release), or -1 with an
 * error naming the directory. */
int kv_state_dir_lock(const char *dir, guint wait_seconds, KvLockWaitFunc waiting,
                      gpointer user_data, GError **error);

/* Gives every regular file in @dir to @dir's owner and group, readable by them alone:
 * an offline command run as root (--check, --repair) leaves nothing the service, running
 * as the directory's owner, cannot open. A no-op for a directory root owns. */
gboolean kv_state_dir_give_back(const char *dir, GError **error);

G_END_DECLS
