/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A write's plan: the changes it makes and the conditions under which they are right.
 * Shared by the writes of keys (kv-service-write.c) and those of leases and locks
 * (kv-service-leases.c). */
#include "kv-service-private.h"

#include <string.h>

void kv_plan_clear(KvPlan *plan)
{
  g_clear_pointer(&plan->changes, g_array_unref);
  g_clear_pointer(&plan->compares, g_array_unref);
  g_clear_pointer(&plan->values, g_ptr_array_unref);
  g_clear_pointer(&plan->strings, g_ptr_array_unref);
}

void kv_plan_init(KvPlan *plan)
{
  kv_plan_clear(plan);
  plan->changes = g_array_new(FALSE, FALSE, sizeof(KvChange));
  plan->compares = g_array_new(FALSE, FALSE, sizeof(KvCompare));
  plan->values = g_ptr_array_new_with_free_func((GDestroyNotify)g_variant_unref);
  plan->strings = g_ptr_array_new_with_free_func(g_free);
}

void kv_plan_change(KvPlan *plan, const char *key, GVariant *value)
{
  KvChange change = {key, value};

  g_array_append_val(plan->changes, change);
}

void kv_plan_compare(KvPlan *plan, const char *key, guint64 revision)
{
  KvCompare compare = {key, revision};

  g_array_append_val(plan->compares, compare);
}

const char *kv_plan_own_key(KvPlan *plan, char *key)
{
  g_ptr_array_add(plan->strings, key);
  return key;
}

GVariant *kv_plan_own_value(KvPlan *plan, GVariant *value)
{
  g_ptr_array_add(plan->values, g_variant_ref_sink(value));
  return value;
}

guint64 kv_service_revision_of(KvService *self, const char *key)
{
  guint64 revision = 0;
  g_autoptr(GVariant) value = kv_repository_lookup(self->repository, key, &revision);

  return value != NULL ? revision : 0;
}
