#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Checks the system unit ($1) and the user unit ($2) with systemd-analyze verify.
set -eu
runtime_dir=$(mktemp -d)
trap 'rm -rf "$runtime_dir"' EXIT
systemd-analyze --man=no verify "$1"
XDG_RUNTIME_DIR=$runtime_dir systemd-analyze --user --man=no verify "$2"
