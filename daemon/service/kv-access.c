/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Access rules by key prefix: who may read and write, quotas, and their drop-in files. It
 * is long because the rule files' reader is most of it: every error names its file and
 * line, and a bad file leaves the rules as they were. The reader could part from the
 * matcher next. */
#include "kv-access.h"

#include "kv-file-util.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <fcntl.h>

#define PRIVATE_PREFIX "users/"
/* A rule's limit that [Quota] decides. */
#define LIMIT_UNSET G_MAXUINT64

/* Who one permission admits. */
typedef struct {
  gboolean everyone;
  GArray *uids; /* uid_t */
  GArray *gids; /* gid_t */
} Who;

typedef struct {
  char *prefix;
  char *source; /* "FILE:LINE", or "built-in" */
  Who read;
  Who write;
  gboolean has_owner;
  uid_t owner;
  guint64 max_keys;
  guint64 max_bytes;
} Rule;

struct _KvAccess {
  GPtrArray *rules; /* Rule, longest prefix first; the last is the default (prefix "") */
  guint64 max_keys; /* per uid */
  guint64 max_bytes;
};

static void who_init(Who *who)
{
  who->uids = g_array_new(FALSE, FALSE, sizeof(uid_t));
  who->gids = g_array_new(FALSE, FALSE, sizeof(gid_t));
}

static void who_clear(Who *who)
{
  g_clear_pointer(&who->uids, g_array_unref);
  g_clear_pointer(&who->gids, g_array_unref);
}

static gboolean who_admits(const Who *who, const KvCaller *caller)
{
  if (who->everyone)
    return TRUE;
  for (guint i = 0; i < who->uids->len; i++)
    if (g_array_index(who->uids, uid_t, i) == caller->uid)
      return TRUE;
  for (guint i = 0; i < who->gids->len; i++)
    for (gsize j = 0; j < caller->n_gids; j++)
      if (g_array_index(who->gids, gid_t, i) == caller->gids[j])
        return TRUE;
  return FALSE;
}

/* Appends KIND:NAME, or KIND:ID when @name is NULL, after a space unless it is the
 * first of what began at @start. */
static void describe_id(GString *out, gsize start, const char *kind, const char *name, guint32 id)
{
  g_string_append_printf(out, "%s%s:", out->len > start ? " " : "", kind);
  if (name != NULL)
    g_string_append(out, name);
  else
    g_string_append_printf(out, "%u", (unsigned)id);
}

static void who_describe(const Who *who, GString *out)
{
  gsize start = out->len;

  if (who->everyone)
    g_string_append(out, "everyone");
  for (guint i = 0; i < who->uids->len; i++) {
    uid_t uid = g_array_index(who->uids, uid_t, i);
    struct passwd *pw = getpwuid(uid);
    describe_id(out, start, "user", pw != NULL ? pw->pw_name : NULL, uid);
  }
  for (guint i = 0; i < who->gids->len; i++) {
    gid_t gid = g_array_index(who->gids, gid_t, i);
    struct group *gr = getgrgid(gid);
    describe_id(out, start, "group", gr != NULL ? gr->gr_name : NULL, gid);
  }
  if (out->len == start)
    g_string_append(out, "root only");
}

static Rule *rule_new(const char *prefix, const char *source)
{
  Rule *rule = g_new0(Rule, 1);

  rule->prefix = g_strdup(prefix);
  rule->source = g_strdup(source);
  rule->max_keys = LIMIT_UNSET;
  rule->max_bytes = LIMIT_UNSET;
  who_init(&rule->read);
  who_init(&rule->write);
  return rule;
}

static void rule_free(gpointer data)
{
  Rule *rule = data;

  g_free(rule->prefix);
  g_free(rule->source);
  who_clear(&rule->read);
  who_clear(&rule->write);
  g_free(rule);
}

