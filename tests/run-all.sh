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
#   2. the libFuzzer build in $BUILD_FUZZ (CC=clang, -Dfuzz=true) and each
#      fuzz target for FUZZ_SECONDS seconds, one test each.
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
	if [ ! -f "$build_test/build.ninja" ]; then
		if ! meson setup "$build_test" --buildtype=debugoptimized \
			-Db_sanitize=address,undefined -Db_lundef=false \
			-Dmem_debug=true -Dtests=true </dev/null; then
			rm -rf "$build_test"
			fail "build:$build_test(meson setup)"
			return
		fi
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
# The executables that tests/fuzz/meson.build defines, by meson introspection.
fuzz_targets() {
	meson introspect --targets "$build_fuzz" </dev/null | python3 -c '
import json, sys
for t in json.load(sys.stdin):
    if t["type"] == "executable" and "/tests/fuzz/" in t["defined_in"]:
        for f in t["filename"]:
            print(f)
'
}

run_fuzzers() {
	if [ ! -f "$build_fuzz/build.ninja" ]; then
		if ! CC=clang meson setup "$build_fuzz" --buildtype=debugoptimized \
			-Db_sanitize=address,undefined -Db_lundef=false \
			-Dtests=false -Dfuzz=true </dev/null; then
			rm -rf "$build_fuzz"
			fail "build:$build_fuzz(meson setup)"
			return
		fi
	fi
	if ! ninja -C "$build_fuzz" </dev/null; then
		fail "build:$build_fuzz(ninja)"
		return
	fi
	local targets
	targets=$(fuzz_targets) || { fail "fuzz:introspect"; return; }
	if [ -z "$targets" ]; then
		fail "fuzz:no targets in tests/fuzz"
		return
	fi
	local exe name seeds work rc
	for exe in $targets; do
		name=$(basename "$exe")
		# New inputs go to a scratch dir; the committed seeds stay
		# untouched (tests/fuzz/corpus/<name> without the fuzz_ prefix
		# or with it, whichever exists).
		seeds=""
		for d in "tests/fuzz/corpus/$name" \
			"tests/fuzz/corpus/${name#fuzz_}"; do
			[ -d "$d" ] && seeds="$d" && break
		done
		work=$(mktemp -d)
		echo "fuzz: $name for ${fuzz_seconds}s${seeds:+ (seeds $seeds)}"
		"$exe" -max_total_time="$fuzz_seconds" -timeout=10 \
			-rss_limit_mb=2048 -print_final_stats=1 \
			-artifact_prefix="$work/" "$work" $seeds \
			</dev/null >"$work/log" 2>&1
		rc=$?
		if [ $rc -eq 0 ]; then
			passed=$((passed + 1))
			echo "fuzz: $name OK ($(grep -m1 -o 'stat::number_of_executed_units: *[0-9]*' "$work/log" | grep -o '[0-9]*$') runs)"
		else
			fail "fuzz:$name(exit $rc)"
			tail -n 60 "$work/log"
			mkdir -p fuzz-out
			cp "$work"/crash-* "$work"/leak-* "$work"/timeout-* \
				"$work"/oom-* fuzz-out/ 2>/dev/null
			echo "fuzz: $name FAILED; reproducer (if any) in fuzz-out/"
		fi
		rm -rf "$work"
	done
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
