/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "kv-access.h"
#include "kv-bus-callers.h"
#include "kv-page.h"
#include "kv-repository.h"

#include <systemd/sd-bus.h>

G_BEGIN_DECLS

/* Access control on the system bus: the bus front asks here, for each call, whether its
 * sender may read or write the keys it names. The rules (kv-access.c) decide, with the
 * caller's credentials from the bus; a write they refuse may be authorized by polkit
 * (kv-polkit.c); a caller's writes stay within its quota (kv-quota.c). Every function
 * takes a NULL @self, as on the session bus, where everything is allowed. */
typedef struct _KvBusAccess KvBusAccess;

/* A write a call asks for: @key gets @value, or is incremented, or (neither) deleted. */
typedef struct {
  const char *key;
  GVariant *value;
  gboolean increment;
} KvBusWrite;

/* What kv_bus_access_settle() needs of a write that was allowed. */
typedef struct _KvBusWritePlan KvBusWritePlan;

/* Reads the rules from @dirs (see kv_access_load()); counts the quota usage in
 * @repository when first needed; asks @callers who the callers are. @repository and @callers are
 * borrowed and must outlive the result. NULL with @error naming a bad file. */
KvBusAccess *kv_bus_access_new(sd_bus *bus, KvBusCallers *callers, KvRepository *repository,
                               const char *const *dirs, GError **error);

/* Reads the rules again; on failure the old ones stay. */
gboolean kv_bus_access_reload(KvBusAccess *self, GError **error);

/* 0 when the sender of @m may read @key; else a negative errno with AccessDenied. */
int kv_bus_access_check_read(KvBusAccess *self, sd_bus_message *m, const char *key,
                             sd_bus_error *ret_error);

/* The filter that leaves out of a listing what the sender of @m may not read (NULL: it
 * may read everything), valid until the next call. 0 or a negative errno. */
int kv_bus_access_read_filter(KvBusAccess *self, sd_bus_message *m, const KvKeyFilter **out_filter,
                              sd_bus_error *ret_error);

/* Whether the sender of @m may make @writes (of a DeletePrefix of @prefix, or NULL): every
 * key the rules refuse must be authorized by polkit, each key asked on its own. 1 yes, and
 * *@ret_plan must go to kv_bus_access_settle(); 0 when polkit is being asked (the handler
 * returns 1 and the call comes again); a negative errno with AccessDenied naming a key
 * refused, InteractiveAuthorizationRequired, or QuotaExceeded. */
int kv_bus_access_check_writes(KvBusAccess *self, sd_bus_message *m, const KvBusWrite *writes,
                               gsize n_writes, const char *prefix, KvBusWritePlan **ret_plan,
                               sd_bus_error *ret_error);

/* Counts an allowed write in the quotas once it was @applied, and frees @plan. */
void kv_bus_access_settle(KvBusAccess *self, KvBusWritePlan *plan, gboolean applied);

/* The plan of a deletion of @keys (a set of key strings) that no caller's rights decide
 * (a lease's end), for kv_bus_access_settle() to count; NULL on the session bus. */
KvBusWritePlan *kv_bus_access_plan_deletions(KvBusAccess *self, GHashTable *keys);

/* Forgets the quota usage, to count it again from the data when next needed: after a
 * commit that rolled changes back. */
void kv_bus_access_recount(KvBusAccess *self);

/* 0 when the sender of @m may administer kvstored (root); else AccessDenied. */
int kv_bus_access_check_admin(KvBusAccess *self, sd_bus_message *m, sd_bus_error *ret_error);

/* Whether every peer may read @key, so that its changes may be broadcast. */
gboolean kv_bus_access_everyone_reads(KvBusAccess *self, const char *key);

/* Whether @peer, which has called before, may read @key. */
gboolean kv_bus_access_peer_reads(KvBusAccess *self, const char *peer, const char *key);

/* For the sender of @m: the rule deciding @key, described, and whether it may read and
 * write @key. 0 or a negative errno. */
int kv_bus_access_explain(KvBusAccess *self, sd_bus_message *m, const char *key, char **out_rule,
                          gboolean *out_read, gboolean *out_write, sd_bus_error *ret_error);

/* Whether no call waits for polkit. */
gboolean kv_bus_access_is_idle(KvBusAccess *self);

void kv_bus_access_free(KvBusAccess *self);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(KvBusAccess, kv_bus_access_free)

G_END_DECLS
