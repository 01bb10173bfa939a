/* SPDX-License-Identifier: BSD-3-Clause */
/* test_proxy.c - the proxy module (RFC 3261 §16) through a real
 * transaction environment on a fake clock, with the registrar's location
 * service, the auth module and a temporary SQLite store. The callees are
 * the recording send: what the proxy sent is read back, answered and fed
 * in again. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "mod/mod.h"
#include "mod/proxy/proxy.h"
#include "mod/registrar/registrar.h"
#include "proto/sip/digest.h"
#include "sip/stack_priv.h"
#include "store/store.h"
#include "proxytest.h"

static size_t count(const char *s, const char *sub)
{
	size_t n = 0;

	for (const char *p = strstr(s, sub); p; p = strstr(p + 1, sub))
		n++;
	return n;
}

#define BOB "sip:bob@example.com"

static void two_bobs(struct fixture *f, const char *q1, const char *q2)
{
	char c[256];

	snprintf(c, sizeof(c),
	         "Contact: <sip:bob@127.0.0.1:5071>%s, "
	         "<sip:bob@127.0.0.1:5072>%s",
	         q1, q2);
	reg(f, "bob", c);
	sent_clear(f);
}

/* ------------------------------------------------------------- tests */

/* Parallel forking: both contacts get the INVITE, with our Record-Route,
 * a new top Via, Max-Forwards decremented; 180 upstream at once; the 200
 * of one goes upstream and the other gets CANCEL. */
static void test_parallel(void **state)
{
	struct fixture *f = *state;
	const char *r;

	two_bobs(f, "", "");
	invite(f, BOB, NULL);
	assert_non_null(sent_to(f, CALLER, "SIP/2.0 100 "));
	r = sent_to(f, 5071, "INVITE sip:bob@127.0.0.1:5071 SIP/2.0\r\n");
	assert_non_null(r);
	assert_non_null(
	    strstr(r, "Record-Route: <sip:127.0.0.1:25060;lr>\r\n"));
	assert_non_null(strstr(r, "Max-Forwards: 69\r\n"));
	assert_non_null(
	    strstr(r, "Via: SIP/2.0/UDP 127.0.0.1:25060;branch=z9hG4bKcf"));
	assert_int_equal(count(r, "Via: "), 2);
	r = sent_to(f, 5072, "INVITE sip:bob@127.0.0.1:5072 SIP/2.0\r\n");
	assert_non_null(r);
	/* each branch its own branch parameter */
	assert_string_not_equal(strstr(r, "branch="),
	                        strstr(sent_to(f, 5071, "INVITE "), "branch="));

	answer_from(f, 5071, "INVITE", 180, NULL);
	r = caller_got(f, 180);
	assert_int_equal(count(r, "Via: "), 1);
	assert_non_null(strstr(r, "branch=z9hG4bKc"));
	answer_from(f, 5072, "INVITE", 200, NULL);
	r = caller_got(f, 200);
	assert_non_null(strstr(r, "tag=t5072"));
	assert_int_equal(count(r, "Via: "), 1);
	/* §16.7 step 10: the other branch is cancelled */
	assert_non_null(sent_to(f, 5071, "CANCEL sip:bob@127.0.0.1:5071 "));
	assert_null(sent_to(f, 5072, "CANCEL "));
	answer_from(f, 5071, "INVITE", 487, NULL);
	assert_non_null(sent_to(f, 5071, "ACK "));
	/* the 487 stays here */
	caller_got(f, 200);

	/* RFC 6026: a retransmitted 200 still goes upstream */
	answer_from(f, 5072, "INVITE", 200, NULL);
	assert_int_equal(count_to(f, CALLER, "SIP/2.0 200 "), 2);
}

/* Serial forking by q: the q=1.0 contact first, the q=0.5 one after its
 * failure. */
static void test_serial(void **state)
{
	struct fixture *f = *state;

	two_bobs(f, ";q=1.0", ";q=0.5");
	invite(f, BOB, NULL);
	assert_non_null(sent_to(f, 5071, "INVITE "));
	assert_null(sent_to(f, 5072, "INVITE "));
	answer_from(f, 5071, "INVITE", 486, NULL);
	assert_null(sent_to(f, CALLER, "SIP/2.0 486 "));
	assert_non_null(sent_to(f, 5072, "INVITE "));
	answer_from(f, 5072, "INVITE", 200, NULL);
	caller_got(f, 200);
}

