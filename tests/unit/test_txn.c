/* SPDX-License-Identifier: BSD-3-Clause */
/* test_txn.c - unit tests of the transaction layer (RFC 3261 §17, RFC 6026)
 * on a fake clock: a wheel advanced by hand and a recording send. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sip/sip.h"

enum {
	T1 = 500,
	T2 = 4000,
	T4 = 5000,
	MAXSENT = 128,
};

struct sent {
	struct cf_sip_peer peer;
	uint64_t at; /* wheel time */
	char *bytes;
	size_t len;
};

struct fix {
	long blocks;
	struct cf_tmr_wheel *w;
	struct cf_sip_txn_env *env;
	struct cf_sip_txn_handlers h;
	struct sent sent[MAXSENT];
	size_t nsent;
	int send_err;
	bool oom;           /* handlers tolerate ENOMEM */
	uint16_t auto_code; /* answer in the handler, keep no reference */

	/* server side */
	uint16_t cancel_code;
	struct cf_sip_strans *st; /* last server transaction (a ref) */
	int nreq;
	int nack; /* requests with st NULL */
	int ncancel;
	int nstray;

	/* client side */
	uint16_t codes[32];
	bool nomsg[32];
	size_t ncodes;
};

static struct fix *F;

/* ------------------------------------------------------------ helpers */

static int rec_send(const struct cf_sip_peer *peer, const struct cf_pl *b,
                    void *arg)
{
	struct fix *f = arg;
	struct sent *s;

	if (f->send_err)
		return f->send_err;
	assert_true(f->nsent < MAXSENT);
	s = &f->sent[f->nsent++];
	s->peer = *peer;
	s->at = cf_tmr_wheel_now(f->w);
	s->bytes = malloc(b->l + 1);
	assert_non_null(s->bytes);
	memcpy(s->bytes, b->p, b->l);
	s->bytes[b->l] = 0;
	s->len = b->l;
	return 0;
}

static void on_request(struct cf_sip_strans *st, const struct cf_sip_msg *msg,
                       const struct cf_sip_peer *peer, void *arg)
{
	struct fix *f = arg;

	(void)peer;
	assert_non_null(msg);
	if (!st) {
		assert_int_equal(msg->mid, CF_SIP_M_ACK);
		++f->nack;
		return;
	}
	++f->nreq;
	assert_ptr_equal(cf_sip_strans_msg(st), msg);
	if (f->auto_code) {
		/* a service answering at once, keeping nothing */
		assert_int_equal(
		    cf_sip_strans_reply(st, f->auto_code, NULL, NULL, NULL), 0);
		return;
	}
	cf_mem_deref(f->st);
	f->st = cf_mem_ref(st);
}

static void on_cancel(struct cf_sip_strans *st, void *arg)
{
	struct fix *f = arg;

	++f->ncancel;
	assert_ptr_equal(st, f->st);
	assert_false(cf_sip_strans_final_sent(st));
	if (f->cancel_code) {
		int err =
		    cf_sip_strans_reply(st, f->cancel_code, NULL, NULL, NULL);
		if (!f->oom || err != ENOMEM)
			assert_int_equal(err, 0);
	}
}

static void on_stray(const struct cf_sip_msg *msg,
                     const struct cf_sip_peer *peer, void *arg)
{
	struct fix *f = arg;

	(void)msg;
	(void)peer;
	++f->nstray;
}

static void on_resp(struct cf_sip_ctrans *ct, const struct cf_sip_msg *msg,
                    uint16_t code, void *arg)
{
	struct fix *f = arg;

	(void)ct;
	assert_true(f->ncodes < 32);
	f->nomsg[f->ncodes] = msg == NULL;
	f->codes[f->ncodes++] = code;
	if (msg)
		assert_int_equal(msg->scode, code);
}

static int setup(void **state)
{
	struct cf_sip_cfg cfg = {0};
	struct fix *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->blocks = cf_mem_blocks();
	cfg.t1_ms = T1;
	cfg.t2_ms = T2;
	cfg.t4_ms = T4;
	assert_int_equal(cf_tmr_wheel_alloc(&f->w, 0), 0);
	assert_int_equal(cf_sip_txn_env_alloc(&f->env, &cfg, f->w, rec_send, f),
	                 0);
	f->h.request = on_request;
	f->h.cancel = on_cancel;
	f->h.stray_response = on_stray;
	f->h.arg = f;
	F = f;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fix *f = *state;
	size_t i;

	f->st = cf_mem_deref(f->st);
	f->env = cf_mem_deref(f->env);
	f->w = cf_mem_deref(f->w);
	for (i = 0; i < f->nsent; i++)
		free(f->sent[i].bytes);
	assert_int_equal(cf_mem_blocks(), f->blocks);
	free(f);
	return 0;
}

static void udp_peer(struct cf_sip_peer *p, uint16_t port)
{
	memset(p, 0, sizeof(*p));
	p->tp = CF_SIP_TP_UDP;
	assert_int_equal(cf_sa_set_str(&p->addr, "127.0.0.1", port), 0);
	assert_int_equal(cf_sa_set_str(&p->local, "127.0.0.1", 5060), 0);
}

static void tcp_peer(struct cf_sip_peer *p, uint16_t port)
{
	udp_peer(p, port);
	p->tp = CF_SIP_TP_TCP;
}

static struct cf_sip_msg *dec(const char *s)
{
	struct cf_sip_msg *m = NULL;
	size_t used = 0;

	assert_int_equal(cf_sip_msg_decode(&m, (const uint8_t *)s, strlen(s),
	                                   CF_SIP_DATAGRAM, &used),
	                 0);
	assert_non_null(m);
	return m;
}

static void rx(struct fix *f, const char *s, const struct cf_sip_peer *p)
{
	struct cf_sip_msg *m = dec(s);

	assert_int_equal(m->fault.code, 0);
	cf_sip_txn_recv(f->env, &f->h, m, p);
	cf_mem_deref(m);
}

/* A request; via_tail is appended to the top Via (";rport" ...), to_tag
 * may be NULL. */
static const char *req(char *buf, size_t sz, const char *method, const char *tp,
                       const char *branch, const char *via_tail,
                       const char *to_tag, uint32_t cseq,
                       const char *cseq_method)
{
	char brp[80] = "";
	char tt[40] = "";

	if (branch)
		snprintf(brp, sizeof(brp), ";branch=%s", branch);
	if (to_tag)
		snprintf(tt, sizeof(tt), ";tag=%s", to_tag);
	snprintf(buf, sz,
	         "%s sip:ring@127.0.0.1 SIP/2.0\r\n"
	         "Via: SIP/2.0/%s 127.0.0.1:5070%s%s\r\n"
	         "Via: SIP/2.0/UDP 10.0.0.9:5060;branch=z9hG4bKdown\r\n"
	         "Max-Forwards: 70\r\n"
	         "From: \"Alice\" <sip:alice@127.0.0.1>;tag=ft1\r\n"
	         "To: <sip:ring@127.0.0.1>%s\r\n"
	         "Call-ID: call-1@127.0.0.1\r\n"
	         "CSeq: %u %s\r\n"
	         "Content-Length: 0\r\n\r\n",
	         method, tp, brp, via_tail ? via_tail : "", tt, cseq,
	         cseq_method ? cseq_method : method);
	return buf;
}

static const char *invite(char *buf, size_t sz, const char *branch)
{
	return req(buf, sz, "INVITE", "UDP", branch, NULL, NULL, 1, NULL);
}

static struct cf_sip_msg *sent_msg(struct fix *f, size_t i)
{
	assert_true(i < f->nsent);
	return dec(f->sent[i].bytes);
}

static void assert_pl(const struct cf_pl *pl, const char *s)
{
	if (cf_pl_strcmp(pl, s)) {
		fail_msg("\"%.*s\" != \"%s\"", (int)pl->l, pl->p ? pl->p : "",
		         s);
	}
}

static uint16_t sent_code(struct fix *f, size_t i)
{
	struct cf_sip_msg *m = sent_msg(f, i);
	uint16_t c = m->req ? 0 : m->scode;

	cf_mem_deref(m);
	return c;
}

static void adv(struct fix *f, uint64_t to)
{
	cf_tmr_wheel_advance(f->w, to);
}

