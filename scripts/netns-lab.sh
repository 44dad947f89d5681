#!/usr/bin/env bash
# The live lab on one machine: a client host and a mail server in their own
# network namespaces, joined through helogate (DPDK net_af_packet on two
# veth pairs, inline) or, to check the lab itself, through a Linux bridge.
#
#   hg-client                       root namespace                     hg-server
#   198.18.0.10/24                                                  198.18.0.25/24
#   hgc0 ═══ veth ═══ hgc1 ── port 0 (outside) helogate port 1 (inside) ── hgs1 ═══ veth ═══ hgs0
#   swaks, smtp-source,                 (or HG_BRIDGE=kernel:                   Postfix smtpd
#   smtp_client.py                       Linux bridge hgbr)                     (private instance)
#
# usage: netns-lab.sh up [--kernel-bridge] [--mode enforce|detect] [--quiet-server]
#                        [-- EXTRA_HELOGATE_OPTIONS...]
#        netns-lab.sh down
#        netns-lab.sh restart-bridge [--mode enforce|detect] [-- EXTRA...]
#                                      new helogate, same namespaces and Postfix
#        netns-lab.sh run [--kernel-bridge] [--mode M] [--quiet-server] [--] CMD...
#                                      up, CMD in the root namespace with the
#                                      lab's variables exported (see 'env'),
#                                      down (also on failure or a signal);
#                                      exits with CMD's status
#        netns-lab.sh client CMD...    run CMD in the client namespace
#        netns-lab.sh server CMD...    run CMD in the server namespace
#        netns-lab.sh env              print the lab's variables (shell syntax)
#
# Environment:
#   HG_LAB_ID      lab identity; names get a "-ID" suffix (hg-client-ID,
#                  hgc1-ID, ...) so several labs can coexist. Default: none
#                  (hg-client, hg-server, hgc1, hgs1, hgbr). Letters/digits,
#                  at most 8.
#   HG_LAB_DIR     state: Postfix instance, Maildir, pid files
#                  (default /tmp/hg-lab[-ID])
#   HG_LAB_LOGDIR  logs: helogate.err/.out, events.jsonl, stats.json and
#                  helogate.exit (written when helogate stops), maillog
#                  (Postfix), ss-at-down.txt (default: $HG_LAB_DIR itself)
#   HG_BRIDGE      helogate (default) | kernel  (same as --kernel-bridge)
#   HELOGATE       the binary (default <source root>/build/app/helogate)
#   HG_LAB_BANLIST banned HELO names (default tests/data/banlist.txt, the
#                  project's standard lab context, tests/data/lab-context.md)
#   HELOGATE_LCORES EAL core list (default 0,1); a map such as 0@0,1@1,2@1
#                  goes to --lcores (several workers on fewer CPUs)
#   HG_LAB_QPAIRS  queue pairs of each net_af_packet port (default 1); N > 1
#                  gives N workers a queue each, filled by the kernel's
#                  PACKET_FANOUT_HASH (symmetric flow hash)
#   HG_LAB_TTL     seconds after which helogate stops by itself (default 900)
#   HELOGATE_ARGS  more helogate options, appended to those after 'up --'
#                  (split on spaces)
#
# Network safety: every address is from 198.18.0.0/15 (RFC 2544); the
# namespaces have no default route and no other interface, so nothing the
# lab does can leave it. Needs root.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

ID=${HG_LAB_ID:-}
if [ -n "$ID" ] && ! [[ "$ID" =~ ^[A-Za-z0-9]{1,8}$ ]]; then
	echo "netns-lab: HG_LAB_ID must be 1-8 letters or digits" >&2
	exit 2
fi
sfx=${ID:+-$ID}
CLIENT_NS=hg-client$sfx SERVER_NS=hg-server$sfx
# Root-namespace veth ends and the stand-in bridge (IFNAMSIZ: 15 chars max).
CLIENT_PORT=hgc1$sfx SERVER_PORT=hgs1$sfx KBRIDGE=hgbr$sfx
# Inside its namespace each host's interface is plainly hgc0 / hgs0.
CLIENT_IF=hgc0 SERVER_IF=hgs0
CLIENT_IP=198.18.0.10 SERVER_IP=198.18.0.25 PREFIX=24
LOCAL_DOMAIN=lab-mail.net

LAB_DIR=${HG_LAB_DIR:-/tmp/hg-lab$sfx}
LOG_DIR=${HG_LAB_LOGDIR:-$LAB_DIR}
HELOGATE=${HELOGATE:-$root/build/app/helogate}
BANLIST=${HG_LAB_BANLIST:-$root/tests/data/banlist.txt}
BRIDGE=${HG_BRIDGE:-helogate}
LOCK=/run/lock/hg-lab$sfx.lock
PF=$LAB_DIR/postfix # the Postfix instance: etc/, spool/, data/, mail/

