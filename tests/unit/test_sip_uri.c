/* SPDX-License-Identifier: BSD-3-Clause */
/* test_sip_uri.c - value decoders of the SIP codec: header ids and compact
 * forms, methods, URIs (RFC 3261 §19.1, RFC 5118), name-addr/addr-spec,
 * Via, parameters, URI comparison and printing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <stdlib.h>

#include "proto/sip/sip.h"
#include "vec_util.h"
#include "testutil.h"

#define PLEQ(pl, s)                                                            \
	do {                                                                   \
		struct cf_pl t_ = (pl);                                        \
		assert_true(pl_is(&t_, (s)));                                  \
	} while (0)

static struct cf_pl P(const char *s) {
	struct cf_pl pl;
	cf_pl_set_str(&pl, s);
	return pl;
}

static void
t_hdr_ids(void **state)
{
	static const struct {
		const char *name;
		enum cf_sip_hdr_id id;
	} t[] = {
	    {"Via", CF_SIP_H_VIA},
	    {"v", CF_SIP_H_VIA},
	    {"VIA", CF_SIP_H_VIA},
	    {"i", CF_SIP_H_CALL_ID},
	    {"call-id", CF_SIP_H_CALL_ID},
	    {"m", CF_SIP_H_CONTACT},
	    {"f", CF_SIP_H_FROM},
	    {"T", CF_SIP_H_TO},
	    {"l", CF_SIP_H_CONTENT_LENGTH},
	    {"k", CF_SIP_H_SUPPORTED},
	    {"c", CF_SIP_H_CONTENT_TYPE},
	    {"e", CF_SIP_H_CONTENT_ENCODING},
	    {"s", CF_SIP_H_SUBJECT},
	    {"o", CF_SIP_H_EVENT},
	    {"r", CF_SIP_H_REFER_TO},
	    {"b", CF_SIP_H_REFERRED_BY},
	    {"x", CF_SIP_H_SESSION_EXPIRES},
	    {"y", CF_SIP_H_IDENTITY},
	    {"a", CF_SIP_H_ACCEPT_CONTACT},
	    {"j", CF_SIP_H_REJECT_CONTACT},
	    {"d", CF_SIP_H_REQUEST_DISPOSITION},
	    {"u", CF_SIP_H_OTHER},
	    {"z", CF_SIP_H_OTHER},
	    {"Cseq", CF_SIP_H_CSEQ},
	    {"max-FORWARDS", CF_SIP_H_MAX_FORWARDS},
	    {"Record-Route", CF_SIP_H_RECORD_ROUTE},
	    {"Route", CF_SIP_H_ROUTE},
	    {"Routes", CF_SIP_H_OTHER},
	    {"Rout", CF_SIP_H_OTHER},
	    {"RAck", CF_SIP_H_RACK},
	    {"RSeq", CF_SIP_H_RSEQ},
	    {"WWW-Authenticate", CF_SIP_H_WWW_AUTHENTICATE},
	    {"X-Custom", CF_SIP_H_OTHER},
	};
	(void)state;

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct cf_pl n = P(t[i].name);
		assert_int_equal(cf_sip_hdr_id_decode(&n), t[i].id);
	}
	/* every id's own name maps back to it */
	for (int id = 1; id < CF_SIP_H__COUNT; id++) {
		struct cf_pl n = P(cf_sip_hdr_name(id));
		assert_true(n.l > 0);
		assert_int_equal(cf_sip_hdr_id_decode(&n), id);
	}
	assert_string_equal(cf_sip_hdr_name(CF_SIP_H__COUNT), "");
}

