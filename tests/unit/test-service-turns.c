/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Writes through a repository that answers later (as etcd does), answered by the test
 * one at a time: writes of one key take turns in the order they came, each planned from
 * what the ones before it left; writes of other keys do not wait. */
#include "kv-test-assert.h"
#include "kv-error.h"
#include "kv-memory-repository.h"
#include "kv-service.h"

/* A submitted change set, held until the test answers it. */
typedef struct {
  GArray *changes;  /* KvChange, keys and values owned */
  GArray *compares; /* KvCompare, keys owned */
  KvRepositorySubmitFunc done;
  gpointer user_data;
} Held;

typedef struct {
  KvRepository parent;
  KvRepository *inner;
  GPtrArray *held; /* Held, oldest first */
} LaterRepository;

static void held_free(Held *held)
{
  for (guint i = 0; i < held->changes->len; i++) {
    KvChange *change = &g_array_index(held->changes, KvChange, i);
    g_free((char *)change->key);
    g_clear_pointer(&change->value, g_variant_unref);
  }
  for (guint i = 0; i < held->compares->len; i++)
    g_free((char *)g_array_index(held->compares, KvCompare, i).key);
  g_array_unref(held->changes);
  g_array_unref(held->compares);
  g_free(held);
}

static KvRepository *inner(KvRepository *repository)
{
  return ((LaterRepository *)repository)->inner;
}

static GVariant *later_lookup(KvRepository *self, const char *key, guint64 *out_revision)
{
  return kv_repository_lookup(inner(self), key, out_revision);
}

static gboolean later_apply(KvRepository *self, const KvChange *changes, gsize n, GError **error)
{
  return kv_repository_apply(inner(self), changes, n, error);
}

static gboolean later_exists(KvRepository *self, const char *key)
{
  return kv_repository_exists(inner(self), key);
}

static guint later_count(KvRepository *self)
{
  return kv_repository_count(inner(self));
}

static guint64 later_revision(KvRepository *self)
{
  return kv_repository_revision(inner(self));
}

static void later_foreach(KvRepository *self, const char *prefix, const char *after,
                          gboolean with_values, KvRepositoryForeachFunc func, gpointer user_data)
{
  kv_repository_foreach(inner(self), prefix, after, with_values, func, user_data);
}

static gboolean later_commit(KvRepository *self, GError **error)
{
  return TRUE;
}

static void later_free(KvRepository *self)
{
  LaterRepository *later = (LaterRepository *)self;

  g_ptr_array_unref(later->held);
  kv_repository_free(later->inner);
  g_free(later);
}

static void later_submit(KvRepository *self, const KvChange *changes, gsize n_changes,
                         const KvCompare *compares, gsize n_compares, KvRepositorySubmitFunc done,
                         gpointer user_data)
{
  Held *held = g_new0(Held, 1);

  held->changes = g_array_new(FALSE, FALSE, sizeof(KvChange));
  held->compares = g_array_new(FALSE, FALSE, sizeof(KvCompare));
  for (gsize i = 0; i < n_changes; i++) {
    KvChange change = {g_strdup(changes[i].key),
                       changes[i].value ? g_variant_ref_sink(changes[i].value) : NULL};
    g_array_append_val(held->changes, change);
  }
  for (gsize i = 0; i < n_compares; i++) {
    KvCompare compare = {g_strdup(compares[i].key), compares[i].revision};
    g_array_append_val(held->compares, compare);
  }
  held->done = done;
  held->user_data = user_data;
  g_ptr_array_add(((LaterRepository *)self)->held, held);
}

static const KvRepositoryVTable later_vtable = {
    .lookup = later_lookup,
    .apply = later_apply,
    .exists = later_exists,
    .count = later_count,
    .revision = later_revision,
    .foreach = later_foreach,
    .commit = later_commit,
    .free = later_free,
    .submit = later_submit,
};

/* Makes the @i-th held change set (its compares checked, as etcd's Txn does) and tells
 * its writer. */