die() { echo "netns-lab: $*" >&2; exit 1; }
log() { echo "netns-lab[$CLIENT_NS]: $*" >&2; }

usage() { sed -n '/^# usage:/,/^#$/p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }

ns_exists() { [ -e "/run/netns/$1" ]; }

# Serialize up/down of one lab id. fd 9 holds the lock until this script
# ends; long-lived children (helogate, Postfix) get 9>&-.
take_lock() {
	mkdir -p "$(dirname "$LOCK")"
	exec 9>"$LOCK"
	flock -w "${1:-60}" 9 && return 0
	[ "${2:-}" = force ] || die "lab ${ID:-<default>} is locked by another netns-lab.sh"
	log "lab ${ID:-<default>} still locked after ${1}s; tearing it down anyway"
}

# ---------------------------------------------------------------- bridge

# Is option $1 among the remaining arguments?
has_opt() {
	local o=$1; shift
	local a
	for a in "$@"; do
		case "$a" in "$o" | "$o"=*) return 0 ;; esac
	done
	return 1
}

# helogate's process is a 'timeout' wrapper: the lab stops it after
# HG_LAB_TTL seconds even if nobody calls 'down'. SIGINT makes helogate
# write stats.json and exit; timeout passes the signal on.
bridge_start() {
	local mode=$1; shift
	case "$BRIDGE" in
	kernel)
		ip link add "$KBRIDGE" type bridge
		# Forward at once: no STP listening/learning delay.
		ip link set "$KBRIDGE" type bridge forward_delay 0 stp_state 0
		ip link set "$CLIENT_PORT" master "$KBRIDGE"
		ip link set "$SERVER_PORT" master "$KBRIDGE"
		ip link set "$KBRIDGE" up
		echo kernel >"$LAB_DIR/bridge"
		;;
	helogate)
		[ -x "$HELOGATE" ] || die "no helogate binary at $HELOGATE (set HELOGATE, or HG_BRIDGE=kernel)"
		rm -f "$LOG_DIR/stats.json" "$LOG_DIR/helogate.exit"
		# The lab's context unless the caller's options say otherwise.
		local ctx=()
		if ! has_opt --banlist "$@"; then
			[ -r "$BANLIST" ] || die "no banned-name list at $BANLIST"
			ctx+=(--banlist "$BANLIST")
		fi
		has_opt --local-domain "$@" || ctx+=(--local-domain "$LOCAL_DOMAIN")
		# A watcher subshell records helogate's exit status (helogate.exit:
		# 0 after a clean stop; 134 = an assertion) and the timeout
		# wrapper's pid. 9>&-: neither may inherit the lab's lock.
		local lcores=${HELOGATE_LCORES:-0,1} lflag=-l qp=${HG_LAB_QPAIRS:-1}
		case "$lcores" in *@* | *"("*) lflag=--lcores ;; esac
		[[ "$qp" =~ ^[1-8]$ ]] || die "HG_LAB_QPAIRS must be 1..8, not '$qp'"
		(
			timeout -s INT -k 10 "${HG_LAB_TTL:-900}" \
				"$HELOGATE" "$lflag" "$lcores" --no-huge --no-pci -m 1024 --no-shconf \
				--file-prefix "hg-lab-$$" --log-level warning \
				--vdev "net_af_packet0,iface=$CLIENT_PORT,qpairs=$qp" \
				--vdev "net_af_packet1,iface=$SERVER_PORT,qpairs=$qp" -- \
				--outside 0 --inside 1 --mode "$mode" "${ctx[@]}" --events "$LOG_DIR/events.jsonl" \
				--stats "$LOG_DIR/stats.json" "$@" \
				>>"$LOG_DIR/helogate.out" 2>>"$LOG_DIR/helogate.err" </dev/null &
			echo $! >"$LAB_DIR/helogate.pid"
			st=0
			wait $! || st=$?
			echo $st >"$LOG_DIR/helogate.exit"
		) 9>&- </dev/null >/dev/null 2>&1 &
		for _ in $(seq 50); do [ -s "$LAB_DIR/helogate.pid" ] && break; sleep 0.02; done
		echo "helogate $mode" >"$LAB_DIR/bridge"
		;;
	*) die "HG_BRIDGE must be 'helogate' or 'kernel', not '$BRIDGE'" ;;
	esac
}