/* A 6xx ends the search: upstream at once, other branches cancelled. */
static void test_6xx(void **state)
{
	struct fixture *f = *state;

	two_bobs(f, "", "");
	invite(f, BOB, NULL);
	answer_from(f, 5071, "INVITE", 180, NULL);
	answer_from(f, 5072, "INVITE", 180, NULL);
	answer_from(f, 5071, "INVITE", 603, NULL);
	caller_got(f, 603);
	assert_non_null(sent_to(f, 5072, "CANCEL "));
	answer_from(f, 5072, "INVITE", 487, NULL);
	caller_got(f, 603);
}

/* §16.7 step 6: the lowest class wins once every branch answered; all
 * busy is 486; 401 challenges are put together (step 7). */
static void test_best(void **state)
{
	struct fixture *f = *state;
	const char *r;

	two_bobs(f, "", "");
	invite(f, BOB, NULL);
	answer_from(f, 5071, "INVITE", 503, NULL);
	assert_null(sent_to(f, CALLER, "SIP/2.0 5"));
	answer_from(f, 5072, "INVITE", 404, NULL);
	caller_got(f, 404);

	sent_clear(f);
	req(f, "INVITE", BOB, "busy@test", "<sip:bob@example.com>", NULL);
	answer_from(f, 5071, "INVITE", 486, NULL);
	answer_from(f, 5072, "INVITE", 486, NULL);
	caller_got(f, 486);

	sent_clear(f);
	req(f, "INVITE", BOB, "chal@test", "<sip:bob@example.com>", NULL);
	answer_from(f, 5071, "INVITE", 401,
	            "WWW-Authenticate: Digest realm=\"one\", nonce=\"1\"\r\n");
	answer_from(f, 5072, "INVITE", 401,
	            "WWW-Authenticate: Digest realm=\"two\", nonce=\"2\"\r\n");
	r = caller_got(f, 401);
	assert_non_null(strstr(r, "realm=\"one\""));
	assert_non_null(strstr(r, "realm=\"two\""));

	/* only ours timed out: 408 */
	sent_clear(f);
	req(f, "MESSAGE", BOB, "msg@test", "<sip:bob@example.com>", NULL);
	assert_non_null(sent_to(f, 5071, "MESSAGE "));
	for (int i = 0; i < 40 && !sent_to(f, CALLER, "SIP/2.0 408 "); i++)
		cf_tmr_wheel_advance(f->wheel,
		                     cf_tmr_wheel_now(f->wheel) + 1000);
	assert_non_null(sent_to(f, CALLER, "SIP/2.0 408 "));
}

/* §16.5: no binding (480), unknown user (404), 483, 420, 482. */
static void test_refusals(void **state)
{
	struct fixture *f = *state;
	const char *r;

	req(f, "INVITE", "sip:carol@example.com", "c1@test",
	    "<sip:carol@example.com>", NULL);
	caller_got(f, 480);
	req(f, "INVITE", "sip:dave@example.com", "c2@test",
	    "<sip:dave@example.com>", NULL);
	caller_got(f, 404);
	two_bobs(f, "", "");
	invite(f, BOB, "Max-Forwards: 0\r\n");
	caller_got(f, 483);
	assert_null(sent_to(f, 5071, "INVITE "));
	req(f, "INVITE", BOB, "c3@test", "<sip:bob@example.com>",
	    "Max-Forwards: 70\r\nProxy-Require: foo\r\n");
	r = caller_got(f, 420);
	assert_non_null(strstr(r, "Unsupported: foo\r\n"));
	/* a Require is not ours to check (§16.3): forwarded */
	req(f, "MESSAGE", BOB, "c4@test", "<sip:bob@example.com>",
	    "Max-Forwards: 70\r\nRequire: foo\r\n");
	assert_non_null(sent_to(f, 5071, "MESSAGE "));
}

/* §16.3 item 4: the same request back with our Via for it: 482; a
 * spiral (changed Request-URI) is forwarded. */
static void test_loop(void **state)
{
	struct fixture *f = *state;
	char buf[4096];
	const char *r;

	reg(f, "bob", "Contact: <sip:bob@127.0.0.1:5071>");
	sent_clear(f);
	invite(f, BOB, NULL);
	r = sent_to(f, 5071, "INVITE ");
	assert_non_null(r);
	/* it comes back to us (the contact pointed at us): a spiral, the
	 * Request-URI changed; forwarded again */
	snprintf(buf, sizeof(buf), "%s", r);
	sent_clear(f);
	feed_from(f, buf, 5071);
	r = sent_to(f, 5071, "INVITE ");
	assert_non_null(r);
	assert_int_equal(count(r, "Via: "), 3);
	/* and again, unchanged: a loop */
	snprintf(buf, sizeof(buf), "%s", r);
	sent_clear(f);
	feed_from(f, buf, 5071);
	r = sent_to(f, 5071, "SIP/2.0 482 ");
	assert_non_null(r);
}

