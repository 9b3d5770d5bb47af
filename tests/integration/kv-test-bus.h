/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gio/gio.h>
#include <sys/types.h>

G_BEGIN_DECLS

/* A private session bus (GTestDBus) whose services dir activates the kvstored under test
 * through a wrapper that records kvstored's exit status, so that every test also checks
 * that the daemon shut down cleanly (exit 0, which includes no leak or sanitizer report). */
typedef struct {
  GTestDBus *dbus;
  GDBusConnection *connection;
  char *status_dir;  /* everything of the test's below here */
  char *status_file; /* kvstored's exit status, written by the wrapper */
  char *state_dir;   /* kvstored's --state-dir; kept across activations */
} KvTestBus;

/* Starts the bus; @daemon_args (may be NULL) are extra kvstored options for activation. */
void kv_test_bus_up(KvTestBus *self, const char *daemon_args);

/* kv_test_bus_up() and kv_test_bus_down() in the shape g_test_add() wants; @daemon_args
 * is the test data. */
void kv_test_bus_setup(KvTestBus *self, gconstpointer daemon_args);
void kv_test_bus_teardown(KvTestBus *self, gconstpointer daemon_args);

/* The process id of the kvstored that owns the name now, or 0. */
pid_t kv_test_bus_daemon_pid(KvTestBus *self);

/* Stops the activated kvstored, if one runs, with SIGTERM and asserts it exited 0. */
void kv_test_bus_stop_daemon(KvTestBus *self);

/* Waits for the activated kvstored to exit (by itself) and asserts it exited 0. */
void kv_test_bus_assert_exited_cleanly(KvTestBus *self);

/* Stops an activated kvstored with SIGTERM, asserts it exited 0, and stops the bus. */
void kv_test_bus_down(KvTestBus *self);

/* Removes the test's files and frees their paths; kv_test_bus_down() does it too. */
void kv_test_bus_clear_files(KvTestBus *self);

/* A new connection of its own to the message bus at @address, which must succeed. */
GDBusConnection *kv_test_bus_connect(const char *address);

/* The bus address, for spawned clients. */
const char *kv_test_bus_address(KvTestBus *self);

/* Calls @method of org.example.KVStore through GDBus and returns its reply, or NULL with
 * @error set (a D-Bus error is kept remote, so g_dbus_error_get_remote_error() names it). */
GVariant *kv_test_bus_call(KvTestBus *self, const char *method, GVariant *parameters,
                           GError **error);

/* kv_test_bus_call() that must succeed. */
GVariant *kv_test_bus_call_ok(KvTestBus *self, const char *method, GVariant *parameters);

/* The value of property @name of org.example.KVStore, asked on @connection (activating
 * kvstored if need be), which must answer. */
GVariant *kv_test_get_property(GDBusConnection *connection, const char *name);

/* The answer to a call made with kv_test_call_async(): its reply or error, once done. */
typedef struct {
  GVariant *reply;
  GError *error;
  gboolean done;
} KvTestAnswer;

/* Calls @method of org.example.KVStore on @connection without waiting for the reply,
 * which fills @answer in from the thread-default main context. */
void kv_test_call_async(GDBusConnection *connection, const char *method, GVariant *parameters,
                        KvTestAnswer *answer);

/* Iterates the main context until @answer is done. */
void kv_test_answer_wait(KvTestAnswer *answer);

/* Frees what @answer holds and makes it ready for another call. */
void kv_test_answer_clear(KvTestAnswer *answer);

/* Every entry with @prefix as an a{sv}, read page by page with GetAllPage, which must
 * succeed: for stores larger than one GetAll answers. */
GVariant *kv_test_bus_get_all_pages(KvTestBus *self, const char *prefix);

/* Whether org.example.KVStore has an owner on the bus now. */
gboolean kv_test_bus_name_has_owner(KvTestBus *self);

/* Removes @path and everything below it. */
void kv_test_remove_tree(const char *path);

/* Environment variable @name, which meson sets for the test, or a test failure. */
const char *kv_test_getenv(const char *name);

/* Whether kvstored keeps its store in etcd for this run (run-with-etcd.sh sets
 * KV_TEST_ETCD, and the test wrapper passes it on): etcd's limits then apply. */
gboolean kv_test_on_etcd(void);

G_END_DECLS
