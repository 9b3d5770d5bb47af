/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The bus front: the vtable of the interface's methods and the handlers of its reads,
 * with the reply helpers they share; the writes' handlers are in kv-bus-write.c, those
 * of leases and locks in kv-bus-leases.c (a vtable of their own), and what is not call
 * handling beside them (kv-bus-commit.c, -signals, -history, -access, -page, -turns,
 * -properties). */
#include "kv-bus-private.h"

#include "kv-bus-error.h"
#include "kv-bus-page.h"
#include "kv-bus-turns.h"
#include "kv-wire.h"
#include "kv-config.h"
#include "kv-log.h"
#include "kv-sd-bus-cleanup.h"
#include "kv-variant-bridge.h"

#include <errno.h>
#include <string.h>

static void message_unref(gpointer message)
{
  sd_bus_message_unref(message);
}

KvBusAccess *kv_bus_get_access(KvBus *self)
{
  return self->access;
}

int kv_bus_send_after_commit(KvBus *self, sd_bus_message *message)
{
  int r = kv_bus_commit_send_after(self->commit, NULL, message);

  return r < 0 ? r : kv_bus_commit_schedule(self->commit);
}

void kv_bus_commit(KvBus *self)
{
  kv_bus_commit_now(self->commit);
}

void kv_bus_input_drained(KvBus *self)
{
  kv_bus_commit_input_drained(self->commit);
}

gint64 kv_bus_last_commit_end(KvBus *self)
{
  return kv_bus_commit_last_end(self->commit);
}

gboolean kv_bus_holds_leases(KvBus *self)
{
  return kv_leases_count(kv_service_get_leases(self->service)) > 0;
}

gboolean kv_bus_is_idle(KvBus *self)
{
  return kv_bus_commit_is_idle(self->commit) && self->writes_in_flight == 0 &&
         kv_bus_access_is_idle(self->access);
}

/* The service's change observer: Changed or Deleted, sent once the change is committed
 * to those who may see it (kv-bus-signals.c). */
static void on_change(const char *key, GVariant *value, guint64 revision, gpointer user_data)
{
  KvBus *self = user_data;
  g_autoptr(GPtrArray) signals = g_ptr_array_new_with_free_func(message_unref);
  int r = kv_bus_signals_build(self->signals, key, value, revision, signals);

  for (guint i = 0; r >= 0 && i < signals->len; i++)
    r = kv_bus_commit_send_after(self->commit, NULL, g_ptr_array_index(signals, i));
  /* Coalesced changes go out with the commit too, even a change no call of this
   * kvstored made (one an etcd watch brought). */
  if (r >= 0)
    r = kv_bus_commit_schedule(self->commit);
  if (r < 0)
    kv_log(LOG_ERR, "Cannot queue the signal for '%s': %s", key, g_strerror(-r));
}

/* Counts the body of a large reply to @call against its sender's unread bytes. */
static void count_reply(KvBus *self, sd_bus_message *call, gsize body_bytes)
{
  kv_peer_flow_add(self->flow, sd_bus_message_get_sender(call), body_bytes);
}

/* Replies to @call with @page (see kv_bus_reply_page()), counting it. */
static int reply_page_counted(KvBus *self, sd_bus_message *call, const KvPage *page, gboolean paged)
{
  /* The array, then the resume key: a length word, the string and its nul. */
  gsize next_bytes = paged ? 4 + (page->next != NULL ? strlen(page->next) : 0) + 1 : 0;

  count_reply(self, call, page->end + next_bytes);
  return kv_bus_reply_page(call, page, paged);
}

/* Replies to @call with @value in a variant. */
static int reply_variant(KvBus *self, sd_bus_message *call, GVariant *value)
{
  count_reply(self, call, kv_wire_variant_end(value, 0));
  g_autoptr(sd_bus_message) reply = NULL;
  int r = sd_bus_message_new_method_return(call, &reply);
  if (r < 0)
    return r;
  r = kv_variant_bridge_append_variant(reply, value);
  if (r < 0)
    return r;
  return sd_bus_send(NULL, reply, NULL);
}

