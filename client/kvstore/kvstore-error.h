/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* org.example.KVStore's errors as a GError domain, for GDBus clients: with it, a failed
 * call's GError is KV_STORE_ERROR, KV_STORE_ERROR_NOT_FOUND and so on, instead of
 * G_IO_ERROR_DBUS_ERROR with the name in the message.
 *
 * Use KV_STORE_ERROR (or call kv_store_error_quark()) once before the first call: GDBus
 * maps the error names it knows when the reply arrives. Header only, nothing to link.
 *
 *   g_autoptr(GError) error = NULL;
 *   (void)KV_STORE_ERROR;
 *   kv_store_call_get_sync(proxy, "missing", &value, NULL, &error);
 *   if (g_error_matches(error, KV_STORE_ERROR, KV_STORE_ERROR_NOT_FOUND))
 *     ...
 *
 * The errors of org.freedesktop.DBus (AccessDenied, InvalidArgs, ...) arrive as
 * G_DBUS_ERROR already. */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

typedef enum {
  KV_STORE_ERROR_NOT_FOUND,          /* org.example.KVStore.Error.NotFound */
  KV_STORE_ERROR_INVALID_KEY,        /* org.example.KVStore.Error.InvalidKey */
  KV_STORE_ERROR_INVALID_VALUE_TYPE, /* org.example.KVStore.Error.InvalidValueType */
  KV_STORE_ERROR_OVERFLOW,           /* org.example.KVStore.Error.Overflow */
  KV_STORE_ERROR_TOO_LARGE,          /* org.example.KVStore.Error.TooLarge */
  KV_STORE_ERROR_STORAGE,            /* org.example.KVStore.Error.StorageError */
  KV_STORE_ERROR_CONFLICT,           /* org.example.KVStore.Error.Conflict */
  KV_STORE_ERROR_QUOTA_EXCEEDED,     /* org.example.KVStore.Error.QuotaExceeded */
  KV_STORE_ERROR_UNAVAILABLE,        /* org.example.KVStore.Error.Unavailable */
  KV_STORE_ERROR_INDETERMINATE,      /* org.example.KVStore.Error.Indeterminate */
  KV_STORE_ERROR_COMPACTED,          /* org.example.KVStore.Error.Compacted */
  KV_STORE_ERROR_LEASE_NOT_FOUND,    /* org.example.KVStore.Error.LeaseNotFound */
} KvStoreError;

#define KV_STORE_ERROR (kv_store_error_quark())

#ifdef __GI_SCANNER__
/* What GObject Introspection sees: libkvstore exports the function too (kvstore-error.c),
 * so that the typelib carries the error domain. */
GQuark kv_store_error_quark(void);
#else
/* The GError domain of KvStoreError codes, registered with GDBus at the first call. */
static inline GQuark kv_store_error_quark(void)
{
  static const GDBusErrorEntry entries[] = {
      {KV_STORE_ERROR_NOT_FOUND, "org.example.KVStore.Error.NotFound"},
      {KV_STORE_ERROR_INVALID_KEY, "org.example.KVStore.Error.InvalidKey"},
      {KV_STORE_ERROR_INVALID_VALUE_TYPE, "org.example.KVStore.Error.InvalidValueType"},
      {KV_STORE_ERROR_OVERFLOW, "org.example.KVStore.Error.Overflow"},
      {KV_STORE_ERROR_TOO_LARGE, "org.example.KVStore.Error.TooLarge"},
      {KV_STORE_ERROR_STORAGE, "org.example.KVStore.Error.StorageError"},
      {KV_STORE_ERROR_CONFLICT, "org.example.KVStore.Error.Conflict"},
      {KV_STORE_ERROR_QUOTA_EXCEEDED, "org.example.KVStore.Error.QuotaExceeded"},
      {KV_STORE_ERROR_UNAVAILABLE, "org.example.KVStore.Error.Unavailable"},
      {KV_STORE_ERROR_INDETERMINATE, "org.example.KVStore.Error.Indeterminate"},
      {KV_STORE_ERROR_COMPACTED, "org.example.KVStore.Error.Compacted"},
      {KV_STORE_ERROR_LEASE_NOT_FOUND, "org.example.KVStore.Error.LeaseNotFound"},
  };
  static gsize quark = 0;

  /* Once a process: a program that includes this header and links libkvstore, which
   * includes it too, has two copies of this function. */
  if (quark == 0 && g_quark_try_string("kv-store-error-quark") != 0)
    return g_quark_from_static_string("kv-store-error-quark");
  g_dbus_error_register_error_domain("kv-store-error-quark", &quark, entries,
                                     G_N_ELEMENTS(entries));
  return (GQuark)quark;
}
#endif

G_END_DECLS
