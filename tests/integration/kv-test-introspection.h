/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* Asserts that the org.example.KVStore interface that kvstored publishes on @connection
 * matches data/org.example.KVStore.xml: methods, arguments, properties, signals and
 * annotations, except annotations named @ignored_annotation (may be NULL). */
void kv_test_assert_introspection_matches(GDBusConnection *connection,
                                          const char *ignored_annotation);

G_END_DECLS
