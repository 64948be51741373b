#!/usr/bin/env python3
"""test/tools/tun_relay.py - a point-to-point link between two namespaces,
made of two tun devices and this process copying packets between them

A tun device is what a VPN client or a PPP link gives a host: an
interface of layer 3 only, with no MAC address and no neighbours. Its
carrier is up while a process holds it open. This tool opens one in its
own network namespace and one in another (entered with setns(2) after the
first is open: a tun descriptor stays with the namespace it was created
in), and relays every packet from one to the other, so the two namespaces
talk over a tun link each, with their own stacks at both ends.

Usage:
    tun_relay.py NAME NETNS SECONDS
        Create tun NAME here and tun NAME in the network namespace at the
        path NETNS (as /proc/PID/ns/net); print "listening" once both are
        open, relay until SIGTERM or SECONDS have passed. Exit status 0,
        or 2 if a device could not be set up.
"""

import ctypes
import fcntl
import os
import selectors
import signal
import struct
import sys
import time

TUNSETIFF = 0x400454ca
IFF_TUN, IFF_NO_PI = 0x0001, 0x1000
CLONE_NEWNET = 0x40000000


def tun_open(name):
    """Open a tun device NAME in the current network namespace."""
    fd = os.open("/dev/net/tun", os.O_RDWR | os.O_CLOEXEC)
    ifr = struct.pack("16sH22x", name.encode(), IFF_TUN | IFF_NO_PI)
    fcntl.ioctl(fd, TUNSETIFF, ifr)
    os.set_blocking(fd, False)
    return fd


def enter_netns(path):
    """Move this process to the network namespace at path."""
    libc = ctypes.CDLL(None, use_errno=True)
    nsfd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    if libc.setns(nsfd, CLONE_NEWNET):
        raise OSError(ctypes.get_errno(), "setns " + path)
    os.close(nsfd)


def relay(a, b, secs):
    """Copy packets between descriptors a and b for secs seconds."""
    sel = selectors.DefaultSelector()
    sel.register(a, selectors.EVENT_READ, b)
    sel.register(b, selectors.EVENT_READ, a)
    end = time.monotonic() + secs
    while time.monotonic() < end:
        for key, _ in sel.select(timeout=0.5):
            try:
                pkt = os.read(key.fd, 65536)
                os.write(key.data, pkt)
            except (BlockingIOError, OSError):
                pass    # a lost packet, as on any link


def main():
    if len(sys.argv) != 4:
        print(__doc__, file=sys.stderr)
        return 2
    name, netns, secs = sys.argv[1], sys.argv[2], float(sys.argv[3])
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        here = tun_open(name)
        enter_netns(netns)
        there = tun_open(name)
    except OSError as e:
        print("error:", e, flush=True)
        return 2
    print("listening", flush=True)
    relay(here, there, secs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
