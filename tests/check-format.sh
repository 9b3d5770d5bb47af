#!/bin/sh
# Fails when a C source or header differs from what .clang-format asks for.
set -eu
cd "$1"
find daemon tools tests -name '*.[ch]' -print0 | xargs -0 clang-format --dry-run --Werror
