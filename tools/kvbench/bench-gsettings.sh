#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# GSettings through kvstore's backend against dconf's, in the same run on one private
# session bus: SETS writes (round a hundred keys) and a sync, GETS reads, and how long after a write another
# process is told (ROUNDS times). kvstored is durable (each write answered after fsync);
# dconf-service writes its database file as it does for a desktop. Run by
# 'tools/dev bench'.
# usage: bench-gsettings.sh BUILD_DIR [SETS [GETS [ROUNDS]]]
set -eu
build=$1
sets=${2:-10000}
gets=${3:-100000}
rounds=${4:-200}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

mkdir -p "$work/schemas" "$work/services" "$work/config" "$work/runtime" "$work/state"
chmod 700 "$work/runtime"
{
  echo '<schemalist><schema id="org.example.Bench" path="/org/example/bench/">'
  echo '<key name="count" type="i"><default>0</default></key>'
  i=0
  while [ "$i" -lt 100 ]; do
    echo "<key name=\"k$i\" type=\"i\"><default>0</default></key>"
    i=$((i + 1))
  done
  echo '</schema></schemalist>'
} >"$work/schemas/org.example.Bench.gschema.xml"
glib-compile-schemas "$work/schemas"
cat >"$work/services/org.example.KVStore.service" <<SERVICE
[D-BUS Service]
Name=org.example.KVStore
Exec=$build/daemon/kvstored --session --state-dir $work/state
SERVICE
# The standard session services (dconf-service's among them) and kvstored.
cat >"$work/bus.conf" <<CONF
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:dir=$work</listen>
  <standard_session_servicedirs/>
  <servicedir>$work/services</servicedir>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
CONF

export GSETTINGS_SCHEMA_DIR="$work/schemas" XDG_CONFIG_HOME="$work/config" \
  XDG_RUNTIME_DIR="$work/runtime" GIO_EXTRA_MODULES="$build/client/gsettings"
bench=$build/tools/kvbench/kvbench-gsettings
dbus-run-session --config-file="$work/bus.conf" -- sh -c "
  GSETTINGS_BACKEND=dconf '$bench' run $sets $gets $rounds &&
  GSETTINGS_BACKEND=kvstore '$bench' run $sets $gets $rounds
" 2>"$work/log" >"$work/out" || {
  cat "$work/log" "$work/out" >&2
  exit 1
}
grep -v '^figures' "$work/out"
# The ratios, kvstore's over dconf's.
awk '/^figures/ { set[$2] = $3; get[$2] = $4; seen[$2] = $5 }
  END {
    d = "DConfSettingsBackend"; k = "KvSettingsBackend"
    if (!(d in set) || !(k in set)) { print "bench-gsettings: a backend is missing"; exit 1 }
    printf "kvstore/dconf: sets+sync %.2fx the time, gets %.2fx, another process told %.2fx\n",
      set[k] / set[d], get[k] / get[d], (seen[d] > 0 ? seen[k] / seen[d] : 0)
  }' "$work/out"