/* The uid N of a key starting "users/N/" (N in canonical decimal), or FALSE. */
static gboolean private_owner(const char *key, uid_t *out_uid, gsize *out_prefix_len)
{
  const char *digits = key + strlen(PRIVATE_PREFIX);
  char *end;

  if (!g_str_has_prefix(key, PRIVATE_PREFIX) || !g_ascii_isdigit(*digits) ||
      (digits[0] == '0' && digits[1] != '/'))
    return FALSE;
  errno = 0;
  guint64 uid = g_ascii_strtoull(digits, &end, 10);
  if (errno != 0 || *end != '/' || uid >= (guint64)(uid_t)-1)
    return FALSE;
  *out_uid = (uid_t)uid;
  *out_prefix_len = (gsize)(end + 1 - key);
  return TRUE;
}

/* The rule that decides @key: NULL for the built-in private rule of "users/<uid>/". */
static const Rule *find_rule(const KvAccess *self, const char *key, uid_t *out_private_uid)
{
  uid_t uid = 0;
  gsize private_len = 0;
  gboolean is_private = private_owner(key, &uid, &private_len);

  for (guint i = 0; i < self->rules->len; i++) {
    const Rule *rule = g_ptr_array_index(self->rules, i);
    gsize len = strlen(rule->prefix);

    if (is_private && len < private_len)
      break;
    if (strncmp(key, rule->prefix, len) == 0)
      return rule;
  }
  *out_private_uid = uid;
  return NULL;
}

gboolean kv_access_allows(const KvAccess *self, const KvCaller *caller, const char *key,
                          KvAccessMode mode)
{
  uid_t owner;

  if (caller->uid == 0)
    return TRUE;
  const Rule *rule = find_rule(self, key, &owner);
  if (rule == NULL)
    return caller->uid == owner;
  return who_admits(mode == KV_ACCESS_READ ? &rule->read : &rule->write, caller);
}

gboolean kv_access_reader_admits(const char *key, gpointer reader)
{
  const KvAccessReader *r = reader;

  return kv_access_allows(r->access, r->caller, key, KV_ACCESS_READ);
}

/* The least string after every key that starts with @prefix, or NULL when none is (for
 * "", or a prefix of 0xff bytes alone). */
static char *prefix_end(const char *prefix)
{
  gsize len = strlen(prefix);

  while (len > 0 && (guchar)prefix[len - 1] == 0xff)
    len--;
  if (len == 0)
    return NULL;
  char *end = g_strndup(prefix, len);
  end[len - 1] = (char)((guchar)end[len - 1] + 1);
  return end;
}

/* Makes *@next the lesser of itself (NULL: none) and @candidate, when @candidate lies in
 * @scope after @key. */
static void nearer(char **next, const char *candidate, const char *scope, const char *key)
{
  if (!g_str_has_prefix(candidate, scope) || strcmp(candidate, key) <= 0 ||
      (*next != NULL && strcmp(candidate, *next) >= 0))
    return;
  g_free(*next);
  *next = g_strdup(candidate);
}

char *kv_access_next_readable(const KvAccess *self, const KvCaller *caller, const char *key)
{
  uid_t owner = 0;
  const Rule *rule = find_rule(self, key, &owner);
  g_autofree char *scope =
      rule != NULL ? g_strdup(rule->prefix) : g_strdup_printf(PRIVATE_PREFIX "%u/", owner);
  g_autofree char *own = g_strdup_printf(PRIVATE_PREFIX "%u/", caller->uid);
  char *next = prefix_end(scope);

  /* The rule that hides @key decides every later key of its scope but those of longer
   * rules inside it, and the caller's own private prefix: the first of them may admit. */
  for (guint i = 0; i < self->rules->len; i++)
    nearer(&next, ((const Rule *)g_ptr_array_index(self->rules, i))->prefix, scope, key);
  nearer(&next, own, scope, key);
  return next;
}

char *kv_access_reader_skip(const char *key, gpointer reader)
{
  const KvAccessReader *r = reader;

  return kv_access_next_readable(r->access, r->caller, key);
}

