/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Parses a positive byte count with an optional binary suffix K, M or G ("64K", "1M"). */
gboolean kv_parse_size(const char *text, guint64 *out_size, GError **error);

G_END_DECLS
