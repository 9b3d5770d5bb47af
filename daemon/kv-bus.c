#include "kv-bus.h"

#include "kv-bus-error.h"
#include "kv-config.h"
#include "kv-sd-bus-cleanup.h"
#include "kv-variant-bridge.h"

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
  KvService *service = userdata;
  g_autoptr(GError) error = NULL;
  const char *key;
  int r = sd_bus_message_read(m, "s", &key);
  if (r < 0)
    return r;

  g_autoptr(GVariant) value = kv_service_get(service, key, &error);
  if (value == NULL)
    return kv_bus_error_set(ret_error, error);
  return reply_variant(m, value);
}

static int method_set(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
  KvService *service = userdata;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) value = NULL;
  const char *key;
  int r = sd_bus_message_read(m, "s", &key);
  if (r < 0)
    return r;
  r = kv_variant_bridge_read_variant(m, &value);
  if (r < 0)
    return r;

  if (!kv_service_set(service, key, value, &error))
    return kv_bus_error_set(ret_error, error);
  return sd_bus_reply_method_return(m, NULL);
}

/* Exists and Delete: a key in, a boolean out. */
typedef gboolean (*KeyFlagFunc)(KvService *service, const char *key, gboolean *out_flag,
                                GError **error);

static int reply_key_flag(sd_bus_message *m, KvService *service, KeyFlagFunc func,
                          sd_bus_error *ret_error)
{
  g_autoptr(GError) error = NULL;
  gboolean flag;
  const char *key;
  int r = sd_bus_message_read(m, "s", &key);
  if (r < 0)
    return r;

  if (!func(service, key, &flag, &error))
    return kv_bus_error_set(ret_error, error);
  return sd_bus_reply_method_return(m, "b", flag);
}

static int method_exists(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
  return reply_key_flag(m, userdata, kv_service_exists, ret_error);
}

static int method_delete(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
  return reply_key_flag(m, userdata, kv_service_delete, ret_error);
}

static int method_increment(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
  KvService *service = userdata;
  g_autoptr(GError) error = NULL;
  const char *key;
  int64_t delta;
  gint64 value;
  int r = sd_bus_message_read(m, "sx", &key, &delta);
  if (r < 0)
    return r;

  if (!kv_service_increment(service, key, delta, &value, &error))
    return kv_bus_error_set(ret_error, error);
  return sd_bus_reply_method_return(m, "x", (int64_t)value);
}

/* Collects the outcome of a kv_service_foreach() that writes into a reply: the first
 * sd-bus failure stops further appends. */
typedef struct {
  sd_bus_message *reply;
  int error;
} ReplyWriter;

static void append_key(const char *key, GVariant *value, gpointer user_data)
{
  ReplyWriter *writer = user_data;

  if (writer->error >= 0)
    writer->error = sd_bus_message_append_basic(writer->reply, 's', key);
}

static void append_entry(const char *key, GVariant *value, gpointer user_data)
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
static int reply_selection(sd_bus_message *m, KvService *service, const char *element_type,
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
  kv_service_foreach(service, prefix, with_values, append, &writer);
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
  uint32_t count = kv_service_count(userdata);

  return sd_bus_message_append_basic(reply, 'u', &count);
}

/* Reads are open to every peer; writes keep sd-bus's default privilege check, which on
 * the system bus admits only callers with our uid (root) or CAP_SYS_ADMIN. */
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

int kv_bus_add_object(sd_bus *bus, KvService *service, sd_bus_slot **ret_slot)
{
  return sd_bus_add_object_vtable(bus, ret_slot, KV_OBJECT_PATH, KV_INTERFACE, kv_vtable, service);
}
