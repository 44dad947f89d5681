#!/usr/bin/env bash
# Draw the scaling curve from bench-scaling.sh's CSV: Mpps per worker core
# against concurrent sessions, helogate and the null pipeline, one pair of
# lines per worker count. A small PNG (gnuplot-nox, pngcairo).
#
# usage: scripts/bench-plot.sh [CSV] [PNG]   (default docs/scaling.csv docs/scaling.png)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
csv=${1:-$root/docs/scaling.csv}
png=${2:-$root/docs/scaling.png}
command -v gnuplot >/dev/null || { echo "bench-plot: gnuplot missing (scripts/bootstrap.sh bench)" >&2; exit 2; }
[ -s "$csv" ] || { echo "bench-plot: no $csv" >&2; exit 2; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
profile=$(awk -F, 'NR == 2 {print $1}' "$csv")
plots=""
for w in $(awk -F, 'NR > 1 {print $2}' "$csv" | sort -n | uniq); do
	# concurrent, helogate Mpps/worker, null Mpps/worker, cycles/packet
	awk -F, -v w="$w" 'NR > 1 && $2 == w {print $3, $5, $7, $6}' "$csv" | sort -n >"$tmp/w$w"
	plots="$plots${plots:+, }'$tmp/w$w' using 1:2 with linespoints lw 2 pt 7 title 'helogate, $w worker(s)'"
	plots="$plots, '' using 1:2:(sprintf('%d cyc', \$4)) with labels offset 0,1 font ',9' notitle"
	plots="$plots, '' using 1:3 with linespoints dt 2 lw 2 pt 6 title 'null pipeline (macswap), $w worker(s)'"
done
gnuplot <<GP
set terminal pngcairo size 800,480 font "DejaVu Sans,10"
set output "$png"
set key top right
set logscale x 10
set logscale y 2
set yrange [0.5:128]
set format x "%.0s%c"
set grid
set xlabel "concurrent sessions (all active, every packet a different session)"
set ylabel "Mpps per worker core"
set title "$profile in memory: helogate's worker against a null pipeline (labels: helogate cycles/packet)"
plot $plots
GP
echo "bench-plot: wrote $png ($(stat -c %s "$png") bytes)" >&2
