// SPDX-License-Identifier: LGPL-2.1-or-later
// A GJS client of kvstore through libkvstore's GObject Introspection data (the Kvstore-1.0
// typelib): keeps a view of the keys under example/, sets, reads and increments keys
// there, and prints what it saw, as libkvstore-example.c and libkvstore-example.py do.
// Session bus (--system: the system bus). Run with: gjs libkvstore-example.js
imports.gi.versions.Kvstore = '1.0';
const {Gio, GLib, Kvstore} = imports.gi;
const System = imports.system;

const EXPECTED_CHANGES = 3;

const busType = ARGV.includes('--system') ? Gio.BusType.SYSTEM : Gio.BusType.SESSION;
const client = Kvstore.Client.new_sync(busType, null);
const view = Kvstore.View.new_sync(client, 'example/', null);
const loop = new GLib.MainLoop(null, false);
let changes = 0;

view.connect('changed', (_view, key, _value, revision) => {
    print(`changed ${key} at ${revision}`);
    if (++changes === EXPECTED_CHANGES)
        loop.quit();
});

client.set_sync('example/greeting', new GLib.Variant('s', 'hello'), null);
const [greeting] = client.get_sync('example/greeting', null);
print(`greeting: ${greeting.unpack()}`);
// GJS (1.74) leaves in the boolean that the annotations skip, as it does for GLib's own
// calls: [true, value].
for (const delta of [2, 3]) {
    const [, counter] = client.increment_sync('example/counter', delta, null);
    print(`counter: ${counter}`);
}
try {
    client.get_sync('example/missing', null);
} catch (error) {
    if (error.matches(Kvstore.Error, Kvstore.Error.NOT_FOUND))
        print('missing: not found');
}

GLib.timeout_add_seconds(GLib.PRIORITY_DEFAULT, 5, () => {
    printerr('libkvstore-example.js: the changes did not all arrive');
    System.exit(1);
    return GLib.SOURCE_REMOVE;
});
loop.run();
print(`revision: ${view.get_revision()}`);
