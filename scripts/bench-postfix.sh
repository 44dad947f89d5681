#!/usr/bin/env bash
# The same job done the way a mail administrator would without helogate:
# Postfix smtpd with the equivalent HELO checks, driven over loopback by
# smtp-source with helogate's smtp-mix share of bogus HELOs (70% good, 30%
# bogus over the classes Postfix can be told about). Prints sessions judged
# per second: every session is judged, at RCPT TO (smtpd_delay_reject), as
# helogate judges it.
#
# usage: scripts/bench-postfix.sh [SESSIONS] [PARALLEL]   (default 4000, 50)
# CLASSES="name:permille ..." replaces the mix (e.g. only bogus names).
# A private Postfix instance (config, queue and data under a temp dir)
# listens on 127.0.0.1:${PORT:-2525} only; nothing else is touched, and it
# is stopped and removed at exit. Bounded: every smtp-source is under
# `timeout` (TIMEOUT_S, default 300). Needs root (Postfix's master) and
# Debian's postfix package (scripts/bootstrap.sh bench).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
n=${1:-4000}
par=${2:-50}
port=${PORT:-2525}
limit=${TIMEOUT_S:-300}
command -v postfix >/dev/null && command -v smtp-source >/dev/null ||
	{ echo "bench-postfix: needs postfix (scripts/bootstrap.sh bench)" >&2; exit 2; }
d=$(mktemp -d /tmp/hg-postfix-bench.XXXXXX)
cleanup() {
	postfix -c "$d/etc" stop >/dev/null 2>&1 || true
	for _ in $(seq 50); do [ -e "$d/spool/pid/master.pid" ] || break; sleep 0.1; done
	rm -rf "$d"
}
trap cleanup EXIT
chmod 755 "$d"
mkdir -p "$d/etc" "$d/spool" "$d/data"
chown postfix:postfix "$d/data"
sed "s/^smtp      inet/127.0.0.1:$port inet/" /etc/postfix/master.cf >"$d/etc/master.cf"
{
	# helogate's banned list
	grep -v '^#' "$root/tests/data/banlist.txt" | awk 'NF {sub(/\.$/, "", $1); print $1 " REJECT banned HELO"}'
	# what an administrator adds for "that's me" HELOs (helogate: server-ip,
	# matches-rcpt, localhost)
	printf '%s REJECT HELO claims to be us\n' lab-mail.net mx.lab-mail.net '[127.0.0.1]' 127.0.0.1 localhost localhost.localdomain
} >"$d/etc/helo_access"
cat >"$d/etc/main.cf" <<CONF
compatibility_level = 3.6
queue_directory = $d/spool
data_directory = $d/data
mail_owner = postfix
myhostname = mx.lab-mail.net
mydestination = lab-mail.net
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
local_recipient_maps =
local_transport = discard:
alias_maps =
alias_database =
maillog_file = $d/maillog
maillog_file_prefixes = $d
smtpd_helo_required = yes
smtpd_delay_reject = yes
smtpd_helo_restrictions = reject_invalid_helo_hostname, reject_non_fqdn_helo_hostname,
    check_helo_access hash:$d/etc/helo_access
smtpd_client_connection_count_limit = 0
smtpd_client_connection_rate_limit = 0
smtpd_client_message_rate_limit = 0
smtpd_client_recipient_rate_limit = 0
default_process_limit = 200
smtputf8_enable = no
CONF
postmap -c "$d/etc" "$d/etc/helo_access"
if (exec 3<>/dev/tcp/127.0.0.1/"$port") 2>/dev/null; then
	echo "bench-postfix: something already listens on 127.0.0.1:$port (PORT=... to choose another)" >&2
	exit 2
fi
postfix -c "$d/etc" start >/dev/null 2>&1 || { echo "bench-postfix: Postfix did not start" >&2; exit 1; }
for _ in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/"$port") 2>/dev/null && break; sleep 0.1; done

# HELO classes: name, share of the sessions (per mille). The bogus names are
# the ones these restrictions can catch; helogate's public-suffix rule
# (rad.internal, wkst.acme.lan) has no Postfix equivalent, and smtp-source
# refuses to send a syntactically invalid name (helogate's `invalid`).
classes=${CLASSES:-"mail.example.org:700 www:60 localhost:60 fakedomain.xyz:60 [127.0.0.1]:60 lab-mail.net:60"}
pids=()
start=$(date +%s.%N)
for c in $classes; do
	helo=${c%:*}
	share=${c##*:}
	m=$((n * share / 1000))
	s=$((par * share / 1000))
	[ "$s" -ge 1 ] || s=1
	timeout "$limit" smtp-source -A -s "$s" -m "$m" -M "$helo" -f a@example.org \
		-t user@lab-mail.net "127.0.0.1:$port" >"$d/out.${#pids[@]}" 2>&1 &
	pids+=($!)
done
rc=0
for p in "${pids[@]}"; do wait "$p" || rc=1; done
end=$(date +%s.%N)
grep -h 'fatal' "$d"/out.* >&2 || true
sleep 1
rejected=$(grep -c 'NOQUEUE: reject: RCPT' "$d/maillog" 2>/dev/null || true)
accepted=$(grep -c 'message-id=' "$d/maillog" 2>/dev/null || true)
python3 - "$start" "$end" "$n" "$rejected" "$accepted" "$rc" <<'PY'
import sys
start, end = float(sys.argv[1]), float(sys.argv[2])
n, rejected, accepted, rc = map(int, sys.argv[3:])
s = end - start
print(f"postfix smtpd: {n} sessions in {s:.2f} s = {n / s:.0f} sessions judged per second "
      f"({rejected} RCPTs rejected for the HELO, {accepted} messages accepted; "
      f"server and clients on the same 2 vCPUs{'; some smtp-source failed' if rc else ''})")
PY
