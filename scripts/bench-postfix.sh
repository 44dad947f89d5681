#!/usr/bin/env bash
# Sessions judged per second: Postfix smtpd doing helogate's job, and
# helogate (the harness and the live path), side by side in one run.
#
# usage: scripts/bench-postfix.sh [SECONDS] [CONCURRENCY]   (default 20, 64)
#
# 1. harness: build/bench/helogate-bench --profile smtp-commands --mode
#    enforce, one worker core: judged sessions per second per core.
# 2. Postfix alone: the lab (scripts/netns-lab.sh, HG_LAB_ID default 'pf')
#    with its Postfix given the same HELO restrictions helogate applies and
#    tuned for throughput (see postfix_tune below, each setting with its
#    reason); helogate is stopped for this phase, so Postfix and the client
#    have the machine. The client, build/bench/helogate-smtp-load (one
#    process, epoll, CONCURRENCY sessions in flight, each connect, EHLO,
#    MAIL, RCPT, QUIT, the smtp-commands HELO mix), runs in the server's
#    namespace against 198.18.0.25:25. Postfix's CPU (every process of the
#    instance, exited smtpd included) is read from /proc.
# 3. live: the same client from the client namespace through helogate
#    (enforce, inline between client and Postfix) to the same Postfix.
#    helogate answers the bogus sessions' RCPT itself; Postfix still serves
#    the good ones, so this rate says whether helogate slows the path down,
#    not what helogate could judge (that is 1.).
# Prints a table and one JSON line (also appended to $BENCH_JSON if set).
# Bounded: each client phase stops starting sessions after SECONDS and every
# session has a 10 s limit; helogate-bench runs 3 s; the lab's helogate
# stops by itself after HG_LAB_TTL (default here 600 s); the lab is torn
# down on exit, failure or signal. Needs root, Debian's postfix
# (scripts/bootstrap.sh bench) and a build (ninja -C build).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD:-$root/build}
load=$build/bench/helogate-smtp-load
secs=${1:-20}
conc=${2:-64}
export HG_LAB_ID=${HG_LAB_ID:-pf} HG_LAB_TTL=${HG_LAB_TTL:-600}
export HELOGATE=${HELOGATE:-$build/app/helogate}

# ---------------------------------------------------------------- in the lab
# (the script runs itself under 'netns-lab.sh run'; the lab's variables are
# in the environment)

# Postfix's CPU seconds so far: every process in the server namespace;
# master's children's time (cutime, cstime) holds the smtpd processes that
# have exited, the live ones count their own.
server_cpu() {
	local hz pid total=0 st
	hz=$(getconf CLK_TCK)
	for pid in $(ip netns pids "$HG_LAB_SERVER_NS"); do
		st=$(cut -d')' -f2- "/proc/$pid/stat" 2>/dev/null) || continue
		# fields after the name: 12 utime 13 stime 14 cutime 15 cstime
		total=$((total + $(awk '{print $12 + $13 + $14 + $15}' <<<"$st")))
	done
	echo "scale=3; $total / $hz" | bc
}

