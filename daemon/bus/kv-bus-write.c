/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The bus front's writes: each call read and checked by the access rules, submitted to
 * the service, and answered once its change is committed (kv-bus-commit.c). Leases and
 * locks submit theirs here too (kv_bus_submit()). */
#include "kv-bus-private.h"

#include "kv-bus-error.h"
#include "kv-config.h"
#include "kv-error.h"
#include "kv-log.h"
#include "kv-sd-bus-cleanup.h"
#include "kv-value-check.h"
#include "kv-variant-bridge.h"

#include <errno.h>
#include <string.h>

/* A batch of more value bytes than this has memory trimmed after its commit. */
#define TRIM_AFTER_BYTES (1024 * 1024)

/* Whether the sender of @m may make @writes (of a DeletePrefix of @prefix, or NULL): no
 * administrator's lock stops them, then kv_bus_access_check_writes(), which says what
 * this returns. */
static int check_writes(KvBus *self, sd_bus_message *m, const KvBusWrite *writes, gsize n,
                        const char *prefix, KvBusWritePlan **ret_plan, sd_bus_error *ret_error)
{
  int r = kv_bus_defaults_check_writes(self->defaults, m, writes, n, prefix, ret_error);

  *ret_plan = NULL;
  return r < 0
             ? r
             : kv_bus_access_check_writes(self->access, m, writes, n, prefix, ret_plan, ret_error);
}

/* check_writes() for one key. */
static int check_write(KvBus *self, sd_bus_message *m, const char *key, GVariant *value,
                       gboolean increment, KvBusWritePlan **ret_plan, sd_bus_error *ret_error)
{
  KvBusWrite write = {key, value, increment};

  return check_writes(self, m, &write, 1, NULL, ret_plan, ret_error);
}

/* TOO_LARGE for a value (of @key, or of a batch) refused before it was all read. */
static int value_too_large(KvBus *self, const char *key, sd_bus_error *ret_error)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *which =
      key != NULL ? g_strdup_printf("Value for '%s'", key) : g_strdup("A value in the batch");

  g_set_error(&error, KV_ERROR, KV_ERROR_TOO_LARGE,
              "%s takes more than %zu bytes on the D-Bus wire", which,
              KV_VALUE_WIRE_LIMIT(kv_service_max_value_size(self->service)));
  return kv_bus_error_set(ret_error, error);
}

/* The error for a value of @key (NULL: in a batch) that the bridge could not read (@r):
 * one that names the problem, not InvalidArgs or InconsistentMessage. */
static int value_unread(KvBus *self, const char *key, int r, sd_bus_error *ret_error)
{
  if (r == -EMSGSIZE)
    return value_too_large(self, key, ret_error);
  if (r != -ENOTSUP)
    return r;
  g_autofree char *which =
      key != NULL ? g_strdup_printf("The value for '%s'", key) : g_strdup("A value in the batch");
  return sd_bus_error_setf(ret_error, KV_BUS_ERROR_INVALID_VALUE_TYPE,
                           "%s has a type signature longer than %d characters, which kvstored "
                           "cannot read",
                           which, KV_VARIANT_BRIDGE_MAX_SIGNATURE);
}

/* Reads the value argument of @key, converting no more of it than the limit allows. */
static int read_value(KvBus *self, sd_bus_message *m, const char *key, GVariant **ret,
                      sd_bus_error *ret_error)
{
  int r = kv_variant_bridge_read_variant_bounded(
      m, KV_VALUE_WIRE_LIMIT(kv_service_max_value_size(self->service)), ret);

  return r < 0 ? value_unread(self, key, r, ret_error) : r;
}

/* A write call on its way through the service: it is answered when the service says it
 * is done, which for a repository shared with other hosts is after the event loop has
 * turned. The message's strings stay valid while it is held. */
typedef struct {
  KvBus *self;
  sd_bus_message *call;
  KvBusWritePlan *plan;
  KvWrite write;
  GVariant *value; /* the write's own references and arrays */
  GArray *changes;
  char **keys;
  KvWriter writer;        /* for a write of leases: who makes it */
  KvBusAppendFunc append; /* the reply's arguments, when not the method's by kind */
} BusWrite;

