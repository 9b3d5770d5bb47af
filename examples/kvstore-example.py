#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""A Python (gi) client of org.example.KVStore: follows the changes under example/, sets,
reads and increments keys there, and prints what it saw. Session bus (--system: the
system bus)."""

import sys

from gi.repository import Gio, GLib

EXPECTED_CHANGES = 3
NOT_FOUND = "org.example.KVStore.Error.NotFound"


def main():
    bus = Gio.BusType.SYSTEM if "--system" in sys.argv[1:] else Gio.BusType.SESSION
    store = Gio.DBusProxy.new_for_bus_sync(
        bus, Gio.DBusProxyFlags.NONE, None, "org.example.KVStore",
        "/org/example/KVStore", "org.example.KVStore", None)
    loop = GLib.MainLoop()
    changes = []

    def on_signal(proxy, sender, name, parameters):
        if name != "Changed":
            return
        key, _value, revision = parameters.unpack()
        print(f"changed {key} at {revision}")
        changes.append(key)
        if len(changes) == EXPECTED_CHANGES:
            loop.quit()

    store.connect("g-signal", on_signal)

    def call(method, signature, *args):
        return store.call_sync(method, GLib.Variant(signature, args),
                               Gio.DBusCallFlags.NONE, -1, None)

    call("Subscribe", "(s)", "example/")
    call("Set", "(sv)", "example/greeting", GLib.Variant("s", "hello"))
    (greeting,) = call("Get", "(s)", "example/greeting").unpack()
    print(f"greeting: {greeting}")
    for delta in (2, 3):
        (counter,) = call("Increment", "(sx)", "example/counter", delta).unpack()
        print(f"counter: {counter}")
    try:
        call("Get", "(s)", "example/missing")
    except GLib.Error as error:
        if Gio.DBusError.get_remote_error(error) == NOT_FOUND:
            print("missing: not found")

    def on_timeout():
        print("kvstore-example.py: the changes did not all arrive", file=sys.stderr)
        sys.exit(1)

    GLib.timeout_add_seconds(5, on_timeout)
    loop.run()
    # The proxy's cached property has followed the writes.
    print(f"revision: {store.get_cached_property('Revision').unpack()}")


if __name__ == "__main__":
    main()
