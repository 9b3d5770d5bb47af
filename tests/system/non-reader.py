#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
# A caller that reads nothing: over a raw socket to the system bus it says Hello, sends
# COUNT calls Get(KEY) to kvstored, and never reads a byte of what comes back, for
# SECONDS. Messages are built by GDBus (to_blob), the socket is plain.
#   non-reader.py SOCKET KEY COUNT SECONDS
import os
import socket
import sys
import time

from gi.repository import Gio, GLib

path, key, count, seconds = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
sock.connect(path)
sock.sendall(b'\0AUTH EXTERNAL ' + str(os.getuid()).encode().hex().encode() + b'\r\n')
if not sock.recv(4096).startswith(b'OK'):
    sys.exit('the bus refused us')
sock.sendall(b'BEGIN\r\n')


def call(destination, path, interface, member, body, serial):
    message = Gio.DBusMessage.new_method_call(destination, path, interface, member)
    if body is not None:
        message.set_body(body)
    message.set_serial(serial)
    return message.to_blob(Gio.DBusCapabilityFlags.NONE)


sock.sendall(call('org.freedesktop.DBus', '/org/freedesktop/DBus', 'org.freedesktop.DBus',
                  'Hello', None, 1))
for i in range(count):
    sock.sendall(call('org.example.KVStore', '/org/example/KVStore', 'org.example.KVStore', 'Get',
                      GLib.Variant('(s)', (key,)), i + 2))
print('sent', count, flush=True)
time.sleep(seconds)
