/* SPDX-License-Identifier: BSD-3-Clause */
/* test_hash_mix.c - cf_hash_mix32: murmur3's fmix32 over FNV-1a, and the
 * spread it gives the worker choice and the transaction buckets for
 * SIPp-like keys (Call-ID and branch carry the same call number). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/core.h"

static void test_fmix32_values(void **state)
{
	(void)state;
	/* the reference values of MurmurHash3's fmix32 */
	assert_int_equal(cf_hash_mix32(0), 0);
	assert_int_equal(cf_hash_mix32(1), 0x514e28b7u);
	assert_int_equal(cf_hash_mix32(0xdeadbeefu), 0x0de5c6a9u);
}

enum { KEYS = 200000, BUCKETS = 1 << 16 };

/* 200,000 SIPp calls over 2 workers, each with a 2^16-bucket table keyed
 * by the branch: unmixed, each worker's keys land in 31,370 buckets (bit 0
 * of both hashes is the parity of the call number's digits); mixed, in
 * about 51,300 (what random keys give: 65,536 * (1 - e^-1.53)). */
static void test_spread_sipp_keys(void **state)
{
	static uint8_t used[2][BUCKETS];
	size_t per_worker[2] = {0, 0}, buckets[2] = {0, 0};
	char cid[64], br[64];

	(void)state;
	memset(used, 0, sizeof(used));
	for (unsigned i = 0; i < KEYS; i++) {
		int cl = snprintf(cid, sizeof(cid), "%u-12345@127.0.0.1", i);
		int bl = snprintf(br, sizeof(br), "z9hG4bK-12345-%u-0", i);
		unsigned w = cf_hash_mix32(cf_hash_mem(cid, (size_t)cl)) % 2;
		uint32_t b = cf_hash_mix32(cf_hash_mem(br, (size_t)bl)) &
		             (BUCKETS - 1);

		per_worker[w]++;
		if (!used[w][b]++)
			buckets[w]++;
	}
	for (int w = 0; w < 2; w++) {
		assert_in_range(per_worker[w], KEYS / 2 - KEYS / 100,
		                KEYS / 2 + KEYS / 100);
		assert_in_range(buckets[w], 50000, 53000);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_fmix32_values),
	    cmocka_unit_test(test_spread_sipp_keys),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