static void t_methods(void **state)
{
	struct cf_pl m;
	(void)state;

	for (int id = 1; id <= CF_SIP_M_UPDATE; id++) {
		m = P(cf_sip_method_name(id));
		assert_int_equal(cf_sip_method_decode(&m), id);
	}
	m = P("invite"); /* methods are case-sensitive */
	assert_int_equal(cf_sip_method_decode(&m), CF_SIP_M_OTHER);
	m = P("INVITES");
	assert_int_equal(cf_sip_method_decode(&m), CF_SIP_M_OTHER);
	m = P("REGISTE");
	assert_int_equal(cf_sip_method_decode(&m), CF_SIP_M_OTHER);
	assert_string_equal(cf_sip_reason(404), "Not Found");
	assert_string_equal(cf_sip_reason(513), "Message Too Large");
	assert_string_equal(cf_sip_reason(499), "Client Error");
	assert_non_null(cf_sip_reason(0));
}

static void t_uri_sip(void **state)
{
	struct cf_sip_uri u;
	struct cf_pl pl = P("sips:alice:secret@Example.COM:5061;transport=tcp;"
	                    "lr?subject=x&priority=urgent");
	struct cf_pl v;
	(void)state;

	assert_int_equal(cf_sip_uri_decode(&u, &pl), 0);
	assert_int_equal(u.scheme, CF_SIP_SCHEME_SIPS);
	PLEQ(u.user, "alice");
	PLEQ(u.password, "secret");
	PLEQ(u.host, "Example.COM");
	assert_int_equal(u.port, 5061);
	assert_false(u.host_v6);
	PLEQ(u.params, "transport=tcp;lr");
	PLEQ(u.headers, "subject=x&priority=urgent");
	assert_int_equal(cf_sip_param_get(&u.params, "TRANSPORT", &v), 0);
	PLEQ(v, "tcp");
	assert_true(cf_sip_param_exists(&u.params, "lr"));
	assert_int_equal(cf_sip_param_get(&u.params, "maddr", &v), ENOENT);

	pl = P("sip:[2001:db8::1]:5070;maddr=[::1]");
	assert_int_equal(cf_sip_uri_decode(&u, &pl), 0);
	PLEQ(u.host, "2001:db8::1");
	assert_true(u.host_v6);
	assert_int_equal(u.port, 5070);
	assert_int_equal(u.user.l, 0);

	pl = P("sip:host.example.com");
	assert_int_equal(cf_sip_uri_decode(&u, &pl), 0);
	PLEQ(u.host, "host.example.com");
	assert_int_equal(u.port, 0);

	pl = P("tel:+1-201-555-0123;phone-context=example.com");
	assert_int_equal(cf_sip_uri_decode(&u, &pl), 0);
	assert_int_equal(u.scheme, CF_SIP_SCHEME_TEL);
	PLEQ(u.user, "+1-201-555-0123");
	PLEQ(u.params, "phone-context=example.com");

	pl = P("urn:service:sos");
	assert_int_equal(cf_sip_uri_decode(&u, &pl), 0);
	assert_int_equal(u.scheme, CF_SIP_SCHEME_OTHER);
	PLEQ(u.scheme_pl, "urn");
}

static void t_uri_bad(void **state)
{
	static const char *const bad[] = {"",
	                                  "sip:",
	                                  "sip",
	                                  ":x",
	                                  "1sip:host",
	                                  "sip:host:",
	                                  "sip:host:0",
	                                  "sip:host:65536",
	                                  "sip:host:5o60",
	                                  "sip:2001:db8::10",
	                                  "sip:[2001:db8::10",
	                                  "sip:[]",
	                                  "sip:[2001:zz::1]",
	                                  "sip:[1.2.3.4]",
	                                  "sip:@host",
	                                  "sip:a b@host",
	                                  "sip:host;;lr",
	                                  "sip:host;lr;",
	                                  "sip:host?",
	                                  "sip:<host>",
	                                  "sip:host\r\n",
	                                  "sip:host;a=\"b\"",
	                                  "tel:",
	                                  "tel:;x",
	                                  "x:a b"};
	struct cf_sip_uri u;
	(void)state;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct cf_pl pl = P(bad[i]);
		if (cf_sip_uri_decode(&u, &pl) != EBADMSG)
			fprintf(stderr, "accepted: %s\n", bad[i]);
		assert_int_equal(cf_sip_uri_decode(&u, &pl), EBADMSG);
	}
	assert_int_equal(cf_sip_uri_decode(NULL, NULL), EINVAL);
}