static int method_get(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
  KvBus *self = userdata;
  g_autoptr(GError) error = NULL;
  const char *key;
  int r = sd_bus_message_read(m, "s", &key);
  if (r >= 0)
    r = kv_bus_access_check_read(self->access, m, key, ret_error);
  if (r == 0)
    r = kv_bus_read_turn(self->service, m, &key, 1, method_get, self);
  if (r != 0)
    return r;

  g_autoptr(GVariant) value = kv_service_get(self->service, key, &error);
  if (value == NULL)
    return kv_bus_error_set(ret_error, error);
  return reply_variant(self, m, value);
}

static int method_exists(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
  KvBus *self = userdata;
  g_autoptr(GError) error = NULL;
  gboolean exists;
  const char *key;
  int r = sd_bus_message_read(m, "s", &key);
  if (r >= 0)
    r = kv_bus_access_check_read(self->access, m, key, ret_error);
  if (r == 0)
    r = kv_bus_read_turn(self->service, m, &key, 1, method_exists, self);
  if (r != 0)
    return r;

  if (!kv_service_exists(self->service, key, &exists, &error))
    return kv_bus_error_set(ret_error, error);
  return sd_bus_reply_method_return(m, "b", exists);
}

/* A call's one argument, a prefix, and the filter of the keys its caller may read. */
static int read_prefix(KvBus *self, sd_bus_message *m, const char **prefix,
                       const KvKeyFilter **filter, sd_bus_error *ret_error)
{
  int r = sd_bus_message_read(m, "s", prefix);

  return r < 0 ? r : kv_bus_access_read_filter(self->access, m, filter, ret_error);
}

/* The listings' handlers, run again at their turn. */
static int method_keys(sd_bus_message *m, void *userdata, sd_bus_error *ret_error);
static int method_get_all(sd_bus_message *m, void *userdata, sd_bus_error *ret_error);
static int method_keys_page(sd_bus_message *m, void *userdata, sd_bus_error *ret_error);
static int method_get_all_page(sd_bus_message *m, void *userdata, sd_bus_error *ret_error);

/* Keys and GetAll: every entry with a prefix, when they fit one reply; @again is the
 * method's handler, for its turn after the writes before it. */
static int reply_selection(sd_bus_message *m, KvBus *self, gboolean with_values,
                           KvBusReadFunc again, sd_bus_error *ret_error)
{
  g_autoptr(GError) error = NULL;
  const char *prefix;
  const KvKeyFilter *filter;
  int r = read_prefix(self, m, &prefix, &filter, ret_error);
  if (r >= 0)
    r = kv_bus_read_turn(self->service, m, NULL, 0, again, self);
  if (r != 0)
    return r;

  g_autoptr(KvPage) page =
      kv_service_select(self->service, prefix, with_values, self->max_reply_bytes, filter, &error);
  if (page == NULL)
    return kv_bus_error_set(ret_error, error);
  return reply_page_counted(self, m, page, FALSE);
}

static int method_keys(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
  return reply_selection(m, userdata, FALSE, method_keys, ret_error);
}

static int method_get_all(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
  return reply_selection(m, userdata, TRUE, method_get_all, ret_error);
}

/* KeysPage and GetAllPage: one page and the key to resume after. */
static int reply_page(sd_bus_message *m, KvBus *self, gboolean with_values, KvBusReadFunc again,
                      sd_bus_error *ret_error)
{
  g_autoptr(GError) error = NULL;
  const char *prefix, *after;
  uint32_t limit;
  const KvKeyFilter *filter;
  int r = sd_bus_message_read(m, "ssu", &prefix, &after, &limit);
  if (r >= 0)
    r = kv_bus_access_read_filter(self->access, m, &filter, ret_error);
  if (r >= 0)
    r = kv_bus_read_turn(self->service, m, NULL, 0, again, self);
  if (r != 0)
    return r;

  g_autoptr(KvPage) page = kv_service_page(self->service, prefix, after, limit, with_values,
                                           self->max_reply_bytes, filter, &error);
  if (page == NULL)
    return kv_bus_error_set(ret_error, error);
  return reply_page_counted(self, m, page, TRUE);
}

