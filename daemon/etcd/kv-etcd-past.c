/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "kv-etcd-past.h"

#include "kv-log.h"

#include <string.h>

struct _KvEtcdPast {
  KvHistory *history;
  guint64 from, until;
  GArray *kept; /* KvEtcdEntry, in revision order */
};

KvEtcdPast *kv_etcd_past_new(KvHistory *history, guint64 from, guint64 until)
{
  KvEtcdPast *self = g_new0(KvEtcdPast, 1);

  self->history = history;
  self->from = MAX(from, 1);
  self->until = until;
  self->kept = g_array_new(FALSE, FALSE, sizeof(KvEtcdEntry));
  g_array_set_clear_func(self->kept, (GDestroyNotify)kv_etcd_entry_clear);
  kv_history_set_filling(history, TRUE);
  return self;
}

void kv_etcd_past_free(KvEtcdPast *self)
{
  if (self == NULL)
    return;
  /* Filled, or given up: the history serves what it has. */
  kv_history_set_filling(self->history, FALSE);
  g_array_unref(self->kept);
  g_free(self);
}

guint64 kv_etcd_past_start(KvEtcdPast *self)
{
  return self->from;
}

void kv_etcd_past_restart(KvEtcdPast *self)
{
  g_array_set_size(self->kept, 0);
}

void kv_etcd_past_compacted(KvEtcdPast *self, guint64 compact_revision)
{
  kv_etcd_past_restart(self);
  self->from = MAX(self->from, compact_revision);
}

/* The kept changes become the history: every change after the one before the oldest
 * revision read, committed up to the load. */
static void fill(KvEtcdPast *self)
{
  kv_history_start_at(self->history, self->from - 1);
  for (guint i = 0; i < self->kept->len; i++) {
    KvEtcdEntry *entry = &g_array_index(self->kept, KvEtcdEntry, i);
    kv_history_append(self->history, entry->key, entry->value, entry->mod_revision);
  }
  kv_history_commit(self->history, self->until);
  kv_log(LOG_INFO,
         "Read back %u changes of etcd's history, revisions %" G_GUINT64_FORMAT
         " to %" G_GUINT64_FORMAT,
         self->kept->len, self->from, self->until);
}

gboolean kv_etcd_past_take(KvEtcdPast *self, GArray *entries, guint64 last_revision)
{
  guint n = 0;

  while (n < entries->len && g_array_index(entries, KvEtcdEntry, n).mod_revision <= self->until)
    n++;
  /* Moved, not copied: the answer's array keeps what comes after. */
  if (n > 0) {
    g_array_append_vals(self->kept, entries->data, n);
    memset(entries->data, 0, n * sizeof(KvEtcdEntry));
    g_array_remove_range(entries, 0, n);
  }
  if (last_revision < self->until)
    return FALSE;
  fill(self);
  return TRUE;
}
