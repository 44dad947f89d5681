#!/usr/bin/env bash
# The layering of lib/ (docs/design.md, "Layout"), checked on every test run:
#   - a module includes headers of its own folder or of folders below it,
#     in the order wire < tcp < smtp < judge < filter < dp (synth sits
#     beside dp: it may use everything below filter, and nothing includes it);
#   - only lib/dp includes DPDK headers (rte_*.h), except the files listed in
#     dpdk_allowed, each with its reason.
# Prints one line per violation and exits 1 if there is any.
set -euo pipefail
cd "$(dirname "$0")/../lib"

declare -A rank=([wire]=0 [tcp]=1 [smtp]=2 [judge]=3 [filter]=4 [dp]=5 [synth]=4)
# None today: the policy's RCU (rte_rcu_qsbr) lives in dp/policy_rcu.c.
dpdk_allowed=()

bad=0
for file in */*.[ch]; do
	folder=${file%%/*}
	[ -n "${rank[$folder]:-}" ] || { echo "$file: folder '$folder' has no layer"; bad=1; continue; }
	while IFS= read -r inc; do
		dep=${inc%%/*}
		if [ "$inc" = "$dep" ]; then
			echo "$file: includes \"$inc\" without its folder"
			bad=1
		elif [ -z "${rank[$dep]:-}" ]; then
			echo "$file: includes \"$inc\" from an unknown folder"
			bad=1
		elif [ "$dep" = synth ] && [ "$folder" != synth ]; then
			echo "$file: includes the synthesizer (\"$inc\"): test tooling, not product code"
			bad=1
		elif [ "$dep" != "$folder" ] && [ "${rank[$dep]}" -ge "${rank[$folder]}" ]; then
			echo "$file: includes \"$inc\": $folder may only use folders below it"
			bad=1
		fi
	done < <(sed -n 's/^#include "\([^"]*\)".*/\1/p' "$file")
	if [ "$folder" != dp ] && grep -q '^#include <rte_' "$file"; then
		allowed=0
		for a in "${dpdk_allowed[@]}"; do [ "$a" = "$file" ] && allowed=1; done
		if [ $allowed -eq 0 ]; then
			echo "$file: includes a DPDK header outside lib/dp"
			bad=1
		fi
	fi
done
[ $bad -eq 0 ] && echo "layers: $(ls */*.[ch] | wc -l) files, includes point one way"
exit $bad
