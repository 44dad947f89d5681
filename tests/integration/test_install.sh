#!/usr/bin/env bash
# `meson install --destdir` into a temporary directory, as a package build
# would: the exact file list (binaries, helogate-replay, the service, the
# configuration and its .example, the logrotate rule, the man pages); the
# installed helogate.ini names every option, starts in detect mode and
# passes --check-config; a second install keeps an edited helogate.ini; the
# man page lists every option of --help.
#
# Usage: test_install.sh SOURCE_ROOT BUILD_ROOT
set -u
src=$1
build=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0
fail() {
	echo "FAIL: $*" >&2
	failures=$((failures + 1))
}

option() { meson introspect --buildoptions "$build" |
	python3 -c "import json,sys; print(next(o['value'] for o in json.load(sys.stdin) if o['name']=='$1'))"; }
prefix=$(option prefix)
bindir=$(option bindir)
sysconfdir=$(option sysconfdir)
mandir=$(option mandir)
unitdir=$(option systemdunitdir)
abs() { case $1 in /*) echo "$1" ;; *) echo "$prefix/$1" ;; esac; }
bin=$(abs "$bindir")
etc=$(abs "$sysconfdir")
man=$(abs "$mandir")
[ -n "$unitdir" ] || unitdir=$prefix/lib/systemd/system
root=$tmp/root

if ! meson install -C "$build" --no-rebuild --quiet --destdir "$root" >"$tmp/install.log" 2>&1; then
	cat "$tmp/install.log" >&2
	echo "FAIL: meson install" >&2
	exit 1
fi

expected=(
	"$bin/helogate" "$bin/helogate-check" "$bin/helogate-synth" "$bin/helogate-replay"
	"$etc/helogate/helogate.ini" "$etc/helogate/helogate.ini.example"
	"$etc/helogate/helogate.env" "$etc/helogate/helogate.env.example"
	"$etc/logrotate.d/helogate" "$unitdir/helogate.service"
)
if command -v scdoc >/dev/null; then
	expected+=("$man/man8/helogate.8" "$man/man1/helogate-check.1"
		"$man/man1/helogate-replay.1" "$man/man1/helogate-synth.1")
else
	echo "scdoc not installed: man pages not checked"
fi
(cd "$root" && find . -type f -o -type l | sed 's|^\.||' | sort) >"$tmp/got"
printf '%s\n' "${expected[@]}" | sort >"$tmp/want"
if ! diff -u "$tmp/want" "$tmp/got" >"$tmp/diff"; then
	fail "installed files differ from the expected list (- missing, + unexpected):"
	grep '^[-+]/' "$tmp/diff" >&2
fi
for b in helogate helogate-check helogate-synth helogate-replay; do
	[ -x "$root$bin/$b" ] || fail "$bin/$b is not executable"
done

ini=$root$etc/helogate/helogate.ini
grep -qx 'mode = detect' "$ini" || fail "helogate.ini does not start in detect mode"
# Every option that takes a value is in the file (commented or not).
for key in $("$build/app/helogate" --help | sed -n 's/^  *--\([a-z-]*\) [A-Za-z].*/\1/p'); do
	case $key in config | check-config | help | version) continue ;; esac
	grep -Eq "^#?$key = " "$ini" || fail "helogate.ini does not mention '$key'"
done
# As installed it is valid (the events file pointed at a writable place).
if ! out=$("$build/app/helogate" --check-config --config "$ini" --events "$tmp/events.jsonl" 2>&1); then
	fail "the installed helogate.ini fails --check-config: $out"
fi
# A second install (an upgrade) keeps the operator's file.
echo '# edited by the operator' >>"$ini"
meson install -C "$build" --no-rebuild --destdir "$root" >"$tmp/install2.log" 2>&1 ||
	fail "second meson install: $(cat "$tmp/install2.log")"
tail -1 "$ini" | grep -q 'edited by the operator' || fail "a second install overwrote helogate.ini"
cmp -s "$root$etc/helogate/helogate.ini.example" "$src/dist/helogate.ini" ||
	fail "helogate.ini.example is not dist/helogate.ini"

# helogate(8) documents every option of --help.
for opt in $("$build/app/helogate" --help | grep -o -- '--[a-z][a-z-]*' | sort -u); do
	grep -q -- "\*$opt\*" "$src/docs/man/helogate.8.scd" || fail "helogate(8) lacks $opt"
done

# The installed helogate-replay runs (python3) and says how to use it.
env -u HELOGATE "$root$bin/helogate-replay" --help >"$tmp/replay.out" 2>&1 ||
	fail "the installed helogate-replay --help: $(cat "$tmp/replay.out")"
grep -q 'usage: helogate-replay' "$tmp/replay.out" || fail "helogate-replay --help prints no usage"

[ "$failures" -eq 0 ] || exit 1
echo "install: ${#expected[@]} files installed as expected"
