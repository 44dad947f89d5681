#!/usr/bin/env bash
# scripts/bootstrap.sh against stub dpkg-query, apt-get, debconf-set-selections
# and sudo on PATH: its exit status, what it says, which packages it asks
# apt-get for, and what it does with policy-rc.d (HG_POLICY_RC_D points it
# into a temporary directory).
#
# Usage: test_bootstrap.sh SOURCE_ROOT
set -u

bootstrap=$1/scripts/bootstrap.sh
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0

fail() {
	echo "FAIL: $*" >&2
	failures=$((failures + 1))
}

mkdir "$tmp/bin"
# dpkg-query -W -f=FMT PKG: installed when PKG is a line of $STUB_INSTALLED.
cat >"$tmp/bin/dpkg-query" <<'STUB'
#!/bin/sh
for last; do :; done
if grep -qx -- "$last" "$STUB_INSTALLED" 2>/dev/null; then
	printf 'install ok installed'
	exit 0
fi
echo "dpkg-query: no packages found matching $last" >&2
exit 1
STUB
# apt-get: logs each call; 'install' records whether the policy file was in
# place, and fails (with a message) when $STUB_APT_FAIL is set.
cat >"$tmp/bin/apt-get" <<'STUB'
#!/bin/sh
echo "apt-get $*" >>"$STUB_LOG"
case " $* " in
*" install "*)
	if [ -x "$HG_POLICY_RC_D" ]; then echo "policy present" >>"$STUB_LOG"; fi
	if [ -n "${STUB_APT_FAIL:-}" ]; then
		echo "E: Unable to locate package $(for a; do :; done; echo "$a")" >&2
		exit 100
	fi ;;
esac
exit 0
STUB
printf '#!/bin/sh\ncat >/dev/null\n' >"$tmp/bin/debconf-set-selections"
printf '#!/bin/sh\nexec "$@"\n' >"$tmp/bin/sudo"
chmod +x "$tmp/bin/"*

# run NAME [bootstrap args...]: run it in a clean state; sets rc, out (stderr+stdout).
run() {
	local name=$1
	shift
	rm -f "$tmp/log"
	: >"$tmp/log"
	PATH="$tmp/bin:$PATH" STUB_LOG="$tmp/log" STUB_INSTALLED="$tmp/installed" \
		HG_POLICY_RC_D="$tmp/policy-rc.d" bash "$bootstrap" "$@" >"$tmp/$name.out" 2>&1
	rc=$?
	out=$(cat "$tmp/$name.out")
}

expect() { # expect NAME WHAT PATTERN: the output has a line matching PATTERN
	grep -q -- "$3" <<<"$out" || fail "$1: no '$2' in the output: $out"
}

# Every package of the build and test sets, read from the script itself.
all_pkgs() {
	bash -c "source <(sed -n '/^build_pkgs=/,/^bench_pkgs=/p' '$bootstrap');"' printf "%s\n" "${build_pkgs[@]}" "${test_pkgs[@]}" "${lab_pkgs[@]}" "${bench_pkgs[@]}"' | sort -u
}
all_pkgs >"$tmp/all"
[ "$(wc -l <"$tmp/all")" -gt 10 ] || fail "could not read the package lists from bootstrap.sh"

# 1. Nothing missing: exit 0, says so, never calls apt-get.
cp "$tmp/all" "$tmp/installed"
run nothing test lab
[ "$rc" -eq 0 ] || fail "nothing missing: exit status $rc: $out"
expect "nothing missing" "all installed" "bootstrap: all [0-9]* packages for 'test lab' are installed"
[ -s "$tmp/log" ] && fail "nothing missing: apt-get was called: $(cat "$tmp/log")"

# 2. Two missing, no policy-rc.d: installs exactly those, with a policy in
#    place during the install and gone afterwards.
grep -vx -e meson -e libpsl-dev "$tmp/all" >"$tmp/installed"
run missing build
[ "$rc" -eq 0 ] || fail "missing: exit status $rc: $out"
expect missing "installing" "installing 2 missing package(s) for 'build': meson libpsl-dev"
expect missing "created" "created $tmp/policy-rc.d"
expect missing "removed" "removed the temporary $tmp/policy-rc.d"
expect missing "installed" "bootstrap: installed meson libpsl-dev"
grep -q '^apt-get update' "$tmp/log" || fail "missing: no apt-get update"
grep -q '^apt-get install .* meson libpsl-dev$' "$tmp/log" || fail "missing: wrong install: $(cat "$tmp/log")"
grep -q '^policy present' "$tmp/log" || fail "missing: policy-rc.d absent during the install"
[ -e "$tmp/policy-rc.d" ] && fail "missing: the created policy-rc.d was left behind"

# 3. The same with an existing policy-rc.d (the case that failed on first
#    runs): exit 0, the file kept as it was.
printf '#!/bin/sh\n# site policy\nexit 101\n' >"$tmp/policy-rc.d"
chmod 755 "$tmp/policy-rc.d"
cp "$tmp/policy-rc.d" "$tmp/policy.orig"
run existing build
[ "$rc" -eq 0 ] || fail "existing policy: exit status $rc: $out"
expect "existing policy" "keeping" "keeping the existing $tmp/policy-rc.d"
grep -q "removed" <<<"$out" && fail "existing policy: says it removed something: $out"
cmp -s "$tmp/policy-rc.d" "$tmp/policy.orig" || fail "existing policy: the file changed or vanished"
grep -q '^policy present' "$tmp/log" || fail "existing policy: no policy during the install"
rm -f "$tmp/policy-rc.d"

# 4. A failing install: exit 1, apt-get's message and the reason shown, the
#    created policy-rc.d removed.
STUB_APT_FAIL=1 run failing build
[ "$rc" -eq 1 ] || fail "failing install: exit status $rc (want 1): $out"
expect "failing install" "apt's error" "E: Unable to locate package libpsl-dev"
expect "failing install" "reason" "bootstrap: apt-get install failed"
[ -e "$tmp/policy-rc.d" ] && fail "failing install: the created policy-rc.d was left behind"

# 5. An unknown package set: exit 2 before anything else.
run unknown bogus
[ "$rc" -eq 2 ] || fail "unknown set: exit status $rc (want 2)"
expect "unknown set" "message" "unknown package set 'bogus'"
[ -s "$tmp/log" ] && fail "unknown set: apt-get was called"

[ "$failures" -eq 0 ] || exit 1
echo "bootstrap: all cases passed"