gboolean kv_access_everyone_reads(const KvAccess *self, const char *key)
{
  uid_t owner;
  const Rule *rule = find_rule(self, key, &owner);

  return rule != NULL && rule->read.everyone;
}

gboolean kv_access_reads_all(const KvAccess *self, const KvCaller *caller)
{
  /* Any other uid may not read the private prefixes of the others. */
  return caller->uid == 0;
}

char *kv_access_describe(const KvAccess *self, const char *key)
{
  uid_t owner;
  const Rule *rule = find_rule(self, key, &owner);
  GString *out = g_string_new(NULL);

  if (rule == NULL) {
    g_string_append_printf(out,
                           "prefix '" PRIVATE_PREFIX "%u/' (built-in): read: uid %u; "
                           "write: uid %u",
                           (unsigned)owner, (unsigned)owner, (unsigned)owner);
    return g_string_free(out, FALSE);
  }
  g_string_append_printf(out, "prefix '%s' (%s): read: ", rule->prefix, rule->source);
  who_describe(&rule->read, out);
  g_string_append(out, "; write: ");
  who_describe(&rule->write, out);
  return g_string_free(out, FALSE);
}

char *kv_access_quota_scope(const KvAccess *self, const char *key, guint64 *out_max_keys,
                            guint64 *out_max_bytes)
{
  uid_t owner;
  const Rule *rule = find_rule(self, key, &owner);

  if (rule == NULL || rule->has_owner) {
    *out_max_keys = self->max_keys;
    *out_max_bytes = self->max_bytes;
    return g_strdup_printf("uid %u", (unsigned)(rule == NULL ? owner : rule->owner));
  }
  *out_max_keys = rule->max_keys != LIMIT_UNSET ? rule->max_keys : self->max_keys;
  *out_max_bytes = rule->max_bytes != LIMIT_UNSET ? rule->max_bytes : self->max_bytes;
  return g_strdup_printf("prefix '%s'", rule->prefix);
}

gboolean kv_access_has_quota(uid_t uid)
{
  return uid != 0;
}

void kv_access_free(KvAccess *self)
{
  if (self == NULL)
    return;
  g_ptr_array_unref(self->rules);
  g_free(self);
}

static gint compare_rules(gconstpointer a, gconstpointer b)
{
  const Rule *ra = *(const Rule *const *)a, *rb = *(const Rule *const *)b;
  gsize la = strlen(ra->prefix), lb = strlen(rb->prefix);

  return la == lb ? 0 : la > lb ? -1 : 1;
}

KvAccess *kv_access_new_builtin(void)
{
  KvAccess *self = g_new0(KvAccess, 1);
  Rule *fallback = rule_new("", "built-in");

  fallback->read.everyone = TRUE;
  self->rules = g_ptr_array_new_with_free_func(rule_free);
  /* Lease records name their owners, and their markers the keys written with them, even
   * private ones: root's alone, unless a drop-in says otherwise. */
  g_ptr_array_add(self->rules, rule_new(".kvstore/", "built-in"));
  g_ptr_array_add(self->rules, fallback);
  self->max_keys = KV_ACCESS_DEFAULT_MAX_KEYS;
  self->max_bytes = KV_ACCESS_DEFAULT_MAX_BYTES;
  return self;
}

/* --- Reading the drop-in files --- */

/* One file being read: its text, to name lines in errors. */
typedef struct {
  const char *path;
  char **lines;
} Source;

/* The 1-based line of "[group]" or, with @key, of that key in the group; 0 if not found. */
static guint find_line(const Source *src, const char *group, const char *key)
{
  g_autofree char *header = g_strdup_printf("[%s]", group);
  gboolean in_group = FALSE;

  for (guint i = 0; src->lines[i] != NULL; i++) {
    g_autofree char *line = g_strstrip(g_strdup(src->lines[i]));

    if (line[0] == '[') {
      in_group = strcmp(line, header) == 0;
      if (in_group && key == NULL)
        return i + 1;
      continue;
    }
    if (in_group && key != NULL && g_str_has_prefix(line, key)) {
      const char *rest = line + strlen(key);
      while (*rest == ' ' || *rest == '\t')
        rest++;
      if (*rest == '=')
        return i + 1;
    }
  }
  return 0;
}

