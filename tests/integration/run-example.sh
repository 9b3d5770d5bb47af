#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Runs an example client ($@) against the bus of this session (dbus-run-session), and
# compares what it prints with the expected output (KV_TEST_EXPECTED).
set -eu
out=$(mktemp)
trap 'rm -f "$out"' EXIT
"$@" > "$out"
diff -u "$KV_TEST_EXPECTED" "$out"