bridge_stop() {
	if [ -f "$LAB_DIR/helogate.pid" ]; then
		local pid
		pid=$(cat "$LAB_DIR/helogate.pid")
		if kill -INT "$pid" 2>/dev/null; then
			for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
			if kill -0 "$pid" 2>/dev/null; then
				log "helogate did not stop on SIGINT within 10 s; killing it"
				# the timeout wrapper's child (helogate itself), then the wrapper
				local kids
				mapfile -t kids < <(pgrep -P "$pid")
				kill -KILL "${kids[@]}" "$pid" 2>/dev/null || true
			fi
		fi
		rm -f "$LAB_DIR/helogate.pid"
		# the watcher writes the exit status right after
		for _ in $(seq 20); do [ -s "$LOG_DIR/helogate.exit" ] && break; sleep 0.05; done
	fi
	ip link del "$KBRIDGE" 2>/dev/null || true
	rm -f "$LAB_DIR/bridge"
}

# The client must reach the server's SMTP banner through the bridge.
wait_ready() {
	local banner
	for _ in $(seq 150); do
		if [ -f "$LAB_DIR/helogate.pid" ] && ! kill -0 "$(cat "$LAB_DIR/helogate.pid")" 2>/dev/null; then
			die "helogate exited during start-up: $(tail -n 5 "$LOG_DIR/helogate.err")"
		fi
		banner=$(ip netns exec "$CLIENT_NS" timeout 2 bash -c \
			"exec 3<>/dev/tcp/$SERVER_IP/25 && read -r -t 2 line <&3 && echo \"\$line\" && printf 'QUIT\r\n' >&3 && read -r -t 2 line <&3" \
			2>/dev/null) || true
		case "$banner" in
		"220 "*) sleep 0.2; return 0 ;;
		esac
		sleep 0.1
	done
	die "the client cannot reach the SMTP banner of $SERVER_IP:25 through the lab (logs: $LOG_DIR)"
}

# ---------------------------------------------------------------- Postfix

# A private Postfix instance in the server namespace: smtpd on
# 198.18.0.25:25, mail for lab-mail.net and example.com delivered by
# virtual(8) into one Maildir ($PF/mail/maildir/new/, one file per
# message), every command and reply logged (debug_peer_list, unless
# --quiet-server) to $LOG_DIR/maillog, STARTTLS with a fresh self-signed
# certificate; Postfix offers PIPELINING and CHUNKING by itself.
postfix_start() {
	local quiet=$1
	mkdir -p "$PF/etc" "$PF/spool" "$PF/data" "$PF/mail"
	# Debian's master.cf, but without chroot: the chroot would need
	# copies of /etc files, and the namespace isolates smtpd already.
	cp /etc/postfix/master.cf "$PF/etc/master.cf"
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=mx.$LOCAL_DOMAIN" \
		-keyout "$PF/etc/key.pem" -out "$PF/etc/cert.pem" >/dev/null 2>&1 ||
		die "openssl could not make the lab certificate"
	cat >"$PF/etc/main.cf" <<CONF
# Generated by scripts/netns-lab.sh for the helogate lab ($CLIENT_NS).
compatibility_level = 3.6
queue_directory = $PF/spool
data_directory = $PF/data
mail_owner = postfix
myhostname = mx.$LOCAL_DOMAIN
mydomain = $LOCAL_DOMAIN
myorigin = $LOCAL_DOMAIN
inet_interfaces = $SERVER_IP
inet_protocols = ipv4
mydestination =
mynetworks = 127.0.0.0/8
relay_domains =
relayhost =
# No DNS, no peer name look-ups: the namespace has no resolver anyway.
smtpd_peername_lookup = no
smtp_dns_support_level = disabled
virtual_mailbox_domains = $LOCAL_DOMAIN example.com
virtual_mailbox_base = $PF/mail
virtual_mailbox_maps = static:maildir/
virtual_uid_maps = static:65534
virtual_gid_maps = static:65534
virtual_destination_concurrency_limit = 50
alias_maps =
alias_database =
maillog_file = $LOG_DIR/maillog
maillog_file_prefixes = $LOG_DIR
smtpd_banner = \$myhostname ESMTP
smtpd_tls_security_level = may
smtpd_tls_cert_file = $PF/etc/cert.pem
smtpd_tls_key_file = $PF/etc/key.pem
smtpd_tls_loglevel = 1
smtpd_client_connection_count_limit = 0
smtpd_client_connection_rate_limit = 0
smtputf8_enable = no
biff = no
# One recipient the server itself refuses with a 550: the lab's self-check
# uses it (a real 550 through the kernel bridge).
smtpd_recipient_restrictions = check_recipient_access texthash:$PF/etc/rcpt_access
CONF
	printf 'refuse@%s 550 5.7.1 Refused by the lab server\n' "$LOCAL_DOMAIN" >"$PF/etc/rcpt_access"
	if [ "$quiet" -eq 0 ]; then
		# debug_peer_level 1 logs each command ("< peer: CMD") and reply
		# ("> peer: REPLY") of the lab's sessions.
		printf 'debug_peer_list = 198.18.0.0/15\ndebug_peer_level = 1\n' >>"$PF/etc/main.cf"
	fi
	postconf -c "$PF/etc" -F '*/*/chroot = n' >/dev/null
	chown nobody:nogroup "$PF/mail"
	chown postfix:postfix "$PF/data"
	# postlogd (root) writes the log, but when it is not running (a restart
	# after a crash of the server) postsuper writes it itself as postfix.
	touch "$LOG_DIR/maillog"
	chown postfix:postfix "$LOG_DIR/maillog"
	ip netns exec "$SERVER_NS" postfix -c "$PF/etc" start >"$LOG_DIR/postfix-start.log" 2>&1 9>&- ||
		die "Postfix did not start: $(tail -n 3 "$LOG_DIR/postfix-start.log")"
	for _ in $(seq 50); do
		ip netns exec "$SERVER_NS" ss -Hltn "( sport = :25 )" | grep -q . && return 0
		sleep 0.1
	done
	die "Postfix does not listen on $SERVER_IP:25 (see $LOG_DIR/maillog)"
}

