#!/usr/bin/env bash
# Integration test of helogate-check, the real binary: every seed example
# through stdin compared byte for byte with the expected output, then the
# error contract (exit 2 and exactly one "helogate-check: " line on stderr),
# per-line flushing, very long lines and write errors.
#
# Usage: test_check_cli.sh HELOGATE_CHECK DATA_DIR
set -u

bin=$1
data=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0

fail() {
	echo "FAIL: $*" >&2
	failures=$((failures + 1))
}

seed_args=(--banlist "$data/check_seeds.banlist" --server-ip 192.0.2.25
	--server-ip 2001:db8::25 --rcpt ' <user123@infomaniak.ch> NOTIFY=NEVER'
	--local-domain ExampleISP.net.)

# 1. Seed examples, byte for byte (NUL, 8-bit, CRLF and a last line without
#    newline included).
"$bin" "${seed_args[@]}" <"$data/check_seeds.in" >"$tmp/out" 2>"$tmp/err"
rc=$?
[ "$rc" -eq 0 ] || fail "seeds: exit status $rc: $(cat "$tmp/err")"
[ -s "$tmp/err" ] && fail "seeds: unexpected stderr: $(cat "$tmp/err")"
if ! cmp -s "$tmp/out" "$data/check_seeds.expected"; then
	fail "seeds: output differs from check_seeds.expected"
	diff -a "$data/check_seeds.expected" "$tmp/out" | head -20 >&2
fi

# 2. Errors: exit status 2, nothing on stdout, one "helogate-check: " line.
expect_usage_error() {
	local what=$1 pattern=$2
	shift 2
	"$bin" "$@" </dev/null >"$tmp/out" 2>"$tmp/err"
	local rc=$?
	[ "$rc" -eq 2 ] || fail "$what: exit status $rc, expected 2"
	[ -s "$tmp/out" ] && fail "$what: unexpected stdout"
	[ "$(wc -l <"$tmp/err")" -eq 1 ] || fail "$what: stderr is not one line: $(cat "$tmp/err")"
	grep -q "^helogate-check: .*$pattern" "$tmp/err" ||
		fail "$what: stderr '$(cat "$tmp/err")' does not match '$pattern'"
}

expect_usage_error "bad option" "--bogus" --bogus
expect_usage_error "bad short option" "-x" -x
expect_usage_error "missing argument" "--banlist" --banlist
expect_usage_error "positional argument" "stray" stray
expect_usage_error "missing banlist file" "$data/no-such.banlist" --banlist "$data/no-such.banlist"
expect_usage_error "invalid banlist file" "check_bad.banlist" --banlist "$data/check_bad.banlist"
expect_usage_error "bad server address" "1.2.3" --server-ip 1.2.3
expect_usage_error "bracketed server address" "192.0.2.1" --server-ip '[192.0.2.1]'
expect_usage_error "bad local domain" "bad name" --local-domain 'bad name'
expect_usage_error "bad rcpt" "--rcpt" --rcpt '<bob@example.com'
expect_usage_error "missing psl file" "$data/no-such.dat" --psl "$data/no-such.dat"
expect_usage_error "invalid psl file" "psl_bad_rule.dat:3:" --psl "$data/psl_bad_rule.dat"
expect_usage_error "newline in argument" "one?two" --server-ip $'one\ntwo'

# 3. --help: usage on stdout, status 0.
"$bin" --help >"$tmp/out" 2>"$tmp/err"
rc=$?
[ "$rc" -eq 0 ] || fail "--help: exit status $rc"
grep -q '^Usage: helogate-check' "$tmp/out" || fail "--help: no usage on stdout"
[ -s "$tmp/err" ] && fail "--help: unexpected stderr"

# 4. Empty input: no output, status 0.
"$bin" </dev/null >"$tmp/out" 2>"$tmp/err" || fail "empty input: exit status $?"
[ -s "$tmp/out" ] && fail "empty input: unexpected output"

# 5. One answer per line as soon as the line is read (flushed per line):
#    ask over a pipe that stays open.
coproc CHECK { "$bin" "${seed_args[@]}"; }
check_pid=$CHECK_PID # bash unsets CHECK_PID as soon as the coprocess exits
for helo in localhost fakedomain.xyz mail.exampledomain.com; do
	printf '%s\n' "$helo" >&"${CHECK[1]}"
	if ! IFS= read -r -t 10 answer <&"${CHECK[0]}"; then
		fail "flush: no answer for '$helo' while stdin is still open"
		break
	fi
done
[ "${answer:-}" = $'ok\tmail.exampledomain.com' ] || fail "flush: last answer '${answer:-}'"
exec {CHECK[1]}>&-
wait "$check_pid" || fail "flush: exit status $?"

