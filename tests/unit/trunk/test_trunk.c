/* SPDX-License-Identifier: BSD-3-Clause */
/* test_trunk.c - failure routes to our own users (retarget.c) and trunks
 * with their dial plan (trunk.c), through a real transaction environment
 * on a fake clock with the registrar, auth and a temporary store (the
 * fixture of test_proxy.c). */
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
#include "testapp.h"

enum { SENT_MAX = 128, T0 = 1800000000, CALLER = 25160 };

struct sent {
	char *bytes;
	uint16_t port;
	enum cf_sip_tp tp;
};

struct fixture {
	struct cf_tmr_wheel *wheel;
	struct cf_sip_txn_env *env;
	struct cf_app_conf *conf;
	struct cf_app *app;
	struct cf_sip_txn_handlers h;
	struct cf_sip_peer peer;
	struct sent sent[SENT_MAX];
	size_t nsent;
	long blocks;
	char db[64];
	const char *const *sets;
	size_t nsets;
	unsigned branch;
	long fail_after; /* OOM tests: the n-th allocation in recv fails */
};

static int rec_send(const struct cf_sip_peer *peer, const struct cf_pl *bytes,
                    void *arg)
{
	struct fixture *f = arg;

	if (f->nsent == SENT_MAX) {
		free(f->sent[0].bytes);
		memmove(f->sent, f->sent + 1,
		        (SENT_MAX - 1) * sizeof(f->sent[0]));
		f->nsent--;
	}
	f->sent[f->nsent].bytes = strndup(bytes->p, bytes->l);
	f->sent[f->nsent].port = cf_sa_port(&peer->addr);
	f->sent[f->nsent].tp = peer->tp;
	f->nsent++;
	return 0;
}

static void sent_clear(struct fixture *f)
{
	for (size_t i = 0; i < f->nsent; i++)
		free(f->sent[i].bytes);
	f->nsent = 0;
}

struct sets {
	const char *const *v;
	size_t n;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	const struct sets *s = *state;
	const char *sets[16];
	struct cf_sip_cfg cfg;
	struct cf_store *st;
	char uri[96];
	struct cf_sa sa;
	size_t n = 0;
	int fd;

	assert_non_null(f);
	f->blocks = cf_mem_blocks();
	snprintf(f->db, sizeof(f->db), "/tmp/cf_test_proxy_XXXXXX");
	fd = mkstemp(f->db);
	assert_true(fd >= 0);
	close(fd);
	unlink(f->db);
	cf_registrar_test_clock(T0);
	cf_sip_cfg_default(&cfg);
	cfg.timer_c_ms = 190000;
	cf_testapp_txn_alloc(&f->wheel, &f->env, &cfg, rec_send, f);

	/* alice, bob, carol at example.com; only who registers is bound */
	snprintf(uri, sizeof(uri), "sqlite:%s", f->db);
	assert_int_equal(cf_store_open(&st, uri, NULL), 0);
	assert_int_equal(
	    cf_store_domain_add(
	        st, &(struct cf_store_domain){"example.com", NULL, NULL}),
	    0);
	assert_int_equal(
	    cf_store_subscriber_add(st, "alice", "example.com", "secret"), 0);
	assert_int_equal(
	    cf_store_subscriber_add(st, "bob", "example.com", "secret"), 0);
	assert_int_equal(
	    cf_store_subscriber_add(st, "carol", "example.com", "secret"), 0);

	sets[n++] = "general.domain=example.com";
	sets[n++] = "registrar.authenticate=no";
	sets[n++] = "proxy.authenticate=no";
	sets[n++] = "proxy.no_answer_timeout=0";
	for (size_t i = 0; s && i < s->n && n < 16; i++)
		sets[n++] = s->v[i];
	assert_int_equal(cf_app_conf_load(&f->conf, NULL, sets, n, NULL), 0);
	assert_int_equal(cf_app_alloc(&f->app, f->conf), 0);
	assert_int_equal(cf_sa_set_str(&sa, "127.0.0.1", 25060), 0);
	assert_int_equal(cf_app_addr_add(f->app, &sa), 0);
	cf_app_set_store(f->app, st);
	cf_mem_deref(st);
	assert_int_equal(cf_mod_init_all(f->app), 0);
	assert_int_equal(cf_mod_start_all(f->app), 0);
	cf_mod_handlers(&f->h, f->app);

