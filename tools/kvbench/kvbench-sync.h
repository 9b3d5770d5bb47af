/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The anchor for durable writes: how many times per second one process can append 64
 * bytes to a file in @dir and fdatasync it, for @seconds. A negative errno on failure. */
double kvbench_bare_fdatasync_rate(const char *dir, double seconds);

G_END_DECLS
