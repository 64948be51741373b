#!/usr/bin/env python3
"""test/tools/conn_hold.py - open many connections at once, see what each
gets, hold them open

Opens N connections to ADDR PORT (TCP) or to the UNIX socket PATH, all at
once, sends one line on each TCP one (nothing on a UNIX one: a daemon in VM
mode would take it for a frame) and waits up to WAIT seconds for each to
be echoed back, closed (end of file or reset) or neither. Prints one line:
    echoed=E closed=C silent=S failed=F
(F: the connect itself failed), then holds the connections that are still
open until SIGTERM or HOLD seconds, whichever comes first, and exits 0.

Usage: conn_hold.py ADDR PORT|-unix PATH N WAIT HOLD
"""

import selectors
import signal
import socket
import sys
import time


def connect_all(target, n):
    """Start n connections; return (sockets, connect failures)."""
    socks, failed = [], 0
    for _ in range(n):
        if target[0] == "-unix":
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            addr = target[1]
        else:
            family = socket.AF_INET6 if ":" in target[0] else socket.AF_INET
            s = socket.socket(family, socket.SOCK_STREAM)
            addr = (target[0], int(target[1]))
        s.settimeout(3.0)
        try:
            s.connect(addr)
            s.setblocking(False)
            socks.append(s)
        except OSError:
            s.close()
            failed += 1
    return socks, failed


def watch(socks, wait, send):
    """Send a line on each if send, classify them; return (open sockets,
    counts)."""
    sel = selectors.DefaultSelector()
    state = {}
    for s in socks:
        try:
            if send:
                s.send(b"hello\n")
        except OSError:
            state[s] = "closed"
            continue
        sel.register(s, selectors.EVENT_READ)
    end = time.monotonic() + wait
    while len(state) < len(socks) and time.monotonic() < end:
        for key, _ in sel.select(timeout=max(0.0, end - time.monotonic())):
            s = key.fileobj
            try:
                data = s.recv(4096)
            except OSError:
                data = b""
            state[s] = "echoed" if data else "closed"
            sel.unregister(s)
    counts = {k: 0 for k in ("echoed", "closed", "silent")}
    for s in socks:
        counts[state.get(s, "silent")] += 1
    return [s for s in socks if state.get(s) != "closed"], counts


def main(argv):
    """conn_hold.py ADDR PORT|-unix PATH N WAIT HOLD"""
    if len(argv) != 6:
        print(__doc__, file=sys.stderr)
        return 2
    if argv[1] == "-unix":
        target = ("-unix", argv[2])
    else:
        target = (argv[1], argv[2])
    n, wait, hold = int(argv[3]), float(argv[4]), float(argv[5])
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    socks, failed = connect_all(target, n)
    held, c = watch(socks, wait, target[0] != "-unix")
    print("echoed=%d closed=%d silent=%d failed=%d" %
          (c["echoed"], c["closed"], c["silent"], failed), flush=True)
    time.sleep(hold)
    for s in held:
        s.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
