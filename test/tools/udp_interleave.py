#!/usr/bin/env python3
"""test/tools/udp_interleave.py - interleaved UDP flows, for test/tap_batch.sh

  send ADDR PORT FLOWS ROUNDS SIZE  FLOWS sockets, each to PORT+i; every
                                    round one datagram from each in turn
                                    (A B C D A B C D ...), in bursts of 16
                                    rounds; prints "sent=N"
  recv PORT FLOWS SECS              count datagrams on PORT..PORT+FLOWS-1,
                                    print "listening", then "recv=N" once
                                    SECS passed or 1 s went by with none
"""
import selectors
import socket
import sys
import time


def send(addr, port, flows, rounds, size):
    socks = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
             for _ in range(int(flows))]
    payload = b'x' * int(size)
    sent = 0
    for r in range(int(rounds)):
        for i, s in enumerate(socks):
            s.sendto(payload, (addr, int(port) + i))
            sent += 1
        if r % 16 == 15:
            time.sleep(0.005)
    print('sent=%d' % sent, flush=True)


def recv(port, flows, secs):
    sel = selectors.DefaultSelector()
    for i in range(int(flows)):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)
        s.bind(('0.0.0.0', int(port) + i))
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ)
    print('listening', flush=True)
    got, end, last = 0, time.monotonic() + float(secs), None
    while time.monotonic() < end:
        if last and time.monotonic() - last > 1:
            break
        for key, _ in sel.select(timeout=0.1):
            try:
                while key.fileobj.recv(65536):
                    got += 1
                    last = time.monotonic()
            except BlockingIOError:
                pass
    print('recv=%d' % got, flush=True)


if __name__ == '__main__':
    cmds = {'send': send, 'recv': recv}
    if len(sys.argv) < 2 or sys.argv[1] not in cmds:
        sys.stderr.write(__doc__)
        sys.exit(2)
    cmds[sys.argv[1]](*sys.argv[2:])