/* CF_SIP_URI_MAX: at the limit and one past it. */
static void t_uri_max(void **state)
{
	char *s = malloc(CF_SIP_URI_MAX + 2);
	struct cf_sip_uri u;
	struct cf_pl pl;
	(void)state;

	memcpy(s, "sip:", 4);
	memset(s + 4, 'a', CF_SIP_URI_MAX - 4);
	s[CF_SIP_URI_MAX] = 0;
	pl = P(s);
	assert_int_equal(pl.l, CF_SIP_URI_MAX);
	assert_int_equal(cf_sip_uri_decode(&u, &pl), 0);
	assert_int_equal(u.host.l, CF_SIP_URI_MAX - 4);
	s[CF_SIP_URI_MAX] = 'a';
	s[CF_SIP_URI_MAX + 1] = 0;
	pl = P(s);
	assert_int_equal(cf_sip_uri_decode(&u, &pl), EBADMSG);
	free(s);
}

static int ucmp(const char *a, const char *b)
{
	struct cf_sip_uri ua, ub;
	struct cf_pl pa = P(a), pb = P(b);
	assert_int_equal(cf_sip_uri_decode(&ua, &pa), 0);
	assert_int_equal(cf_sip_uri_decode(&ub, &pb), 0);
	return cf_sip_uri_cmp(&ua, &ub);
}

/* RFC 3261 §19.1.4 examples */
static void t_uri_cmp(void **state)
{
	(void)state;
	assert_int_equal(ucmp("sip:%61lice@atlanta.com;transport=TCP",
	                      "sip:alice@AtLanTa.CoM;Transport=tcp"),
	                 0);
	assert_int_equal(
	    ucmp("sip:carol@chicago.com", "sip:carol@chicago.com;newparam=5"),
	    0);
	assert_int_equal(ucmp("sip:carol@chicago.com;security=on",
	                      "sip:carol@chicago.com;newparam=5"),
	                 0);
	assert_int_equal(ucmp("sip:biloxi.com;transport=tcp;method=REGISTER?to="
	                      "sip:bob%40biloxi.com",
	                      "sip:biloxi.com;method=REGISTER;transport=tcp?to="
	                      "sip:bob%40biloxi.com"),
	                 0);
	assert_int_equal(
	    ucmp("sip:alice@atlanta.com?subject=project%20x&priority=urgent",
	         "sip:alice@atlanta.com?priority=urgent&subject=project%20x"),
	    0);
	assert_int_not_equal(ucmp("SIP:ALICE@AtLanTa.CoM;Transport=udp",
	                          "sip:alice@AtLanTa.CoM;Transport=UDP"),
	                     0);
	assert_int_not_equal(
	    ucmp("sip:bob@biloxi.com", "sip:bob@biloxi.com:5060"), 0);
	assert_int_not_equal(
	    ucmp("sip:bob@biloxi.com", "sip:bob@biloxi.com;transport=udp"), 0);
	assert_int_not_equal(ucmp("sip:carol@chicago.com;newparam=5",
	                          "sip:carol@chicago.com;newparam=6"),
	                     0);
	assert_int_not_equal(
	    ucmp("sip:carol@chicago.com",
	         "sip:carol@chicago.com?Subject=next%20meeting"),
	    0);
	assert_int_not_equal(ucmp("sip:a@h", "sips:a@h"), 0);
}

static void t_uri_print(void **state)
{
	static const char *const t[] = {"sip:alice:pw@example.com:5060;lr?h=v",
	                                "sip:[::1]:5070", "tel:+123;x=y",
	                                "urn:a:b", "sips:host;transport=tls"};
	(void)state;

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct cf_mbuf *mb = NULL;
		struct cf_sip_uri u;
		struct cf_pl pl = P(t[i]);

		assert_int_equal(cf_sip_uri_decode(&u, &pl), 0);
		assert_int_equal(cf_mbuf_alloc(&mb, 8), 0);
		assert_int_equal(cf_sip_uri_print(mb, &u), 0);
		assert_int_equal(mb->end, pl.l);
		assert_memory_equal(mb->buf, t[i], pl.l);
		cf_mem_deref(mb);
	}
}

