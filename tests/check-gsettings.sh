#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# The GSettings backend "kvstore" through the real gsettings tool and a compiled test
# schema, on a private bus whose kvstored (--max-value-size 1K) is activated: get, set,
# reset and list-recursively; a monitor told of another process's writes; a refused write
# taken back; a delayed apply (Python, GSettings.delay) as one revision; one change
# signal per write; the administrator's defaults and locks, reloaded; kvstored killed and
# activated again under a running app.
#   check-gsettings.sh MODULE_DIR KVCTL
set -u
work=$(mktemp -d)
trap 'kill "$monitor" 2>/dev/null; rm -rf "$work"' EXIT
monitor=
kvctl=$2
status=0

check() {
  if [ "$2" != "$3" ]; then
    echo "$1: got '$2', expected '$3'" >&2
    status=1
  fi
}

mkdir "$work/schemas"
cat >"$work/schemas/org.example.Test.gschema.xml" <<'SCHEMA'
<schemalist>
  <schema id="org.example.Test" path="/org/example/test/">
    <key name="greeting" type="s"><default>'hello'</default></key>
    <key name="count" type="i"><default>0</default></key>
    <key name="theme" type="s"><default>'light'</default></key>
    <key name="locked" type="i"><default>0</default></key>
  </schema>
</schemalist>
SCHEMA
glib-compile-schemas "$work/schemas" || exit 1
# The administrator's defaults: a vendor's, masked by the site's file of the same name,
# and a lock.
mkdir -p "$work/usr" "$work/etc"
printf "[gsettings/org/example/test]\ntheme='vendor-dark'\nlocked=1\n" >"$work/usr/10-defaults.conf"
printf "[gsettings/org/example/test]\ntheme='site-dark'\nlocked=42\n" >"$work/etc/10-defaults.conf"
printf "[.kvstore/locks]\nkeys=gsettings/org/example/test/locked\n" >"$work/etc/50-locks.conf"
# A store on disk, which outlives a kvstored killed below.
dbus-update-activation-environment KV_TEST_STATE_DIR="$work/state" \
  KV_TEST_DAEMON_ARGS="$KV_TEST_DAEMON_ARGS --defaults-dir $work/usr --defaults-dir $work/etc" ||
  exit 1
export GSETTINGS_SCHEMA_DIR="$work/schemas" GIO_EXTRA_MODULES="$1" GSETTINGS_BACKEND=kvstore

check default "$(gsettings get org.example.Test greeting)" "'hello'"
gsettings set org.example.Test greeting "'hi'"
check set "$(gsettings get org.example.Test greeting)" "'hi'"
check stored "$("$kvctl" get gsettings/org/example/test/greeting)" "hi"
gsettings set org.example.Test count 5
check list "$(gsettings list-recursively org.example.Test | tr '\n' ';')" \
  "org.example.Test count 5;org.example.Test greeting 'hi';org.example.Test locked 42;org.example.Test theme 'site-dark';"
gsettings reset org.example.Test greeting
check reset "$(gsettings get org.example.Test greeting)" "'hello'"
check deleted "$("$kvctl" exists gsettings/org/example/test/greeting)" "false"

# The administrator's default comes before the schema's; a value stored wins; a reset
# returns to the administrator's default, which kvctl names.
check admin-default "$(gsettings get org.example.Test theme)" "'site-dark'"
check origin-default "$("$kvctl" origin gsettings/org/example/test/theme)" \
  "default $work/etc/10-defaults.conf"
gsettings set org.example.Test theme "'mine'"
check stored-wins "$(gsettings get org.example.Test theme)" "'mine'"
check origin-stored "$("$kvctl" origin gsettings/org/example/test/theme)" "stored"
gsettings reset org.example.Test theme
check reset-to-admin "$(gsettings get org.example.Test theme)" "'site-dark'"
check origin-none "$("$kvctl" origin gsettings/org/example/test/nothing)" "none"

# A locked key is not writable; a write is refused and taken back.
check writable "$(gsettings writable org.example.Test theme)" "true"
check locked-writable "$(gsettings writable org.example.Test locked)" "false"
gsettings set org.example.Test locked 7 2>"$work/locked"
check locked-kept "$(gsettings get org.example.Test locked)" "42"
grep -q "locked by the administrator ($work/etc/50-locks.conf)" "$work/locked" || {
  echo "locked: no warning: $(cat "$work/locked")" >&2
  status=1
}
"$kvctl" set --type int32 gsettings/org/example/test/locked 7 2>/dev/null
check kvctl-locked "$?" "3"

# A running monitor sees another process's writes: kvctl's, and another gsettings'.
gsettings monitor org.example.Test >"$work/monitor" 2>&1 &
monitor=$!
sleep 1
"$kvctl" set --type int32 gsettings/org/example/test/count 9
gsettings set org.example.Test greeting "'from another'"
tries=50
while [ "$(wc -l <"$work/monitor")" -lt 2 ] && [ "$tries" -gt 0 ]; do
  sleep 0.1
  tries=$((tries - 1))
done
check monitor "$(sort "$work/monitor" | tr '\n' ';')" "count: 9;greeting: 'from another';"

# GSettings' own default of a key is the administrator's.
check default-value "$(/usr/bin/python3 -c "
from gi.repository import Gio
print(Gio.Settings.new('org.example.Test').get_default_value('theme').unpack())
")" "site-dark"

