/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Offline examination and repair of a state directory (kvstored --check, --repair). Both
 * take the directory's lock, so they never run beside a kvstored using it. */

/* Describes each file of @dir in @report: records, revisions, and every damage with its
 * offset. Sets @out_healthy when kvstored would load it as it is (a torn journal tail is
 * healthy: the start cuts it). FALSE with @error when it cannot look. */
gboolean kv_repair_check(const char *dir, GString *report, gboolean *out_healthy, GError **error);

/* Repairs @dir, keeping every intact record: a damaged journal keeps the whole records
 * before its first damage; a damaged snapshot is rebuilt from its whole records and the
 * journal. Each damaged file is kept beside, renamed NAME.damaged-TIME. @report says
 * what was kept and what was dropped. FALSE with @error when it cannot (a file of a
 * newer format, the directory in use, a write failing); then nothing was changed. */
gboolean kv_repair(const char *dir, GString *report, GError **error);

G_END_DECLS
