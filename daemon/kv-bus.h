#pragma once

#include "kv-service.h"

#include <systemd/sd-bus.h>

G_BEGIN_DECLS

/* Publishes the org.example.KVStore interface at /org/example/KVStore on @bus, each
 * method calling @service (borrowed: it must outlive the slot). Returns 0 or a negative
 * errno. */
int kv_bus_add_object(sd_bus *bus, KvService *service, sd_bus_slot **ret_slot);

G_END_DECLS
