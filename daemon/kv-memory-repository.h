#pragma once

#include "kv-repository.h"

G_BEGIN_DECLS

/* A repository that keeps everything in a GHashTable in memory; never fails. */
KvRepository *kv_memory_repository_new(void);

G_END_DECLS
