#!/usr/bin/env python3
"""test/perf/profile_split.py - a perf profile split by command and call

Usage: perf script -F comm,ip,sym,dso -i perf.data | profile_split.py COMM
       perf script -F event,trace -i calls.data | profile_split.py --calls N

Theory of operation
Reads perf script's samples (a "comm" line, then one frame a line, leaf
first) and prints three tables for test/perf/profile.sh:
  - the share of all samples of each command (top 6);
  - the share of COMM's samples under each system call of its data path,
    told by a kernel function its call goes through (ENTRIES, the first
    one found walking from the leaf up), plus "(user space)" for samples
    whose leaf is not in the kernel and "(other kernel)" for the rest
    (interrupts, page faults, the system call entry itself);
  - COMM's top leaf symbols, as shares of COMM's samples.
Done here and not with perf report's --comm filter, whose percentages
did not add up with the perf of Debian 12 on a newer kernel.

With --calls, it reads the daemon's system call exits instead (one
"syscalls:sys_exit_NAME: 0xRET" line each) and prints, per N units of
work (GB or transactions), the calls of each kind, those that failed (a
negative return: EAGAIN, mostly) and the bytes per successful call. perf
stat's counts of the same tracepoints were checked against these and
against strace, and came out several times too high for some calls.
"""

import collections
import sys

# Kernel function -> the call it stands for
ENTRIES = {
    "tun_chr_read_iter": "read (tap)",
    "tun_chr_write_iter": "writev (tap)",
    "__sys_sendmsg": "sendmsg",
    "__sys_recvmsg": "recvmsg",
    "__sys_sendmmsg": "sendmmsg",
    "__sys_recvmmsg": "recvmmsg",
    "__sys_recvfrom": "recvfrom",
    "__sys_sendto": "sendto",
    "do_epoll_wait": "epoll_wait",
    "do_splice": "splice",
    "__do_splice": "splice",
    "__sys_getsockopt": "getsockopt",
    "__sys_setsockopt": "setsockopt",
    "__secure_computing": "(seccomp filter)",
}


def samples(stream):
    """Yield (comm, [(sym, dso), ...]) for each sample, leaf first"""
    comm, frames = None, []
    for line in stream:
        line = line.rstrip("\n")
        if not line.strip():
            if comm is not None:
                yield comm, frames
            comm, frames = None, []
        elif not line[0].isspace():
            if comm is not None:
                yield comm, frames
            comm, frames = line.strip(), []
        else:
            parts = line.split(None, 1)
            rest = parts[1] if len(parts) > 1 else ""
            sym, _, dso = rest.rpartition(" (")
            frames.append((sym.split("+")[0], dso.rstrip(")")))
    if comm is not None:
        yield comm, frames


def classify(frames):
    """Name the call a sample of the daemon belongs to"""
    if not frames or "kernel" not in frames[0][1]:
        return "(user space)"
    for sym, _ in frames:
        if sym in ENTRIES:
            return ENTRIES[sym]
    return "(other kernel)"


def calls(stream, per):
    """Print the system call table from perf script's event,trace lines"""
    count, failed, nbytes = (collections.Counter() for _ in range(3))
    for line in stream:
        fields = line.split()
        if len(fields) < 2 or not fields[0].startswith("syscalls:sys_exit_"):
            continue
        name = fields[0][len("syscalls:sys_exit_"):].rstrip(":")
        ret = int(fields[-1], 0)
        if ret >= 1 << 63:
            ret -= 1 << 64
        count[name] += 1
        if ret < 0:
            failed[name] += 1
        else:
            nbytes[name] += ret
    print("    %-12s %10s %10s %12s" % ("call", "calls", "failed",
                                         "bytes/call"))
    print("    %-12s %10.1f" % ("all", sum(count.values()) / per))
    for name, n in count.most_common():
        ok = n - failed[name]
        print("    %-12s %10.1f %10.1f %12.0f" % (
            name, n / per, failed[name] / per, nbytes[name] / ok if ok else 0))


def main():
    """Read standard input, print the tables"""
    if len(sys.argv) == 3 and sys.argv[1] == "--calls":
        calls(sys.stdin, float(sys.argv[2]))
        return
    if len(sys.argv) != 2:
        sys.exit("usage: profile_split.py COMM")
    want = sys.argv[1]
    by_comm = collections.Counter()
    by_call = collections.Counter()
    by_sym = collections.Counter()
    for comm, frames in samples(sys.stdin):
        by_comm[comm] += 1
        if comm != want:
            continue
        by_call[classify(frames)] += 1
        if frames:
            by_sym[frames[0][0] or "[unknown]"] += 1
    total, mine = sum(by_comm.values()), by_comm[want]
    if not total or not mine:
        sys.exit("profile_split.py: no samples of " + want)
    print("CPU by command (share of all samples, both CPUs):\n")
    for comm, n in by_comm.most_common(6):
        print("    %6.1f%%  %s" % (100 * n / total, comm))
    print("\nThe daemon's time by system call (callees included):\n")
    for call, n in by_call.most_common():
        print("    %6.1f%%  %s" % (100 * n / mine, call))
    print("\nThe daemon's top symbols (share of its %d samples):\n" % mine)
    for sym, n in by_sym.most_common(15):
        print("    %6.1f%%  %s" % (100 * n / mine, sym))


if __name__ == "__main__":
    main()
