#include "kv-state-dir.h"

static void test_resolution(void)
{
  const struct {
    const char *option;
    const char *state_directory;
    const char *xdg_state_home;
    gboolean session;
    const char *expected;
  } cases[] = {
      {"/given", "/run/ignored", "/xdg", TRUE, "/given"},
      {NULL, "/var/lib/kvstore", "/xdg", TRUE, "/var/lib/kvstore"},
      {NULL, "/first:/second", NULL, FALSE, "/first"},
      {NULL, NULL, "/xdg", TRUE, "/xdg/kvstore"},
      {NULL, NULL, "relative/is/ignored", TRUE, "/home/tester/.local/state/kvstore"},
      {NULL, NULL, NULL, TRUE, "/home/tester/.local/state/kvstore"},
      {NULL, NULL, "/xdg", FALSE, "/var/lib/kvstore"},
      {NULL, "", NULL, FALSE, "/var/lib/kvstore"},
  };

  for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
    if (cases[i].state_directory != NULL)
      g_setenv("STATE_DIRECTORY", cases[i].state_directory, TRUE);
    else
      g_unsetenv("STATE_DIRECTORY");
    if (cases[i].xdg_state_home != NULL)
      g_setenv("XDG_STATE_HOME", cases[i].xdg_state_home, TRUE);
    else
      g_unsetenv("XDG_STATE_HOME");

    g_autofree char *dir = kv_state_dir_resolve(cases[i].option, cases[i].session);
    g_assert_cmpstr(dir, ==, cases[i].expected);
  }
}

int main(int argc, char **argv)
{
  /* g_get_home_dir() reads HOME once: set it before anything asks. */
  g_setenv("HOME", "/home/tester", TRUE);
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/state-dir/resolution", test_resolution);
  return g_test_run();
}