/* Step the clock 1 ms at a time up to `to`: timers see every ms. */
static void step(struct fix *f, uint64_t to)
{
	uint64_t t;

	for (t = cf_tmr_wheel_now(f->w) + 1; t <= to; t++)
		cf_tmr_wheel_advance(f->w, t);
}

static struct cf_sip_txn_stats stats(struct fix *f)
{
	struct cf_sip_txn_stats st;

	cf_sip_txn_env_stats(f->env, &st);
	return st;
}

/* ------------------------------------------------- server transactions */

static void test_invite_100_at_once(void **state)
{
	struct fix *f = *state;
	struct cf_sip_peer p;
	struct cf_sip_msg *m;
	char buf[1024];

	udp_peer(&p, 5070);
	rx(f, invite(buf, sizeof(buf), "z9hG4bKa1"), &p);

	assert_int_equal(f->nreq, 1);
	assert_non_null(f->st);
	assert_int_equal(f->nsent, 1);
	assert_int_equal(f->sent[0].at, 0);
	m = sent_msg(f, 0);
	assert_int_equal(m->scode, 100);
	assert_false(cf_pl_isset(&m->to.tag)); /* no tag on 100 */
	assert_pl(&m->via.branch, "z9hG4bKa1");
	assert_int_equal(cf_sip_msg_hdr_count(m, CF_SIP_H_VIA), 2);
	assert_pl(&m->call_id, "call-1@127.0.0.1");
	assert_int_equal(m->cseq.mid, CF_SIP_M_INVITE);
	cf_mem_deref(m);
	assert_int_equal(cf_sip_txn_env_count(f->env), 1);
	assert_int_equal(stats(f).requests, 1);
	assert_false(cf_sip_strans_final_sent(f->st));
}

static void test_invite_retrans_absorbed(void **state)
{
	struct fix *f = *state;
	struct cf_sip_peer p;
	struct cf_sip_msg *m;
	char buf[1024];

	udp_peer(&p, 5070);
	invite(buf, sizeof(buf), "z9hG4bKa2");
	rx(f, buf, &p);
	rx(f, buf, &p); /* answered with the 100 again */
	assert_int_equal(f->nsent, 2);
	assert_int_equal(sent_code(f, 1), 100);

	assert_int_equal(cf_sip_strans_reply(f->st, 180, NULL, NULL, NULL), 0);
	rx(f, buf, &p);
	assert_int_equal(f->nreq, 1);
	assert_int_equal(f->nsent, 4);
	assert_int_equal(sent_code(f, 3), 180);
	assert_string_equal(f->sent[2].bytes, f->sent[3].bytes);
	m = sent_msg(f, 3);
	assert_true(cf_pl_isset(&m->to.tag)); /* tag on 180 */
	cf_mem_deref(m);
	assert_int_equal(stats(f).retransmissions_absorbed, 2);
	assert_int_equal(cf_sip_txn_env_count(f->env), 1);
}

/* §17.2.1: Timer G T1, 2T1, 4T1 capped at T2; Timer H at 64*T1. */
static void test_invite_timer_g_h(void **state)
{
	struct fix *f = *state;
	static const uint64_t at[] = {500,   1500,  3500,  7500,  11500,
	                              15500, 19500, 23500, 27500, 31500};
	struct cf_sip_peer p;
	struct cf_sip_msg *m1, *m2;
	char buf[1024];
	size_t i;

	udp_peer(&p, 5070);
	rx(f, invite(buf, sizeof(buf), "z9hG4bKg"), &p);
	assert_int_equal(
	    cf_sip_strans_reply(f->st, 486, "Busy Here", NULL, NULL), 0);
	assert_int_equal(cf_sip_strans_reply(f->st, 500, NULL, NULL, NULL),
	                 EALREADY);
	assert_true(cf_sip_strans_final_sent(f->st));
	assert_int_equal(f->nsent, 2);

	step(f, 32000 - 1);
	assert_int_equal(f->nsent, 2 + 10);
	for (i = 0; i < 10; i++) {
		assert_int_equal(f->sent[2 + i].at, at[i]);
		assert_string_equal(f->sent[2 + i].bytes, f->sent[1].bytes);
	}
	/* 100 without tag, 486 with one */
	m1 = sent_msg(f, 0);
	m2 = sent_msg(f, 1);
	assert_false(cf_pl_isset(&m1->to.tag));
	assert_true(cf_pl_isset(&m2->to.tag));
	assert_pl(&m2->reason, "Busy Here");
	cf_mem_deref(m1);
	cf_mem_deref(m2);

	assert_int_equal(cf_sip_txn_env_count(f->env), 1);
	assert_int_equal(stats(f).timeouts, 0);
	step(f, 32000); /* Timer H */
	assert_int_equal(cf_sip_txn_env_count(f->env), 0);
	assert_int_equal(stats(f).timeouts, 1);
	step(f, 40000);
	assert_int_equal(f->nsent, 12);
	assert_int_equal(cf_sip_strans_reply(f->st, 486, NULL, NULL, NULL),
	                 EALREADY);
}

/* §17.2.1: ACK -> Confirmed, G stops, Timer I = T4; ACK retransmissions
 * absorbed and never passed up. */
static void test_invite_ack_timer_i(void **state)
{
	struct fix *f = *state;
	struct cf_sip_peer p;
	char buf[1024];

	udp_peer(&p, 5070);
	rx(f, invite(buf, sizeof(buf), "z9hG4bKi"), &p);
	assert_int_equal(cf_sip_strans_reply(f->st, 404, NULL, NULL, NULL), 0);
	step(f, 600); /* one G retransmission */
	assert_int_equal(f->nsent, 3);

	req(buf, sizeof(buf), "ACK", "UDP", "z9hG4bKi", NULL, NULL, 1, NULL);
	rx(f, buf, &p);
	assert_int_equal(f->nack, 0);
	rx(f, buf, &p);
	assert_int_equal(stats(f).retransmissions_absorbed, 1);

	step(f, 600 + T4 - 1);
	assert_int_equal(f->nsent, 3); /* no more G */
	assert_int_equal(cf_sip_txn_env_count(f->env), 1);
	step(f, 600 + T4);
	assert_int_equal(cf_sip_txn_env_count(f->env), 0);
	assert_int_equal(stats(f).timeouts, 0);
	assert_int_equal(f->nack, 0);
}

/* RFC 6026 §8.5: 2xx -> Accepted; INVITE retransmissions absorbed without
 * a response; the ACK goes to the TU; Timer L = 64*T1. */
static void test_invite_2xx_accepted_timer_l(void **state)
{
	struct fix *f = *state;
	struct cf_sip_peer p;
	char buf[1024], ack[1024];

	udp_peer(&p, 5070);
	invite(buf, sizeof(buf), "z9hG4bKl");
	rx(f, buf, &p);
	assert_int_equal(
	    cf_sip_strans_reply(f->st, 200, NULL,
	                        "Contact: <sip:ring@127.0.0.1>\r\n", NULL),
	    0);
	assert_int_equal(f->nsent, 2);
	assert_int_equal(sent_code(f, 1), 200);
	assert_non_null(
	    strstr(f->sent[1].bytes, "Contact: <sip:ring@127.0.0.1>\r\n"));

	step(f, 1000);
	rx(f, buf, &p);
	assert_int_equal(f->nsent, 2); /* absorbed, no resend */
	assert_int_equal(f->nreq, 1);
	assert_int_equal(stats(f).retransmissions_absorbed, 1);

	/* the ACK for a 2xx: a new branch, no transaction: to the TU */
	req(ack, sizeof(ack), "ACK", "UDP", "z9hG4bKl-ack", NULL, "x", 1, NULL);
	rx(f, ack, &p);
	assert_int_equal(f->nack, 1);
	/* one with the INVITE's branch (RFC 6026): also to the TU */
	req(ack, sizeof(ack), "ACK", "UDP", "z9hG4bKl", NULL, "x", 1, NULL);
	rx(f, ack, &p);
	assert_int_equal(f->nack, 2);

	step(f, 64 * T1 - 1);
	assert_int_equal(cf_sip_txn_env_count(f->env), 1);
	step(f, 64 * T1);
	assert_int_equal(cf_sip_txn_env_count(f->env), 0);
	assert_int_equal(f->nsent, 2);
	assert_int_equal(stats(f).timeouts, 0);
}

/* §17.2.2: non-INVITE, no 100, retransmission in Trying absorbed silently,
 * then the final resent; Timer J = 64*T1 over UDP. */
