// SPDX-License-Identifier: LGPL-2.1-or-later
// A Vala client of kvstore through libkvstore, with the VAPI generated from its GIR
// (kvstore-1.vapi):
//
//   valac --pkg kvstore-1 libkvstore-example.vala
//
// It keeps a view of the keys under example/, sets, reads and increments keys there, and
// prints what it saw, as libkvstore-example.c does. Session bus (--system: the system bus).

const int EXPECTED_CHANGES = 3;

int main (string[] args) {
    var bus_type = "--system" in args ? BusType.SYSTEM : BusType.SESSION;
    var loop = new MainLoop ();
    var changes = 0;

    try {
        var client = new KvStore.Client.sync (bus_type);
        var view = new KvStore.View.sync (client, "example/");
        view.changed.connect ((key, value, revision) => {
            print ("changed %s at %" + uint64.FORMAT + "\n", key, revision);
            if (++changes == EXPECTED_CHANGES)
                loop.quit ();
        });

        client.set_sync ("example/greeting", new Variant.string ("hello"));
        uint64 revision;
        var greeting = client.get_sync ("example/greeting", out revision);
        print ("greeting: %s\n", greeting.get_string ());
        for (int64 delta = 2; delta <= 3; delta++) {
            int64 counter;
            client.increment_sync ("example/counter", delta, out counter);
            print ("counter: %" + int64.FORMAT + "\n", counter);
        }
        try {
            client.get_sync ("example/missing", out revision);
        } catch (KvStore.Error error) {
            if (error is KvStore.Error.NOT_FOUND)
                print ("missing: not found\n");
        }

        Timeout.add_seconds (5, () => {
            printerr ("libkvstore-example.vala: the changes did not all arrive\n");
            Process.exit (1);
        });
        loop.run ();
        print ("revision: %" + uint64.FORMAT + "\n", view.get_revision ());
    } catch (Error error) {
        printerr ("libkvstore-example.vala: %s\n", error.message);
        return 1;
    }
    return 0;
}
