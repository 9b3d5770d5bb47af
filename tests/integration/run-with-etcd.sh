#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Runs an integration test ($@) against kvstored on etcd: starts one etcd member on free
# loopback ports in a temporary directory, points the test wrapper at it (KV_TEST_ETCD),
# and stops it afterwards. Skips (exit 77) without etcd.
set -u
command -v etcd >/dev/null || { echo "1..0 # SKIP etcd is not installed"; exit 0; }
dir=$(mktemp -d "${TMPDIR:-/tmp}/kvstore-etcd-XXXXXX")
port() { /usr/bin/python3 "$(dirname "$0")/../../tools/free-port.py"; }
etcd_pid=
trap 'kill -KILL $etcd_pid 2>/dev/null; wait $etcd_pid 2>/dev/null; rm -rf "$dir"' EXIT
# A member that cannot bind its ports (taken meanwhile by a test beside this one) exits:
# it is started again on others, three times at most, well within meson's timeout.
attempt=0
until [ -n "$etcd_pid" ]; do
  attempt=$((attempt + 1))
  client="http://127.0.0.1:$(port)"
  peer="http://127.0.0.1:$(port)"
  rm -rf "$dir/data"
  etcd --name m0 --data-dir "$dir/data" --listen-client-urls "$client" \
    --advertise-client-urls "$client" --listen-peer-urls "$peer" \
    --initial-advertise-peer-urls "$peer" --initial-cluster "m0=$peer" >"$dir/log" 2>&1 &
  etcd_pid=$!
  deadline=$(($(date +%s) + 15))
  until etcdctl --endpoints "$client" --command-timeout=1s endpoint health >/dev/null 2>&1; do
    if ! kill -0 "$etcd_pid" 2>/dev/null || [ "$(date +%s)" -ge "$deadline" ]; then
      echo "etcd did not come up on $client (attempt $attempt):" >&2
      cat "$dir/log" >&2
      kill -KILL "$etcd_pid" 2>/dev/null
      wait "$etcd_pid" 2>/dev/null
      etcd_pid=
      [ "$attempt" -lt 3 ] || exit 1
      break
    fi
    sleep 0.2
  done
done
KV_TEST_ETCD=$client "$@"