static void t_addr(void **state)
{
	struct cf_sip_addr a;
	struct cf_pl pl, v;
	(void)state;

	pl = P(
	    "\"Bob \\\"B\\\" Smith\" <sip:bob@example.com;lr>;tag=a6c8;q=0.5");
	assert_int_equal(cf_sip_addr_decode(&a, &pl), 0);
	PLEQ(a.dname, "Bob \\\"B\\\" Smith");
	PLEQ(a.uri.user, "bob");
	PLEQ(a.uri.params, "lr");
	PLEQ(a.params, "tag=a6c8;q=0.5");
	PLEQ(a.tag, "a6c8");
	assert_int_equal(cf_sip_param_get(&a.params, "q", &v), 0);
	PLEQ(v, "0.5");

	pl = P("Anonymous Caller <sip:c@[2001:db8::1]:5060>");
	assert_int_equal(cf_sip_addr_decode(&a, &pl), 0);
	PLEQ(a.dname, "Anonymous Caller");
	PLEQ(a.uri.host, "2001:db8::1");
	assert_int_equal(a.uri.port, 5060);
	assert_int_equal(a.tag.l, 0);

	pl = P("sip:carol@chicago.com;tag=887s ");
	assert_int_equal(cf_sip_addr_decode(&a, &pl), 0);
	PLEQ(a.uri.all, "sip:carol@chicago.com");
	assert_int_equal(a.uri.params.l, 0);
	PLEQ(a.tag, "887s");

	pl = P("<sip:x@y>");
	assert_int_equal(cf_sip_addr_decode(&a, &pl), 0);
	assert_int_equal(a.dname.l, 0);
	assert_int_equal(a.params.l, 0);

	pl = P(" * ");
	assert_int_equal(cf_sip_addr_decode(&a, &pl), 0);
	assert_true(a.wildcard);
}

static void t_addr_bad(void **state)
{
	static const char *const bad[] = {"",
	                                  "\"open <sip:a@b>",
	                                  "<sip:a@b",
	                                  "< sip:a@b>",
	                                  "<sip:a@b >",
	                                  "Bell, Alexander <sip:a@b>",
	                                  "sip:a@b?Route=x",
	                                  "sip:a@b;",
	                                  "<sip:a@b>;;",
	                                  "<sip:a@b>;tag",
	                                  "<sip:a@b> x",
	                                  "sip:a@b x",
	                                  "\"x\" sip:a@b",
	                                  "<>"};
	struct cf_sip_addr a;
	(void)state;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct cf_pl pl = P(bad[i]);
		if (cf_sip_addr_decode(&a, &pl) != EBADMSG)
			fprintf(stderr, "accepted: %s\n", bad[i]);
		assert_int_equal(cf_sip_addr_decode(&a, &pl), EBADMSG);
	}
}

static void t_via(void **state)
{
	struct cf_sip_via v;
	struct cf_pl pl;
	(void)state;

	pl = P("SIP/2.0/UDP 192.0.2.1:5062;branch=z9hG4bK776;rport;"
	       "received=[2001:db8::9];maddr=224.2.0.1;ttl=16, SIP/2.0/TCP x");
	assert_int_equal(cf_sip_via_decode(&v, &pl), 0);
	PLEQ(v.proto, "SIP/2.0");
	PLEQ(v.transport, "UDP");
	PLEQ(v.host, "192.0.2.1");
	assert_int_equal(v.port, 5062);
	PLEQ(v.branch, "z9hG4bK776");
	assert_true(v.rport);
	assert_int_equal(v.rport_val.l, 0);
	PLEQ(v.received, "2001:db8::9");
	PLEQ(v.maddr, "224.2.0.1");
	PLEQ(v.ttl, "16");
	PLEQ(v.val, "SIP/2.0/UDP 192.0.2.1:5062;branch=z9hG4bK776;rport;"
	            "received=[2001:db8::9];maddr=224.2.0.1;ttl=16");

	pl = P("SIP / 2.0 / TLS [::1] : 5061 ; rport = 1234 ; received=::1");
	assert_int_equal(cf_sip_via_decode(&v, &pl), 0);
	PLEQ(v.transport, "TLS");
	PLEQ(v.host, "::1");
	assert_true(v.host_v6);
	assert_int_equal(v.port, 5061);
	assert_true(v.rport);
	PLEQ(v.rport_val, "1234");
	PLEQ(v.received, "::1");
	assert_int_equal(v.branch.l, 0);
}

