#!/usr/bin/env bash
# Live-path numbers: the real helogate binary with its ports, for a fixed
# time, stopped by SIGINT (`timeout -s INT`), its counters read from
# --stats - (JSON at exit) and from --stats-interval 1 (one line a second,
# timestamped here, for the steady-state rate without start-up):
#   1. net_pcap, infinite_rx=1, replaying a synthesized smtp-mix capture
#      (written to /dev/null), detect mode, single-port lab layout;
#   2. the same with --verify-checksums (net_pcap marks no checksum good);
#   3. two net_null ports, inline layout (64-byte zero frames: the fast path,
#      the ceiling of the application's port handling).
# One worker lcore (-l 0,1), as helogate-bench's reference runs.
#
# usage: scripts/bench-live.sh [SECONDS]   (default 8; bounded, stops by itself)
# Environment: HELOGATE, HELOGATE_SYNTH (defaults under build/), SESSIONS (300).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
secs=${1:-8}
bin=${HELOGATE:-$root/build/app/helogate}
synth=${HELOGATE_SYNTH:-$root/build/app/helogate-synth}
[ -x "$bin" ] && [ -x "$synth" ] || { echo "bench-live: build first (ninja -C build)" >&2; exit 2; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$synth" -o "$work/mix.pcap" --profile smtp-mix --sessions "${SESSIONS:-300}" --seed 1 \
	--body-max 16384 >/dev/null 2>&1
frames=$(python3 -c "import os,sys; print(os.path.getsize(sys.argv[1]))" "$work/mix.pcap")

run() {
	local name=$1
	shift
	timeout -k 5 -s INT "$secs" "$bin" -l 0,1 --no-huge --no-pci -m 1024 --no-shconf \
		--file-prefix "hg-live-$$" --log-level error "$@" --stats - --stats-interval 1 \
		--banlist "$root/tests/data/banlist.txt" --local-domain lab-mail.net \
		--flows 262144 --mbufs 65535 >"$work/stats.json" 2> >(python3 -c '
import sys, time
for line in sys.stdin:
    print(f"{time.monotonic():.3f} {line}", end="", flush=True)
' >"$work/stderr") || true
	sleep 0.2
	python3 - "$work/stats.json" "$work/stderr" "$name" <<'PY'
import json, re, sys
stats, log, name = sys.argv[1:4]
pts = []
for line in open(log):
    m = re.match(r"([\d.]+) helogate: rx (\d+) tx (\d+) .*judged (\d+)", line)
    if m:
        pts.append(tuple(float(x) for x in m.groups()))
try:
    total = json.loads(open(stats).read().strip().splitlines()[-1])["total"]
except Exception:
    total = None
# Steady state: from the second periodic line (start-up over) to the last.
if len(pts) >= 3:
    (t0, rx0, tx0, j0), (t1, rx1, tx1, j1) = pts[1], pts[-1]
    dt = t1 - t0
    print(f"{name:38s} {(rx1-rx0)/dt/1e6:7.2f} Mpps rx {(tx1-tx0)/dt/1e6:7.2f} Mpps tx"
          f"  judged {(j1-j0)/dt:9.0f}/s  (steady state over {dt:.1f} s)")
else:
    print(f"{name:38s} too few stats lines (run longer)")
if total:
    print(f"{'':38s} totals: rx {total['rx_packets']} judged {total['judged']} "
          f"fast_path {total['fast_path']} bad_checksum_dropped {total['bad_checksum_dropped']}")
PY
}
echo "capture: ${SESSIONS:-300} smtp-mix sessions, $frames bytes; ${secs} s per run" >&2
run "net_pcap smtp-mix, detect" \
	--vdev "net_pcap0,rx_pcap=$work/mix.pcap,tx_pcap=/dev/null,infinite_rx=1" -- \
	--single-port 0 --mode detect --verify-checksums no
run "net_pcap smtp-mix, detect, sw checksums" \
	--vdev "net_pcap0,rx_pcap=$work/mix.pcap,tx_pcap=/dev/null,infinite_rx=1" -- \
	--single-port 0 --mode detect --verify-checksums yes
run "net_null x2, inline (fast path)" --vdev net_null0 --vdev net_null1 -- --outside 0 --inside 1
