#!/usr/bin/env bash
# The same job done the way a mail administrator would without helogate:
# Postfix smtpd with the equivalent HELO checks, driven by smtp-source over
# loopback with helogate's smtp-mix share of bogus HELOs. Prints sessions
# judged per second (every session is judged: smtpd_delay_reject applies
# the HELO restrictions at RCPT TO, as helogate does).
#
# usage: scripts/bench-postfix.sh [SESSIONS]   (default 2000; bounded, cleans up)
# A private Postfix instance listens on 127.0.0.1:2525 only; nothing else
# is touched. Needs root (Postfix's master) and Debian's postfix package
# (scripts/bootstrap.sh bench).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
n=${1:-2000}
bogus=$((n * 3 / 10))
good=$((n - bogus))
d=$(mktemp -d /tmp/hg-postfix-bench.XXXXXX)
cleanup() {
	postfix -c "$d/etc" stop >/dev/null 2>&1 || true
	sleep 0.5
	rm -rf "$d"
}
trap cleanup EXIT
[ -n "${KEEP:-}" ] && trap - EXIT
chmod 755 "$d"
mkdir -p "$d/etc" "$d/spool" "$d/data"
chown postfix:postfix "$d/data"
sed 's/^smtp      inet/127.0.0.1:2525 inet/' /etc/postfix/master.cf >"$d/etc/master.cf"
grep -v '^#' "$root/tests/data/banlist.txt" | awk 'NF {print $1 " REJECT banned HELO"}' \
	| sed 's/\. REJECT/ REJECT/' >"$d/etc/banned"
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
    check_helo_access hash:$d/etc/banned
smtpd_client_connection_count_limit = 1000
smtpd_client_connection_rate_limit = 0
default_process_limit = 200
smtputf8_enable = no
CONF
postmap -c "$d/etc" "$d/etc/banned"
postfix -c "$d/etc" start >/dev/null 2>&1 || { echo "bench-postfix: Postfix did not start" >&2; exit 1; }
for _ in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/2525) 2>/dev/null && break; sleep 0.1; done

# The bogus names Postfix's checks can catch (reject_non_fqdn_helo_hostname
# and reject_invalid_helo_hostname have no public-suffix or loopback rule).
bogus_names="www server localhost [127.0.0.1] fakedomain.xyz bad!name.example.com"
start=$(date +%s.%N)
timeout 600 smtp-source -s 20 -m "$good" -M mail.example.org -f a@example.org \
	-t user@lab-mail.net 127.0.0.1:2525 &
good_pid=$!
for i in $(seq "$bogus"); do
	set -- $bogus_names
	shift $((i % $#))
	echo "$1"
done | timeout 600 xargs -P 20 -I{} smtp-source -m 1 -M {} -f a@example.org \
	-t user@lab-mail.net 127.0.0.1:2525 2>"$d/bogus.err" || true
wait "$good_pid"
end=$(date +%s.%N)
rejected=$(grep -c 'rejected' "$d/bogus.err" || true)
python3 - "$start" "$end" "$n" "$good" "$bogus" "$rejected" <<'PY'
import sys
start, end = float(sys.argv[1]), float(sys.argv[2])
n, good, bogus, rejected = map(int, sys.argv[3:])
s = end - start
print(f"postfix smtpd: {n} sessions ({good} good, {bogus} bogus, {rejected} rejected) "
      f"in {s:.2f} s = {n / s:.0f} sessions judged per second (2 vCPU, server and client on one host)")
PY
