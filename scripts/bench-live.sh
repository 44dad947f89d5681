#!/usr/bin/env bash
# Live-path numbers: the real helogate binary with its ports, for a fixed
# time, on (1) net_pcap replaying (written to /dev/null) a synthesized smtp-mix capture in a loop
# (infinite_rx=1) and (2) two net_null ports (64-byte empty frames, the
# fast path). Prints packets/s from helogate's own counters.
#
# usage: scripts/bench-live.sh [SECONDS]   (default 5; bounded, stops by itself)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
secs=${1:-5}
bin=${HELOGATE:-$root/build/app/helogate}
synth=$root/build/app/helogate-synth
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$synth" -o "$work/mix.pcap" --profile smtp-mix --sessions 300 --seed 1 --body-max 16384 2>/dev/null

run() {
	local name=$1
	shift
	timeout -s INT "$secs" "$bin" -l 0,1 --no-huge --no-pci -m 1024 --no-shconf \
		--file-prefix "hg-live-$$" --log-level error "$@" --stats "$work/$name.json" \
		--banlist "$root/tests/data/banlist.txt" --local-domain lab-mail.net \
		--flows 262144 --mbufs 65535 >/dev/null 2>&1 || true
	python3 - "$work/$name.json" "$name" "$secs" <<'PY'
import json, sys
t = json.load(open(sys.argv[1]))["total"]
secs = float(sys.argv[3])
print(f"{sys.argv[2]:28s} {t['rx_packets']/secs/1e6:7.2f} Mpps rx  {t['tx_packets']/secs/1e6:7.2f} Mpps tx"
      f"  judged {t['judged']/secs:10.0f}/s  (over {secs:.0f} s, including start-up)")
PY
}
run "net_pcap smtp-mix (detect)" --vdev "net_pcap0,rx_pcap=$work/mix.pcap,tx_pcap=/dev/null,infinite_rx=1" -- \
	--single-port 0 --mode detect --verify-checksums yes
run "net_null x2 (fast path)" --vdev net_null0 --vdev net_null1 -- --outside 0 --inside 1