static void test_nict_server_timer_j(void **state)
{
	struct fix *f = *state;
	struct cf_sip_peer p;
	char buf[1024];

	udp_peer(&p, 5070);
	req(buf, sizeof(buf), "OPTIONS", "UDP", "z9hG4bKj", NULL, NULL, 7,
	    NULL);
	rx(f, buf, &p);
	assert_int_equal(f->nsent, 0);
	rx(f, buf, &p);
	assert_int_equal(f->nsent, 0);
	assert_int_equal(cf_sip_strans_reply(f->st, 200, NULL, NULL, NULL), 0);
	assert_int_equal(f->nsent, 1);
	rx(f, buf, &p);
	assert_int_equal(f->nsent, 2);
	assert_string_equal(f->sent[0].bytes, f->sent[1].bytes);
	assert_int_equal(stats(f).retransmissions_absorbed, 2);
	assert_int_equal(f->nreq, 1);

	step(f, 64 * T1 - 1);
	assert_int_equal(cf_sip_txn_env_count(f->env), 1);
	assert_int_equal(f->nsent, 2); /* no retransmission by timer */
	step(f, 64 * T1);
	assert_int_equal(cf_sip_txn_env_count(f->env), 0);
	/* a late retransmission is a new request now */
	rx(f, buf, &p);
	assert_int_equal(f->nreq, 2);
}

/* Answered at once and not kept: the transaction lets its request go but
 * still matches (RFC 3261 keys) and absorbs retransmissions. */
static void test_nict_server_slim(void **state)
{
	struct fix *f = *state;
	struct cf_sip_peer p;
	char buf[1024], other[1024];
	long b0, kept, slim;

	udp_peer(&p, 5070);
	req(buf, sizeof(buf), "OPTIONS", "UDP", "z9hG4bKs1", NULL, NULL, 1,
	    NULL);
	b0 = cf_mem_blocks();
	rx(f, buf, &p); /* kept by the fixture */
	assert_int_equal(cf_sip_strans_reply(f->st, 200, NULL, NULL, NULL), 0);
	kept = cf_mem_blocks() - b0;

	f->auto_code = 200;
	req(buf, sizeof(buf), "OPTIONS", "UDP", "z9hG4bKs2", NULL, NULL, 2,
	    NULL);
	b0 = cf_mem_blocks();
	rx(f, buf, &p);
	slim = cf_mem_blocks() - b0;
	assert_int_equal(slim, kept - 1); /* the request is gone */
	assert_int_equal(f->nsent, 2);

	rx(f, buf, &p); /* retransmission: matched, 200 again */
	assert_int_equal(f->nreq, 2);
	assert_int_equal(f->nsent, 3);
	assert_string_equal(f->sent[2].bytes, f->sent[1].bytes);
	/* same branch, another method or sent-by: not this transaction */
	req(other, sizeof(other), "INFO", "UDP", "z9hG4bKs2", NULL, NULL, 2,
	    NULL);
	rx(f, other, &p);
	assert_int_equal(f->nreq, 3);
	/* a CANCEL finds it (200, no cancel handler for non-INVITE) */
	req(other, sizeof(other), "CANCEL", "UDP", "z9hG4bKs2", NULL, NULL, 2,
	    NULL);
	rx(f, other, &p);
	assert_int_equal(f->ncancel, 0);
	assert_int_equal(sent_code(f, f->nsent - 1), 200);

	step(f, 64 * T1 + 1);
	assert_int_equal(cf_sip_txn_env_count(f->env), 0);
	rx(f, buf, &p); /* after Timer J: a new transaction */
	assert_int_equal(f->nreq, 4);
}

/* The stateless answer: no Timer J; a retransmission is a new request. */
static void test_nict_server_stateless(void **state)
{
	struct fix *f = *state;
	struct cf_sip_peer p;
	char buf[1024];

	udp_peer(&p, 40030);
	req(buf, sizeof(buf), "OPTIONS", "UDP", "z9hG4bKsl", ";rport", NULL, 1,
	    NULL);
	rx(f, buf, &p);
	assert_int_equal(
	    cf_sip_strans_reply_stateless(f->st, 100, NULL, NULL, NULL),
	    EINVAL);
	assert_int_equal(cf_sip_strans_reply_stateless(
	                     f->st, 200, NULL, "Allow: OPTIONS\r\n", NULL),
	                 0);
	assert_int_equal(cf_sip_txn_env_count(f->env), 0);
	assert_int_equal(f->nsent, 1);
	assert_non_null(strstr(f->sent[0].bytes, "Allow: OPTIONS\r\n"));
	assert_non_null(strstr(f->sent[0].bytes, ";rport=40030"));
	assert_int_equal(cf_sip_strans_reply(f->st, 200, NULL, NULL, NULL),
	                 EALREADY);
	rx(f, buf, &p);
	assert_int_equal(f->nreq, 2);
	assert_int_equal(stats(f).retransmissions_absorbed, 0);
	f->st = cf_mem_deref(f->st);
	adv(f, 1);

	/* never for INVITE */
	rx(f, invite(buf, sizeof(buf), "z9hG4bKsl2"), &p);
	assert_int_equal(
	    cf_sip_strans_reply_stateless(f->st, 404, NULL, NULL, NULL),
	    EINVAL);
}

/* Reliable: Timer J = 0; a 1xx moves Trying to Proceeding and is resent. */
static void test_nict_server_tcp(void **state)
{
	struct fix *f = *state;
	struct cf_sip_peer p;
	char buf[1024];

	tcp_peer(&p, 40001);
	/* any refcounted block stands for the connection: the layer only
	 * holds references to it and hands it back to send */
	p.conn = cf_mem_zalloc(8, NULL);
	assert_non_null(p.conn);
	req(buf, sizeof(buf), "REGISTER", "TCP", "z9hG4bKjt", NULL, NULL, 2,
	    NULL);
	rx(f, buf, &p);
	assert_int_equal(cf_mem_nrefs(p.conn), 2);
	assert_int_equal(cf_sip_strans_reply(f->st, 183, NULL, NULL, NULL), 0);
	rx(f, buf, &p);
	assert_int_equal(f->nsent, 2);
	assert_int_equal(sent_code(f, 1), 183);
	/* over a stream, responses go back on it: source address and port */
	assert_int_equal(f->sent[0].peer.tp, CF_SIP_TP_TCP);
	assert_int_equal(cf_sa_port(&f->sent[0].peer.addr), 40001);
	assert_ptr_equal(f->sent[0].peer.conn, p.conn);

	assert_int_equal(cf_sip_strans_reply(f->st, 200, NULL, NULL, NULL), 0);
	assert_int_equal(cf_sip_txn_env_count(f->env), 1);
	adv(f, 0); /* Timer J fires at once */
	assert_int_equal(cf_sip_txn_env_count(f->env), 0);
	assert_int_equal(f->nsent, 3);
	f->st = cf_mem_deref(f->st);
	adv(f, 1); /* the reaper */
	assert_int_equal(cf_mem_nrefs(p.conn), 1);
	p.conn = cf_mem_deref(p.conn);

	/* the connection is gone: a new one to the sent-by port (§18.2.2) */
	req(buf, sizeof(buf), "REGISTER", "TCP", "z9hG4bKjt2", NULL, NULL, 3,
	    NULL);
	rx(f, buf, &p);
	assert_int_equal(cf_sip_strans_reply(f->st, 200, NULL, NULL, NULL), 0);
	assert_null(f->sent[3].peer.conn);
	assert_int_equal(cf_sa_port(&f->sent[3].peer.addr), 5070);
}

