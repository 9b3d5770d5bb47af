#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Checks the built man pages ($@) as man and mandoc read them: no warning from groff,
# none from mandoc's lint but the empty paragraphs scdoc writes before lists.
set -eu
status=0
for page in "$@"; do
  warnings=$(man --warnings -E UTF-8 -l "$page" 2>&1 >/dev/null)
  if command -v mandoc >/dev/null; then
    warnings="$warnings$(mandoc -T lint -W warning "$page" 2>&1 | grep -v 'skipping paragraph macro' || true)"
  fi
  if [ -n "$warnings" ]; then
    echo "$page:" >&2
    echo "$warnings" >&2
    status=1
  fi
done
exit "$status"