static void answer(LaterRepository *later, guint i)
{
  Held *held = g_ptr_array_steal_index(later->held, i);

  for (guint c = 0; c < held->compares->len; c++) {
    const KvCompare *compare = &g_array_index(held->compares, KvCompare, c);
    guint64 revision = 0;
    g_autoptr(GVariant) value = kv_repository_lookup(later->inner, compare->key, &revision);
    if ((value != NULL ? revision : 0) != compare->revision) {
      g_autoptr(GError) error = g_error_new(KV_ERROR, KV_ERROR_CONFLICT, "changed");
      held->done(0, error, held->user_data);
      held_free(held);
      return;
    }
  }
  g_assert_true(kv_repository_apply(later->inner, (const KvChange *)held->changes->data,
                                    held->changes->len, NULL));
  held->done(kv_repository_revision(later->inner), NULL, held->user_data);
  held_free(held);
}

/* Tells the @i-th held change set's writer that the store could not be reached. */
static void fail(LaterRepository *later, guint i)
{
  Held *held = g_ptr_array_steal_index(later->held, i);
  g_autoptr(GError) error = g_error_new(KV_ERROR, KV_ERROR_UNAVAILABLE, "unreachable");

  held->done(0, error, held->user_data);
  held_free(held);
}

/* The key of each held change set's first change, in order: "a b". */
static char *held_keys(LaterRepository *later)
{
  g_autoptr(GString) text = g_string_new(NULL);

  for (guint i = 0; i < later->held->len; i++) {
    Held *held = g_ptr_array_index(later->held, i);
    g_string_append_printf(text, "%s%s", i > 0 ? " " : "",
                           g_array_index(held->changes, KvChange, 0).key);
  }
  return g_string_free(g_steal_pointer(&text), FALSE);
}

typedef struct {
  LaterRepository *later;
  KvService *service;
} Fixture;

static void setup(Fixture *f, gconstpointer data)
{
  f->later = g_new0(LaterRepository, 1);
  f->later->parent.vtable = &later_vtable;
  f->later->inner = kv_memory_repository_new();
  f->later->held = g_ptr_array_new_with_free_func((GDestroyNotify)held_free);
  f->service = kv_service_new(&f->later->parent, 1024);
}

static void teardown(Fixture *f, gconstpointer data)
{
  kv_service_free(f->service);
  kv_repository_free(&f->later->parent);
}

typedef struct {
  KvWrite write;
  gboolean done;
  GError *error;
} Call;

static void on_done(KvWrite *write, const GError *error, gpointer user_data)
{
  Call *call = user_data;

  call->done = TRUE;
  if (error != NULL)
    call->error = g_error_copy(error);
}

static void submit(Fixture *f, Call *call)
{
  kv_service_submit(f->service, &call->write, on_done, call);
}

static void assert_held(Fixture *f, const char *expected)
{
  g_autofree char *keys = held_keys(f->later);

  g_assert_cmpstr(keys, ==, expected);
}

static void assert_value(Fixture *f, const char *key, GVariant *expected)
{
  g_autoptr(GVariant) value = kv_repository_get(f->later->inner, key);
  g_autoptr(GVariant) owned = expected ? g_variant_ref_sink(expected) : NULL;

  if (owned == NULL)
    g_assert_null(value);
  else
    kv_assert_variant_eq(value, owned);
}

/* Set, Set, Delete of one key, all sent before any is answered: made one after the
 * other, the Delete planned once the Sets are made (so it deletes). */
static void test_one_key_in_order(Fixture *f, gconstpointer data)
{
  g_autoptr(GVariant) one = g_variant_ref_sink(g_variant_new_int32(1));
  g_autoptr(GVariant) two = g_variant_ref_sink(g_variant_new_int32(2));
  Call first = {{.kind = KV_WRITE_SET, .key = "k", .value = one}};
  Call second = {{.kind = KV_WRITE_SET, .key = "k", .value = two}};
  Call deletion = {{.kind = KV_WRITE_DELETE, .key = "k"}};

  submit(f, &first);
  submit(f, &second);
  submit(f, &deletion);
  assert_held(f, "k");
  g_assert_false(second.done || deletion.done);

  answer(f->later, 0);
  g_assert_true(first.done);
  assert_held(f, "k");
  assert_value(f, "k", g_variant_new_int32(1));
  answer(f->later, 0);
  g_assert_true(second.done);
  assert_value(f, "k", g_variant_new_int32(2));
  assert_held(f, "k");
  answer(f->later, 0);
  g_assert_true(deletion.done);
  g_assert_no_error(deletion.error);
  g_assert_cmpuint(deletion.write.deleted, ==, 1);
  assert_value(f, "k", NULL);
  assert_held(f, "");
}