/* Reliable INVITE: no Timer G; H still runs; Timer I = 0. */
static void test_invite_server_tcp(void **state)
{
	struct fix *f = *state;
	struct cf_sip_peer p;
	char buf[1024];

	tcp_peer(&p, 40002);
	req(buf, sizeof(buf), "INVITE", "TCP", "z9hG4bKt1", NULL, NULL, 1,
	    NULL);
	rx(f, buf, &p);
	assert_int_equal(cf_sip_strans_reply(f->st, 603, NULL, NULL, NULL), 0);
	step(f, 64 * T1 - 1);
	assert_int_equal(f->nsent, 2); /* 100, 603: never retransmitted */
	step(f, 64 * T1);
	assert_int_equal(cf_sip_txn_env_count(f->env), 0);
	assert_int_equal(stats(f).timeouts, 1);

	req(buf, sizeof(buf), "INVITE", "TCP", "z9hG4bKt2", NULL, NULL, 2,
	    NULL);
	rx(f, buf, &p);
	assert_int_equal(cf_sip_strans_reply(f->st, 480, NULL, NULL, NULL), 0);
	req(buf, sizeof(buf), "ACK", "TCP", "z9hG4bKt2", NULL, "x", 2, NULL);
	rx(f, buf, &p);
	assert_int_equal(cf_sip_txn_env_count(f->env), 1);
	adv(f, cf_tmr_wheel_now(f->w)); /* Timer I = 0 */
	assert_int_equal(cf_sip_txn_env_count(f->env), 0);
	assert_int_equal(stats(f).timeouts, 1);
}

/* §9.2: CANCEL -> 200 in its own transaction, cancel handler, the service
 * answers 487, the ACK for the 487 is absorbed. */
static void test_cancel_matched(void **state)
{
	struct fix *f = *state;
	struct cf_sip_peer p;
	struct cf_sip_msg *c200, *r487;
	char buf[1024];

	udp_peer(&p, 5070);
	rx(f, invite(buf, sizeof(buf), "z9hG4bKc"), &p);
	assert_int_equal(cf_sip_strans_reply(f->st, 180, NULL, NULL, NULL), 0);
	f->cancel_code = 487;
	req(buf, sizeof(buf), "CANCEL", "UDP", "z9hG4bKc", NULL, NULL, 1, NULL);
	rx(f, buf, &p);
	assert_int_equal(f->ncancel, 1);
	assert_int_equal(f->nreq, 1); /* CANCEL not passed up */
	assert_int_equal(f->nsent, 4);
	c200 = sent_msg(f, 2);
	r487 = sent_msg(f, 3);
	assert_int_equal(c200->scode, 200);
	assert_int_equal(c200->cseq.mid, CF_SIP_M_CANCEL);
	assert_int_equal(r487->scode, 487);
	assert_int_equal(r487->cseq.mid, CF_SIP_M_INVITE);
	assert_true(cf_pl_isset(&r487->to.tag));
	assert_int_equal(cf_pl_cmp(&c200->to.tag, &r487->to.tag), 0);
	cf_mem_deref(c200);
	cf_mem_deref(r487);
	assert_int_equal(cf_sip_txn_env_count(f->env), 2);

	/* a retransmitted CANCEL gets its 200 again, no second cancel */
	rx(f, buf, &p);
	assert_int_equal(f->ncancel, 1);
	assert_int_equal(f->nsent, 5);
	assert_int_equal(sent_code(f, 4), 200);

	req(buf, sizeof(buf), "ACK", "UDP", "z9hG4bKc", NULL, "x", 1, NULL);
	rx(f, buf, &p);
	assert_int_equal(f->nack, 0);
	step(f, 64 * T1);
	assert_int_equal(f->nsent, 5); /* no Timer G after the ACK */
	assert_int_equal(cf_sip_txn_env_count(f->env), 0);
	assert_int_equal(stats(f).timeouts, 0);
}

/* A CANCEL after the final response: 200, no cancel handler. One with no
 * transaction: 481. */
static void test_cancel_late_and_unmatched(void **state)
{
	struct fix *f = *state;
	struct cf_sip_peer p;
	struct cf_sip_msg *m;
	char buf[1024];

	udp_peer(&p, 5070);
	rx(f, invite(buf, sizeof(buf), "z9hG4bKcl"), &p);
	assert_int_equal(cf_sip_strans_reply(f->st, 200, NULL, NULL, NULL), 0);
	req(buf, sizeof(buf), "CANCEL", "UDP", "z9hG4bKcl", NULL, NULL, 1,
	    NULL);
	rx(f, buf, &p);
	assert_int_equal(f->ncancel, 0);
	assert_int_equal(sent_code(f, 2), 200);

	req(buf, sizeof(buf), "CANCEL", "UDP", "z9hG4bKnone", NULL, NULL, 1,
	    NULL);
	rx(f, buf, &p);
	assert_int_equal(f->ncancel, 0);
	assert_int_equal(f->nsent, 4);
	m = sent_msg(f, 3);
	assert_int_equal(m->scode, 481);
	assert_int_equal(m->cseq.mid, CF_SIP_M_CANCEL);
	assert_true(cf_pl_isset(&m->to.tag));
	cf_mem_deref(m);
	assert_int_equal(f->nreq, 1);
}

/* §17.2.3 for RFC 2543 requests (no z9hG4bK): Request-URI, tags, Call-ID,
 * CSeq, top Via; ACK by the To tag of our response; CANCEL too. */
static void test_rfc2543_matching(void **state)
{
	struct fix *f = *state;
	struct cf_sip_peer p;
	struct cf_sip_msg *m;
	char buf[1024], ack[1024], tag[64];

	udp_peer(&p, 5070);
	/* no branch at all */
	req(buf, sizeof(buf), "INVITE", "UDP", NULL, NULL, NULL, 5, NULL);
	rx(f, buf, &p);
	rx(f, buf, &p);
	assert_int_equal(f->nreq, 1);
	assert_int_equal(stats(f).retransmissions_absorbed, 1);

	/* another CSeq: another transaction */
	req(buf, sizeof(buf), "INVITE", "UDP", NULL, NULL, NULL, 6, NULL);
	rx(f, buf, &p);
	assert_int_equal(f->nreq, 2);
	assert_int_equal(cf_sip_txn_env_count(f->env), 2);

	/* an old-style branch (no cookie) is 2543 too */
	req(buf, sizeof(buf), "INVITE", "UDP", "1234", NULL, NULL, 7, NULL);
	rx(f, buf, &p);
	rx(f, buf, &p);
	assert_int_equal(f->nreq, 3);
	assert_int_equal(cf_sip_strans_reply(f->st, 486, NULL, NULL, NULL), 0);
	m = sent_msg(f, f->nsent - 1);
	assert_int_equal(m->scode, 486);
	assert_int_equal(cf_pl_strcpy(&m->to.tag, tag, sizeof(tag)), 0);
	cf_mem_deref(m);

	/* ACK with a wrong To tag: no match (to the TU) */
	req(ack, sizeof(ack), "ACK", "UDP", "1234", NULL, "wrong", 7, NULL);
	rx(f, ack, &p);
	assert_int_equal(f->nack, 1);
	/* the right one confirms the transaction */
	req(ack, sizeof(ack), "ACK", "UDP", "1234", NULL, tag, 7, NULL);
	rx(f, ack, &p);
	assert_int_equal(f->nack, 1);
	rx(f, ack, &p);
	assert_int_equal(stats(f).retransmissions_absorbed, 3);
	step(f, 64 * T1);
	assert_int_equal(f->nsent, 6); /* 100 x5, 486: no G after the ACK */
}

/* The cancel handler saw the right transaction in 2543 mode. */
static void test_rfc2543_cancel(void **state)
{
	struct fix *f = *state;
	struct cf_sip_peer p;
	char buf[1024];

	udp_peer(&p, 5070);
	req(buf, sizeof(buf), "INVITE", "UDP", NULL, NULL, NULL, 9, NULL);
	rx(f, buf, &p);
	f->cancel_code = 487;
	req(buf, sizeof(buf), "CANCEL", "UDP", NULL, NULL, NULL, 9, NULL);
	rx(f, buf, &p);
	assert_int_equal(f->ncancel, 1);
	assert_int_equal(sent_code(f, 1), 200);
	assert_int_equal(sent_code(f, 2), 487);
}

/* RFC 3581 / §18.2.2: received and rport in the response Via; where it
 * goes. */
