/* SPDX-License-Identifier: BSD-3-Clause */
/* test_mod.c - request dispatch and the basic service, driven through a
 * real transaction environment with a fake clock and a recording send. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mod/basic/basic.h"
#include "mod/mod.h"
#include "testapp.h"

enum { SENT_MAX = 16 };

struct fixture {
	struct cf_tmr_wheel *wheel;
	struct cf_sip_txn_env *env;
	struct cf_app_conf *conf;
	struct cf_app *app;
	struct cf_sip_txn_handlers h;
	struct cf_sip_peer peer;
	char *sent[SENT_MAX];
	size_t nsent;
	long blocks;
	long fail_after; /* OOM tests: the n-th allocation in recv fails */
};

static int rec_send(const struct cf_sip_peer *peer, const struct cf_pl *bytes,
                    void *arg)
{
	struct fixture *f = arg;

	(void)peer;
	if (f->nsent < SENT_MAX)
		f->sent[f->nsent++] = strndup(bytes->p, bytes->l);
	return 0;
}

static void sent_clear(struct fixture *f)
{
	for (size_t i = 0; i < f->nsent; i++)
		free(f->sent[i]);
	f->nsent = 0;
}

static int setup(void **state)
{
	static const char *const sets[] = {"test.ring_timeout=2",
	                                   "general.domain=confab.test"};
	struct fixture *f = calloc(1, sizeof(*f));
	struct cf_sa sa;

	assert_non_null(f);
	f->blocks = cf_mem_blocks();
	cf_testapp_txn_alloc(&f->wheel, &f->env, NULL, rec_send, f);
	assert_int_equal(cf_app_conf_load(&f->conf, NULL, sets, 2, NULL), 0);
	assert_int_equal(cf_app_alloc(&f->app, f->conf), 0);
	assert_int_equal(cf_sa_set_str(&sa, "127.0.0.1", 25060), 0);
	assert_int_equal(cf_app_addr_add(f->app, &sa), 0);
	assert_int_equal(cf_mod_init_all(f->app), 0);
	cf_mod_basic_set_wheel(f->wheel);
	cf_mod_handlers(&f->h, f->app);

	f->peer.tp = CF_SIP_TP_UDP;
	assert_int_equal(cf_sa_set_str(&f->peer.addr, "127.0.0.1", 25160), 0);
	f->peer.local = sa;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	cf_testapp_txn_drain(f->wheel, f->env, 80);
	cf_mod_basic_set_wheel(NULL);
	cf_mod_stop_all(f->app);
	sent_clear(f);
	cf_mem_deref(f->app);
	cf_mem_deref(f->conf);
	cf_mem_deref(f->env);
	cf_mem_deref(f->wheel);
	assert_int_equal(cf_mem_blocks(), f->blocks);
	free(f);
	return 0;
}

/* Feed one request: method, Request-URI, To, extra header lines. */
static void feed(struct fixture *f, const char *method, const char *ruri,
                 const char *to, const char *branch, const char *cseq_method,
                 const char *extra)
{
	struct cf_sip_msg *msg = NULL;
	char buf[2048];
	size_t used;
	int n;

	n = snprintf(buf, sizeof(buf),
	             "%s %s SIP/2.0\r\n"
	             "Via: SIP/2.0/UDP 127.0.0.1:25160;branch=z9hG4bK%s\r\n"
	             /* not one of our domains: the proxy does not
	              * challenge it (407 is tested in test_proxy.c) */
	             "From: <sip:tester@client.invalid>;tag=ft1\r\n"
	             "To: %s\r\n"
	             "Call-ID: call-%s@test\r\n"
	             "CSeq: 1 %s\r\n"
	             /* an INVITE without one is refused 400 (check.c) */
	             "Contact: <sip:tester@127.0.0.1:25160>\r\n"
	             "%s"
	             "Content-Length: 0\r\n\r\n",
	             method, ruri, branch, to, branch, cseq_method,
	             extra ? extra : "Max-Forwards: 70\r\n");
	assert_true(n > 0 && (size_t)n < sizeof(buf));
	assert_int_equal(cf_sip_msg_decode(&msg, (const uint8_t *)buf, n,
	                                   CF_SIP_DATAGRAM, &used),
	                 0);
	cf_mem_fail_after(f->fail_after);
	cf_sip_txn_recv(f->env, &f->h, msg, &f->peer);
	cf_mem_fail_after(0);
	cf_mem_deref(msg);
}

static void simple(struct fixture *f, const char *method, const char *ruri,
                   const char *to, const char *extra)
{
	static unsigned seq;
	char branch[32];

	snprintf(branch, sizeof(branch), "s%u", ++seq);
	feed(f, method, ruri, to, branch, method, extra);
}

