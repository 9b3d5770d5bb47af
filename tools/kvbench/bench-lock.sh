#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# A lock from the shell, uncontended, ROUNDS times each: 'kvctl lock NAME true' on
# kvstored (durable, on a private session bus; then on one etcd member, --etcd) against
# 'flock FILE true' (a file's lock, the floor) and 'etcdctl lock NAME true' (etcd's own
# lock, on the same member). Each round starts a process, takes the lock, runs true and
# lets go: what a cron job or a script pays. Run by 'tools/dev bench'.
# usage: bench-lock.sh BUILD_DIR [ROUNDS]
set -eu
build=$1
rounds=${2:-200}
work=$(mktemp -d)
pids=
cleanup() {
  for pid in $pids; do kill -KILL "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
port() { /usr/bin/python3 "$(dirname "$0")/../free-port.py"; }
client=http://127.0.0.1:$(port)
peer=http://127.0.0.1:$(port)
etcd --name m0 --data-dir "$work/m0" --listen-client-urls "$client" \
  --advertise-client-urls "$client" --listen-peer-urls "$peer" \
  --initial-advertise-peer-urls "$peer" --initial-cluster "m0=$peer" >"$work/m0.log" 2>&1 &
pids="$pids $!"
deadline=$(($(date +%s) + 30))
until etcdctl --endpoints "$client" --command-timeout=1s endpoint health >/dev/null 2>&1; do
  if [ "$(date +%s)" -ge "$deadline" ]; then
    echo "etcd did not come up" >&2
    cat "$work/m0.log" >&2
    exit 1
  fi
  sleep 0.2
done

# ROUNDS runs of "$@"; prints the rounds per second.
rate() {
  start=$(date +%s%N)
  i=0
  while [ "$i" -lt "$rounds" ]; do
    "$@" >/dev/null
    i=$((i + 1))
  done
  end=$(date +%s%N)
  echo "$rounds $start $end" | awk '{printf "%.0f", $1 / (($3 - $2) / 1e9)}'
}

kvctl_rate() {
  KV_TEST_STATE_DIR=$work/state KV_TEST_DAEMON_ARGS="$1" dbus-run-session \
    --config-file="$build/tests/integration/session-bus.conf" -- \
    sh -c "$build/tools/kvctl/kvctl ping >/dev/null && $(command -v sh) -c '
      start=\$(date +%s%N); i=0
      while [ \$i -lt $rounds ]; do $build/tools/kvctl/kvctl lock bench true; i=\$((i + 1)); done
      end=\$(date +%s%N); echo $rounds \$start \$end' | awk '{printf \"%.0f\", \$1 / ((\$3 - \$2) / 1e9)}'"
}

mkdir -p "$work/state"
local_rate=$(kvctl_rate "")
etcd_rate=$(kvctl_rate "--etcd $client")
flock_rate=$(rate flock "$work/lockfile" true)
etcdctl_rate=$(rate etcdctl --endpoints "$client" lock bench true)
echo "A lock from the shell, uncontended, $rounds rounds each (a process a round):"
echo "  flock FILE true:              $flock_rate/s"
echo "  kvctl lock NAME true:         $local_rate/s (kvstored, durable)"
echo "  kvctl lock NAME true:         $etcd_rate/s (kvstored --etcd, one member)"
echo "  etcdctl lock NAME true:       $etcdctl_rate/s (etcd's own, the same member)"
awk -v a="$local_rate" -v b="$flock_rate" -v c="$etcd_rate" -v d="$etcdctl_rate" 'BEGIN {
  printf "  kvctl lock: %.2fx flock; on etcd %.2fx etcdctl lock\n", a / b, c / d }'
