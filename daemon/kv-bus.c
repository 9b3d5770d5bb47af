#include "kv-bus.h"

#include "kv-bus-error.h"
#include "kv-config.h"
#include "kv-sd-bus-cleanup.h"
#include "kv-variant-bridge.h"

#include <errno.h>

/* The object's state: replies to writes wait here until their changes are committed,
 * once per turn of the event loop (group commit). */
struct _KvBus {
  KvService *service;
  sd_bus_slot *slot;
  sd_event_source *commit_source;
  GPtrArray *waiting; /* sd_bus_message*: call, reply, call, reply, ... */
};

static void message_unref(gpointer message)
{
  sd_bus_message_unref(message);
}

/* Sends @reply to @call once the change it reports is committed. */
static int reply_after_commit(KvBus *self, sd_bus_message *call, sd_bus_message *reply)
{
  g_ptr_array_add(self->waiting, sd_bus_message_ref(call));
  g_ptr_array_add(self->waiting, sd_bus_message_ref(reply));
  int r = sd_event_source_set_enabled(self->commit_source, SD_EVENT_ONESHOT);
  /* Positive: the call is taken care of, though its reply comes later. */
  return r < 0 ? r : 1;
}

void kv_bus_commit(KvBus *self)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) waiting = g_steal_pointer(&self->waiting);
  gboolean committed = kv_service_commit(self->service, &error);

  self->waiting = g_ptr_array_new_with_free_func(message_unref);
  for (guint i = 0; i < waiting->len; i += 2) {
    sd_bus_message *call = waiting->pdata[i];
    sd_bus_message *reply = waiting->pdata[i + 1];
    g_auto(sd_bus_error) bus_error = SD_BUS_ERROR_NULL;

    /* A peer that has gone away cannot be told; the others must still be. */
    if (committed)
      (void)sd_bus_send(NULL, reply, NULL);
    else if (kv_bus_error_set(&bus_error, error) < 0)
      (void)sd_bus_reply_method_error(call, &bus_error);
  }
}

gboolean kv_bus_is_idle(KvBus *self)
{
  return self->waiting->len == 0;
}

static int on_commit(sd_event_source *source, void *userdata)
{
  kv_bus_commit(userdata);
  return 0;
}

static int reply_variant(sd_bus_message *call, GVariant *value)
{
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
  if (r < 0)
    return r;

  g_autoptr(GVariant) value = kv_service_get(self->service, key, &error);
  if (value == NULL)
    return kv_bus_error_set(ret_error, error);
  return reply_variant(m, value);
}

static int method_set(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
  KvBus *self = userdata;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) value = NULL;
  g_autoptr(sd_bus_message) reply = NULL;
  const char *key;
  int r = sd_bus_message_read(m, "s", &key);
  if (r < 0)
    return r;
  r = kv_variant_bridge_read_variant(m, &value);
  if (r < 0)
    return r;

  if (!kv_service_set(self->service, key, value, &error))
    return kv_bus_error_set(ret_error, error);
  r = sd_bus_message_new_method_return(m, &reply);
  if (r < 0)
    return r;
  return reply_after_commit(self, m, reply);
}

/* Exists and Delete: a key in, a boolean out. */
typedef gboolean (*KeyFlagFunc)(KvService *service, const char *key, gboolean *out_flag,
                                GError **error);

static int reply_key_flag(sd_bus_message *m, KvBus *self, KeyFlagFunc func, gboolean writes,
                          sd_bus_error *ret_error)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(sd_bus_message) reply = NULL;
  gboolean flag;
  const char *key;
  int r = sd_bus_message_read(m, "s", &key);
  if (r < 0)
    return r;

  if (!func(self->service, key, &flag, &error))
    return kv_bus_error_set(ret_error, error);
  r = sd_bus_message_new_method_return(m, &reply);
  if (r >= 0)
    r = sd_bus_message_append(reply, "b", flag);
  if (r < 0)
    return r;
  return writes ? reply_after_commit(self, m, reply) : sd_bus_send(NULL, reply, NULL);
}

static int method_exists(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
  return reply_key_flag(m, userdata, kv_service_exists, FALSE, ret_error);
}

static int method_delete(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
  return reply_key_flag(m, userdata, kv_service_delete, TRUE, ret_error);
}

static int method_increment(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
  KvBus *self = userdata;
  g_autoptr(GError) error = NULL;
  g_autoptr(sd_bus_message) reply = NULL;
  const char *key;
  int64_t delta;
  gint64 value;
  int r = sd_bus_message_read(m, "sx", &key, &delta);
  if (r < 0)
    return r;

  if (!kv_service_increment(self->service, key, delta, &value, &error))
    return kv_bus_error_set(ret_error, error);
  r = sd_bus_message_new_method_return(m, &reply);
  if (r >= 0)
    r = sd_bus_message_append(reply, "x", (int64_t)value);
  if (r < 0)
    return r;
  return reply_after_commit(self, m, reply);
}

/* Collects the outcome of a kv_service_foreach() that writes into a reply: the first
 * sd-bus failure stops further appends. */
typedef struct {
  sd_bus_message *reply;
  int error;
} ReplyWriter;

static void append_key(const char *key, GVariant *value, guint64 revision, gpointer user_data)
{
  ReplyWriter *writer = user_data;

  if (writer->error >= 0)
    writer->error = sd_bus_message_append_basic(writer->reply, 's', key);
}

