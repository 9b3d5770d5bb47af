#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* CRC-32C (Castagnoli) of @size bytes at @data, as used by iSCSI and ext4. */
guint32 kv_crc32c(const void *data, gsize size);

G_END_DECLS
