#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Walks through every call of org.example.KVStore the way a person would try it, with
# kvctl, busctl, gdbus and dbus-send, and checks each answer. It talks to the session bus
# in DBUS_SESSION_BUS_ADDRESS, where kvstored is started by D-Bus activation.
# 'tools/dev demo' runs it on a private bus; the test suite runs it too.
set -u

SERVICE="org.example.KVStore /org/example/KVStore org.example.KVStore"
GDBUS="--session --dest org.example.KVStore --object-path /org/example/KVStore"
failures=0

# check STATUS OUTPUT COMMAND...: runs COMMAND, shows it, and compares its exit status
# and its output (stdout and stderr together) with what is expected.
check() {
  want_status=$1
  want_output=$2
  shift 2
  printf '$ %s\n' "$*"
  output=$("$@" 2>&1)
  status=$?
  [ -n "$output" ] && printf '%s\n' "$output"
  if [ "$status" -ne "$want_status" ] || [ "$output" != "$want_output" ]; then
    printf '!! expected exit status %s and output:\n%s\n' "$want_status" "$want_output" >&2
    failures=$((failures + 1))
  fi
}

say() {
  printf '\n# %s\n' "$*"
}

say "kvctl: the whole flow"
check 0 "pong" kvctl ping
check 0 "" kvctl set counter 10
check 0 "10" kvctl get counter
check 0 "true" kvctl exists counter
check 0 "15" kvctl incr counter 5
check 0 "15" kvctl get counter
check 0 "1" kvctl del counter
check 1 "kvctl: Key 'counter' not found (org.example.KVStore.Error.NotFound)" kvctl get counter
check 1 "false" kvctl exists counter

say "kvctl: typed values"
check 0 "" kvctl set --type int32 answer 42
check 0 "" kvctl set --gvariant point "(1.5, -2.0)"
check 0 "(1.5, -2.0)" kvctl get point
check 0 "{
  'answer': <42>,
  'point': <(1.5, -2.0)>
}" kvctl dump
check 3 "kvctl: Cannot increment 'point': it holds a struct '(dd)'; only integers and strings holding a base-10 int64 can be incremented (org.example.KVStore.Error.InvalidValueType)" kvctl incr point

say "busctl"
check 0 "" busctl --user call $SERVICE Set sv greeting s hello
check 0 'v s "hello"' busctl --user call $SERVICE Get s greeting
check 0 "x 1" busctl --user call $SERVICE Increment sx visits 1
check 0 'as 4 "answer" "greeting" "point" "visits"' busctl --user call $SERVICE Keys s ""
check 0 "b true" busctl --user call $SERVICE Exists s visits
check 0 "u 4" busctl --user get-property $SERVICE Count
check 1 "Call failed: Key 'nope' not found" busctl --user call $SERVICE Get s nope

say "gdbus"
# shellcheck disable=SC2086
check 0 "({'greeting': <'hello'>},)" gdbus call $GDBUS --method org.example.KVStore.GetAll "g"
# shellcheck disable=SC2086
check 0 "()" gdbus call $GDBUS --method org.example.KVStore.Set ratio "<0.5>"
# shellcheck disable=SC2086
check 0 "(<0.5>,)" gdbus call $GDBUS --method org.example.KVStore.Get ratio
# shellcheck disable=SC2086
check 0 "(true,)" gdbus call $GDBUS --method org.example.KVStore.Delete ratio
# shellcheck disable=SC2086
check 1 "Error: GDBus.Error:org.example.KVStore.Error.InvalidKey: Key must not be empty" gdbus call $GDBUS --method org.example.KVStore.Get ""

say "dbus-send"
check 0 "   int64 2" sh -c "dbus-send --session --print-reply=literal --dest=org.example.KVStore /org/example/KVStore org.example.KVStore.Increment string:visits int64:1"

