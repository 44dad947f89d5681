#!/usr/bin/env bash
# Run every test helogate has, from a fresh machine:
#   1. install missing Debian packages (scripts/bootstrap.sh)
#   2. the default build with -Werror, and every meson test suite in it
#   3. the unit suite again under AddressSanitizer + UndefinedBehaviorSanitizer
#   4. the concurrency suite under ThreadSanitizer
#   5. each libFuzzer target for FUZZ_SECONDS (default 30) under ASan/UBSan
# Ends with one line "N passed, N failed"; exits non-zero if anything failed.
set -uo pipefail
cd "$(dirname "$0")/.."

FUZZ_SECONDS=${FUZZ_SECONDS:-30}
scripts/bootstrap.sh test lab || { echo "test: scripts/bootstrap.sh failed (see above)" >&2; exit 1; }

passed=0
failed=0
failures=()

# configure DIR [meson options...]: set up once, reconfigure afterwards.
configure() {
	local dir=$1
	shift
	if [ -f "$dir/build.ninja" ]; then
		meson configure "$dir" "$@" >/dev/null
	else
		meson setup "$dir" "$@" >/dev/null
	fi
}

# count_meson DIR: add the results of the last 'meson test' in DIR.
count_meson() {
	local log=$1/meson-logs/testlog.json p f
	[ -f "$log" ] || return 0
	p=$(grep -c '"result": "OK"' "$log")
	f=$(grep -c -E '"result": "(FAIL|TIMEOUT|ERROR|UNEXPECTEDPASS)"' "$log")
	passed=$((passed + p))
	failed=$((failed + f))
}

run_suites() {
	local dir=$1 label=$2
	shift 2
	echo "== $label"
	if ! meson test -C "$dir" --print-errorlogs "$@"; then
		failures+=("$label")
	fi
	count_meson "$dir"
}

stage_build() {
	local dir=$1 label=$2
	shift 2
	echo "== build: $label"
	if ! { configure "$dir" "$@" && ninja -C "$dir" >/dev/null; }; then
		echo "build failed: $label" >&2
		ninja -C "$dir" 2>&1 | tail -40
		failures+=("build $label")
		failed=$((failed + 1))
		return 1
	fi
}

if stage_build build "default (werror)" -Dwerror=true; then
	run_suites build "default build: all suites"
fi

if stage_build build-asan "ASan+UBSan" -Dwerror=true -Db_sanitize=address,undefined -Db_lundef=false; then
	UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 ASAN_OPTIONS=detect_leaks=1 \
		run_suites build-asan "ASan+UBSan: unit" --suite unit
fi

if stage_build build-tsan "TSan" -Dwerror=true -Db_sanitize=thread -Db_lundef=false; then
	TSAN_OPTIONS=halt_on_error=1 run_suites build-tsan "TSan: concurrency" --suite concurrency
fi

if [ "$FUZZ_SECONDS" -gt 0 ]; then
	if CC=clang stage_build build-fuzz "libFuzzer (clang, ASan+UBSan)" -Dfuzz=true \
		-Db_sanitize=address,undefined -Db_lundef=false -Dtests=enabled; then
		for target in build-fuzz/tests/fuzz/fuzz_*; do
			[ -f "$target" ] && [ -x "$target" ] || continue
			name=$(basename "$target")
			corpus_src=tests/fuzz/corpus/${name#fuzz_}
			corpus_run=build-fuzz/corpus/$name
			mkdir -p "$corpus_run"
			[ -d "$corpus_src" ] && cp -n "$corpus_src"/* "$corpus_run"/ 2>/dev/null
			echo "== fuzz: $name for ${FUZZ_SECONDS}s"
			if "$target" -max_total_time="$FUZZ_SECONDS" -print_final_stats=0 \
				-artifact_prefix=build-fuzz/ "$corpus_run" >"build-fuzz/$name.log" 2>&1; then
				passed=$((passed + 1))
				tail -1 "build-fuzz/$name.log"
			else
				failed=$((failed + 1))
				failures+=("fuzz $name")
				tail -40 "build-fuzz/$name.log"
			fi
		done
	fi
fi

if [ ${#failures[@]} -gt 0 ]; then
	echo "failed stages: ${failures[*]}"
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ ${#failures[@]} -eq 0 ]
