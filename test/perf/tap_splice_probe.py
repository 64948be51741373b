#!/usr/bin/env python3
#
# test/perf/tap_splice_probe.py - Does this kernel's tap take splice()?
#
# Opens a tap device (run it as `unshare -rn python3 ...`: needs
# CAP_NET_ADMIN in a network namespace of its own) and tries splice() from
# a pipe into the tap's descriptor and from it into a pipe. Either would
# let the daemon move socket data to the tap without copying it through
# user space; on Linux 6.18 both fail with EINVAL, which is why the TCP
# path copies twice (see README, Performance). Prints one line per
# direction; exits 0 either way.

import fcntl
import os
import struct

TUNSETIFF = 0x400454ca
IFF_TAP = 0x0002
IFF_NO_PI = 0x1000


def main():
    fd = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK)
    fcntl.ioctl(fd, TUNSETIFF,
                struct.pack("16sH", b"probe0", IFF_TAP | IFF_NO_PI))
    r, w = os.pipe()
    os.write(w, b"\0" * 60)
    for name, src, dst in (("pipe -> tap", r, fd), ("tap -> pipe", fd, w)):
        try:
            print(f"splice({name}): {os.splice(src, dst, 60)} bytes")
        except OSError as e:
            print(f"splice({name}): {e}")


if __name__ == "__main__":
    main()
