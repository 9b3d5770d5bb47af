/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "kv-client-bus.h"

#include <glib.h>
#include <sys/types.h>

G_BEGIN_DECLS

/* The bus's own limit for a call: a peer on the same bus, in a process of its own, that
 * answers Get, Set, Increment, GetMany and SetMany with the shape kvstored gives them and
 * no store behind them (every key read is answered with the same 16-byte string; writes
 * read their arguments and answer a number). */
typedef struct {
  pid_t pid;
  char *name; /* its unique bus name */
} KvbenchFloor;

/* Starts a peer on the bus @bus names, in a process of its own, serving @vtable at
 * kvstored's path with @userdata (the child's copy: the caller's memory as it was at the
 * fork). Returns 0 or a negative errno. */
int kvbench_peer_start(const KvClientBus *bus, const sd_bus_vtable *vtable, void *userdata,
                       KvbenchFloor *ret);

/* Reads the arguments of a Set call @m (its key, its value skipped). Returns 0 or a
 * negative errno. */
int kvbench_floor_read_set(sd_bus_message *m);

/* Starts the peer on the bus @bus names. Returns 0 or a negative errno. */
int kvbench_floor_start(const KvClientBus *bus, KvbenchFloor *ret);

/* Stops the peer and waits for it. */
void kvbench_floor_stop(KvbenchFloor *self);

G_END_DECLS