/* §16.4: our Route removed, the next one is the hop (preloaded route),
 * the Request-URI unchanged; a strict router's request is fixed up. */
static void test_routes(void **state)
{
	struct fixture *f = *state;
	const char *r;

	req(f, "INVITE", "sip:x@192.0.2.9", "rt1@test", "<sip:x@192.0.2.9>",
	    "Max-Forwards: 70\r\nRoute: <sip:127.0.0.1:25060;lr>, "
	    "<sip:127.0.0.1:5090;lr>\r\n");
	r = sent_to(f, 5090, "INVITE sip:x@192.0.2.9 SIP/2.0\r\n");
	assert_non_null(r);
	assert_null(strstr(r, "25060;lr>,"));
	assert_non_null(strstr(r, "Route: <sip:127.0.0.1:5090;lr>\r\n"));
	assert_int_equal(count(r, "\r\nRoute: "), 1);
	assert_non_null(strstr(r, "Record-Route: <sip:127.0.0.1:25060;lr>"));

	/* two Route lines, ours alone on the first */
	req(f, "MESSAGE", "sip:x@192.0.2.9", "rt2@test", "<sip:x@192.0.2.9>",
	    "Max-Forwards: 70\r\nRoute: <sip:127.0.0.1:25060;lr>\r\n"
	    "Route: <sip:127.0.0.1:5091;lr>\r\n");
	r = sent_to(f, 5091, "MESSAGE sip:x@192.0.2.9 SIP/2.0\r\n");
	assert_non_null(r);
	assert_int_equal(count(r, "\r\nRoute: "), 1);
	assert_null(strstr(r, "Record-Route")); /* MESSAGE: no dialog */

	/* strict router: our URI as Request-URI, the target last */
	req(f, "BYE", "sip:127.0.0.1:25060", "rt3@test",
	    "<sip:bob@example.com>;tag=b1",
	    "Max-Forwards: 70\r\nRoute: <sip:bob@127.0.0.1:5073>\r\n");
	r = sent_to(f, 5073, "BYE sip:bob@127.0.0.1:5073 SIP/2.0\r\n");
	assert_non_null(r);
	assert_null(strstr(r, "\r\nRoute: "));
}

/* In-dialog: by the Route set, no new Record-Route, stateful for BYE,
 * stateless for ACK (the 2xx ACK has no transaction). */
static void test_in_dialog(void **state)
{
	struct fixture *f = *state;
	const char *r;

	req(f, "BYE", "sip:bob@127.0.0.1:5071", "dlg@test",
	    "<sip:bob@example.com>;tag=b1",
	    "Max-Forwards: 70\r\nRoute: <sip:127.0.0.1:25060;lr>\r\n");
	r = sent_to(f, 5071, "BYE sip:bob@127.0.0.1:5071 SIP/2.0\r\n");
	assert_non_null(r);
	assert_null(strstr(r, "Route:"));
	answer_from(f, 5071, "BYE", 200, NULL);
	caller_got(f, 200);

	req(f, "ACK", "sip:bob@127.0.0.1:5071", "dlg@test",
	    "<sip:bob@example.com>;tag=b1",
	    "Max-Forwards: 70\r\nRoute: <sip:127.0.0.1:25060;lr>\r\n");
	r = sent_to(f, 5071, "ACK sip:bob@127.0.0.1:5071 SIP/2.0\r\n");
	assert_non_null(r);
	assert_int_equal(count(r, "Via: "), 2);
	assert_non_null(strstr(r, "Max-Forwards: 69\r\n"));
	assert_int_equal(cf_sip_txn_env_count(f->env) > 0, 1); /* the BYE's */

	/* from the callee, through our double Record-Route (UDP entry
	 * first, TCP second): the caller's Contact names no transport, the
	 * second entry says TCP */
	req(f, "BYE", "sip:alice@127.0.0.1:5078", "dlg3@test",
	    "<sip:bob@example.com>;tag=b1",
	    "Max-Forwards: 70\r\nRoute: <sip:127.0.0.1:25060;lr>, "
	    "<sip:127.0.0.1:25060;transport=tcp;lr>\r\n");
	r = sent_to(f, 5078, "BYE sip:alice@127.0.0.1:5078 ");
	assert_non_null(r);
	assert_null(strstr(r, "Route:"));
	assert_int_equal(f->sent[f->nsent - 1].tp, CF_SIP_TP_TCP);
	assert_non_null(strstr(r, "Via: SIP/2.0/TCP "));

	/* with no Route, to a remote target that is not us */
	req(f, "INFO", "sip:bob@127.0.0.1:5074", "dlg2@test",
	    "<sip:bob@example.com>;tag=b1", NULL);
	assert_non_null(sent_to(f, 5074, "INFO "));
}

