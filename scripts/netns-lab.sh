#!/usr/bin/env bash
# A lab on one machine: a client host and a mail server in network
# namespaces, joined through helogate (net_af_packet on two veth pairs,
# inline mode) or, to check the lab itself, through a Linux bridge.
#
#   hg-client 198.18.0.10 ─ hgc0 ══ hgc1 ─┐                 ┌─ hgs1 ══ hgs0 ─ 198.18.0.25 hg-server
#                                         └─ helogate ──────┘              (Postfix smtpd, Maildir)
#               (outside port 0)                          (inside port 1)
#
# usage: scripts/netns-lab.sh up [--kernel-bridge] [-- helogate options...]
#        scripts/netns-lab.sh down
#        scripts/netns-lab.sh client CMD...   run CMD in the client namespace
#        scripts/netns-lab.sh server CMD...   run CMD in the server namespace
# State, logs and the Postfix instance live in $HG_LAB_DIR (default
# /tmp/hg-lab): helogate.err, events.jsonl, stats.json (written when
# 'down' stops helogate), postfix/maillog, postfix/mail/maildir/new/.
# Addresses are from 198.18.0.0/15 (RFC 2544): traffic never leaves the lab.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
lab=${HG_LAB_DIR:-/tmp/hg-lab}
bin=${HELOGATE:-$root/build/app/helogate}
CLIENT_NS=hg-client SERVER_NS=hg-server
CLIENT_IP=198.18.0.10 SERVER_IP=198.18.0.25

die() { echo "netns-lab: $*" >&2; exit 1; }

down() {
	if [ -f "$lab/helogate.pid" ]; then
		local pid
		pid=$(cat "$lab/helogate.pid")
		if kill -INT "$pid" 2>/dev/null; then
			for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
			kill -KILL "$pid" 2>/dev/null || true
		fi
		rm -f "$lab/helogate.pid"
	fi
	if [ -d "$lab/postfix/etc" ] && ip netns list | grep -qw "$SERVER_NS"; then
		ip netns exec "$SERVER_NS" postfix -c "$lab/postfix/etc" stop >/dev/null 2>&1 || true
		for _ in $(seq 30); do
			ip netns exec "$SERVER_NS" postfix -c "$lab/postfix/etc" status >/dev/null 2>&1 || break
			sleep 0.1
		done
	fi
	ip netns pids "$SERVER_NS" 2>/dev/null | xargs -r kill -KILL 2>/dev/null || true
	ip netns pids "$CLIENT_NS" 2>/dev/null | xargs -r kill -KILL 2>/dev/null || true
	ip netns del "$CLIENT_NS" 2>/dev/null || true
	ip netns del "$SERVER_NS" 2>/dev/null || true
	ip link del hgc1 2>/dev/null || true
	ip link del hgs1 2>/dev/null || true
	ip link del hgbr 2>/dev/null || true
}

# A private Postfix instance: smtpd on the server address, mail for
# lab-mail.net and example.com delivered into one Maildir, every command
# the server receives logged (debug_peer_list), STARTTLS with a
# self-signed certificate, PIPELINING and CHUNKING as Postfix offers them.
postfix_up() {
	local d=$lab/postfix
	mkdir -p "$d/etc" "$d/spool" "$d/data" "$d/mail"
	cp /etc/postfix/master.cf "$d/etc/master.cf"
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=mx.lab-mail.net" \
		-keyout "$d/etc/key.pem" -out "$d/etc/cert.pem" >/dev/null 2>&1
	cat >"$d/etc/main.cf" <<CONF
compatibility_level = 3.6
queue_directory = $d/spool
data_directory = $d/data
mail_owner = postfix
myhostname = mx.lab-mail.net
mydomain = lab-mail.net
myorigin = lab-mail.net
inet_interfaces = $SERVER_IP
inet_protocols = ipv4
mydestination =
mynetworks = 127.0.0.0/8
relay_domains =
virtual_mailbox_domains = lab-mail.net example.com
virtual_mailbox_base = $d/mail
virtual_mailbox_maps = static:maildir/
virtual_uid_maps = static:65534
virtual_gid_maps = static:65534
alias_maps =
alias_database =
maillog_file = $d/maillog
maillog_file_prefixes = $d
debug_peer_list = 198.18.0.0/15
debug_peer_level = 2
smtpd_banner = \$myhostname ESMTP
smtpd_tls_security_level = may
smtpd_tls_cert_file = $d/etc/cert.pem
smtpd_tls_key_file = $d/etc/key.pem
smtputf8_enable = no
biff = no
CONF
	chown nobody:nogroup "$d/mail"
	chown postfix:postfix "$d/data"
	ip netns exec "$SERVER_NS" postfix -c "$d/etc" start >"$d/start.log" 2>&1 ||
		die "Postfix did not start (see $d/maillog)"
}

