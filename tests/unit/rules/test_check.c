/* SPDX-License-Identifier: BSD-3-Clause */
/* test_check.c - the proxy's bad-input decision (src/mod/proxy/check.c,
 * issue 4 point 7): which requests it refuses, with which code and
 * reason, on decoded messages; no stack, no leaks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "mod/proxy/proxy_int.h"

static struct cf_sip_msg *dec(const char *method, const char *hdrs)
{
	char buf[2048];
	struct cf_sip_msg *m = NULL;

	snprintf(buf, sizeof(buf),
	         "%s sip:bob@confab.test SIP/2.0\r\n"
	         "Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKt1\r\n"
	         "Max-Forwards: 70\r\n"
	         "From: <sip:alice@confab.test>;tag=a\r\n"
	         "To: <sip:bob@confab.test>\r\n"
	         "Call-ID: check@test\r\n"
	         "CSeq: 1 %s\r\n"
	         "%s"
	         "Content-Length: 0\r\n\r\n",
	         method, method, hdrs);
	assert_int_equal(cf_sip_msg_decode(&m, (const uint8_t *)buf,
	                                   strlen(buf), CF_SIP_DATAGRAM, NULL),
	                 0);
	return m;
}

/* The decision for one request; the Route count is all check.c reads of
 * the Route set (proxy_routes_decode needs an application). */
static enum proxy_bad verdict(const char *method, const char *hdrs,
                              uint16_t *code, const char **reason)
{
	struct cf_sip_msg *m = dec(method, hdrs);
	struct proxy_routes r;
	enum proxy_bad why;

	memset(&r, 0, sizeof(r));
	r.count = cf_sip_msg_hdr_count(m, CF_SIP_H_ROUTE);
	*code = 0;
	*reason = NULL;
	why = proxy_check_msg(m, &r, code, reason);
	cf_mem_deref(m);
	return why;
}

static void expect(const char *method, const char *hdrs, enum proxy_bad want,
                   uint16_t wcode, const char *wreason)
{
	const char *reason;
	uint16_t code;

	assert_int_equal(verdict(method, hdrs, &code, &reason), want);
	if (want == PROXY_BAD_N)
		return;
	assert_int_equal(code, wcode);
	assert_string_equal(reason, wreason);
}

static void test_contact(void **state)
{
	size_t blocks = cf_mem_blocks();

	(void)state;
	expect("INVITE", "Contact: <sip:alice@127.0.0.1:5070>\r\n", PROXY_BAD_N,
	       0, NULL);
	expect("INVITE", "Contact: \"A\" <sips:alice@[::1]:5071>;expires=9\r\n",
	       PROXY_BAD_N, 0, NULL);
	expect("INVITE", "", PROXY_BAD_CONTACT, 400, "Missing Contact");
	expect("INVITE", "Contact: *\r\n", PROXY_BAD_CONTACT, 400,
	       "Bad Contact");
	expect("INVITE", "Contact: <tel:+4930123>\r\n", PROXY_BAD_CONTACT, 400,
	       "Bad Contact");
	expect("INVITE", "Contact: <http://example.com/>\r\n",
	       PROXY_BAD_CONTACT, 400, "Bad Contact");
	expect("INVITE", "Contact: <sip:a@127.0.0.1>, <sip:b@127.0.0.1>\r\n",
	       PROXY_BAD_CONTACT, 400, "More Than One Contact");
	expect("INVITE",
	       "Contact: <sip:a@127.0.0.1>\r\nContact: <sip:b@127.0.0.1>\r\n",
	       PROXY_BAD_CONTACT, 400, "More Than One Contact");
	/* only an INVITE must have one */
	expect("MESSAGE", "", PROXY_BAD_N, 0, NULL);
	expect("BYE", "", PROXY_BAD_N, 0, NULL);
	assert_int_equal(cf_mem_blocks(), blocks);
}

static void test_route(void **state)
{
	const char *c = "Contact: <sip:alice@127.0.0.1:5070>\r\n";
	char h[256];
	size_t blocks = cf_mem_blocks();

	(void)state;
	snprintf(h, sizeof(h),
	         "%sRoute: <sip:127.0.0.1:5060;lr>, "
	         "<sips:proxy.example.com;lr>\r\n",
	         c);
	expect("INVITE", h, PROXY_BAD_N, 0, NULL);
	snprintf(h, sizeof(h),
	         "%sRoute: <sip:127.0.0.1:5060;lr>\r\n"
	         "Route: <http://example.com/x>\r\n",
	         c);
	expect("INVITE", h, PROXY_BAD_ROUTE_SCHEME, 416,
	       "Unsupported URI Scheme In Route");
	expect("BYE", "Route: <tel:+4930123>\r\n", PROXY_BAD_ROUTE_SCHEME, 416,
	       "Unsupported URI Scheme In Route");
	assert_int_equal(cf_mem_blocks(), blocks);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_contact),
	    cmocka_unit_test(test_route),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
