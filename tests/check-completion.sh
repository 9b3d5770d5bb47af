#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Checks kvctl's bash completion ($1) against a running store: run on a private bus with
# the kvctl under test first in PATH.
set -u
# shellcheck disable=SC1091
source /usr/share/bash-completion/bash_completion
# shellcheck disable=SC1090
source "$1"
status=0

# What completing the last word of the command line gives, sorted, on one line.
complete_line()
{
    COMP_WORDS=("$@")
    COMP_CWORD=$(($# - 1))
    COMP_LINE="$*"
    COMP_POINT=${#COMP_LINE}
    COMPREPLY=()
    _kvctl kvctl "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
    printf '%s\n' "${COMPREPLY[@]}" | LC_ALL=C sort | tr '\n' ' '
}

expect()
{
    local expected=$1
    shift
    local got
    got=$(complete_line "$@")
    if [[ $got != "$expected" ]]; then
        echo "completing '$*': got '$got', expected '$expected'" >&2
        status=1
    fi
}

kvctl set-many app/a=1 app/b=2 'app/with space=3' other=4 >/dev/null || exit 1

expect "del " kvctl de
expect "set set-many " kvctl se
expect "--session --system " kvctl --s
expect "int16 int32 int64 " kvctl set --type int
expect "--help --json --revision " kvctl get --
expect "app/a app/b app/with\\ space " kvctl get app/
expect "app/a app/b app/with\\ space " kvctl --session get app/
expect "other " kvctl incr o
expect " " kvctl set app/a ""
expect "app/a app/b app/with\\ space " kvctl del --prefix app/
expect "app/a " kvctl del app/b app/a
expect "keys " kvctl help ke
expect "lease load lock " kvctl l
expect "grant " kvctl lease gr
expect "--lease " kvctl set --l
expect "--help --timeout " kvctl lock --
expect "true truncate " kvctl lock job tru
expect " " kvctl --address unix:path=/nonexistent get app/
exit "$status"
