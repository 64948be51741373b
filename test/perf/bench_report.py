#!/usr/bin/env python3
"""test/perf/bench_report.py - the benchmark report from make bench's results

Theory of operation
test/perf/bench.sh measures and writes one line per figure to a results
file, tab-separated:

    SECTION  CELL  ROW  ROUND  METRIC  VALUE

SECTION is tcp, udp (unpaced), paced (highest rate at <= 0.1 % loss),
lat (sockperf ping-pong), conn (conn_rate), mem (peak RSS), load (the
tcp or udp cells with a busy loop beside them), vm (VM mode, vm_bench as
the guest: "udp 64 in", "tcp out 4"); CELL names the measurement within
it ("65520 in 1": MTU, direction, streams), ROW the path ("veth" is the
kernel's own path, the base of every ratio; in vm the stream row
"passtd --vm" is), ROUND the alternating round it came from. VALUE
"fail" is a round without a figure: counted, shown next to the median. This script reads that file and
nothing else measured, so it can be run again on old results, and
test/bench_report.sh feeds it fixed ones.

Every figure printed is the median over rounds; every ratio is computed
round by round against the veth row of the same cell, metric and round,
then summarised as median (min-max), so the machine's drift between
rounds cancels.

The report replaces, in the files given with --doc and --readme, only
what lies between "<!-- bench:begin NAME -->" and "<!-- bench:end NAME
-->" lines; everything else (the hand-written narrative) is kept.
Blocks: meta, targets, tcp, udp, latency, cost, load, vm, plots, and
the verbatim ones given with --block NAME=FILE (startup, vm-notes). With
--plots DIR it writes gnuplot data and PNG plots there.

Usage: bench_report.py RESULTS [--doc FILE] [--readme FILE]
	[--plots DIR] [--meta FILE] [--block NAME=FILE ...] [--targets]
"""

import os
import re
import subprocess
import sys

BASE = "veth"
DIRS = {"in": "remote→ns", "out": "ns→remote"}
VM_BASE = "passtd --vm"
VM_DIRS = {"in": "remote→guest", "out": "guest→remote"}


