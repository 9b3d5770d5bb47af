#include "kv-error.h"

G_DEFINE_QUARK(kv-error-quark, kv_error)
