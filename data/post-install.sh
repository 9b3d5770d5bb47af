#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# After `meson install` into the running system (no DESTDIR), as a package's maintainer
# scripts would: creates the kvstore user from $1 (the installed sysusers.d file), then
# has systemd read the new units and the system bus its policy again. The bus must reload
# after the user exists: dbus-broker drops a policy's rules for users it cannot resolve
# when it loads them, and would refuse kvstored its name until reloaded.
# Meson skips this for a DESTDIR install (a package build): the package does it instead.
set -u

sysusers_file=$1

if [ "$(id -u)" -ne 0 ]; then
  echo "kvstore: not root: run 'systemd-sysusers $sysusers_file', 'systemctl daemon-reload'" \
    "and 'systemctl reload dbus' as root before the first call" >&2
  exit 0
fi
status=0
if command -v systemd-sysusers >/dev/null; then
  systemd-sysusers "$sysusers_file" || status=1
else
  echo "kvstore: no systemd-sysusers: create the user named in $sysusers_file by hand" >&2
fi
# Only where systemd runs the machine (not in a chroot or a build container).
if [ -d /run/systemd/system ]; then
  systemctl daemon-reload || status=1
fi
if [ -S /run/dbus/system_bus_socket ]; then
  busctl --system call org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus \
    ReloadConfig || status=1
fi
exit $status