static gboolean fail_at(const Source *src, guint line, GError **error, const char *format, ...)
    G_GNUC_PRINTF(4, 5);

static gboolean fail_at(const Source *src, guint line, GError **error, const char *format, ...)
{
  va_list args;

  va_start(args, format);
  g_autofree char *message = g_strdup_vprintf(format, args);
  va_end(args);
  g_set_error(error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE, "%s:%u: %s", src->path, line,
              message);
  return FALSE;
}

/* Checks each line's form, which GKeyFile reports without its number. */
static gboolean check_lines(const Source *src, GError **error)
{
  for (guint i = 0; src->lines[i] != NULL; i++) {
    g_autofree char *line = g_strstrip(g_strdup(src->lines[i]));
    gsize len = strlen(line);

    if (len == 0 || line[0] == '#')
      continue;
    if (line[0] == '[') {
      if (line[len - 1] != ']' || len < 3 || strpbrk(line + 1, "[") != NULL ||
          strchr(line + 1, ']') != line + len - 1)
        return fail_at(src, i + 1, error, "'%s' is not a group header", line);
      continue;
    }
    if (strchr(line, '=') == NULL || line[0] == '=')
      return fail_at(src, i + 1, error, "'%s' is not KEY=VALUE, [GROUP] or a # comment", line);
  }
  return TRUE;
}

/* A uid (or with @is_group a gid) from @text: decimal, or a name. */
static gboolean parse_id(const char *text, gboolean is_group, guint32 *out_id)
{
  char *end;

  if (g_ascii_isdigit(text[0])) {
    errno = 0;
    guint64 id = g_ascii_strtoull(text, &end, 10);
    if (errno != 0 || *end != '\0' || id >= G_MAXUINT32)
      return FALSE;
    *out_id = (guint32)id;
    return TRUE;
  }
  if (is_group) {
    struct group *gr = getgrnam(text);
    if (gr == NULL)
      return FALSE;
    *out_id = gr->gr_gid;
    return TRUE;
  }
  struct passwd *pw = getpwnam(text);
  if (pw == NULL)
    return FALSE;
  *out_id = pw->pw_uid;
  return TRUE;
}

static gboolean parse_who(const Source *src, GKeyFile *file, const char *group, const char *key,
                          Who *who, GError **error)
{
  g_autofree char *value = g_key_file_get_value(file, group, key, NULL);

  if (value == NULL)
    return TRUE;
  g_auto(GStrv) words = g_strsplit_set(value, " \t;,", -1);
  for (guint i = 0; words[i] != NULL; i++) {
    const char *word = words[i];
    guint32 id;

    if (*word == '\0')
      continue;
    if (strcmp(word, "everyone") == 0) {
      who->everyone = TRUE;
    } else if (g_str_has_prefix(word, "user:") && parse_id(word + 5, FALSE, &id)) {
      uid_t uid = id;
      g_array_append_val(who->uids, uid);
    } else if (g_str_has_prefix(word, "group:") && parse_id(word + 6, TRUE, &id)) {
      gid_t gid = id;
      g_array_append_val(who->gids, gid);
    } else {
      return fail_at(src, find_line(src, group, key), error,
                     "%s: '%s' is not everyone, user:NAME|UID or group:NAME|GID (or no such "
                     "user or group)",
                     key, word);
    }
  }
  return TRUE;
}

