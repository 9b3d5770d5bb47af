#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# kvstored at scale against Redis, in the same run: for each number of KEYS given (default
# 1000000 4000000 10000000), keys "key:%012u" with 16-byte string values,
# - kvstored's state directory with every key in the snapshot, then with half of them in
#   the journal (kvbench-scale): bytes on disk per key, the load in-process, and kvstored
#   itself from its start to its first answer on a private bus;
# - a background compaction of the half-journal directory: the stall of the commit that
#   forks it (what a reader then waits), and the child's time and CPU; and one client's
#   Gets of kvstored alone, then while it compacts such a store (kvbench --compaction);
# - kvbench's reads against Ping and its floor peer, and kvstored's memory per key, on a
#   store that holds the keys (kvbench --stored);
# - Redis 7 with the same keys (redis-cli --pipe), saved: the RDB's bytes per key, and a
#   restart from it to the first PONG of a loaded server; its RSS per key.
# Run by 'tools/dev scale' (minutes, gigabytes of memory at 10M keys). Without
# redis-server, the Redis column says so.
# usage: bench-scale.sh BUILD_DIR [KEYS...]
set -eu
build=$1
shift
[ $# -gt 0 ] || set -- 1000000 4000000 10000000
work=$(mktemp -d)
redis_pid=
cleanup() {
  [ -n "$redis_pid" ] && kill "$redis_pid" 2>/dev/null
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
scale=$build/tools/kvbench/kvbench-scale
now_ms() { echo $(($(date +%s%N) / 1000000)); }

# kvstored started on DIR, on a bus of its own: ms to its first answer.
kvstored_start_ms() {
  dbus-run-session -- sh -c "
    start=\$(date +%s%N)
    '$build/daemon/kvstored' --session --state-dir '$1' --idle-timeout 0 2>/dev/null &
    until gdbus call --session --dest org.example.KVStore --object-path /org/example/KVStore \
        --method org.freedesktop.DBus.Peer.Ping >/dev/null 2>&1; do sleep 0.005; done
    echo \$(( (\$(date +%s%N) - start) / 1000000 ))
        kill \$!
  " 2>/dev/null
}

# kvbench's reads (against Ping and the floor peer) and kvstored's memory per key, on DIR.
kvstored_kvbench() {
  dbus-run-session -- sh -c "
    '$build/daemon/kvstored' --session --state-dir '$1' --idle-timeout 0 2>/dev/null &
    until gdbus call --session --dest org.example.KVStore --object-path /org/example/KVStore \
        --method org.freedesktop.DBus.Peer.Ping >/dev/null 2>&1; do sleep 0.05; done
    '$build/tools/kvbench/kvbench' --user --keys $2 --stored --ops get,exists,getmany \
      --duration ${KVBENCH_SCALE_SECONDS:-2}
    kill \$!
  " 2>/dev/null
}

# kvstored on DIR, on a bus of its own: one client's Gets alone, then during a compaction
# (kvbench --compaction: its journal has outgrown its snapshot, and a Set starts one).
kvstored_reader() {
  dbus-run-session -- sh -c "
        '$build/daemon/kvstored' --session --state-dir '$1' --idle-timeout 0 --compact-size 1 \
      2>/dev/null &
    until gdbus call --session --dest org.example.KVStore --object-path /org/example/KVStore \
        --method org.freedesktop.DBus.Peer.Ping >/dev/null 2>&1; do sleep 0.05; done
    '$build/tools/kvbench/kvbench' --user --keys $2 --compaction ${KVBENCH_SCALE_SECONDS:-4}
    kill \$!
  " 2>/dev/null
}

redis_port=$(/usr/bin/python3 "$(dirname "$0")/../free-port.py")
redis_up() {
  redis-server --port "$redis_port" --dir "$work/redis" --dbfilename dump.rdb --save '' \
    --appendonly no >"$work/redis.log" 2>&1 &
  redis_pid=$!
  until [ "$(redis-cli -p "$redis_port" ping 2>/dev/null)" = PONG ]; do sleep 0.005; done
}
redis_down() {
  redis-cli -p "$redis_port" shutdown nosave >/dev/null 2>&1 || true
  wait "$redis_pid" 2>/dev/null || true
  redis_pid=
}

printf '%-9s | %-30s | %-30s | %-24s | %-24s\n' keys "kvstored disk B/key (snap; half journal)" \
  "kvstored load ms/M (snap; half)" "kvstored start ms (snap)" "Redis RDB B/key, load ms/M"
compactions=
readers=
calls=
for keys in "$@"; do
  rm -rf "$work/kv" && out=$("$scale" "$work/kv" "$keys" 0 3)
  snap_bytes=$(echo "$out" | awk '/^figures/ { printf "%.1f", ($5 + $6) / $2 }')
  snap_ms=$(echo "$out" | awk '/^figures/ { printf "%.0f", $4 * 1e6 / $2 }')
    start_ms=$(kvstored_start_ms "$work/kv")
  calls="$calls

== $keys keys: kvbench against kvstored on a store that holds them (--stored)
$(kvstored_kvbench "$work/kv" "$keys")"
  rm -rf "$work/kv" && out=$("$scale" "$work/kv" "$keys" 0.5 3)
  half_bytes=$(echo "$out" | awk '/^figures/ { printf "%.1f", ($5 + $6) / $2 }')
    half_ms=$(echo "$out" | awk '/^figures/ { printf "%.0f", $4 * 1e6 / $2 }')
    compactions="$compactions
$(echo "$out" | grep '^compaction')"
  # Its reader: Gets alone, then while kvstored compacts that store (built again: the
  # compaction above folded it).
  rm -rf "$work/kv" && "$scale" "$work/kv" "$keys" 0.5 1 >/dev/null
  readers="$readers
$keys keys: $(kvstored_reader "$work/kv" "$keys" | tr '\n' ' ')"
  rm -rf "$work/kv"

    if ! command -v redis-server >/dev/null; then
    printf '%-9s | %-30s | %-30s | %-24s | %-24s\n' "$keys" "$snap_bytes; $half_bytes" \
      "$snap_ms; $half_ms" "$start_ms" "(redis-server not installed)"
    continue
  fi
  rm -rf "$work/redis" && mkdir -p "$work/redis"
  redis_up
  awk -v n="$keys" 'BEGIN { for (i = 0; i < n; i++) {
      k = sprintf("key:%012u", i); v = sprintf("v%015u", i)
      printf "*3\r\n$3\r\nSET\r\n$16\r\n%s\r\n$16\r\n%s\r\n", k, v } }' |
    redis-cli -p "$redis_port" --pipe >/dev/null
  redis_rss=$(redis-cli -p "$redis_port" info memory | awk -F: '/^used_memory_rss:/ { print $2 }' | tr -d '\r')
  redis-cli -p "$redis_port" save >/dev/null
  redis_down
  rdb=$(stat -c %s "$work/redis/dump.rdb")
  start=$(now_ms)
  redis_up
  until redis-cli -p "$redis_port" info persistence | grep -q '^loading:0'; do sleep 0.005; done
  redis_ms=$(($(now_ms) - start))
  redis_down
  rm -rf "$work/redis"
  printf '%-9s | %-30s | %-30s | %-24s | %-24s\n' "$keys" "$snap_bytes; $half_bytes" \
    "$snap_ms; $half_ms" "$start_ms" \
    "$(awk -v r="$rdb" -v n="$keys" -v ms="$redis_ms" -v rss="$redis_rss" 'BEGIN {
      printf "%.1f, %.0f (RSS %.0f B/key)", r / n, ms * 1e6 / n, rss / n }')"
done
echo "$compactions"
echo "$readers"
echo "$calls"