static void test_rport_received(void **state)
{
	struct fix *f = *state;
	struct cf_sip_peer p;
	struct cf_sip_msg *m;
	char buf[1024];

	/* rport: source address and port */
	udp_peer(&p, 40000);
	req(buf, sizeof(buf), "OPTIONS", "UDP", "z9hG4bKr1", ";rport", NULL, 1,
	    NULL);
	rx(f, buf, &p);
	assert_int_equal(cf_sip_strans_reply(f->st, 200, NULL, NULL, NULL), 0);
	assert_non_null(
	    strstr(f->sent[0].bytes,
	           "Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKr1;"
	           "received=127.0.0.1;rport=40000\r\n"));
	m = sent_msg(f, 0);
	assert_pl(&m->via.received, "127.0.0.1");
	assert_pl(&m->via.rport_val, "40000");
	assert_int_equal(cf_sip_msg_hdr_count(m, CF_SIP_H_VIA), 2);
	cf_mem_deref(m);
	assert_int_equal(cf_sa_port(&f->sent[0].peer.addr), 40000);

	/* no rport, sent-by is the source host: no received, sent-by port */
	req(buf, sizeof(buf), "OPTIONS", "UDP", "z9hG4bKr2", NULL, NULL, 2,
	    NULL);
	rx(f, buf, &p);
	assert_int_equal(cf_sip_strans_reply(f->st, 200, NULL, NULL, NULL), 0);
	assert_null(strstr(f->sent[1].bytes, "received="));
	assert_null(strstr(f->sent[1].bytes, "rport"));
	assert_int_equal(cf_sa_port(&f->sent[1].peer.addr), 5070);

	/* no rport, another sent-by host: received, sent-by port */
	udp_peer(&p, 40003);
	assert_int_equal(cf_sa_set_str(&p.addr, "127.0.0.2", 40003), 0);
	req(buf, sizeof(buf), "OPTIONS", "UDP", "z9hG4bKr3", ";x=1", NULL, 3,
	    NULL);
	rx(f, buf, &p);
	assert_int_equal(cf_sip_strans_reply(f->st, 200, NULL, NULL, NULL), 0);
	assert_non_null(strstr(f->sent[2].bytes,
	                       ";branch=z9hG4bKr3;x=1;received=127.0.0.2\r\n"));
	assert_null(strstr(f->sent[2].bytes, "rport"));
	{
		char ip[64];
		cf_sa_ntop(&f->sent[2].peer.addr, ip, sizeof(ip));
		assert_string_equal(ip, "127.0.0.2");
	}
	assert_int_equal(cf_sa_port(&f->sent[2].peer.addr), 5070);

	/* rport with a stale received: both replaced */
	udp_peer(&p, 40004);
	req(buf, sizeof(buf), "OPTIONS", "UDP", "z9hG4bKr4",
	    ";received=10.1.1.1;rport;y", NULL, 4, NULL);
	rx(f, buf, &p);
	assert_int_equal(cf_sip_strans_reply(f->st, 100, NULL, NULL, NULL), 0);
	assert_non_null(strstr(f->sent[3].bytes,
	                       ";branch=z9hG4bKr4;y;received=127.0.0.1;"
	                       "rport=40004\r\n"));
	assert_null(strstr(f->sent[3].bytes, "10.1.1.1"));

	/* IPv6: received without brackets (RFC 5118 §4.5 grammar) */
	memset(&p, 0, sizeof(p));
	p.tp = CF_SIP_TP_UDP;
	assert_int_equal(cf_sa_set_str(&p.addr, "::1", 40020), 0);
	rx(f,
	   "OPTIONS sip:ring@[::1] SIP/2.0\r\n"
	   "Via: SIP/2.0/UDP [::1]:5070;rport;branch=z9hG4bKr6\r\n"
	   "Max-Forwards: 70\r\n"
	   "From: <sip:alice@[::1]>;tag=6\r\nTo: <sip:ring@[::1]>\r\n"
	   "Call-ID: v6@x\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n",
	   &p);
	assert_int_equal(cf_sip_strans_reply(f->st, 200, NULL, NULL, NULL), 0);
	assert_non_null(strstr(f->sent[4].bytes,
	                       "Via: SIP/2.0/UDP [::1]:5070;branch=z9hG4bKr6;"
	                       "received=::1;rport=40020\r\n"));
	assert_int_equal(cf_sa_port(&f->sent[4].peer.addr), 40020);
}

/* §8.2.6.1: the 100 carries the request's Timestamp. */
static void test_invite_100_timestamp(void **state)
{
	struct fix *f = *state;
	struct cf_sip_peer p;

	udp_peer(&p, 5070);
	rx(f,
	   "INVITE sip:ring@127.0.0.1 SIP/2.0\r\n"
	   "Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKts\r\n"
	   "Max-Forwards: 70\r\nTimestamp: 54.7 0.1\r\n"
	   "From: <sip:a@127.0.0.1>;tag=1\r\nTo: <sip:ring@127.0.0.1>\r\n"
	   "Call-ID: ts@x\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n",
	   &p);
	assert_int_equal(f->nsent, 1);
	assert_non_null(strstr(f->sent[0].bytes, "SIP/2.0 100 "));
	assert_non_null(strstr(f->sent[0].bytes, "Timestamp: 54.7 0.1\r\n"));
}

/* A request with a fault: answered statelessly with its reason. */
static void test_fault_request(void **state)
{
	struct fix *f = *state;
	struct cf_sip_peer p;
	struct cf_sip_msg *m, *r;
	char buf[1024];

	udp_peer(&p, 40010);
	m = dec(req(buf, sizeof(buf), "OPTIONS", "UDP", "z9hG4bKf", ";rport",
	            NULL, 1, NULL));
	m->fault.code = 400;
	m->fault.reason = "Bad CSeq";
	m->respondable = true;
	cf_sip_txn_recv(f->env, &f->h, m, &p);
	cf_mem_deref(m);

	assert_int_equal(f->nreq, 0);
	assert_int_equal(f->nsent, 1);
	assert_int_equal(cf_sip_txn_env_count(f->env), 0);
	r = sent_msg(f, 0);
	assert_int_equal(r->scode, 400);
	assert_pl(&r->reason, "Bad CSeq");
	assert_true(cf_pl_isset(&r->to.tag));
	assert_pl(&r->via.rport_val, "40010");
	cf_mem_deref(r);
	assert_int_equal(cf_sa_port(&f->sent[0].peer.addr), 40010);
	assert_int_equal(stats(f).bad_requests, 1);

	/* not respondable: dropped, counted */
	m = dec(buf);
	m->fault.code = 400;
	m->fault.reason = "Missing Via";
	m->respondable = false;
	cf_sip_txn_recv(f->env, &f->h, m, &p);
	cf_mem_deref(m);
	assert_int_equal(f->nsent, 1);
	assert_int_equal(stats(f).bad_requests, 2);

	/* a faulty response: dropped, counted */
	m = dec("SIP/2.0 200 OK\r\n"
	        "Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKx\r\n"
	        "From: <sip:a@127.0.0.1>;tag=1\r\nTo: <sip:b@127.0.0.1>\r\n"
	        "Call-ID: x\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n");
	m->fault.code = 400;
	m->fault.reason = "Bad";
	cf_sip_txn_recv(f->env, &f->h, m, &p);
	cf_mem_deref(m);
	assert_int_equal(stats(f).bad_responses, 1);
	assert_int_equal(f->nstray, 0);
	assert_int_equal(f->nsent, 1);
}

/* A real malformed request from the decoder: answered 4xx with the
 * decoder's reason. */
static void test_fault_from_decoder(void **state)
{
	struct fix *f = *state;
	struct cf_sip_peer p;
	struct cf_sip_msg *m, *r;

	udp_peer(&p, 5070);
	m = dec("OPTIONS sip:ring@127.0.0.1 SIP/2.0\r\n"
	        "Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKfd\r\n"
	        "Max-Forwards: 70\r\n"
	        "From: <sip:alice@127.0.0.1>;tag=ft1\r\n"
	        "To: <sip:ring@127.0.0.1>\r\n"
	        "Call-ID: fault-1@127.0.0.1\r\n"
	        "CSeq: 1 INVITE\r\n" /* method mismatch: RFC 4475 */
	        "Content-Length: 0\r\n\r\n");
	assert_int_not_equal(m->fault.code, 0);
	assert_true(m->respondable);
	cf_sip_txn_recv(f->env, &f->h, m, &p);
	assert_int_equal(f->nsent, 1);
	r = sent_msg(f, 0);
	assert_int_equal(r->scode, m->fault.code);
	assert_pl(&r->reason, m->fault.reason);
	cf_mem_deref(r);
	cf_mem_deref(m);
	assert_int_equal(f->nreq, 0);
	assert_int_equal(stats(f).bad_requests, 1);
}

