/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* CRC-32C (Castagnoli) of @size bytes at @data, as used by iSCSI and ext4: with the
 * CPU's crc32 instruction where there is one (x86 SSE 4.2), else from a table. */
guint32 kv_crc32c(const void *data, gsize size);

/* The table-driven computation alone, for testing it where the CPU would take over. */
guint32 kv_crc32c_portable(const void *data, gsize size);

G_END_DECLS