static void bus_write_free(BusWrite *pending)
{
  sd_bus_message_unref(pending->call);
  g_clear_pointer(&pending->value, g_variant_unref);
  g_clear_pointer(&pending->changes, g_array_unref);
  g_strfreev(pending->keys);
  g_free(pending);
}

/* The reply to a write that is done: what its method returns. */
static int append_write_results(sd_bus_message *reply, const KvWrite *write)
{
  switch (write->kind) {
  case KV_WRITE_SET:
    return 0;
  case KV_WRITE_DELETE:
    return sd_bus_message_append(reply, "b", write->deleted != 0);
  case KV_WRITE_INCREMENT:
    return sd_bus_message_append(reply, "x", (int64_t)write->result);
  case KV_WRITE_DELETE_MANY:
    return sd_bus_message_append(reply, "ut", (uint32_t)write->deleted, (uint64_t)write->revision);
  case KV_WRITE_SET_MANY:
  case KV_WRITE_COMPARE_AND_SET:
  case KV_WRITE_COMPARE_AND_DELETE:
    return sd_bus_message_append(reply, "t", (uint64_t)write->revision);
  default:
    g_assert_not_reached();
  }
}

static void on_write_done(KvWrite *write, const GError *error, gpointer user_data)
{
  BusWrite *pending = user_data;
  KvBus *self = pending->self;
  g_autoptr(sd_bus_message) reply = NULL;

  kv_bus_access_settle(self->access, pending->plan, error == NULL);
  if (error != NULL) {
    g_auto(sd_bus_error) bus_error = SD_BUS_ERROR_NULL;
    kv_bus_error_set(&bus_error, error);
    (void)sd_bus_reply_method_error(pending->call, &bus_error);
  } else {
    int r = sd_bus_message_new_method_return(pending->call, &reply);
    if (r >= 0)
      r = pending->append != NULL ? pending->append(reply, write, self->leases)
                                  : append_write_results(reply, write);
    if (r >= 0)
      r = kv_bus_commit_send_after(self->commit, pending->call, reply);
    if (r < 0)
      kv_log(LOG_ERR, "Cannot answer a write: %s", g_strerror(-r));
  }
  self->writes_in_flight--;
  bus_write_free(pending);
}

/* Fills @writer with who sends @m: its uid, its unique name and this bus. */
static int identify_writer(KvBus *self, sd_bus_message *m, KvWriter *writer,
                           sd_bus_error *ret_error)
{
  const KvCaller *caller;
  int r = kv_bus_callers_lookup(self->callers, sd_bus_message_get_sender(m), &caller, ret_error);

  if (r < 0)
    return r;
  writer->uid = caller->uid;
  writer->peer = sd_bus_message_get_sender(m);
  writer->bus = self->bus_name;
  return 0;
}

/* Submits @pending (its write and access plan filled in) to the service, made by the
 * caller of @m when @identify (a write of leases: who makes it matters). Returns 1: the
 * call is taken care of; or a negative errno with @ret_error set, @pending freed and its
 * plan settled, when the caller cannot be identified. */
static int submit_write(KvBus *self, sd_bus_message *m, BusWrite *pending, gboolean identify,
                        sd_bus_error *ret_error)
{
  if (identify) {
    int r = identify_writer(self, m, &pending->writer, ret_error);
    if (r < 0) {
      kv_bus_access_settle(self->access, pending->plan, FALSE);
      bus_write_free(pending);
      return r;
    }
  }
  pending->self = self;
  pending->call = sd_bus_message_ref(m);
  /* Only a write with a lease needs to know who makes it. */
  pending->write.writer = pending->writer.peer != NULL ? &pending->writer : NULL;
  self->writes_in_flight++;
  kv_service_submit(self->service, &pending->write, on_write_done, pending);
  return 1;
}

int kv_bus_submit(KvBus *self, sd_bus_message *m, KvWrite write, const char *access_key,
                  KvBusWritePlan *deletions, KvBusAppendFunc append, sd_bus_error *ret_error)
{
  KvBusWritePlan *plan = deletions;
  BusWrite *pending;
  int r = access_key != NULL ? check_write(self, m, access_key, NULL, FALSE, &plan, ret_error) : 1;

  if (r <= 0)
    return r < 0 ? r : 1;
  pending = g_new0(BusWrite, 1);
  pending->plan = plan;
  pending->write = write;
  pending->append = append;
  return submit_write(self, m, pending, TRUE, ret_error);
}

