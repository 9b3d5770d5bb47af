/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "kvbench-leases.h"

#include "kv-config.h"
#include "kv-sd-bus-cleanup.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <sys/file.h>
#include <unistd.h>

#define PREFIX "kvbench-leases/"

/* Seconds since @start. */
static double since(gint64 start)
{
  return (g_get_monotonic_time() - start) / 1e6;
}

/* N Sets of key I (modulo 1000), with @method: Set, SetLeased with @lease, or SetWithTtl
 * of a minute. */
static int sets(sd_bus *bus, const char *method, guint64 lease, guint n, double *out_rate)
{
  gint64 start = g_get_monotonic_time();
  int r = 0;

  for (guint i = 0; r >= 0 && i < n; i++) {
    char key[64];
    g_snprintf(key, sizeof key, PREFIX "%s-%04u", method, i % 1000);
    if (g_str_equal(method, "Set"))
      r = sd_bus_call_method(bus, KV_BUS_NAME, KV_OBJECT_PATH, KV_INTERFACE, method, NULL, NULL,
                             "sv", key, "s", "0123456789abcde");
    else
      r = sd_bus_call_method(bus, KV_BUS_NAME, KV_OBJECT_PATH, KV_INTERFACE, method, NULL, NULL,
                             "stv", key, lease, "s", "0123456789abcde");
  }
  *out_rate = n / since(start);
  return r;
}

/* N uncontended rounds of Lock (on a lease of its own, bound to the caller) and Unlock. */
static int lock_rounds(sd_bus *bus, guint n, double *out_rate)
{
  gint64 start = g_get_monotonic_time();
  int r = 0;

  for (guint i = 0; r >= 0 && i < n; i++) {
    g_autoptr(sd_bus_message) reply = NULL;
    uint64_t token, lease;
    int acquired;
    r = sd_bus_call_method(bus, KV_BUS_NAME, KV_OBJECT_PATH, KV_INTERFACE, "Lock", NULL, &reply,
                           "st", PREFIX "lock", (uint64_t)0);
    if (r >= 0)
      r = sd_bus_message_read(reply, "ttb", &token, &lease, &acquired);
    if (r >= 0 && !acquired)
      r = -EBUSY;
    if (r >= 0)
      r = sd_bus_call_method(bus, KV_BUS_NAME, KV_OBJECT_PATH, KV_INTERFACE, "Unlock", NULL, NULL,
                             "st", PREFIX "lock", token);
  }
  *out_rate = n / since(start);
  return r;
}

/* The same rounds of flock(2) on a file of @dir. */
static int flock_rounds(const char *dir, guint n, double *out_rate)
{
  g_autofree char *path = g_build_filename(dir, "kvbench-flock", NULL);
  int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);

  if (fd < 0)
    return -errno;
  gint64 start = g_get_monotonic_time();
  for (guint i = 0; i < n; i++)
    if (flock(fd, LOCK_EX) < 0 || flock(fd, LOCK_UN) < 0) {
      int saved = -errno;
      close(fd);
      return saved;
    }
  *out_rate = n / since(start);
  close(fd);
  unlink(path);
  return 0;
}

int kvbench_leases(sd_bus *bus, guint n, const char *dir)
{
  g_autoptr(sd_bus_message) reply = NULL;
  double plain = 0, leased = 0, ttl = 0, locks = 0, flocks = 0;
  uint64_t lease;
  int r = sd_bus_call_method(bus, KV_BUS_NAME, KV_OBJECT_PATH, KV_INTERFACE, "GrantLease", NULL,
                             &reply, "tb", (uint64_t)3600 * 1000, 0);

  if (r >= 0)
    r = sd_bus_message_read(reply, "t", &lease);
  if (r >= 0)
    r = sets(bus, "Set", 0, n, &plain);
  if (r >= 0)
    r = sets(bus, "SetLeased", lease, n, &leased);
  /* A lease each: at most 1024 a uid, so its keys are overwritten, their leases left. */
  if (r >= 0)
    r = sets(bus, "SetWithTtl", 60 * 1000, MIN(n, 1000), &ttl);
  if (r >= 0)
    r = lock_rounds(bus, n, &locks);
  if (r >= 0)
    r = flock_rounds(dir, n, &flocks);
  if (r < 0)
    return r;
  printf("Leases and locks, one client, one call at a time (%u calls each):\n"
         "  Set:                  %8.0f/s\n"
         "  SetLeased:            %8.0f/s  (%.2fx Set)\n"
         "  SetWithTtl:           %8.0f/s  (%.2fx Set; %u calls, a lease each)\n"
         "  Lock+Unlock:          %8.0f/s rounds (%.2fx Set; each round two writes)\n"
         "  flock(2) LOCK_EX+UN:  %8.0f/s rounds (the kernel's floor; Lock+Unlock %.0fx slower)\n",
         n, plain, leased, leased / plain, ttl, ttl / plain, MIN(n, 1000), locks, locks / plain,
         flocks, flocks / locks);
  return 0;
}
