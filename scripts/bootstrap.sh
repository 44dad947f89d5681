#!/usr/bin/env bash
# Install what helogate needs from Debian 12's own archive, and nothing else.
# Idempotent and non-interactive: packages already present are skipped, and
# 'apt-get update' runs only when something is missing.
#
# Usage: scripts/bootstrap.sh [build|test|lab|bench]...   (default: build)
set -euo pipefail

build_pkgs=(gcc clang libclang-rt-14-dev meson ninja-build pkg-config python3
            libdpdk-dev libhyperscan-dev libcmocka-dev libpsl-dev publicsuffix libpcap-dev)
test_pkgs=(iproute2 ethtool tcpdump)
lab_pkgs=(postfix swaks iproute2 ethtool procps psmisc python3 nftables openssl libnet-ssleay-perl)
bench_pkgs=(gnuplot-nox postfix)

want=()
[ $# -eq 0 ] && set -- build
for set_name in "$@"; do
	case "$set_name" in
	build) want+=("${build_pkgs[@]}") ;;
	test) want+=("${build_pkgs[@]}" "${test_pkgs[@]}") ;;
	lab) want+=("${lab_pkgs[@]}") ;;
	bench) want+=("${bench_pkgs[@]}") ;;
	*) echo "bootstrap: unknown package set '$set_name' (build|test|lab|bench)" >&2; exit 2 ;;
	esac
done

missing=()
for p in "${want[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		missing+=("$p")
	fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then
	command -v sudo >/dev/null || { echo "bootstrap: need root (or sudo) to install: ${missing[*]}" >&2; exit 1; }
	sudo_cmd=(sudo)
fi

echo "bootstrap: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
# Postfix asks a debconf question; the lab configures its own instances, so
# the system one gets 'No configuration' and is never started.
echo "postfix postfix/main_mailer_type select No configuration" | "${sudo_cmd[@]}" debconf-set-selections 2>/dev/null || true
# Keep package scripts from starting daemons (no init system in containers).
policy=/usr/sbin/policy-rc.d
created_policy=0
if [ ! -e "$policy" ]; then
	printf '#!/bin/sh\nexit 101\n' | "${sudo_cmd[@]}" tee "$policy" >/dev/null
	"${sudo_cmd[@]}" chmod 755 "$policy"
	created_policy=1
fi
cleanup() {
	if [ $created_policy -eq 1 ]; then "${sudo_cmd[@]}" rm -f "$policy"; fi
}
trap cleanup EXIT
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