/* CANCEL from the caller: 200 for it, CANCEL to the pending branches,
 * 487 upstream. */
static void test_cancel(void **state)
{
	struct fixture *f = *state;
	char buf[1024];

	two_bobs(f, "", "");
	invite(f, BOB, NULL);
	answer_from(f, 5071, "INVITE", 180, NULL);
	snprintf(buf, sizeof(buf),
	         "CANCEL " BOB " SIP/2.0\r\n"
	         "Via: SIP/2.0/UDP 127.0.0.1:25160;branch=z9hG4bKc%u\r\n"
	         "From: <sip:alice@example.com>;tag=a1\r\n"
	         "To: <sip:bob@example.com>\r\n"
	         "Call-ID: call@test\r\n"
	         "CSeq: 1 CANCEL\r\n"
	         "Max-Forwards: 70\r\n"
	         "Content-Length: 0\r\n\r\n",
	         f->branch);
	feed_from(f, buf, CALLER);
	assert_non_null(sent_to(f, CALLER, "SIP/2.0 200 "));
	caller_got(f, 487);
	assert_non_null(sent_to(f, 5071, "CANCEL "));
	/* 5072 sent nothing yet: its CANCEL waits for a provisional */
	assert_null(sent_to(f, 5072, "CANCEL "));
	answer_from(f, 5072, "INVITE", 180, NULL);
	assert_non_null(sent_to(f, 5072, "CANCEL "));
	/* no 180 after the final */
	assert_int_equal(count_to(f, CALLER, "SIP/2.0 180 "), 1);
	answer_from(f, 5071, "INVITE", 487, NULL);
	answer_from(f, 5072, "INVITE", 487, NULL);
	assert_int_equal(count_to(f, CALLER, "SIP/2.0 487 "), 1);
}

static const char *const na_sets[] = {"proxy.no_answer_timeout=5"};
static const struct sets noans = {na_sets, 1};

/* [proxy] no_answer_timeout: ringing too long: CANCEL, 480 upstream. */
static void test_no_answer(void **state)
{
	struct fixture *f = *state;

	reg(f, "bob", "Contact: <sip:bob@127.0.0.1:5071>");
	sent_clear(f);
	invite(f, BOB, NULL);
	answer_from(f, 5071, "INVITE", 180, NULL);
	cf_tmr_wheel_advance(f->wheel, cf_tmr_wheel_now(f->wheel) + 4000);
	assert_null(sent_to(f, 5071, "CANCEL "));
	cf_tmr_wheel_advance(f->wheel, cf_tmr_wheel_now(f->wheel) + 1100);
	assert_non_null(sent_to(f, 5071, "CANCEL "));
	caller_got(f, 480);
	answer_from(f, 5071, "INVITE", 487, NULL);
	caller_got(f, 480);
}

/* Timer C: a branch that rang for timer_c gets CANCEL. */
static void test_timer_c(void **state)
{
	struct fixture *f = *state;

	reg(f, "bob", "Contact: <sip:bob@127.0.0.1:5071>");
	sent_clear(f);
	invite(f, BOB, NULL);
	answer_from(f, 5071, "INVITE", 180, NULL);
	for (int i = 0; i < 189; i++)
		cf_tmr_wheel_advance(f->wheel,
		                     cf_tmr_wheel_now(f->wheel) + 1000);
	/* a provisional restarts it */
	answer_from(f, 5071, "INVITE", 183, NULL);
	for (int i = 0; i < 20; i++)
		cf_tmr_wheel_advance(f->wheel,
		                     cf_tmr_wheel_now(f->wheel) + 1000);
	assert_null(sent_to(f, 5071, "CANCEL "));
	for (int i = 0; i < 171; i++)
		cf_tmr_wheel_advance(f->wheel,
		                     cf_tmr_wheel_now(f->wheel) + 1000);
	assert_non_null(sent_to(f, 5071, "CANCEL "));
	answer_from(f, 5071, "INVITE", 487, NULL);
	caller_got(f, 487);
}

