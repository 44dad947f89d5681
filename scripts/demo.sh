#!/usr/bin/env bash
# The main job, shown on this machine: install what is missing, build, then
#   1. judge the HELO names of the seed pages with helogate-check;
#   2. the live filter: a client and a Postfix server in network namespaces,
#      joined through helogate (DPDK, net_af_packet, enforce mode); one
#      session with a good HELO and one with a bogus HELO, as the client saw
#      them (needs root: network namespaces);
#   3. synthesize a capture of mixed SMTP sessions and replay it through the
#      real helogate binary (net_pcap, detect mode), showing its events.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" -eq 0 ]; then
	scripts/bootstrap.sh build lab
else
	scripts/bootstrap.sh build
fi
[ -f build/build.ninja ] || meson setup build >/dev/null
ninja -C build >/dev/null

echo "== 1. helogate-check on the seed examples (receiving server 198.18.1.25, RCPT TO:<user123@infomaniak.ch>)"
printf '%s\n' 127.0.0.1 '[127.0.0.1]' '[192.168.1.1]' localhost www mon-serveur rad.internal \
	fakedomain.xyz mx.fakedomain.xyz 198.18.1.25 infomaniak.ch smtp.exampledomain.com \
	mta-gw1.infomaniak.ch |
	build/app/helogate-check --banlist tests/data/banlist.txt --server-ip 198.18.1.25 \
		--rcpt '<user123@infomaniak.ch>'

if [ "$(id -u)" -eq 0 ]; then
	echo
	echo "== 2. the live filter: swaks (198.18.0.10) -> helogate -> Postfix (198.18.0.25)"
	export HG_LAB_DIR
	HG_LAB_DIR=$(mktemp -d)
	trap 'scripts/netns-lab.sh down; rm -rf "$HG_LAB_DIR"' EXIT
	scripts/netns-lab.sh up -- --banlist tests/data/banlist.txt --local-domain lab-mail.net
	for helo in mail.example.org localhost; do
		echo "-- HELO $helo:"
		scripts/netns-lab.sh client timeout 20 swaks --server 198.18.0.25 --helo "$helo" \
			--from alice@example.org --to bob@lab-mail.net --hide-informational 2>&1 |
			grep -E '^ *(<-|->|<\*\*) ' | grep -v -E '^ *<-  250-' || true
	done
	scripts/netns-lab.sh down
	echo "-- helogate's event:"
	cat "$HG_LAB_DIR/events.jsonl"
else
	echo
	echo "== 2. (skipped: the live lab needs root for network namespaces)"
fi

if [ -x build/app/helogate ] && [ -x build/app/helogate-synth ]; then
	work=$(mktemp -d)
	trap 'rm -rf "$work"; [ -n "${HG_LAB_DIR:-}" ] && rm -rf "$HG_LAB_DIR"' EXIT
	echo
	echo "== 3. 200 synthesized sessions (30% bogus) through helogate, detect mode"
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