/* The last response sent has this status code. */
static const char *last(struct fixture *f, unsigned code)
{
	char want[16];

	assert_true(f->nsent > 0);
	snprintf(want, sizeof(want), "SIP/2.0 %u ", code);
	if (strncmp(f->sent[f->nsent - 1], want, strlen(want)))
		fail_msg("want %u, got: %.40s", code, f->sent[f->nsent - 1]);
	return f->sent[f->nsent - 1];
}

/* Was a response with this code sent for the call of this branch? */
static bool sent_for(struct fixture *f, unsigned code, const char *branch)
{
	char want[16], cid[64];

	snprintf(want, sizeof(want), "SIP/2.0 %u ", code);
	snprintf(cid, sizeof(cid), "\r\nCall-ID: call-%s@test\r\n", branch);
	for (size_t i = 0; i < f->nsent; i++) {
		if (!strncmp(f->sent[i], want, strlen(want)) &&
		    strstr(f->sent[i], cid))
			return true;
	}
	return false;
}

static void test_options_to_us(void **state)
{
	struct fixture *f = *state;
	const char *r;

	simple(f, "OPTIONS", "sip:confab.test", "<sip:confab.test>", NULL);
	r = last(f, 200);
	assert_non_null(
	    strstr(r, "\r\nAllow: INVITE, ACK, CANCEL, OPTIONS, REGISTER\r\n"));
	assert_non_null(strstr(r, "\r\nAccept: application/sdp\r\n"));
	assert_non_null(strstr(r, "\r\nSupported:"));
	assert_non_null(strstr(r, ";tag=")); /* To tag added */

	simple(f, "OPTIONS", "sip:127.0.0.1:25060", "<sip:127.0.0.1>", NULL);
	last(f, 200);
	simple(f, "OPTIONS", "sip:127.0.0.1", "<sip:127.0.0.1>", NULL);
	last(f, 200);
	simple(f, "OPTIONS", "sips:CONFAB.test", "<sip:confab.test>", NULL);
	last(f, 200);

	/* RFC 3261 §11: we are the UAS, so Max-Forwards 0 is fine */
	simple(f, "OPTIONS", "sip:confab.test", "<sip:confab.test>",
	       "Max-Forwards: 0\r\n");
	last(f, 200);
}

/* OPTIONS to the server is answered statelessly (as Kamailio's
 * sl_send_reply): no transaction stays behind for Timer J, and a
 * retransmission is answered again with the very same response (same To
 * tag, RFC 3261 §8.2.7). Other answers stay transactional. */
static void test_options_stateless(void **state)
{
	struct fixture *f = *state;
	struct cf_sip_txn_stats st;

	feed(f, "OPTIONS", "sip:confab.test", "<sip:confab.test>", "sl1",
	     "OPTIONS", NULL);
	last(f, 200);
	assert_int_equal(cf_sip_txn_env_count(f->env), 0);
	feed(f, "OPTIONS", "sip:confab.test", "<sip:confab.test>", "sl1",
	     "OPTIONS", NULL);
	assert_int_equal(f->nsent, 2);
	assert_string_equal(f->sent[0], f->sent[1]);
	assert_int_equal(cf_sip_txn_env_count(f->env), 0);
	cf_sip_txn_env_stats(f->env, &st);
	assert_int_equal(st.requests, 2);
	assert_int_equal(st.retransmissions_absorbed, 0);

	/* another request: another tag */
	feed(f, "OPTIONS", "sip:confab.test", "<sip:confab.test>", "sl2",
	     "OPTIONS", NULL);
	assert_int_equal(f->nsent, 3);
	assert_string_not_equal(strstr(f->sent[0], ";tag="),
	                        strstr(f->sent[2], ";tag="));

	/* OPTIONS to a user: 404 from a transaction that absorbs the
	 * retransmission (resending its answer) and waits out Timer J */
	feed(f, "OPTIONS", "sip:alice@confab.test", "<sip:a@confab.test>",
	     "sl3", "OPTIONS", NULL);
	last(f, 404);
	assert_int_equal(cf_sip_txn_env_count(f->env), 1);
	feed(f, "OPTIONS", "sip:alice@confab.test", "<sip:a@confab.test>",
	     "sl3", "OPTIONS", NULL);
	assert_int_equal(f->nsent, 5);
	assert_string_equal(f->sent[3], f->sent[4]);
	cf_sip_txn_env_stats(f->env, &st);
	assert_int_equal(st.retransmissions_absorbed, 1);
	assert_int_equal(cf_sip_txn_env_count(f->env), 1);
}

