#include "kv-state-dir.h"

char *kv_state_dir_resolve(const char *option, gboolean session_bus)
{
  const char *systemd_dirs = g_getenv("STATE_DIRECTORY");
  const char *xdg_state = g_getenv("XDG_STATE_HOME");

  if (option != NULL)
    return g_strdup(option);
  if (systemd_dirs != NULL && systemd_dirs[0] != '\0') {
    /* systemd passes one path per StateDirectory= entry, separated by colons. */
    g_auto(GStrv) dirs = g_strsplit(systemd_dirs, ":", 2);
    return g_strdup(dirs[0]);
  }
  if (!session_bus)
    return g_strdup("/var/lib/kvstore");
  /* XDG: a relative XDG_STATE_HOME is invalid and must be ignored. */
  if (xdg_state != NULL && g_path_is_absolute(xdg_state))
    return g_build_filename(xdg_state, "kvstore", NULL);
  return g_build_filename(g_get_home_dir(), ".local", "state", "kvstore", NULL);
}