/* Service holds the transaction past its end and past the env. */
static void test_strans_outlives(void **state)
{
	struct fix *f = *state;
	struct cf_sip_peer p;
	char buf[1024];

	udp_peer(&p, 5070);
	rx(f, invite(buf, sizeof(buf), "z9hG4bKo"), &p);
	f->env = cf_mem_deref(f->env);
	assert_int_equal(cf_sip_strans_reply(f->st, 200, NULL, NULL, NULL),
	                 EINVAL);
	assert_non_null(cf_sip_strans_msg(f->st));
	cf_sip_strans_set_arg(f->st, f);
	assert_ptr_equal(cf_sip_strans_arg(f->st), f);
}

/* --------------------------------------------------- client transactions */

static const char *creq(char *buf, size_t sz, const char *method,
                        const char *tp, const char *branch)
{
	snprintf(buf, sz,
	         "%s sip:bob@127.0.0.1:5080 SIP/2.0\r\n"
	         "Via: SIP/2.0/%s 127.0.0.1:5060;branch=%s;rport\r\n"
	         "Route: <sip:p1.example.test;lr>\r\n"
	         "Max-Forwards: 70\r\n"
	         "Route: <sip:p2.example.test;lr>\r\n"
	         "From: <sip:alice@127.0.0.1>;tag=cf1\r\n"
	         "To: \"Bob\" <sip:bob@127.0.0.1>\r\n"
	         "Call-ID: cl-1@127.0.0.1\r\n"
	         "CSeq: 11 %s\r\n"
	         "Contact: <sip:alice@127.0.0.1:5060>\r\n"
	         "Content-Length: 0\r\n\r\n",
	         method, tp, branch, method);
	return buf;
}

static const char *cresp(char *buf, size_t sz, uint16_t code,
                         const char *branch, const char *method)
{
	snprintf(buf, sz,
	         "SIP/2.0 %u %s\r\n"
	         "Via: SIP/2.0/UDP 127.0.0.1:5060;branch=%s;rport=5060\r\n"
	         "From: <sip:alice@127.0.0.1>;tag=cf1\r\n"
	         "To: \"Bob\" <sip:bob@127.0.0.1>%s\r\n"
	         "Call-ID: cl-1@127.0.0.1\r\n"
	         "CSeq: 11 %s\r\n"
	         "Content-Length: 0\r\n\r\n",
	         code, cf_sip_reason(code), branch,
	         code > 100 ? ";tag=bt7" : "", method);
	return buf;
}

static struct cf_sip_ctrans *cstart(struct fix *f, const char *method,
                                    const char *branch, bool tcp)
{
	struct cf_sip_ctrans *ct = NULL;
	struct cf_sip_peer p;
	struct cf_sip_msg *m;
	char buf[1024];

	if (tcp)
		tcp_peer(&p, 5080);
	else
		udp_peer(&p, 5080);
	m = dec(creq(buf, sizeof(buf), method, tcp ? "TCP" : "UDP", branch));
	assert_int_equal(cf_sip_ctrans_start(&ct, f->env, m, &p, on_resp, f),
	                 0);
	cf_mem_deref(m);
	assert_non_null(ct);
	return ct;
}

static void crx(struct fix *f, uint16_t code, const char *branch,
                const char *method)
{
	struct cf_sip_peer p;
	char buf[1024];

	udp_peer(&p, 5080);
	rx(f, cresp(buf, sizeof(buf), code, branch, method), &p);
}

/* §17.1.1.2: Timer A T1, 2T1, 4T1... (no cap) and Timer B -> 408. */
static void test_ict_timer_a_b(void **state)
{
	struct fix *f = *state;
	static const uint64_t at[] = {0, 500, 1500, 3500, 7500, 15500, 31500};
	struct cf_sip_ctrans *ct = cstart(f, "INVITE", "z9hG4bKca", false);
	size_t i;

	step(f, 64 * T1 - 1);
	assert_int_equal(f->nsent, 7);
	for (i = 0; i < 7; i++) {
		assert_int_equal(f->sent[i].at, at[i]);
		assert_string_equal(f->sent[i].bytes, f->sent[0].bytes);
		assert_int_equal(cf_sa_port(&f->sent[i].peer.addr), 5080);
	}
	assert_int_equal(f->ncodes, 0);
	step(f, 64 * T1);
	assert_int_equal(f->ncodes, 1);
	assert_int_equal(f->codes[0], 408);
	assert_true(f->nomsg[0]);
	assert_int_equal(stats(f).timeouts, 1);
	assert_int_equal(cf_sip_txn_env_count(f->env), 0);
	assert_int_equal(cf_sip_ctrans_cancel(ct), EALREADY);
	cf_mem_deref(ct);
}

/* 1xx stops A and B; a non-2xx is ACKed hop by hop (§17.1.1.3), the ACK is
 * resent for each retransmitted final, Timer D = 32 s over UDP. */
static void test_ict_ack_timer_d(void **state)
{
	struct fix *f = *state;
	struct cf_sip_ctrans *ct = cstart(f, "INVITE", "z9hG4bKcd", false);
	struct cf_sip_msg *ack, *inv;
	const struct cf_sip_hdr *h;

	step(f, 600);
	assert_int_equal(f->nsent, 2);
	crx(f, 180, "z9hG4bKcd", "INVITE");
	assert_int_equal(f->ncodes, 1);
	assert_int_equal(f->codes[0], 180);
	step(f, 40000);
	assert_int_equal(f->nsent, 2); /* no A, no B */
	assert_int_equal(f->ncodes, 1);

	crx(f, 486, "z9hG4bKcd", "INVITE");
	assert_int_equal(f->ncodes, 2);
	assert_int_equal(f->codes[1], 486);
	assert_int_equal(f->nsent, 3);
	ack = sent_msg(f, 2);
	inv = sent_msg(f, 0);
	assert_true(ack->req);
	assert_int_equal(ack->mid, CF_SIP_M_ACK);
	assert_pl(&ack->ruri_pl, "sip:bob@127.0.0.1:5080");
	assert_int_equal(cf_sip_msg_hdr_count(ack, CF_SIP_H_VIA), 1);
	assert_int_equal(cf_pl_cmp(&ack->via.val, &inv->via.val), 0);
	assert_pl(&ack->via.branch, "z9hG4bKcd");
	assert_pl(&ack->from.tag, "cf1");
	assert_pl(&ack->to.tag, "bt7");
	assert_pl(&ack->call_id, "cl-1@127.0.0.1");
	assert_int_equal(ack->cseq.num, 11);
	assert_int_equal(ack->cseq.mid, CF_SIP_M_ACK);
	assert_int_equal(cf_sip_msg_hdr_count(ack, CF_SIP_H_ROUTE), 2);
	h = cf_sip_msg_hdr(ack, CF_SIP_H_ROUTE);
	assert_pl(&h->val, "<sip:p1.example.test;lr>");
	assert_int_equal(cf_sip_msg_hdr_count(ack, CF_SIP_H_CONTACT), 0);
	assert_int_equal(ack->clen, 0);
	assert_int_equal(cf_sa_port(&f->sent[2].peer.addr), 5080);
	cf_mem_deref(ack);
	cf_mem_deref(inv);

	crx(f, 486, "z9hG4bKcd", "INVITE");
	assert_int_equal(f->ncodes, 2); /* not passed up */
	assert_int_equal(f->nsent, 4);
	assert_string_equal(f->sent[3].bytes, f->sent[2].bytes);
	assert_int_equal(stats(f).retransmissions_absorbed, 1);

	step(f, 40000 + 32000 - 1);
	assert_int_equal(cf_sip_txn_env_count(f->env), 1);
	step(f, 40000 + 32000);
	assert_int_equal(cf_sip_txn_env_count(f->env), 0);
	assert_int_equal(stats(f).timeouts, 0);
	cf_mem_deref(ct);
}

/* Reliable: no Timer A; Timer D = 0. */
static void test_ict_tcp(void **state)
{
	struct fix *f = *state;
	struct cf_sip_ctrans *ct = cstart(f, "INVITE", "z9hG4bKct", true);

	step(f, 64 * T1 - 1);
	assert_int_equal(f->nsent, 1);
	crx(f, 503, "z9hG4bKct", "INVITE");
	assert_int_equal(f->nsent, 2); /* ACK */
	assert_int_equal(f->sent[1].peer.tp, CF_SIP_TP_TCP);
	assert_int_equal(cf_sip_txn_env_count(f->env), 1);
	adv(f, cf_tmr_wheel_now(f->w));
	assert_int_equal(cf_sip_txn_env_count(f->env), 0);
	assert_int_equal(stats(f).timeouts, 0);
	cf_mem_deref(ct);
}