/* Writes of other keys go out at once; a batch waits for the write of a key it names. */
static void test_other_keys_do_not_wait(Fixture *f, gconstpointer data)
{
  g_autoptr(GVariant) value = g_variant_ref_sink(g_variant_new_int32(1));
  KvChange batch_changes[] = {{"b", value}, {"c", value}};
  Call a = {{.kind = KV_WRITE_SET, .key = "a", .value = value}};
  Call b = {{.kind = KV_WRITE_SET, .key = "b", .value = value}};
  Call batch = {{.kind = KV_WRITE_SET_MANY, .changes = batch_changes, .n_changes = 2}};
  Call d = {{.kind = KV_WRITE_SET, .key = "d", .value = value}};

  submit(f, &a);
  submit(f, &b);
  submit(f, &batch);
  submit(f, &d);
  assert_held(f, "a b d");
  answer(f->later, 1);
  assert_held(f, "a d b");
  answer(f->later, 2);
  g_assert_true(batch.done);
  answer(f->later, 0);
  answer(f->later, 0);
  assert_held(f, "");
  g_assert_cmpuint(kv_repository_count(f->later->inner), ==, 4);
}

/* A waiting batch keeps its place for every key it names: a later write of its second
 * key does not pass it. */
static void test_waiting_write_keeps_its_place(Fixture *f, gconstpointer data)
{
  g_autoptr(GVariant) early = g_variant_ref_sink(g_variant_new_string("batch"));
  g_autoptr(GVariant) late = g_variant_ref_sink(g_variant_new_string("last"));
  KvChange batch_changes[] = {{"a", early}, {"b", early}};
  Call a = {{.kind = KV_WRITE_SET, .key = "a", .value = early}};
  Call batch = {{.kind = KV_WRITE_SET_MANY, .changes = batch_changes, .n_changes = 2}};
  Call b = {{.kind = KV_WRITE_SET, .key = "b", .value = late}};

  submit(f, &a);
  submit(f, &batch);
  submit(f, &b);
  assert_held(f, "a");
  answer(f->later, 0);
  assert_held(f, "a");
  answer(f->later, 0);
  g_assert_true(batch.done);
  assert_held(f, "b");
  answer(f->later, 0);
  assert_value(f, "b", g_variant_new_string("last"));
}

/* A write refused once its turn comes (an increment of what a write before it made a
 * string) is told so, and lets the next write of the key go. */
static void test_refused_write_lets_next_go(Fixture *f, gconstpointer data)
{
  g_autoptr(GVariant) text = g_variant_ref_sink(g_variant_new_string("not a number"));
  g_autoptr(GVariant) number = g_variant_ref_sink(g_variant_new_int64(1));
  Call set_text = {{.kind = KV_WRITE_SET, .key = "a", .value = text}};
  Call increment = {{.kind = KV_WRITE_INCREMENT, .key = "a", .delta = 1}};
  Call set_number = {{.kind = KV_WRITE_SET, .key = "a", .value = number}};

  submit(f, &set_text);
  submit(f, &increment);
  submit(f, &set_number);
  assert_held(f, "a");
  answer(f->later, 0);
  g_assert_true(increment.done);
  g_assert_nonnull(increment.error);
  g_assert_false(set_number.done);
  assert_held(f, "a");
  answer(f->later, 0);
  g_assert_true(set_number.done);
  assert_value(f, "a", g_variant_new_int64(1));
  assert_held(f, "");
  g_clear_error(&increment.error);
}

typedef struct {
  Fixture *f;
  const char *key;
  GVariant *seen; /* the key's value when the read's turn came */
  gboolean told;
} Read;

static void on_turn(gpointer user_data)
{
  Read *read = user_data;

  read->told = TRUE;
  read->seen = kv_repository_get(read->f->later->inner, read->key);
}

