#!/bin/sh
#
# test/lib/deps.sh - install the Debian packages the build and tests need
#
# Installs only what is missing, non-interactively, and says nothing when
# everything is there already. Run as root (CI is); otherwise it lists what
# to install and fails. POSIX sh: `make deps` runs it with sh.
#
# Usage: sh test/lib/deps.sh		the build and make check
#	sh test/lib/deps.sh bench	also what make bench needs beyond them

set -u

# clang, libclang-rt-14-dev (libFuzzer and the sanitizer runtimes) and
# llvm (llvm-symbolizer, for readable reports): make fuzz, make asan
PKGS="gcc make libc6-dev libseccomp-dev libcap-ng-dev iproute2 busybox-static iputils-ping nftables
      tshark iperf3 passt procps util-linux kmod ethtool python3
      qemu-system-x86 linux-image-amd64 cpio strace hyperfine
      clang libclang-rt-14-dev llvm"

# make bench only (test/perf/bench.sh): sockperf for the request/response
# latency, gnuplot-nox for the report's plots; linux-perf for make profile
BENCH_PKGS="sockperf gnuplot-nox linux-perf"
[ "${1:-}" = bench ] && PKGS="$PKGS $BENCH_PKGS"

if ! command -v dpkg-query >/dev/null 2>&1; then
	# shellcheck disable=SC2086 # one line, words separated by spaces
	echo "deps.sh: not a Debian system, install by hand:" $PKGS >&2
	exit 1
fi

missing=""
for pkg in $PKGS; do
	status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null)
	case "$status" in
	*" ok installed") ;;
	*) missing="$missing $pkg" ;;
	esac
done

[ -z "$missing" ] && exit 0

if [ "$(id -u)" != 0 ]; then
	echo "deps.sh: missing packages, run as root: apt-get install$missing" >&2
	exit 1
fi

echo "deps.sh: installing$missing"
export DEBIAN_FRONTEND=noninteractive
# tshark pulls in wireshark-common, which asks whether non-root users may
# capture: answer in advance so nothing prompts.
echo "wireshark-common wireshark-common/install-setuid boolean false" |
	debconf-set-selections

apt-get update -q || exit 1
# shellcheck disable=SC2086
apt-get install -y -q --no-install-recommends $missing || exit 1
