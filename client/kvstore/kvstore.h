/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libkvstore: a GObject client of the kvstore D-Bus service (pkg-config kvstore-1). */
#pragma once

#include <kvstore/kvstore-client.h>
#include <kvstore/kvstore-error.h>
#include <kvstore/kvstore-view.h>