say "batches, revisions and compare-and-set"
check 0 "11" kvctl set-many app/a=one app/b=two
check 0 "11	one" kvctl get --revision app/a
check 0 "12" kvctl cas app/a 11 uno
check 4 "kvctl: Key 'app/a' is at revision 12, not 11 (org.example.KVStore.Error.Conflict)" kvctl cas app/a 11 again
check 0 'vt s "two" 11' busctl --user call $SERVICE GetWithRevision s app/b
check 0 "t 13" busctl --user call $SERVICE CompareAndDelete st app/b 11
# shellcheck disable=SC2086
check 0 "({'app/a': <'uno'>},)" gdbus call $GDBUS --method org.example.KVStore.GetMany "['app/a', 'app/b']"
# shellcheck disable=SC2086
check 0 "(uint32 1, uint64 14)" gdbus call $GDBUS --method org.example.KVStore.DeleteMany "['app/a', 'nothing']"
check 0 "t 14" busctl --user get-property $SERVICE Revision

say "watchers subscribe: change signals go out only while someone listens"
watch_out=$(mktemp)
watch_err=$(mktemp)
printf '$ kvctl watch app/ &\n'
kvctl watch app/ >"$watch_out" 2>"$watch_err" &
watch_pid=$!
for _ in $(seq 200); do grep -q watching "$watch_err" && break; sleep 0.05; done
check 0 "" kvctl set app/w 1
check 0 "1" kvctl del app/w
for _ in $(seq 200); do [ "$(wc -l <"$watch_out")" -ge 2 ] && break; sleep 0.05; done
kill -TERM "$watch_pid"
wait "$watch_pid"
check 0 "15	app/w	'1'
16	app/w	deleted" cat "$watch_out"
rm -f "$watch_out" "$watch_err"
check 0 "" busctl --user call $SERVICE Subscribe s app/
check 0 "" busctl --user call $SERVICE SubscribeCoalesced s ""
check 1 "Call failed: Not subscribed to 'app/'" busctl --user call $SERVICE Unsubscribe s app/
check 0 "rule: session bus: its owner reads and writes every key
read: yes
write: yes" kvctl access app/w
check 0 "" busctl --user call $SERVICE Reload
# Where a read's value comes from; the administrator's defaults (none on this bus's
# kvstored unless /etc/kvstore/defaults.d has some).
check 0 "stored" kvctl origin greeting
check 0 "ss \"none\" \"\"" busctl --user call $SERVICE GetOrigin s app/nothing

say "deleting a prefix, values from stdin, JSON that keeps types"
check 0 "17" kvctl set-many cfg/x=1 cfg/y=2
check 0 "[
  \"cfg/x\",
  \"cfg/y\"
]" kvctl keys --json cfg/
check 0 "ut 2 18" busctl --user call $SERVICE DeletePrefix s cfg/
check 0 "" sh -c 'printf "from stdin" | kvctl set motd -'
check 0 "from stdin" kvctl get motd
check 0 "" kvctl set --type uint64 big 18446744073709551615
check 0 '{"type":"t","value":"18446744073709551615"}' kvctl get --json big
check 0 "1" kvctl del --prefix motd
check 0 "1" kvctl del -- big
check 2 "kvctl: del: KEYs, or --prefix PREFIX alone, please
Usage: kvctl del [--] KEY... | --prefix PREFIX
Try 'kvctl help del'." kvctl del --prefix motd big
check 0 "kvctl 0.1.0" kvctl --version

say "health check"
check 0 "" busctl --user call org.example.KVStore /org/example/KVStore org.freedesktop.DBus.Peer Ping

# Stop kvstored the way systemd would, before the private bus goes away under it.
pid=$(busctl --user call org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus \
  GetConnectionUnixProcessID s org.example.KVStore | cut -d' ' -f2)
[ -n "$pid" ] && kill -TERM "$pid" && sleep 0.2

echo
if [ "$failures" -ne 0 ]; then
  echo "demo: $failures check(s) failed" >&2
  exit 1
fi
echo "demo: every call answered as expected"
