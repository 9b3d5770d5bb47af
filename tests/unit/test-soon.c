/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* KvSoon: work that runs once the event loop goes idle, or after its bound when the loop
 * never does. */

#include "kv-soon.h"

#include <sys/eventfd.h>
#include <unistd.h>

typedef struct {
  sd_event *event;
  KvSoon *soon;
  guint runs;
  gint64 ran_at; /* monotonic µs */
  guint busy_turns;
} Fixture;

#define BOUND_USEC (20 * 1000)

static void on_soon(gpointer user_data)
{
  Fixture *f = user_data;

  f->runs++;
  f->ran_at = g_get_monotonic_time();
}

static void setup(Fixture *f, gconstpointer data)
{
  g_assert_cmpint(sd_event_new(&f->event), >=, 0);
  g_assert_cmpint(kv_soon_new(f->event, BOUND_USEC, on_soon, f, &f->soon), ==, 0);
}

static void teardown(Fixture *f, gconstpointer data)
{
  kv_soon_free(f->soon);
  sd_event_unref(f->event);
}

static int on_give_up(sd_event_source *source, uint64_t usec, void *user_data)
{
  return sd_event_exit(sd_event_source_get_event(source), 0);
}

/* Turns the loop until the work ran or @usec passed. */
static void run_for(Fixture *f, uint64_t usec)
{
  sd_event_source *give_up = NULL;

  g_assert_cmpint(
      sd_event_add_time_relative(f->event, &give_up, CLOCK_MONOTONIC, usec, 0, on_give_up, NULL),
      >=, 0);
  while (f->runs == 0 && sd_event_get_state(f->event) != SD_EVENT_FINISHED)
    g_assert_cmpint(sd_event_run(f->event, UINT64_MAX), >=, 0);
  sd_event_source_disable_unref(give_up);
}

/* On an idle loop it runs at the next turn, once however often it was asked for. */
static void test_idle(Fixture *f, gconstpointer data)
{
  g_assert_false(kv_soon_pending(f->soon));
  g_assert_cmpint(kv_soon_schedule(f->soon), ==, 0);
  g_assert_cmpint(kv_soon_schedule(f->soon), ==, 0);
  g_assert_true(kv_soon_pending(f->soon));
  gint64 start = g_get_monotonic_time();
  run_for(f, G_USEC_PER_SEC);
  g_assert_cmpuint(f->runs, ==, 1);
  g_assert_cmpint(f->ran_at - start, <, BOUND_USEC);
  g_assert_false(kv_soon_pending(f->soon));
  /* Nothing more without another request. */
  f->runs = 0;
  run_for(f, 2 * BOUND_USEC);
  g_assert_cmpuint(f->runs, ==, 0);
}

/* Always ready, as a bus that is never read to its end. */
static int on_busy(sd_event_source *source, int fd, uint32_t revents, void *user_data)
{
  Fixture *f = user_data;

  f->busy_turns++;
  return 0;
}

/* A loop that never goes idle runs it all the same, once its bound has passed. */
static void test_busy_loop(Fixture *f, gconstpointer data)
{
  int fd = eventfd(1, EFD_NONBLOCK | EFD_CLOEXEC);
  sd_event_source *busy = NULL;

  g_assert_cmpint(fd, >=, 0);
  g_assert_cmpint(sd_event_add_io(f->event, &busy, fd, EPOLLIN, on_busy, f), >=, 0);
  gint64 start = g_get_monotonic_time();
  g_assert_cmpint(kv_soon_schedule(f->soon), ==, 0);
  run_for(f, G_USEC_PER_SEC);
  g_assert_cmpuint(f->runs, ==, 1);
  g_assert_cmpint(f->ran_at - start, >=, BOUND_USEC);
  g_assert_cmpuint(f->busy_turns, >, 1);
  g_assert_false(kv_soon_pending(f->soon));
  sd_event_source_disable_unref(busy);
  close(fd);
}

/* Cancelled, it does not run, neither when the loop goes idle nor at its bound. */
static void test_cancel(Fixture *f, gconstpointer data)
{
  g_assert_cmpint(kv_soon_schedule(f->soon), ==, 0);
  kv_soon_cancel(f->soon);
  g_assert_false(kv_soon_pending(f->soon));
  run_for(f, 3 * BOUND_USEC);
  g_assert_cmpuint(f->runs, ==, 0);
}

int main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add("/soon/idle", Fixture, NULL, setup, test_idle, teardown);
  g_test_add("/soon/busy-loop", Fixture, NULL, setup, test_busy_loop, teardown);
  g_test_add("/soon/cancel", Fixture, NULL, setup, test_cancel, teardown);
  return g_test_run();
}
