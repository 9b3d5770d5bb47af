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

/* A random prefix or key over a two-letter alphabet, @max letters at most. */
static char *random_text(GRand *rand, guint max)
{
  guint len = (guint)g_rand_int_range(rand, 0, (gint32)max + 1);
  char *text = g_malloc(len + 1);

  for (guint i = 0; i < len; i++)
    text[i] = g_rand_boolean(rand) ? 'a' : 'b';
  text[len] = '\0';
  return text;
}

/* What a plain model of the subscriptions says matches @key: peers by name, sorted. */
static char *model_matches(GHashTable *model, const char *key)
{
  g_autoptr(GPtrArray) peers = g_ptr_array_new_with_free_func(g_free);
  GHashTableIter iter;
  gpointer peer, prefixes;

  g_hash_table_iter_init(&iter, model);
  while (g_hash_table_iter_next(&iter, &peer, &prefixes)) {
    GHashTableIter each;
    gpointer prefix;
    g_hash_table_iter_init(&each, prefixes);
    while (g_hash_table_iter_next(&each, &prefix, NULL))
      if (g_str_has_prefix(key, prefix)) {
        g_ptr_array_add(peers, g_strdup(peer));
        break;
      }
  }
  g_ptr_array_sort(peers, compare_names);
  g_ptr_array_add(peers, NULL);
  return g_strjoinv(",", (char **)peers->pdata);
}

/* The index of prefixes against a plain model, through 5,000 random subscriptions,
 * unsubscriptions, departures and lookups. */
static void test_matches_model(void)
{
  g_autoptr(GRand) rand = g_rand_new_with_seed(20261206);
  g_autoptr(KvSubscriptions) subscriptions = kv_subscriptions_new();
  g_autoptr(GHashTable) model =
      g_hash_table_new_full(g_str_hash, g_str_equal, g_free, (GDestroyNotify)g_hash_table_unref);

  for (int step = 0; step < 5000; step++) {
    g_autofree char *peer = g_strdup_printf(":1.%d", g_rand_int_range(rand, 0, 8));
    g_autofree char *text = random_text(rand, 6);
    GHashTable *prefixes = g_hash_table_lookup(model, peer);
    int action = g_rand_int_range(rand, 0, 10);
    if (action < 4) {
      g_assert_true(kv_subscriptions_add(subscriptions, peer, 7, text, KV_SUBSCRIPTION_EACH, NULL));
      if (prefixes == NULL) {
        prefixes = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
        g_hash_table_insert(model, g_strdup(peer), prefixes);
      }
      g_hash_table_add(prefixes, g_strdup(text));
    } else if (action < 6) {
      gboolean had = prefixes != NULL && g_hash_table_remove(prefixes, text);
      g_assert_cmpint(kv_subscriptions_remove(subscriptions, peer, text), ==, had);
      if (prefixes != NULL && g_hash_table_size(prefixes) == 0)
        g_hash_table_remove(model, peer);
    } else if (action < 7) {
      kv_subscriptions_remove_peer(subscriptions, peer);
      g_hash_table_remove(model, peer);
    } else {
      g_autofree char *found = matches(subscriptions, text);
      g_autofree char *expected = model_matches(model, text);
      if (g_strcmp0(found, expected) != 0)
        g_error("step %d, key '%s': '%s', expected '%s'", step, text, found, expected);
    }
    g_assert_cmpuint(kv_subscriptions_n_peers(subscriptions), ==, g_hash_table_size(model));
  }
}

static void count_match(const char *peer, gpointer data)
{
  (*(guint *)data)++;
}

/* Seconds to match 2,000 keys of 4 KiB. */
static double time_matching(KvSubscriptions *subscriptions, const char *key)
{
  gint64 start = g_get_monotonic_time();
  guint n = 0;

  for (int i = 0; i < 2000; i++)
    kv_subscriptions_foreach_match(subscriptions, key, KV_SUBSCRIPTION_EACH, count_match, &n);
  g_assert_cmpuint(n, ==, 2000);
  return (g_get_monotonic_time() - start) / 1e6;
}

/* A key is matched at the cost of its own length and its subscribers, whatever else is
 * subscribed: 1,024 long prefixes that match nothing (one uid's most) add little, where
 * each once cost a comparison at every key of every commit. */
static void test_match_cost(void)
{
  g_autoptr(KvSubscriptions) one = kv_subscriptions_new();
  g_autoptr(KvSubscriptions) crowded = kv_subscriptions_new();
  g_autofree char *key = g_strnfill(4096, 'k');
  g_autofree char *near = g_strnfill(4000, 'k');

  g_autofree char *long_one = g_strdup_printf("%s%04d", near, 9999);

  /* The same lengths subscribed, so that both hash as much of each key. */
  g_assert_true(kv_subscriptions_add(one, ":1.1", 7, "k", KV_SUBSCRIPTION_EACH, NULL));
  g_assert_true(kv_subscriptions_add(one, ":2.0", 8, long_one, KV_SUBSCRIPTION_EACH, NULL));
  g_assert_true(kv_subscriptions_add(crowded, ":1.1", 7, "k", KV_SUBSCRIPTION_EACH, NULL));
  for (int i = 0; i < KV_SUBSCRIPTIONS_MAX_PER_OWNER - 1; i++) {
    g_autofree char *peer = g_strdup_printf(":2.%d", i / KV_SUBSCRIPTIONS_MAX_PER_PEER);
    g_autofree char *prefix = g_strdup_printf("%s%04d", near, i);
    g_assert_true(kv_subscriptions_add(crowded, peer, 8, prefix, KV_SUBSCRIPTION_EACH, NULL));
  }
  double alone = time_matching(one, key);
  double among = time_matching(crowded, key);
  g_test_message("2,000 keys of 4 KiB: %.2f ms with two subscriptions, %.2f ms among 1,024",
                 alone * 1e3, among * 1e3);
  g_assert_cmpfloat(among, <, 5 * alone + 0.02);
}

int main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/subscriptions/matching", test_matching);
  g_test_add_func("/subscriptions/kinds", test_kinds);
  g_test_add_func("/subscriptions/limit-per-peer", test_limit_per_peer);
  g_test_add_func("/subscriptions/limit-per-owner", test_limit_per_owner);
  g_test_add_func("/subscriptions/matches-model", test_matches_model);
  g_test_add_func("/subscriptions/match-cost", test_match_cost);
  return g_test_run();
}
