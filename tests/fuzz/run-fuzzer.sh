#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Runs a libFuzzer harness for a few seconds (KV_FUZZ_SECONDS, default 5) over its seed
# corpus, which it never changes, and the inputs it found before (kept in WORK/corpus of
# the build tree). A crash fails the test (exit 1: libFuzzer's own 77 means "skipped" to
# meson) and leaves the input as WORK/crash-*.
set -eu
fuzzer=$1
seeds=$2
work=$3
mkdir -p "$work/corpus"
exec "$fuzzer" -max_total_time="${KV_FUZZ_SECONDS:-5}" -timeout=10 -rss_limit_mb=2048 -error_exitcode=1 \
  -artifact_prefix="$work/" -print_final_stats=1 "$work/corpus" "$seeds"
