/* SPDX-License-Identifier: BSD-3-Clause */
/* test_dialog.c - RFC 3261 §12 dialogs (src/sip/dialog.c): UAC and UAS
 * views built from real messages, the states, CSeq rules, target
 * refresh, route sets (loose and strict routers), requests written from
 * the dialog, and a proxy's two views of one call. Every test checks that
 * no memory block is left. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "sip/sip.h"

static long blocks;

static int setup(void **state)
{
	(void)state;
	blocks = cf_mem_blocks();
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	assert_int_equal(cf_mem_blocks(), blocks);
	return 0;
}

static struct cf_sip_msg *dec(const char *s)
{
	struct cf_sip_msg *m = NULL;
	size_t used;

	assert_int_equal(cf_sip_msg_decode(&m, (const uint8_t *)s, strlen(s),
	                                   CF_SIP_DATAGRAM, &used),
	                 0);
	assert_int_equal(m->fault.code, 0);
	return m;
}

/* alice calls bob through two proxies p1 (near alice) and p2 */
static const char *INVITE =
    "INVITE sip:bob@example.com SIP/2.0\r\n"
    "Via: SIP/2.0/UDP 10.0.0.3;branch=z9hG4bKp2\r\n"
    "Via: SIP/2.0/UDP 10.0.0.2;branch=z9hG4bKp1\r\n"
    "Via: SIP/2.0/UDP 10.0.0.1:5070;branch=z9hG4bKa\r\n"
    "Max-Forwards: 68\r\n"
    "Record-Route: <sip:10.0.0.3;lr>\r\n"
    "Record-Route: <sip:10.0.0.2;lr>\r\n"
    "From: Alice <sip:alice@example.com>;tag=at1\r\n"
    "To: <sip:bob@example.com>\r\n"
    "Call-ID: c1@10.0.0.1\r\n"
    "CSeq: 10 INVITE\r\n"
    "Contact: <sip:alice@10.0.0.1:5070>\r\n"
    "Content-Length: 0\r\n\r\n";

static const char *R180 =
    "SIP/2.0 180 Ringing\r\n"
    "Via: SIP/2.0/UDP 10.0.0.1:5070;branch=z9hG4bKa\r\n"
    "Record-Route: <sip:10.0.0.3;lr>\r\n"
    "Record-Route: <sip:10.0.0.2;lr>\r\n"
    "From: Alice <sip:alice@example.com>;tag=at1\r\n"
    "To: <sip:bob@example.com>;tag=bt1\r\n"
    "Call-ID: c1@10.0.0.1\r\n"
    "CSeq: 10 INVITE\r\n"
    "Content-Length: 0\r\n\r\n";

static const char *R200 =
    "SIP/2.0 200 OK\r\n"
    "Via: SIP/2.0/UDP 10.0.0.1:5070;branch=z9hG4bKa\r\n"
    "Record-Route: <sip:10.0.0.3;lr>, <sip:10.0.0.2;lr>\r\n"
    "From: Alice <sip:alice@example.com>;tag=at1\r\n"
    "To: <sip:bob@example.com>;tag=bt1\r\n"
    "Call-ID: c1@10.0.0.1\r\n"
    "CSeq: 10 INVITE\r\n"
    "Contact: <sip:bob@10.0.0.4:5080>\r\n"
    "Content-Length: 0\r\n\r\n";