# The same restrictions as helogate's verdict, as an administrator writes
# them, and the throughput settings. Written with postconf, then 'postfix
# reload'; nothing else of the lab's instance changes.
postfix_tune() {
	local etc=$HG_LAB_POSTFIX_ETC ip=$HG_LAB_SERVER_IP
	# helogate's banned list (banning a name bans its subdomains: access(5)'s
	# parent-domain match, on for smtpd_access_maps by default)
	grep -v '^#' "$root/tests/data/banlist.txt" | awk 'NF {sub(/\.$/, "", $1); print $1 "\tREJECT banned HELO"}' \
		>"$etc/helo_access"
	# The rest in a regexp table (no parent-domain match there):
	# - "that's me": the server's address, bare and as a literal, and the
	#   domains it receives mail for, exactly (helogate: server-ip,
	#   matches-rcpt; mail.example.org must still pass);
	# - what Postfix has no built-in restriction for: other addresses
	#   (ip-literal), loopback names (localhost), special-use and private
	#   TLDs (helogate's public-suffix check, part of not-fqdn).
	cat >"$etc/helo_regexp" <<RE
/^\[?${ip//./\\.}\]?\$/	REJECT HELO claims to be us
/^(lab-mail\.net|mx\.lab-mail\.net|example\.com|example\.org)\.?\$/	REJECT HELO claims to be us
/^\[?[0-9.]+\]?\$/	REJECT address as HELO
/^\[ipv6:/	REJECT address as HELO
/(^|\.)localhost(\.localdomain)?\.?\$/	REJECT localhost HELO
/\.(local|lan|internal|home|corp|example|invalid|test|localdomain)\.?\$/	REJECT private TLD in HELO
RE
	ip netns exec "$HG_LAB_SERVER_NS" postmap -c "$etc" "hash:$etc/helo_access"
	local settings=(
		# The checks, judged at RCPT as helogate judges (smtpd_delay_reject,
		# the default, says it outright), and a HELO required as helogate
		# requires one before RCPT.
		"smtpd_helo_required = yes"
		"smtpd_delay_reject = yes"
		"smtpd_helo_restrictions = reject_invalid_helo_hostname, reject_non_fqdn_helo_hostname, check_helo_access hash:$etc/helo_access, check_helo_access regexp:$etc/helo_regexp"
		# example.org is one of the mix's recipient domains: received here,
		# so a good session's RCPT to it is a 250, not a relay refusal.
		"virtual_mailbox_domains = lab-mail.net example.com example.org"
		# One smtpd process per session in flight: room for all of them
		# (the default, 100, is below a busy server's concurrency).
		"default_process_limit = 200"
		# An smtpd serves 10,000 sessions before it exits (default 100):
		# no fork and exec of a new smtpd every 100 sessions.
		"max_use = 10000"
		# No per-client limits (one client address sends everything) and so
		# no anvil(8) round trips: the defaults would throttle a benchmark.
		"smtpd_client_connection_count_limit = 0"
		"smtpd_client_connection_rate_limit = 0"
		"smtpd_client_message_rate_limit = 0"
		"smtpd_client_recipient_rate_limit = 0"
		"smtpd_client_new_tls_session_rate_limit = 0"
		# No DNS: no reverse look-up of the client (smtpd_peername_lookup,
		# Postfix 2.3 and later; the lab sets it already), none for delivery
		# (smtp_dns_support_level replaces the old disable_dns_lookups), no
		# reject_unknown_* restriction and no DNSBL in the checks.
		"smtpd_peername_lookup = no"
		"smtp_dns_support_level = disabled"
		# No deliberate delays: in_flow_delay (message arrival pacing) and
		# the sleep after errors (a bogus session makes 1-3 errors, below
		# the soft limit anyway; the limits stay at their defaults).
		"in_flow_delay = 0"
		"smtpd_error_sleep_time = 0"
		"smtpd_soft_error_limit = 10"
		"smtpd_hard_error_limit = 20"
	)
	postconf -c "$etc" -e "${settings[@]}"
	ip netns exec "$HG_LAB_SERVER_NS" postfix -c "$etc" reload >/dev/null 2>&1
	# Client ports: many short sessions from one address.
	ip netns exec "$HG_LAB_CLIENT_NS" sysctl -qw net.ipv4.ip_local_port_range="1024 65000" net.ipv4.tcp_tw_reuse=1
	ip netns exec "$HG_LAB_SERVER_NS" sysctl -qw net.ipv4.ip_local_port_range="1024 65000" net.ipv4.tcp_tw_reuse=1
	sleep 1
}

helogate_stop() {
	local pid
	[ -s "$HG_LAB_DIR/helogate.pid" ] || return 0
	pid=$(cat "$HG_LAB_DIR/helogate.pid")
	kill -INT "$pid" 2>/dev/null || return 0
	for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	for _ in $(seq 50); do [ -s "$HG_LAB_LOGDIR/stats.json" ] && break; sleep 0.1; done
}

# One client phase: NS, label, result file; sets $cpu_s (Postfix's CPU).
client_phase() {
	local ns=$1 label=$2 out=$3 c0 c1
	c0=$(server_cpu)
	ip netns exec "$ns" timeout -k 5 $((secs + 30)) "$load" --server "$HG_LAB_SERVER_IP" \
		--concurrency "$conc" --sessions 1000000 --seconds "$secs" --label "$label" \
		--json "$out" | tee -a "$work/report.txt"
	c1=$(server_cpu)
	cpu_s=$(echo "$c1 - $c0" | bc)
}

in_lab() {
	work=$1
	postfix_tune
	# 2. Postfix alone: helogate stopped (its poll loop would take a core).
	helogate_stop
	client_phase "$HG_LAB_SERVER_NS" postfix "$work/postfix.json"
	echo "$cpu_s" >"$work/postfix.cpu"
	# 3. live: helogate inline again, enforce.
	rm -f "$HG_LAB_LOGDIR/stats.json"
	"$root/scripts/netns-lab.sh" restart-bridge --mode enforce >/dev/null
	sleep 1
	client_phase "$HG_LAB_CLIENT_NS" live "$work/live.json"
	echo "$cpu_s" >"$work/live.cpu"
	helogate_stop
	cp "$HG_LAB_LOGDIR/stats.json" "$work/helogate-stats.json" 2>/dev/null || true
}

if [ "${1:-}" = --in-lab ]; then
	shift
	secs=$2 conc=$3
	in_lab "$1"
	exit 0
fi

# ---------------------------------------------------------------- the run

[ "$(id -u)" -eq 0 ] || { echo "bench-postfix: needs root (network namespaces, Postfix)" >&2; exit 2; }
command -v postfix >/dev/null || { echo "bench-postfix: needs postfix (scripts/bootstrap.sh bench)" >&2; exit 2; }
for b in "$load" "$HELOGATE" "$build/bench/helogate-bench"; do
	[ -x "$b" ] || { echo "bench-postfix: no $b (ninja -C build)" >&2; exit 2; }
done
work=$(mktemp -d /tmp/hg-postfix-bench.XXXXXX)
chmod 755 "$work"
# also the harness's DPDK run-time directory (its --file-prefix)
trap 'rm -rf "$work" "/var/run/dpdk/hg-pf-bench-$$"' EXIT

echo "== 1. helogate-bench, smtp-commands (30% bogus, taken over), one worker core"
timeout -k 5 120 "$build/bench/helogate-bench" -l 0,1 --no-huge --no-pci -m 1024 \
	--file-prefix "hg-pf-bench-$$" --log-level warning -- \
	--profile smtp-commands --mode enforce --seconds 3 --no-profile-pass \
	--json "$work/harness.json" | grep -v '^JSON' | tee -a "$work/report.txt"

echo "== 2./3. Postfix alone, then the live path (lab '$HG_LAB_ID', ${secs} s each, $conc sessions in flight)"
HG_LAB_DIR=$work/lab HG_LAB_LOGDIR=$work/lab \
	"$root/scripts/netns-lab.sh" run --quiet-server -- "$0" --in-lab "$work" "$secs" "$conc"

python3 - "$work" "$(nproc)" <<'PY'
import json, os, sys
work, ncpu = sys.argv[1], int(sys.argv[2])
def load(name):
    with open(os.path.join(work, name)) as f:
        return json.loads(f.readlines()[-1])
def num(name):
    with open(os.path.join(work, name)) as f:
        return float(f.read().strip() or 0)
h, p, l = load("harness.json"), load("postfix.json"), load("live.json")
pcpu, lcpu = num("postfix.cpu"), num("live.cpu")
try:
    st = json.load(open(os.path.join(work, "helogate-stats.json")))["total"]
except (OSError, ValueError, KeyError):
    st = {}
# Whole sessions replayed to their end per second on the worker core: each
# is judged at its first RCPT (later RCPTs are further verdicts, counted in
# judged_per_s_per_worker but not here).
hg_core = h["sessions_per_s_per_worker"]
pf_rate = p["judged_per_s"]
pf_cores = pcpu / p["seconds"] if p["seconds"] else 0
pf_per_core = p["judged"] / pcpu if pcpu else 0
rx = st.get("packets", {}).get("received", 0)
live_pps = rx / l["seconds"] if l["seconds"] else 0
rows = [
    ("Postfix smtpd alone (wall, %d vCPU shared with its client)" % ncpu, pf_rate, ""),
    ("Postfix smtpd per busy core (%.2f cores of smtpd & co.)" % pf_cores, pf_per_core, ""),
    ("helogate harness, one worker core (smtp-commands, enforce)", hg_core,
     ("%.0f× Postfix per core; " % (hg_core / pf_per_core) if pf_per_core else "")
     + "%.0f verdicts/s (1-5 RCPTs a session)" % h["judged_per_s_per_worker"]),
    ("live: client → helogate (enforce) → Postfix (wall)", l["judged_per_s"],
     "helogate rx %.0f pkt/s of a %.2f Mpps harness capacity" % (live_pps, h["pps_per_worker"] / 1e6)),
]
print()
print("%-64s %14s" % ("sessions judged per second", "sessions/s"))
for name, v, note in rows:
    print("%-64s %14.0f  %s" % (name, v, note))
mism = lambda r: "%d bogus accepted, %d good rejected, %d lost" % (
    r["bogus_accepted"], r["good_rejected"], r["lost"])
print("verdicts: Postfix %s; live %s; harness verdict counts %s" % (
    mism(p), mism(l), "ok" if h.get("verdicts_ok") else "FAILED"))
bogus_live = sum(v[0] + v[1] + v[2] for k, v in l["by_reason"].items() if k != "ok")
print("helogate (live): %s verdicts, %s sessions taken over of %d bogus sent" % (
    st.get("judged"), st.get("takeovers"), bogus_live))
print("client CPU: %.0f%% of a core (Postfix phase), %.0f%% (live); Postfix CPU in the live phase %.2f cores"
      % (100 * p["client_cpu_s"] / p["seconds"], 100 * l["client_cpu_s"] / l["seconds"],
         lcpu / l["seconds"] if l["seconds"] else 0))
summary = {
    "postfix_sessions_per_s": round(pf_rate, 1), "postfix_cpu_s": pcpu,
    "postfix_cores_busy": round(pf_cores, 3), "postfix_sessions_per_core_s": round(pf_per_core, 1),
    "harness_sessions_per_s_per_core": hg_core,
    "harness_verdicts_per_s_per_core": h["judged_per_s_per_worker"], "harness_pps_per_core": h["pps_per_worker"],
    "live_sessions_per_s": round(l["judged_per_s"], 1), "live_postfix_cpu_s": lcpu,
    "live_helogate_rx_pps": round(live_pps), "live_helogate_judged": st.get("judged"),
    "live_helogate_takeovers": st.get("takeovers"),
    "ratio_per_core": round(hg_core / pf_per_core, 1) if pf_per_core else None,
    "postfix": p, "live": l, "harness": h,
}
line = json.dumps(summary)
print("JSON " + line)
out = os.environ.get("BENCH_JSON")
if out:
    with open(out, "a") as f:
        f.write(line + "\n")
PY