static int method_keys_page(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
  return reply_page(m, userdata, FALSE, method_keys_page, ret_error);
}

static int method_get_all_page(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
  return reply_page(m, userdata, TRUE, method_get_all_page, ret_error);
}

static int method_get_with_revision(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
  KvBus *self = userdata;
  g_autoptr(GError) error = NULL;
  g_autoptr(sd_bus_message) reply = NULL;
  guint64 revision;
  const char *key;
  int r = sd_bus_message_read(m, "s", &key);
  if (r >= 0)
    r = kv_bus_access_check_read(self->access, m, key, ret_error);
  if (r == 0)
    r = kv_bus_read_turn(self->service, m, &key, 1, method_get_with_revision, self);
  if (r != 0)
    return r;

  g_autoptr(GVariant) value = kv_service_get_with_revision(self->service, key, &revision, &error);
  if (value == NULL)
    return kv_bus_error_set(ret_error, error);
  count_reply(self, m, kv_wire_variant_end(value, 0) + 8);
  r = sd_bus_message_new_method_return(m, &reply);
  if (r >= 0)
    r = kv_variant_bridge_append_variant(reply, value);
  if (r >= 0)
    r = sd_bus_message_append_basic(reply, 't', &revision);
  if (r < 0)
    return r;
  return sd_bus_send(NULL, reply, NULL);
}

static int method_get_many(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
  KvBus *self = userdata;
  g_autoptr(GError) error = NULL;
  g_autofree const char **keys = NULL;
  const KvKeyFilter *filter;
  int r = kv_variant_bridge_read_strv_borrowed(m, KV_BATCH_MAX_KEYS, &keys);
  if (r >= 0)
    r = kv_bus_access_read_filter(self->access, m, &filter, ret_error);
  if (r >= 0)
    r = kv_bus_read_turn(self->service, m, keys, g_strv_length((char **)keys), method_get_many,
                         self);
  if (r != 0)
    return r;

  g_autoptr(KvPage) found =
      kv_service_get_many(self->service, keys, self->max_reply_bytes, filter, &error);
  if (found == NULL)
    return kv_bus_error_set(ret_error, error);
  return reply_page_counted(self, m, found, FALSE);
}

/* The keys the caller may not read are not its to delete, nor to learn of. */
static int method_delete_prefix(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
  KvBus *self = userdata;
  g_autoptr(GError) error = NULL;
  const char *prefix;
  const KvKeyFilter *filter;
  int r = read_prefix(self, m, &prefix, &filter, ret_error);
  if (r >= 0)
    r = kv_bus_read_turn(self->service, m, NULL, 0, method_delete_prefix, self);
  if (r != 0)
    return r;

  char **keys = kv_service_prefix_keys(self->service, prefix, filter, &error);
  if (keys == NULL)
    return kv_bus_error_set(ret_error, error);
  return kv_bus_delete_keys(self, m, keys, prefix, ret_error);
}

static int method_subscribe(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
  KvBus *self = userdata;

  return kv_bus_signals_subscribe(self->signals, m, ret_error);
}

static int method_subscribe_coalesced(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
  KvBus *self = userdata;

  return kv_bus_signals_subscribe_coalesced(self->signals, m, ret_error);
}

static int method_subscribe_since(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
  KvBus *self = userdata;

  return kv_bus_history_subscribe_since(self->history, m, ret_error);
}

static int method_changes_since(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
  KvBus *self = userdata;

  return kv_bus_history_changes_since(self->history, m, ret_error);
}

static int method_unsubscribe(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
  KvBus *self = userdata;

  return kv_bus_signals_unsubscribe(self->signals, m, ret_error);
}

