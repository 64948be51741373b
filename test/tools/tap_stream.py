#!/usr/bin/env python3
"""test/tools/tap_stream.py - a kernel network stack as a VM-mode guest:
a tap device whose frames are relayed to and from the daemon's UNIX
stream socket, as QEMU relays its virtio-net card's

QEMU's -netdev stream carries each Ethernet frame behind its 32-bit
big-endian length. This tool opens a tap device (no packet information
header, so plain frames) in its own network namespace, connects to the
daemon's socket and copies frames both ways: every frame read from the
tap goes to the socket behind its length; the stream read from the
socket is cut at the lengths and each frame written to the tap. The
namespace's own TCP/IP stack, configured by the caller on the tap, is
then the guest: real TCP with retransmissions, resets and half-closes,
at a rate a guest under TCG cannot reach.

Back-pressure: frames for the socket wait in a buffer of at most 8 MiB;
while it is full, the tap is not read, so its queue fills and the kernel
drops what does not fit, as a slow link would. A frame the tap refuses
(its queue full) is dropped likewise.

Usage:
    tap_stream.py NAME SOCKET SECONDS
        Create tap NAME here, connect to the UNIX socket SOCKET, print
        "ready" once both are open, relay until SIGTERM, the daemon's
        end of the stream or SECONDS have passed. Exit status 0, or 2 if
        the tap or the connection could not be set up.
"""

import fcntl
import os
import selectors
import signal
import socket
import struct
import sys
import time

TUNSETIFF = 0x400454ca
IFF_TAP, IFF_NO_PI = 0x0002, 0x1000
OUT_MAX = 8 << 20       # bytes waiting for the socket, at most
READ_MAX = 1 << 20      # bytes read from the socket at once


def tap_open(name):
    """Open a tap device NAME in the current network namespace."""
    fd = os.open("/dev/net/tun", os.O_RDWR | os.O_CLOEXEC)
    ifr = struct.pack("16sH22x", name.encode(), IFF_TAP | IFF_NO_PI)
    fcntl.ioctl(fd, TUNSETIFF, ifr)
    os.set_blocking(fd, False)
    return fd


def to_tap(tap, inbuf):
    """Write every complete frame at the start of inbuf to the tap.

    Return: the bytes of inbuf left (the start of an incomplete frame).
    """
    off = 0
    while len(inbuf) - off >= 4:
        (n,) = struct.unpack_from(">I", inbuf, off)
        if len(inbuf) - off - 4 < n:
            break
        try:
            os.write(tap, inbuf[off + 4:off + 4 + n])
        except OSError:
            pass    # tap queue full: a lost frame, as on any link
        off += 4 + n
    return inbuf[off:]


def relay(tap, sk, secs):
    """Copy frames between the tap and the stream socket for secs seconds."""
    sel = selectors.DefaultSelector()
    sel.register(tap, selectors.EVENT_READ, "tap")
    sel.register(sk, selectors.EVENT_READ, "sock")
    out = bytearray()
    inbuf = b""
    tap_on = True
    end = time.monotonic() + secs
    while time.monotonic() < end:
        want_tap = len(out) < OUT_MAX
        if want_tap != tap_on:
            if want_tap:
                sel.register(tap, selectors.EVENT_READ, "tap")
            else:
                sel.unregister(tap)
            tap_on = want_tap
        sel.modify(sk, selectors.EVENT_READ |
                   (selectors.EVENT_WRITE if out else 0), "sock")
        for key, ev in sel.select(timeout=0.5):
            if key.data == "tap":
                for _ in range(64):
                    try:
                        frame = os.read(tap, 65536 + 14)
                    except BlockingIOError:
                        break
                    out += struct.pack(">I", len(frame)) + frame
                    if len(out) >= OUT_MAX:
                        break
                continue
            if ev & selectors.EVENT_READ:
                try:
                    data = sk.recv(READ_MAX)
                except BlockingIOError:
                    data = None
                if data == b"":
                    return
                if data:
                    inbuf = to_tap(tap, inbuf + data)
            if ev & selectors.EVENT_WRITE and out:
                try:
                    n = sk.send(out)
                    del out[:n]
                except BlockingIOError:
                    pass


def main():
    if len(sys.argv) != 4:
        print(__doc__, file=sys.stderr)
        return 2
    name, path, secs = sys.argv[1], sys.argv[2], float(sys.argv[3])
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        tap = tap_open(name)
        sk = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sk.connect(path)
        sk.setblocking(False)
    except OSError as e:
        print("error:", e, flush=True)
        return 2
    print("ready", flush=True)
    try:
        relay(tap, sk, secs)
    except (ConnectionError, BrokenPipeError):
        pass    # the daemon went away
    return 0


if __name__ == "__main__":
    sys.exit(main())
