#!/usr/bin/env bash
# Throughput of a profile (smtp-mix) against the number of concurrent
# sessions and, where the machine has the cores, against the number of
# workers; each point with its null-pipeline baseline. Writes OUT_DIR/scaling.csv
# and OUT_DIR/scaling.jsonl, then draws OUT_DIR/scaling.png (scripts/bench-plot.sh).
#
# usage: scripts/bench-scaling.sh [OUT_DIR]   (default docs/)
# Environment:
#   CONCURRENT   sessions open at once (default "1000 10000 100000 1000000 4000000")
#   WORKERS      worker counts (default "1"; e.g. "1 2 4 8 15" on a 16-core machine:
#                lcores 0..W, the main lcore 0 drains events)
#   SECONDS_PER_RUN  timed seconds per pass (default 3)
#   PROFILE      synthesized profile (default smtp-mix)
#   MEM_MB       EAL memory (default 2048: mbufs only; flow tables are outside it)
#   HELOGATE_BENCH   the binary (default build/bench/helogate-bench)
# Bounded: every run is under `timeout` (TIMEOUT_S, default 900 s); opening 4M
# sessions takes about a minute per profile on one core of the reference VM.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$root/docs}
bench=${HELOGATE_BENCH:-$root/build/bench/helogate-bench}
concurrent=${CONCURRENT:-"1000 10000 100000 1000000 4000000"}
workers=${WORKERS:-1}
secs=${SECONDS_PER_RUN:-3}
profile=${PROFILE:-smtp-mix}
[ -x "$bench" ] || { echo "bench-scaling: no $bench (build first: ninja -C build)" >&2; exit 2; }
mkdir -p "$out"
jsonl=$out/scaling.jsonl
: >"$jsonl"
failed=0
for w in $workers; do
	for c in $concurrent; do
		echo "== $profile, $w worker(s), $c concurrent sessions" >&2
		timeout -k 10 "${TIMEOUT_S:-900}" "$bench" -l "0-$w" --no-huge --no-pci \
			-m "${MEM_MB:-2048}" --no-shconf --file-prefix "hg-scale-$$" --log-level error -- \
			--profile "$profile" --concurrent "$c" --seconds "$secs" --no-profile-pass \
			--json "$jsonl" | grep -v '^JSON' >&2 || failed=1
	done
done
csv=$out/scaling.csv
python3 - "$jsonl" "$csv" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
with open(sys.argv[2], "w") as f:
    f.write("profile,workers,concurrent,mpps,mpps_per_worker,cycles_per_packet,"
            "baseline_mpps_per_worker,baseline_cycles_per_packet,ratio,"
            "judged_per_s_per_worker,verdicts_ok\n")
    for r in rows:
        w = r["workers"]
        f.write(f"{r['profile']},{w},{r['concurrent']},{r['pps']/1e6:.3f},"
                f"{r['pps_per_worker']/1e6:.3f},{r['cycles_per_packet']:.0f},"
                f"{r['baseline_pps']/w/1e6:.3f},{r['baseline_cycles_per_packet']:.0f},"
                f"{r['ratio']:.3f},{r['judged_per_s_per_worker']:.0f},"
                f"{str(r['verdicts_ok']).lower()}\n")
PY
cat "$csv"
"$root/scripts/bench-plot.sh" "$csv" "$out/scaling.png" || echo "bench-scaling: no plot (gnuplot missing?)" >&2
exit $failed
