/* SPDX-License-Identifier: LGPL-2.1-or-later */
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
  *(void **)&out->from_entries = dlsym(module, "kvctl_json_from_entries");
  *(void **)&out->from_value = dlsym(module, "kvctl_json_from_value");
  *(void **)&out->from_keys = dlsym(module, "kvctl_json_from_keys");
  *(void **)&out->to_entries = dlsym(module, "kvctl_json_to_entries");
  if (out->from_entries == NULL || out->from_value == NULL || out->from_keys == NULL ||
      out->to_entries == NULL) {
    g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_NOENT, "%s lacks the JSON functions", installed);
    return FALSE;
  }
  return TRUE;
}
