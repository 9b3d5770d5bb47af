#pragma once

#include "kv-repository.h"

G_BEGIN_DECLS

/* A repository that keeps everything in memory; it never fails and its commit does
 * nothing. */
KvRepository *kv_memory_repository_new(void);

G_END_DECLS