/* A read waits for the writes of its key sent before it, and a write sent after the read
 * waits for the read; a read of another key does not wait. */
static void test_read_takes_its_turn(Fixture *f, gconstpointer data)
{
  g_autoptr(GVariant) one = g_variant_ref_sink(g_variant_new_int32(1));
  g_autoptr(GVariant) two = g_variant_ref_sink(g_variant_new_int32(2));
  Call first = {{.kind = KV_WRITE_SET, .key = "k", .value = one}};
  Call second = {{.kind = KV_WRITE_SET, .key = "k", .value = two}};
  Read read = {f, "k", NULL, FALSE};
  const char *k[] = {"k"}, *other[] = {"other"};

  g_assert_false(kv_service_read_waits(f->service, k, 1));
  submit(f, &first);
  g_assert_true(kv_service_read_waits(f->service, k, 1));
  g_assert_false(kv_service_read_waits(f->service, other, 1));
  kv_service_wait_turn(f->service, k, 1, on_turn, &read, NULL);
  submit(f, &second);
  g_assert_false(read.told);
  assert_held(f, "k");

  answer(f->later, 0);
  g_assert_true(read.told);
  g_assert_nonnull(read.seen);
  kv_assert_variant_eq(read.seen, g_variant_new_int32(1));
  assert_held(f, "k");
  answer(f->later, 0);
  g_assert_true(second.done);
  g_assert_false(kv_service_read_waits(f->service, k, 1));
  g_variant_unref(read.seen);
}

typedef struct {
  Fixture *f;
  const char *key;
  Call *deletion; /* submitted at the listing's turn when it sees @key */
  gboolean told;
} Listing;

static void on_listing_turn(gpointer user_data)
{
  Listing *listing = user_data;

  listing->told = TRUE;
  if (kv_repository_exists(listing->f->later->inner, listing->key))
    submit(listing->f, listing->deletion);
}

/* A listing (a read of every key, as DeletePrefix makes) waits for every write before it,
 * writes after it wait for it, and what its turn submits goes before them: a Set after a
 * DeletePrefix of its key is not deleted. */
static void test_listing_takes_its_turn(Fixture *f, gconstpointer data)
{
  g_autoptr(GVariant) before = g_variant_ref_sink(g_variant_new_string("before"));
  g_autoptr(GVariant) after = g_variant_ref_sink(g_variant_new_string("after"));
  Call set_before = {{.kind = KV_WRITE_SET, .key = "p/x", .value = before}};
  Call deletion = {{.kind = KV_WRITE_DELETE, .key = "p/x"}};
  Call set_after = {{.kind = KV_WRITE_SET, .key = "p/x", .value = after}};
  Listing listing = {f, "p/x", &deletion, FALSE};

  submit(f, &set_before);
  g_assert_true(kv_service_read_waits(f->service, NULL, 0));
  kv_service_wait_turn(f->service, NULL, 0, on_listing_turn, &listing, NULL);
  submit(f, &set_after);
  assert_held(f, "p/x");
  g_assert_false(listing.told);

  answer(f->later, 0);
  g_assert_true(set_before.done && listing.told);
  assert_held(f, "p/x");
  answer(f->later, 0);
  g_assert_true(deletion.done);
  g_assert_cmpuint(deletion.write.deleted, ==, 1);
  g_assert_false(set_after.done);
  answer(f->later, 0);
  g_assert_true(set_after.done);
  assert_value(f, "p/x", g_variant_new_string("after"));
  g_assert_false(kv_service_read_waits(f->service, NULL, 0));
}

/* @n changes of keys "@prefix0000"... and "k", all to @value (keys to g_free()). */
static KvChange *batch_with_k(const char *prefix, guint n, GVariant *value)
{
  KvChange *changes = g_new0(KvChange, n + 1);

  for (guint i = 0; i < n; i++)
    changes[i] = (KvChange){g_strdup_printf("%s%04u", prefix, i), value};
  changes[n] = (KvChange){g_strdup("k"), value};
  return changes;
}