static void test_uac_early_confirmed(void **state)
{
	struct cf_sip_msg *inv = dec(INVITE), *r180 = dec(R180),
	                  *r200 = dec(R200);
	struct cf_sip_dialog *d = NULL;

	(void)state;
	assert_int_equal(cf_sip_dialog_uac_alloc(&d, inv, r180), 0);
	assert_int_equal(d->state, CF_SIP_DLG_EARLY);
	assert_string_equal(d->call_id, "c1@10.0.0.1");
	assert_string_equal(d->local_tag, "at1");
	assert_string_equal(d->remote_tag, "bt1");
	assert_string_equal(d->local_uri, "sip:alice@example.com");
	assert_string_equal(d->remote_uri, "sip:bob@example.com");
	/* no Contact in the 180: the Request-URI for now */
	assert_string_equal(d->target, "sip:bob@example.com");
	/* a UAC reverses the Record-Route: p1 first */
	assert_int_equal(d->nroutes, 2);
	assert_string_equal(d->routes[0], "<sip:10.0.0.2;lr>");
	assert_string_equal(d->routes[1], "<sip:10.0.0.3;lr>");
	assert_int_equal(d->local_cseq, 10);

	assert_int_equal(cf_sip_dialog_recv(d, r200), 0);
	assert_int_equal(d->state, CF_SIP_DLG_CONFIRMED);
	assert_int_equal(d->code, 200);
	assert_string_equal(d->target, "sip:bob@10.0.0.4:5080");
	assert_int_equal(d->nroutes, 2);
	assert_string_equal(cf_sip_dialog_state_name(d->state), "confirmed");
	cf_mem_deref(d);
	cf_mem_deref(inv);
	cf_mem_deref(r180);
	cf_mem_deref(r200);
}

static void test_uac_bad(void **state)
{
	struct cf_sip_msg *inv = dec(INVITE);
	struct cf_sip_msg *r100 = dec(
	    "SIP/2.0 100 Trying\r\nVia: SIP/2.0/UDP 10.0.0.1:5070;branch=z9hG4bKa\r\n"
	    "From: <sip:alice@example.com>;tag=at1\r\nTo: <sip:bob@example.com>\r\n"
	    "Call-ID: c1@10.0.0.1\r\nCSeq: 10 INVITE\r\nContent-Length: 0\r\n\r\n");
	/* a 2xx without Contact cannot make a dialog */
	struct cf_sip_msg *r200 = dec(
	    "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 10.0.0.1:5070;branch=z9hG4bKa\r\n"
	    "From: <sip:alice@example.com>;tag=at1\r\nTo: <sip:bob@example.com>;tag=x\r\n"
	    "Call-ID: c1@10.0.0.1\r\nCSeq: 10 INVITE\r\nContent-Length: 0\r\n\r\n");
	struct cf_sip_dialog *d = NULL;

	(void)state;
	assert_int_equal(cf_sip_dialog_uac_alloc(&d, inv, r100), EINVAL);
	assert_int_equal(cf_sip_dialog_uac_alloc(&d, inv, r200), EBADMSG);
	assert_null(d);
	cf_mem_deref(inv);
	cf_mem_deref(r100);
	cf_mem_deref(r200);
}

static void test_uac_early_terminated(void **state)
{
	struct cf_sip_msg *inv = dec(INVITE), *r180 = dec(R180);
	struct cf_sip_msg *r486 = dec(
	    "SIP/2.0 486 Busy Here\r\nVia: SIP/2.0/UDP 10.0.0.1:5070;branch=z9hG4bKa\r\n"
	    "From: <sip:alice@example.com>;tag=at1\r\nTo: <sip:bob@example.com>;tag=bt1\r\n"
	    "Call-ID: c1@10.0.0.1\r\nCSeq: 10 INVITE\r\nContent-Length: 0\r\n\r\n");
	struct cf_sip_dialog *d = NULL;

	(void)state;
	assert_int_equal(cf_sip_dialog_uac_alloc(&d, inv, r180), 0);
	assert_int_equal(cf_sip_dialog_recv(d, r486), 0);
	assert_int_equal(d->state, CF_SIP_DLG_TERMINATED);
	assert_int_equal(d->code, 486);
	cf_mem_deref(d);
	cf_mem_deref(inv);
	cf_mem_deref(r180);
	cf_mem_deref(r486);
}

/* bob's side: route set in order, target from the INVITE's Contact,
 * CSeq rules, BYE ends it */
