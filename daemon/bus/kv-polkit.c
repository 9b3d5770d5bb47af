/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "kv-polkit.h"

#include "kv-log.h"
#include "kv-sd-bus-cleanup.h"

#include <errno.h>

#define CHECK_FLAG_ALLOW_INTERACTION 1
/* A person answering an authentication dialog; sd-bus's default (25 s) otherwise. */
#define INTERACTIVE_TIMEOUT_USEC (5 * 60 * G_USEC_PER_SEC)

typedef struct _Query Query;

/* One key asked about for one call. */
typedef struct {
  Query *query;
  char *key;
  sd_bus_slot *slot; /* while the question is out */
  gboolean authorized;
} Question;

/* What one call waits for: a question per distinct key the rules refuse it. */
struct _Query {
  KvPolkit *polkit;
  sd_bus_message *call;
  uid_t uid;             /* the caller's */
  GHashTable *questions; /* key -> Question */
  guint outstanding;
  char *refused;      /* the key polkit refused first, or NULL */
  sd_bus_error error; /* why not, once any question was refused */
};

struct _KvPolkit {
  sd_bus *bus;
  GHashTable *queries; /* sd_bus_message * (the call) -> Query */
  guint questions_out; /* over all queries: each holds a pending reply on the bus */
};

/* The question is no longer out: answered, withdrawn, or its call gone. */
static void release_question(Question *question)
{
  if (question->slot == NULL)
    return;
  question->slot = sd_bus_slot_unref(question->slot);
  question->query->outstanding--;
  question->query->polkit->questions_out--;
}

static void question_free(gpointer data)
{
  Question *question = data;

  release_question(question);
  g_free(question->key);
  g_free(question);
}