	f->peer.tp = CF_SIP_TP_UDP;
	assert_int_equal(cf_sa_set_str(&f->peer.addr, "127.0.0.1", CALLER), 0);
	f->peer.local = sa;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char p[96];

	cf_testapp_txn_drain(f->wheel, f->env, 400); /* Timer C */
	cf_mod_stop_all(f->app);
	f->app = cf_mem_deref(f->app);
	f->conf = cf_mem_deref(f->conf);
	sent_clear(f);
	cf_mem_deref(f->env);
	cf_mem_deref(f->wheel);
	cf_registrar_test_clock(0);
	assert_int_equal(cf_mem_blocks(), f->blocks);
	unlink(f->db);
	snprintf(p, sizeof(p), "%s-wal", f->db);
	unlink(p);
	snprintf(p, sizeof(p), "%s-shm", f->db);
	unlink(p);
	free(f);
	return 0;
}

/* ------------------------------------------------------------ helpers */

static void feed_from(struct fixture *f, const char *buf, uint16_t port)
{
	struct cf_sip_msg *msg = NULL;
	struct cf_sip_peer peer = f->peer;
	size_t used;

	cf_sa_set_port(&peer.addr, port);
	assert_int_equal(cf_sip_msg_decode(&msg, (const uint8_t *)buf,
	                                   strlen(buf), CF_SIP_DATAGRAM, &used),
	                 0);
	assert_int_equal(msg->fault.code, 0);
	cf_mem_fail_after(f->fail_after);
	cf_sip_txn_recv(f->env, &f->h, msg, &peer);
	cf_mem_fail_after(0);
	cf_mem_deref(msg);
}

/* A REGISTER binding aor to the Contact line given. */
static void reg(struct fixture *f, const char *user, const char *contact)
{
	char buf[2048];

	snprintf(buf, sizeof(buf),
	         "REGISTER sip:example.com SIP/2.0\r\n"
	         "Via: SIP/2.0/UDP 127.0.0.1:5071;branch=z9hG4bKreg%u\r\n"
	         "Max-Forwards: 70\r\n"
	         "From: <sip:%s@example.com>;tag=r1\r\n"
	         "To: <sip:%s@example.com>\r\n"
	         "Call-ID: reg-%s-%u@test\r\n"
	         "CSeq: 1 REGISTER\r\n"
	         "%s\r\n"
	         "Content-Length: 0\r\n\r\n",
	         f->branch + 1, user, user, user, f->branch + 1, contact);
	f->branch++;
	feed_from(f, buf, 5071);
	assert_true(f->nsent > 0);
	assert_memory_equal(f->sent[f->nsent - 1].bytes, "SIP/2.0 200 ", 12);
}

/* A request from the caller (port CALLER). */
static void req(struct fixture *f, const char *method, const char *ruri,
                const char *callid, const char *to, const char *extra)
{
	char buf[4096];

	snprintf(buf, sizeof(buf),
	         "%s %s SIP/2.0\r\n"
	         "Via: SIP/2.0/UDP 127.0.0.1:25160;branch=z9hG4bKc%u\r\n"
	         "From: <sip:alice@example.com>;tag=a1\r\n"
	         "To: %s\r\n"
	         "Call-ID: %s\r\n"
	         "CSeq: 1 %s\r\n"
	         "Contact: <sip:alice@127.0.0.1:25160>\r\n"
	         "%s"
	         "Content-Length: 0\r\n\r\n",
	         method, ruri, ++f->branch, to, callid, method,
	         extra ? extra : "Max-Forwards: 70\r\n");
	feed_from(f, buf, CALLER);
}