static void test_not_ours(void **state)
{
	struct fixture *f = *state;

	/* a user, another port, another domain: not the server; the proxy
	 * (test_proxy.c) takes them: unknown user, forwarded, no resolver (no loop here) */
	simple(f, "OPTIONS", "sip:alice@confab.test", "<sip:a@confab.test>",
	       NULL);
	last(f, 404);
	simple(f, "OPTIONS", "sip:127.0.0.1:5999", "<sip:127.0.0.1>", NULL);
	assert_true(f->nsent > 0);
	assert_memory_equal(f->sent[f->nsent - 1],
	                    "OPTIONS sip:127.0.0.1:5999 SIP/2.0\r\n", 36);
	simple(f, "OPTIONS", "sip:example.org", "<sip:example.org>", NULL);
	last(f, 503);
	/* a REGISTER for another domain (the registrar takes ours) */
	simple(f, "REGISTER", "sip:example.org", "<sip:a@example.org>", NULL);
	last(f, 404);
	simple(f, "MESSAGE", "sip:bob@confab.test", "<sip:bob@confab.test>",
	       NULL);
	last(f, 404);
	simple(f, "INVITE", "sip:bob@confab.test", "<sip:bob@confab.test>",
	       NULL);
	last(f, 404);
	/* the test extension at a domain we do not serve: the proxy would
	 * forward it, but names wait for RFC 3263 (issue 5) */
	simple(f, "INVITE", "sip:ring@example.org", "<sip:ring@example.org>",
	       NULL);
	last(f, 503);
	/* §16.3: we would have to forward it and may not */
	simple(f, "MESSAGE", "sip:bob@example.org", "<sip:bob@example.org>",
	       "Max-Forwards: 0\r\n");
	last(f, 483);
}

static void test_rules(void **state)
{
	struct fixture *f = *state;
	const char *r;

	/* §8.2.1: unknown method */
	simple(f, "FROB", "sip:confab.test", "<sip:confab.test>", NULL);
	r = last(f, 501);
	assert_non_null(
	    strstr(r, "\r\nAllow: INVITE, ACK, CANCEL, OPTIONS, REGISTER\r\n"));

	/* §8.2.2.3: an extension we do not have */
	simple(f, "OPTIONS", "sip:confab.test", "<sip:confab.test>",
	       "Max-Forwards: 70\r\nRequire: foo, 100rel\r\n");
	r = last(f, 420);
	assert_non_null(strstr(r, "\r\nUnsupported: foo, 100rel\r\n"));

	/* §12.2.2: a dialog we do not know */
	simple(f, "BYE", "sip:tester@127.0.0.1",
	       "<sip:ring@confab.test>;tag=nosuch", NULL);
	last(f, 481);
	simple(f, "OPTIONS", "sip:confab.test", "<sip:confab.test>;tag=nosuch",
	       NULL);
	last(f, 481);
}

static void test_unknown_scheme(void **state)
{
	struct fixture *f = *state;

	/* §8.2.2.1 (RFC 4475 §3.3.? "unksm"): 416, whoever decides it */
	simple(f, "OPTIONS", "nope:confab.test", "<sip:confab.test>", NULL);
	last(f, 416);
}

static void test_ack_dropped(void **state)
{
	struct fixture *f = *state;

	simple(f, "ACK", "sip:ring@confab.test", "<sip:ring@confab.test>;tag=x",
	       NULL);
	assert_int_equal(f->nsent, 0);
}

static void test_ring_cancel(void **state)
{
	struct fixture *f = *state;
	const struct cf_mod_basic_api *api = cf_mod_find("basic")->api;

	feed(f, "INVITE", "sip:ring@confab.test", "<sip:ring@confab.test>",
	     "r1", "INVITE", NULL);
	last(f, 180);
	assert_int_equal(api->ringing(), 1);

	/* it keeps ringing (the ticks do not end it early) */
	cf_tmr_wheel_advance(f->wheel, cf_tmr_wheel_now(f->wheel) + 1500);
	last(f, 180);
	sent_clear(f);

	/* §9.2: same branch, CSeq method CANCEL */
	feed(f, "CANCEL", "sip:ring@confab.test", "<sip:ring@confab.test>",
	     "r1", "CANCEL", NULL);
	assert_true(f->nsent >= 2);
	{
		bool ok200 = false, ok487 = false;

		for (size_t i = 0; i < f->nsent; i++) {
			if (!strncmp(f->sent[i], "SIP/2.0 200 ", 12) &&
			    strstr(f->sent[i], "CSeq: 1 CANCEL"))
				ok200 = true;
			if (!strncmp(f->sent[i], "SIP/2.0 487 ", 12) &&
			    strstr(f->sent[i], "CSeq: 1 INVITE"))
				ok487 = true;
		}
		assert_true(ok200);
		assert_true(ok487);
	}
	assert_int_equal(api->ringing(), 0);
}

