#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# The system suite's scenarios, run inside the container that tests/system/run.sh boots:
# systemd as PID 1, dbus-broker or dbus-daemon ($KV_SYSTEM_BUS) as the system bus, the
# real polkitd. Installs the build in
# $1 with `meson install` as an administrator would, then runs each scenario as root, as
# users (alice, bob) and as an operator, printing TAP to $2/results.tap.
#   scenarios.sh BUILD_DIR OUT_DIR        all scenarios, then the plan
#   scenarios.sh --one NAME               one scenario (how the first form runs each)
set -u

export PATH=/usr/sbin:/usr/bin:/sbin:/bin
export SYSTEMD_PAGER= SYSTEMD_COLORS=0

STATE=/var/lib/kvstore
RULES_DIR=/etc/kvstore/access.d
DROPIN=/run/systemd/system/kvstored.service.d

fail() {
  echo "FAILED: $*"
  exit 1
}

as() {
  user=$1
  shift
  runuser -u "$user" -- "$@"
}

# expect STATUS COMMAND...: runs COMMAND, which must exit with STATUS; its output is in $OUT.
expect() {
  want=$1
  shift
  OUT=$("$@" 2>&1)
  got=$?
  [ "$got" -eq "$want" ] || fail "'$*' exited $got, not $want: $OUT"
}

# contains TEXT PART: TEXT must contain PART.
contains() {
  case "$1" in
  *"$2"*) ;;
  *) fail "'$1' does not contain '$2'" ;;
  esac
}

# wait_for SECONDS COMMAND...: until COMMAND succeeds, at most SECONDS.
wait_for() {
  tries=$(($1 * 10))
  shift
  while ! "$@" >/dev/null 2>&1; do
    tries=$((tries - 1))
    [ "$tries" -gt 0 ] || return 1
    sleep 0.1
  done
}

main_pid() {
  systemctl show -p MainPID --value kvstored
}

starts() {
  journalctl -q -o cat -u kvstored | grep -c "serving org.example.KVStore on the system bus"
}