static void invite(struct fixture *f, const char *ruri, const char *extra)
{
	req(f, "INVITE", ruri, "call@test", "<sip:bob@example.com>", extra);
}

/* The last message sent to port that starts with prefix, or NULL. */
static const char *sent_to(struct fixture *f, uint16_t port, const char *prefix)
{
	for (size_t i = f->nsent; i-- > 0;) {
		if (f->sent[i].port == port &&
		    !strncmp(f->sent[i].bytes, prefix, strlen(prefix)))
			return f->sent[i].bytes;
	}
	return NULL;
}

/* Answer the request last sent to port (its INVITE by default) with code,
 * as the UA there would: every Via, To with a tag, extra header lines. */
static void answer_from(struct fixture *f, uint16_t port, const char *method,
                        uint16_t code, const char *extra)
{
	char prefix[32], tag[16];
	const char *r;
	struct cf_sip_msg *msg = NULL;
	struct cf_mbuf *mb = NULL;
	struct cf_pl t;
	size_t used;

	snprintf(prefix, sizeof(prefix), "%s ", method);
	r = sent_to(f, port, prefix);
	assert_non_null(r);
	assert_int_equal(cf_sip_msg_decode(&msg, (const uint8_t *)r, strlen(r),
	                                   CF_SIP_DATAGRAM, &used),
	                 0);
	snprintf(tag, sizeof(tag), "t%u", port);
	cf_pl_set_str(&t, tag);
	assert_int_equal(cf_mbuf_alloc(&mb, 1024), 0);
	assert_int_equal(cf_sip_reply_encode(mb, msg, code, cf_sip_reason(code),
	                                     code > 100 ? &t : NULL, extra,
	                                     NULL),
	                 0);
	assert_int_equal(cf_mbuf_write_u8(mb, 0), 0);
	feed_from(f, (const char *)mb->buf, port);
	cf_mem_deref(mb);
	cf_mem_deref(msg);
}

/* The last response the caller got has this code. */
static const char *caller_got(struct fixture *f, uint16_t code)
{
	char want[16];

	for (size_t i = f->nsent; i-- > 0;) {
		if (f->sent[i].port != CALLER ||
		    strncmp(f->sent[i].bytes, "SIP/2.0 ", 8))
			continue;
		snprintf(want, sizeof(want), "SIP/2.0 %u ", code);
		if (strncmp(f->sent[i].bytes, want, strlen(want)))
			fail_msg("want %u, got: %.300s", code,
			         f->sent[i].bytes);
		return f->sent[i].bytes;
	}
	fail_msg("caller got nothing (want %u)", code);
	return NULL;
}

#define BOB "sip:bob@example.com"

/* ------------------------------------ failure routes to our own users */

static const char *const local_sets[] = {
    "proxy.forward_busy=sip:carol@example.com",
    "proxy.forward_offline=sip:carol@example.com",
    "proxy.forward_unavailable=sip:nobody@example.com",
    "proxy.forward_headers=both",
};
static const struct sets locals = {local_sets, 4};

#define CAROL "sip:carol@example.com"

/* bob busy: the busy route is carol, a user of ours with two devices of
 * equal q: both ring (parallel fork, like a call to her), with the
 * History-Info naming carol's AOR; one answers, the other is cancelled. */