def median(vals):
    """median() - Median of a list of numbers, None if empty"""
    v = sorted(vals)
    n = len(v)
    if not n:
        return None
    if n % 2:
        return v[n // 2]
    return (v[n // 2 - 1] + v[n // 2]) / 2


def summary(vals):
    """summary() - (median, min, max) of a list, Nones if empty"""
    if not vals:
        return (None, None, None)
    return (median(vals), min(vals), max(vals))


def fmt(v, digits=None):
    """fmt() - A figure with a sensible number of digits, "-" for None"""
    if v is None:
        return "-"
    if digits is not None:
        return "%.*f" % (digits, v)
    a = abs(v)
    if a >= 1000:
        return "%.0f" % v
    if a >= 100:
        return "%.1f" % v
    if a >= 0.1 or a == 0:
        return "%.2f" % v
    return "%.3f" % v


def md_table(header, rows, align=None):
    """md_table() - Markdown table lines, first column left, others right"""
    if align is None:
        align = ["---"] + ["---:"] * (len(header) - 1)
    out = ["| " + " | ".join(header) + " |", "|" + "|".join(align) + "|"]
    for r in rows:
        out.append("| " + " | ".join(r) + " |")
    return out


class Results:
    """Results - the figures of one run, by (section, cell, row, metric)"""

    def __init__(self, lines):
        self.v = {}		# (sec, cell, row, metric) -> {round: value}
        self.fails = {}		# (sec, cell, row, metric) -> rounds failed
        self.all_rows = {}	# sec -> rows, those that only failed too
        self.rows = {}		# sec -> rows in order of appearance
        self.cells = {}		# sec -> cells in order of appearance
        for line in lines:
            line = line.rstrip("\n")
            if not line or line.startswith("#"):
                continue
            f = line.split("\t")
            if len(f) != 6:
                continue
            sec, cell, row, rnd, metric, val = f
            key = (sec, cell, row, metric)
            try:
                val = float(val)
            except ValueError:
                # "fail": the cell has no figure that round
                if val == "fail":
                    self.fails[key] = self.fails.get(key, 0) + 1
                    self.order(self.all_rows, sec, row)
                continue
            self.v.setdefault(key, {})[rnd] = val
            for d, k in ((self.rows, row), (self.cells, cell),
                         (self.all_rows, row)):
                self.order(d, sec, k)

    @staticmethod
    def order(d, sec, k):
        """order() - Add @k to the list of @sec in @d, once, in order"""
        if k not in d.setdefault(sec, []):
            d[sec].append(k)

    def nfail(self, sec, cell, row, metric):
        """nfail() - Rounds in which the cell failed"""
        return self.fails.get((sec, cell, row, metric), 0)

    def vals(self, sec, cell, row, metric):
        """vals() - The figures of every round, in round order"""
        d = self.v.get((sec, cell, row, metric), {})
        return [d[k] for k in sorted(d, key=int)]

    def med(self, sec, cell, row, metric):
        """med() - Median over rounds, None without figures"""
        return median(self.vals(sec, cell, row, metric))

    def ratios(self, sec, cell, row, metric, base=BASE):
        """ratios() - row / base of the same round, for rounds with both"""
        a = self.v.get((sec, cell, row, metric), {})
        b = self.v.get((sec, cell, base, metric), {})
        return [a[k] / b[k] for k in sorted(a, key=int)
                if k in b and b[k] > 0]

    def ratio(self, sec, cell, row, metric, base=BASE):
        """ratio() - (median, min, max) of the per-round ratios"""
        return summary(self.ratios(sec, cell, row, metric, base))

    def nrounds(self):
        """nrounds() - How many rounds the results hold"""
        return len({k for d in self.v.values() for k in d})


def fmt_ratio(r):
    """fmt_ratio() - "median (min-max)" of a ratio summary"""
    if r[0] is None:
        return "-"
    return "%s (%s-%s)" % (fmt(r[0], 2), fmt(r[1], 2), fmt(r[2], 2))


def tcp_block(res, sec="tcp"):
    """tcp_block() - The TCP table: one line per cell and row"""
    rows = []
    for cell in res.cells.get(sec, []):
        mtu, d, streams = cell.split()
        for row in res.rows.get(sec, []):
            g = res.med(sec, cell, row, "gbit")
            if g is None:
                continue
            rows.append([row, mtu, DIRS[d], streams, fmt(g),
                         fmt_ratio(res.ratio(sec, cell, row, "gbit")),
                         fmt(res.med(sec, cell, row, "cpu")),
                         fmt(res.med(sec, cell, row, "ends"))])
    return md_table(["path", "MTU", "direction", "streams", "Gbit/s",
                     "ratio to veth", "daemon CPU s/GB", "iperf3 s/GB"],
                    rows)


def udp_block(res):
    """udp_block() - The UDP table: unpaced rate and loss, paced rate"""
    rows = []
    for cell in res.cells.get("udp", []):
        size, d = cell.split()
        for row in res.rows.get("udp", []):
            k = res.med("udp", cell, row, "kpps")
            if k is None:
                continue
            rows.append([row, size, DIRS[d], fmt(k),
                         fmt_ratio(res.ratio("udp", cell, row, "kpps")),
                         fmt(res.med("udp", cell, row, "loss")),
                         fmt(res.med("paced", cell, row, "kpps")),
                         fmt_ratio(res.ratio("paced", cell, row, "kpps"))])
    return md_table(["path", "size B", "direction", "unpaced kpps",
                     "ratio to veth", "loss %", "at ≤0.1 % loss kpps",
                     "ratio to veth"], rows)


def latency_block(res):
    """latency_block() - Request/response and connection rate table"""
    rows = []
    for cell in res.cells.get("lat", []):
        for row in res.rows.get("lat", []):
            p50 = res.med("lat", cell, row, "p50")
            if p50 is None:
                continue
            rows.append([row, cell.upper() + " request/response",
                         fmt(p50),
                         fmt_ratio(res.ratio("lat", cell, row, "p50")),
                         fmt(res.med("lat", cell, row, "p99")),
                         fmt_ratio(res.ratio("lat", cell, row, "p99")),
                         fmt(res.med("lat", cell, row, "tps"))])
    for cell in res.cells.get("conn", []):
        for row in res.rows.get("conn", []):
            c = res.med("conn", cell, row, "rate")
            if c is None:
                continue
            rows.append([row, "TCP connect/request/response", "-", "-",
                         "-", "-", fmt(c) + " (ratio " + fmt_ratio(
                             res.ratio("conn", cell, row, "rate")) + ")"])
    return md_table(["path", "test", "p50 µs", "ratio to veth", "p99 µs",
                     "ratio to veth", "per second"], rows)


def cost_block(res):
    """cost_block() - Daemon CPU per GB (TCP, MTU 65520) and peak RSS"""
    rows = []
    for row in res.rows.get("mem", []):
        cpu = [fmt(res.med("tcp", c, row, "cpu"))
               for c in ("65520 in 1", "65520 out 1")]
        rows.append([row] + cpu + [fmt(res.med("mem", "tcp", row, "rss"),
                                       0)])
    return md_table(["daemon", "CPU s/GB remote→ns", "CPU s/GB ns→remote",
                     "peak RSS kB (VmHWM)"], rows)


def load_block(res):
    """load_block() - The cells again beside one busy loop"""
    rows = []
    for cell in res.cells.get("load", []):
        f = cell.split()
        metric = "gbit" if f[0] == "tcp" else "kpps"
        unit = "Gbit/s" if metric == "gbit" else "kpps"
        name = ("TCP MTU %s %s" % (f[1], DIRS[f[2]]) if f[0] == "tcp"
                else "UDP %s B %s" % (f[1], DIRS[f[2]]))
        for row in res.rows.get("load", []):
            v = res.med("load", cell, row, metric)
            if v is None:
                continue
            rows.append([row, name, fmt(v) + " " + unit,
                         fmt_ratio(res.ratio("load", cell, row, metric)),
                         fmt_ratio(res.ratio("load", cell, row, metric,
                                             "pasta"))
                         if row != "pasta" else "-"])
    return md_table(["path", "cell", "median", "ratio to veth",
                     "ratio to pasta"], rows)


def vm_figure(res, cell, row, metric):
    """vm_figure() - A VM cell: median, loss for UDP, failed rounds"""
    v = res.med("vm", cell, row, metric)
    nf = res.nfail("vm", cell, row, metric)
    if v is None:
        return "fail (%d)" % nf if nf else "-"
    out = fmt(v)
    if metric == "kfps":
        loss = res.med("vm", cell, row, "loss")
        if loss is not None:
            out += " (%s %%)" % fmt(loss, 2 if loss < 1 else 1)
    if nf:
        out += " (%d failed)" % nf
    return out


def vm_block(res):
    """vm_block() - VM mode: figures per row, then ratios to the stream

    The first table holds the medians of every cell; the second, for
    every row but the stream row itself, the per-round ratios of its TCP
    throughput to the stream row's (passtd --vm) in the same cell, and
    the daemon's CPU per GB, 1 stream. Empty without VM figures.
    """
    rows = res.all_rows.get("vm", [])
    if not rows:
        return []
    udp = [("udp %s %s" % (n, d)) for d in ("in", "out")
           for n in ("64", "1400")]
    tcp = [("tcp %s %s" % (d, p)) for d in ("in", "out") for p in ("1", "4")]
    lines = md_table(
        ["daemon", "UDP remote→guest 64 B kfps", "1400 B kfps",
         "UDP guest→remote 64 B kfps", "1400 B kfps",
         "TCP remote→guest Gbit/s 1 stream", "4 streams",
         "TCP guest→remote Gbit/s 1 stream", "4 streams"],
        [[row] + [vm_figure(res, c, row, "kfps") for c in udp]
         + [vm_figure(res, c, row, "gbit") for c in tcp] for row in rows])
    others = [r for r in rows if r != VM_BASE]
    if VM_BASE not in rows or not others:
        return lines
    ratios = []
    for row in [VM_BASE] + others:
        r = ["-" if row == VM_BASE else
             fmt_ratio(res.ratio("vm", c, row, "gbit", VM_BASE))
             for c in tcp]
        ratios.append([row] + r + [fmt(res.med("vm", "tcp %s 1" % d, row,
                                                "cpu"))
                                   for d in ("in", "out")])
    lines += [""] + md_table(
        ["daemon", "TCP remote→guest ×stream 1 stream", "4 streams",
         "TCP guest→remote ×stream 1 stream", "4 streams",
         "daemon CPU s/GB remote→guest", "guest→remote"], ratios)
    return lines


def targets(res):
    """targets() - The issue's targets: (text, figure, met) for each

    A target without figures (a section not run) is left out.
    """
    out = []

    def at_least(text, r, lim):
        if r[0] is not None:
            out.append((text, fmt_ratio(r), r[0] >= lim))

    def at_most(text, r, lim):
        if r[0] is not None:
            out.append((text, fmt_ratio(r), r[0] <= lim))

    for mtu, lin, lout in (("65520", 0.95, 0.85), ("1500", 0.9, 0.8)):
        at_least("TCP MTU %s remote→ns ≥ %.2f× veth" % (mtu, lin),
                 res.ratio("tcp", mtu + " in 1", "passtd", "gbit"), lin)
        at_least("TCP MTU %s ns→remote ≥ %.2f× veth" % (mtu, lout),
                 res.ratio("tcp", mtu + " out 1", "passtd", "gbit"), lout)
    for d in ("in", "out"):
        at_least("UDP 64 B at ≤0.1 %% loss %s ≥ 0.8× veth" % DIRS[d],
                 res.ratio("paced", "64 " + d, "passtd", "kpps"), 0.8)
    at_most("TCP request/response p50 ≤ 1.25× veth",
            res.ratio("lat", "tcp", "passtd", "p50"), 1.25)
    at_most("TCP request/response p99 ≤ 2× veth",
            res.ratio("lat", "tcp", "passtd", "p99"), 2.0)
    for d in ("in", "out"):
        at_least("VM TCP %s: vhost-user ≥ 2× stream (1 stream)" % VM_DIRS[d],
                 res.ratio("vm", "tcp %s 1" % d, "passtd --vhost-user",
                           "gbit", VM_BASE), 2.0)
    for d in ("in", "out"):
        at_least("VM TCP %s, 4 streams: vhost-user with 4 queue pairs ≥ "
                 "2× stream" % VM_DIRS[d],
                 res.ratio("vm", "tcp %s 4" % d,
                           "passtd --vhost-user --vhost-queues 4", "gbit",
                           VM_BASE), 2.0)
    for cell in res.cells.get("load", []):
        metric = "gbit" if cell.startswith("tcp") else "kpps"
        at_least("under load, %s: passtd ahead of pasta" % cell,
                 res.ratio("load", cell, "passtd", metric, "pasta"), 1.0)
        if cell.startswith("udp"):
            at_least("under load, %s: passtd ≥ its --udp-yield 0" % cell,
                     res.ratio("load", cell, "passtd", metric,
                               "passtd --udp-yield 0"), 1.0)
    return out


def targets_block(res):
    """targets_block() - The targets as a table, met or not met"""
    rows = [[t, f, "**met**" if ok else "**not met**"]
            for t, f, ok in targets(res)]
    return md_table(["target", "median (min-max) of per-round ratios",
                     "result"], rows, ["---", "---:", "---"])


def readme_block(res):
    """readme_block() - The README's short table: passtd and pasta"""
    rows = []
    for name, sec, cell, metric in (
            ("TCP MTU 65520 remote→ns", "tcp", "65520 in 1", "gbit"),
            ("TCP MTU 65520 ns→remote", "tcp", "65520 out 1", "gbit"),
            ("TCP MTU 1500 remote→ns", "tcp", "1500 in 1", "gbit"),
            ("TCP MTU 1500 ns→remote", "tcp", "1500 out 1", "gbit"),
            ("UDP 64 B ≤0.1 % loss remote→ns", "paced", "64 in", "kpps"),
            ("UDP 64 B ≤0.1 % loss ns→remote", "paced", "64 out", "kpps"),
            ("TCP request/response p50", "lat", "tcp", "p50")):
        if res.med(sec, cell, BASE, metric) is None:
            continue
        rows.append([name, fmt(res.med(sec, cell, BASE, metric)),
                     fmt_ratio(res.ratio(sec, cell, "passtd", metric)),
                     fmt_ratio(res.ratio(sec, cell, "pasta", metric))])
    return md_table(["cell", "kernel veth", "passtd (ratio)",
                     "pasta (ratio)"], rows)


def plot(res, pdir):
    """plot() - gnuplot data files and PNG plots of the ratios to veth

    Return: the Markdown lines showing the plots that were written
    """
    os.makedirs(pdir, exist_ok=True)
    plots = []
    spec = [("tcp", "TCP throughput, ratio to veth (1 stream)", "tcp",
             "gbit", lambda c: c.endswith(" 1"),
             lambda c: "MTU %s %s" % (c.split()[0], DIRS[c.split()[1]])),
            ("udp", "UDP rate at ≤0.1 % loss, ratio to veth", "paced",
             "kpps", lambda c: True,
             lambda c: "%s B %s" % (c.split()[0], DIRS[c.split()[1]])),
            ("latency", "TCP/UDP request/response p50, ratio to veth",
             "lat", "p50", lambda c: True, lambda c: c.upper())]
    for name, title, sec, metric, keep, label in spec:
        cells = [c for c in res.cells.get(sec, []) if keep(c)]
        rows = [r for r in res.rows.get(sec, []) if r != BASE]
        if not cells or not rows:
            continue
        dat = os.path.join(pdir, name + ".dat")
        with open(dat, "w") as f:
            f.write("cell\t" + "\t".join('"%s"' % r for r in rows) + "\n")
            for c in cells:
                vals = [res.ratio(sec, c, r, metric)[0] for r in rows]
                f.write('"%s"\t' % label(c)
                        + "\t".join("NaN" if v is None else "%.4f" % v
                                    for v in vals) + "\n")
        png = os.path.join(pdir, name + ".png")
        gp = "\n".join([
            "set terminal png size 900,420",
            "set output '%s'" % png,
            "set title '%s'" % title,
            "set style data histograms",
            "set style histogram clustered gap 1",
            "set style fill solid 0.8 border -1",
            "set key outside right top",
            "set yrange [0:*]",
            "set grid ytics",
            "set xtics rotate by -20",
            "plot for [i=2:%d] '%s' using i:xtic(1) title columnheader(i)"
            % (len(rows) + 1, dat), ""])
        try:
            subprocess.run(["gnuplot"], input=gp.encode(), check=True,
                           stdout=subprocess.DEVNULL,
                           stderr=subprocess.PIPE, timeout=30)
        except (OSError, subprocess.SubprocessError) as e:
            print("bench_report: gnuplot failed for %s: %s" % (name, e),
                  file=sys.stderr)
            continue
        plots += ["![%s](perf/%s.png)" % (title, name), ""]
    return plots


def fill(path, blocks):
    """fill() - Replace the named blocks of a file, keep everything else

    Return: the names of blocks found in the file
    """
    with open(path) as f:
        text = f.read()
    found = []
    for name, lines in blocks.items():
        pat = re.compile(r"(<!-- bench:begin %s -->\n)(.*?)"
                         r"(<!-- bench:end %s -->)" % (re.escape(name),
                                                      re.escape(name)),
                         re.S)
        body = "\n".join(lines).rstrip("\n") + "\n"
        text, n = pat.subn(lambda m: m.group(1) + body + m.group(3), text)
        if n:
            found.append(name)
    with open(path, "w") as f:
        f.write(text)
    return found


def main(argv):
    """main() - Read the results, fill the documents, print the targets"""
    args = {"--block": []}
    pos = []
    i = 0
    while i < len(argv):
        a = argv[i]
        if a in ("--doc", "--readme", "--plots", "--meta"):
            args[a] = argv[i + 1]
            i += 2
        elif a == "--block":
            args[a].append(argv[i + 1])
            i += 2
        elif a == "--targets":
            args[a] = True
            i += 1
        else:
            pos.append(a)
            i += 1
    if len(pos) != 1:
        print(__doc__.split("Usage: ")[1].split("\n\n")[0],
              file=sys.stderr)
        return 1
    with open(pos[0]) as f:
        res = Results(f)

    blocks = {"targets": targets_block(res), "tcp": tcp_block(res),
              "udp": udp_block(res), "latency": latency_block(res),
              "cost": cost_block(res), "load": load_block(res),
              "vm": vm_block(res)}
    if "--meta" in args:
        with open(args["--meta"]) as f:
            blocks["meta"] = f.read().splitlines()
    for b in args["--block"]:
        name, path = b.split("=", 1)
        with open(path) as f:
            blocks[name] = f.read().splitlines()
    # A section not run this time keeps what the document had
    for name in ("tcp", "udp", "latency", "cost", "load", "vm"):
        if len(blocks[name]) <= 2:
            del blocks[name]
    if len(blocks["targets"]) <= 2:
        del blocks["targets"]
    if "--plots" in args:
        p = plot(res, args["--plots"])
        if p:
            blocks["plots"] = p
    if "--doc" in args:
        fill(args["--doc"], blocks)
    if "--readme" in args:
        r = readme_block(res)
        if len(r) > 2:
            fill(args["--readme"], {"readme": r})
    if args.get("--targets"):
        for t, f, ok in targets(res):
            print("%s: %s: %s" % (t, f, "met" if ok else "NOT MET"))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
