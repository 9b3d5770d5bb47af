/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "kv-crc32c.h"

#include <string.h>

static guint32 table[256];

static void build_table(void)
{
  for (guint32 i = 0; i < 256; i++) {
    guint32 crc = i;
    for (int bit = 0; bit < 8; bit++)
      crc = (crc >> 1) ^ (0x82F63B78u & (0u - (crc & 1)));
    table[i] = crc;
  }
}

guint32 kv_crc32c_portable(const void *data, gsize size)
{
  static gsize initialized = 0;
  const guint8 *bytes = data;
  guint32 crc = 0xFFFFFFFFu;

  if (g_once_init_enter(&initialized)) {
    build_table();
    g_once_init_leave(&initialized, 1);
  }
  for (gsize i = 0; i < size; i++)
    crc = table[(crc ^ bytes[i]) & 0xFF] ^ (crc >> 8);
  return crc ^ 0xFFFFFFFFu;
}

#if defined(__x86_64__)
/* Eight bytes per instruction: loading a large snapshot spends much of its time here. */
__attribute__((target("sse4.2"))) static guint32 crc32c_sse42(const void *data, gsize size)
{
  const guint8 *bytes = data;
  guint64 crc = 0xFFFFFFFFu;

  for (; size >= 8; size -= 8, bytes += 8) {
    guint64 word;
    memcpy(&word, bytes, sizeof word);
    crc = __builtin_ia32_crc32di(crc, word);
  }
  for (; size > 0; size--, bytes++)
    crc = __builtin_ia32_crc32qi((guint32)crc, *bytes);
  return (guint32)crc ^ 0xFFFFFFFFu;
}
#endif

guint32 kv_crc32c(const void *data, gsize size)
{
#if defined(__x86_64__)
  if (__builtin_cpu_supports("sse4.2"))
    return crc32c_sse42(data, size);
#endif
  return kv_crc32c_portable(data, size);
}