/* RFC 6026 §7.2: 2xx -> Accepted, every 2xx up, Timer M = 64*T1. */
static void test_ict_accepted_timer_m(void **state)
{
	struct fix *f = *state;
	struct cf_sip_ctrans *ct = cstart(f, "INVITE", "z9hG4bKcm", false);

	crx(f, 200, "z9hG4bKcm", "INVITE");
	assert_int_equal(f->ncodes, 1);
	assert_int_equal(f->nsent, 1); /* no ACK from the transaction */
	step(f, 5000);
	assert_int_equal(f->nsent, 1); /* no A */
	crx(f, 200, "z9hG4bKcm", "INVITE");
	assert_int_equal(f->ncodes, 2);
	assert_int_equal(f->codes[1], 200);
	step(f, 64 * T1 - 1);
	assert_int_equal(cf_sip_txn_env_count(f->env), 1);
	step(f, 64 * T1);
	assert_int_equal(cf_sip_txn_env_count(f->env), 0);
	/* a late 2xx has no transaction: stray, for the core to ACK */
	crx(f, 200, "z9hG4bKcm", "INVITE");
	assert_int_equal(f->nstray, 1);
	assert_int_equal(f->ncodes, 2);
	cf_mem_deref(ct);
}

/* §17.1.2.2: E T1, 2T1, 4T1, T2, T2 ...; F -> 408. */
static void test_nict_timer_e_f(void **state)
{
	struct fix *f = *state;
	static const uint64_t at[] = {0,     500,   1500,  3500,  7500, 11500,
	                              15500, 19500, 23500, 27500, 31500};
	struct cf_sip_ctrans *ct = cstart(f, "OPTIONS", "z9hG4bKce", false);
	size_t i;

	step(f, 64 * T1 - 1);
	assert_int_equal(f->nsent, 11);
	for (i = 0; i < 11; i++)
		assert_int_equal(f->sent[i].at, at[i]);
	step(f, 64 * T1);
	assert_int_equal(f->ncodes, 1);
	assert_int_equal(f->codes[0], 408);
	assert_int_equal(stats(f).timeouts, 1);
	assert_int_equal(cf_sip_txn_env_count(f->env), 0);
	assert_int_equal(cf_sip_ctrans_cancel(ct), EINVAL);
	cf_mem_deref(ct);
}

/* 1xx: Proceeding, E at T2 from then; final: Timer K = T4. */
static void test_nict_proceeding_timer_k(void **state)
{
	struct fix *f = *state;
	struct cf_sip_ctrans *ct = cstart(f, "REGISTER", "z9hG4bKck", false);

	step(f, 600); /* first E at 500, next due at 1500 */
	assert_int_equal(f->nsent, 2);
	crx(f, 100, "z9hG4bKck", "REGISTER");
	assert_int_equal(f->ncodes, 1);
	step(f, 1500);
	assert_int_equal(f->nsent, 3);
	step(f, 1500 + T2);
	assert_int_equal(f->nsent, 4);
	assert_int_equal(f->sent[3].at, 1500 + T2);
	step(f, 1500 + 2 * T2);
	assert_int_equal(f->nsent, 5);
	assert_int_equal(f->sent[4].at, 1500 + 2 * T2);

	crx(f, 200, "z9hG4bKck", "REGISTER");
	assert_int_equal(f->ncodes, 2);
	assert_int_equal(f->codes[1], 200);
	crx(f, 200, "z9hG4bKck", "REGISTER");
	assert_int_equal(f->ncodes, 2);
	assert_int_equal(stats(f).retransmissions_absorbed, 1);
	/* a response for another method (CSeq) does not match: stray */
	crx(f, 200, "z9hG4bKck", "OPTIONS");
	assert_int_equal(f->nstray, 1);

	step(f, 1500 + 2 * T2 + T4 - 1);
	assert_int_equal(cf_sip_txn_env_count(f->env), 1);
	assert_int_equal(f->nsent, 5);
	step(f, 1500 + 2 * T2 + T4);
	assert_int_equal(cf_sip_txn_env_count(f->env), 0);
	cf_mem_deref(ct);
}

/* Reliable non-INVITE: no E; Timer K = 0; F still runs. */
static void test_nict_tcp(void **state)
{
	struct fix *f = *state;
	struct cf_sip_ctrans *ct = cstart(f, "OPTIONS", "z9hG4bKckt", true);
	struct cf_sip_ctrans *ct2;

	step(f, 5000);
	assert_int_equal(f->nsent, 1);
	crx(f, 200, "z9hG4bKckt", "OPTIONS");
	assert_int_equal(f->ncodes, 1);
	adv(f, cf_tmr_wheel_now(f->w));
	assert_int_equal(cf_sip_txn_env_count(f->env), 0);

	ct2 = cstart(f, "OPTIONS", "z9hG4bKckt2", true);
	step(f, 5000 + 64 * T1);
	assert_int_equal(f->nsent, 2);
	assert_int_equal(f->ncodes, 2);
	assert_int_equal(f->codes[1], 408);
	cf_mem_deref(ct);
	cf_mem_deref(ct2);
}

/* §9.1: CANCEL waits for a provisional; then goes with the INVITE's branch
 * and CSeq number, in its own transaction; 487 is ACKed. */
static void test_ict_cancel(void **state)
{
	struct fix *f = *state;
	struct cf_sip_ctrans *ct = cstart(f, "INVITE", "z9hG4bKcc", false);
	struct cf_sip_msg *c;

	assert_int_equal(cf_sip_ctrans_cancel(ct), 0);
	assert_int_equal(cf_sip_ctrans_cancel(ct), EALREADY);
	assert_int_equal(f->nsent, 1); /* not before a provisional */
	crx(f, 180, "z9hG4bKcc", "INVITE");
	assert_int_equal(f->nsent, 2);
	c = sent_msg(f, 1);
	assert_int_equal(c->mid, CF_SIP_M_CANCEL);
	assert_pl(&c->ruri_pl, "sip:bob@127.0.0.1:5080");
	assert_pl(&c->via.branch, "z9hG4bKcc");
	assert_int_equal(cf_sip_msg_hdr_count(c, CF_SIP_H_VIA), 1);
	assert_int_equal(c->cseq.num, 11);
	assert_int_equal(c->cseq.mid, CF_SIP_M_CANCEL);
	assert_false(cf_pl_isset(&c->to.tag));
	assert_pl(&c->from.tag, "cf1");
	assert_int_equal(cf_sip_msg_hdr_count(c, CF_SIP_H_ROUTE), 2);
	cf_mem_deref(c);
	assert_int_equal(cf_sip_txn_env_count(f->env), 2);

	/* CANCEL retransmitted by its own Timer E */
	step(f, 500);
	assert_int_equal(f->nsent, 3);
	assert_string_equal(f->sent[2].bytes, f->sent[1].bytes);

	crx(f, 200, "z9hG4bKcc", "CANCEL");
	assert_int_equal(f->nstray, 0);
	assert_int_equal(f->ncodes, 1); /* the CANCEL's 200 is not ours */
	crx(f, 487, "z9hG4bKcc", "INVITE");
	assert_int_equal(f->ncodes, 2);
	assert_int_equal(f->codes[1], 487);
	c = sent_msg(f, f->nsent - 1);
	assert_int_equal(c->mid, CF_SIP_M_ACK);
	cf_mem_deref(c);

	/* later cancel: in Proceeding, sent at once */
	cf_mem_deref(ct);
	ct = cstart(f, "INVITE", "z9hG4bKcc2", false);
	crx(f, 183, "z9hG4bKcc2", "INVITE");
	{
		size_t n = f->nsent;
		assert_int_equal(cf_sip_ctrans_cancel(ct), 0);
		assert_int_equal(f->nsent, n + 1);
		c = sent_msg(f, n);
		assert_int_equal(c->mid, CF_SIP_M_CANCEL);
		cf_mem_deref(c);
	}
	/* no final 64*T1 after the CANCEL (§9.1): 408, gone; a later 1xx
	 * does not stop that timer */
	{
		uint64_t t0 = cf_tmr_wheel_now(f->w);
		step(f, t0 + 1000);
		crx(f, 180, "z9hG4bKcc2", "INVITE");
		assert_int_equal(f->ncodes, 4);
		step(f, t0 + 64 * T1 - 1);
		assert_int_equal(f->ncodes, 4);
		step(f, t0 + 64 * T1);
		assert_int_equal(f->ncodes, 5);
		assert_int_equal(f->codes[4], 408);
		assert_true(f->nomsg[4]);
	}
	step(f, 200000);
	assert_int_equal(cf_sip_txn_env_count(f->env), 0);
	cf_mem_deref(ct);
}