up() {
	local bridge=helogate
	if [ "${1:-}" = --kernel-bridge ]; then bridge=kernel; shift; fi
	[ "${1:-}" = -- ] && shift
	[ "$(id -u)" -eq 0 ] || die "needs root (network namespaces)"
	[ $bridge = kernel ] || [ -x "$bin" ] || die "no helogate binary at $bin"
	down
	rm -rf "$lab/postfix" "$lab"/helogate.* "$lab/events.jsonl" "$lab/stats.json"
	mkdir -p "$lab"
	chmod 755 "$lab" # Postfix's daemons run as postfix and must reach their directories
	ip netns add "$CLIENT_NS"
	ip netns add "$SERVER_NS"
	ip link add hgc0 type veth peer name hgc1
	ip link add hgs0 type veth peer name hgs1
	ip link set hgc0 netns "$CLIENT_NS"
	ip link set hgs0 netns "$SERVER_NS"
	ip -n "$CLIENT_NS" addr add "$CLIENT_IP/24" dev hgc0
	ip -n "$SERVER_NS" addr add "$SERVER_IP/24" dev hgs0
	for ns in "$CLIENT_NS" "$SERVER_NS"; do ip -n "$ns" link set lo up; done
	ip -n "$CLIENT_NS" link set hgc0 up
	ip -n "$SERVER_NS" link set hgs0 up
	ip link set hgc1 up
	ip link set hgs1 up
	# Without this, veth hands out TCP segments with partial checksums
	# that DPDK's af_packet port forwards as they are.
	ip netns exec "$CLIENT_NS" ethtool -K hgc0 tx off >/dev/null
	ip netns exec "$SERVER_NS" ethtool -K hgs0 tx off >/dev/null
	ethtool -K hgc1 tx off >/dev/null
	ethtool -K hgs1 tx off >/dev/null
	if [ $bridge = kernel ]; then
		ip link add hgbr type bridge
		ip link set hgc1 master hgbr
		ip link set hgs1 master hgbr
		ip link set hgbr up
	else
		"$bin" -l "${HELOGATE_LCORES:-0,1}" --no-huge --no-pci -m 512 --no-shconf \
			--file-prefix "hg-lab-$$" --log-level warning \
			--vdev net_af_packet0,iface=hgc1 --vdev net_af_packet1,iface=hgs1 -- \
			--outside 0 --inside 1 --flows 65536 --blocks 16384 \
			--events "$lab/events.jsonl" --stats "$lab/stats.json" "$@" \
			>"$lab/helogate.out" 2>"$lab/helogate.err" &
		echo $! >"$lab/helogate.pid"
	fi
	postfix_up
	# Ready when the client reaches the server's SMTP port through the path.
	for _ in $(seq 100); do
		if ip netns exec "$CLIENT_NS" bash -c "exec 3<>/dev/tcp/$SERVER_IP/25" 2>/dev/null; then
			sleep 0.3 # the probe session's own close, through the path
			return 0
		fi
		if [ -f "$lab/helogate.pid" ] && ! kill -0 "$(cat "$lab/helogate.pid")" 2>/dev/null; then
			die "helogate exited: $(tail -3 "$lab/helogate.err")"
		fi
		sleep 0.1
	done
	die "the client cannot reach $SERVER_IP:25 through the lab"
}

case "${1:-}" in
up) shift; up "$@" ;;
down) down ;;
client) shift; exec ip netns exec "$CLIENT_NS" "$@" ;;
server) shift; exec ip netns exec "$SERVER_NS" "$@" ;;
*) sed -n '10,17p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
