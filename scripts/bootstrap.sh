#!/usr/bin/env bash
# Install what helogate needs from Debian 12's own archive, and nothing else.
# Idempotent and non-interactive: packages already present are skipped, and
# 'apt-get update' runs only when something is missing. Says on stderr what
# it found and what it does; exits 0 when everything is installed, 1 (with
# the reason) when it could not install, 2 on a bad argument.
#
# Usage: scripts/bootstrap.sh [build|test|lab|bench]...   (default: build)
# Environment: HG_POLICY_RC_D (default /usr/sbin/policy-rc.d): the file that
# keeps package scripts from starting daemons while installing (tests point
# it elsewhere).
set -euo pipefail

build_pkgs=(gcc clang libclang-rt-14-dev meson ninja-build pkg-config python3
            libdpdk-dev libhyperscan-dev libcmocka-dev libpsl-dev publicsuffix libpcap-dev
            libsystemd-dev scdoc)
# systemd: systemd-analyze verify on helogate.service; man-db: the unit's
# Documentation= check; dpdk-dev: dpdk-telemetry.py and dpdk-dumpcap.
test_pkgs=(iproute2 ethtool tcpdump logrotate systemd man-db dpdk-dev clang-format)
lab_pkgs=(postfix swaks iproute2 ethtool procps psmisc python3 nftables openssl libnet-ssleay-perl)
bench_pkgs=(gnuplot-nox postfix)

say() { echo "bootstrap: $*" >&2; }

want=()
[ $# -eq 0 ] && set -- build
for set_name in "$@"; do
	case "$set_name" in
	build) want+=("${build_pkgs[@]}") ;;
	test) want+=("${build_pkgs[@]}" "${test_pkgs[@]}") ;;
	lab) want+=("${lab_pkgs[@]}") ;;
	bench) want+=("${bench_pkgs[@]}") ;;
	*) say "unknown package set '$set_name' (build|test|lab|bench)"; exit 2 ;;
	esac
done

missing=()
declare -A seen=()
for p in "${want[@]}"; do
	[ -n "${seen[$p]:-}" ] && continue
	seen[$p]=1
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		missing+=("$p")
	fi
done
if [ ${#missing[@]} -eq 0 ]; then
	say "all ${#seen[@]} packages for '$*' are installed"
	exit 0
fi

sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then
	command -v sudo >/dev/null || { say "need root (or sudo) to install: ${missing[*]}"; exit 1; }
	sudo_cmd=(sudo)
fi

say "installing ${#missing[@]} missing package(s) for '$*': ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# Postfix asks a debconf question; the lab configures its own instances, so
# the system one gets 'No configuration' and is never started.
echo "postfix postfix/main_mailer_type select No configuration" |
	"${sudo_cmd[@]}" debconf-set-selections 2>/dev/null || true
# Keep package scripts from starting daemons (no init system in containers).
# An existing policy is left as it is; one created here is removed on exit.
policy=${HG_POLICY_RC_D:-/usr/sbin/policy-rc.d}
created_policy=0
log=$(mktemp)
cleanup() {
	rm -f "$log"
	if [ $created_policy -eq 1 ]; then
		"${sudo_cmd[@]}" rm -f "$policy"
		say "removed the temporary $policy"
	fi
	return 0
}
trap cleanup EXIT
if [ -e "$policy" ]; then
	say "keeping the existing $policy"
else
	printf '#!/bin/sh\nexit 101\n' | "${sudo_cmd[@]}" tee "$policy" >/dev/null
	"${sudo_cmd[@]}" chmod 755 "$policy"
	created_policy=1
	say "created $policy (no service starts while installing)"
fi
if ! "${sudo_cmd[@]}" apt-get update -qq >"$log" 2>&1; then
	tail -20 "$log" >&2
	say "apt-get update failed (see above)"
	exit 1
fi
if ! "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >"$log" 2>&1; then
	tail -20 "$log" >&2
	say "apt-get install failed (see above)"
	exit 1
fi
say "installed ${missing[*]}"
