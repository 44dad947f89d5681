#!/usr/bin/env bash
# Every C file of the tree is formatted as .clang-format says (clang-format
# from Debian 12, version 14). Prints the files that differ; exits 1 if any.
# Fix with: scripts/check-format.sh --fix
set -euo pipefail
cd "$(dirname "$0")/.."
fmt=$(command -v clang-format-14 || command -v clang-format || true)
[ -n "$fmt" ] || { echo "check-format: clang-format is missing (scripts/bootstrap.sh test)"; exit 77; }
mapfile -t files < <(git ls-files '*.c' '*.h')
if [ "${1:-}" = "--fix" ]; then
	"$fmt" -i "${files[@]}"
	exit 0
fi
bad=0
for f in "${files[@]}"; do
	if ! "$fmt" --dry-run -Werror "$f" >/dev/null 2>&1; then
		echo "check-format: $f differs from .clang-format (scripts/check-format.sh --fix)"
		bad=1
	fi
done
[ $bad -eq 0 ] && echo "format: ${#files[@]} files as .clang-format says"
exit $bad
