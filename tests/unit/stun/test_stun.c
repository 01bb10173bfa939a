/* SPDX-License-Identifier: BSD-3-Clause */
/* test_stun.c - the STUN codec (src/proto/stun, RFC 8489) against the RFC
 * 5769 test vectors (tests/vectors/rfc5769, byte for byte), bad input at
 * and past every limit, and the encoder round trip. */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "proto/stun/stun.h"

#define PASS_ST "VOkJxbRl1RmTxUk/WvJxBt"

static size_t vec(const char *name, uint8_t *buf, size_t size)
{
	const char *dir = getenv("CF_VECTORS_DIR");
	char path[512];
	FILE *f;
	size_t n;

	assert_non_null(dir);
	snprintf(path, sizeof(path), "%s/rfc5769/%s", dir, name);
	f = fopen(path, "rb");
	if (!f)
		fail_msg("cannot open %s", path);
	n = fread(buf, 1, size, f);
	fclose(f);
	return n;
}

static const uint8_t TID[12] = {0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34,
                                0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae};

static void attr_is(const struct cf_stun_msg *m, uint16_t type, const char *val)
{
	const struct cf_stun_attr *a = cf_stun_attr_get(m, type);

	assert_non_null(a);
	assert_int_equal(a->len, strlen(val));
	assert_memory_equal(a->val, val, a->len);
}

/* 2.1: a Binding request with short-term credentials and FINGERPRINT
 * (USERNAME padded with spaces: padding content is ignored). */
static void test_vec_request(void **state)
{
	uint8_t b[512];
	size_t n = vec("rfc5769-2.1-sample-request.bin", b, sizeof(b)), used;
	struct cf_stun_msg m;

	(void)state;
	assert_int_equal(n, 108);
	assert_true(cf_stun_is(b, n));
	assert_int_equal(cf_stun_decode(&m, b, n, &used), 0);
	assert_int_equal(used, 108);
	assert_int_equal(m.method, CF_STUN_BINDING);
	assert_int_equal(m.cls, CF_STUN_REQUEST);
	assert_memory_equal(m.tid, TID, 12);
	attr_is(&m, CF_STUN_A_SOFTWARE, "STUN test client");
	attr_is(&m, CF_STUN_A_USERNAME, "evtj:h6vY");
	assert_non_null(cf_stun_attr_get(&m, CF_STUN_A_PRIORITY));
	assert_non_null(cf_stun_attr_get(&m, CF_STUN_A_ICE_CONTROLLED));
	assert_true(m.fingerprint);
	assert_int_equal(cf_stun_integrity_check(&m, (const uint8_t *)PASS_ST,
	                                         strlen(PASS_ST)),
	                 0);
	assert_int_equal(cf_stun_integrity_check(&m, (const uint8_t *)"x", 1),
	                 EBADMSG);
	/* PRIORITY, USERNAME and MESSAGE-INTEGRITY are known here */
	{
		const uint16_t known[] = {CF_STUN_A_USERNAME,
		                          CF_STUN_A_MESSAGE_INTEGRITY};

		assert_int_equal(cf_stun_attr_unknown(&m, known, 2),
		                 CF_STUN_A_PRIORITY);
	}
}

/* 2.2 and 2.3: Binding success responses; XOR-MAPPED-ADDRESS gives
 * 192.0.2.1:32853 and [2001:db8:1234:5678:11:2233:4455:6677]:32853. */
static void response(const char *file, size_t len, const char *addr)
{
	uint8_t b[512];
	size_t n = vec(file, b, sizeof(b)), used;
	struct cf_stun_msg m;
	const struct cf_stun_attr *a;
	struct cf_sa sa;
	char s[80];

	assert_int_equal(n, len);
	assert_int_equal(cf_stun_decode(&m, b, n, &used), 0);
	assert_int_equal(m.method, CF_STUN_BINDING);
	assert_int_equal(m.cls, CF_STUN_SUCCESS);
	assert_memory_equal(m.tid, TID, 12);
	attr_is(&m, CF_STUN_A_SOFTWARE, "test vector");
	assert_true(m.fingerprint);
	assert_int_equal(cf_stun_integrity_check(&m, (const uint8_t *)PASS_ST,
	                                         strlen(PASS_ST)),
	                 0);
	a = cf_stun_attr_get(&m, CF_STUN_A_XOR_MAPPED_ADDRESS);
	assert_non_null(a);
	assert_int_equal(cf_stun_addr_decode(&m, a, &sa), 0);
	assert_string_equal(cf_sa_print(&sa, s, sizeof(s)), addr);

	/* our encoder: the same header and XOR-MAPPED-ADDRESS bytes; its
	 * own MESSAGE-INTEGRITY and FINGERPRINT check out (the vector pads
	 * SOFTWARE with a space where we pad with zero, so the MACs differ) */
	{
		uint8_t o[512];
		struct cf_stun_enc e;
		struct cf_stun_msg m2;
		const struct cf_stun_attr *a2;

		assert_int_equal(cf_stun_enc_start(&e, o, sizeof(o),
		                                   CF_STUN_BINDING,
		                                   CF_STUN_SUCCESS, m.tid),
		                 0);
		assert_int_equal(
		    cf_stun_enc_attr(&e, CF_STUN_A_SOFTWARE, "test vector", 11),
		    0);
		assert_int_equal(
		    cf_stun_enc_addr(&e, CF_STUN_A_XOR_MAPPED_ADDRESS, &sa), 0);
		assert_int_equal(cf_stun_enc_integrity(&e,
		                                       (const uint8_t *)PASS_ST,
		                                       strlen(PASS_ST)),
		                 0);
		assert_int_equal(cf_stun_enc_fingerprint(&e), 0);
		assert_int_equal(e.len, len);
		assert_memory_equal(o, b, 4);
		assert_memory_equal(o + 4, b + 4, 16);
		assert_int_equal(cf_stun_decode(&m2, o, e.len, &used), 0);
		a2 = cf_stun_attr_get(&m2, CF_STUN_A_XOR_MAPPED_ADDRESS);
		assert_non_null(a2);
		assert_int_equal(a2->off, a->off);
		assert_memory_equal(o + a2->off, b + a->off, 4 + a->len);
		assert_true(m2.fingerprint);
		assert_int_equal(
		    cf_stun_integrity_check(&m2, (const uint8_t *)PASS_ST,
		                            strlen(PASS_ST)),
		    0);
	}
}