/* A contact over TCP from a UDP caller: two Record-Routes, one per
 * transport (§16.6 item 4). Path from the binding becomes Route. */
static void test_rr_double_and_path(void **state)
{
	struct fixture *f = *state;
	const char *r;

	reg(f, "bob", "Contact: <sip:bob@127.0.0.1:5075;transport=tcp>");
	sent_clear(f);
	invite(f, BOB, NULL);
	r = sent_to(f, 5075, "INVITE ");
	assert_non_null(r);
	assert_int_equal(count(r, "Record-Route: "), 2);
	assert_non_null(strstr(r, "Record-Route: <sip:127.0.0.1:25060;"
	                          "transport=tcp;lr>\r\nRecord-Route: "
	                          "<sip:127.0.0.1:25060;lr>\r\n"));
	assert_non_null(strstr(r, "Via: SIP/2.0/TCP "));
	answer_from(f, 5075, "INVITE", 486, NULL);
	caller_got(f, 486);

	sent_clear(f);
	{
		char buf[2048];

		snprintf(
		    buf, sizeof(buf),
		    "REGISTER sip:example.com SIP/2.0\r\n"
		    "Via: SIP/2.0/UDP 127.0.0.1:5076;branch=z9hG4bKpath\r\n"
		    "Max-Forwards: 70\r\n"
		    "From: <sip:carol@example.com>;tag=r1\r\n"
		    "To: <sip:carol@example.com>\r\n"
		    "Call-ID: reg-path@test\r\n"
		    "CSeq: 1 REGISTER\r\n"
		    "Supported: path\r\n"
		    "Path: <sip:127.0.0.1:5077;lr>\r\n"
		    "Contact: <sip:carol@192.0.2.7:5060>\r\n"
		    "Content-Length: 0\r\n\r\n");
		feed_from(f, buf, 5076);
	}
	req(f, "MESSAGE", "sip:carol@example.com", "path@test",
	    "<sip:carol@example.com>", NULL);
	r = sent_to(f, 5077, "MESSAGE sip:carol@192.0.2.7:5060 SIP/2.0\r\n");
	assert_non_null(r);
	assert_non_null(strstr(r, "Route: <sip:127.0.0.1:5077;lr>\r\n"));
}

#define INST "<urn:uuid:00000000-0000-1000-8000-000A95A0E128>"

/* A GRUU reaches its instance only (RFC 5627 §7); an outbound binding is
 * reached over its flow (RFC 5626 §5.3: the REGISTER's source), not at
 * its Contact address. */
static void test_gruu_outbound(void **state)
{
	struct fixture *f = *state;

	reg(f, "bob",
	    "Contact: <sip:bob@127.0.0.1:5071>;+sip.instance=\"" INST "\"\r\n"
	    "Supported: gruu");
	reg(f, "bob", "Contact: <sip:bob@127.0.0.1:5072>");
	sent_clear(f);
	invite(f,
	       "sip:bob@example.com;gr=urn:uuid:00000000-0000-1000-8000-"
	       "000A95A0E128",
	       NULL);
	assert_non_null(sent_to(f, 5071, "INVITE sip:bob@127.0.0.1:5071 "));
	assert_null(sent_to(f, 5072, "INVITE "));
	answer_from(f, 5071, "INVITE", 486, NULL);
	caller_got(f, 486);

	/* outbound: the Contact says 5099, the flow is 5071 */
	sent_clear(f);
	reg(f, "carol",
	    "Contact: <sip:carol@127.0.0.1:5099;ob>;reg-id=1;"
	    "+sip.instance=\"" INST "\"\r\n"
	    "Supported: outbound, path");
	sent_clear(f);
	req(f, "MESSAGE", "sip:carol@example.com", "ob@test",
	    "<sip:carol@example.com>", NULL);
	assert_non_null(
	    sent_to(f, 5071, "MESSAGE sip:carol@127.0.0.1:5099;ob "));
	assert_null(sent_to(f, 5099, "MESSAGE "));
}

static const char *const auth_sets[] = {"proxy.authenticate=yes"};
static const struct sets authon = {auth_sets, 1};

/* 407 for alice's INVITE, then forwarded with the right credentials;
 * in-dialog requests and ACK are never challenged. */
