/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libFuzzer: bytes read as a packed snapshot chunk (format 2), past the checksum that the
 * state-dir harness seldom gets through. Whatever the reader hands on is a UTF-8 key and a
 * value in normal form of a valid type, read within the bytes (ASan sees any read past
 * them). */

#include "kv-packed-chunk.h"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const guint8 *data, size_t size);

int LLVMFuzzerTestOneInput(const guint8 *data, size_t size)
{
  /* A copy of its own size, so that a read one byte past the end is caught. */
  g_autofree guint8 *copy = g_memdup2(data, size);
  KvPackedReader reader;
  KvPackedEntry entry;

  kv_packed_reader_init(&reader, copy, size);
  while (kv_packed_reader_next(&reader, &entry) == KV_PACKED_ENTRY) {
    if (!g_utf8_validate(entry.key, -1, NULL) || !g_variant_type_string_is_valid(entry.type))
      abort();
    g_autoptr(GBytes) bytes = g_bytes_new(entry.value, entry.value_size);
    g_autoptr(GVariant) value =
        g_variant_ref_sink(g_variant_new_from_bytes(G_VARIANT_TYPE(entry.type), bytes, FALSE));
    if (!g_variant_is_normal_form(value))
      abort();
  }
  kv_packed_reader_clear(&reader);
  return 0;
}