static gboolean parse_limit(const Source *src, GKeyFile *file, const char *group, const char *key,
                            guint64 *out, GError **error)
{
  g_autofree char *value = g_key_file_get_value(file, group, key, NULL);
  char *end;

  if (value == NULL)
    return TRUE;
  g_strstrip(value);
  errno = 0;
  guint64 limit = g_ascii_strtoull(value, &end, 10);
  if (!g_ascii_isdigit(value[0]) || errno != 0 || *end != '\0')
    return fail_at(src, find_line(src, group, key), error, "%s: '%s' is not a number", key, value);
  *out = limit;
  return TRUE;
}

/* Refuses keys that @group does not know, so that a typo does not silently widen access. */
static gboolean check_keys(const Source *src, GKeyFile *file, const char *group,
                           const char *const *known, GError **error)
{
  g_auto(GStrv) keys = g_key_file_get_keys(file, group, NULL, NULL);

  for (guint i = 0; keys != NULL && keys[i] != NULL; i++)
    if (!g_strv_contains(known, keys[i]))
      return fail_at(src, find_line(src, group, keys[i]), error, "unknown setting '%s' in [%s]",
                     keys[i], group);
  return TRUE;
}

/* Replaces the rule for @rule's prefix, or adds it. */
static void put_rule(KvAccess *self, Rule *rule)
{
  for (guint i = 0; i < self->rules->len; i++) {
    Rule *old = g_ptr_array_index(self->rules, i);
    if (strcmp(old->prefix, rule->prefix) == 0) {
      rule_free(old);
      self->rules->pdata[i] = rule;
      return;
    }
  }
  g_ptr_array_add(self->rules, rule);
}

static gboolean load_rule_group(KvAccess *self, const Source *src, GKeyFile *file,
                                const char *group, const char *prefix, GError **error)
{
  static const char *const known[] = {"Read", "Write", "Owner", "MaxKeys", "MaxBytes", NULL};
  g_autofree char *source = g_strdup_printf("%s:%u", src->path, find_line(src, group, NULL));
  Rule *rule = rule_new(prefix, source);
  g_autofree char *owner = g_key_file_get_value(file, group, "Owner", NULL);

  if (!check_keys(src, file, group, known, error) ||
      !parse_who(src, file, group, "Read", &rule->read, error) ||
      !parse_who(src, file, group, "Write", &rule->write, error) ||
      !parse_limit(src, file, group, "MaxKeys", &rule->max_keys, error) ||
      !parse_limit(src, file, group, "MaxBytes", &rule->max_bytes, error)) {
    rule_free(rule);
    return FALSE;
  }
  if (owner != NULL) {
    guint32 id;
    if (!parse_id(g_strstrip(owner), FALSE, &id)) {
      rule_free(rule);
      return fail_at(src, find_line(src, group, "Owner"), error, "Owner: no user '%s'", owner);
    }
    rule->has_owner = TRUE;
    rule->owner = id;
  }
  put_rule(self, rule);
  return TRUE;
}

/* A rule file is at most this large: anything larger is not one. */
#define MAX_RULE_FILE_BYTES (1024 * 1024)

/* The text of the rule file @path, which must be a regular file: a FIFO or a device
 * under a *.conf name would block the reload, or never end. */
static char *read_rule_file(const char *path, GError **error)
{
  int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
  struct stat st;

  if (fd < 0) {
    kv_file_set_error(error, errno, "open", path);
    return NULL;
  }
  const char *unfit = fstat(fd, &st) < 0                 ? g_strerror(errno)
                      : !S_ISREG(st.st_mode)             ? "not a regular file"
                      : st.st_size > MAX_RULE_FILE_BYTES ? "larger than 1 MiB"
                                                         : NULL;
  if (unfit != NULL) {
    g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_INVAL, "%s: %s", path, unfit);
    close(fd);
    return NULL;
  }
  GString *text = g_string_sized_new((gsize)st.st_size + 1);
  char buffer[4096];
  ssize_t n;
  while ((n = read(fd, buffer, sizeof buffer)) > 0 && text->len <= MAX_RULE_FILE_BYTES)
    g_string_append_len(text, buffer, n);
  int saved = errno;
  close(fd);
  if (n < 0 || text->len > MAX_RULE_FILE_BYTES) {
    g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_INVAL, "%s: %s", path,
                n < 0 ? g_strerror(saved) : "larger than 1 MiB");
    g_string_free(text, TRUE);
    return NULL;
  }
  return g_string_free(text, FALSE);
}

