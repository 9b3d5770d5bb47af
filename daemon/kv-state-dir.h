#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Where kvstored keeps its data: @option (--state-dir) if given; else the first entry of
 * $STATE_DIRECTORY (systemd's StateDirectory=); else, serving a session bus,
 * $XDG_STATE_HOME/kvstore or ~/.local/state/kvstore; else /var/lib/kvstore. */
char *kv_state_dir_resolve(const char *option, gboolean session_bus);

G_END_DECLS