static void test_local_busy_fork(void **state)
{
	struct fixture *f = *state;
	const char *r;

	reg(f, "bob", "Contact: <sip:bob@127.0.0.1:5071>");
	reg(f, "carol", "Contact: <sip:carol@127.0.0.1:5091>, "
	                "<sip:carol@127.0.0.1:5092>");
	sent_clear(f);
	invite(f, BOB, NULL);
	answer_from(f, 5071, "INVITE", 486, NULL);
	assert_null(sent_to(f, CALLER, "SIP/2.0 486 "));
	r = sent_to(f, 5091, "INVITE sip:carol@127.0.0.1:5091 ");
	assert_non_null(r);
	assert_non_null(strstr(r, "History-Info: <" BOB "?Reason=SIP%3Bcause"
	                          "%3D486>;index=1, <" CAROL ">;index=1.1;mp=1\r\n"));
	assert_non_null(
	    strstr(r, "Diversion: <" BOB ">;reason=user-busy;counter=1\r\n"));
	assert_non_null(sent_to(f, 5092, "INVITE sip:carol@127.0.0.1:5092 "));
	answer_from(f, 5092, "INVITE", 180, NULL);
	caller_got(f, 180);
	answer_from(f, 5091, "INVITE", 200, NULL);
	caller_got(f, 200);
	assert_non_null(sent_to(f, 5092, "CANCEL "));
	answer_from(f, 5092, "INVITE", 487, NULL);
	caller_got(f, 200);
}

/* carol's devices with different q: serial, the higher q first; the
 * second rings only when the first failed. */
static void test_local_busy_serial(void **state)
{
	struct fixture *f = *state;

	reg(f, "bob", "Contact: <sip:bob@127.0.0.1:5071>");
	reg(f, "carol", "Contact: <sip:carol@127.0.0.1:5091>;q=0.5, "
	                "<sip:carol@127.0.0.1:5092>;q=1.0");
	sent_clear(f);
	invite(f, BOB, NULL);
	answer_from(f, 5071, "INVITE", 486, NULL);
	assert_non_null(sent_to(f, 5092, "INVITE "));
	assert_null(sent_to(f, 5091, "INVITE "));
	answer_from(f, 5092, "INVITE", 480, NULL);
	assert_non_null(sent_to(f, 5091, "INVITE "));
	answer_from(f, 5091, "INVITE", 200, NULL);
	caller_got(f, 200);
}

/* The route's user has no binding: 480 to the caller (not bob's 486);
 * an unknown user of ours: 404. */
static void test_local_offline_target(void **state)
{
	struct fixture *f = *state;

	reg(f, "bob", "Contact: <sip:bob@127.0.0.1:5071>");
	sent_clear(f);
	invite(f, BOB, NULL);
	answer_from(f, 5071, "INVITE", 486, NULL);
	caller_got(f, 480);
	assert_null(sent_to(f, CALLER, "SIP/2.0 486 "));

	sent_clear(f);
	req(f, "INVITE", BOB, "call2@test", "<sip:bob@example.com>", NULL);
	answer_from(f, 5071, "INVITE", 503, NULL);
	caller_got(f, 404);
}

/* bob offline: the offline route is carol, registered: she rings. */
static void test_local_offline_route(void **state)
{
	struct fixture *f = *state;
	const char *r;

	reg(f, "carol", "Contact: <sip:carol@127.0.0.1:5091>");
	sent_clear(f);
	invite(f, BOB, NULL);
	r = sent_to(f, 5091, "INVITE sip:carol@127.0.0.1:5091 ");
	assert_non_null(r);
	assert_non_null(strstr(r, "<" CAROL ">;index=1.1;mp=1\r\n"));
	assert_non_null(strstr(
	    r, "Diversion: <" BOB ">;reason=unavailable;counter=1\r\n"));
	answer_from(f, 5091, "INVITE", 200, NULL);
	caller_got(f, 200);
}

int main(void)
{
#define TS(name, s)                                                            \
	cmocka_unit_test_prestate_setup_teardown(name, setup, teardown,        \
	                                         (void *)&(s))
	const struct CMUnitTest tests[] = {
	    TS(test_local_busy_fork, locals),
	    TS(test_local_busy_serial, locals),
	    TS(test_local_offline_target, locals),
	    TS(test_local_offline_route, locals),
	};

	cf_log_set_level(CF_LOG_ERR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
