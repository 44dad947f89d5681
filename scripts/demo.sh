#!/usr/bin/env bash
# The main job, shown on this machine: install what is missing, build, then
#   1. judge the HELO names of the seed pages with helogate-check;
#   2. synthesize a capture of mixed SMTP sessions and replay it through the
#      real helogate binary (DPDK, net_pcap, detect mode), showing its events.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh build
[ -f build/build.ninja ] || meson setup build >/dev/null
ninja -C build >/dev/null

echo "== 1. helogate-check on the seed examples (receiving server 198.18.1.25, RCPT TO:<user123@infomaniak.ch>)"
printf '%s\n' 127.0.0.1 '[127.0.0.1]' '[192.168.1.1]' localhost www mon-serveur rad.internal \
	fakedomain.xyz mx.fakedomain.xyz 198.18.1.25 infomaniak.ch smtp.exampledomain.com \
	mta-gw1.infomaniak.ch |
	build/app/helogate-check --banlist tests/data/banlist.txt --server-ip 198.18.1.25 \
		--rcpt '<user123@infomaniak.ch>'

if [ -x build/app/helogate ] && [ -x build/app/helogate-synth ]; then
	work=$(mktemp -d)
	trap 'rm -rf "$work"' EXIT
	echo
	echo "== 2. 200 synthesized sessions (30% bogus) through helogate, detect mode"
	build/app/helogate-synth -o "$work/mix.pcap" --expect "$work/expected.jsonl" \
		--profile smtp-mix --sessions 200 --seed 1
	scripts/helogate-replay "$work/mix.pcap" -o "$work/out.pcap" --events "$work/events.jsonl" \
		--mode detect --banlist tests/data/banlist.txt --local-domain lab-mail.net --flows 65536 --blocks 4096
	echo "first events:"
	head -n 5 "$work/events.jsonl"
	echo "events by reason:"
	grep -o '"reason":"[a-z-]*"' "$work/events.jsonl" | sort | uniq -c
	echo -n "output capture vs input: "
	scripts/pcap-frames-equal "$work/mix.pcap" "$work/out.pcap"
fi
