#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Runs one integration test, then ends what it may have left in its process group.
# When a test aborts, GTestDBus's watcher does not always take down the bus it started,
# and a dbus-daemon (with kvstored) left behind would hold meson's output pipe open
# until the timeout. meson gives every test a process group of its own.
"$@"
status=$?
trap '' TERM
kill -TERM 0 2>/dev/null
exit "$status"
