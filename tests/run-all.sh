#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# run-all.sh - build and run every confab test; the last line is "N passed, N failed".
#
# Usage: tests/run-all.sh [--fuzz-only] [FUZZ_SECONDS]
#
#   1. the ASan+UBSan build in $BUILD_TEST (meson, gcc) and every meson test
#      in it: cmocka unit tests, RFC vector tests, SIPp scenarios; counted
#      from meson-logs/testlog.json (OK/EXPECTEDFAIL pass; FAIL, TIMEOUT,
#      ERROR, SKIP... fail: a test must never skip);
#   2. tests/fuzz/run.sh FUZZ_SECONDS: the libFuzzer build in $BUILD_FUZZ
#      (CC=clang, -Dfuzz=true) and each fuzz target for FUZZ_SECONDS
#      seconds, counted as one test each.
# A build that fails counts as one failed test. Exits 1 if anything failed.
# Called by `make test` and `make fuzz`; runs with no stdin.

set -u
cd "$(dirname "$0")/.." || exit 1

fuzz_only=0
if [ "${1:-}" = "--fuzz-only" ]; then
	fuzz_only=1
	shift
fi
fuzz_seconds=${1:-20}
build_test=${BUILD_TEST:-build-test}
build_fuzz=${BUILD_FUZZ:-build-fuzz}
jobs=${TEST_JOBS:-$(nproc 2>/dev/null || echo 2)}

passed=0
failed=0
failed_names=()

fail() {
	failed=$((failed + 1))
	failed_names+=("$1")
}

# --- 1. unit, vector and scenario tests under ASan+UBSan -----------------
run_meson_tests() {
	local opts=(-Db_sanitize=address,undefined -Db_lundef=false
		-Dmem_debug=true -Dtests=true)
	if [ ! -f "$build_test/build.ninja" ]; then
		if ! meson setup "$build_test" --buildtype=debugoptimized \
			"${opts[@]}" </dev/null; then
			rm -rf "$build_test"
			fail "build:$build_test(meson setup)"
			return
		fi
	elif ! meson configure "$build_test" "${opts[@]}" </dev/null; then
		# an existing directory keeps the sanitizer options
		fail "build:$build_test(meson configure)"
		return
	fi
	if ! ninja -C "$build_test" </dev/null; then
		fail "build:$build_test(ninja)"
		return
	fi
	local log="$build_test/meson-logs/testlog.json"
	rm -f "$log"
	meson test -C "$build_test" --print-errorlogs \
		--num-processes "$jobs" </dev/null
	if [ ! -f "$log" ]; then
		fail "meson test:$build_test(no testlog.json)"
		return
	fi
	local counts
	counts=$(python3 - "$log" <<'EOF'
import json, sys
ok, bad, names = 0, 0, []
with open(sys.argv[1]) as f:
    for line in f:
        line = line.strip()
        if not line:
            continue
        t = json.loads(line)
        if t.get("result") in ("OK", "EXPECTEDFAIL"):
            ok += 1
        else:
            bad += 1
            names.append("%s(%s)" % (t.get("name"), t.get("result")))
print(ok, bad)
print(", ".join(names))
EOF
	) || { fail "count:$log"; return; }
	local ok bad names
	read -r ok bad <<<"$(head -n 1 <<<"$counts")"
	names=$(tail -n +2 <<<"$counts")
	passed=$((passed + ok))
	failed=$((failed + bad))
	[ -n "$names" ] && failed_names+=("$names")
	return 0
}

# --- 2. fuzz targets ---------------------------------------------------------
# tests/fuzz/run.sh builds $build_fuzz if needed and runs every target; it
# prints "fuzz: T for Ns" as each starts and "fuzz: T FAILED" when one fails,
# which is what is counted here: one test per target.
run_fuzzers() {
	local log rc started bad t
	log=$(mktemp)
	BUILD_DIR="$PWD/$build_fuzz" tests/fuzz/run.sh "$fuzz_seconds" \
		</dev/null 2>&1 | tee "$log"
	rc=${PIPESTATUS[0]}
	started=$(grep -c '^fuzz: [^ ]* for ' "$log")
	bad=$(sed -n 's/^fuzz: \([^ ]*\) FAILED.*/\1/p' "$log")
	rm -f "$log"
	for t in $bad; do
		fail "fuzz:$t"
	done
	passed=$((passed + started - $(wc -w <<<"$bad")))
	if [ "$started" -eq 0 ]; then
		fail "fuzz:no target ran (run.sh exit $rc)"
	elif [ "$rc" -ne 0 ] && [ -z "$bad" ]; then
		fail "fuzz:run.sh(exit $rc)"
	fi
}

if [ $fuzz_only -eq 0 ]; then
	run_meson_tests
fi
run_fuzzers

if [ ${#failed_names[@]} -gt 0 ]; then
	(IFS=,; echo "failed: ${failed_names[*]}")
fi
echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