postfix_stop() {
	[ -f "$PF/etc/main.cf" ] && ns_exists "$SERVER_NS" || return 0
	ip netns exec "$SERVER_NS" postfix -c "$PF/etc" stop >/dev/null 2>&1 || true
	for _ in $(seq 50); do
		ip netns exec "$SERVER_NS" postfix -c "$PF/etc" status >/dev/null 2>&1 || return 0
		sleep 0.1
	done
}

# ---------------------------------------------------------------- up / down

# One end of a veth pair in a namespace, one in the root namespace (up,
# promiscuous, no address: a port for the bridge). tx offload off on both
# ends, or veth hands TCP segments with partial checksums to af_packet.
make_link() {
	local ns=$1 nsif=$2 port=$3 addr=$4
	ip netns add "$ns"
	ip link add "$nsif$sfx" type veth peer name "$port"
	ip link set "$nsif$sfx" netns "$ns"
	ip -n "$ns" link set "$nsif$sfx" name "$nsif"
	ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
	ip -n "$ns" link set lo up
	ip -n "$ns" addr add "$addr/$PREFIX" dev "$nsif"
	ip netns exec "$ns" ethtool -K "$nsif" tx off >/dev/null
	ip -n "$ns" link set "$nsif" up
	# No IPv6 on the port either: no router solicitations, DAD or MLD
	# reports through the bridge.
	sysctl -qw "net.ipv6.conf.$port.disable_ipv6=1"
	ethtool -K "$port" tx off >/dev/null
	ip link set "$port" promisc on up
}

up() {
	local mode=enforce quiet=0
	while [ $# -gt 0 ]; do
		case "$1" in
		--kernel-bridge) BRIDGE=kernel ;;
		--mode) mode=${2:?--mode needs enforce or detect}; shift ;;
		--quiet-server) quiet=1 ;;
		--) shift; break ;;
		*) die "up: unknown option '$1'" ;;
		esac
		shift
	done
	if [ -n "${HELOGATE_ARGS:-}" ]; then
		local more
		read -ra more <<<"$HELOGATE_ARGS"
		set -- "$@" "${more[@]}"
	fi
	[ "$(id -u)" -eq 0 ] || die "needs root (network namespaces)"
	take_lock
	if ns_exists "$CLIENT_NS" || ns_exists "$SERVER_NS" || [ -e "/sys/class/net/$CLIENT_PORT" ]; then
		die "lab ${ID:-<default>} is already up (netns-lab.sh down, or another HG_LAB_ID)"
	fi
	rm -rf "$PF" "$LAB_DIR/bridge" "$LAB_DIR/helogate.pid"
	mkdir -p "$LAB_DIR" "$LOG_DIR"
	# Postfix's unprivileged processes must reach the spool, the Maildir and
	# the log (mktemp -d makes 0700 directories).
	chmod 755 "$LAB_DIR" "$LOG_DIR"
	# If anything below fails (die, set -e, a signal), leave nothing behind.
	trap 'rc=$?; trap - EXIT; [ $rc -eq 0 ] || teardown; exit $rc' EXIT
	trap 'exit 130' INT TERM
	make_link "$CLIENT_NS" "$CLIENT_IF" "$CLIENT_PORT" "$CLIENT_IP"
	make_link "$SERVER_NS" "$SERVER_IF" "$SERVER_PORT" "$SERVER_IP"
	bridge_start "$mode" "$@"
	postfix_start "$quiet"
	wait_ready
	trap - EXIT INT TERM
	log "up: $(cat "$LAB_DIR/bridge"), logs in $LOG_DIR"
}

