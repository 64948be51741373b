#!/bin/sh
# contrib/kernel/build.sh - build a small kernel for the in-guest benchmark
#
# Usage: build.sh VERSION [PATCH...]
#
# Unpacks Debian's linux-source-VERSION (/usr/src/linux-source-VERSION.tar.xz,
# installed with apt-get if missing), applies the patches in order (patch
# -p1), configures "make tinyconfig" plus config.fragment (next to this
# script), then the fragments named in $KBUILD_FRAGMENTS (space-separated
# paths, e.g. profile.fragment for perf in the guest), and builds bzImage
# with make -j$JOBS (default 2).
#
# Cache ($KBUILD_CACHE, default build/kernel in the source tree):
#  - VERSION-KEY/bzImage, KEY a hash of the tarball, the patches, the
#    fragment and this script: the same inputs never build twice;
#  - src-VERSION/, one unpacked tree per version, kept between builds: the
#    patches of the previous build are reversed before the new ones are
#    applied, so make rebuilds only what they touch (a one-file patch
#    takes seconds, a full build about 5 minutes on 2 CPUs).
# Prints the path of the bzImage on standard output; progress goes to
# standard error, make's output to build.log next to the bzImage.
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$HERE/../.." && pwd)
CACHE=${KBUILD_CACHE:-$TOP/build/kernel}
JOBS=${JOBS:-2}
FRAG=$HERE/config.fragment

usage() {
	echo "Usage: $0 VERSION [PATCH...]" >&2
	echo "  VERSION: Debian linux-source version (6.1, 6.12)" >&2
	echo "  PATCH:   -p1 patches applied in order" >&2
	echo "Prints the path of the built (or cached) bzImage." >&2
	echo "Environment: KBUILD_CACHE (default build/kernel), JOBS (2)," >&2
	echo "  KBUILD_FRAGMENTS (more configuration fragments)" >&2
}

case "${1:-}" in
-h|--help) usage; exit 0 ;;
"") usage; exit 1 ;;
esac
VER=$1
shift
for p in "$@"; do
	[ -r "$p" ] || { echo "build.sh: cannot read patch $p" >&2; exit 1; }
done
FRAGS=$FRAG
for f in ${KBUILD_FRAGMENTS:-}; do
	[ -r "$f" ] || { echo "build.sh: cannot read fragment $f" >&2; exit 1; }
	FRAGS="$FRAGS $(cd "$(dirname "$f")" && pwd)/$(basename "$f")"
done

TARBALL=/usr/src/linux-source-$VER.tar.xz
if [ ! -r "$TARBALL" ]; then
	echo "build.sh: $TARBALL missing, installing linux-source-$VER" >&2
	DEBIAN_FRONTEND=noninteractive apt-get install -y \
		"linux-source-$VER" flex bison bc libelf-dev >&2
fi
for t in flex bison bc gcc make patch; do
	command -v $t >/dev/null || {
		echo "build.sh: $t missing (apt-get install $t)" >&2; exit 1; }
done

# The tarball's identity: size and modification time stand for its content
# (hashing 150 MB each time would take seconds)
TB_ID=$(stat -c '%n %s %Y' "$TARBALL")
# shellcheck disable=SC2086 # paths of ours, no spaces
FRAG_ID=$(cat $FRAGS | sha256sum)
KEY=$( {
	echo "$TB_ID"
	for p in "$@"; do sha256sum < "$p"; done
	echo "$FRAG_ID"
	sha256sum < "$0"
} | sha256sum | cut -c1-16)
OUT=$CACHE/$VER-$KEY
if [ -s "$OUT/bzImage" ]; then
	echo "build.sh: cached $OUT/bzImage" >&2
	echo "$OUT/bzImage"
	exit 0
fi
mkdir -p "$OUT"
log=$OUT/build.log
: > "$log"
start=$(date +%s)

# The tree: unpacked once per tarball
SRC=$CACHE/src-$VER
if [ "$(cat "$SRC/.kbench-tarball" 2>/dev/null)" != "$TB_ID" ]; then
	echo "build.sh: unpacking $TARBALL" >&2
	rm -rf "$SRC"
	mkdir -p "$SRC"
	tar -xJf "$TARBALL" -C "$SRC" --strip-components=1
	echo "$TB_ID" > "$SRC/.kbench-tarball"
fi

# Back to the pristine source: reverse the previous build's patches, last
# first, then apply this build's and keep copies to reverse next time
APPLIED=$SRC/.kbench-applied
if [ -d "$APPLIED" ]; then
	# shellcheck disable=SC2012 # names are ours: NNN-name
	for p in $(ls "$APPLIED" | sort -r); do
		echo "build.sh: reversing previous $p" >&2
		patch -d "$SRC" -p1 -R --batch < "$APPLIED/$p" >> "$log" 2>&1 || {
			echo "build.sh: cannot reverse $p; remove $SRC" >&2
			exit 1; }
		rm -f "$APPLIED/$p"
	done
fi
mkdir -p "$APPLIED"
n=0
for p in "$@"; do
	n=$((n + 1))
	echo "build.sh: applying $p" >&2
	patch -d "$SRC" -p1 --batch --forward < "$p" >> "$log" 2>&1 || {
		tail -5 "$log" >&2; exit 1; }
	cp "$p" "$APPLIED/$(printf '%03d' $n)-$(basename "$p")"
done

# Configuration: again only when the fragment changed, so that a patched
# build stays incremental
if [ "$(cat "$SRC/.kbench-fragment" 2>/dev/null)" != "$FRAG_ID" ]; then
	echo "build.sh: configuring (tinyconfig + config.fragment)" >&2
	{
		make -C "$SRC" tinyconfig
		# shellcheck disable=SC2086
		(cd "$SRC" && scripts/kconfig/merge_config.sh -m .config $FRAGS)
		make -C "$SRC" olddefconfig
	} >> "$log" 2>&1 || { tail -20 "$log" >&2; exit 1; }
	# shellcheck disable=SC2086
	cat $FRAGS > "$OUT/fragments"
	# Every line of the fragment must have survived: a missing
	# dependency would drop an option silently
	missing=
	while read -r line; do
		case "$line" in CONFIG_*=*) ;; *) continue ;; esac
		grep -qx "$line" "$SRC/.config" || missing="$missing $line"
	done < "$OUT/fragments"
	if [ -n "$missing" ]; then
		echo "build.sh: options dropped by Kconfig:$missing" >&2
		exit 1
	fi
	echo "$FRAG_ID" > "$SRC/.kbench-fragment"
fi

echo "build.sh: make -j$JOBS bzImage (log: $log)" >&2
make -C "$SRC" -j"$JOBS" bzImage >> "$log" 2>&1 || {
	tail -30 "$log" >&2; exit 1; }
cp "$SRC/arch/x86/boot/bzImage" "$OUT/bzImage.tmp"
cp "$SRC/.config" "$OUT/config"
mv "$OUT/bzImage.tmp" "$OUT/bzImage"
echo "build.sh: built in $(( $(date +%s) - start )) s" >&2
echo "$OUT/bzImage"
