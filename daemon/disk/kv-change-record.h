/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "kv-repository.h"

G_BEGIN_DECLS

/* A journal record's payload, the GVariant "(ta(smv))" (KV_JOURNAL_RECORD_TYPE) of a
 * revision and its changes (key, and the new value or nothing for a deletion),
 * serialized by hand: byte for byte what GLib makes, without the three GVariants, the
 * format string and the copy GLib needs for each change. */
/* Appends the payload of @changes at @revision to @out. The values must be in normal
 * form (as every value GLib builds). */
void kv_change_record_serialize(GByteArray *out, guint64 revision, const KvChange *changes,
                                gsize n_changes);

G_END_DECLS