static void t_via_bad(void **state)
{
	static const char *const bad[] = {"",
	                                  "SIP/2.0 host",
	                                  "SIP/2.0/UDP",
	                                  "SIP/2.0/UDP ;branch=x",
	                                  "SIP/2.0/UDP h;;",
	                                  "SIP/2.0/UDP h;",
	                                  "SIP/2.0/UDP h;branch=",
	                                  "SIP/2.0/UDP h:99999",
	                                  "SIP/2.0/UDP h;rport=x",
	                                  "SIP/2.0/UDP h;ttl=300",
	                                  "SIP/2.0/UDP [::1",
	                                  "SIP/2.0/UDP h x",
	                                  "SIP/2.0/UDP 192.0.2.15;;,;,,"};
	struct cf_sip_via v;
	(void)state;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct cf_pl pl = P(bad[i]);
		if (cf_sip_via_decode(&v, &pl) != EBADMSG)
			fprintf(stderr, "accepted: %s\n", bad[i]);
		assert_int_equal(cf_sip_via_decode(&v, &pl), EBADMSG);
	}
}

static void t_params(void **state)
{
	struct cf_pl pl = P(" a = 1 ;b; c=\"x;y\" ;d=[::1];E=f"), v;
	(void)state;

	assert_int_equal(cf_sip_param_get(&pl, "a", &v), 0);
	PLEQ(v, "1");
	assert_int_equal(cf_sip_param_get(&pl, "b", &v), 0);
	assert_int_equal(v.l, 0);
	assert_int_equal(cf_sip_param_get(&pl, "c", &v), 0);
	PLEQ(v, "\"x;y\"");
	assert_int_equal(cf_sip_param_get(&pl, "d", &v), 0);
	PLEQ(v, "[::1]");
	assert_int_equal(cf_sip_param_get(&pl, "e", &v), 0);
	PLEQ(v, "f");
	assert_int_equal(cf_sip_param_get(&pl, "y", &v), ENOENT);
	pl = P("");
	assert_int_equal(cf_sip_param_get(&pl, "a", &v), ENOENT);
	pl = P("a;;b");
	assert_int_equal(cf_sip_param_get(&pl, "b", &v), EBADMSG);
	pl = P("a=\"open");
	assert_int_equal(cf_sip_param_get(&pl, "a", &v), EBADMSG);
}

static void t_rand(void **state)
{
	char a[17], b[17];
	(void)state;

	cf_sip_rand_token(a, 16);
	cf_sip_rand_token(b, 16);
	assert_int_equal(strlen(a), 16);
	assert_string_not_equal(a, b);
	for (size_t i = 0; i < 16; i++)
		assert_true((a[i] >= 'a' && a[i] <= 'z') ||
		            (a[i] >= 'A' && a[i] <= 'Z') ||
		            (a[i] >= '0' && a[i] <= '9'));
}

#define T(f)                                                                   \
	cmocka_unit_test_setup_teardown(f, cf_test_leak_setup,                 \
	                                cf_test_leak_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
	    T(t_hdr_ids),  T(t_methods), T(t_uri_sip),   T(t_uri_bad),
	    T(t_uri_max),  T(t_uri_cmp), T(t_uri_print), T(t_addr),
	    T(t_addr_bad), T(t_via),     T(t_via_bad),   T(t_params),
	    T(t_rand),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