static void test_ring_timeout(void **state)
{
	struct fixture *f = *state;
	const struct cf_mod_basic_api *api = cf_mod_find("basic")->api;

	feed(f, "INVITE", "sip:ring@127.0.0.1:25060", "<sip:ring@127.0.0.1>",
	     "t1", "INVITE", NULL);
	last(f, 180);
	/* ring_timeout = 2 s on the fake clock, in 250 ms ticks */
	cf_tmr_wheel_advance(f->wheel, cf_tmr_wheel_now(f->wheel) + 1999);
	last(f, 180);
	for (int i = 0; i < 4; i++)
		cf_tmr_wheel_advance(f->wheel, cf_tmr_wheel_now(f->wheel) + 1);
	last(f, 480);
	assert_int_equal(api->ringing(), 0);
}

static void test_ring_reload(void **state)
{
	struct fixture *f = *state;
	static const char *const sets[] = {"test.ring_extension=bell"};
	struct cf_app_conf *c2 = NULL;

	assert_int_equal(cf_app_conf_load(&c2, NULL, sets, 1, NULL), 0);
	cf_log_set_level(CF_LOG_ERR);
	cf_app_reload(f->app, c2);
	cf_mem_deref(c2);
	cf_log_set_level(CF_LOG_ERR); /* the reload set it to the default */

	simple(f, "INVITE", "sip:ring@confab.test", "<sip:ring@confab.test>",
	       NULL);
	last(f, 404);
	sent_clear(f);
	feed(f, "INVITE", "sip:bell@confab.test", "<sip:bell@confab.test>",
	     "b1", "INVITE", NULL);
	assert_true(sent_for(f, 180, "b1"));
	/* default timeout again (60 s) */
	cf_tmr_wheel_advance(f->wheel, cf_tmr_wheel_now(f->wheel) + 59000);
	assert_false(sent_for(f, 480, "b1"));
	cf_tmr_wheel_advance(f->wheel, cf_tmr_wheel_now(f->wheel) + 1001);
	assert_true(sent_for(f, 480, "b1"));
}

/* Out of memory anywhere while a request is dispatched: no crash, no
 * leak, no transaction left behind (teardown checks both), and once
 * allocations succeed again the same request is answered. */
static void test_oom(void **state)
{
	struct fixture *f = *state;
	char branch[32];

	for (long n = 1; n <= 40; n++) {
		f->fail_after = n;
		snprintf(branch, sizeof(branch), "o%ld", n);
		feed(f, "OPTIONS", "sip:confab.test", "<sip:confab.test>",
		     branch, "OPTIONS", NULL);
		feed(f, "OPTIONS", "sip:nobody@confab.test",
		     "<sip:nobody@confab.test>", branch, "OPTIONS", NULL);
		snprintf(branch, sizeof(branch), "i%ld", n);
		feed(f, "INVITE", "sip:ring@confab.test",
		     "<sip:ring@confab.test>", branch, "INVITE", NULL);
		feed(f, "CANCEL", "sip:ring@confab.test",
		     "<sip:ring@confab.test>", branch, "CANCEL", NULL);
		f->fail_after = 0;
		/* a ring whose CANCEL failed ends by its timeout */
		cf_tmr_wheel_advance(f->wheel,
		                     cf_tmr_wheel_now(f->wheel) + 2100);
		sent_clear(f);
	}
	assert_int_equal(
	    ((const struct cf_mod_basic_api *)cf_mod_find("basic")->api)
	        ->ringing(),
	    0);
	feed(f, "OPTIONS", "sip:confab.test", "<sip:confab.test>", "ok",
	     "OPTIONS", NULL);
	last(f, 200);
}

static void test_mod_table(void **state)
{
	(void)state;
	assert_non_null(cf_mod_find("basic"));
	assert_null(cf_mod_find("nosuch"));
	assert_null(cf_mod_find(NULL));
	/* the auth gate first: bans and rate limits for every request */
	assert_ptr_equal(cf_mods[0], cf_mod_find("auth"));
	assert_ptr_equal(cf_mods[1], cf_mod_find("registrar"));
	/* basic (the server's own OPTIONS, the test extension) before the
	 * proxy, which comes last: it forwards what the others left */
	assert_ptr_equal(cf_mods[2], &cf_mod_basic);
	assert_ptr_equal(cf_mods[3], cf_mod_find("proxy"));
	/* the routing script: no requests of its own, the proxy's hooks */
	assert_ptr_equal(cf_mods[4], cf_mod_find("lua"));
	assert_null(cf_mods[5]);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
	const struct CMUnitTest tests[] = {
	    T(test_options_to_us),  T(test_options_stateless),
	    T(test_not_ours),       T(test_rules),
	    T(test_unknown_scheme), T(test_ack_dropped),
	    T(test_ring_cancel),    T(test_ring_timeout),
	    T(test_ring_reload),    T(test_oom),
	    T(test_mod_table),
	};

	cf_log_set_level(CF_LOG_ERR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
