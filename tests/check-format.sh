#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Fails when a C source or header differs from what .clang-format asks for, or lacks its
# SPDX license line.
set -eu
cd "$1"
find daemon tools tests client examples -name '*.[ch]' -print0 | xargs -0 clang-format --dry-run --Werror
unlicensed=$(find daemon tools tests client examples -name '*.[ch]' -print0 | xargs -0 grep -L 'SPDX-License-Identifier: LGPL-2.1-or-later' || true)
if [ -n "$unlicensed" ]; then
  echo "no SPDX-License-Identifier line in:" >&2
  echo "$unlicensed" >&2
  exit 1
fi
