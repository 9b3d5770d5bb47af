/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "kv-error.h"

GQuark kv_error_quark(void)
{
  return g_quark_from_static_string("kv-error-quark");
}
