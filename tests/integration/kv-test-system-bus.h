/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gio/gio.h>
#include <sys/types.h>

G_BEGIN_DECLS

/* A private bus run with a system bus configuration, and a kvstored on it started by
 * the test (not activated), with clients run as other users. Needs root for the users. */
typedef struct {
  GSubprocess *bus_daemon;
  char *address;
  GDBusConnection *connection; /* the test's own, as root */
  GSubprocess *kvstored;
} KvTestSystemBus;

/* A user to run a client as: uid, primary gid and supplementary groups. */
typedef struct {
  uid_t uid;
  gid_t gid;
  gsize n_groups;
  gid_t groups[4];
} KvTestUser;

/* Starts dbus-daemon with @config. */
void kv_test_system_bus_start(KvTestSystemBus *self, const char *config);

/* Starts kvstored --system with @args (NULL-terminated, may be NULL) and waits until it
 * owns its name. */
void kv_test_system_bus_start_kvstored(KvTestSystemBus *self, const char *const *args);

/* Stops kvstored with SIGTERM and asserts that it exited 0. */
void kv_test_system_bus_stop_kvstored(KvTestSystemBus *self);

/* Stops kvstored, if it runs, and the bus. */
void kv_test_system_bus_stop(KvTestSystemBus *self);

/* Waits until @name has an owner on the bus; FALSE after 10 s. */
gboolean kv_test_system_bus_wait_for_name(KvTestSystemBus *self, const char *name);

/* Spawns @argv as @user (root when NULL), with the bus as its system bus; its stdout goes
 * to @stdout_path when that is not NULL. */
GSubprocess *kv_test_system_bus_spawn(KvTestSystemBus *self, const KvTestUser *user,
                                      GSubprocessFlags flags, const char *stdout_path,
                                      const char *const *argv);

/* Runs kvctl --address BUS @args... as @user; returns its exit status, with its stdout
 * and stderr in @out and @err (each may be NULL). */
int kv_test_system_bus_kvctl(KvTestSystemBus *self, const KvTestUser *user, char **out, char **err,
                             ...) G_GNUC_NULL_TERMINATED;

/* kv_test_system_bus_kvctl() with the arguments in the NULL-terminated @args. */
int kv_test_system_bus_kvctlv(KvTestSystemBus *self, const KvTestUser *user, char **out, char **err,
                              const char *const *args);

G_END_DECLS