static void test_vec_ipv4(void **state)
{
	(void)state;
	response("rfc5769-2.2-sample-ipv4-response.bin", 80, "192.0.2.1:32853");
}

static void test_vec_ipv6(void **state)
{
	(void)state;
	response("rfc5769-2.3-sample-ipv6-response.bin", 92,
	         "[2001:db8:1234:5678:11:2233:4455:6677]:32853");
}

/* 2.4: long-term credentials; the key is MD5(user:realm:SASLprep(pass)),
 * given by the RFC; no FINGERPRINT. */
static void test_vec_long_term(void **state)
{
	static const uint8_t key[16] = {0xe8, 0xca, 0x7a, 0xd5, 0x9d, 0x5e,
	                                0xb0, 0x51, 0x8e, 0x31, 0x29, 0x11,
	                                0xd2, 0xda, 0xb2, 0xa9};
	uint8_t b[512];
	size_t n = vec("rfc5769-2.4-sample-request-long-term-auth.bin", b,
	               sizeof(b)),
	       used;
	struct cf_stun_msg m;

	(void)state;
	assert_int_equal(n, 116);
	assert_int_equal(cf_stun_decode(&m, b, n, &used), 0);
	assert_false(m.fingerprint);
	attr_is(&m, CF_STUN_A_REALM, "example.org");
	attr_is(&m, CF_STUN_A_NONCE, "f//499k954d6OL34oL9FSTvy64sA");
	assert_int_equal(cf_stun_attr_get(&m, CF_STUN_A_USERNAME)->len, 18);
	assert_int_equal(cf_stun_integrity_check(&m, key, sizeof(key)), 0);
	b[n - 1] ^= 1;
	assert_int_equal(cf_stun_decode(&m, b, n, &used), 0);
	assert_int_equal(cf_stun_integrity_check(&m, key, sizeof(key)),
	                 EBADMSG);
}

/* Bad input: short, not STUN, a broken FINGERPRINT, FINGERPRINT not
 * last, an attribute past the end, the attribute limit and one past. */
