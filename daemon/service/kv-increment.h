/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Redis INCRBY on typed values. Returns the incremented value (a new, non-floating
 * reference) and its numeric result in @out_result, or NULL with KV_ERROR_OVERFLOW or
 * KV_ERROR_INVALID_VALUE_TYPE.
 *
 * - @current NULL (missing key): int64 @delta.
 * - Integer types (y n q i u x t) keep their type; the result must fit that type and int64.
 * - A string holding a canonical base-10 int64 ("0" or -?[1-9][0-9]*) stays a string.
 * - Anything else is KV_ERROR_INVALID_VALUE_TYPE. */
GVariant *kv_increment(GVariant *current, gint64 delta, gint64 *out_result, GError **error);

/* Parses @text as a canonical base-10 int64: no sign other than a leading '-', no spaces,
 * no leading zeros, not "-0", within int64 range. */
gboolean kv_parse_canonical_int64(const char *text, gint64 *out_value);

G_END_DECLS