/* The writes of one key: @write, read from @m up to its value, which Set and
 * CompareAndSet read here, last; checked, then submitted; a write with a lease answers
 * with @append. */
static int write_key_leased(KvBus *self, sd_bus_message *m, KvWrite write, KvBusAppendFunc append,
                            sd_bus_error *ret_error)
{
  g_autoptr(GVariant) value = NULL;
  int r;

  if (write.kind == KV_WRITE_SET || write.kind == KV_WRITE_COMPARE_AND_SET) {
    r = read_value(self, m, write.key, &value, ret_error);
    if (r < 0)
      return r;
  }
  KvBusWritePlan *plan;
  r = check_write(self, m, write.key, value, write.kind == KV_WRITE_INCREMENT, &plan, ret_error);
  if (r <= 0)
    return r < 0 ? r : 1;

  BusWrite *pending = g_new0(BusWrite, 1);
  pending->plan = plan;
  pending->value = g_steal_pointer(&value);
  pending->write = write;
  pending->write.value = pending->value;
  pending->append = append;
  return submit_write(self, m, pending, append != NULL, ret_error);
}

static int write_key(KvBus *self, sd_bus_message *m, KvWrite write, sd_bus_error *ret_error)
{
  return write_key_leased(self, m, write, NULL, ret_error);
}

static int append_revision(sd_bus_message *reply, const KvWrite *write, KvBusLeases *leases)
{
  return sd_bus_message_append(reply, "t", (uint64_t)write->revision);
}

static int append_revision_lease(sd_bus_message *reply, const KvWrite *write, KvBusLeases *leases)
{
  return sd_bus_message_append(reply, "tt", (uint64_t)write->revision, (uint64_t)write->granted);
}

int kv_bus_method_set_leased(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
  const char *key;
  uint64_t lease;
  int r = sd_bus_message_read(m, "st", &key, &lease);

  if (r < 0)
    return r;
  return write_key_leased(userdata, m, (KvWrite){.kind = KV_WRITE_SET, .key = key, .lease = lease},
                          append_revision, ret_error);
}

int kv_bus_method_set_with_ttl(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
  const char *key;
  uint64_t ttl_ms;
  int r = sd_bus_message_read(m, "st", &key, &ttl_ms);

  if (r < 0)
    return r;
  if (ttl_ms == 0)
    return sd_bus_error_set(ret_error, SD_BUS_ERROR_INVALID_ARGS,
                            "A TTL of 0 ms: use Set for a key that does not expire");
  return write_key_leased(userdata, m,
                          (KvWrite){.kind = KV_WRITE_SET, .key = key, .ttl_ms = ttl_ms},
                          append_revision_lease, ret_error);
}

int kv_bus_method_compare_and_set_leased(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
  const char *key;
  uint64_t expected, lease;
  int r = sd_bus_message_read(m, "stt", &key, &expected, &lease);

  if (r < 0)
    return r;
  return write_key_leased(userdata, m,
                          (KvWrite){.kind = KV_WRITE_COMPARE_AND_SET,
                                    .key = key,
                                    .expected_revision = expected,
                                    .lease = lease},
                          append_revision, ret_error);
}

int kv_bus_method_set(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
  const char *key;
  int r = sd_bus_message_read(m, "s", &key);

  if (r < 0)
    return r;
  return write_key(userdata, m, (KvWrite){.kind = KV_WRITE_SET, .key = key}, ret_error);
}

int kv_bus_method_delete(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
  const char *key;
  int r = sd_bus_message_read(m, "s", &key);

  if (r < 0)
    return r;
  return write_key(userdata, m, (KvWrite){.kind = KV_WRITE_DELETE, .key = key}, ret_error);
}

int kv_bus_method_increment(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
  const char *key;
  int64_t delta;
  int r = sd_bus_message_read(m, "sx", &key, &delta);

  if (r < 0)
    return r;
  return write_key(userdata, m, (KvWrite){.kind = KV_WRITE_INCREMENT, .key = key, .delta = delta},
                   ret_error);
}