# The site changes its default and drops its lock, and kvstored reads them again: the
# monitor hears of the value, and a running program of the key now writable.
/usr/bin/python3 -u -c "
from gi.repository import Gio, GLib
s = Gio.Settings.new('org.example.Test')
loop = GLib.MainLoop()
def on_writable(settings, key):
    print('writable', settings.is_writable(key))
    loop.quit()
s.connect('writable-changed::locked', on_writable)
print('ready', s.is_writable('locked'))
GLib.timeout_add_seconds(10, loop.quit)
loop.run()
" >"$work/writable" 2>&1 &
writable=$!
tries=50
until grep -q ready "$work/writable" || [ "$tries" -eq 0 ]; do
  sleep 0.1
  tries=$((tries - 1))
done
printf "[gsettings/org/example/test]\ntheme='site-blue'\nlocked=42\n" >"$work/etc/10-defaults.conf"
: >"$work/etc/50-locks.conf"
"$kvctl" reload || status=1
wait "$writable"
check writable-changed "$(tr '\n' ';' <"$work/writable")" "ready False;writable True;"
check unlocked "$(gsettings writable org.example.Test locked)" "true"
tries=50
until grep -q "theme: 'site-blue'" "$work/monitor" || [ "$tries" -eq 0 ]; do
  sleep 0.1
  tries=$((tries - 1))
done
check reloaded-default "$(gsettings get org.example.Test theme)" "'site-blue'"
grep -q "theme: 'site-blue'" "$work/monitor" || {
  echo "reload: the monitor did not hear: $(cat "$work/monitor")" >&2
  status=1
}

# Refused (over kvstored's 1 KiB): the value stays what the store holds, and it says why.
big=$(head -c 2000 /dev/zero | tr '\0' x)
gsettings set org.example.Test greeting "'$big'" 2>"$work/refused"
check refused-kept "$(gsettings get org.example.Test greeting)" "'from another'"
grep -q "kvstored refused a write, taken back: .*the limit is 1024 bytes" "$work/refused" || {
  echo "refused: no warning: $(cat "$work/refused")" >&2
  status=1
}

# A delayed apply is one change, at one revision.
before=$("$kvctl" revision)
/usr/bin/python3 -c "
from gi.repository import Gio
s = Gio.Settings.new('org.example.Test')
s.delay()
s.set_string('greeting', 'applied')
s.set_int('count', 3)
s.apply()
Gio.Settings.sync()
" || status=1
check one-revision "$("$kvctl" revision)" "$((before + 1))"
check applied "$(gsettings get org.example.Test count) $(gsettings get org.example.Test greeting)" \
  "3 'applied'"

# 3,000 writes of one key in a row: the program hears of each once, when it makes it, and
# not again when each comes back from the store (GNOME/dconf#2); then it reads the last.
# They go in a few batches: one call each would pass the bus's 128 replies a connection
# may await, and be refused (LimitsExceeded), as they were before batching.
check echoes "$(/usr/bin/python3 -c "
from gi.repository import Gio, GLib
s = Gio.Settings.new('org.example.Test')
heard = []
s.connect('changed::count', lambda settings, key: heard.append(settings.get_int(key)))
for i in range(1, 3001):
    s.set_int('count', i)
Gio.Settings.sync()
context = GLib.MainContext.default()
end = GLib.get_monotonic_time() + 500000
while GLib.get_monotonic_time() < end:
    context.iteration(False)
print(len(heard), heard[-1], s.get_int('count'))
" 2>&1)" "3000 3000 3000"

# kvstored killed under a running app, and activated again by the next call: the app hears
# of the changes after it, and its own writes go on.
/usr/bin/python3 -u -c "
from gi.repository import Gio, GLib
s = Gio.Settings.new('org.example.Test')
def on_count(settings, key):
    count = settings.get_int(key)
    print('count', count)
    if count == 2:
        settings.set_string('greeting', 'after restart')
        Gio.Settings.sync()
        print('wrote')
s.connect('changed::count', on_count)
GLib.timeout_add_seconds(20, lambda: GLib.MainLoop.quit(loop))
loop = GLib.MainLoop()
loop.run()
" >"$work/app" 2>&1 &
app=$!
await() {
  tries=100
  until grep -qx "$2" "$work/app"; do
    tries=$((tries - 1))
    if [ "$tries" -eq 0 ]; then
      echo "$1: the app never printed '$2': $(cat "$work/app")" >&2
      status=1
      return
    fi
    sleep 0.1
  done
}
sleep 1
"$kvctl" set --type int32 gsettings/org/example/test/count 1
await before-restart "count 1"
kvstored_pid() {
  gdbus call --session --dest org.freedesktop.DBus --object-path /org/freedesktop/DBus \
    --method org.freedesktop.DBus.GetConnectionUnixProcessID org.example.KVStore |
    sed 's/^(uint32 \([0-9]*\),)$/\1/'
}
pid=$(kvstored_pid)
kill -KILL "$pid" || status=1
while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
"$kvctl" set --type int32 gsettings/org/example/test/count 2
[ "$(kvstored_pid)" != "$pid" ] || { echo "restart: the same kvstored ($pid)" >&2; status=1; }
await after-restart "count 2"
await app-writes "wrote"
check app-write-stored "$("$kvctl" get gsettings/org/example/test/greeting)" "after restart"
kill "$app" 2>/dev/null
exit "$status"
