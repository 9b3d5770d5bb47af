/* Who subscribed to what: matching, once per peer, limits, and departures. */

#include "kv-error.h"
#include "kv-subscriptions.h"

static void collect(const char *peer, gpointer data)
{
  g_ptr_array_add(data, g_strdup(peer));
}

static gint compare_names(gconstpointer a, gconstpointer b)
{
  return g_strcmp0(*(const char *const *)a, *(const char *const *)b);
}

static char *matches(KvSubscriptions *subscriptions, const char *key)
{
  g_autoptr(GPtrArray) peers = g_ptr_array_new_with_free_func(g_free);

  kv_subscriptions_foreach_match(subscriptions, key, KV_SUBSCRIPTION_EACH, collect, peers);
  g_ptr_array_sort(peers, compare_names);
  g_ptr_array_add(peers, NULL);
  return g_strjoinv(",", (char **)peers->pdata);
}

static void test_matching(void)
{
  g_autoptr(KvSubscriptions) subscriptions = kv_subscriptions_new();

  g_assert_true(kv_subscriptions_add(subscriptions, ":1.1", "app/", KV_SUBSCRIPTION_EACH, NULL));
  g_assert_true(kv_subscriptions_add(subscriptions, ":1.1", "app/x", KV_SUBSCRIPTION_EACH, NULL));
  g_assert_true(kv_subscriptions_add(subscriptions, ":1.2", "", KV_SUBSCRIPTION_EACH, NULL));
  g_assert_true(kv_subscriptions_add(subscriptions, ":1.3", "other", KV_SUBSCRIPTION_EACH, NULL));

  /* Each peer once, however many of its prefixes match. */
  g_autofree char *both = matches(subscriptions, "app/x");
  g_assert_cmpstr(both, ==, ":1.1,:1.2");
  g_autofree char *all_only = matches(subscriptions, "zzz");
  g_assert_cmpstr(all_only, ==, ":1.2");
  g_assert_cmpuint(kv_subscriptions_n_peers(subscriptions), ==, 3);

  g_assert_true(kv_subscriptions_remove(subscriptions, ":1.1", "app/"));
  g_assert_false(kv_subscriptions_remove(subscriptions, ":1.1", "app/"));
  g_autofree char *narrower = matches(subscriptions, "app/y");
  g_assert_cmpstr(narrower, ==, ":1.2");

  kv_subscriptions_remove_peer(subscriptions, ":1.2");
  g_autofree char *gone = matches(subscriptions, "zzz");
  g_assert_cmpstr(gone, ==, "");
  g_assert_true(kv_subscriptions_remove(subscriptions, ":1.1", "app/x"));
  g_assert_cmpuint(kv_subscriptions_n_peers(subscriptions), ==, 1);
}

/* The two kinds are told apart; Unsubscribe ends both. */
static void test_kinds(void)
{
  g_autoptr(KvSubscriptions) subscriptions = kv_subscriptions_new();

  g_assert_false(kv_subscriptions_any(subscriptions, KV_SUBSCRIPTION_COALESCED));
  g_assert_false(kv_subscriptions_any_match(subscriptions, "a/x", KV_SUBSCRIPTION_EACH));
  g_assert_true(kv_subscriptions_add(subscriptions, ":1.1", "a/", KV_SUBSCRIPTION_COALESCED, NULL));
  g_assert_true(kv_subscriptions_any(subscriptions, KV_SUBSCRIPTION_COALESCED));
  g_assert_false(kv_subscriptions_any(subscriptions, KV_SUBSCRIPTION_EACH));
  g_assert_false(kv_subscriptions_any_match(subscriptions, "a/x", KV_SUBSCRIPTION_EACH));
  g_assert_true(kv_subscriptions_any_match(subscriptions, "a/x", KV_SUBSCRIPTION_COALESCED));
  g_assert_true(
      kv_subscriptions_peer_matches(subscriptions, ":1.1", "a/x", KV_SUBSCRIPTION_COALESCED));
  g_assert_false(
      kv_subscriptions_peer_matches(subscriptions, ":1.1", "b/x", KV_SUBSCRIPTION_COALESCED));
  g_assert_true(kv_subscriptions_add(subscriptions, ":1.1", "a/", KV_SUBSCRIPTION_EACH, NULL));
  g_assert_true(kv_subscriptions_any_match(subscriptions, "a/x", KV_SUBSCRIPTION_EACH));

  g_assert_true(kv_subscriptions_remove(subscriptions, ":1.1", "a/"));
  g_assert_false(kv_subscriptions_any(subscriptions, KV_SUBSCRIPTION_COALESCED));
  g_assert_false(kv_subscriptions_any(subscriptions, KV_SUBSCRIPTION_EACH));
  g_assert_cmpuint(kv_subscriptions_n_peers(subscriptions), ==, 0);

  /* A peer that leaves takes its counts with it. */
  g_assert_true(kv_subscriptions_add(subscriptions, ":1.2", "", KV_SUBSCRIPTION_COALESCED, NULL));
  kv_subscriptions_remove_peer(subscriptions, ":1.2");
  g_assert_false(kv_subscriptions_any(subscriptions, KV_SUBSCRIPTION_COALESCED));
}

static void test_limit_per_peer(void)
{
  g_autoptr(KvSubscriptions) subscriptions = kv_subscriptions_new();
  g_autoptr(GError) error = NULL;

  for (guint i = 0; i < KV_SUBSCRIPTIONS_MAX_PER_PEER; i++) {
    g_autofree char *prefix = g_strdup_printf("p%u/", i);
    g_assert_true(kv_subscriptions_add(subscriptions, ":1.1", prefix, KV_SUBSCRIPTION_EACH, NULL));
  }
  /* Again an existing one: no more held. */
  g_assert_true(kv_subscriptions_add(subscriptions, ":1.1", "p0/", KV_SUBSCRIPTION_EACH, NULL));
  g_assert_false(
      kv_subscriptions_add(subscriptions, ":1.1", "one-more/", KV_SUBSCRIPTION_EACH, &error));
  g_assert_error(error, KV_ERROR, KV_ERROR_TOO_LARGE);
  /* Others are not held back by it. */
  g_assert_true(
      kv_subscriptions_add(subscriptions, ":1.2", "one-more/", KV_SUBSCRIPTION_EACH, NULL));
}

int main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/subscriptions/matching", test_matching);
  g_test_add_func("/subscriptions/kinds", test_kinds);
  g_test_add_func("/subscriptions/limit-per-peer", test_limit_per_peer);
  return g_test_run();
}
