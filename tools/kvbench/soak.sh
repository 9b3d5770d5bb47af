#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# A soak of kvstored with blocking clients (soak-clients.py beside it), as root: a private
# bus with the system bus's policy and kvstore's policy file (the tests' configuration),
# kvstored on it as root with no access rules of its own, the clients as three other
# uids. Prints the figures (calls, refusals by name, another caller's worst Ping,
# kvstored's memory and log lines) and exits non-zero on any anomaly.
#   tools/kvbench/soak.sh BUILD [SECONDS [CLIENTS]]     (default 600 s, 20 clients)
set -eu

if [ "$(id -u)" -ne 0 ]; then
  echo "soak: skipped: needs root, to run the clients as other users"
  exit 77
fi
build=$(realpath "$1")
seconds=${2:-600}
clients=${3:-20}
here=$(dirname "$(realpath "$0")")
dir=$(mktemp -d)
bus_pid=""
kvstored_pid=""
cleanup() {
  [ -z "$kvstored_pid" ] || kill "$kvstored_pid" 2>/dev/null || true
  [ -z "$bus_pid" ] || kill "$bus_pid" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT

dbus-daemon --config-file="$build/tests/integration/system-bus.conf" --nofork \
  --print-address=3 3>"$dir/address" 2>"$dir/bus.log" &
bus_pid=$!
for _ in $(seq 100); do
  [ -s "$dir/address" ] && break
  sleep 0.05
done
address=$(head -n 1 "$dir/address")
mkdir "$dir/rules"
DBUS_SYSTEM_BUS_ADDRESS=$address "$build/daemon/kvstored" --system --access-dir "$dir/rules" \
  --state-dir "$dir/state" 2>"$dir/kvstored.log" &
kvstored_pid=$!
for _ in $(seq 100); do
  "$build/tools/kvctl/kvctl" --address "$address" ping >/dev/null 2>&1 && break
  sleep 0.05
done
rss() { awk "/^$1:/ { print \$2 }" "/proc/$kvstored_pid/status"; }
before=$(rss VmRSS)

status=0
/usr/bin/python3 "$here/soak-clients.py" "$address" "$seconds" "$clients" || status=$?

echo "soak: kvstored RSS $before KiB before, $(rss VmRSS) KiB after, peak $(rss VmHWM) KiB;" \
  "$(wc -l <"$dir/kvstored.log") log lines"
kill "$kvstored_pid"
wait "$kvstored_pid" || { echo "soak: kvstored did not exit cleanly" >&2; status=1; }
kvstored_pid=""
exit "$status"
