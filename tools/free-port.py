#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Prints a loopback TCP port that is free now, for a server started next (etcd in the
tests and benchmarks). It lies below the kernel's ephemeral range: a port bound and let
go inside that range can be taken by any outgoing connection (kvstored's to etcd, in a
test running beside) before the server binds it."""
import random
import socket

with open("/proc/sys/net/ipv4/ip_local_port_range", encoding="ascii") as ranges:
    lowest_ephemeral = int(ranges.read().split()[0])
while True:
    port = random.randint(10000, max(lowest_ephemeral, 10001) - 1)
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            continue
    print(port)
    break
