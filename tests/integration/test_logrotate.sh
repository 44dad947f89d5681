#!/usr/bin/env bash
# dist/helogate.logrotate with the real logrotate: the rule parses, and a
# forced rotation moves the file, creates a new empty one (mode 0640) and
# runs the postrotate command (here: a marker instead of systemctl reload);
# the moved file keeps every line. Skipped (77) without logrotate.
#
# Usage: test_logrotate.sh SOURCE_ROOT
set -u
rule=$1/dist/helogate.logrotate
command -v logrotate >/dev/null || { echo "logrotate not installed: skipped"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0
fail() {
	echo "FAIL: $*" >&2
	failures=$((failures + 1))
}

grep -v '^#' "$rule" | grep -q copytruncate && fail "the rule uses copytruncate"
grep -q '^[[:space:]]*create 0640' "$rule" || fail "the rule does not 'create' the file"
grep -q 'systemctl reload helogate.service' "$rule" || fail "postrotate does not reload helogate"
logrotate -d -s "$tmp/state.d" "$rule" >"$tmp/debug" 2>&1 || fail "logrotate -d: $(cat "$tmp/debug")"
grep -qi 'error' "$tmp/debug" && fail "logrotate -d reports an error: $(grep -i error "$tmp/debug")"

# The same rule on a file of ours: path, owner and postrotate command replaced.
sed -e "s|/var/log/helogate/events.jsonl|$tmp/events.jsonl|" \
	-e "s|create 0640 root adm|create 0640|" \
	-e "s|systemctl reload helogate.service.*|touch $tmp/reloaded|" "$rule" >"$tmp/rule"
chmod 644 "$tmp/rule"
printf '{"n":1}\n{"n":2}\n' >"$tmp/events.jsonl"
logrotate -f -s "$tmp/state" "$tmp/rule" >"$tmp/out" 2>&1 || fail "logrotate -f: $(cat "$tmp/out")"
[ -f "$tmp/reloaded" ] || fail "postrotate did not run"
[ "$(cat "$tmp/events.jsonl.1" 2>/dev/null)" = $'{"n":1}\n{"n":2}' ] || fail "the moved file lost lines"
[ -f "$tmp/events.jsonl" ] && [ ! -s "$tmp/events.jsonl" ] || fail "no new empty events file"
[ "$(stat -c %a "$tmp/events.jsonl" 2>/dev/null)" = 640 ] || fail "the new file's mode is not 0640"

[ "$failures" -eq 0 ] || exit 1
echo "logrotate: all checks passed"
