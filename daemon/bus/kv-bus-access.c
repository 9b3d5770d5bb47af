/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "kv-bus-access.h"

#include "kv-bus-error.h"
#include "kv-error.h"
#include "kv-polkit.h"
#include "kv-quota.h"
#include "kv-sd-bus-cleanup.h"
#include "kv-service.h"

#include <string.h>

/* Assumed size of an incremented key that does not exist yet: an int64. */
#define NEW_COUNTER_BYTES 8

struct _KvBusAccess {
  KvBusCallers *callers;
  KvRepository *repository;
  char **dirs;
  KvAccess *rules;
  KvQuota *quota; /* NULL until a caller with a quota writes: counting takes a walk */
  KvPolkit *polkit;
  KvAccessReader reader; /* the filter handed out last, and its reader */
  KvKeyFilter filter;
};

struct _KvBusWritePlan {
  GArray *changes; /* KvQuotaChange, with owned keys */
};

/* A caller that left waits for polkit no more: nobody would read the answer. */
static void on_peer_left(const char *peer, gpointer user_data)
{
  KvBusAccess *self = user_data;

  kv_polkit_forget_peer(self->polkit, peer);
}

KvBusAccess *kv_bus_access_new(sd_bus *bus, KvBusCallers *callers, KvRepository *repository,
                               const char *const *dirs, GError **error)
{
  KvAccess *rules = kv_access_load(dirs, error);

  if (rules == NULL)
    return NULL;
  KvBusAccess *self = g_new0(KvBusAccess, 1);
  self->callers = callers;
  self->repository = repository;
  self->dirs = g_strdupv((char **)dirs);
  self->rules = rules;
  self->polkit = kv_polkit_new(bus);
  kv_bus_callers_add_left_func(callers, on_peer_left, self);
  return self;
}

void kv_bus_access_free(KvBusAccess *self)
{
  if (self == NULL)
    return;
  kv_bus_callers_remove_left_func(self->callers, on_peer_left, self);
  kv_polkit_free(self->polkit);
  kv_quota_free(self->quota);
  kv_access_free(self->rules);
  g_strfreev(self->dirs);
  g_free(self);
}

gboolean kv_bus_access_reload(KvBusAccess *self, GError **error)
{
  if (self == NULL)
    return TRUE;
  KvAccess *rules = kv_access_load((const char *const *)self->dirs, error);
  if (rules == NULL)
    return FALSE;
  kv_access_free(self->rules);
  self->rules = rules;
  /* Scopes follow the rules: count them anew. */
  kv_bus_access_recount(self);
  return TRUE;
}

void kv_bus_access_recount(KvBusAccess *self)
{
  if (self == NULL)
    return;
  g_clear_pointer(&self->quota, kv_quota_free);
}

/* The quota usage, counted from the data when first needed (a walk of the whole store:
 * about 250 ms for a million keys), not at every start. */
static KvQuota *quota_of(KvBusAccess *self)
{
  if (self->quota == NULL)
    self->quota = kv_quota_new(self->repository, self->rules);
  return self->quota;
}

static int sender_of(KvBusAccess *self, sd_bus_message *m, const KvCaller **ret,
                     sd_bus_error *ret_error)
{
  const char *sender = sd_bus_message_get_sender(m);

  if (sender == NULL)
    return sd_bus_error_set(ret_error, SD_BUS_ERROR_ACCESS_DENIED,
                            "Access denied: the call has no sender");
  return kv_bus_callers_lookup(self->callers, sender, ret, ret_error);
}

static int deny(KvBusAccess *self, const KvCaller *caller, const char *verb, const char *key,
                const char *why, sd_bus_error *ret_error)
{
  g_autofree char *rule = kv_access_describe(self->rules, key);

  return sd_bus_error_setf(ret_error, SD_BUS_ERROR_ACCESS_DENIED,
                           "Access denied: uid %u may not %s '%s' (rule: %s)%s", caller->uid, verb,
                           key, rule, why != NULL ? why : "");
}

/* Whether the rules refuse @caller @mode on @key. An invalid key is the service's to
 * refuse, with InvalidKey. */
static gboolean refuses(KvBusAccess *self, const KvCaller *caller, const char *key,
                        KvAccessMode mode)
{
  return kv_service_validate_key(key, NULL) && !kv_access_allows(self->rules, caller, key, mode);
}

int kv_bus_access_check_read(KvBusAccess *self, sd_bus_message *m, const char *key,
                             sd_bus_error *ret_error)
{
  const KvCaller *caller;

  if (self == NULL)
    return 0;
  int r = sender_of(self, m, &caller, ret_error);
  if (r < 0)
    return r;
  if (refuses(self, caller, key, KV_ACCESS_READ))
    return deny(self, caller, "read", key, NULL, ret_error);
  return 0;
}

