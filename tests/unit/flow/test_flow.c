/* SPDX-License-Identifier: BSD-3-Clause */
/* test_flow.c - flow tokens (src/mod/proxy/flow.c): written and read back
 * for IPv4 and IPv6 tcp/tls/ws/wss flows; what is not one of ours, or is
 * one with a field changed, is refused; which sides are a UA's flow. */
#include <errno.h>
#include <string.h>

#include "mod/proxy/flow.h"
#include "testutil.h"

static void roundtrip(enum cf_sip_tp tp, const char *ip, uint16_t port)
{
	char user[PROXY_FLOW_USER_MAX];
	struct cf_sip_peer hop;
	struct cf_sa a;
	struct cf_pl pl;

	assert_int_equal(cf_sa_set_str(&a, ip, port), 0);
	assert_int_equal(proxy_flow_user(tp, &a, user, sizeof(user)), 0);
	/* a SIP user part: no ':', '@', ';', '<' or '>' */
	assert_null(strpbrk(user, ":@;<>[] "));
	cf_pl_set_str(&pl, user);
	assert_int_equal(proxy_flow_hop(&pl, &hop), 0);
	assert_int_equal(hop.tp, tp);
	assert_true(cf_sa_eq(&hop.addr, &a));
	assert_null(hop.conn);
}

static void test_roundtrip(void **state)
{
	(void)state;
	cf_test_leak_start();
	roundtrip(CF_SIP_TP_WS, "127.0.0.1", 43210);
	roundtrip(CF_SIP_TP_WSS, "127.0.0.1", 1);
	roundtrip(CF_SIP_TP_WS, "::1", 65535);
	roundtrip(CF_SIP_TP_WSS, "2001:db8::17", 8443);
	roundtrip(CF_SIP_TP_TCP, "127.0.0.1", 40001);
	roundtrip(CF_SIP_TP_TLS, "127.0.0.1", 40002);
	roundtrip(CF_SIP_TP_TLS, "::1", 5061);
	cf_test_leak_check();
}

static void test_not_needed(void **state)
{
	char user[PROXY_FLOW_USER_MAX];
	struct cf_sa a;

	(void)state;
	assert_int_equal(cf_sa_set_str(&a, "127.0.0.1", 5060), 0);
	assert_false(proxy_flow_needed(CF_SIP_TP_UDP));
	assert_false(proxy_flow_needed(CF_SIP_TP_TLS));
	assert_false(proxy_flow_needed(CF_SIP_TP_TCP));
	assert_true(proxy_flow_needed(CF_SIP_TP_WSS));
	assert_false(proxy_flow_stream(CF_SIP_TP_UDP));
	assert_true(proxy_flow_stream(CF_SIP_TP_TCP));
	assert_true(proxy_flow_stream(CF_SIP_TP_TLS));
	assert_true(proxy_flow_stream(CF_SIP_TP_WS));
	assert_int_equal(proxy_flow_user(CF_SIP_TP_UDP, &a, user, sizeof(user)),
	                 EPROTO);
	assert_int_equal(proxy_flow_user(CF_SIP_TP_TCP, &a, user, sizeof(user)),
	                 0);
	assert_int_equal(strncmp(user, "cfw_tcp_127.0.0.1_5060_", 23), 0);
	assert_int_equal(proxy_flow_user(CF_SIP_TP_TLS, &a, user, sizeof(user)),
	                 0);
	assert_int_equal(strncmp(user, "cfw_tls_127.0.0.1_5060_", 23), 0);
	assert_int_equal(proxy_flow_user(CF_SIP_TP_WS, &a, user, 8), EINVAL);
	/* no peer (a side that is no flow): no token */
	memset(&a, 0, sizeof(a));
	assert_int_equal(proxy_flow_user(CF_SIP_TP_TLS, &a, user, sizeof(user)),
	                 EINVAL);
}

/* Which sides are a UA's flow: the caller's when it came over a stream;
 * the callee's over WebSocket always, over TCP/TLS only when it is a
 * registered binding's connection (not an RFC 3263 server, not a trunk). */