/* check_writes() for the KvChange @changes of a SetMany. */
static int check_changes(KvBus *self, sd_bus_message *m, GArray *changes, KvBusWritePlan **ret_plan,
                         sd_bus_error *ret_error)
{
  g_autofree KvBusWrite *writes = g_new(KvBusWrite, MAX(changes->len, 1));
  for (guint i = 0; i < changes->len; i++) {
    const KvChange *change = &g_array_index(changes, KvChange, i);
    writes[i] = (KvBusWrite){change->key, change->value, FALSE};
  }
  return check_writes(self, m, writes, changes->len, NULL, ret_plan, ret_error);
}

/* check_writes() for the deletion of @keys (under @prefix, or NULL). */
static int check_deletions(KvBus *self, sd_bus_message *m, char **keys, const char *prefix,
                           KvBusWritePlan **ret_plan, sd_bus_error *ret_error)
{
  gsize n = g_strv_length(keys);
  g_autofree KvBusWrite *writes = g_new0(KvBusWrite, n);

  for (gsize i = 0; i < n; i++)
    writes[i].key = keys[i];
  return check_writes(self, m, writes, n, prefix, ret_plan, ret_error);
}

/* SetMany, and SetManyLeased with @lease. */
static int set_many(sd_bus_message *m, KvBus *self, guint64 lease, sd_bus_error *ret_error)
{
  g_autoptr(GArray) changes = NULL;
  int r = kv_variant_bridge_read_changes(
      m, KV_BATCH_MAX_KEYS, KV_VALUE_WIRE_LIMIT(kv_service_max_value_size(self->service)),
      &changes);
  if (r < 0)
    return value_unread(self, NULL, r, ret_error);
  KvBusWritePlan *plan;
  r = check_changes(self, m, changes, &plan, ret_error);
  if (r <= 0)
    return r < 0 ? r : 1;

  gsize bytes = 0;
  for (guint i = 0; i < changes->len; i++)
    bytes += g_variant_get_size(g_array_index(changes, KvChange, i).value);
  if (bytes > TRIM_AFTER_BYTES)
    kv_bus_commit_trim_after_next(self->commit);

  BusWrite *pending = g_new0(BusWrite, 1);
  pending->plan = plan;
  pending->changes = g_steal_pointer(&changes);
  pending->write = (KvWrite){.kind = KV_WRITE_SET_MANY,
                             .changes = (KvChange *)pending->changes->data,
                             .n_changes = pending->changes->len,
                             .lease = lease};
  return submit_write(self, m, pending, lease != 0, ret_error);
}

int kv_bus_method_set_many(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
  return set_many(m, userdata, 0, ret_error);
}

int kv_bus_method_set_many_leased(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
  uint64_t lease;
  int r = sd_bus_message_read(m, "t", &lease);

  return r < 0 ? r : set_many(m, userdata, lease, ret_error);
}

int kv_bus_delete_keys(KvBus *self, sd_bus_message *m, char **keys, const char *prefix,
                       sd_bus_error *ret_error)
{
  KvBusWritePlan *plan;
  int r = check_deletions(self, m, keys, prefix, &plan, ret_error);
  if (r <= 0) {
    g_strfreev(keys);
    return r < 0 ? r : 1;
  }

  BusWrite *pending = g_new0(BusWrite, 1);
  pending->plan = plan;
  pending->keys = keys;
  pending->write =
      (KvWrite){.kind = KV_WRITE_DELETE_MANY, .keys = (const char *const *)pending->keys};
  return submit_write(self, m, pending, FALSE, ret_error);
}

int kv_bus_method_delete_many(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
  char **keys = NULL;
  int r = kv_variant_bridge_read_strv(m, KV_BATCH_MAX_KEYS, &keys);

  return r < 0 ? r : kv_bus_delete_keys(userdata, m, keys, NULL, ret_error);
}

int kv_bus_method_compare_and_set(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
  const char *key;
  uint64_t expected;
  int r = sd_bus_message_read(m, "st", &key, &expected);

  if (r < 0)
    return r;
  return write_key(
      userdata, m,
      (KvWrite){.kind = KV_WRITE_COMPARE_AND_SET, .key = key, .expected_revision = expected},
      ret_error);
}

int kv_bus_method_compare_and_delete(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
  const char *key;
  uint64_t expected;
  int r = sd_bus_message_read(m, "st", &key, &expected);

  if (r < 0)
    return r;
  return write_key(
      userdata, m,
      (KvWrite){.kind = KV_WRITE_COMPARE_AND_DELETE, .key = key, .expected_revision = expected},
      ret_error);
}