int kv_bus_access_read_filter(KvBusAccess *self, sd_bus_message *m, const KvKeyFilter **out_filter,
                              sd_bus_error *ret_error)
{
  const KvCaller *caller;

  *out_filter = NULL;
  if (self == NULL)
    return 0;
  int r = sender_of(self, m, &caller, ret_error);
  if (r < 0)
    return r;
  if (kv_access_reads_all(self->rules, caller))
    return 0;
  self->reader = (KvAccessReader){self->rules, caller};
  self->filter = (KvKeyFilter){kv_access_reader_admits, kv_access_reader_skip, &self->reader};
  *out_filter = &self->filter;
  return 0;
}

/* A value's size as quotas count it, -1 for none. */
static gssize size_of(GVariant *value)
{
  return value != NULL ? (gssize)g_variant_get_size(value) : -1;
}

static gssize stored_size(KvBusAccess *self, const char *key)
{
  g_autoptr(GVariant) value = kv_repository_get(self->repository, key);

  return size_of(value);
}

static void plan_free(KvBusWritePlan *plan)
{
  for (guint i = 0; i < plan->changes->len; i++)
    g_free((char *)g_array_index(plan->changes, KvQuotaChange, i).key);
  g_array_unref(plan->changes);
  g_free(plan);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC(KvBusWritePlan, plan_free)

/* The distinct keys of @writes that the rules refuse @caller, as questions for polkit
 * (their rules owned by @rules). Only the first KV_POLKIT_MAX_KEYS_PER_CALL get their rule
 * described (user and group names looked up): with more, none is asked. */
static GArray *refused_writes(KvBusAccess *self, const KvCaller *caller, const KvBusWrite *writes,
                              gsize n_writes, const char *prefix, GPtrArray *rules)
{
  GArray *questions = g_array_new(FALSE, FALSE, sizeof(KvPolkitQuestion));
  g_autoptr(GHashTable) seen = g_hash_table_new(g_str_hash, g_str_equal);

  for (gsize i = 0; i < n_writes; i++) {
    const char *key = writes[i].key;
    if (!refuses(self, caller, key, KV_ACCESS_WRITE) || !g_hash_table_add(seen, (gpointer)key))
      continue;
    char *rule =
        questions->len < KV_POLKIT_MAX_KEYS_PER_CALL ? kv_access_describe(self->rules, key) : NULL;
    if (rule != NULL)
      g_ptr_array_add(rules, rule);
    KvPolkitQuestion question = {key, rule, prefix};
    g_array_append_val(questions, question);
  }
  return questions;
}

/* Whether polkit authorizes every write of @writes that the rules refuse: 1, 0 while it is
 * asked, or a negative errno. */
static int authorize_refused(KvBusAccess *self, sd_bus_message *m, const KvCaller *caller,
                             const KvBusWrite *writes, gsize n_writes, const char *prefix,
                             sd_bus_error *ret_error)
{
  g_autoptr(GPtrArray) rules = g_ptr_array_new_with_free_func(g_free);
  g_autoptr(GArray) questions = refused_writes(self, caller, writes, n_writes, prefix, rules);
  g_auto(sd_bus_error) polkit_error = SD_BUS_ERROR_NULL;
  g_autofree char *refused = NULL;

  if (questions->len == 0)
    return 1;
  int r = kv_polkit_check(self->polkit, m, caller->uid, KV_POLKIT_ACTION_WRITE,
                          (const KvPolkitQuestion *)questions->data, questions->len, &refused,
                          &polkit_error);
  if (r >= 0)
    return r;
  if (refused == NULL)
    return sd_bus_error_copy(ret_error, &polkit_error);
  if (sd_bus_error_has_name(&polkit_error, SD_BUS_ERROR_ACCESS_DENIED)) {
    g_autofree char *why = g_strdup_printf("; %s", polkit_error.message);
    return deny(self, caller, "write", refused, why, ret_error);
  }
  g_autofree char *rule = kv_access_describe(self->rules, refused);
  return sd_bus_error_setf(ret_error, polkit_error.name, "Writing '%s' (rule: %s): %s", refused,
                           rule, polkit_error.message);
}

int kv_bus_access_check_writes(KvBusAccess *self, sd_bus_message *m, const KvBusWrite *writes,
                               gsize n_writes, const char *prefix, KvBusWritePlan **ret_plan,
                               sd_bus_error *ret_error)
{
  const KvCaller *caller;

  *ret_plan = NULL;
  if (self == NULL)
    return 1;
  int r = sender_of(self, m, &caller, ret_error);
  if (r < 0)
    return r;
  r = authorize_refused(self, m, caller, writes, n_writes, prefix, ret_error);
  if (r <= 0)
    return r;

  gboolean has_quota = kv_access_has_quota(caller->uid);
  /* Until someone with a quota writes, nothing is counted. */
  if (!has_quota && self->quota == NULL)
    return 1;

  g_autoptr(KvBusWritePlan) plan = g_new0(KvBusWritePlan, 1);
  plan->changes = g_array_sized_new(FALSE, FALSE, sizeof(KvQuotaChange), n_writes);
  for (gsize i = 0; i < n_writes; i++) {
    /* The service refuses a bad key (InvalidKey) before any quota is in question. */
    if (!kv_service_validate_key(writes[i].key, NULL))
      continue;
    gssize old_size = stored_size(self, writes[i].key);
    gssize new_size = writes[i].value != NULL ? size_of(writes[i].value)
                      : writes[i].increment   ? (old_size >= 0 ? old_size : NEW_COUNTER_BYTES)
                                              : -1;
    KvQuotaChange change = {g_strdup(writes[i].key), old_size, new_size};
    g_array_append_val(plan->changes, change);
  }
  if (has_quota) {
    g_autoptr(GError) error = NULL;
    if (!kv_quota_check(quota_of(self), self->rules, (const KvQuotaChange *)plan->changes->data,
                        plan->changes->len, &error))
      return kv_bus_error_set(ret_error, error);
  }
  *ret_plan = g_steal_pointer(&plan);
  return 1;
}

KvBusWritePlan *kv_bus_access_plan_deletions(KvBusAccess *self, GHashTable *keys)
{
  GHashTableIter iter;
  gpointer key;

  if (self == NULL || self->quota == NULL)
    return NULL;
  KvBusWritePlan *plan = g_new0(KvBusWritePlan, 1);
  plan->changes = g_array_sized_new(FALSE, FALSE, sizeof(KvQuotaChange), g_hash_table_size(keys));
  g_hash_table_iter_init(&iter, keys);
  while (g_hash_table_iter_next(&iter, &key, NULL)) {
    KvQuotaChange change = {g_strdup(key), stored_size(self, key), -1};
    g_array_append_val(plan->changes, change);
  }
  return plan;
}

void kv_bus_access_settle(KvBusAccess *self, KvBusWritePlan *plan, gboolean applied)
{
  if (plan == NULL)
    return;
  if (applied && self != NULL && self->quota != NULL) {
    /* What the write really stored: an increment's result, say. */
    for (guint i = 0; i < plan->changes->len; i++) {
      KvQuotaChange *change = &g_array_index(plan->changes, KvQuotaChange, i);
      change->new_size = stored_size(self, change->key);
    }
    kv_quota_apply(self->quota, self->rules, (const KvQuotaChange *)plan->changes->data,
                   plan->changes->len);
  }
  plan_free(plan);
}

int kv_bus_access_check_admin(KvBusAccess *self, sd_bus_message *m, sd_bus_error *ret_error)
{
  const KvCaller *caller;

  if (self == NULL)
    return 0;
  int r = sender_of(self, m, &caller, ret_error);
  if (r < 0)
    return r;
  if (caller->uid != 0)
    return sd_bus_error_setf(ret_error, SD_BUS_ERROR_ACCESS_DENIED,
                             "Access denied: only root may do this, not uid %u", caller->uid);
  return 0;
}

gboolean kv_bus_access_is_idle(KvBusAccess *self)
{
  return self == NULL || kv_polkit_is_idle(self->polkit);
}

gboolean kv_bus_access_everyone_reads(KvBusAccess *self, const char *key)
{
  return self == NULL || kv_access_everyone_reads(self->rules, key);
}

gboolean kv_bus_access_peer_reads(KvBusAccess *self, const char *peer, const char *key)
{
  if (self == NULL)
    return TRUE;
  const KvCaller *caller = kv_bus_callers_peek(self->callers, peer);
  return caller != NULL && kv_access_allows(self->rules, caller, key, KV_ACCESS_READ);
}

int kv_bus_access_explain(KvBusAccess *self, sd_bus_message *m, const char *key, char **out_rule,
                          gboolean *out_read, gboolean *out_write, sd_bus_error *ret_error)
{
  const KvCaller *caller;

  if (self == NULL) {
    *out_rule = g_strdup("session bus: its owner reads and writes every key");
    *out_read = *out_write = TRUE;
    return 0;
  }
  int r = sender_of(self, m, &caller, ret_error);
  if (r < 0)
    return r;
  *out_rule = kv_access_describe(self->rules, key);
  *out_read = kv_access_allows(self->rules, caller, key, KV_ACCESS_READ);
  *out_write = kv_access_allows(self->rules, caller, key, KV_ACCESS_WRITE);
  return 0;
}