static void test_uas(void **state)
{
	struct cf_sip_msg *inv = dec(INVITE), *r200 = dec(R200);
	struct cf_pl tag = CF_PL("bt1");
	struct cf_sip_dialog *d = NULL;
	struct cf_sip_msg *m;

	(void)state;
	assert_int_equal(cf_sip_dialog_uas_alloc(&d, inv, &tag, 180), 0);
	assert_int_equal(d->state, CF_SIP_DLG_EARLY);
	assert_string_equal(d->local_tag, "bt1");
	assert_string_equal(d->remote_tag, "at1");
	assert_string_equal(d->local_uri, "sip:bob@example.com");
	assert_string_equal(d->target, "sip:alice@10.0.0.1:5070");
	assert_string_equal(d->routes[0], "<sip:10.0.0.3;lr>");
	assert_int_equal(d->remote_cseq, 10);
	assert_int_equal(cf_sip_dialog_sent(d, r200), 0);
	assert_int_equal(d->state, CF_SIP_DLG_CONFIRMED);

	/* a re-INVITE with a new Contact refreshes the target */
	m = dec("INVITE sip:bob@10.0.0.4:5080 SIP/2.0\r\n"
	        "Via: SIP/2.0/UDP 10.0.0.1:5070;branch=z9hG4bKb\r\n"
	        "From: <sip:alice@example.com>;tag=at1\r\n"
	        "To: <sip:bob@example.com>;tag=bt1\r\n"
	        "Call-ID: c1@10.0.0.1\r\nCSeq: 11 INVITE\r\n"
	        "Contact: <sip:alice@10.0.0.9:5070>\r\nContent-Length: 0\r\n\r\n");
	assert_true(cf_sip_dialog_match(d, m));
	assert_int_equal(cf_sip_dialog_recv(d, m), 0);
	assert_string_equal(d->target, "sip:alice@10.0.0.9:5070");
	assert_int_equal(d->remote_cseq, 11);
	/* the same CSeq again (not a retransmission the layer absorbed):
	 * out of order, §12.2.2 */
	assert_int_equal(cf_sip_dialog_recv(d, m), EPROTO);
	cf_mem_deref(m);

	/* another dialog's request */
	m = dec("BYE sip:bob@10.0.0.4:5080 SIP/2.0\r\n"
	        "Via: SIP/2.0/UDP 10.0.0.1:5070;branch=z9hG4bKc\r\n"
	        "From: <sip:alice@example.com>;tag=other\r\n"
	        "To: <sip:bob@example.com>;tag=bt1\r\n"
	        "Call-ID: c1@10.0.0.1\r\nCSeq: 12 BYE\r\nContent-Length: 0\r\n\r\n");
	assert_false(cf_sip_dialog_match(d, m));
	assert_int_equal(cf_sip_dialog_recv(d, m), ENOENT);
	cf_mem_deref(m);

	m = dec("BYE sip:bob@10.0.0.4:5080 SIP/2.0\r\n"
	        "Via: SIP/2.0/UDP 10.0.0.1:5070;branch=z9hG4bKd\r\n"
	        "From: <sip:alice@example.com>;tag=at1\r\n"
	        "To: <sip:bob@example.com>;tag=bt1\r\n"
	        "Call-ID: c1@10.0.0.1\r\nCSeq: 12 BYE\r\nContent-Length: 0\r\n\r\n");
	assert_int_equal(cf_sip_dialog_recv(d, m), 0);
	assert_int_equal(d->state, CF_SIP_DLG_TERMINATED);
	cf_mem_deref(m);
	cf_mem_deref(d);
	cf_mem_deref(inv);
	cf_mem_deref(r200);
}

static bool is_p2(const struct cf_sip_uri *u, void *arg)
{
	(void)arg;
	return !cf_pl_strcmp(&u->host, "10.0.0.3");
}

/* The proxy p2 observes the call and, as the max duration is reached,
 * writes a BYE each way from its two views. */