static void append_entry(const char *key, GVariant *value, guint64 revision, gpointer user_data)
{
  ReplyWriter *writer = user_data;

  if (writer->error < 0)
    return;
  if ((writer->error = sd_bus_message_open_container(writer->reply, 'e', "sv")) < 0 ||
      (writer->error = sd_bus_message_append_basic(writer->reply, 's', key)) < 0 ||
      (writer->error = kv_variant_bridge_append_variant(writer->reply, value)) < 0)
    return;
  writer->error = sd_bus_message_close_container(writer->reply);
}

/* Keys and GetAll differ only in what each entry contributes to the array. */
static int reply_selection(sd_bus_message *m, KvBus *self, const char *element_type,
                           gboolean with_values, KvRepositoryForeachFunc append)
{
  g_autoptr(sd_bus_message) reply = NULL;
  const char *prefix;
  int r = sd_bus_message_read(m, "s", &prefix);
  if (r < 0)
    return r;
  r = sd_bus_message_new_method_return(m, &reply);
  if (r < 0)
    return r;
  r = sd_bus_message_open_container(reply, 'a', element_type);
  if (r < 0)
    return r;

  ReplyWriter writer = {reply, 0};
  kv_service_foreach(self->service, prefix, with_values, append, &writer);
  if (writer.error < 0)
    return writer.error;

  r = sd_bus_message_close_container(reply);
  if (r < 0)
    return r;
  return sd_bus_send(NULL, reply, NULL);
}

static int method_keys(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
  return reply_selection(m, userdata, "s", FALSE, append_key);
}

static int method_get_all(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
  return reply_selection(m, userdata, "{sv}", TRUE, append_entry);
}

static int property_get_version(sd_bus *bus, const char *path, const char *interface,
                                const char *property, sd_bus_message *reply, void *userdata,
                                sd_bus_error *ret_error)
{
  return sd_bus_message_append_basic(reply, 's', KV_VERSION);
}

static int property_get_count(sd_bus *bus, const char *path, const char *interface,
                              const char *property, sd_bus_message *reply, void *userdata,
                              sd_bus_error *ret_error)
{
  KvBus *self = userdata;
  uint32_t count = kv_service_count(self->service);

  return sd_bus_message_append_basic(reply, 'u', &count);
}

/* Reads are open to every peer; writes keep sd-bus's default privilege check, which on
 * the system bus admits only callers with our uid or CAP_SYS_ADMIN. */
static const sd_bus_vtable kv_vtable[] = {
    SD_BUS_VTABLE_START(0),
    SD_BUS_PROPERTY("Version", "s", property_get_version, 0, SD_BUS_VTABLE_PROPERTY_CONST),
    SD_BUS_PROPERTY("Count", "u", property_get_count, 0, 0),
    SD_BUS_METHOD_WITH_ARGS("Get", SD_BUS_ARGS("s", key), SD_BUS_RESULT("v", value), method_get,
                            SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD_WITH_ARGS("Set", SD_BUS_ARGS("s", key, "v", value), SD_BUS_NO_RESULT, method_set,
                            0),
    SD_BUS_METHOD_WITH_ARGS("Exists", SD_BUS_ARGS("s", key), SD_BUS_RESULT("b", exists),
                            method_exists, SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD_WITH_ARGS("Delete", SD_BUS_ARGS("s", key), SD_BUS_RESULT("b", existed),
                            method_delete, 0),
    SD_BUS_METHOD_WITH_ARGS("Increment", SD_BUS_ARGS("s", key, "x", delta),
                            SD_BUS_RESULT("x", value), method_increment, 0),
    SD_BUS_METHOD_WITH_ARGS("Keys", SD_BUS_ARGS("s", prefix), SD_BUS_RESULT("as", keys),
                            method_keys, SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD_WITH_ARGS("GetAll", SD_BUS_ARGS("s", prefix), SD_BUS_RESULT("a{sv}", entries),
                            method_get_all, SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_VTABLE_END,
};

void kv_bus_free(KvBus *self)
{
  if (self == NULL)
    return;
  sd_bus_slot_unref(self->slot);
  sd_event_source_disable_unref(self->commit_source);
  g_ptr_array_unref(self->waiting);
  g_free(self);
}

int kv_bus_new(sd_bus *bus, KvService *service, KvBus **ret)
{
  g_autoptr(KvBus) self = g_new0(KvBus, 1);
  sd_event *event = sd_bus_get_event(bus);

  self->service = service;
  self->waiting = g_ptr_array_new_with_free_func(message_unref);
  if (event == NULL)
    return -ENXIO;

  /* Idle priority: it runs once the bus has no more input ready, so that every write
   * read in this turn shares one commit. */
  int r = sd_event_add_defer(event, &self->commit_source, on_commit, self);
  if (r >= 0)
    r = sd_event_source_set_priority(self->commit_source, SD_EVENT_PRIORITY_IDLE);
  if (r >= 0)
    r = sd_event_source_set_enabled(self->commit_source, SD_EVENT_OFF);
  if (r >= 0)
    r = sd_bus_add_object_vtable(bus, &self->slot, KV_OBJECT_PATH, KV_INTERFACE, kv_vtable, self);
  if (r < 0)
    return r;
  *ret = g_steal_pointer(&self);
  return 0;
}