static gboolean load_file(KvAccess *self, const char *path, GError **error)
{
  g_autoptr(GKeyFile) file = g_key_file_new();
  g_autoptr(GError) local_error = NULL;
  g_autofree char *text = read_rule_file(path, error);

  if (text == NULL)
    return FALSE;
  g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
  Source src = {path, lines};
  if (!check_lines(&src, error))
    return FALSE;
  if (!g_key_file_load_from_data(file, text, (gsize)-1, G_KEY_FILE_NONE, &local_error)) {
    g_set_error(error, G_KEY_FILE_ERROR, local_error->code, "%s: %s", path, local_error->message);
    return FALSE;
  }

  if (g_key_file_has_group(file, "Quota")) {
    static const char *const known[] = {"MaxKeys", "MaxBytes", NULL};
    if (!check_keys(&src, file, "Quota", known, error) ||
        !parse_limit(&src, file, "Quota", "MaxKeys", &self->max_keys, error) ||
        !parse_limit(&src, file, "Quota", "MaxBytes", &self->max_bytes, error))
      return FALSE;
  }
  g_auto(GStrv) groups = g_key_file_get_groups(file, NULL);
  for (guint i = 0; groups[i] != NULL; i++) {
    const char *group = groups[i];

    if (strcmp(group, "Quota") == 0)
      continue;
    if (strcmp(group, "Default") == 0) {
      if (!load_rule_group(self, &src, file, group, "", error))
        return FALSE;
    } else if (g_str_has_prefix(group, "Prefix ") && group[7] != '\0') {
      if (!load_rule_group(self, &src, file, group, group + 7, error))
        return FALSE;
    } else {
      return fail_at(&src, find_line(&src, group, NULL), error,
                     "unknown group [%s]: expected [Prefix PREFIX], [Default] or [Quota]", group);
    }
  }
  return TRUE;
}

static gint compare_names(gconstpointer a, gconstpointer b, gpointer data)
{
  return strcmp(a, b);
}

/* The "*.conf" names of @dirs, each mapped to the path in the last directory having it. */
static GTree *collect_files(const char *const *dirs)
{
  GTree *files = g_tree_new_full(compare_names, NULL, g_free, g_free);

  for (gsize i = 0; dirs[i] != NULL; i++) {
    g_autoptr(GDir) dir = g_dir_open(dirs[i], 0, NULL);
    const char *name;

    while (dir != NULL && (name = g_dir_read_name(dir)) != NULL)
      if (g_str_has_suffix(name, ".conf"))
        g_tree_replace(files, g_strdup(name), g_build_filename(dirs[i], name, NULL));
  }
  return files;
}

typedef struct {
  KvAccess *access;
  GError **error;
  gboolean failed;
} LoadWalk;

static gboolean load_one(gpointer name, gpointer path, gpointer data)
{
  LoadWalk *walk = data;

  walk->failed = !load_file(walk->access, path, walk->error);
  return walk->failed;
}

KvAccess *kv_access_load(const char *const *dirs, GError **error)
{
  g_autoptr(KvAccess) self = kv_access_new_builtin();
  g_autoptr(GTree) files = collect_files(dirs);
  LoadWalk walk = {self, error, FALSE};

  g_tree_foreach(files, load_one, &walk);
  if (walk.failed)
    return NULL;
  /* Stable: the default rule, of the shortest prefix, stays last. */
  g_ptr_array_sort(self->rules, compare_rules);
  return g_steal_pointer(&self);
}
