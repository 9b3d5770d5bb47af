/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The most kvctl reads from a file or stdin: more than any one call carries. */
#define KVCTL_INPUT_MAX_BYTES (128u * 1024 * 1024)

/* The whole of @path, or of standard input for "-", as a NUL-terminated string; NULL
 * with @error (naming @path) when it cannot be read, holds a NUL byte, or is larger than
 * KVCTL_INPUT_MAX_BYTES. */
char *kvctl_read_input(const char *path, GError **error);

G_END_DECLS
