#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# The system suite: kvstore as a distribution ships it, on the real components. Builds
# SOURCE into BUILD (prefix /usr, as a package would), boots a container with systemd as
# PID 1 from this host's own /usr and /etc (systemd-nspawn --volatile=overlay
# --private-network: nothing it writes reaches the host), where dbus-broker is the system
# bus (then, in a second boot, dbus-daemon) and polkitd the real one, and runs
# tests/system/scenarios.sh there. Prints TAP,
# keeps it in BUILD/results.tap, and exits 0 when every scenario passed, 77 when this
# machine cannot run it (not root, no systemd-nspawn, dbus-broker or polkitd), 1 else.
#   run.sh SOURCE BUILD
# KV_SYSTEM_SCENARIOS="install_and_activation polkit_per_key" runs only those (install
# first: the others need it); KV_SYSTEM_BUSES="dbus-daemon" boots with that bus only
# (default: dbus-broker, then dbus-daemon).
set -eu

src=$(realpath "$1")
build=$(realpath -m "$2")

skip() {
  echo "system: skipped: $*"
  exit 77
}
[ "$(id -u)" -eq 0 ] || skip "needs root"
command -v systemd-nspawn >/dev/null || skip "no systemd-nspawn (Debian: systemd-container)"
command -v dbus-broker >/dev/null || skip "no dbus-broker"
[ -x /usr/lib/polkit-1/polkitd ] || skip "no polkitd"

if [ ! -f "$build/build.ninja" ]; then
  meson setup "$build" "$src" --prefix=/usr -Dtests=false -Dwerror=true >"$build.setup.log" ||
    { cat "$build.setup.log"; exit 1; }
fi
meson compile -C "$build" >/dev/null

work=$(mktemp -d /var/tmp/kvstore-system.XXXXXX)
trap 'rm -rf "$work"' EXIT

# boot BUS: boots the container with BUS (dbus-broker or dbus-daemon) as the system and
# session bus, and runs the scenarios there; their TAP in $work/BUS/out/results.tap.
boot() {
  bus=$1
  root=$work/$bus/root
  out=$work/$bus/out
  mkdir -p "$root/usr/lib" "$root/var" "$root/root" "$root/tmp" "$root/home" "$out"
  for dir in bin sbin lib lib64; do
    ln -s "usr/$dir" "$root/$dir"
  done
  # nspawn looks for os-release before it mounts /usr.
  cp /usr/lib/os-release "$root/usr/lib/"
  cp -a /etc "$root/etc"
  : >"$root/etc/machine-id"
  # A stop job that hangs at poweroff costs the suite its time, not a scenario its
  # result: dbus-broker's did once, for systemd's default 90 s, and alice's user manager
  # (user@1001) once, for user@.service's own 120 s.
  mkdir -p "$root/etc/systemd/system.conf.d" "$root/etc/systemd/system/user@.service.d"
  printf '[Manager]\nDefaultTimeoutStopSec=10s\n' >"$root/etc/systemd/system.conf.d/kvstore-system-test.conf"
  printf '[Service]\nTimeoutStopSec=10s\n' \
    >"$root/etc/systemd/system/user@.service.d/kvstore-system-test.conf"
  # Installing dbus-broker made it dbus.service; without the aliases, dbus-daemon is.
  if [ "$bus" = dbus-daemon ]; then
    rm -f "$root/etc/systemd/system/dbus.service" "$root/etc/systemd/user/dbus.service"
  fi

  cat >"$work/$bus/kvstore-system-test.service" <<UNIT
[Unit]
Description=kvstore system suite
After=multi-user.target dbus.service polkit.service
[Service]
Type=oneshot
Environment=KV_SYSTEM_SCENARIOS="${KV_SYSTEM_SCENARIOS:-}" KV_SYSTEM_BUS=$bus
ExecStart=/bin/sh $src/tests/system/scenarios.sh $build /kvstore-system-out
ExecStopPost=/bin/systemctl poweroff --no-block
UNIT

  # /usr is an overlay of the host's (meson install writes there); the source and the
  # build are seen at their own paths, as the build's files name them.
  timeout 300 systemd-nspawn -D "$root" --volatile=overlay --overlay=/usr::/usr \
    --private-network --register=no --keep-unit --console=read-only -M kvstore-system \
    --bind="$src" --bind="$build" --bind="$out:/kvstore-system-out" \
    --bind-ro="$work/$bus/kvstore-system-test.service:/etc/systemd/system/kvstore-system-test.service" \
    -b systemd.wants=kvstore-system-test.service \
    systemd.mask=postgresql.service systemd.mask=etcd.service \
    >"$build/console-$bus.log" 2>&1 </dev/null
}

results=$build/results.tap
: >"$results"
status=0
for bus in ${KV_SYSTEM_BUSES:-dbus-broker dbus-daemon}; do
  booted=$(date +%s)
  boot "$bus" || status=$?
  tap=$work/$bus/out/results.tap
  # Where the container's time went: a stop job that hangs shows here.
  if [ -f "$work/$bus/out/began" ] && [ -f "$work/$bus/out/ended" ]; then
    echo "# $bus: boot $(($(cat "$work/$bus/out/began") - booted)) s, scenarios" \
      "$(($(cat "$work/$bus/out/ended") - $(cat "$work/$bus/out/began"))) s, shutdown" \
      "$(($(date +%s) - $(cat "$work/$bus/out/ended"))) s" >>"$results"
  fi
  if [ "$status" -ne 0 ] || ! grep -q '^1\.\.' "$tap" 2>/dev/null; then
    cat "$tap" 2>/dev/null
    echo "system: the container with $bus did not finish (exit $status); its console:"
    tail -40 "$build/console-$bus.log"
    exit 1
  fi
  grep -v '^1\.\.' "$tap" >>"$results"
done
# One plan for both boots, the scenarios numbered on.
awk '/^(ok|not ok) / { n++; sub(/ [0-9]+ - /, " " n " - ") } { print } END { print "1.." n }' \
  "$results" >"$results.new"
mv "$results.new" "$results"
cat "$results"
! grep -q '^not ok' "$results"