# A drop-in for kvstored.service that only this suite uses; no argument removes it.
set_dropin() {
  if [ $# -eq 0 ]; then
    rm -f "$DROPIN/50-system-test.conf"
  else
    mkdir -p "$DROPIN"
    printf '%s\n' "$@" >"$DROPIN/50-system-test.conf"
  fi
  systemctl daemon-reload
  systemctl stop kvstored
  systemctl reset-failed kvstored 2>/dev/null || true
}

# The administrator installs the build; the first call activates kvstored through the
# bus and systemd, with nothing else done by hand.
s_install_and_activation() {
  expect 0 meson install -C "$BUILD" --no-rebuild --quiet
  id kvstore >/dev/null || fail "meson install created no kvstore user"
  [ "$(systemctl show -p Type --value kvstored)" = notify ] || fail "kvstored.service is not Type=notify"
  systemctl is-active -q kvstored && fail "kvstored runs before any call"
  expect 0 kvctl --system set demo/first hello
  expect 0 kvctl --system get demo/first
  [ "$OUT" = hello ] || fail "get demo/first: $OUT"
  systemctl is-active -q kvstored || fail "kvstored is not active after the call"
  expect 0 as alice kvctl --system ping
  # The units point at the man pages, which are installed.
  systemctl show -p Documentation --value kvstored | grep -q "man:kvstored(8)" ||
    fail "Documentation= does not name kvstored(8)"
  pkg-config --exists kvstore || fail "no kvstore.pc"
  [ -f /usr/include/kvstore/kvstore-error.h ] || fail "no kvstore/kvstore-error.h"
  pkg-config --exists kvstore-1 || fail "no kvstore-1.pc (libkvstore)"
  [ -f /usr/include/kvstore/kvstore.h ] || fail "no kvstore/kvstore.h"
  [ -f "$(pkg-config --variable=giomoduledir gio-2.0)/libkvstoregsettings.so" ] ||
    fail "no GSettings backend module"
  grep -q libkvstoregsettings "$(pkg-config --variable=giomoduledir gio-2.0)/giomodule.cache" ||
    fail "gio-querymodules did not run after the install"
  # The typelib, installed where GObject Introspection looks, reads through the system bus.
  expect 0 /usr/bin/python3 -c "import gi; gi.require_version('Kvstore', '1.0')
from gi.repository import Gio, Kvstore
client = Kvstore.Client.new_sync(Gio.BusType.SYSTEM, None)
print(client.get_sync('demo/first', None)[0].unpack())"
  [ "$OUT" = hello ] || fail "libkvstore through its typelib read: $OUT"
}

# The service as systemd sandboxes it, read from /proc; its status text from READY on.
s_sandbox_and_status() {
  expect 0 kvctl --system ping
  pid=$(main_pid)
  [ "$pid" -gt 0 ] || fail "no main pid"
  status=/proc/$pid/status
  grep -Eq '^NoNewPrivs:[[:space:]]+1$' "$status" || fail "NoNewPrivs is not set"
  grep -Eq '^Seccomp:[[:space:]]+2$' "$status" || fail "no seccomp filter"
  grep -Eq '^CapEff:[[:space:]]+0+$' "$status" || fail "capabilities left: $(grep CapEff "$status")"
  uid=$(awk '/^Uid:/ { print $2 }' "$status")
  [ "$uid" = "$(id -u kvstore)" ] || fail "runs as uid $uid, not kvstore"
  awk '$5 == "/usr" { print $6 }' "/proc/$pid/mountinfo" | grep -q '^ro' ||
    fail "/usr is writable for kvstored"
  [ "$(stat -c %U "$STATE/journal")" = kvstore ] || fail "the journal is not kvstore's"
  text=$(systemctl show -p StatusText --value kvstored)
  contains "$text" "keys"
}

# Per-key polkit grants through the real polkitd: alice may write under other/ (a polkit
# rule reading the detail "key"), nothing else; no batch, deletion or prefix deletion
# lets her change a key only root may write. A good rule file reloads.
s_polkit_per_key() {
  mkdir -p "$RULES_DIR"
  printf '[Prefix other/]\nRead=everyone\n\n[Prefix race/]\nRead=everyone\n' \
    >"$RULES_DIR/50-system-test.conf"
  expect 0 systemctl reload kvstored
  expect 0 kvctl --system set-many race/b=original other/a=1
  expect 0 as alice kvctl --system set other/x 1
  # An administrator's lock refuses alice though polkit grants her the prefix; root still
  # may; everyone reads the default; a reload without the lock frees the key.
  mkdir -p /etc/kvstore/defaults.d
  printf '[other]\nlocked=42\n[.kvstore/locks]\nkeys=other/locked\n' \
    >/etc/kvstore/defaults.d/50-system-test.conf
  expect 0 systemctl reload kvstored
  expect 0 as alice kvctl --system get other/locked
  [ "$OUT" = 42 ] || fail "the default of other/locked reads '$OUT'"
  expect 3 as alice kvctl --system set other/locked 1
  contains "$OUT" "locked by the administrator (/etc/kvstore/defaults.d/50-system-test.conf)"
  # A lock name is a key to the rules, and so to the administrator's locks.
  expect 3 as alice kvctl --system lock other/locked -- true
  contains "$OUT" "locked by the administrator"
  expect 0 kvctl --system set other/locked 7
  rm /etc/kvstore/defaults.d/50-system-test.conf
  expect 0 systemctl reload kvstored
  expect 0 as alice kvctl --system set other/locked 1
  expect 0 kvctl --system del other/locked
  expect 3 as alice kvctl --system set-many other/z=1 race/b=HACKED
  contains "$OUT" "race/b"
  expect 3 as alice kvctl --system del other/a race/b
  expect 3 as alice kvctl --system del --prefix ""
  expect 3 as alice kvctl --system incr race/n
  expect 3 as alice kvctl --system set race/b HACKED
  contains "$OUT" "AccessDenied"
  expect 0 kvctl --system get race/b
  [ "$OUT" = original ] || fail "race/b is '$OUT'"
  expect 1 kvctl --system exists other/z
  expect 0 kvctl --system exists other/a
  # Under the grant, a prefix deletion asks about each key, with the prefix.
  expect 0 as alice kvctl --system del --prefix other/
  [ "$OUT" = 2 ] || fail "del --prefix other/ deleted $OUT keys, not 2"
  # bob has no grant: polkit would have to ask a person, and the call does not allow it.
  expect 3 as bob kvctl --system set other/y 1
  contains "$OUT" "InteractiveAuthorizationRequired"
}

# A bad rule file: systemctl reload fails naming it; the rules in force stay.
s_reload_bad_rules() {
  printf 'Oops\n' >"$RULES_DIR/90-bad.conf"
  expect 1 systemctl reload kvstored
  systemctl is-active -q kvstored || fail "kvstored stopped on a bad reload"
  journalctl -q -o cat -u kvstored | grep -q "90-bad.conf:1" ||
    fail "the journal does not name 90-bad.conf:1"
  expect 0 as alice kvctl --system set other/still 1
  rm "$RULES_DIR/90-bad.conf"
  expect 0 systemctl reload kvstored
}

# kvstored's journal damaged: the start fails (never "started"), with the reason in the
# status; kvctl says that kvstored could not be started; root repairs as the README
# says, and the service starts again on the next call.
s_cannot_load_then_repair() {
  expect 0 kvctl --system set-many r/a=1 r/b=2
  expect 0 kvctl --system set r/c 3
  expect 0 systemctl stop kvstored
  # A bit of the first record's payload (the header is 16 bytes, a record's own 12).
  byte=$(od -An -tu1 -j29 -N1 "$STATE/journal" | tr -d ' ')
  printf "\\$(printf %o $((byte ^ 32)))" | dd of="$STATE/journal" bs=1 seek=29 conv=notrunc 2>/dev/null
  expect 1 systemctl start kvstored
  text=$(systemctl show -p StatusText --value kvstored)
  contains "$text" "Cannot load the data"
  expect 3 kvctl --system get r/a
  contains "$OUT" "kvstored stopped before answering, or could not be started"
  expect 0 /usr/libexec/kvstored --repair
  [ -z "$(find "$STATE" -type f ! -user kvstore)" ] || fail "root left files: $(ls -l "$STATE")"
  systemctl reset-failed kvstored
  expect 0 kvctl --system set r/after 1
  systemctl is-active -q kvstored || fail "kvstored is not active after the repair"
}

# A frozen kvstored is killed by the watchdog and started again.
s_watchdog() {
  set_dropin "[Service]" "WatchdogSec=2s"
  expect 0 kvctl --system ping
  pid=$(main_pid)
  kill -STOP "$pid"
  wait_for 20 sh -c "[ \"\$(systemctl show -p MainPID --value kvstored)\" != $pid ] &&
    systemctl is-active -q kvstored" || fail "the watchdog did not restart a frozen kvstored"
  journalctl -q -o cat -u kvstored | grep -qi "watchdog timeout" || fail "no watchdog timeout logged"
  expect 0 kvctl --system ping
  set_dropin
}

# Idle exit with callers racing it: every call is answered, over several starts.
s_idle_exit_racing_callers() {
  # The start limit counts activations too: this suite starts kvstored far more often
  # than a 30 s idle timeout ever would.
  set_dropin "[Unit]" "StartLimitIntervalSec=0" "[Service]" "ExecStart=" \
    "ExecStart=/usr/libexec/kvstored --system --idle-timeout 0.5"
  before=$(starts)
  # Rounds of three callers at once, 0.40-0.70 s apart: many a round comes as kvstored
  # has just found itself idle and is letting its name go.
  for round in $(seq 10); do
    for client in 1 2 3; do
      kvctl --system incr idle/counter >/dev/null 2>"/tmp/idle-$round-$client" ||
        echo "round $round, caller $client: $(cat "/tmp/idle-$round-$client")" >>/tmp/idle-failures &
    done
    wait
    sleep "0.$(shuf -i 40-70 -n 1)"
  done
  [ ! -s /tmp/idle-failures ] || fail "$(cat /tmp/idle-failures)"
  expect 0 kvctl --system get idle/counter
  [ "$OUT" = 30 ] || fail "idle/counter is $OUT, not 30"
  [ $(($(starts) - before)) -gt 1 ] || fail "kvstored never exited while idle"
  set_dropin
}

# The user unit, under alice's own systemd --user and session bus.
s_user_unit() {
  uid=$(id -u alice)
  loginctl enable-linger alice
  wait_for 20 test -S "/run/user/$uid/bus" || fail "alice's session bus did not come up"
  env="XDG_RUNTIME_DIR=/run/user/$uid DBUS_SESSION_BUS_ADDRESS=unix:path=/run/user/$uid/bus"
  expect 0 as alice env $env kvctl --user set mine 1
  expect 0 as alice env $env kvctl --user get mine
  [ "$OUT" = 1 ] || fail "get mine: $OUT"
  expect 0 as alice env $env systemctl --user show -p Type --value kvstored
  [ "$OUT" = notify ] || fail "the user unit is Type=$OUT"
  expect 0 as alice env $env systemctl --user show -p StatusText --value kvstored
  contains "$OUT" "keys"
  expect 0 as alice env $env systemctl --user reload kvstored
  [ -f /home/alice/.local/state/kvstore/journal ] || fail "no journal in alice's state directory"
  expect 0 as alice env $env systemctl --user stop kvstored
  journalctl -q -o cat _UID="$uid" | grep -q "Stopping on Terminated" ||
    fail "alice's kvstored did not stop on SIGTERM"
  # In this container a user manager that has reached exit.target does not exit (systemd
  # 252 on a cgroup v1 host): it would hold the container's poweroff for two minutes.
  loginctl disable-linger alice
  systemctl kill --signal=SIGKILL "user@$uid.service"
}

# kvctl in a terminal, as a user without a desktop agent: it starts pkttyagent, polkit
# asks for alice's own password there (the rule says AUTH_SELF for auth/), and the write
# goes through.
s_tty_agent() {
  # The password typed once the prompt is up: the agent flushes what came before it, so
  # it is typed again later for a slow machine (a second copy, if the first was taken,
  # goes to kvctl, which reads nothing).
  expect 0 sh -c "(sleep 2; printf 'alice-password\n'; sleep 3; printf 'alice-password\n') |
    runuser -u alice -- script -qec \
    'kvctl --system set auth/x typed' /dev/null"
  journalctl -q -o cat -u polkit | grep -q "Registered Authentication Agent.*pkttyagent" ||
    fail "no pkttyagent registered"
  expect 0 kvctl --system get auth/x
  [ "$OUT" = typed ] || fail "auth/x is '$OUT'"
  # Without a terminal nobody can be asked.
  expect 3 as alice kvctl --system set auth/y 1
  contains "$OUT" "InteractiveAuthorizationRequired"
}

# A blocking dbus-python client without a main loop, as alice, reads 100 MB of replies:
# it reads them all but answers no Peer.Ping. The bus tells kvstored what the client left
# unread (dbus-daemon's GetConnectionStats, dbus-broker's GetStats; the policy lets the
# kvstore user ask), so it is never refused.
s_blocking_reader() {
  head -c 1000000 /dev/zero | tr '\0' x >/tmp/big
  expect 0 kvctl --system set --file /tmp/big big
  cat >/tmp/blocking.py <<'EOF'
import dbus
bus = dbus.SystemBus()
store = dbus.Interface(bus.get_object('org.example.KVStore', '/org/example/KVStore',
                                      introspect=False), 'org.example.KVStore')
n = 0
try:
    for i in range(100):
        store.Get('big')
        n += 1
finally:
    print('read', n)
EOF
  expect 0 as alice /usr/bin/python3 /tmp/blocking.py
  contains "$OUT" "read 100"
}

# A caller that reads nothing (a raw socket) asks for 300 MB of replies: another caller's
# Ping is answered within 0.3 s throughout, and a blocking reader beside it is served.
# dbus-daemon would stop reading kvstored (kvstored refuses the non-reader once the bus
# says it holds 64 MiB for it); dbus-broker drops what passes its quota for the reader.
s_non_reader() {
  head -c 1000000 /dev/zero | tr '\0' x >/tmp/big
  expect 0 kvctl --system set --file /tmp/big big
  runuser -u bob -- /usr/bin/python3 "$SRC/tests/system/non-reader.py" \
    /run/dbus/system_bus_socket big 300 6 >/tmp/non-reader.out 2>&1 &
  sleep 1
  for i in $(seq 20); do
    start=$(date +%s%N)
    expect 0 kvctl --system ping
    took=$((($(date +%s%N) - start) / 1000000))
    [ "$took" -lt 300 ] || fail "a Ping took $took ms beside the non-reader"
    sleep 0.2
  done
  expect 0 as alice /usr/bin/python3 /tmp/blocking.py
  contains "$OUT" "read 100"
  wait
  contains "$(cat /tmp/non-reader.out)" "sent 300"
}

# Leases and locks through the real bus and a restart by systemd: alice's lock goes with
# her SIGKILLed kvctl, survives `systemctl restart kvstored` while its holder lives, and her
# TTL key expires on time.
s_leases_and_locks() {
  uid=$(id -u alice)
  as alice kvctl --system lock "users/$uid/job" -- sleep 60 &
  holder=$!
  wait_for 10 sh -c "kvctl --system keys .kvstore/lock/users/$uid/job/ | grep -q ." ||
    fail "alice's lock was not taken"
  expect 4 as alice kvctl --system lock --timeout 300ms "users/$uid/job" -- true
  expect 0 systemctl restart kvstored
  expect 4 as alice kvctl --system lock --timeout 300ms "users/$uid/job" -- true
  pkill -KILL -f "kvctl --system lock users/$uid/job" || fail "no kvctl holding the lock"
  wait "$holder" 2>/dev/null
  pkill -f "sleep 60" || true
  expect 0 as alice kvctl --system lock --timeout 10s "users/$uid/job" -- sh -c 'echo "$KVSTORE_LOCK_TOKEN"'
  [ "$OUT" -gt 0 ] || fail "no fencing token: $OUT"
  expect 0 as alice kvctl --system set --ttl 500ms "users/$uid/ttl" x
  expect 0 as alice kvctl --system exists "users/$uid/ttl"
  wait_for 3 sh -c "! kvctl --system exists users/$uid/ttl" || fail "the TTL key did not expire"
  # Not bob's to take: the rules refuse it, and polkitd would want a password.
  expect 3 as bob kvctl --system lock "users/$uid/job" -- true
  contains "$OUT" "Writing 'users/$uid/job'"
}

SCENARIOS=${KV_SYSTEM_SCENARIOS:-"install_and_activation sandbox_and_status polkit_per_key
reload_bad_rules cannot_load_then_repair watchdog idle_exit_racing_callers user_unit tty_agent
blocking_reader non_reader leases_and_locks"}

KV_SYSTEM_BUS=${KV_SYSTEM_BUS:-dbus-broker}
# The source tree, at its own path in the container.
SRC=$(realpath "$(dirname "$0")/../..")

if [ "${1:-}" = --one ]; then
  BUILD=$KV_SYSTEM_BUILD
  "s_$2"
  exit 0
fi

BUILD=$1
results=$2/results.tap
export KV_SYSTEM_BUILD=$BUILD
: >"$results"
# When the scenarios began and ended, for run.sh to tell boot and shutdown apart.
date +%s >"$2/began"
trap 'date +%s >"$2/ended"' EXIT

# Users and rules an administrator would have.
useradd -m alice
useradd -m bob
echo "alice:alice-password" | chpasswd
mkdir -p /etc/polkit-1/rules.d
cat >/etc/polkit-1/rules.d/50-kvstore-system-test.rules <<'EOF'
polkit.addRule(function(action, subject) {
    if (action.id != "org.example.kvstore.write" || subject.user != "alice")
        return polkit.Result.NOT_HANDLED;
    var key = action.lookup("key");
    if (key.indexOf("other/") == 0)
        return polkit.Result.YES;
    if (key.indexOf("auth/") == 0)
        return polkit.Result.AUTH_SELF;
    return polkit.Result.NO;
});
EOF
systemctl restart polkit

n=0
failed=0
for scenario in $SCENARIOS; do
  n=$((n + 1))
  start=$(date +%s.%N)
  output=$(timeout 60 sh "$0" --one "$scenario" 2>&1)
  status=$?
  took=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
  if [ "$status" -eq 0 ]; then
    echo "ok $n - $scenario on $KV_SYSTEM_BUS ($took s)" >>"$results"
  else
    failed=$((failed + 1))
    echo "not ok $n - $scenario on $KV_SYSTEM_BUS (exit $status, $took s)" >>"$results"
    echo "$output" | sed 's/^/# /' >>"$results"
    journalctl -q -o short-monotonic -u kvstored -n 30 | sed 's/^/#   /' >>"$results"
  fi
done
echo "1..$n" >>"$results"
