#include "kv-error.h"

GQuark kv_error_quark(void)
{
  return g_quark_from_static_string("kv-error-quark");
}