static int method_check_access(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
  KvBus *self = userdata;
  g_autoptr(GError) error = NULL;
  g_autofree char *rule = NULL;
  gboolean can_read, can_write;
  const char *key;
  int r = sd_bus_message_read(m, "s", &key);

  if (r >= 0 && !kv_service_validate_key(key, &error))
    return kv_bus_error_set(ret_error, error);
  if (r >= 0)
    r = kv_bus_access_explain(self->access, m, key, &rule, &can_read, &can_write, ret_error);
  if (r < 0)
    return r;
  const char *lock = kv_bus_defaults_lock_for(self->defaults, m, key);
  if (lock != NULL) {
    g_autofree char *rules = g_steal_pointer(&rule);
    rule = g_strdup_printf("%s; locked by the administrator (%s)", rules, lock);
    can_write = FALSE;
  }
  return sd_bus_reply_method_return(m, "sbb", rule, can_read, can_write);
}

static int method_reload(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
  KvBus *self = userdata;
  g_autoptr(GError) error = NULL;
  int r = kv_bus_access_check_admin(self->access, m, ret_error);

  if (r < 0)
    return r;
  if (!kv_bus_reload(self, &error))
    return sd_bus_error_setf(ret_error, SD_BUS_ERROR_FAILED, "The old rules stay: %s",
                             error->message);
  return sd_bus_reply_method_return(m, NULL);
}

gboolean kv_bus_reload(KvBus *self, GError **error)
{
  g_autoptr(GError) local_error = NULL;

  if (!kv_bus_defaults_reload(self->defaults, &local_error)) {
    kv_log(LOG_ERR, "Cannot reload the defaults, keeping the old ones: %s", local_error->message);
    g_propagate_error(error, g_steal_pointer(&local_error));
    return FALSE;
  }
  /* The session bus has no access rules to read. */
  if (self->access == NULL)
    return TRUE;
  if (!kv_bus_access_reload(self->access, &local_error)) {
    kv_log(LOG_ERR, "Cannot reload the access rules, keeping the old ones: %s",
           local_error->message);
    g_propagate_error(error, g_steal_pointer(&local_error));
    return FALSE;
  }
  kv_log(LOG_INFO, "Reloaded the access rules");
  return TRUE;
}

static int property_get_revision(sd_bus *bus, const char *path, const char *interface,
                                 const char *property, sd_bus_message *reply, void *userdata,
                                 sd_bus_error *ret_error)
{
  KvBus *self = userdata;
  uint64_t revision = kv_service_revision(self->service);

  return sd_bus_message_append_basic(reply, 't', &revision);
}

static int property_get_version(sd_bus *bus, const char *path, const char *interface,
                                const char *property, sd_bus_message *reply, void *userdata,
                                sd_bus_error *ret_error)
{
  return sd_bus_message_append_basic(reply, 's', KV_VERSION);
}

static int property_get_replica_current(sd_bus *bus, const char *path, const char *interface,
                                        const char *property, sd_bus_message *reply, void *userdata,
                                        sd_bus_error *ret_error)
{
  KvBus *self = userdata;

  return sd_bus_message_append(reply, "b", kv_service_is_current(self->service));
}

static int property_get_count(sd_bus *bus, const char *path, const char *interface,
                              const char *property, sd_bus_message *reply, void *userdata,
                              sd_bus_error *ret_error)
{
  KvBus *self = userdata;
  uint32_t count = kv_service_count(self->service);

  return sd_bus_message_append_basic(reply, 'u', &count);
}

