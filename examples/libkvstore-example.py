#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""A Python client of kvstore through libkvstore's GObject Introspection data (the
Kvstore-1.0 typelib): keeps a view of the keys under example/, sets, reads and increments
keys there, and prints what it saw, as libkvstore-example.c does. Session bus (--system:
the system bus). GJS and Vala use the same typelib and names."""

import sys

import gi

gi.require_version("Kvstore", "1.0")
from gi.repository import Gio, GLib, Kvstore  # noqa: E402

EXPECTED_CHANGES = 3


def main():
    bus = Gio.BusType.SYSTEM if "--system" in sys.argv[1:] else Gio.BusType.SESSION
    client = Kvstore.Client.new_sync(bus, None)
    view = Kvstore.View.new_sync(client, "example/", None)
    loop = GLib.MainLoop()
    changes = []

    def on_changed(_view, key, _value, revision):
        print(f"changed {key} at {revision}")
        changes.append(key)
        if len(changes) == EXPECTED_CHANGES:
            loop.quit()

    view.connect("changed", on_changed)

    client.set_sync("example/greeting", GLib.Variant("s", "hello"), None)
    greeting, _revision = client.get_sync("example/greeting", None)
    print(f"greeting: {greeting.unpack()}")
    for delta in (2, 3):
        print(f"counter: {client.increment_sync('example/counter', delta, None)}")
    try:
        client.get_sync("example/missing", None)
    except GLib.Error as error:
        if error.matches(Kvstore.error_quark(), Kvstore.Error.NOT_FOUND):
            print("missing: not found")

    def on_timeout():
        print("libkvstore-example.py: the changes did not all arrive", file=sys.stderr)
        sys.exit(1)

    GLib.timeout_add_seconds(5, on_timeout)
    loop.run()
    print(f"revision: {view.get_revision()}")


if __name__ == "__main__":
    main()
