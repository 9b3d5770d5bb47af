#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# The GSettings backend "kvstore" through the real gsettings tool and a compiled test
# schema, on a private bus whose kvstored (--max-value-size 1K) is activated: get, set,
# reset and list-recursively; a monitor told of another process's writes; a refused write
# taken back; a delayed apply (Python, GSettings.delay) as one revision.
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
  </schema>
</schemalist>
SCHEMA
glib-compile-schemas "$work/schemas" || exit 1
export GSETTINGS_SCHEMA_DIR="$work/schemas" GIO_EXTRA_MODULES="$1" GSETTINGS_BACKEND=kvstore

check default "$(gsettings get org.example.Test greeting)" "'hello'"
gsettings set org.example.Test greeting "'hi'"
check set "$(gsettings get org.example.Test greeting)" "'hi'"
check stored "$("$kvctl" get gsettings/org/example/test/greeting)" "hi"
gsettings set org.example.Test count 5
check list "$(gsettings list-recursively org.example.Test | tr '\n' ';')" \
  "org.example.Test count 5;org.example.Test greeting 'hi';"
gsettings reset org.example.Test greeting
check reset "$(gsettings get org.example.Test greeting)" "'hello'"
check deleted "$("$kvctl" exists gsettings/org/example/test/greeting)" "false"

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
exit "$status"
