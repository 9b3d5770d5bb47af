/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

/* g_assert_cmpvariant() that also takes a floating @expected without leaking it. */
#define kv_assert_variant_eq(actual, expected)                                                     \
  G_STMT_START                                                                                     \
  {                                                                                                \
    g_autoptr(GVariant) kv_expected_ = g_variant_ref_sink(expected);                               \
    g_assert_cmpvariant(actual, kv_expected_);                                                     \
  }                                                                                                \
  G_STMT_END
