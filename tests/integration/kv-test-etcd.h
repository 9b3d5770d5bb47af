/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Hosts, each a private bus with its own kvstored, sharing an etcd cluster of one or three
 * members started on loopback ports in temporary directories; and relays that break the
 * traffic between members, or to them, on request. For the etcd integration tests. */
#pragma once

#include "kv-config.h"
#include "kv-test-bus.h"

#include <gio/gio.h>

#define CONFLICT      "org.example.KVStore.Error.Conflict"
#define UNAVAILABLE   "org.example.KVStore.Error.Unavailable"
#define INDETERMINATE "org.example.KVStore.Error.Indeterminate"

#define MAX_MEMBERS 3

/* A relay between etcd and its clients or peers (fault-relay.c), told what to break. */
typedef struct {
  GSubprocess *process;
  GDataInputStream *out;
} Relay;

typedef struct {
  char *dir;
  char *url;                        /* what kvstored is given: the relay's, when relayed */
  char *member_url;                 /* where the member serves its clients */
  char *peer_url;                   /* what the other members use: the relay's, when relayed */
  char *listen_peer;                /* where the member listens for its peers */
  Relay *client_relay, *peer_relay; /* when relayed */
  GSubprocess *process;
} Member;

/* What a test runs on: one member unless said, started with @options (NULL-terminated);
 * @relayed: each member's client and peer traffic through a relay of its own. */
typedef struct {
  guint members;
  const char *const *options;
  gboolean relayed;
} Cluster;

/* A cluster of one or three members. */
typedef struct {
  guint n;
  const char *const *options;
  gboolean relayed;
  Member members[MAX_MEMBERS];
  char *urls;    /* every client URL, comma-separated, for kvstored --etcd */
  char *initial; /* the initial cluster */
} Etcd;

typedef struct {
  char *dir;
  char *address;
  GSubprocess *bus;
  GSubprocess *kvstored;
  char *etcd_urls;    /* what its kvstored is given: every member's client URL unless set */
  const char *option; /* one more option for its kvstored, or NULL */
  GDBusConnection *connection;
} Host;

typedef struct {
  Etcd etcd;
  Host a, b;
  char *prefix;
} Fixture;

typedef struct {
  GPtrArray *seen; /* "KEY REVISION" per Changed, or the text of each Changes */
} Watcher;

typedef struct {
  guint answered;
  guint succeeded;
  guint conflicts;
  GPtrArray *errors;
} Race;

guint free_port(void);
gboolean member_healthy(const Member *member);
void member_wait(const Member *member);
void member_spawn(Etcd *etcd, guint i);
Relay *relay_start(guint listen_port, const char *target_url);
void relay_tell(Relay *relay, const char *command);
void etcd_start(Etcd *etcd, guint n, const char *const *options);
void member_stop(Etcd *etcd, guint i);
void member_restart(Etcd *etcd, guint i);
void etcd_free(Etcd *etcd);
gboolean name_has_owner(Host *host);
GSubprocess *kvstored_spawn(Host *host, const Fixture *f, GSubprocessFlags flags,
                            const char *option, const char *value);
void kvstored_start(Host *host, const Fixture *f);
void kvstored_stop(Host *host);
void host_start(Host *host, const Fixture *f);
void host_stop(Host *host);
void setup(Fixture *f, gconstpointer data);
void teardown(Fixture *f, gconstpointer data);
GVariant *call(Host *host, const char *method, GVariant *parameters, GError **error);
GVariant *call_ok(Host *host, const char *method, GVariant *parameters);
void assert_remote_error(const GError *error, const char *name);
void wait_for_signals(Watcher *watcher, guint n);
guint watch(Host *host, const char *member, const char *subscribe, Watcher *watcher);
void race_call(Host *host, const char *method, GVariant *parameters, Race *race);
void race_wait(Race *race, guint n);
void wait_for_keys(Host *host, const char *expected_text);
guint count_keys(Host *host, const char *prefix);
gboolean replica_current(Host *host);
void wait_for_current(Host *host, gboolean expected);

/* How many times etcd has changed @key (under the fixture's prefix) since it was created
 * (etcd's "version"), asked of any member that runs; 0 when it does not exist. */
guint64 etcd_key_version(const Fixture *f, const char *key);
/* The same for every key that starts with @start: key (without the prefix) -> version. */
GHashTable *etcd_versions(const Fixture *f, const char *start);
/* @member's ID, and (@out_leader) the ID of the member it takes for the leader. */
guint64 member_id(const Member *member, guint64 *out_leader);
/* The port of "http://HOST:PORT". */
guint url_port(const char *url);

/* The index of the member that leads. */
guint etcd_leader(const Etcd *etcd);

/* Whether etcd is installed; if not, the test program is skipped (after g_test_init()). */
gboolean etcd_installed(void);
