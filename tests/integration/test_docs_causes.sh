#!/usr/bin/env bash
# docs/design.md lists every packet cause of lib/wire/disposition.h in its
# table, so the documented accounting cannot drift from the code.
set -euo pipefail
root=${1:?usage: test_docs_causes.sh SOURCE_ROOT}
missing=0
for cause in $(sed -n 's/^[[:space:]]*X([A-Z_]*, "\([a-z_]*\)".*/\1/p' "$root/lib/wire/disposition.h"); do
	if ! grep -q "^| \`$cause\` |" "$root/docs/design.md"; then
		echo "docs/design.md: cause '$cause' is not in the table"
		missing=1
	fi
done
n=$(grep -c '^[[:space:]]*X([A-Z_]*, "' "$root/lib/wire/disposition.h")
[ "$n" -gt 10 ] || { echo "found only $n causes: the pattern no longer matches"; exit 1; }
[ $missing -eq 0 ] && echo "docs: all $n causes documented"
exit $missing