static void test_auth(void **state)
{
	struct fixture *f = *state;
	char line[1024];
	const char *r;
	int n;

	reg(f, "bob", "Contact: <sip:bob@127.0.0.1:5071>");
	sent_clear(f);
	invite(f, BOB, NULL);
	r = caller_got(f, 407);
	assert_non_null(strstr(r, "Proxy-Authenticate: Digest "));
	assert_null(sent_to(f, 5071, "INVITE "));
	n = snprintf(line, sizeof(line), "Max-Forwards: 70\r\n");
	alice_auth_line(r, BOB, line + n, sizeof(line) - (size_t)n);
	req(f, "INVITE", BOB, "auth2@test", "<sip:bob@example.com>", line);
	r = sent_to(f, 5071, "INVITE ");
	assert_non_null(r);
	answer_from(f, 5071, "INVITE", 200, NULL);
	caller_got(f, 200);

	/* in a dialog: not challenged */
	sent_clear(f);
	req(f, "BYE", "sip:bob@127.0.0.1:5071", "auth2@test",
	    "<sip:bob@example.com>;tag=t5071",
	    "Max-Forwards: 70\r\nRoute: <sip:127.0.0.1:25060;lr>\r\n");
	assert_non_null(sent_to(f, 5071, "BYE "));
	answer_from(f, 5071, "BYE", 200, NULL);
	caller_got(f, 200);
}

static bool fail_h(const struct cf_proxy_failure *fl, char *uri, size_t size,
                   void *arg)
{
	unsigned *calls = arg;

	(*calls)++;
	if (fl->code != 486 || fl->attempt)
		return false;
	snprintf(uri, size, "sip:vm@127.0.0.1:5080");
	return true;
}

/* The on_failure hook point: busy → a new branch to the URI it gives. */
static void test_failure_hook(void **state)
{
	struct fixture *f = *state;
	unsigned calls = 0;

	cf_proxy_failure_hook_set(fail_h, &calls);
	reg(f, "bob", "Contact: <sip:bob@127.0.0.1:5071>");
	sent_clear(f);
	invite(f, BOB, NULL);
	answer_from(f, 5071, "INVITE", 486, NULL);
	assert_int_equal(calls, 1);
	assert_null(sent_to(f, CALLER, "SIP/2.0 486 "));
	assert_non_null(sent_to(f, 5080, "INVITE sip:vm@127.0.0.1:5080 "));
	answer_from(f, 5080, "INVITE", 200, NULL);
	caller_got(f, 200);
	cf_proxy_failure_hook_set(NULL, NULL);
}

/* ------------------------------------------- failure routes (issue 4) */

static const char *const fwd_sets[] = {
    "proxy.no_answer_timeout=5",
    "proxy.forward_busy=sip:busy@127.0.0.1:5081",
    "proxy.forward_noanswer=sip:noans@127.0.0.1:5082",
    "proxy.forward_offline=sip:off@127.0.0.1:5083",
    "proxy.forward_unavailable=sip:unav@127.0.0.1:5084",
    "proxy.forward_headers=both",
};
static const struct sets fwds = {fwd_sets, 6};
static const struct sets fwds_hi = {fwd_sets, 5}; /* History-Info only */

/* The forwarded INVITE to port: its History-Info (RFC 7044) names bob
 * with the Reason of the failure, then the new target mapped from it. */
static const char *fwd_check(struct fixture *f, uint16_t port,
                             const char *target, unsigned cause)
{
	char want[160], first[32];
	const char *r;

	snprintf(first, sizeof(first), "INVITE %s ", target);
	r = sent_to(f, port, "INVITE ");
	assert_non_null(r);
	assert_int_equal(strncmp(r, first, strlen(first)), 0);
	snprintf(want, sizeof(want),
	         "History-Info: <" BOB "?Reason=SIP%%3Bcause%%3D%u>;index=1, "
	         "<%s>;index=1.1;mp=1\r\n",
	         cause, target);
	if (!strstr(r, want))
		fail_msg("want %s in:\n%s", want, r);
	return r;
}

/* Busy (486): the busy route rings instead; the caller never sees 486. */
static void test_fwd_busy(void **state)
{
	struct fixture *f = *state;
	const char *r;

	reg(f, "bob", "Contact: <sip:bob@127.0.0.1:5071>");
	sent_clear(f);
	invite(f, BOB, NULL);
	answer_from(f, 5071, "INVITE", 486, NULL);
	assert_null(sent_to(f, CALLER, "SIP/2.0 486 "));
	r = fwd_check(f, 5081, "sip:busy@127.0.0.1:5081", 486);
	assert_null(strstr(r, "Diversion:"));
	answer_from(f, 5081, "INVITE", 180, NULL);
	caller_got(f, 180);
	answer_from(f, 5081, "INVITE", 200, NULL);
	caller_got(f, 200);
}

