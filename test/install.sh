#!/bin/bash
#
# test/install.sh - `make install` and `make uninstall` into a temporary
# DESTDIR: the programs, the links that select a mode, the man pages, and
# nothing left behind by uninstall
#   - every installed program runs (--version) from where it was put;
#   - the links are relative to the installed passtd (a DESTDIR install
#     must not point back into the build tree);
#   - uninstall removes exactly what install added.

# shellcheck source=test/lib/ktap.sh
. "$(dirname "$0")/lib/ktap.sh"

REPO=$(realpath "$(dirname "$0")/..")
command -v make >/dev/null || ktap_skip_all "no make"
[ -x "$REPO/passtd" ] || ktap_skip_all "no $REPO/passtd (make)"

DEST=$(mktemp -d "${TMPDIR:-/tmp}/passtd-install.XXXXXX") || exit 1
trap 'rm -rf "$DEST"' EXIT
PREFIX=/opt/passtd-test

ktap_plan 6

out=$(make -s -C "$REPO" install DESTDIR="$DEST" PREFIX="$PREFIX" 2>&1)
ktap_result "make install DESTDIR PREFIX: status 0" $? "$out"

bin=$DEST$PREFIX/bin
man=$DEST$PREFIX/share/man/man1
missing=''
for f in "$bin/passtd" "$bin/pasta" "$bin/passt" "$man/passtd.1"; do
	[ -e "$f" ] || missing="$missing $f"
done
for f in "$REPO"/doc/*.1; do
	[ -e "$man/$(basename "$f")" ] || missing="$missing $man/$(basename "$f")"
done
ktap_result "programs, links and every man page in place" \
	$(( ${#missing} != 0 )) "missing:$missing" "$(find "$DEST" | sort)"

bad=''
for l in "$bin"/*; do
	[ -L "$l" ] || continue
	case "$(readlink "$l")" in
	/*|*/*) bad="$bad $l -> $(readlink "$l")" ;;
	esac
done
ktap_result "links point to the installed passtd, relatively" \
	$(( ${#bad} != 0 )) "$bad"

failed=''
for f in "$bin"/*; do
	"$f" --version >/dev/null 2>&1 || failed="$failed $(basename "$f")"
done
ktap_result "every installed program answers --version" \
	$(( ${#failed} != 0 )) "failed:$failed"

ver=$("$bin/passt" --version 2>&1 | head -n 1)
want=$("$bin/passtd" --version 2>&1 | head -n 1)
ktap_result "the passt link runs the installed passtd ($ver)" \
	"$([ "${ver#passt }" = "${want#passtd }" ] && [ "$ver" != "$want" ]
	   echo $?)" "passt: $ver" "passtd: $want"

out=$(make -s -C "$REPO" uninstall DESTDIR="$DEST" PREFIX="$PREFIX" 2>&1)
left=$(find "$DEST" -type f -o -type l)
ktap_result "make uninstall removes every file and link it installed" \
	$(( ${#left} != 0 )) "$out" "left: $left"

ktap_finish
