/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "kv-polkit.h"

#include "kv-log.h"
#include "kv-sd-bus-cleanup.h"

#include <errno.h>

#define CHECK_FLAG_ALLOW_INTERACTION 1
/* A person answering an authentication dialog; sd-bus's default (25 s) otherwise. */
#define INTERACTIVE_TIMEOUT_USEC (5 * 60 * G_USEC_PER_SEC)

typedef struct {
  KvPolkit *polkit;
  sd_bus_message *call;
  sd_bus_slot *slot; /* the question, while it is out */
  gboolean answered;
  gboolean authorized;
  sd_bus_error error; /* why not, when not authorized */
} Query;

struct _KvPolkit {
  sd_bus *bus;
  GHashTable *queries; /* sd_bus_message * (the call) -> Query */
};

static void query_free(gpointer data)
{
  Query *query = data;

  sd_bus_slot_unref(query->slot);
  sd_bus_message_unref(query->call);
  sd_bus_error_free(&query->error);
  g_free(query);
}

KvPolkit *kv_polkit_new(sd_bus *bus)
{
  KvPolkit *self = g_new0(KvPolkit, 1);

  self->bus = bus;
  self->queries = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, query_free);
  return self;
}

gboolean kv_polkit_is_idle(KvPolkit *self)
{
  return g_hash_table_size(self->queries) == 0;
}

void kv_polkit_free(KvPolkit *self)
{
  if (self == NULL)
    return;
  g_hash_table_unref(self->queries);
  g_free(self);
}

static void read_answer(Query *query, sd_bus_message *reply)
{
  const sd_bus_error *error = sd_bus_message_get_error(reply);
  int authorized = 0, challenge = 0;

  if (error != NULL) {
    kv_log(LOG_WARNING, "Cannot ask polkit: %s", error->message);
    sd_bus_error_setf(&query->error, SD_BUS_ERROR_ACCESS_DENIED,
                      "Access denied (polkit could not be asked: %s)", error->message);
    return;
  }
  if (sd_bus_message_enter_container(reply, 'r', "bba{ss}") < 0 ||
      sd_bus_message_read(reply, "bb", &authorized, &challenge) < 0) {
    sd_bus_error_set(&query->error, SD_BUS_ERROR_ACCESS_DENIED,
                     "Access denied (polkit's answer could not be read)");
    return;
  }
  query->authorized = authorized;
  if (authorized)
    return;
  if (challenge)
    sd_bus_error_set(&query->error, SD_BUS_ERROR_INTERACTIVE_AUTHORIZATION_REQUIRED,
                     "Authentication is required; allow interactive authorization (kvctl "
                     "does, in a terminal) and try again");
  else
    sd_bus_error_set(&query->error, SD_BUS_ERROR_ACCESS_DENIED, "Access denied by polkit");
}

static int on_answer(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error)
{
  Query *query = userdata;

  query->slot = sd_bus_slot_unref(query->slot);
  query->answered = TRUE;
  read_answer(query, reply);
  /* The call goes through its handler again, which now finds the answer. */
  int r = sd_bus_enqueue_for_read(query->polkit->bus, query->call);
  if (r < 0) {
    kv_log(LOG_ERR, "Cannot resume a call after polkit answered: %s", g_strerror(-r));
    g_hash_table_remove(query->polkit->queries, query->call);
  }
  return 0;
}

/* How many of @sender's calls wait for polkit. */
static guint pending_of(KvPolkit *self, const char *sender)
{
  GHashTableIter iter;
  gpointer call, query;
  guint n = 0;

  g_hash_table_iter_init(&iter, self->queries);
  while (g_hash_table_iter_next(&iter, &call, &query))
    n += g_strcmp0(sd_bus_message_get_sender(call), sender) == 0;
  return n;
}

static int ask(KvPolkit *self, sd_bus_message *call, const char *action, const char *key,
               sd_bus_error *ret_error)
{
  g_autoptr(sd_bus_message) question = NULL;
  uint32_t flags = sd_bus_message_get_allow_interactive_authorization(call) > 0
                       ? CHECK_FLAG_ALLOW_INTERACTION
                       : 0;

  if (g_hash_table_size(self->queries) >= KV_POLKIT_MAX_PENDING ||
      pending_of(self, sd_bus_message_get_sender(call)) >= KV_POLKIT_MAX_PENDING_PER_PEER)
    return sd_bus_error_set(ret_error, SD_BUS_ERROR_ACCESS_DENIED,
                            "Access denied (too many authorizations are pending)");
  int r = sd_bus_message_new_method_call(
      self->bus, &question, "org.freedesktop.PolicyKit1", "/org/freedesktop/PolicyKit1/Authority",
      "org.freedesktop.PolicyKit1.Authority", "CheckAuthorization");
  if (r >= 0)
    r = sd_bus_message_append(question, "(sa{sv})s", "system-bus-name", 1, "name", "s",
                              sd_bus_message_get_sender(call), action);
  if (r >= 0)
    r = sd_bus_message_append(question, "a{ss}us", 1, "key", key, flags, "");
  if (r < 0)
    return sd_bus_error_set_errno(ret_error, r);

  Query *query = g_new0(Query, 1);
  query->polkit = self;
  query->call = sd_bus_message_ref(call);
  query->error = SD_BUS_ERROR_NULL;
  r = sd_bus_call_async(self->bus, &query->slot, question, on_answer, query,
                        flags != 0 ? INTERACTIVE_TIMEOUT_USEC : 0);
  if (r < 0) {
    query_free(query);
    return sd_bus_error_set_errno(ret_error, r);
  }
  g_hash_table_insert(self->queries, call, query);
  return 0;
}

int kv_polkit_check(KvPolkit *self, sd_bus_message *call, const char *action, const char *key,
                    sd_bus_error *ret_error)
{
  Query *query = g_hash_table_lookup(self->queries, call);

  if (query == NULL)
    return ask(self, call, action, key, ret_error);
  if (!query->answered)
    return sd_bus_error_set(ret_error, SD_BUS_ERROR_ACCESS_DENIED,
                            "Access denied (authorization is pending)");
  int r = query->authorized ? 1 : sd_bus_error_copy(ret_error, &query->error);
  g_hash_table_remove(self->queries, call);
  return r;
}
