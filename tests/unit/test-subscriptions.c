/* SPDX-License-Identifier: LGPL-2.1-or-later */
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

  g_assert_true(kv_subscriptions_add(subscriptions, ":1.1", 7, "app/", KV_SUBSCRIPTION_EACH, NULL));
  g_assert_true(
      kv_subscriptions_add(subscriptions, ":1.1", 7, "app/x", KV_SUBSCRIPTION_EACH, NULL));
  g_assert_true(kv_subscriptions_add(subscriptions, ":1.2", 7, "", KV_SUBSCRIPTION_EACH, NULL));
  g_assert_true(
      kv_subscriptions_add(subscriptions, ":1.3", 7, "other", KV_SUBSCRIPTION_EACH, NULL));

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
  g_assert_true(
      kv_subscriptions_add(subscriptions, ":1.1", 7, "a/", KV_SUBSCRIPTION_COALESCED, NULL));
  g_assert_true(kv_subscriptions_any(subscriptions, KV_SUBSCRIPTION_COALESCED));
  g_assert_false(kv_subscriptions_any(subscriptions, KV_SUBSCRIPTION_EACH));
  g_assert_false(kv_subscriptions_any_match(subscriptions, "a/x", KV_SUBSCRIPTION_EACH));
  g_assert_true(kv_subscriptions_any_match(subscriptions, "a/x", KV_SUBSCRIPTION_COALESCED));
  g_assert_true(
      kv_subscriptions_peer_matches(subscriptions, ":1.1", "a/x", KV_SUBSCRIPTION_COALESCED));
  g_assert_false(
      kv_subscriptions_peer_matches(subscriptions, ":1.1", "b/x", KV_SUBSCRIPTION_COALESCED));
  g_assert_true(kv_subscriptions_add(subscriptions, ":1.1", 7, "a/", KV_SUBSCRIPTION_EACH, NULL));
  g_assert_true(kv_subscriptions_any_match(subscriptions, "a/x", KV_SUBSCRIPTION_EACH));

  g_assert_true(kv_subscriptions_remove(subscriptions, ":1.1", "a/"));
  g_assert_false(kv_subscriptions_any(subscriptions, KV_SUBSCRIPTION_COALESCED));
  g_assert_false(kv_subscriptions_any(subscriptions, KV_SUBSCRIPTION_EACH));
  g_assert_cmpuint(kv_subscriptions_n_peers(subscriptions), ==, 0);

  /* A peer that leaves takes its counts with it. */
  g_assert_true(
      kv_subscriptions_add(subscriptions, ":1.2", 7, "", KV_SUBSCRIPTION_COALESCED, NULL));
  kv_subscriptions_remove_peer(subscriptions, ":1.2");
  g_assert_false(kv_subscriptions_any(subscriptions, KV_SUBSCRIPTION_COALESCED));
}

static void test_limit_per_peer(void)
{
  g_autoptr(KvSubscriptions) subscriptions = kv_subscriptions_new();
  g_autoptr(GError) error = NULL;

  for (guint i = 0; i < KV_SUBSCRIPTIONS_MAX_PER_PEER; i++) {
    g_autofree char *prefix = g_strdup_printf("p%u/", i);
    g_assert_true(
        kv_subscriptions_add(subscriptions, ":1.1", 7, prefix, KV_SUBSCRIPTION_EACH, NULL));
  }
  /* Again an existing one: no more held. */
  g_assert_true(kv_subscriptions_add(subscriptions, ":1.1", 7, "p0/", KV_SUBSCRIPTION_EACH, NULL));
  g_assert_false(
      kv_subscriptions_add(subscriptions, ":1.1", 7, "one-more/", KV_SUBSCRIPTION_EACH, &error));
  g_assert_error(error, KV_ERROR, KV_ERROR_TOO_LARGE);
  /* Others are not held back by it. */
  g_assert_true(
      kv_subscriptions_add(subscriptions, ":1.2", 7, "one-more/", KV_SUBSCRIPTION_EACH, NULL));
}

/* One uid cannot make kvstored hold more by opening more connections. */
static void test_limit_per_owner(void)
{
  g_autoptr(KvSubscriptions) subscriptions = kv_subscriptions_new();
  g_autoptr(GError) error = NULL;
  guint peers = KV_SUBSCRIPTIONS_MAX_PER_OWNER / KV_SUBSCRIPTIONS_MAX_PER_PEER;

  for (guint p = 0; p < peers; p++)
    for (guint i = 0; i < KV_SUBSCRIPTIONS_MAX_PER_PEER; i++) {
      g_autofree char *peer = g_strdup_printf(":1.%u", p);
      g_autofree char *prefix = g_strdup_printf("p%u/", i);
      g_assert_true(
          kv_subscriptions_add(subscriptions, peer, 42, prefix, KV_SUBSCRIPTION_EACH, NULL));
    }
  g_assert_false(
      kv_subscriptions_add(subscriptions, ":2.0", 42, "x/", KV_SUBSCRIPTION_EACH, &error));
  g_assert_error(error, KV_ERROR, KV_ERROR_TOO_LARGE);
  g_clear_error(&error);
  /* Another uid is not held back. */
  g_assert_true(kv_subscriptions_add(subscriptions, ":2.1", 43, "x/", KV_SUBSCRIPTION_EACH, NULL));
  /* Room comes back with an Unsubscribe, and with a peer that leaves. */
  g_assert_true(kv_subscriptions_remove(subscriptions, ":1.0", "p0/"));
  g_assert_true(kv_subscriptions_add(subscriptions, ":2.0", 42, "x/", KV_SUBSCRIPTION_EACH, NULL));
  g_assert_false(kv_subscriptions_add(subscriptions, ":2.0", 42, "y/", KV_SUBSCRIPTION_EACH, NULL));
  kv_subscriptions_remove_peer(subscriptions, ":1.1");
  for (guint i = 0; i < KV_SUBSCRIPTIONS_MAX_PER_PEER - 1; i++) {
    g_autofree char *prefix = g_strdup_printf("q%u/", i);
    g_assert_true(
        kv_subscriptions_add(subscriptions, ":2.0", 42, prefix, KV_SUBSCRIPTION_EACH, NULL));
  }
}

int main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/subscriptions/matching", test_matching);
  g_test_add_func("/subscriptions/kinds", test_kinds);
  g_test_add_func("/subscriptions/limit-per-peer", test_limit_per_peer);
  g_test_add_func("/subscriptions/limit-per-owner", test_limit_per_owner);
  return g_test_run();
}
