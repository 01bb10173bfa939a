#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# run.sh SECONDS - run each libFuzzer target for SECONDS against a copy of
# its seed corpus plus its regression files; exit non-zero on a crash.
# Builds build-fuzz (clang, ASan+UBSan) when it is missing. BUILD_DIR
# overrides the build directory.
set -eu

secs=${1:-60}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${BUILD_DIR:-$root/build-fuzz}

if [ ! -f "$build/build.ninja" ]; then
	CC=clang meson setup "$build" "$root" -Dfuzz=true -Dtests=false \
		-Db_sanitize=address,undefined -Db_lundef=false >/dev/null
fi
if ! out=$(ninja -C "$build" tests/fuzz/fuzz_sip_msg tests/fuzz/fuzz_sip_uri \
	tests/fuzz/fuzz_sip_frame tests/fuzz/fuzz_ws_frame tests/fuzz/fuzz_http \
	tests/fuzz/fuzz_stun tests/fuzz/fuzz_digest_chal tests/fuzz/fuzz_flow \
	2>&1); then
	echo "$out"
	echo "fuzz: build failed"
	exit 1
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/cf-fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT
status=0
for t in fuzz_sip_msg fuzz_sip_uri fuzz_sip_frame fuzz_ws_frame fuzz_http \
	fuzz_stun fuzz_digest_chal fuzz_flow; do
	mkdir -p "$work/$t/corpus" "$work/$t/art"
	cp "$here/corpus/$t/"* "$work/$t/corpus/" 2>/dev/null || true
	regress="$here/regress/$t"
	[ -d "$regress" ] || regress=""
	echo "fuzz: $t for ${secs}s"
	if ! UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
		"$build/tests/fuzz/$t" -max_total_time="$secs" -timeout=10 \
		-rss_limit_mb=2048 -max_len=8192 -print_final_stats=0 \
		-artifact_prefix="$work/$t/art/" \
		"$work/$t/corpus" $regress >"$work/$t/log" 2>&1; then
		status=1
		echo "fuzz: $t FAILED; last lines of its log:"
		tail -n 40 "$work/$t/log"
		for f in "$work/$t/art/"*; do
			[ -f "$f" ] || continue
			mkdir -p "$root/build-fuzz-crashes/$t"
			cp "$f" "$root/build-fuzz-crashes/$t/"
			echo "fuzz: crasher kept in build-fuzz-crashes/$t/$(basename "$f")"
		done
	else
		grep -E "^#[0-9]+.*DONE" "$work/$t/log" | tail -n 1 || true
	fi
done
exit $status
