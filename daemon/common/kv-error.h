/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Errors of the service layer. The bus layer maps each code to one D-Bus error name
 * (kv-bus-error.c); nothing here knows about D-Bus. */
#define KV_ERROR (kv_error_quark())

typedef enum {
  KV_ERROR_NOT_FOUND,
  KV_ERROR_INVALID_KEY,
  KV_ERROR_INVALID_VALUE_TYPE,
  KV_ERROR_OVERFLOW,
  KV_ERROR_TOO_LARGE,
  KV_ERROR_STORAGE,
  KV_ERROR_CONFLICT,
  KV_ERROR_ACCESS_DENIED,
  KV_ERROR_QUOTA_EXCEEDED,
  KV_ERROR_UNAVAILABLE,     /* the store behind the repository (etcd) did not make the write */
  KV_ERROR_INDETERMINATE,   /* it did not tell in time whether it made the write */
  KV_ERROR_COMPACTED,       /* the history asked for is no longer kept */
  KV_ERROR_INVALID_ARGS,    /* arguments that name something this store never had */
  KV_ERROR_LEASE_NOT_FOUND, /* the lease ended, or never was */
} KvError;

/* The GError domain of KvError codes. */
GQuark kv_error_quark(void);

G_END_DECLS
