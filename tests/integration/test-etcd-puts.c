/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The puts on their way to etcd, against a real member (run-with-etcd.sh: KV_TEST_ETCD),
 * on an event loop of the test's own: what goes together, and that a stream of other
 * work that never lets the loop go idle does not hold them back. */

#include "kv-etcd-client.h"
#include "kv-etcd-puts.h"

#include <sys/eventfd.h>
#include <unistd.h>

typedef struct {
  sd_event *event;
  KvEtcdClient *client;
  KvEtcdWriter *writer;
  KvEtcdPuts *puts;
  guint answered;
  guint64 revisions[3];
  guint busy_turns;
} Fixture;

static void setup(Fixture *f, gconstpointer data)
{
  const char *endpoints[] = {g_getenv("KV_TEST_ETCD"), NULL};
  g_autofree char *prefix = g_strdup_printf("/kvstore-test-puts-%08x/", g_random_int());

  g_assert_cmpint(sd_event_new(&f->event), >=, 0);
  f->client = kv_etcd_client_new(f->event, endpoints);
  f->writer = kv_etcd_writer_new(f->client, f->event, prefix, 5000);
  f->puts = kv_etcd_puts_new(f->writer, f->event);
}

static void teardown(Fixture *f, gconstpointer data)
{
  kv_etcd_client_free(f->client);
  kv_etcd_puts_free(f->puts);
  kv_etcd_writer_free(f->writer);
  sd_event_unref(f->event);
}

typedef struct {
  Fixture *f;
  guint index;
} Answer;

static void on_put(guint64 revision, const GError *error, gpointer user_data)
{
  Answer *answer = user_data;

  g_assert_no_error(error);
  answer->f->revisions[answer->index] = revision;
  answer->f->answered++;
}

static int on_give_up(sd_event_source *source, uint64_t usec, void *user_data)
{
  return sd_event_exit(sd_event_source_get_event(source), 1);
}

/* Three puts: the first alone (nothing is out), the two that come while it is out
 * together; the loop runs until all three are answered, or gives up after 3 s. */
static void put_three(Fixture *f)
{
  Answer answers[3];
  g_autoptr(GVariant) value = g_variant_ref_sink(g_variant_new_int32(7));
  sd_event_source *give_up = NULL;

  for (guint i = 0; i < 3; i++) {
    answers[i] = (Answer){f, i};
    g_autofree char *key = g_strdup_printf("k%u", i);
    kv_etcd_puts_add(f->puts, key, value, 5000, on_put, &answers[i]);
  }
  g_assert_cmpint(sd_event_add_time_relative(f->event, &give_up, CLOCK_MONOTONIC,
                                             3 * G_USEC_PER_SEC, 0, on_give_up, NULL),
                  >=, 0);
  while (f->answered < 3 && sd_event_get_state(f->event) != SD_EVENT_FINISHED)
    g_assert_cmpint(sd_event_run(f->event, UINT64_MAX), >=, 0);
  sd_event_source_disable_unref(give_up);
  g_assert_cmpuint(f->answered, ==, 3);
  /* The two went to etcd beside the first, which may be made before or after them. */
  g_assert_cmpuint(f->revisions[0], >, 0);
  g_assert_cmpuint(f->revisions[1], >, 0);
  g_assert_cmpuint(f->revisions[1], !=, f->revisions[0]);
  g_assert_cmpuint(f->revisions[2], ==, f->revisions[1]);
}

static void test_together(Fixture *f, gconstpointer data)
{
  put_three(f);
}

/* Always ready, as a bus that is never read to its end: idle sources never run. */
static int on_busy(sd_event_source *source, int fd, uint32_t revents, void *user_data)
{
  Fixture *f = user_data;

  f->busy_turns++;
  return 0;
}

static void test_endless_stream(Fixture *f, gconstpointer data)
{
  int fd = eventfd(1, EFD_NONBLOCK | EFD_CLOEXEC);
  sd_event_source *busy = NULL;

  g_assert_cmpint(fd, >=, 0);
  g_assert_cmpint(sd_event_add_io(f->event, &busy, fd, EPOLLIN, on_busy, f), >=, 0);
  put_three(f);
  g_test_message("the stream took %u turns of the loop meanwhile", f->busy_turns);
  g_assert_cmpuint(f->busy_turns, >, 0);
  sd_event_source_disable_unref(busy);
  close(fd);
}

int main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  if (g_getenv("KV_TEST_ETCD") == NULL) {
    g_test_skip("needs an etcd member: run by run-with-etcd.sh");
    return g_test_run();
  }
  g_test_add("/etcd-puts/together", Fixture, NULL, setup, test_together, teardown);
  g_test_add("/etcd-puts/endless-stream", Fixture, NULL, setup, test_endless_stream, teardown);
  return g_test_run();
}
