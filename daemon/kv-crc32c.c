#include "kv-crc32c.h"

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

guint32 kv_crc32c(const void *data, gsize size)
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