static void batch_free(KvChange *changes, guint n)
{
  for (guint i = 0; i <= n; i++)
    g_free((char *)changes[i].key);
  g_free(changes);
}

/* A look through the waiting writes stops past a batch's worth of their keys: a write
 * behind two large waiting batches waits for a later look (without the bound "z" would
 * go out at once), and all are made in the end. */
static void test_waiting_work_bounded(Fixture *f, gconstpointer data)
{
  enum { N = 3000 };
  g_autoptr(GVariant) value = g_variant_ref_sink(g_variant_new_int32(1));
  KvChange *first_changes = batch_with_k("a", N, value),
           *second_changes = batch_with_k("b", N, value);
  Call k = {{.kind = KV_WRITE_SET, .key = "k", .value = value}};
  Call first = {{.kind = KV_WRITE_SET_MANY, .changes = first_changes, .n_changes = N + 1}};
  Call second = {{.kind = KV_WRITE_SET_MANY, .changes = second_changes, .n_changes = N + 1}};
  Call z = {{.kind = KV_WRITE_SET, .key = "z", .value = value}};

  submit(f, &k);
  submit(f, &first);
  submit(f, &second);
  submit(f, &z);
  assert_held(f, "k");
  answer(f->later, 0);
  /* One batch waiting now (for "k"): "z" is reached. */
  assert_held(f, "a0000 z");
  answer(f->later, 0);
  assert_held(f, "z b0000");
  answer(f->later, 0);
  answer(f->later, 0);
  g_assert_true(first.done && second.done && z.done);
  g_assert_cmpuint(kv_repository_count(f->later->inner), ==, 2 * N + 2);
  batch_free(first_changes, N);
  batch_free(second_changes, N);
}

/* The writes waiting behind one that found the store unreachable fail with it at once
 * (each would take its own timeout one after the other); writes of other keys go on. */
static void test_unavailable_fails_writes_behind(Fixture *f, gconstpointer data)
{
  g_autoptr(GVariant) value = g_variant_ref_sink(g_variant_new_int32(1));
  Call first = {{.kind = KV_WRITE_SET, .key = "k", .value = value}};
  Call second = {{.kind = KV_WRITE_SET, .key = "k", .value = value}};
  Call deletion = {{.kind = KV_WRITE_DELETE, .key = "k"}};
  Call other = {{.kind = KV_WRITE_SET, .key = "other", .value = value}};

  submit(f, &first);
  submit(f, &second);
  submit(f, &deletion);
  submit(f, &other);
  assert_held(f, "k other");
  fail(f->later, 0);
  g_assert_error(first.error, KV_ERROR, KV_ERROR_UNAVAILABLE);
  g_assert_true(second.done && deletion.done);
  g_assert_error(second.error, KV_ERROR, KV_ERROR_UNAVAILABLE);
  g_assert_error(deletion.error, KV_ERROR, KV_ERROR_UNAVAILABLE);
  assert_held(f, "other");
  answer(f->later, 0);
  g_assert_true(other.done);
  g_assert_no_error(other.error);
  /* The key is free again. */
  Call later = {{.kind = KV_WRITE_SET, .key = "k", .value = value}};
  submit(f, &later);
  assert_held(f, "k");
  answer(f->later, 0);
  g_assert_no_error(later.error);
  g_clear_error(&first.error);
  g_clear_error(&second.error);
  g_clear_error(&deletion.error);
}

int main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
#define ADD(path, func) g_test_add("/service-turns/" path, Fixture, NULL, setup, func, teardown)
  ADD("one-key-in-order", test_one_key_in_order);
  ADD("other-keys-do-not-wait", test_other_keys_do_not_wait);
  ADD("waiting-write-keeps-its-place", test_waiting_write_keeps_its_place);
  ADD("refused-write-lets-next-go", test_refused_write_lets_next_go);
  ADD("read-takes-its-turn", test_read_takes_its_turn);
  ADD("waiting-work-bounded", test_waiting_work_bounded);
  ADD("listing-takes-its-turn", test_listing_takes_its_turn);
  ADD("unavailable-fails-writes-behind", test_unavailable_fails_writes_behind);
#undef ADD
  return g_test_run();
}