static void test_proxy_views_bye(void **state)
{
	struct cf_sip_msg *inv = dec(INVITE), *r200 = dec(R200), *bye;
	struct cf_sip_dialog *caller = NULL, *callee = NULL;
	struct cf_mbuf *mb = NULL;
	struct cf_pl tag = CF_PL("bt1");
	struct cf_sip_uri hop;
	char *s;

	(void)state;
	assert_int_equal(cf_sip_dialog_uac_alloc(&caller, inv, r200), 0);
	assert_int_equal(cf_sip_dialog_uas_alloc(&callee, inv, &tag, 200), 0);
	assert_int_equal(callee->state, CF_SIP_DLG_CONFIRMED);

	/* alice's re-INVITE passes: both views see it */
	bye = dec("INVITE sip:bob@10.0.0.4:5080 SIP/2.0\r\n"
	          "Via: SIP/2.0/UDP 10.0.0.1:5070;branch=z9hG4bKe\r\n"
	          "From: <sip:alice@example.com>;tag=at1\r\n"
	          "To: <sip:bob@example.com>;tag=bt1\r\n"
	          "Call-ID: c1@10.0.0.1\r\nCSeq: 20 INVITE\r\n"
	          "Content-Length: 0\r\n\r\n");
	assert_int_equal(cf_sip_dialog_sent(caller, bye), 0);
	assert_int_equal(cf_sip_dialog_recv(callee, bye), 0);
	assert_int_equal(caller->local_cseq, 20);
	cf_mem_deref(bye);

	/* towards bob: as alice, the routes after ours (none) */
	assert_int_equal(cf_sip_dialog_routes_after(caller, is_p2, NULL), 2);
	assert_int_equal(caller->nroutes, 0);
	assert_int_equal(cf_sip_dialog_next_hop(caller, &hop), 0);
	assert_int_equal(cf_pl_strcmp(&hop.host, "10.0.0.4"), 0);
	assert_int_equal(cf_mbuf_alloc(&mb, 512), 0);
	assert_int_equal(cf_sip_dialog_request_encode(
	                     mb, caller, CF_SIP_M_BYE,
	                     "SIP/2.0/UDP 10.0.0.3;branch=z9hG4bKx", NULL, NULL),
	                 0);
	bye = dec((s = cf_pl_dup(&(struct cf_pl){(char *)mb->buf, mb->end})));
	assert_int_equal(bye->mid, CF_SIP_M_BYE);
	assert_int_equal(cf_pl_strcmp(&bye->ruri_pl, "sip:bob@10.0.0.4:5080"), 0);
	assert_int_equal(cf_pl_strcmp(&bye->from.tag, "at1"), 0);
	assert_int_equal(cf_pl_strcmp(&bye->to.tag, "bt1"), 0);
	assert_int_equal(bye->cseq.num, 21);
	assert_null(cf_sip_msg_hdr(bye, CF_SIP_H_ROUTE));
	/* bob's view accepts it as the next request of the dialog */
	assert_int_equal(cf_sip_dialog_recv(callee, bye), 0);
	assert_int_equal(callee->state, CF_SIP_DLG_TERMINATED);
	cf_mem_deref(bye);
	cf_mem_deref(s);

	/* towards alice: as bob, through p1 (loose router) */
	assert_int_equal(cf_sip_dialog_routes_after(callee, is_p2, NULL), 1);
	assert_int_equal(callee->nroutes, 1);
	callee->state = CF_SIP_DLG_CONFIRMED; /* write it anyway */
	mb->end = mb->pos = 0;
	assert_int_equal(cf_sip_dialog_request_encode(
	                     mb, callee, CF_SIP_M_BYE,
	                     "SIP/2.0/UDP 10.0.0.3;branch=z9hG4bKy", NULL, NULL),
	                 0);
	bye = dec((s = cf_pl_dup(&(struct cf_pl){(char *)mb->buf, mb->end})));
	assert_int_equal(cf_pl_strcmp(&bye->ruri_pl, "sip:alice@10.0.0.1:5070"), 0);
	assert_int_equal(cf_pl_strcmp(&bye->from.tag, "bt1"), 0);
	assert_int_equal(cf_pl_strcmp(&bye->to.tag, "at1"), 0);
	assert_int_equal(bye->cseq.num, 1);
	assert_int_equal(cf_pl_strcmp(&cf_sip_msg_hdr(bye, CF_SIP_H_ROUTE)->val,
	                              "<sip:10.0.0.2;lr>"),
	                 0);
	assert_int_equal(cf_sip_dialog_next_hop(callee, &hop), 0);
	assert_int_equal(cf_pl_strcmp(&hop.host, "10.0.0.2"), 0);
	cf_mem_deref(bye);
	cf_mem_deref(s);

	/* a terminated dialog writes nothing */
	caller->state = CF_SIP_DLG_TERMINATED;
	assert_int_equal(cf_sip_dialog_request_encode(mb, caller, CF_SIP_M_BYE,
	                                              "SIP/2.0/UDP x", NULL, NULL),
	                 EINVAL);
	cf_mem_deref(mb);
	cf_mem_deref(caller);
	cf_mem_deref(callee);
	cf_mem_deref(inv);
	cf_mem_deref(r200);
}

