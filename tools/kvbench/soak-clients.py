#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""A soak of kvstored with blocking clients, run by tools/kvbench/soak.sh on a private system bus.

CLIENTS blocking dbus-python clients (no main loop: they read every reply but never
dispatch a message of kvstored's), spread over three uids, call every method for SECONDS,
each on its own keys and on keys all may read; a watcher per uid follows its keys with
Subscribe; this process pings kvstored every 0.1 s as one more caller. At the end every
counter must equal the increments its client saw answered, and every error must be one
the limits name for what the client did. Prints the figures and exits 1 on any anomaly.

  soak-clients.py ADDRESS SECONDS CLIENTS
"""

import os
import random
import subprocess
import sys
import time

import dbus

UIDS = (1, 2, 3)  # Debian's base users daemon, bin and sys, as the tests use them
NAME, PATH, IFACE = 'org.example.KVStore', '/org/example/KVStore', 'org.example.KVStore'
# Errors a client may get for what it does here: a missing key, a lost compare-and-set.
EXPECTED = {'org.example.KVStore.Error.NotFound', 'org.example.KVStore.Error.Conflict'}


def connect(address):
    bus = dbus.bus.BusConnection(address)
    obj = bus.get_object(NAME, PATH, introspect=False)
    return bus, dbus.Interface(obj, IFACE)


def client(address, seconds, index, uid):
    """One blocking client: prints 'calls N', 'incr KEY N' and 'error NAME N' lines."""
    os.setgroups([])
    os.setgid(uid)
    os.setuid(uid)
    rng = random.Random(index)
    _, store = connect(address)
    own = 'users/%d/c%d/' % (uid, index)
    counter = own + 'counter'
    calls, increments, errors = 0, 0, {}
    big = 'x' * 200000
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        op = rng.randrange(16)
        key = own + 'k%d' % rng.randrange(20)
        value = dbus.String('v%d' % rng.randrange(1000), variant_level=1)
        try:
            if op == 0:
                store.Increment(counter, dbus.Int64(1))
                increments += 1
            elif op == 1:
                store.Set(key, value)
            elif op == 2:
                store.Get(key)
            elif op == 3:
                store.SetMany({own + 'm%d' % i: value for i in range(rng.randrange(1, 50))})
            elif op == 4:
                store.GetMany([own + 'm%d' % i for i in range(30)])
            elif op == 5:
                store.Delete(key)
            elif op == 6:
                store.DeleteMany([own + 'm%d' % i for i in range(5)])
            elif op == 7:
                store.GetAll(own)
            elif op == 8:
                store.Keys(own)
            elif op == 9:
                store.KeysPage('public/', '', dbus.UInt32(100))
            elif op == 10:
                store.GetAllPage('public/', '', dbus.UInt32(0))
            elif op == 11:
                _, revision = store.GetWithRevision(counter)
                store.CompareAndSet(own + 'cas', revision, value)
            elif op == 12:
                store.Exists(key)
            elif op == 13:
                store.Set(own + 'big', dbus.String(big, variant_level=1))
                store.Get(own + 'big')
            elif op == 14:
                store.DeletePrefix(own + 'm4')
            else:
                store.Get('public/k%d' % rng.randrange(100))
        except dbus.exceptions.DBusException as e:
            errors[e.get_dbus_name()] = errors.get(e.get_dbus_name(), 0) + 1
        calls += 1
    print('calls', calls)
    print('incr', counter, increments)
    for name, n in errors.items():
        print('error', name, n)


def watcher(address, seconds, uid):
    """Subscribes to its uid's keys and counts the changes it receives."""
    from dbus.mainloop.glib import DBusGMainLoop
    from gi.repository import GLib
    os.setgroups([])
    os.setgid(uid)
    os.setuid(uid)
    DBusGMainLoop(set_as_default=True)
    bus, store = connect(address)
    seen = [0]

    def on_change(*args, **kwargs):
        seen[0] += 1
    for signal in ('Changed', 'Deleted'):
        bus.add_signal_receiver(on_change, signal_name=signal, dbus_interface=IFACE)
    store.Subscribe('users/%d/' % uid)
    loop = GLib.MainLoop()
    GLib.timeout_add(int(seconds * 1000), loop.quit)
    loop.run()
    print('watched', seen[0])


def main():
    address, seconds, n_clients = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
    if len(sys.argv) > 4:
        role = sys.argv[4]
        if role == 'client':
            client(address, seconds, int(sys.argv[5]), int(sys.argv[6]))
        else:
            watcher(address, seconds, int(sys.argv[5]))
        return 0

    _, store = connect(address)
    store.SetMany({'public/k%d' % i: dbus.String('p%d' % i, variant_level=1)
                   for i in range(100)})
    me = [sys.executable, __file__, address, str(seconds), str(n_clients)]
    procs = [subprocess.Popen(me + ['client', str(i), str(UIDS[i % 3])],
                              stdout=subprocess.PIPE, text=True) for i in range(n_clients)]
    procs += [subprocess.Popen(me + ['watcher', str(uid)], stdout=subprocess.PIPE, text=True)
              for uid in UIDS]

    bus, _ = connect(address)
    peer = dbus.Interface(bus.get_object(NAME, PATH, introspect=False),
                          'org.freedesktop.DBus.Peer')
    worst, pings, start = 0.0, 0, time.monotonic()
    while time.monotonic() < start + seconds:
        t = time.monotonic()
        peer.Ping()
        worst = max(worst, time.monotonic() - t)
        pings += 1
        time.sleep(0.1)

    calls, watched, errors, anomalies = 0, 0, {}, []
    for proc in procs:
        out, _ = proc.communicate(timeout=seconds + 120)
        for line in out.splitlines():
            words = line.split()
            if words[0] == 'calls':
                calls += int(words[1])
            elif words[0] == 'watched':
                watched += int(words[1])
            elif words[0] == 'error':
                errors[words[1]] = errors.get(words[1], 0) + int(words[2])
            elif words[0] == 'incr':
                stored = int(store.Get(words[1])) if store.Exists(words[1]) else 0
                if stored != int(words[2]):
                    anomalies.append('%s is %d after %s answered increments'
                                     % (words[1], stored, words[2]))
        if proc.returncode != 0:
            anomalies.append('a %s exited %d' % (proc.args[6], proc.returncode))
    elapsed = time.monotonic() - start
    print('soak: %d blocking clients over 3 uids, %d watchers, %.0f s' % (n_clients, len(UIDS),
                                                                         elapsed))
    print('soak: %d calls answered or refused (%.0f/s), %d changes watched'
          % (calls, calls / elapsed, watched))
    print('soak: worst Ping of another caller: %.3f s (%d pings)' % (worst, pings))
    for name, n in sorted(errors.items()):
        print('soak: %s: %d%s' % (name, n, '' if name in EXPECTED else '  UNEXPECTED'))
        if name not in EXPECTED:
            anomalies.append('%d calls refused with %s' % (n, name))
    for anomaly in anomalies:
        print('soak: ANOMALY: %s' % anomaly)
    print('soak: %s' % ('no anomaly' if not anomalies else '%d anomalies' % len(anomalies)))
    return 1 if anomalies else 0


if __name__ == '__main__':
    sys.exit(main())