/* §17.1.4: a transport error on a retransmission: 503 for the TU; on the
 * first send, the error from start and no transaction. */
static void test_ctrans_transport_error(void **state)
{
	struct fix *f = *state;
	struct cf_sip_ctrans *ct = cstart(f, "OPTIONS", "z9hG4bKte", false);
	struct cf_sip_ctrans *ct2 = NULL;
	struct cf_sip_peer p;
	struct cf_sip_msg *m;
	char buf[1024];

	f->send_err = ENETUNREACH;
	step(f, T1);
	assert_int_equal(f->ncodes, 1);
	assert_int_equal(f->codes[0], 503);
	assert_true(f->nomsg[0]);
	assert_int_equal(cf_sip_txn_env_count(f->env), 0);

	udp_peer(&p, 5080);
	m = dec(creq(buf, sizeof(buf), "OPTIONS", "UDP", "z9hG4bKte2"));
	assert_int_equal(cf_sip_ctrans_start(&ct2, f->env, m, &p, on_resp, f),
	                 ENETUNREACH);
	assert_null(ct2);
	cf_mem_deref(m);
	/* no cookie: refused */
	m = dec(creq(buf, sizeof(buf), "OPTIONS", "UDP", "old1"));
	f->send_err = 0;
	assert_int_equal(cf_sip_ctrans_start(&ct2, f->env, m, &p, on_resp, f),
	                 EINVAL);
	cf_mem_deref(m);
	assert_int_equal(cf_sip_txn_env_count(f->env), 0);
	cf_mem_deref(ct);
}

/* A response nobody waits for goes to stray_response. */
static void test_stray_response(void **state)
{
	struct fix *f = *state;

	crx(f, 200, "z9hG4bKnobody", "OPTIONS");
	assert_int_equal(f->nstray, 1);
	assert_int_equal(stats(f).responses, 1);
}

/* The request is sent with its recorded edits; ACK/CANCEL follow what was
 * sent. Without ctp the layer keeps the only reference. */
static void test_ctrans_edits(void **state)
{
	struct fix *f = *state;
	struct cf_sip_peer p;
	struct cf_sip_msg *m, *s;
	char buf[1024];

	udp_peer(&p, 5080);
	m = dec(creq(buf, sizeof(buf), "INVITE", "UDP", "z9hG4bKold"));
	assert_int_equal(cf_sip_msg_edit_add(m, NULL,
	                                     "Via: SIP/2.0/UDP 127.0.0.1:5062;"
	                                     "branch=z9hG4bKnew"),
	                 0);
	assert_int_equal(cf_sip_ctrans_start(NULL, f->env, m, &p, on_resp, f),
	                 0);
	cf_mem_deref(m);
	s = sent_msg(f, 0);
	assert_pl(&s->via.branch, "z9hG4bKnew");
	cf_mem_deref(s);
	crx(f, 404, "z9hG4bKnew", "INVITE");
	assert_int_equal(f->ncodes, 1);
	s = sent_msg(f, 1);
	assert_int_equal(s->mid, CF_SIP_M_ACK);
	assert_pl(&s->via.branch, "z9hG4bKnew");
	assert_int_equal(cf_sip_msg_hdr_count(s, CF_SIP_H_VIA), 1);
	cf_mem_deref(s);
}

/* Out of memory at every allocation of a server and a client exchange:
 * no crash, no leak, the clock ends everything. */
static void test_oom(void **state)
{
	struct fix *f = *state;
	struct cf_sip_msg *inv, *ack, *can, *req2, *r180, *r486;
	struct cf_sip_ctrans *ct;
	struct cf_sip_peer p, cp;
	char buf[1024];
	uint64_t now = 0;
	long n, blocks;
	bool done = false;

	udp_peer(&p, 5070);
	udp_peer(&cp, 5080);
	f->oom = true;
	for (n = 1; n <= 150; n++) {
		blocks = cf_mem_blocks();
		inv = dec(invite(buf, sizeof(buf), "z9hG4bKoom"));
		ack = dec(req(buf, sizeof(buf), "ACK", "UDP", "z9hG4bKoom",
		              NULL, "x", 1, NULL));
		can = dec(req(buf, sizeof(buf), "CANCEL", "UDP", "z9hG4bKoom",
		              NULL, NULL, 1, NULL));
		req2 =
		    dec(creq(buf, sizeof(buf), "INVITE", "UDP", "z9hG4bKoomc"));
		r180 =
		    dec(cresp(buf, sizeof(buf), 180, "z9hG4bKoomc", "INVITE"));
		r486 =
		    dec(cresp(buf, sizeof(buf), 486, "z9hG4bKoomc", "INVITE"));
		f->cancel_code = 487;
		f->ncancel = 0;
		ct = NULL;

		cf_mem_fail_after(n);
		cf_sip_txn_recv(f->env, &f->h, inv, &p);
		cf_sip_txn_recv(f->env, &f->h, can, &p);
		cf_sip_txn_recv(f->env, &f->h, ack, &p);
		if (!cf_sip_ctrans_start(&ct, f->env, req2, &cp, on_resp, f)) {
			(void)cf_sip_ctrans_cancel(ct);
			cf_sip_txn_recv(f->env, &f->h, r180, &cp);
			cf_sip_txn_recv(f->env, &f->h, r486, &cp);
		}
		cf_mem_fail_after(0);
		/* the last rounds allocate less than n: the full exchange */
		done = f->ncancel == 1 && ct && f->ncodes == 2 &&
		       cf_sip_txn_env_count(f->env) == 4;

		/* the TU's part where OOM cut the exchange short: a final
		 * for the INVITE (when its CANCEL was lost), a final for ours
		 */
		if (f->st)
			(void)cf_sip_strans_reply(f->st, 500, NULL, NULL, NULL);
		cf_sip_txn_recv(f->env, &f->h, r486, &cp);
		now += 200000;
		adv(f, now);
		adv(f, now + 1);
		now += 1;
		assert_int_equal(cf_sip_txn_env_count(f->env), 0);
		cf_mem_deref(ct);
		f->st = cf_mem_deref(f->st);
		cf_mem_deref(inv);
		cf_mem_deref(ack);
		cf_mem_deref(can);
		cf_mem_deref(req2);
		cf_mem_deref(r180);
		cf_mem_deref(r486);
		assert_int_equal(cf_mem_blocks(), blocks);
		f->ncodes = 0;
		while (f->nsent)
			free(f->sent[--f->nsent].bytes);
	}
	assert_true(done);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(x) cmocka_unit_test_setup_teardown(x, setup, teardown)
	    T(test_invite_100_at_once),
	    T(test_invite_100_timestamp),
	    T(test_invite_retrans_absorbed),
	    T(test_invite_timer_g_h),
	    T(test_invite_ack_timer_i),
	    T(test_invite_2xx_accepted_timer_l),
	    T(test_nict_server_timer_j),
	    T(test_nict_server_slim),
	    T(test_nict_server_stateless),
	    T(test_nict_server_tcp),
	    T(test_invite_server_tcp),
	    T(test_cancel_matched),
	    T(test_cancel_late_and_unmatched),
	    T(test_rfc2543_matching),
	    T(test_rfc2543_cancel),
	    T(test_rport_received),
	    T(test_fault_request),
	    T(test_fault_from_decoder),
	    T(test_strans_outlives),
	    T(test_ict_timer_a_b),
	    T(test_ict_ack_timer_d),
	    T(test_ict_tcp),
	    T(test_ict_accepted_timer_m),
	    T(test_nict_timer_e_f),
	    T(test_nict_proceeding_timer_k),
	    T(test_nict_tcp),
	    T(test_ict_cancel),
	    T(test_ctrans_transport_error),
	    T(test_stray_response),
	    T(test_ctrans_edits),
	    T(test_oom),
#undef T
	};

	(void)F;
	cf_log_set_level(CF_LOG_ERR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