# 6. A 4 MiB line is judged whole (no truncation, no split into two lines).
head -c $((4 << 20)) /dev/zero | tr '\0' 'a' >"$tmp/long"
printf '\nwww\n' >>"$tmp/long"
"$bin" <"$tmp/long" >"$tmp/out" || fail "long line: exit status $?"
[ "$(wc -l <"$tmp/out")" -eq 2 ] || fail "long line: expected 2 output lines"
[ "$(head -c 8 "$tmp/out")" = $'invalid\t' ] || fail "long line: not judged invalid"
[ "$(wc -c <"$tmp/out")" -eq $((8 + (4 << 20) + 1 + 13)) ] || fail "long line: output length"
[ "$(tail -n 1 "$tmp/out")" = $'not-fqdn\twww' ] || fail "long line: next line"

# 8. The production policy offline (issue 10): the names real mail servers
#    announce, special-use names, exemptions, the server's own name, and the
#    same INI file helogate reads.
expect_lines() {
	local what=$1 input=$2 want=$3
	shift 3
	printf '%s' "$input" | "$bin" "$@" >"$tmp/out" 2>"$tmp/err"
	local rc=$?
	[ "$rc" -eq 0 ] || fail "$what: exit status $rc: $(cat "$tmp/err")"
	[ "$(cat "$tmp/out")" = "$want" ] || fail "$what: got '$(cat "$tmp/out")', want '$want'"
}
expect_lines "real senders" $'za-smtp-delivery-132.mimecast.co.za\npta-smg2.csir.co.za\nspe11-1.ucebox.co.za\nec2-44-216-146-164.compute-1.amazonaws.com\nrigel.uberspace.de\n' \
	$'ok\tza-smtp-delivery-132.mimecast.co.za\nok\tpta-smg2.csir.co.za\nok\tspe11-1.ucebox.co.za\nok\tec2-44-216-146-164.compute-1.amazonaws.com\nok\trigel.uberspace.de'
expect_lines "special-use" $'router.home.arpa\nmail.onion\n4.3.2.1.in-addr.arpa\nmail.example.com\n' \
	$'not-fqdn\trouter.home.arpa\nnot-fqdn\tmail.onion\nnot-fqdn\t4.3.2.1.in-addr.arpa\nok\tmail.example.com'
expect_lines "exempt client" $'localhost\n' $'allowed\tlocalhost' \
	--allow-clients "$data/allow_clients.txt" --client 203.0.113.5
expect_lines "other client" $'localhost\n' $'localhost\tlocalhost' \
	--allow-clients "$data/allow_clients.txt" --client 203.0.113.200
expect_lines "exempt helo" $'relay3.mimecast.co.za\nrad.internal\nrad2.internal\n' \
	$'allowed\trelay3.mimecast.co.za\nallowed\trad.internal\nnot-fqdn\trad2.internal' \
	--allow-helos "$data/allow_helos.txt"
expect_lines "local name" $'MX.lab-mail.net.\n' $'matches-rcpt\tMX.lab-mail.net.' --local-name mx.lab-mail.net
printf '[helogate]\nbanlist = %s\nallow-helos = %s\nlocal-name = mx.lab-mail.net\nlocal-ip = 192.0.2.25\n' \
	"$data/check_seeds.banlist" "$data/allow_helos.txt" >"$tmp/hg.ini"
expect_lines "config file" $'fakedomain.xyz\nrad.internal\nmx.lab-mail.net\n[192.0.2.25]\n' \
	$'banned\tfakedomain.xyz\nallowed\trad.internal\nmatches-rcpt\tmx.lab-mail.net\nserver-ip\t[192.0.2.25]' \
	--config "$tmp/hg.ini"
expect_usage_error "allow-clients without client" "--client" --allow-clients "$data/allow_clients.txt"
expect_usage_error "bad client" "--client" --client 1.2.3
expect_usage_error "bad allow-clients file" "allow_clients_bad.txt:3: bits set past the prefix length" \
	--allow-clients "$data/allow_clients_bad.txt" --client 192.0.2.1
expect_usage_error "bad allow-helos file" "allow_helos_bad.txt:2:" --allow-helos "$data/allow_helos_bad.txt"
expect_usage_error "bad local name" "--local-name" --local-name '[192.0.2.1]'
printf '[helogate]\nbogus-key = 1\n' >"$tmp/bad.ini"
expect_usage_error "bad config file" "bad.ini:2: unknown key 'bogus-key'" --config "$tmp/bad.ini"

# 7. A write error is reported with status 1, not a crash.
if [ -w /dev/full ]; then
	"$bin" <"$data/check_seeds.in" >/dev/full 2>"$tmp/err"
	rc=$?
	[ "$rc" -eq 1 ] || fail "write error: exit status $rc, expected 1"
	grep -q '^helogate-check: write error' "$tmp/err" || fail "write error: no message"
fi

if [ "$failures" -ne 0 ]; then
	echo "$failures check(s) failed" >&2
	exit 1
fi
echo "all helogate-check checks passed"
