#include "kvctl-json-module.h"

#include "kv-config.h"

#include <dlfcn.h>

#define MODULE_NAME "kvctl-json.so"

/* The module beside the running executable, where meson builds both. */
static char *beside_executable(void)
{
  g_autofree char *exe = g_file_read_link("/proc/self/exe", NULL);
  g_autofree char *dir = exe != NULL ? g_path_get_dirname(exe) : NULL;

  return dir != NULL ? g_build_filename(dir, MODULE_NAME, NULL) : NULL;
}

gboolean kvctl_json_load(KvctlJson *out, GError **error)
{
  g_autofree char *local = beside_executable();
  g_autofree char *installed = g_build_filename(KV_PKGLIBDIR, MODULE_NAME, NULL);
  void *module = local != NULL ? dlopen(local, RTLD_NOW | RTLD_LOCAL) : NULL;

  if (module == NULL)
    module = dlopen(installed, RTLD_NOW | RTLD_LOCAL);
  if (module == NULL) {
    g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_NOENT, "cannot load JSON support (%s): %s",
                installed, dlerror());
    return FALSE;
  }
  /* Loaded for the rest of the process: never closed. */
  out->to_json = (char *(*)(GVariant *))dlsym(module, "kvctl_dump_to_json");
  out->from_json = (GVariant * (*)(const char *, GError **)) dlsym(module, "kvctl_dump_from_json");
  if (out->to_json == NULL || out->from_json == NULL) {
    g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_NOENT, "%s lacks the JSON functions", installed);
    return FALSE;
  }
  return TRUE;
}
