#!/usr/bin/env bash
# docs/deploy.md and the README stay true to the code:
#   - every relative link in README.md and docs/deploy.md names an existing
#     file, and every #anchor into deploy.md names one of its headings;
#   - deploy.md covers what an operator needs (hugepages, binding, lcores,
#     RSS, NUMA, sizing per 1/10/100 GbE, detect, enforce, rotation, the
#     stop and the watchdog, scale-out);
#   - every /helogate/... telemetry command the docs name is registered,
#     every helogate option they name is in --help, the RSS key they state
#     is the one lib/dp/port.c sets, and the unit settings they quote are
#     the unit's.
# Usage: test_docs_deploy.sh SOURCE_ROOT HELOGATE_BINARY
set -u
src=$1
helogate=$2
deploy=$src/docs/deploy.md
failures=0
fail() {
	echo "FAIL: $*" >&2
	failures=$((failures + 1))
}

# GitHub's anchor of a heading: lower case, punctuation dropped, spaces to '-'.
anchors=$(sed -n 's/^#\{1,6\} //p' "$deploy" | tr 'A-Z' 'a-z' | sed 's/[^a-z0-9 -]//g; s/ /-/g')
for doc in README.md docs/deploy.md; do
	dir=$(dirname "$src/$doc")
	while IFS= read -r link; do
		target=${link%%#*}
		anchor=${link#*#}
		[ "$anchor" = "$link" ] && anchor=
		case $target in http*|mailto*) continue ;; esac
		file=$dir/$target
		[ -z "$target" ] && file=$src/$doc
		[ -e "$file" ] || fail "$doc: link to missing $link"
		if [ -n "$anchor" ] && [ "$(basename "$file")" = deploy.md ]; then
			grep -qx -- "$anchor" <<<"$anchors" || fail "$doc: no heading for #$anchor"
		fi
	done < <(grep -o '](\([^)]*\))' "$src/$doc" | sed 's/^](\(.*\))$/\1/')
done

for topic in dpdk-hugepages.py dpdk-devbind.py vfio-pci isolcpus 0x6D5A --socket-mem \
	'1 GbE' '10 GbE' '100 GbE' 'mode = detect' '/helogate/mode,enforce' logrotate \
	'bypass' WatchdogSec ECMP 'log shipper' dpdk-dumpcap; do
	grep -qF -- "$topic" "$deploy" || fail "deploy.md does not mention '$topic'"
done
grep -q 'deploy.md' "$src/README.md" || fail "README does not point to docs/deploy.md"
grep -q 'docs/events.md' "$src/README.md" || fail "README does not point to docs/events.md"

for cmd in $(grep -ohE '(^|[^a-z./])/helogate/[a-z]+' "$src/README.md" "$deploy" | grep -o '/helogate/[a-z]*' | sort -u); do
	grep -q "\"$cmd\"" "$src/lib/dp/telemetry.c" || fail "docs name $cmd, which is not registered"
done
help=$("$helogate" --help)
# Options after "--" on lines that run helogate itself (not the bench or testpmd).
for opt in $(grep -hE '(^|[ /])helogate [^|]* -- ' "$deploy" "$src/README.md" | sed 's/.* -- //' |
	grep -o -- '--[a-z][a-z-]*' | sort -u); do
	grep -q -- "$opt" <<<"$help" || fail "docs pass helogate $opt, which --help does not list"
done
grep -q '0x6d' "$src/lib/dp/port.c" && grep -q '0x5a' "$src/lib/dp/port.c" ||
	fail "port.c no longer sets the 0x6D5A key deploy.md describes"
for setting in 'Type=notify' 'WatchdogSec=10s' 'Restart=on-failure' 'RestartPreventExitStatus=2'; do
	grep -qx "$setting" "$src/dist/helogate.service.in" || fail "the unit lacks $setting (deploy.md says it has it)"
	grep -qF "${setting#*=}" "$deploy" || fail "deploy.md does not state $setting"
done

[ "$failures" -eq 0 ] || exit 1
echo "docs: deploy.md and README links, topics, commands and options check out"
