#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# The system suite: kvstore as a distribution ships it, on the real components. Builds
# SOURCE into BUILD (prefix /usr, as a package would), boots a container with systemd as
# PID 1 from this host's own /usr and /etc (systemd-nspawn --volatile=overlay
# --private-network: nothing it writes reaches the host), where dbus-broker is the system
# bus and polkitd the real one, and runs tests/system/scenarios.sh there. Prints TAP,
# keeps it in BUILD/results.tap, and exits 0 when every scenario passed, 77 when this
# machine cannot run it (not root, no systemd-nspawn, dbus-broker or polkitd), 1 else.
#   run.sh SOURCE BUILD
# KV_SYSTEM_SCENARIOS="install_and_activation polkit_per_key" runs only those (install
# first: the others need it).
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
root=$work/root
out=$work/out
mkdir -p "$root/usr/lib" "$root/var" "$root/root" "$root/tmp" "$root/home" "$out"
for dir in bin sbin lib lib64; do
  ln -s "usr/$dir" "$root/$dir"
done
# nspawn looks for os-release before it mounts /usr.
cp /usr/lib/os-release "$root/usr/lib/"
cp -a /etc "$root/etc"
: >"$root/etc/machine-id"

cat >"$work/kvstore-system-test.service" <<UNIT
[Unit]
Description=kvstore system suite
After=multi-user.target dbus.service polkit.service
[Service]
Type=oneshot
Environment=KV_SYSTEM_SCENARIOS="${KV_SYSTEM_SCENARIOS:-}"
ExecStart=/bin/sh $src/tests/system/scenarios.sh $build /kvstore-system-out
ExecStopPost=/bin/systemctl poweroff --no-block
UNIT

# /usr is an overlay of the host's (meson install writes there); the source and the build
# are seen at their own paths, as the build's files name them.
status=0
timeout 300 systemd-nspawn -D "$root" --volatile=overlay --overlay=/usr::/usr \
  --private-network --register=no --keep-unit --console=read-only -M kvstore-system \
  --bind="$src" --bind="$build" --bind="$out:/kvstore-system-out" \
  --bind-ro="$work/kvstore-system-test.service:/etc/systemd/system/kvstore-system-test.service" \
  -b systemd.wants=kvstore-system-test.service \
  systemd.mask=postgresql.service systemd.mask=etcd.service \
  >"$build/console.log" 2>&1 </dev/null || status=$?

results=$build/results.tap
cp "$out/results.tap" "$results" 2>/dev/null || : >"$results"
cat "$results"
if [ "$status" -ne 0 ] || ! grep -q '^1\.\.' "$results"; then
  echo "system: the container did not finish (nspawn exit $status); its console:"
  tail -40 "$build/console.log"
  exit 1
fi
! grep -q '^not ok' "$results"
