/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>
#include <systemd/sd-bus.h>

G_BEGIN_DECLS

#define KV_BUS_ERROR_NOT_FOUND          "org.example.KVStore.Error.NotFound"
#define KV_BUS_ERROR_INVALID_KEY        "org.example.KVStore.Error.InvalidKey"
#define KV_BUS_ERROR_INVALID_VALUE_TYPE "org.example.KVStore.Error.InvalidValueType"
#define KV_BUS_ERROR_OVERFLOW           "org.example.KVStore.Error.Overflow"
#define KV_BUS_ERROR_TOO_LARGE          "org.example.KVStore.Error.TooLarge"
#define KV_BUS_ERROR_STORAGE            "org.example.KVStore.Error.StorageError"
#define KV_BUS_ERROR_CONFLICT           "org.example.KVStore.Error.Conflict"
#define KV_BUS_ERROR_QUOTA_EXCEEDED     "org.example.KVStore.Error.QuotaExceeded"
#define KV_BUS_ERROR_UNAVAILABLE        "org.example.KVStore.Error.Unavailable"
#define KV_BUS_ERROR_INDETERMINATE      "org.example.KVStore.Error.Indeterminate"
#define KV_BUS_ERROR_COMPACTED          "org.example.KVStore.Error.Compacted"
#define KV_BUS_ERROR_LEASE_NOT_FOUND    "org.example.KVStore.Error.LeaseNotFound"

/* The D-Bus error name for @error: a KV_ERROR code maps to its name above, anything
 * else to org.freedesktop.DBus.Error.Failed. */
const char *kv_bus_error_name(const GError *error);

/* Fills @ret_error from @error and returns the negative errno sd-bus handlers return. */
int kv_bus_error_set(sd_bus_error *ret_error, const GError *error);

G_END_DECLS