/* Every peer may call every method: kvstored decides by the access rules, key by key. */
static const sd_bus_vtable kv_vtable[] = {
    SD_BUS_VTABLE_START(0),
    SD_BUS_PROPERTY("Version", "s", property_get_version, 0, SD_BUS_VTABLE_PROPERTY_CONST),
    SD_BUS_PROPERTY("Count", "u", property_get_count, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
    SD_BUS_PROPERTY("Revision", "t", property_get_revision, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
    SD_BUS_PROPERTY("ReplicaCurrent", "b", property_get_replica_current, 0, 0),
    SD_BUS_METHOD_WITH_ARGS("Get", SD_BUS_ARGS("s", key), SD_BUS_RESULT("v", value), method_get,
                            SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD_WITH_ARGS("Set", SD_BUS_ARGS("s", key, "v", value), SD_BUS_NO_RESULT,
                            kv_bus_method_set, SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD_WITH_ARGS("Exists", SD_BUS_ARGS("s", key), SD_BUS_RESULT("b", exists),
                            method_exists, SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD_WITH_ARGS("Delete", SD_BUS_ARGS("s", key), SD_BUS_RESULT("b", existed),
                            kv_bus_method_delete, SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD_WITH_ARGS("Increment", SD_BUS_ARGS("s", key, "x", delta),
                            SD_BUS_RESULT("x", value), kv_bus_method_increment,
                            SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD_WITH_ARGS("Keys", SD_BUS_ARGS("s", prefix), SD_BUS_RESULT("as", keys),
                            method_keys, SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD_WITH_ARGS("GetAll", SD_BUS_ARGS("s", prefix), SD_BUS_RESULT("a{sv}", entries),
                            method_get_all, SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD_WITH_ARGS("KeysPage", SD_BUS_ARGS("s", prefix, "s", after, "u", limit),
                            SD_BUS_RESULT("as", keys, "s", next), method_keys_page,
                            SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD_WITH_ARGS("GetAllPage", SD_BUS_ARGS("s", prefix, "s", after, "u", limit),
                            SD_BUS_RESULT("a{sv}", entries, "s", next), method_get_all_page,
                            SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD_WITH_ARGS("GetWithRevision", SD_BUS_ARGS("s", key),
                            SD_BUS_RESULT("v", value, "t", revision), method_get_with_revision,
                            SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD_WITH_ARGS("GetMany", SD_BUS_ARGS("as", keys), SD_BUS_RESULT("a{sv}", found),
                            method_get_many, SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD_WITH_ARGS("SetMany", SD_BUS_ARGS("a{sv}", entries), SD_BUS_RESULT("t", revision),
                            kv_bus_method_set_many, SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD_WITH_ARGS("DeleteMany", SD_BUS_ARGS("as", keys),
                            SD_BUS_RESULT("u", deleted, "t", revision), kv_bus_method_delete_many,
                            SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD_WITH_ARGS("DeletePrefix", SD_BUS_ARGS("s", prefix),
                            SD_BUS_RESULT("u", deleted, "t", revision), method_delete_prefix,
                            SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD_WITH_ARGS(
        "CompareAndSet", SD_BUS_ARGS("s", key, "t", expected_revision, "v", value),
        SD_BUS_RESULT("t", revision), kv_bus_method_compare_and_set, SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD_WITH_ARGS("CompareAndDelete", SD_BUS_ARGS("s", key, "t", expected_revision),
                            SD_BUS_RESULT("t", revision), kv_bus_method_compare_and_delete,
                            SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD_WITH_ARGS("SetLeased", SD_BUS_ARGS("s", key, "t", lease, "v", value),
                            SD_BUS_RESULT("t", revision), kv_bus_method_set_leased,
                            SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD_WITH_ARGS("SetWithTtl", SD_BUS_ARGS("s", key, "t", ttl_ms, "v", value),
                            SD_BUS_RESULT("t", revision, "t", lease), kv_bus_method_set_with_ttl,
                            SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD_WITH_ARGS("SetManyLeased", SD_BUS_ARGS("t", lease, "a{sv}", entries),
                            SD_BUS_RESULT("t", revision), kv_bus_method_set_many_leased,
                            SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD_WITH_ARGS("CompareAndSetLeased",
                            SD_BUS_ARGS("s", key, "t", expected_revision, "t", lease, "v", value),
                            SD_BUS_RESULT("t", revision), kv_bus_method_compare_and_set_leased,
                            SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD_WITH_ARGS("Subscribe", SD_BUS_ARGS("s", prefix), SD_BUS_NO_RESULT,
                            method_subscribe, SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD_WITH_ARGS("SubscribeCoalesced", SD_BUS_ARGS("s", prefix), SD_BUS_NO_RESULT,
                            method_subscribe_coalesced, SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD_WITH_ARGS("SubscribeSince", SD_BUS_ARGS("s", prefix, "t", last_seen),
                            SD_BUS_RESULT("t", revision), method_subscribe_since,
                            SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD_WITH_ARGS("Unsubscribe", SD_BUS_ARGS("s", prefix), SD_BUS_NO_RESULT,
                            method_unsubscribe, SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD_WITH_ARGS(
        "ChangesSince", SD_BUS_ARGS("s", prefix, "t", last_seen, "s", after, "u", limit),
        SD_BUS_RESULT("a(sbvt)", changes, "t", next, "s", next_after, "b", more),
        method_changes_since, SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD_WITH_ARGS("CheckAccess", SD_BUS_ARGS("s", key),
                            SD_BUS_RESULT("s", rule, "b", can_read, "b", can_write),
                            method_check_access, SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD_WITH_ARGS("Reload", SD_BUS_NO_ARGS, SD_BUS_NO_RESULT, method_reload,
                            SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_SIGNAL_WITH_ARGS("Changed", SD_BUS_ARGS("s", key, "v", value, "t", revision), 0),
    SD_BUS_SIGNAL_WITH_ARGS("Deleted", SD_BUS_ARGS("s", key, "t", revision), 0),
    SD_BUS_SIGNAL_WITH_ARGS("Changes", SD_BUS_ARGS("a(sbvt)", changes), 0),
    SD_BUS_SIGNAL_WITH_ARGS("SubscriptionLost", SD_BUS_ARGS("s", reason), 0),
    SD_BUS_VTABLE_END,
};

void kv_bus_free(KvBus *self)
{
  if (self == NULL)
    return;
  /* A commit under way tells of its end, with the signals and properties: it ends first. */
  kv_bus_commit_free(self->commit);
  kv_service_set_change_func(self->service, NULL, NULL);
  sd_bus_slot_unref(self->slot);
  kv_bus_history_free(self->history);
  kv_bus_leases_free(self->leases);
  kv_bus_defaults_free(self->defaults);
  g_free(self->bus_name);
  kv_bus_signals_free(self->signals);
  kv_bus_properties_free(self->properties);
  g_free(self);
}

int kv_bus_new(sd_bus *bus, KvService *service, KvPeerFlow *flow, KvBusCallers *callers,
               KvBusAccess *access, gsize max_message_bytes, KvBus **ret)
{
  g_autoptr(KvBus) self = g_new0(KvBus, 1);
  sd_event *event = sd_bus_get_event(bus);

  /* Room for the header (names, signature) and the resume key of a page. */
  self->max_reply_bytes = MIN(max_message_bytes - KV_REPLY_RESERVED_BYTES, KV_REPLY_MAX_BYTES);
  self->service = service;
  self->flow = flow;
  self->access = access;
  self->signals = kv_bus_signals_new(bus, callers, access, flow, self->max_reply_bytes);
  self->history =
      kv_bus_history_new(service, self->signals, callers, access, flow, self->max_reply_bytes);
  self->bus = bus;
  self->callers = callers;
  if (event == NULL)
    return -ENXIO;
  sd_id128_t machine, bus_id;
  int r = sd_id128_get_machine(&machine);
  if (r < 0)
    machine = SD_ID128_NULL;
  r = sd_bus_get_bus_id(bus, &bus_id);
  if (r < 0)
    return r;
  self->bus_name = g_strdup_printf(SD_ID128_FORMAT_STR "/" SD_ID128_FORMAT_STR,
                                   SD_ID128_FORMAT_VAL(machine), SD_ID128_FORMAT_VAL(bus_id));

  r = kv_bus_properties_new(bus, callers, access != NULL, &self->properties);
  if (r >= 0)
    r = kv_bus_commit_new(bus, service, access, self->signals, self->properties, &self->commit);
  if (r >= 0)
    r = sd_bus_add_object_vtable(bus, &self->slot, KV_OBJECT_PATH, KV_INTERFACE, kv_vtable, self);
  if (r >= 0)
    r = kv_bus_defaults_new(self, bus, &self->defaults);
  if (r < 0)
    return r;
  /* Before the leases: those that ended while kvstored was away end now, with signals. */
  kv_service_set_change_func(service, on_change, self);
  r = kv_bus_leases_new(self, bus, service, callers, self->bus_name, &self->leases);
  if (r < 0)
    return r;
  *ret = g_steal_pointer(&self);
  return 0;
}
