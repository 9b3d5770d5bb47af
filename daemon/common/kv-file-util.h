/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Small POSIX file helpers for the persistence code. Errors are G_FILE_ERROR, with the
 * path and what failed in the message. */

/* Writes all @size bytes at @offset, retrying short writes. */
gboolean kv_file_pwrite_all(int fd, const void *data, gsize size, goffset offset, const char *path,
                            GError **error);

/* fsync()s the directory @path, so that a rename or a new file in it is durable. */
gboolean kv_file_sync_directory(const char *path, GError **error);

/* Creates (truncating) @path with mode 0600 and writes @data to it, fsync()ed; then
 * renames it over @final_path and syncs the directory @dir. */
gboolean kv_file_replace(const char *dir, const char *path, const char *final_path,
                         const void *data, gsize size, GError **error);

/* Sets @error from errno @saved_errno: "@what @path: strerror". */
void kv_file_set_error(GError **error, int saved_errno, const char *what, const char *path);

G_END_DECLS
