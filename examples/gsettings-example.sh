#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# A program's GSettings kept by kvstore, the program left as it is: the GSettings backend
# "kvstore" (installed into GIO's module directory) is chosen with GSETTINGS_BACKEND, and
# each setting is the kvstore key gsettings/PATH/KEY, which kvctl reads and writes too.
# Here the program is the gsettings tool, with a schema of this example's own.
set -eu
schemas=$(mktemp -d)
trap 'rm -rf "$schemas"' EXIT
cat >"$schemas/org.example.Greeter.gschema.xml" <<'SCHEMA'
<schemalist>
  <schema id="org.example.Greeter" path="/org/example/greeter/">
    <key name="greeting" type="s"><default>'hello'</default></key>
    <key name="volume" type="i"><default>5</default></key>
  </schema>
</schemalist>
SCHEMA
glib-compile-schemas "$schemas"
export GSETTINGS_SCHEMA_DIR="$schemas" GSETTINGS_BACKEND=kvstore

echo "default: $(gsettings get org.example.Greeter greeting)"
gsettings set org.example.Greeter greeting "'good morning'"
echo "set: $(gsettings get org.example.Greeter greeting)"
echo "in kvstore: $(kvctl get gsettings/org/example/greeter/greeting)"
kvctl set --type int32 gsettings/org/example/greeter/volume 11
echo "set by kvctl: $(gsettings get org.example.Greeter volume)"
gsettings reset org.example.Greeter greeting
echo "reset: $(gsettings get org.example.Greeter greeting)"
echo "in kvstore: $(kvctl exists gsettings/org/example/greeter/greeting || true)"