static void query_free(gpointer data)
{
  Query *query = data;

  g_hash_table_unref(query->questions);
  sd_bus_message_unref(query->call);
  g_free(query->refused);
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

/* FALSE with @ret_error set when polkit's answer in @reply is not a yes. */
static gboolean read_answer(sd_bus_message *reply, sd_bus_error *ret_error)
{
  const sd_bus_error *error = sd_bus_message_get_error(reply);
  int authorized = 0, challenge = 0;

  if (error != NULL) {
    kv_log(LOG_WARNING, "Cannot ask polkit: %s", error->message);
    sd_bus_error_setf(ret_error, SD_BUS_ERROR_ACCESS_DENIED,
                      "Access denied (polkit could not be asked: %s)", error->message);
    return FALSE;
  }
  if (sd_bus_message_enter_container(reply, 'r', "bba{ss}") < 0 ||
      sd_bus_message_read(reply, "bb", &authorized, &challenge) < 0) {
    sd_bus_error_set(ret_error, SD_BUS_ERROR_ACCESS_DENIED,
                     "Access denied (polkit's answer could not be read)");
    return FALSE;
  }
  if (authorized)
    return TRUE;
  if (challenge)
    sd_bus_error_set(ret_error, SD_BUS_ERROR_INTERACTIVE_AUTHORIZATION_REQUIRED,
                     "Authentication is required; allow interactive authorization (kvctl "
                     "does, in a terminal) and try again");
  else
    sd_bus_error_set(ret_error, SD_BUS_ERROR_ACCESS_DENIED, "Access denied by polkit");
  return FALSE;
}

/* The call goes through its handler again, which now finds the answers. */
static void resume(Query *query)
{
  int r = sd_bus_enqueue_for_read(query->polkit->bus, query->call);

  if (r < 0) {
    kv_log(LOG_ERR, "Cannot resume a call after polkit answered: %s", g_strerror(-r));
    g_hash_table_remove(query->polkit->queries, query->call);
  }
}

/* One refusal decides the call: the questions still out are withdrawn. */
static void withdraw_questions(Query *query)
{
  GHashTableIter iter;
  gpointer question;

  g_hash_table_iter_init(&iter, query->questions);
  while (g_hash_table_iter_next(&iter, NULL, &question))
    release_question(question);
}

static int on_answer(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error)
{
  Question *question = userdata;
  Query *query = question->query;

  release_question(question);
  question->authorized = read_answer(reply, &query->error);
  if (!question->authorized) {
    query->refused = g_strdup(question->key);
    withdraw_questions(query);
  }
  if (query->outstanding == 0)
    resume(query);
  return 0;
}

/* Whether another call of @sender (of @uid) may wait for polkit. */
static gboolean may_wait(KvPolkit *self, const char *sender, uid_t uid)
{
  GHashTableIter iter;
  gpointer call, query;
  guint of_sender = 0, of_uid = 0;

  if (g_hash_table_size(self->queries) >= KV_POLKIT_MAX_PENDING)
    return FALSE;
  g_hash_table_iter_init(&iter, self->queries);
  while (g_hash_table_iter_next(&iter, &call, &query)) {
    of_sender += g_strcmp0(sd_bus_message_get_sender(call), sender) == 0;
    of_uid += ((Query *)query)->uid == uid;
  }
  return of_sender < KV_POLKIT_MAX_PENDING_PER_PEER && of_uid < KV_POLKIT_MAX_PENDING_PER_UID;
}

void kv_polkit_forget_peer(KvPolkit *self, const char *peer)
{
  GHashTableIter iter;
  gpointer call;

  g_hash_table_iter_init(&iter, self->queries);
  while (g_hash_table_iter_next(&iter, &call, NULL))
    if (g_strcmp0(sd_bus_message_get_sender(call), peer) == 0)
      g_hash_table_iter_remove(&iter);
}

static int ask(Query *query, const char *action, const KvPolkitQuestion *what)
{
  KvPolkit *self = query->polkit;
  g_autoptr(sd_bus_message) message = NULL;
  uint32_t flags = sd_bus_message_get_allow_interactive_authorization(query->call) > 0
                       ? CHECK_FLAG_ALLOW_INTERACTION
                       : 0;
  int r = sd_bus_message_new_method_call(
      self->bus, &message, "org.freedesktop.PolicyKit1", "/org/freedesktop/PolicyKit1/Authority",
      "org.freedesktop.PolicyKit1.Authority", "CheckAuthorization");
  if (r >= 0)
    r = sd_bus_message_append(message, "(sa{sv})s", "system-bus-name", 1, "name", "s",
                              sd_bus_message_get_sender(query->call), action);
  if (r >= 0)
    r = sd_bus_message_open_container(message, 'a', "{ss}");
  if (r >= 0)
    r = sd_bus_message_append(message, "{ss}{ss}", "key", what->key, "rule", what->rule);
  if (r >= 0 && what->prefix != NULL)
    r = sd_bus_message_append(message, "{ss}", "prefix", what->prefix);
  if (r >= 0)
    r = sd_bus_message_close_container(message);
  if (r >= 0)
    r = sd_bus_message_append(message, "us", flags, "");
  if (r < 0)
    return r;

  Question *question = g_new0(Question, 1);
  question->query = query;
  question->key = g_strdup(what->key);
  g_hash_table_replace(query->questions, question->key, question);
  r = sd_bus_call_async(self->bus, &question->slot, message, on_answer, question,
                        flags != 0 ? INTERACTIVE_TIMEOUT_USEC : 0);
  if (r < 0)
    return r;
  query->outstanding++;
  self->questions_out++;
  return 0;
}

/* The questions of @questions not yet answered yes for @query (NULL: none asked). */
static GPtrArray *unanswered(Query *query, const KvPolkitQuestion *questions, gsize n_questions)
{
  GPtrArray *needed = g_ptr_array_new();

  for (gsize i = 0; i < n_questions; i++) {
    Question *asked =
        query != NULL ? g_hash_table_lookup(query->questions, questions[i].key) : NULL;
    if (asked == NULL || !asked->authorized)
      g_ptr_array_add(needed, (gpointer)&questions[i]);
  }
  return needed;
}

/* A refusal decided before any question is out: @query, if any, is dropped. */
static int refuse(KvPolkit *self, sd_bus_message *call, sd_bus_error *ret_error, const char *why,
                  ...) G_GNUC_PRINTF(4, 5);
static int refuse(KvPolkit *self, sd_bus_message *call, sd_bus_error *ret_error, const char *why,
                  ...)
{
  va_list args;
  va_start(args, why);
  g_autofree char *message = g_strdup_vprintf(why, args);
  va_end(args);

  g_hash_table_remove(self->queries, call);
  return sd_bus_error_set(ret_error, SD_BUS_ERROR_ACCESS_DENIED, message);
}

int kv_polkit_check(KvPolkit *self, sd_bus_message *call, uid_t uid, const char *action,
                    const KvPolkitQuestion *questions, gsize n_questions, char **ret_refused,
                    sd_bus_error *ret_error)
{
  Query *query = g_hash_table_lookup(self->queries, call);

  *ret_refused = NULL;
  if (query != NULL && query->outstanding > 0)
    return sd_bus_error_set(ret_error, SD_BUS_ERROR_ACCESS_DENIED,
                            "Access denied (authorization is pending)");
  if (query != NULL && query->refused != NULL) {
    int r = sd_bus_error_copy(ret_error, &query->error);
    *ret_refused = g_steal_pointer(&query->refused);
    g_hash_table_remove(self->queries, call);
    return r;
  }

  /* A call seen again may name keys it did not before (a prefix deletion lists the keys
   * anew): only keys polkit said yes to are taken as authorized. */
  g_autoptr(GPtrArray) needed = unanswered(query, questions, n_questions);
  if (needed->len == 0) {
    g_hash_table_remove(self->queries, call);
    return 1;
  }
  guint asked = query != NULL ? g_hash_table_size(query->questions) : 0;
  if (asked + needed->len > KV_POLKIT_MAX_KEYS_PER_CALL)
    return refuse(self, call, ret_error,
                  "Access denied: %u keys need polkit's authorization, at most %d may in one "
                  "call; write them in smaller batches",
                  asked + needed->len, KV_POLKIT_MAX_KEYS_PER_CALL);
  if ((query == NULL && !may_wait(self, sd_bus_message_get_sender(call), uid)) ||
      self->questions_out + needed->len > KV_POLKIT_MAX_QUESTIONS)
    return refuse(self, call, ret_error, "Access denied (too many authorizations are pending)");
  if (query == NULL) {
    query = g_new0(Query, 1);
    query->polkit = self;
    query->call = sd_bus_message_ref(call);
    query->uid = uid;
    query->questions = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, question_free);
    query->error = SD_BUS_ERROR_NULL;
    g_hash_table_insert(self->queries, call, query);
  }
  for (guint i = 0; i < needed->len; i++) {
    int r = ask(query, action, g_ptr_array_index(needed, i));
    if (r < 0) {
      g_hash_table_remove(self->queries, call);
      return sd_bus_error_set_errno(ret_error, r);
    }
  }
  return 0;
}
