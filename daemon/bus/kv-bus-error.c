/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "kv-bus-error.h"

#include "kv-error.h"

/* The one place where service errors become D-Bus error names. */
static const struct {
  KvError code;
  const char *name;
} error_names[] = {
    {KV_ERROR_NOT_FOUND, KV_BUS_ERROR_NOT_FOUND},
    {KV_ERROR_INVALID_KEY, KV_BUS_ERROR_INVALID_KEY},
    {KV_ERROR_INVALID_VALUE_TYPE, KV_BUS_ERROR_INVALID_VALUE_TYPE},
    {KV_ERROR_OVERFLOW, KV_BUS_ERROR_OVERFLOW},
    {KV_ERROR_TOO_LARGE, KV_BUS_ERROR_TOO_LARGE},
    {KV_ERROR_STORAGE, KV_BUS_ERROR_STORAGE},
    {KV_ERROR_CONFLICT, KV_BUS_ERROR_CONFLICT},
    {KV_ERROR_ACCESS_DENIED, SD_BUS_ERROR_ACCESS_DENIED},
    {KV_ERROR_QUOTA_EXCEEDED, KV_BUS_ERROR_QUOTA_EXCEEDED},
    {KV_ERROR_UNAVAILABLE, KV_BUS_ERROR_UNAVAILABLE},
    {KV_ERROR_INDETERMINATE, KV_BUS_ERROR_INDETERMINATE},
    {KV_ERROR_COMPACTED, KV_BUS_ERROR_COMPACTED},
    {KV_ERROR_INVALID_ARGS, SD_BUS_ERROR_INVALID_ARGS},
    {KV_ERROR_LEASE_NOT_FOUND, KV_BUS_ERROR_LEASE_NOT_FOUND},
};

const char *kv_bus_error_name(const GError *error)
{
  if (error->domain == KV_ERROR)
    for (gsize i = 0; i < G_N_ELEMENTS(error_names); i++)
      if (error_names[i].code == (KvError)error->code)
        return error_names[i].name;
  return SD_BUS_ERROR_FAILED;
}

int kv_bus_error_set(sd_bus_error *ret_error, const GError *error)
{
  return sd_bus_error_set(ret_error, kv_bus_error_name(error), error->message);
}
