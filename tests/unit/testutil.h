/* SPDX-License-Identifier: BSD-3-Clause */
/* testutil.h - the leak check every cmocka unit test runs: the live block
 * count (cf_mem_blocks) must be back at its start value after each test. */
#ifndef CF_TESTUTIL_H
#define CF_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

#include <cmocka.h>

#include "core/core.h"
#include "core/core_priv.h"

/* The live blocks when the current test started (one per test program). */
static long cf_test_blocks0;

/* Start of a test: allocation failures off, the live blocks remembered. */
static inline void cf_test_leak_start(void)
{
	cf_mem_fail_after(0);
	cf_test_blocks0 = cf_mem_blocks();
}

/* End of a test: allocation failures off, and the live blocks must be
 * what cf_test_leak_start saw. A leak prints the counts and (mem_debug
 * builds) the live blocks to stderr, then fails the test's assertion. */
static inline void cf_test_leak_check(void)
{
	long now = cf_mem_blocks();

	cf_mem_fail_after(0);
	if (now != cf_test_blocks0) {
		fprintf(stderr, "LEAK: %ld blocks (was %ld)\n", now,
		        cf_test_blocks0);
		cf_mem_debug_dump();
	}
	assert_int_equal(now, cf_test_blocks0);
}

/* The cmocka setup / teardown pair for tests that need nothing else. */
static inline int cf_test_leak_setup(void **state)
{
	(void)state;
	cf_test_leak_start();
	return 0;
}

static inline int cf_test_leak_teardown(void **state)
{
	(void)state;
	cf_test_leak_check();
	return 0;
}

#endif