teardown() {
	set +e
	if ns_exists "$SERVER_NS"; then
		{
			echo "== client namespace"; ip netns exec "$CLIENT_NS" ss -tan 2>&1
			echo "== server namespace"; ip netns exec "$SERVER_NS" ss -tan 2>&1
		} >"$LOG_DIR/ss-at-down.txt" 2>/dev/null
	fi
	postfix_stop
	bridge_stop
	# Whatever still runs in the namespaces (clients, Postfix leftovers).
	local ns pids
	for ns in "$CLIENT_NS" "$SERVER_NS"; do
		ns_exists "$ns" || continue
		mapfile -t pids < <(ip netns pids "$ns" 2>/dev/null)
		[ ${#pids[@]} -gt 0 ] && kill -KILL "${pids[@]}" 2>/dev/null
		ip netns del "$ns" 2>/dev/null
	done
	# Deleting a namespace deletes its veth end and with it the peer;
	# make sure of it for the root-side ends.
	ip link del "$CLIENT_PORT" 2>/dev/null
	ip link del "$SERVER_PORT" 2>/dev/null
	set -e
}

down() {
	[ "$(id -u)" -eq 0 ] || die "needs root (network namespaces)"
	take_lock 20 force
	teardown
}

restart_bridge() {
	local mode=enforce
	while [ $# -gt 0 ]; do
		case "$1" in
		--mode) mode=${2:?--mode needs enforce or detect}; shift ;;
		--) shift; break ;;
		*) die "restart-bridge: unknown option '$1'" ;;
		esac
		shift
	done
	take_lock
	ns_exists "$CLIENT_NS" || die "lab ${ID:-<default>} is not up"
	[ -f "$LAB_DIR/bridge" ] && BRIDGE=$(cut -d' ' -f1 "$LAB_DIR/bridge")
	bridge_stop
	bridge_start "$mode" "$@"
	wait_ready
	log "bridge restarted: $(cat "$LAB_DIR/bridge")"
}

print_env() {
	cat <<ENV
HG_LAB_ID='$ID'
HG_LAB_DIR='$LAB_DIR'
HG_LAB_LOGDIR='$LOG_DIR'
HG_LAB_CLIENT_NS='$CLIENT_NS'
HG_LAB_SERVER_NS='$SERVER_NS'
HG_LAB_CLIENT_IP='$CLIENT_IP'
HG_LAB_SERVER_IP='$SERVER_IP'
HG_LAB_MAILDIR='$PF/mail/maildir'
HG_LAB_MAILLOG='$LOG_DIR/maillog'
HG_LAB_EVENTS='$LOG_DIR/events.jsonl'
HG_LAB_STATS='$LOG_DIR/stats.json'
HG_LAB_POSTFIX_ETC='$PF/etc'
HG_LAB_BRIDGE='$(cat "$LAB_DIR/bridge" 2>/dev/null || echo down)'
ENV
}

run() {
	local up_args=()
	# Options for 'up' first (if any), then '--' or the command itself.
	while [ $# -gt 0 ]; do
		case "$1" in
		--) shift; break ;;
		--mode) up_args+=("$1" "${2:?--mode needs enforce or detect}"); shift 2 ;;
		-*) up_args+=("$1"); shift ;;
		*) break ;;
		esac
	done
	[ $# -gt 0 ] || die "run: no command (netns-lab.sh run [UP_OPTIONS] [--] CMD...)"
	up "${up_args[@]}"
	exec 9>&- # the lock is for up/down only
	trap 'down' EXIT
	trap 'exit 130' INT TERM
	set -a
	eval "$(print_env)"
	set +a
	local rc=0
	"$@" || rc=$?
	return $rc
}

case "${1:-}" in
up) shift; up "$@" ;;
down) down ;;
restart-bridge) shift; restart_bridge "$@" ;;
run) shift; run "$@" ;;
client) shift; [ $# -gt 0 ] || usage; exec ip netns exec "$CLIENT_NS" "$@" ;;
server) shift; [ $# -gt 0 ] || usage; exec ip netns exec "$SERVER_NS" "$@" ;;
env) print_env ;;
*) usage ;;
esac
