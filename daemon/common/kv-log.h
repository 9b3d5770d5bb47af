/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>
#include <syslog.h>

G_BEGIN_DECLS

/* Writes one line to stderr. Under systemd (JOURNAL_STREAM set) the line carries a
 * "<N>" priority prefix that journald understands; otherwise it reads "kvstored: ...".
 * @priority is a syslog level such as LOG_ERR or LOG_INFO. */
void kv_log(int priority, const char *format, ...) G_GNUC_PRINTF(2, 3);

G_END_DECLS
