/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "kv-bus-callers.h"

#include "kv-sd-bus-cleanup.h"

#include <errno.h>
#include <string.h>

typedef struct {
  KvCaller caller;
  GArray *gids; /* gid_t; caller.gids points into it */
} Entry;

struct _KvBusCallers {
  sd_bus *bus;
  sd_bus_slot *match;
  GHashTable *peers; /* unique name -> Entry */
  GArray *listeners; /* Listener */
};

typedef struct {
  KvBusPeerLeftFunc func;
  gpointer user_data;
} Listener;

static void entry_free(gpointer data)
{
  Entry *entry = data;

  g_array_unref(entry->gids);
  g_free(entry);
}

static int on_name_owner_changed(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
  KvBusCallers *self = userdata;
  const char *name, *old_owner, *new_owner;

  if (sd_bus_message_read(m, "sss", &name, &old_owner, &new_owner) < 0)
    return 0;
  /* A unique name that loses its owner is a peer gone for good. */
  if (name[0] != ':' || new_owner[0] != '\0')
    return 0;
  g_hash_table_remove(self->peers, name);
  for (guint i = 0; i < self->listeners->len; i++) {
    Listener *listener = &g_array_index(self->listeners, Listener, i);
    listener->func(name, listener->user_data);
  }
  return 0;
}

int kv_bus_callers_new(sd_bus *bus, KvBusCallers **ret)
{
  g_autoptr(KvBusCallers) self = g_new0(KvBusCallers, 1);

  self->bus = bus;
  self->peers = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, entry_free);
  self->listeners = g_array_new(FALSE, FALSE, sizeof(Listener));
  int r = sd_bus_match_signal_async(bus, &self->match, "org.freedesktop.DBus",
                                    "/org/freedesktop/DBus", "org.freedesktop.DBus",
                                    "NameOwnerChanged", on_name_owner_changed, NULL, self);
  if (r < 0)
    return r;
  *ret = g_steal_pointer(&self);
  return 0;
}

void kv_bus_callers_add_left_func(KvBusCallers *self, KvBusPeerLeftFunc func, gpointer user_data)
{
  Listener listener = {func, user_data};

  g_array_append_val(self->listeners, listener);
}

void kv_bus_callers_remove_left_func(KvBusCallers *self, KvBusPeerLeftFunc func, gpointer user_data)
{
  for (guint i = 0; i < self->listeners->len; i++) {
    Listener *listener = &g_array_index(self->listeners, Listener, i);
    if (listener->func == func && listener->user_data == user_data) {
      g_array_remove_index(self->listeners, i);
      return;
    }
  }
}

/* Reads GetConnectionCredentials' a{sv} into @entry: UnixUserID and UnixGroupIDs. */
static int read_credentials(sd_bus_message *reply, Entry *entry, gboolean *out_has_uid)
{
  int r = sd_bus_message_enter_container(reply, 'a', "{sv}");

  while (r >= 0 && (r = sd_bus_message_enter_container(reply, 'e', "sv")) > 0) {
    const char *name;
    r = sd_bus_message_read_basic(reply, 's', &name);
    if (r >= 0 && strcmp(name, "UnixUserID") == 0) {
      uint32_t uid;
      r = sd_bus_message_read(reply, "v", "u", &uid);
      entry->caller.uid = uid;
      *out_has_uid = TRUE;
    } else if (r >= 0 && strcmp(name, "UnixGroupIDs") == 0) {
      const void *gids;
      size_t size;
      r = sd_bus_message_enter_container(reply, 'v', "au");
      if (r >= 0)
        r = sd_bus_message_read_array(reply, 'u', &gids, &size);
      if (r >= 0)
        g_array_append_vals(entry->gids, gids, size / sizeof(uint32_t));
      if (r >= 0)
        r = sd_bus_message_exit_container(reply);
    } else if (r >= 0) {
      r = sd_bus_message_skip(reply, "v");
    }
    if (r >= 0)
      r = sd_bus_message_exit_container(reply);
  }
  return r < 0 ? r : sd_bus_message_exit_container(reply);
}

int kv_bus_callers_lookup(KvBusCallers *self, const char *peer, const KvCaller **ret,
                          sd_bus_error *ret_error)
{
  Entry *cached = g_hash_table_lookup(self->peers, peer);
  g_autoptr(sd_bus_message) reply = NULL;
  gboolean has_uid = FALSE;

  if (cached != NULL) {
    *ret = &cached->caller;
    return 0;
  }
  /* Once per peer; a synchronous call to the bus, as sd-bus's own credential queries are. */
  int r = sd_bus_call_method(self->bus, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                             "org.freedesktop.DBus", "GetConnectionCredentials", ret_error, &reply,
                             "s", peer);
  if (r < 0)
    return r;
  Entry *entry = g_new0(Entry, 1);
  entry->gids = g_array_new(FALSE, FALSE, sizeof(gid_t));
  r = read_credentials(reply, entry, &has_uid);
  if (r < 0 || !has_uid) {
    entry_free(entry);
    return sd_bus_error_setf(ret_error, SD_BUS_ERROR_ACCESS_DENIED,
                             "The bus did not tell who %s is", peer);
  }
  entry->caller.gids = (const gid_t *)entry->gids->data;
  entry->caller.n_gids = entry->gids->len;
  g_hash_table_insert(self->peers, g_strdup(peer), entry);
  *ret = &entry->caller;
  return 0;
}

const KvCaller *kv_bus_callers_peek(KvBusCallers *self, const char *peer)
{
  Entry *entry = g_hash_table_lookup(self->peers, peer);

  return entry != NULL ? &entry->caller : NULL;
}

void kv_bus_callers_free(KvBusCallers *self)
{
  if (self == NULL)
    return;
  sd_bus_slot_unref(self->match);
  g_clear_pointer(&self->peers, g_hash_table_unref);
  g_clear_pointer(&self->listeners, g_array_unref);
  g_free(self);
}