static void test_sides(void **state)
{
	struct cf_sip_peer hop;

	(void)state;
	assert_true(proxy_flow_in(CF_SIP_TP_TCP));
	assert_true(proxy_flow_in(CF_SIP_TP_TLS));
	assert_true(proxy_flow_in(CF_SIP_TP_WSS));
	assert_false(proxy_flow_in(CF_SIP_TP_UDP));

	memset(&hop, 0, sizeof(hop));
	hop.tp = CF_SIP_TP_WS;
	assert_true(proxy_flow_out(&hop, false));
	hop.tp = CF_SIP_TP_TLS;
	assert_false(proxy_flow_out(&hop, false)); /* a server, a failover */
	assert_true(proxy_flow_out(&hop, true));
	hop.tp = CF_SIP_TP_TCP;
	assert_true(proxy_flow_out(&hop, true));
	hop.tp = CF_SIP_TP_UDP;
	assert_false(proxy_flow_out(&hop, true));
	assert_false(proxy_flow_out(NULL, true));
}

static int hop_of(const char *s)
{
	struct cf_sip_peer hop;
	struct cf_pl pl;

	cf_pl_set_str(&pl, s);
	return proxy_flow_hop(&pl, &hop);
}

static void test_refused(void **state)
{
	char user[PROXY_FLOW_USER_MAX], bad[PROXY_FLOW_USER_MAX];
	struct cf_sa a;
	char *p;

	(void)state;
	assert_int_equal(hop_of(""), ENOENT);
	assert_int_equal(hop_of("alice"), ENOENT);
	assert_int_equal(hop_of("cfw"), ENOENT);
	assert_int_equal(hop_of("cfw_"), EBADMSG);
	assert_int_equal(hop_of("cfw_ws_127.0.0.1_5060"), EBADMSG);
	assert_int_equal(hop_of("cfw_ws_127.0.0.1_5060_0123456789abcdef"),
	                 EBADMSG);

	assert_int_equal(cf_sa_set_str(&a, "127.0.0.1", 43210), 0);
	assert_int_equal(proxy_flow_user(CF_SIP_TP_WS, &a, user, sizeof(user)),
	                 0);
	assert_int_equal(hop_of(user), 0);
	/* another port, another transport, another address, another MAC */
	strcpy(bad, user);
	p = strstr(bad, "43210");
	assert_non_null(p);
	p[4] = '1';
	assert_int_equal(hop_of(bad), EBADMSG);
	strcpy(bad, "cfw_wss");
	strcat(bad, user + strlen("cfw_ws"));
	assert_int_equal(hop_of(bad), EBADMSG);
	strcpy(bad, "cfw_tcp");
	strcat(bad, user + strlen("cfw_ws"));
	assert_int_equal(hop_of(bad), EBADMSG);
	strcpy(bad, "cfw_udp");
	strcat(bad, user + strlen("cfw_ws"));
	assert_int_equal(hop_of(bad), EBADMSG);
	strcpy(bad, user);
	bad[strlen("cfw_ws_127.0.0.")] = '2';
	assert_int_equal(hop_of(bad), EBADMSG);
	strcpy(bad, user);
	p = bad + strlen(bad) - 1;
	*p = *p == '0' ? '1' : '0';
	assert_int_equal(hop_of(bad), EBADMSG);
	/* port 0, a port past 65535, junk in the port */
	assert_int_equal(hop_of("cfw_ws_127.0.0.1_0_0123456789abcdef"),
	                 EBADMSG);
	assert_int_equal(hop_of("cfw_ws_127.0.0.1_70000_0123456789abcdef"),
	                 EBADMSG);
	assert_int_equal(hop_of("cfw_ws_127.0.0.1_5x_0123456789abcdef"),
	                 EBADMSG);
	assert_int_equal(hop_of("cfw_ws_host.invalid_5060_0123456789abcdef"),
	                 EBADMSG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_roundtrip),
	    cmocka_unit_test(test_not_needed),
	    cmocka_unit_test(test_sides),
	    cmocka_unit_test(test_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
