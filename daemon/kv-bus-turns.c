/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "kv-bus-turns.h"

#include "kv-sd-bus-cleanup.h"

typedef struct {
  sd_bus_message *m;
  KvBusReadFunc func;
  void *userdata;
} Turn;

/* The read being run again at its turn: its handler answers it now. One event loop, one
 * at a time. */
static sd_bus_message *replaying;

static void turn_free(gpointer user_data)
{
  Turn *turn = user_data;

  sd_bus_message_unref(turn->m);
  g_free(turn);
}

static void on_turn(gpointer user_data)
{
  Turn *turn = user_data;
  g_auto(sd_bus_error) error = SD_BUS_ERROR_NULL;
  int r = sd_bus_message_rewind(turn->m, TRUE);

  replaying = turn->m;
  if (r >= 0)
    r = turn->func(turn->m, turn->userdata, &error);
  replaying = NULL;
  /* What sd-bus does with a handler's error when it runs the handler itself. */
  if (r < 0 && sd_bus_error_is_set(&error))
    (void)sd_bus_reply_method_error(turn->m, &error);
  else if (r < 0)
    (void)sd_bus_reply_method_errno(turn->m, r, NULL);
  turn_free(turn);
}

int kv_bus_read_turn(KvService *service, sd_bus_message *m, const char *const *keys, gsize n_keys,
                     KvBusReadFunc func, void *userdata)
{
  if (m == replaying || !kv_service_read_waits(service, keys, n_keys))
    return 0;
  Turn *turn = g_new(Turn, 1);
  *turn = (Turn){sd_bus_message_ref(m), func, userdata};
  kv_service_wait_turn(service, keys, n_keys, on_turn, turn, turn_free);
  return 1;
}
