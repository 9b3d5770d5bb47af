/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* GVariant's serialization rules that kvstored's own readers and writers of its files
 * share (kv-snapshot-chunk.c, kv-change-record.c): a container's framing offsets are
 * little-endian and as wide as its total size needs; items holding a 64-bit number start
 * on an 8-byte boundary. */

/* The width of the framing offsets of a container of @size bytes in all. */
static inline guint kv_framing_offset_size(gsize size)
{
  return size <= G_MAXUINT8 ? 1 : size <= G_MAXUINT16 ? 2 : size <= G_MAXUINT32 ? 4 : 8;
}

/* The size of a container whose contents take @body bytes and that needs @offsets framing
 * offsets, each of the smallest width that can address it. */
static inline gsize kv_framing_total_size(gsize body, gsize offsets)
{
  if (body + offsets <= G_MAXUINT8)
    return body + offsets;
  if (body + 2 * offsets <= G_MAXUINT16)
    return body + 2 * offsets;
  if (body + 4 * offsets <= G_MAXUINT32)
    return body + 4 * offsets;
  return body + 8 * offsets;
}

/* The framing offset of @width bytes at @at. */
static inline gsize kv_framing_read_offset(const guint8 *at, guint width)
{
  gsize value = 0;

  for (guint i = 0; i < width; i++)
    value |= (gsize)at[i] << (8 * i);
  return value;
}

static inline gsize kv_framing_align8(gsize offset)
{
  return (offset + 7) & ~(gsize)7;
}

/* Appends @value to @out as a framing offset of @width bytes. */
static inline void kv_framing_append_offset(GByteArray *out, gsize value, guint width)
{
  guint8 bytes[8];

  for (guint i = 0; i < width; i++)
    bytes[i] = (guint8)(value >> (8 * i));
  g_byte_array_append(out, bytes, width);
}

/* Appends @n (at most 8) zero bytes of padding to @out. */
static inline void kv_framing_append_zeros(GByteArray *out, gsize n)
{
  static const guint8 zeros[8];

  g_byte_array_append(out, zeros, (guint)n);
}

G_END_DECLS
