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
# the medians, then (unless --no-profile-pass) the median cycles/packet of
# each packet class for both sides; raw JSON lines go to $AB_OUT (default
# /tmp/bench-ab.jsonl). AB_REPORT=FILE only prints the tables of FILE.
set -euo pipefail
[ -n "${AB_REPORT:-}" ] || [ $# -ge 2 ] || { sed -n '4,16p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
if [ -z "${AB_REPORT:-}" ]; then
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

else
	out=$AB_REPORT
fi

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
# Per class (from the profiled pass; absent with --no-profile-pass or an
# older bench): the median over rounds of each class's cycles/packet.
classed = [r for r in rows if r.get("classes")]
if classed:
    print()
    print(f"{'profile':14} {'class':15} {'share':>6} {'A cyc/pkt':>10} {'B cyc/pkt':>10}  change   (median over rounds, profiled pass)")
    for p in dict.fromkeys(r["round_profile"] for r in classed):
        ps = [r for r in classed if r["round_profile"] == p]
        sides = {s: [r for r in ps if r["side"] == s] for s in "AB"}
        if not sides["A"] or not sides["B"]:
            continue
        for cls in ps[0]["classes"]:
            share = statistics.median(r["classes"][cls]["share"] for r in sides["B"])
            if share == 0:
                continue
            a = statistics.median(r["classes"][cls]["cycles_per_packet"] for r in sides["A"])
            b = statistics.median(r["classes"][cls]["cycles_per_packet"] for r in sides["B"])
            change = f"{100 * (b - a) / a:+.1f}%" if a else ""
            print(f"{p:14} {cls:15} {100 * share:5.1f}% {a:10.0f} {b:10.0f}  {change}")
        na = statistics.median(r["baseline_cycles_per_packet"] for r in sides["A"])
        nb = statistics.median(r["baseline_cycles_per_packet"] for r in sides["B"])
        print(f"{p:14} {'null pipeline':15} {'':>6} {na:10.0f} {nb:10.0f}")
PY