/* 600 Busy Everywhere on one branch: the other is cancelled (§16.7 step
 * 10), and when its 487 is in, the busy route rings (not the 600). */
static void test_fwd_busy600(void **state)
{
	struct fixture *f = *state;

	two_bobs(f, "", "");
	sent_clear(f);
	invite(f, BOB, NULL);
	answer_from(f, 5072, "INVITE", 180, NULL);
	answer_from(f, 5071, "INVITE", 600, NULL);
	assert_non_null(sent_to(f, 5072, "CANCEL "));
	assert_null(sent_to(f, 5081, "INVITE "));
	answer_from(f, 5072, "INVITE", 487, NULL);
	assert_null(sent_to(f, CALLER, "SIP/2.0 600 "));
	assert_null(sent_to(f, CALLER, "SIP/2.0 487 "));
	fwd_check(f, 5081, "sip:busy@127.0.0.1:5081", 600);
	answer_from(f, 5081, "INVITE", 200, NULL);
	caller_got(f, 200);
}

/* No answer: no_answer_timeout on the fake clock cancels bob's branch;
 * when its 487 is in, the no-answer route rings. */
static void test_fwd_noanswer(void **state)
{
	struct fixture *f = *state;

	reg(f, "bob", "Contact: <sip:bob@127.0.0.1:5071>");
	sent_clear(f);
	invite(f, BOB, NULL);
	answer_from(f, 5071, "INVITE", 180, NULL);
	cf_tmr_wheel_advance(f->wheel, cf_tmr_wheel_now(f->wheel) + 4000);
	assert_null(sent_to(f, 5071, "CANCEL "));
	cf_tmr_wheel_advance(f->wheel, cf_tmr_wheel_now(f->wheel) + 1100);
	assert_non_null(sent_to(f, 5071, "CANCEL "));
	assert_null(sent_to(f, 5082, "INVITE "));
	answer_from(f, 5071, "INVITE", 487, NULL);
	assert_null(sent_to(f, CALLER, "SIP/2.0 480 "));
	assert_null(sent_to(f, CALLER, "SIP/2.0 487 "));
	fwd_check(f, 5082, "sip:noans@127.0.0.1:5082", 408);
	/* the route is taken once: it does not ring forever either */
	answer_from(f, 5082, "INVITE", 200, NULL);
	caller_got(f, 200);
}

/* Offline: bob has no binding: the offline route instead of 480, with
 * Diversion too (forward_headers=both). */
static void test_fwd_offline(void **state)
{
	struct fixture *f = *state;
	const char *r;

	sent_clear(f);
	invite(f, BOB, NULL);
	assert_null(sent_to(f, CALLER, "SIP/2.0 480 "));
	r = fwd_check(f, 5083, "sip:off@127.0.0.1:5083", 480);
	assert_non_null(
	    strstr(r, "Diversion: <" BOB ">;reason=unavailable;counter=1\r\n"));
	answer_from(f, 5083, "INVITE", 200, NULL);
	caller_got(f, 200);
	/* unknown users are still 404 */
	sent_clear(f);
	req(f, "INVITE", "sip:nobody@example.com", "call2@test",
	    "<sip:nobody@example.com>", NULL);
	caller_got(f, 404);
	assert_null(sent_to(f, 5083, "INVITE "));
}

/* Unavailable (5xx): the route rings; when it is busy too, its 486 goes
 * upstream (one failure route per request, no second forward). */
static void test_fwd_unavailable(void **state)
{
	struct fixture *f = *state;
	const char *r;

	reg(f, "bob", "Contact: <sip:bob@127.0.0.1:5071>");
	sent_clear(f);
	invite(f, BOB, NULL);
	answer_from(f, 5071, "INVITE", 503, NULL);
	r = fwd_check(f, 5084, "sip:unav@127.0.0.1:5084", 503);
	assert_non_null(strstr(r, "Diversion: <" BOB
	                          ">;reason=out-of-service;counter=1\r\n"));
	answer_from(f, 5084, "INVITE", 486, NULL);
	caller_got(f, 486);
	assert_null(sent_to(f, 5081, "INVITE "));
}

/* A user's own routes (the store, `confabctl user forward`) come before
 * the configured ones; cleared, the configured one applies again. */
