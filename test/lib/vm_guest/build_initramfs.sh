#!/bin/bash
#
# test/lib/vm_guest/build_initramfs.sh - build (or find cached) the busybox
# initramfs of the test guest
#
# Usage: bash build_initramfs.sh KERNEL_VERSION CACHE_DIR
#
# The image holds the static busybox with a link per applet, /init and the
# udhcpc event script from this directory, and the kernel modules a
# virtio-net card needs that the kernel does not have built in (with their
# dependencies from modules.dep, decompressed, listed in load order in
# /lib/modules/load.list). It is a gzip'd newc cpio, named by a hash of
# everything that goes into it, so a second run finds it in CACHE_DIR and
# builds nothing; building removes the images built before. Prints the
# image's path.
#
# BUSYBOX (default /bin/busybox) names the static busybox; MODULES_DIR
# (default /lib/modules/KERNEL_VERSION) the kernel's modules.

set -u

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
KVER=${1:?kernel version}
CACHE=${2:?cache directory}
BUSYBOX=${BUSYBOX:-/bin/busybox}
MODULES_DIR=${MODULES_DIR:-/lib/modules/$KVER}
WANT_MODULES="virtio_pci virtio_net"

# die() - Print an error and exit with failure
# $@:	Message
die() {
	echo "build_initramfs: $*" >&2
	exit 1
}

# module_path() - Print a module's path relative to MODULES_DIR, if it is
# a loadable module ("" if built in)
# $1:	Module name
module_path() {
	local name=$1; shift
	local alt=${name//_/-}

	grep -qE "/($name|$alt)\.ko\$" "$MODULES_DIR/modules.builtin" \
		2>/dev/null && return 0
	awk -F: -v a="$name" -v b="$alt" '{
		n = $1; sub(/.*\//, "", n); sub(/\.ko(\.[a-z]+)?$/, "", n)
		if (n == a || n == b) { print $1; exit }
	}' "$MODULES_DIR/modules.dep"
}

# module_deps() - Print the modules.dep dependencies of a module path
# $1:	Module path relative to MODULES_DIR
module_deps() {
	local path=$1; shift

	awk -F': *' -v p="$path" '$1 == p { print $2 }' \
		"$MODULES_DIR/modules.dep" | tr ' ' '\n' | sed '/^$/d'
}

LOAD_ORDER=()
# add_module() - Append a module and, before it, its dependencies to
# LOAD_ORDER (depth first, each once)
# $1:	Module path relative to MODULES_DIR
add_module() {
	local path=$1; shift
	local dep p

	for p in "${LOAD_ORDER[@]}"; do
		[ "$p" = "$path" ] && return 0
	done
	for dep in $(module_deps "$path"); do
		add_module "$dep"
	done
	LOAD_ORDER+=("$path")
}

# copy_module() - Copy a module into the image, decompressed
# $1:	Module path relative to MODULES_DIR
# $2:	Image root
#
# Prints the file name it got in /lib/modules
copy_module() {
	local path=$1; shift
	local root=$1; shift
	local src=$MODULES_DIR/$path
	local base

	base=$(basename "$path")
	base=${base%.xz}; base=${base%.zst}; base=${base%.gz}
	case "$path" in
	*.xz)	xz -dc "$src" ;;
	*.zst)	zstd -qdc "$src" ;;
	*.gz)	gzip -dc "$src" ;;
	*)	cat "$src" ;;
	esac >"$root/lib/modules/$base" || return 1
	echo "$base"
}

[ -x "$BUSYBOX" ] || die "no busybox at $BUSYBOX"
# The image has no C library: a dynamically linked busybox cannot run
if ldd "$BUSYBOX" >/dev/null 2>&1; then
	die "$BUSYBOX is linked dynamically (install busybox-static)"
fi
[ -f "$MODULES_DIR/modules.dep" ] || die "no $MODULES_DIR/modules.dep"
command -v cpio >/dev/null || die "no cpio"

for m in $WANT_MODULES; do
	p=$(module_path "$m")
	[ -n "$p" ] && add_module "$p"
done

key=$( {
	echo "$KVER"
	sha256sum "$BUSYBOX" "$HERE/init" "$HERE/udhcpc.sh" \
		"${BASH_SOURCE[0]}" | cut -d' ' -f1
	for p in "${LOAD_ORDER[@]}"; do
		echo "$p"
		sha256sum <"$MODULES_DIR/$p"
	done
} | sha256sum | cut -c1-16)
IMAGE=$CACHE/initramfs-$KVER-$key.cpio.gz
if [ -s "$IMAGE" ]; then
	echo "$IMAGE"
	exit 0
fi

mkdir -p "$CACHE" || die "cannot create $CACHE"
ROOT=$(mktemp -d "$CACHE/build.XXXXXX") || die "no temporary directory"
trap 'rm -rf "$ROOT"' EXIT

if ! mkdir -p "$ROOT"/{bin,dev,etc,lib/modules,proc,sys,tmp,srv} ||
   ! cp "$BUSYBOX" "$ROOT/bin/busybox" ||
   ! cp "$HERE/init" "$ROOT/init" ||
   ! cp "$HERE/udhcpc.sh" "$ROOT/etc/udhcpc.sh" ||
   ! chmod 755 "$ROOT/init" "$ROOT/etc/udhcpc.sh" "$ROOT/bin/busybox"; then
	die "cannot populate $ROOT"
fi
for applet in $("$BUSYBOX" --list); do
	[ "$applet" = busybox ] && continue
	ln -s busybox "$ROOT/bin/$applet"
done
: >"$ROOT/lib/modules/load.list"
for p in "${LOAD_ORDER[@]}"; do
	copy_module "$p" "$ROOT" >>"$ROOT/lib/modules/load.list" ||
		die "cannot copy module $p"
done

( cd "$ROOT" && find . -mindepth 1 | LC_ALL=C sort |
	cpio --quiet -o -H newc -R 0:0 | gzip -6 ) >"$ROOT.img" ||
	die "cpio failed"
mv "$ROOT.img" "$IMAGE" || die "cannot write $IMAGE"
# Images of an older init or busybox are of no more use
for old in "$CACHE"/initramfs-*.cpio.gz; do
	[ "$old" = "$IMAGE" ] || rm -f "$old"
done
echo "$IMAGE"
