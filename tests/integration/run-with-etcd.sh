#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Runs an integration test ($@) against kvstored on etcd: starts one etcd member on free
# loopback ports in a temporary directory, points the test wrapper at it (KV_TEST_ETCD),
# and stops it afterwards. Skips (exit 77) without etcd.
set -u
command -v etcd >/dev/null || { echo "1..0 # SKIP etcd is not installed"; exit 0; }
dir=$(mktemp -d "${TMPDIR:-/tmp}/kvstore-etcd-XXXXXX")
port() { /usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
client="http://127.0.0.1:$(port)"
peer="http://127.0.0.1:$(port)"
etcd --name m0 --data-dir "$dir/data" --listen-client-urls "$client" \
  --advertise-client-urls "$client" --listen-peer-urls "$peer" \
  --initial-advertise-peer-urls "$peer" --initial-cluster "m0=$peer" >"$dir/log" 2>&1 &
etcd_pid=$!
trap 'kill -KILL $etcd_pid 2>/dev/null; wait $etcd_pid 2>/dev/null; rm -rf "$dir"' EXIT
tries=0
until etcdctl --endpoints "$client" --command-timeout=1s endpoint health >/dev/null 2>&1; do
  tries=$((tries + 1))
  [ "$tries" -lt 100 ] || { echo "etcd did not come up" >&2; cat "$dir/log" >&2; exit 1; }
  sleep 0.2
done
KV_TEST_ETCD=$client "$@"