static void test_fwd_user(void **state)
{
	struct fixture *f = *state;
	struct cf_store *st = cf_app_store(f->app);
	struct cf_store_forward fw = {
	    "bob", "example.com", {"sip:own@127.0.0.1:5085", NULL, NULL, NULL}};

	assert_int_equal(cf_store_forward_set(st, &fw), 0);
	assert_int_equal(cf_proxy_forwards_load(f->app), 0);
	reg(f, "bob", "Contact: <sip:bob@127.0.0.1:5071>");
	sent_clear(f);
	invite(f, BOB, NULL);
	answer_from(f, 5071, "INVITE", 486, NULL);
	assert_null(sent_to(f, 5081, "INVITE "));
	fwd_check(f, 5085, "sip:own@127.0.0.1:5085", 486);
	answer_from(f, 5085, "INVITE", 200, NULL);
	caller_got(f, 200);

	fw.uri[0] = NULL;
	assert_int_equal(cf_store_forward_set(st, &fw), 0);
	assert_int_equal(cf_proxy_forwards_load(f->app), 0);
	sent_clear(f);
	req(f, "INVITE", BOB, "call2@test", "<sip:bob@example.com>", NULL);
	answer_from(f, 5071, "INVITE", 486, NULL);
	assert_null(sent_to(f, 5085, "INVITE "));
	fwd_check(f, 5081, "sip:busy@127.0.0.1:5081", 486);
	answer_from(f, 5081, "INVITE", 486, NULL);
	caller_got(f, 486);
}

/* No route configured: the failures go upstream as before (the other
 * tests run without forward_*); a non-INVITE is never forwarded. */
static void test_fwd_message(void **state)
{
	struct fixture *f = *state;

	reg(f, "bob", "Contact: <sip:bob@127.0.0.1:5071>");
	sent_clear(f);
	req(f, "MESSAGE", BOB, "msg@test", "<sip:bob@example.com>", NULL);
	answer_from(f, 5071, "MESSAGE", 486, NULL);
	caller_got(f, 486);
	assert_null(sent_to(f, 5081, "MESSAGE "));
}

/* Every allocation while an INVITE is forked fails once in turn, and
 * while its 486 comes back: no crash, no leak, no transaction left
 * (teardown checks both), the caller always gets a final response. */
static void test_oom(void **state)
{
	struct fixture *f = *state;

	two_bobs(f, "", "");
	for (long n = 1; n <= 150; n++) {
		char cid[32];

		sent_clear(f);
		snprintf(cid, sizeof(cid), "oom%ld@test", n);
		f->fail_after = n;
		req(f, "INVITE", BOB, cid, "<sip:bob@example.com>", NULL);
		f->fail_after = 0;
		if (sent_to(f, 5071, "INVITE "))
			answer_from(f, 5071, "INVITE", 486, NULL);
		f->fail_after = n;
		if (sent_to(f, 5072, "INVITE "))
			answer_from(f, 5072, "INVITE", 486, NULL);
		f->fail_after = 0;
		/* whatever failed ends by a timer: Timer B, H, C */
		settle(f, n);
	}
	sent_clear(f);
	invite(f, BOB, NULL);
	answer_from(f, 5071, "INVITE", 486, NULL);
	answer_from(f, 5072, "INVITE", 486, NULL);
	caller_got(f, 486);
}

int main(void)
{
#define T(name)                                                                \
	cmocka_unit_test_setup_teardown(name, proxytest_setup,                 \
	                                proxytest_teardown)
#define TS(name, s)                                                            \
	cmocka_unit_test_prestate_setup_teardown(                              \
	    name, proxytest_setup, proxytest_teardown, (void *)&(s))
	const struct CMUnitTest tests[] = {
	    T(test_parallel),
	    T(test_serial),
	    T(test_6xx),
	    T(test_best),
	    T(test_refusals),
	    T(test_loop),
	    T(test_routes),
	    T(test_in_dialog),
	    T(test_cancel),
	    TS(test_no_answer, noans),
	    T(test_timer_c),
	    T(test_rr_double_and_path),
	    TS(test_auth, authon),
	    T(test_failure_hook),
	    T(test_gruu_outbound),
	    T(test_oom),
	    TS(test_fwd_busy, fwds_hi),
	    TS(test_fwd_noanswer, fwds),
	    TS(test_fwd_offline, fwds),
	    TS(test_fwd_unavailable, fwds),
	    TS(test_fwd_message, fwds),
	    TS(test_fwd_user, fwds),
	    TS(test_fwd_busy600, fwds),
	};

	cf_log_set_level(CF_LOG_ERR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
