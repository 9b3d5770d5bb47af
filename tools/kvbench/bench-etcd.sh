#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# kvstored on etcd: kvbench's Get and Set against kvstored --etcd on a private session
# bus, Set against puts straight to etcd from C in rounds taking turns. Starts MEMBERS
# (1 or 3) etcd members on free loopback ports in a temporary directory, points kvstored
# and the direct puts at the first (the leader, once it is elected there), and stops them
# afterwards. With KVBENCH_PEER_DELAY_US set, members reach each other through
# delay-proxy, which hands on their traffic that much later each way: members a network
# apart (clients still reach the first member directly). Run by 'tools/dev bench'.
# usage: [KVBENCH_PEER_DELAY_US=N] bench-etcd.sh BUILD_DIR MEMBERS [KVBENCH OPTIONS]
set -eu
build=$1
members=$2
shift 2
work=$(mktemp -d)
pids=
cleanup() {
  for pid in $pids; do kill -KILL "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
port() { /usr/bin/python3 "$(dirname "$0")/../free-port.py"; }
initial=
endpoints=
i=0
delay=${KVBENCH_PEER_DELAY_US:-0}
while [ "$i" -lt "$members" ]; do
  eval "client$i=http://127.0.0.1:$(port)"
  eval "peer$i=http://127.0.0.1:$(port)"
  # What the others dial: the member itself, or its delay-proxy.
  if [ "$delay" -gt 0 ]; then
    eval "advertised$i=http://127.0.0.1:$(port)"
    eval "\"$build/tools/kvbench/delay-proxy\" \"\${advertised$i##*:}\" \"\${peer$i##*:}\" $delay &"
    pids="$pids $!"
  else
    eval "advertised$i=\$peer$i"
  fi
  eval "initial=\${initial:+\$initial,}m$i=\$advertised$i"
  eval "endpoints=\${endpoints:+\$endpoints,}\$client$i"
  i=$((i + 1))
done
i=0
while [ "$i" -lt "$members" ]; do
  eval "client=\$client$i peer=\$peer$i advertised=\$advertised$i"
  # shellcheck disable=SC2154
  etcd --name "m$i" --data-dir "$work/m$i" --listen-client-urls "$client" \
    --advertise-client-urls "$client" --listen-peer-urls "$peer" \
    --initial-advertise-peer-urls "$advertised" --initial-cluster "$initial" \
    --initial-cluster-token kvbench >"$work/m$i.log" 2>&1 &
  pids="$pids $!"
  i=$((i + 1))
done
# shellcheck disable=SC2154
first=$client0
# Each etcdctl try may take its whole second: the wait is bounded in time, and ends as
# soon as a member (or a proxy) has exited, so that it says why well within a test's timeout.
deadline=$(($(date +%s) + 30))
until etcdctl --endpoints "$first" --command-timeout=1s endpoint health >/dev/null 2>&1; do
  for pid in $pids; do
    kill -0 "$pid" 2>/dev/null || deadline=0
  done
  if [ "$(date +%s)" -ge "$deadline" ]; then
    echo "etcd did not come up" >&2
    cat "$work"/m*.log >&2
    exit 1
  fi
  sleep 0.2
done
# With three members, the leader is wherever the election went: the first member is asked
# to take it, so that kvstored and the direct puts meet the same path to the quorum.
if [ "$members" -gt 1 ]; then
  leader_id=$(etcdctl --endpoints "$first" endpoint status -w fields | awk -F' : ' '/"MemberID"/{print $2}')
  current=$(etcdctl --endpoints "$first" endpoint status -w fields | awk -F' : ' '/"Leader"/{print $2}')
  [ "$leader_id" = "$current" ] ||
    etcdctl --endpoints "$endpoints" move-leader "$(printf '%x' "$leader_id")" >/dev/null
fi
echo "etcd: $members member(s), ${delay} us apart each way; kvstored and the direct puts on $first"
KV_TEST_DAEMON_ARGS="--etcd $first" dbus-run-session \
  --config-file="$build/tests/integration/session-bus.conf" -- \
  "$build/tools/kvbench/kvbench" --keys 1000 --value-sizes 16 --etcd-anchor "$first" "$@"
