/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* A run of entries in key order, collected so that the reply carrying them fits the bus:
 * the size of the array they make on the wire, and the values' nesting, are checked as
 * entries are added. */
typedef struct {
  GPtrArray *keys;   /* strings in ->strings */
  GPtrArray *values; /* owned GVariants, one per key; empty for a page of keys only */
  char *next;        /* the last key of the page when more follow it, else NULL */

  /* kv_page_add()'s bookkeeping; the keys' copies, a few allocations for a page */
  GStringChunk *strings;
  gboolean with_values;
  gboolean full;
  guint max_entries;
  gsize max_bytes;
  gsize end; /* where the array ends on the wire so far */
} KvPage;

/* Whether a reader may see @key: the entries it may not are left out of what it reads. */
/* Which keys a caller may see in a listing: @admits says of each key; @skip (may be NULL),
 * given a key @admits refuses, names a later key before which it admits none (NULL: none
 * after it at all), so that a listing passes over a hidden range with one seek instead of
 * a step per key. */
typedef struct {
  gboolean (*admits)(const char *key, gpointer data);
  char *(*skip)(const char *key, gpointer data);
  gpointer data;
} KvKeyFilter;

/* An empty page of at most @max_entries entries in an array of at most @max_bytes on the
 * wire: an 'as', or an 'a{sv}' when @with_values. */
KvPage *kv_page_new(gboolean with_values, guint max_entries, gsize max_bytes);

/* Adds an entry (@value is ignored for a page of keys). Returns TRUE when it was added;
 * FALSE when the page is full (->full is then set, and the entry belongs to the next
 * page), or with @error when the entry cannot go into any reply: TOO_LARGE alone in an
 * empty page, or INVALID_VALUE_TYPE for a value the bus cannot carry. */
gboolean kv_page_add(KvPage *self, const char *key, GVariant *value, GError **error);

void kv_page_free(KvPage *self);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(KvPage, kv_page_free)

G_END_DECLS