/* a strict router first in the route set (§12.2.1.1) */
static void test_strict_router(void **state)
{
	struct cf_sip_msg *inv = dec(INVITE), *bye;
	struct cf_sip_msg *r200 = dec(
	    "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 10.0.0.1:5070;branch=z9hG4bKa\r\n"
	    "Record-Route: <sip:10.0.0.3;lr>, <sip:10.0.0.2>\r\n"
	    "From: <sip:alice@example.com>;tag=at1\r\nTo: <sip:bob@example.com>;tag=bt1\r\n"
	    "Call-ID: c1@10.0.0.1\r\nCSeq: 10 INVITE\r\n"
	    "Contact: <sip:bob@10.0.0.4:5080>\r\nContent-Length: 0\r\n\r\n");
	struct cf_sip_dialog *d = NULL;
	struct cf_mbuf *mb = NULL;
	const struct cf_sip_hdr *h;
	char *s;

	(void)state;
	assert_int_equal(cf_sip_dialog_uac_alloc(&d, inv, r200), 0);
	assert_int_equal(cf_mbuf_alloc(&mb, 512), 0);
	assert_int_equal(cf_sip_dialog_request_encode(
	                     mb, d, CF_SIP_M_BYE,
	                     "SIP/2.0/UDP 10.0.0.1:5070;branch=z9hG4bKz", NULL,
	                     NULL),
	                 0);
	bye = dec((s = cf_pl_dup(&(struct cf_pl){(char *)mb->buf, mb->end})));
	assert_int_equal(cf_pl_strcmp(&bye->ruri_pl, "sip:10.0.0.2"), 0);
	assert_int_equal(cf_sip_msg_hdr_count(bye, CF_SIP_H_ROUTE), 2);
	h = cf_sip_msg_hdr(bye, CF_SIP_H_ROUTE);
	assert_int_equal(cf_pl_strcmp(&h->val, "<sip:10.0.0.3;lr>"), 0);
	assert_int_equal(bye->cseq.num, 11);
	cf_mem_deref(bye);
	cf_mem_deref(s);
	cf_mem_deref(mb);
	cf_mem_deref(d);
	cf_mem_deref(inv);
	cf_mem_deref(r200);
}

/* out of memory at every allocation: an error, never a leak */
static void test_oom(void **state)
{
	struct cf_sip_msg *inv = dec(INVITE), *r200 = dec(R200);
	int err = ENOMEM;

	(void)state;
	for (long n = 1; n < 64 && err == ENOMEM; n++) {
		struct cf_sip_dialog *d = NULL;

		cf_mem_fail_after(n);
		err = cf_sip_dialog_uac_alloc(&d, inv, r200);
		cf_mem_fail_after(0);
		cf_mem_deref(d);
	}
	assert_int_equal(err, 0);
	cf_mem_deref(inv);
	cf_mem_deref(r200);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_uac_early_confirmed, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_uac_bad, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_uac_early_terminated, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_uas, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_proxy_views_bye, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_strict_router, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_oom, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
