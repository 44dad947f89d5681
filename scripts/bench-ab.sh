#!/usr/bin/env bash
# A/B rounds of helogate-bench: two builds, alternated within one run, so
# that this VM's drift (its speed swings between runs) hits both alike.
#
# usage: scripts/bench-ab.sh A_BENCH B_BENCH [ROUNDS] [-- BENCH OPTIONS]
#   A_BENCH, B_BENCH  paths of two helogate-bench binaries (e.g. a worktree
#                     of the old commit built with the same meson options)
#   ROUNDS            rounds per profile (default 3); each runs A then B,
#                     or B then A on odd rounds
# Profiles: $AB_PROFILES (default "smtp-mix smtp-commands bogus-flood
# non-smtp enforce"); a name A does not know is mapped by $AB_A_NAMES
# (e.g. "enforce=bogus-flood" for a build that ran bogus-flood in enforce
# mode). Prints cycles/packet min/median/max for each side and the change of
# the medians; raw JSON lines go to $AB_OUT (default /tmp/bench-ab.jsonl).
set -euo pipefail
[ $# -ge 2 ] || { sed -n '4,15p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
a=$1 b=$2
rounds=${3:-3}
shift 2
[ $# -gt 0 ] && [ "$1" != "--" ] && shift
[ "${1:-}" = "--" ] && shift
extra=("$@")
[ ${#extra[@]} -gt 0 ] || extra=(--concurrent 1000000 --seconds 1 --no-profile-pass)
profiles=${AB_PROFILES:-"smtp-mix smtp-commands bogus-flood non-smtp enforce"}
out=${AB_OUT:-/tmp/bench-ab.jsonl}
: >"$out"

name_for_a() {
	local p=$1 m
	for m in ${AB_A_NAMES:-}; do
		[ "${m%%=*}" = "$p" ] && { echo "${m#*=}"; return; }
	done
	echo "$p"
}

run_one() { # side binary profile
	local side=$1 bin=$2 profile=$3 line
	line=$("$bin" -l 0,1 --no-huge --no-pci -m 3072 --no-shconf --file-prefix "hg-ab-$$" \
		--log-level error -- --profile "$profile" "${extra[@]}" 2>/dev/null | sed -n 's/^JSON //p')
	[ -n "$line" ] || { echo "bench-ab: $bin --profile $profile printed no result" >&2; exit 1; }
	printf '{"side":"%s","round_profile":"%s",%s\n' "$side" "$4" "${line#\{}" >>"$out"
}

for p in $profiles; do
	for r in $(seq 1 "$rounds"); do
		if [ $((r % 2)) -eq 1 ]; then
			run_one A "$a" "$(name_for_a "$p")" "$p"
			run_one B "$b" "$p" "$p"
		else
			run_one B "$b" "$p" "$p"
			run_one A "$a" "$(name_for_a "$p")" "$p"
		fi
	done
done

python3 - "$out" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
print(f"{'profile':14} {'side':4} {'cyc/pkt min':>11} {'median':>8} {'max':>8} {'Mpps med':>9}  change")
for p in dict.fromkeys(r["round_profile"] for r in rows):
    med = {}
    for side in "AB":
        c = sorted(r["cycles_per_packet"] for r in rows if r["round_profile"] == p and r["side"] == side)
        m = sorted(r["pps"] for r in rows if r["round_profile"] == p and r["side"] == side)
        med[side] = statistics.median(c)
        change = "" if side == "A" else f"{100 * (med['B'] - med['A']) / med['A']:+.1f}%"
        print(f"{p:14} {side:4} {c[0]:11.0f} {med[side]:8.0f} {c[-1]:8.0f} {statistics.median(m) / 1e6:9.2f}  {change}")
PY
