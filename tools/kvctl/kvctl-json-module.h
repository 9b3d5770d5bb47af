/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The functions of kvctl-json.h, from the kvctl-json module. kvctl loads it only for the
 * commands that use JSON, so that every other call starts without json-glib and GIO and
 * the dozen libraries they bring. */
typedef struct {
  char *(*from_entries)(GVariant *entries);
  char *(*from_value)(GVariant *value);
  char *(*from_keys)(const char *const *keys);
  GVariant *(*to_entries)(const char *text, GError **error);
} KvctlJson;

/* Loads the module, from beside the kvctl executable (a build tree) or else from
 * KV_PKGLIBDIR; FALSE with @error (G_FILE_ERROR_NOENT) when it cannot. */
gboolean kvctl_json_load(KvctlJson *out, GError **error);

G_END_DECLS