static void test_bad(void **state)
{
	uint8_t b[1024], o[1024];
	size_t n = vec("rfc5769-2.1-sample-request.bin", b, sizeof(b)), used;
	struct cf_stun_msg m;
	struct cf_stun_enc e;

	(void)state;
	assert_int_equal(cf_stun_decode(&m, b, 10, &used), ENODATA);
	assert_int_equal(cf_stun_decode(&m, b, n - 1, &used), ENODATA);
	assert_int_equal(used, n);
	assert_false(
	    cf_stun_is((const uint8_t *)"OPTIONS sip:x SIP/2.0\r\n", 23));
	assert_int_equal(cf_stun_decode(&m,
	                                (const uint8_t *)"OPTIONS sip:x "
	                                                 "SIP/2.0\r\n",
	                                23, &used),
	                 EBADMSG);
	assert_int_equal(cf_stun_decode(&m, (const uint8_t *)"\r\n", 2, &used),
	                 ENODATA);
	/* the cookie */
	b[4] ^= 0xff;
	assert_int_equal(cf_stun_decode(&m, b, n, &used), EBADMSG);
	b[4] ^= 0xff;
	/* a bit of SOFTWARE: the FINGERPRINT no longer matches */
	b[30] ^= 1;
	assert_int_equal(cf_stun_decode(&m, b, n, &used), EBADMSG);
	b[30] ^= 1;
	/* an attribute length past the end */
	b[22] = 0x7f;
	assert_int_equal(cf_stun_decode(&m, b, n, &used), EBADMSG);
	b[22] = 0x00;
	assert_int_equal(cf_stun_decode(&m, b, n, &used), 0);

	/* FINGERPRINT, then something */
	assert_int_equal(cf_stun_enc_start(&e, o, sizeof(o), CF_STUN_BINDING,
	                                   CF_STUN_REQUEST, TID),
	                 0);
	assert_int_equal(cf_stun_enc_fingerprint(&e), 0);
	assert_int_equal(cf_stun_enc_attr(&e, CF_STUN_A_SOFTWARE, "x", 1), 0);
	assert_int_equal(cf_stun_decode(&m, o, e.len, &used), EBADMSG);

	/* CF_STUN_ATTR_MAX attributes, then one more */
	assert_int_equal(cf_stun_enc_start(&e, o, sizeof(o), CF_STUN_BINDING,
	                                   CF_STUN_REQUEST, TID),
	                 0);
	for (int i = 0; i < CF_STUN_ATTR_MAX; i++)
		assert_int_equal(cf_stun_enc_attr(&e, 0x8030, "ab", 2), 0);
	assert_int_equal(cf_stun_decode(&m, o, e.len, &used), 0);
	assert_int_equal(m.attrc, CF_STUN_ATTR_MAX);
	assert_int_equal(cf_stun_enc_attr(&e, 0x8030, "ab", 2), 0);
	assert_int_equal(cf_stun_decode(&m, o, e.len, &used), EBADMSG);
	/* a bad address family */
	{
		struct cf_stun_attr a = {CF_STUN_A_XOR_MAPPED_ADDRESS,
		                         (const uint8_t *)"\0\3\0\0\1\2\3\4", 8,
		                         20};
		struct cf_sa sa;

		assert_int_equal(cf_stun_addr_decode(&m, &a, &sa), EBADMSG);
	}
}

/* The Binding success of the SIP port's responder, IPv4 and IPv6, an
 * ERROR-CODE round trip, and a buffer too small. */
static void test_encode(void **state)
{
	static const char *const addrs[] = {"127.0.0.1:5070", "[::1]:40000"};
	uint8_t req[64], o[256];
	struct cf_stun_enc e;
	struct cf_stun_msg m, r;
	size_t used, len;

	(void)state;
	assert_int_equal(cf_stun_enc_start(&e, req, sizeof(req),
	                                   CF_STUN_BINDING, CF_STUN_REQUEST,
	                                   TID),
	                 0);
	assert_int_equal(cf_stun_enc_fingerprint(&e), 0);
	assert_int_equal(cf_stun_decode(&m, req, e.len, &used), 0);
	assert_true(m.fingerprint);
	for (size_t i = 0; i < 2; i++) {
		struct cf_sa sa, got;
		char s[64];

		assert_int_equal(cf_sa_decode(&sa, addrs[i]), 0);
		assert_int_equal(cf_stun_binding_success(o, sizeof(o), &len, &m,
		                                         &sa, "confab"),
		                 0);
		assert_int_equal(cf_stun_decode(&r, o, len, &used), 0);
		assert_int_equal(r.cls, CF_STUN_SUCCESS);
		assert_memory_equal(r.tid, TID, 12);
		assert_true(r.fingerprint);
		assert_int_equal(
		    cf_stun_addr_decode(
		        &r, cf_stun_attr_get(&r, CF_STUN_A_XOR_MAPPED_ADDRESS),
		        &got),
		    0);
		assert_string_equal(cf_sa_print(&got, s, sizeof(s)), addrs[i]);
		assert_int_equal(cf_stun_binding_success(o, len - 1, &len, &m,
		                                         &sa, "confab"),
		                 ENOMEM);
	}
	/* only a request gets one */
	assert_int_equal(cf_stun_binding_success(o, sizeof(o), &len, &r,
	                                         &(struct cf_sa){0}, NULL),
	                 EINVAL);

	assert_int_equal(cf_stun_enc_start(&e, o, sizeof(o), CF_STUN_BINDING,
	                                   CF_STUN_ERROR, TID),
	                 0);
	assert_int_equal(cf_stun_enc_error(&e, 420, "Unknown Attribute"), 0);
	assert_int_equal(cf_stun_enc_error(&e, 700, "x"), EINVAL);
	assert_int_equal(cf_stun_decode(&r, o, e.len, &used), 0);
	assert_int_equal(r.cls, CF_STUN_ERROR);
	{
		uint16_t code;
		struct cf_pl why;

		assert_int_equal(cf_stun_error_decode(
		                     cf_stun_attr_get(&r, CF_STUN_A_ERROR_CODE),
		                     &code, &why),
		                 0);
		assert_int_equal(code, 420);
		assert_int_equal(why.l, 17);
	}
	/* the CRC of "123456789" (the check value of CRC-32) */
	assert_int_equal(cf_stun_crc32((const uint8_t *)"123456789", 9),
	                 0xCBF43926u);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_vec_request),
	    cmocka_unit_test(test_vec_ipv4),
	    cmocka_unit_test(test_vec_ipv6),
	    cmocka_unit_test(test_vec_long_term),
	    cmocka_unit_test(test_bad),
	    cmocka_unit_test(test_encode),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
