#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# The cost of access checks: kvbench's get and set against kvstored --in-memory on a
# private system bus (the tests' configuration with the real policy file), as root and as
# an unprivileged user (daemon, uid 1) whom a rule lets write every key; ratios are to
# Peer.Ping in the same run. Run by 'tools/dev bench'; needs root.
# usage: bench-access.sh BUILD_DIR [KVBENCH OPTIONS]
set -eu
build=$1
shift
if [ "$(id -u)" != 0 ]; then
  echo "(skipped: needs root to run a client as another user)"
  exit 0
fi
work=$(mktemp -d)
chmod 755 "$work"
bus_pid=
kvstored_pid=
cleanup() {
  [ -n "$kvstored_pid" ] && kill "$kvstored_pid" 2>/dev/null
  [ -n "$bus_pid" ] && kill "$bus_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
mkdir "$work/rules"
cat >"$work/rules/50-bench.conf" <<'RULES'
[Default]
Read=everyone
Write=user:daemon

[Quota]
MaxKeys=100000000
MaxBytes=100000000000
RULES
dbus-daemon --fork --print-address=3 --print-pid=4 \
  --config-file="$build/tests/integration/system-bus.conf" 3>"$work/address" 4>"$work/pid"
bus_pid=$(cat "$work/pid")
address=$(head -n1 "$work/address")
DBUS_SYSTEM_BUS_ADDRESS=$address "$build/daemon/kvstored" --system --in-memory \
  --access-dir "$work/rules" 2>/dev/null &
kvstored_pid=$!
for _ in $(seq 100); do
  "$build/tools/kvctl/kvctl" --address "$address" ping >/dev/null 2>&1 && break
  sleep 0.05
done
echo "-- as root (rules allow everything; no quota)"
"$build/tools/kvbench/kvbench" --address "$address" --keys 10000 --ops get,set,keys --value-sizes 16 "$@"
echo "-- as daemon (uid 1): every call checked by the rules, writes by the quota"
setpriv --reuid daemon --regid daemon --clear-groups \
  "$build/tools/kvbench/kvbench" --address "$address" --keys 10000 --ops get,set,keys --value-sizes 16 "$@"
