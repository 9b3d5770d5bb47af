/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The error domain's function as a symbol of libkvstore, for GObject Introspection: the
 * typelib's error domain comes from calling it. The header's own copy is inline, so that
 * GDBus clients link nothing; it is renamed here so that this file may define the
 * exported one. */
#define kv_store_error_quark kv_store_error_quark_inline
#include "kvstore/kvstore-error.h"
#undef kv_store_error_quark

GQuark kv_store_error_quark(void);

GQuark kv_store_error_quark(void)
{
  return kv_store_error_quark_inline();
}
