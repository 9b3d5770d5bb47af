/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "kv-bus-turns.h"

#include "kv-bus-error.h"
#include "kv-sd-bus-cleanup.h"

typedef struct {
  sd_bus_message *m;
  KvBusReadFunc func;
  void *userdata;
} Turn;

/* The read being run again at its turn: its handler answers it now. One event loop, one
 * at a time. */
static sd_bus_message *replaying;
/* The read being run again once the replica caught up: it waits for writes still. */
static sd_bus_message *synced;

static void turn_free(gpointer user_data)
{
  Turn *turn = user_data;

  sd_bus_message_unref(turn->m);
  g_free(turn);
}

/* Runs @turn's handler again, with its message as *@as meanwhile; and frees @turn. */
static void run_again(Turn *turn, sd_bus_message **as)
{
  g_auto(sd_bus_error) error = SD_BUS_ERROR_NULL;
  int r = sd_bus_message_rewind(turn->m, TRUE);

  *as = turn->m;
  if (r >= 0)
    r = turn->func(turn->m, turn->userdata, &error);
  *as = NULL;
  /* What sd-bus does with a handler's error when it runs the handler itself. */
  if (r < 0 && sd_bus_error_is_set(&error))
    (void)sd_bus_reply_method_error(turn->m, &error);
  else if (r < 0)
    (void)sd_bus_reply_method_errno(turn->m, r, NULL);
  turn_free(turn);
}

static void on_turn(gpointer user_data)
{
  run_again(user_data, &replaying);
}

static void on_synced(const GError *error, gpointer user_data)
{
  Turn *turn = user_data;

  if (error == NULL) {
    run_again(turn, &synced);
    return;
  }
  g_auto(sd_bus_error) bus_error = SD_BUS_ERROR_NULL;
  kv_bus_error_set(&bus_error, error);
  (void)sd_bus_reply_method_error(turn->m, &bus_error);
  turn_free(turn);
}

int kv_bus_read_turn(KvService *service, sd_bus_message *m, const char *const *keys, gsize n_keys,
                     KvBusReadFunc func, void *userdata)
{
  if (m == replaying)
    return 0;
  gboolean sync = m != synced && kv_service_is_linearizable(service);
  if (!sync && !kv_service_read_waits(service, keys, n_keys))
    return 0;
  Turn *turn = g_new(Turn, 1);
  *turn = (Turn){sd_bus_message_ref(m), func, userdata};
  if (sync)
    kv_service_sync(service, on_synced, turn, turn_free);
  else
    kv_service_wait_turn(service, keys, n_keys, on_turn, turn, turn_free);
  return 1;
}
