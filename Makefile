# SPDX-License-Identifier: BSD-3-Clause
# confab's two set-up commands (make run, make test), plus make fuzz and clean.
#
# Each target installs the Debian packages it needs when they are missing
# (dpkg-query per package; apt-get update only when something is missing;
# sudo when not root), so a fresh Debian 12 clone needs nothing else.
# Works with no stdin (CI runs `bash .ci/run` with CI=true).

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
MAKEFLAGS += --no-print-directory

# Packages for building and running confabd.
RUN_PKGS := meson ninja-build pkg-config gcc libinih-dev libjansson-dev \
	libssl-dev libsqlite3-dev libc-ares-dev \
	liblua5.4-dev
# Added for the test suite: sanitizer/fuzzer runtimes, cmocka, SIPp, python3,
# stunnel4 and the openssl CLI (the TLS scenarios), and the real clients of
# tests/interop (baresip 1.0, linphonec), dnsmasq (the RFC 3263 scenario),
# Chromium and Node.js (tests/browser: JsSIP in headless Chromium; npm too,
# see browser-deps).
TEST_PKGS := $(RUN_PKGS) clang libclang-rt-14-dev libcmocka-dev sip-tester \
	python3 stunnel4 openssl baresip-core linphone-cli dnsmasq \
	chromium nodejs

BUILD      ?= build
BUILD_TEST ?= build-test
BUILD_FUZZ ?= build-fuzz
# Seconds per fuzz target: short in `make test`, longer in `make fuzz`.
FUZZ_TEST_SECONDS ?= 20
FUZZ_SECONDS      ?= 60
# Parallel meson tests (each scenario starts its own confabd).
TEST_JOBS  ?= $(shell n=$$(nproc 2>/dev/null || echo 2); echo $$n)

.PHONY: run build test fuzz clean deps-run deps-test browser-deps

# Install the packages in $(1) that dpkg does not report as installed.
define apt_install
	missing=""; \
	for p in $(1); do \
		s=$$(dpkg-query -W -f='$${db:Status-Abbrev}' "$$p" 2>/dev/null || true); \
		case "$$s" in ii*) ;; *) missing="$$missing $$p" ;; esac; \
	done; \
	if [ -n "$$missing" ]; then \
		echo "confab: installing Debian packages:$$missing"; \
		if [ "$$(id -u)" -eq 0 ]; then sudo=""; else sudo="sudo"; fi; \
		$$sudo env DEBIAN_FRONTEND=noninteractive apt-get update -q \
			</dev/null || echo "confab: apt-get update failed;" \
			"trying the install with the lists we have"; \
		$$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
			--no-install-recommends $$missing </dev/null; \
	fi
endef

deps-run:
	@$(call apt_install,$(RUN_PKGS))

deps-test:
	@$(call apt_install,$(TEST_PKGS))

# tests/browser's npm modules (jssip, playwright-core, esbuild: exact
# versions in its package-lock.json; playwright never downloads a browser,
# the tests use /usr/bin/chromium). `npm ci` only when node_modules is
# missing or older than the lock file, so a machine that has them runs
# offline. Debian's npm only when no npm is on the PATH (NodeSource's
# nodejs brings its own and conflicts with Debian's).
BROWSER_DIR := tests/browser
browser-deps: deps-test
	@if ! command -v npm >/dev/null; then \
		$(call apt_install,npm); \
	fi
	@lock=$(BROWSER_DIR)/package-lock.json; \
	have=$(BROWSER_DIR)/node_modules/.package-lock.json; \
	if [ ! -f "$$have" ] || [ "$$lock" -nt "$$have" ]; then \
		echo "confab: npm ci in $(BROWSER_DIR)"; \
		cd $(BROWSER_DIR) && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 \
			npm ci --ignore-scripts --no-audit --no-fund </dev/null; \
	fi

# Release build of confabd and confabctl (no unit tests: no cmocka needed).
build: deps-run
	@[ -f $(BUILD)/build.ninja ] || \
		meson setup $(BUILD) --buildtype=release -Dtests=false
	@ninja -C $(BUILD)

# confabd in the foreground on the embedded defaults: loopback listeners,
# data under ./var, the demo domain. It prints what it listens on.
run: build
	@mkdir -p var
	@exec ./$(BUILD)/src/daemon/confabd

# Every test under ASan+UBSan (unit, vectors, SIPp scenarios) and each fuzz
# target for $(FUZZ_TEST_SECONDS) s. The last line is "N passed, N failed";
# the exit status is non-zero when anything failed.
test: deps-test browser-deps
	@BUILD_TEST=$(BUILD_TEST) BUILD_FUZZ=$(BUILD_FUZZ) \
		TEST_JOBS=$(TEST_JOBS) tests/run-all.sh $(FUZZ_TEST_SECONDS)

# The fuzz targets only, $(FUZZ_SECONDS) s each (crashers are kept in
# build-fuzz-crashes/).
fuzz: deps-test
	@BUILD_FUZZ=$(BUILD_FUZZ) tests/run-all.sh --fuzz-only $(FUZZ_SECONDS)

clean:
	rm -rf $(BUILD) $(BUILD_TEST) $(BUILD_FUZZ) build-fuzz-crashes
