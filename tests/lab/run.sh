#!/usr/bin/env bash
# Run the live-lab tests one after the other and summarize.
#
# usage: tests/lab/run.sh [--build DIR] [--kernel-bridge] [TEST...]
#   TEST            delivery bogus_reasons pipelining after_reject starttls
#                   lost_segment load detect server_reset policy evasion
#                   workers selfcheck
#                   (default: all)
#   --build DIR     take helogate from DIR/app/helogate (default: build;
#                   $HELOGATE wins if set)
#   --kernel-bridge the lab's self-check: only 'selfcheck' and 'delivery',
#                   through a Linux bridge instead of helogate. To see every
#                   test against the kernel bridge (helogate's checks then
#                   fail, as expected) use HG_BRIDGE=kernel tests/lab/run.sh.
# Logs: $HG_LAB_LOGDIR (default: a new temporary directory), one
# sub-directory per test. Exit status: 0 all passed, 1 some failed, 77 all
# skipped (not root).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)

all=(selfcheck delivery bogus_reasons pipelining after_reject starttls lost_segment load detect
	server_reset policy evasion workers)
build=$root/build
tests=()
while [ $# -gt 0 ]; do
	case "$1" in
	--build) build=$2; shift ;;
	--kernel-bridge) export HG_BRIDGE=kernel; tests=(selfcheck delivery) ;;
	-h | --help) sed -n '2,/^set -e/{/^set -e/d;p}' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	-*) echo "run.sh: unknown option $1" >&2; exit 2 ;;
	*) tests+=("$1") ;;
	esac
	shift
done
[ ${#tests[@]} -gt 0 ] || tests=("${all[@]}")
export HELOGATE=${HELOGATE:-$build/app/helogate}
export HG_LAB_SRC=$root
if [ -z "${HG_LAB_LOGDIR:-}" ]; then
	HG_LAB_LOGDIR=$(mktemp -d /tmp/hg-lab-logs.XXXXXX)
	chmod 755 "$HG_LAB_LOGDIR" # Postfix (as postfix) may write its log below
fi
export HG_LAB_LOGDIR
bridge=${HG_BRIDGE:-helogate}

if [ "$(id -u)" -ne 0 ]; then
	echo "SKIP: the lab needs root (network namespaces)"
	exit 77
fi
if [ "$bridge" = helogate ] && [ ! -x "$HELOGATE" ]; then
	echo "run.sh: no helogate at $HELOGATE (build it, --build DIR, or --kernel-bridge)" >&2
	exit 1
fi

# Tests whose checks need helogate (through the kernel bridge they fail).
needs_helogate() { case "$1" in selfcheck | delivery | server_reset) return 1 ;; *) return 0 ;; esac; }

declare -A result
start=$SECONDS
for name in "${tests[@]}"; do
	script=$here/test_$name.py
	[ -f "$script" ] || { echo "run.sh: no test '$name'" >&2; exit 2; }
	rc=0
	python3 "$script" || rc=$?
	case $rc in
	0) result[$name]=PASS ;;
	77) result[$name]=SKIP ;;
	*) result[$name]=FAIL ;;
	esac
	echo
done

echo "== lab summary (bridge: $bridge, $((SECONDS - start)) s, logs: $HG_LAB_LOGDIR)"
failed=0 passed=0
for name in "${tests[@]}"; do
	note=
	if [ "${result[$name]}" = FAIL ]; then
		failed=$((failed + 1))
		if [ "$bridge" != helogate ] && needs_helogate "$name"; then
			note="  (expected through the kernel bridge: checks helogate's own behaviour)"
		fi
	elif [ "${result[$name]}" = PASS ]; then
		passed=$((passed + 1))
	fi
	printf '%-4s %s%s\n' "${result[$name]}" "$name" "$note"
done
[ $failed -eq 0 ] || exit 1
[ $passed -gt 0 ] || exit 77
exit 0
