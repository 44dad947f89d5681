#!/usr/bin/env bash
# Throughput of smtp-mix against the number of concurrent sessions (and,
# where the machine has the cores, against the number of workers), with the
# null-pipeline baseline of each run; draws docs/scaling.png with gnuplot.
#
# usage: scripts/bench-scaling.sh [OUT_DIR]   (default docs/)
# Environment: CONCURRENT (default "1000 10000 100000 1000000 4000000"),
#   WORKERS (default "1"; e.g. "1 2 4 8 15" on a 16-core machine),
#   SECONDS_PER_RUN (default 3), MEM_MB (default 4096), PROFILE (smtp-mix).
# Bounded: one helogate-bench run per point, each a few seconds plus the
# time to open its idle sessions.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$root/docs}
bench=${HELOGATE_BENCH:-$root/build/bench/helogate-bench}
concurrent=${CONCURRENT:-"1000 10000 100000 1000000 4000000"}
workers=${WORKERS:-1}
secs=${SECONDS_PER_RUN:-3}
profile=${PROFILE:-smtp-mix}
[ -x "$bench" ] || { echo "bench-scaling: no $bench (build first)" >&2; exit 2; }
mkdir -p "$out"
json=$(mktemp)
trap 'rm -f "$json"' EXIT
for w in $workers; do
	for c in $concurrent; do
		echo "== $profile, $w worker(s), $c concurrent sessions" >&2
		"$bench" -l "0-$w" --no-huge --no-pci -m "${MEM_MB:-4096}" --no-shconf \
			--file-prefix "hg-scale-$$" --log-level error -- \
			--profile "$profile" --concurrent "$c" --seconds "$secs" --no-profile-pass \
			--json "$json" | grep -v '^JSON' >&2
	done
done
csv=$out/scaling.csv
python3 - "$json" "$csv" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
with open(sys.argv[2], "w") as f:
    f.write("workers,concurrent,mpps,mpps_per_worker,baseline_mpps,ratio,cycles_per_packet,verdicts_ok\n")
    for r in rows:
        f.write(f"{r['workers']},{r['concurrent']},{r['pps']/1e6:.3f},{r['pps_per_worker']/1e6:.3f},"
                f"{r['baseline_pps']/1e6:.3f},{r['ratio']:.3f},{r['cycles_per_packet']:.1f},"
                f"{str(r['verdicts_ok']).lower()}\n")
PY
cat "$csv"
if command -v gnuplot >/dev/null; then
	plots=""
	for w in $workers; do
		awk -F, -v w="$w" 'NR > 1 && $1 == w {print $2, $4, $5 / w}' "$csv" >"$json.$w"
		plots="$plots${plots:+, }'$json.$w' using 1:2 with linespoints lw 2 title 'helogate, $w worker(s), per worker'"
		plots="$plots, '$json.$w' using 1:3 with lines dt 2 lw 2 title 'null pipeline, $w worker(s), per worker'"
	done
	gnuplot <<GP
set terminal pngcairo size 900,520 font "DejaVu Sans,11"
set output "$out/scaling.png"
set key top right
set logscale x 10
set logscale y 10
set grid
set xlabel "concurrent sessions (flow-table entries)"
set ylabel "Mpps per worker core"
set title "$profile through helogate's worker vs a null pipeline, in memory"
plot $plots
GP
	rm -f "$json".*
	echo "bench-scaling: wrote $out/scaling.png" >&2
fi
