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

static size_t count_to(struct fixture *f, uint16_t port, const char *prefix)
{
	size_t n = 0;

	for (size_t i = 0; i < f->nsent; i++) {
		if (f->sent[i].port == port &&
		    !strncmp(f->sent[i].bytes, prefix, strlen(prefix)))
			n++;
	}
	return n;
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
	reg(f, "carol",
	    "Contact: <sip:carol@127.0.0.1:5091>, "
	    "<sip:carol@127.0.0.1:5092>");
	sent_clear(f);
	invite(f, BOB, NULL);
	answer_from(f, 5071, "INVITE", 486, NULL);
	assert_null(sent_to(f, CALLER, "SIP/2.0 486 "));
	r = sent_to(f, 5091, "INVITE sip:carol@127.0.0.1:5091 ");
	assert_non_null(r);
	assert_non_null(strstr(r, "History-Info: <" BOB "?Reason=SIP%3Bcause"
	                          "%3D486>;index=1, <" CAROL
	                          ">;index=1.1;mp=1\r\n"));
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
	reg(f, "carol",
	    "Contact: <sip:carol@127.0.0.1:5091>;q=0.5, "
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
	assert_non_null(
	    strstr(r, "Diversion: <" BOB ">;reason=unavailable;counter=1\r\n"));
	answer_from(f, 5091, "INVITE", 200, NULL);
	caller_got(f, 200);
}

static const char *const name_sets[] = {
    "proxy.forward_busy=sip:vm@vm.example.net",
};
static const struct sets names = {name_sets, 1};

/* A route to a host name is located when it is taken; with no resolver
 * (this test has no event loop for c-ares) the route fails like a branch
 * that cannot be sent: 500 upstream (our 503, §16.7 step 6), no leak. */
static void test_route_name_unresolved(void **state)
{
	struct fixture *f = *state;

	reg(f, "bob", "Contact: <sip:bob@127.0.0.1:5071>");
	sent_clear(f);
	invite(f, BOB, NULL);
	answer_from(f, 5071, "INVITE", 486, NULL);
	caller_got(f, 500);
}

/* ------------------------------------------- the digest client (RFC 7616) */

/* RFC 7616 §3.9.1: the challenge decoded, and the response computed by
 * the client equals the RFC's for MD5 and SHA-256. */
static void test_digest_client(void **state)
{
	static const struct {
		const char *alg, *resp;
	} v[] = {
	    {"MD5", "8ca523f5e9506fed4657c9700eebdbec"},
	    {"SHA-256", "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8"
	                "db5856cb6c1"},
	};
	(void)state;
	for (size_t i = 0; i < 2; i++) {
		char chal[400], want[120];
		struct cf_digest_chal_rx ch;
		struct cf_digest_client cl = {
		    "Mufasa",
		    "Circle of Life",
		    "GET",
		    "/dir/index.html",
		    "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ",
		    1};
		struct cf_mbuf *mb = NULL;
		struct cf_digest_cred cred;
		struct cf_pl pl;

		snprintf(
		    chal, sizeof(chal),
		    "Digest\r\n realm=\"http-auth@example.org\", "
		    "qop=\"auth, auth-int\", algorithm=%s, "
		    "nonce=\"7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v\","
		    " opaque=\"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS\"",
		    v[i].alg);
		cf_pl_set_str(&pl, chal);
		assert_int_equal(cf_digest_chal_decode(&ch, &pl), 0);
		assert_true(ch.qop_auth);
		assert_true(ch.alg_known);
		assert_int_equal(cf_mbuf_alloc(&mb, 256), 0);
		assert_int_equal(cf_digest_client_encode(mb, &ch, &cl), 0);
		assert_int_equal(cf_mbuf_write_u8(mb, 0), 0);
		snprintf(want, sizeof(want), "response=\"%s\"", v[i].resp);
		if (!strstr((char *)mb->buf, want))
			fail_msg("want %s in %s", want, (char *)mb->buf);
		/* and the server side parses it back */
		pl.p = (const char *)mb->buf;
		pl.l = mb->end - 1;
		assert_int_equal(cf_digest_cred_decode(&cred, &pl), 0);
		assert_int_equal(cred.nc_val, 1);
		assert_int_equal(
		    cf_pl_strcmp(
		        &cred.opaque,
		        "FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"),
		    0);
		cf_mem_deref(mb);
	}
}

/* Challenges we cannot answer or that are malformed. */
static void test_digest_client_bad(void **state)
{
	static const char *const bad[] = {
	    "Basic realm=\"x\"",
	    "Digest nonce=\"n\"",
	    "Digest realm=\"r\"",
	    "Digest realm=\"r, nonce=\"n\"",
	    "Digest realm=\"r\", realm=\"s\", nonce=\"n\"",
	    "Digest realm=\"r\" nonce=\"n\"",
	    "Digest realm=",
	    "Digest",
	};
	struct cf_digest_chal_rx ch;
	struct cf_digest_client cl = {"u", "p", "INVITE", "sip:x", "c", 1};
	struct cf_mbuf *mb = NULL;
	struct cf_pl pl;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cf_pl_set_str(&pl, bad[i]);
		if (cf_digest_chal_decode(&ch, &pl) != EBADMSG)
			fail_msg("accepted: %s", bad[i]);
	}
	assert_int_equal(cf_mbuf_alloc(&mb, 256), 0);
	cf_pl_set_str(&pl, "Digest realm=\"r\", nonce=\"n\", qop=\"auth-int\"");
	assert_int_equal(cf_digest_chal_decode(&ch, &pl), 0);
	assert_int_equal(cf_digest_client_encode(mb, &ch, &cl), EPROTO);
	cf_pl_set_str(&pl, "Digest realm=\"r\", nonce=\"n\", algorithm=XYZ");
	assert_int_equal(cf_digest_chal_decode(&ch, &pl), 0);
	assert_int_equal(cf_digest_client_encode(mb, &ch, &cl), EPROTO);
	cf_pl_set_str(&pl, "Digest realm=\"r\", nonce=\"n\", "
	                   "algorithm=MD5-sess");
	assert_int_equal(cf_digest_chal_decode(&ch, &pl), 0);
	assert_int_equal(cf_digest_client_encode(mb, &ch, &cl), EPROTO);
	/* RFC 2069: no qop, no cnonce or nc in the answer */
	mb->pos = mb->end = 0;
	cf_pl_set_str(&pl, "Digest realm=\"r\", nonce=\"n\"");
	assert_int_equal(cf_digest_chal_decode(&ch, &pl), 0);
	assert_int_equal(cf_digest_client_encode(mb, &ch, &cl), 0);
	assert_int_equal(cf_mbuf_write_u8(mb, 0), 0);
	assert_null(strstr((char *)mb->buf, "cnonce"));
	cf_mem_deref(mb);
}

/* ------------------------------------------------- trunks and dial plan */

static const char *const trunk_sets[] = {
    "proxy.trunk=carrier sip:127.0.0.1:5099;transport=udp username=acct "
    "password=s3cret",
    "proxy.trunk=plain sip:127.0.0.1:5098",
    "proxy.dialplan=^\\+[0-9]{6,}$ carrier strip=1 prefix=00",
    "proxy.dialplan=^9[0-9]{4,}$ plain strip=1",
};
static const struct sets trunks = {trunk_sets, 4};

/* The Proxy-Authorization of the last INVITE to port answers a 407 of
 * realm "carrier" with acct's password for method and uri. */
static void cred_check(struct fixture *f, uint16_t port, const char *uri,
                       enum cf_digest_alg alg)
{
	const char *r = sent_to(f, port, "INVITE ");
	const char *h, *e;
	char ha1[CF_DIGEST_HEX_SIZE];
	struct cf_digest_cred cred;
	struct cf_pl pl, user, realm, pass, method;

	assert_non_null(r);
	h = strstr(r, "\r\nProxy-Authorization: ");
	assert_non_null(h);
	h += strlen("\r\nProxy-Authorization: ");
	e = strstr(h, "\r\n");
	pl.p = h;
	pl.l = (size_t)(e - h);
	assert_int_equal(cf_digest_cred_decode(&cred, &pl), 0);
	assert_int_equal(cf_pl_strcmp(&cred.username, "acct"), 0);
	assert_int_equal(cf_pl_strcmp(&cred.uri, uri), 0);
	assert_int_equal(cred.alg, alg);
	assert_int_equal(cred.nc_val, 1);
	cf_pl_set_str(&user, "acct");
	cf_pl_set_str(&realm, "carrier");
	cf_pl_set_str(&pass, "s3cret");
	cf_pl_set_str(&method, "INVITE");
	assert_int_equal(cf_digest_ha1(alg, &user, &realm, &pass, ha1), 0);
	assert_true(cf_digest_cred_verify(&cred, &method, ha1));
	/* the caller's own credentials were for us: not passed on */
	assert_null(strstr(e, "Proxy-Authorization:"));
}

#define CARRIER_URI "sip:004930123456@127.0.0.1:5099;transport=udp"
#define CHAL_MD5                                                               \
	"Proxy-Authenticate: Digest realm=\"carrier\", nonce=\"n0nce\", "      \
	"qop=\"auth\", algorithm=MD5\r\n"

/* +4930123456 matches the first rule: the trunk gets 004930123456 (strip
 * 1, prefix 00) at its address; its 407 is answered with the trunk's
 * credentials (a new branch with CSeq + 1; the caller never sees the 407
 * and gets its own CSeq back), and the caller's ACK of the 2xx is
 * renumbered on its way to the trunk. */
static void test_trunk_407(void **state)
{
	struct fixture *f = *state;
	char route[256], buf[1024];
	const char *r, *rr;

	sent_clear(f);
	req(f, "INVITE", "sip:+4930123456@example.com", "t1@test",
	    "<sip:+4930123456@example.com>",
	    "Max-Forwards: 70\r\nProxy-Authorization: Digest username=\"alice\""
	    ", realm=\"example.com\", nonce=\"x\", uri=\"sip:x\", "
	    "response=\"0\"\r\n");
	assert_non_null(sent_to(f, 5099, "INVITE " CARRIER_URI " SIP/2.0\r\n"));
	assert_null(strstr(sent_to(f, 5099, "INVITE "), "Proxy-Authorization"));
	answer_from(f, 5099, "INVITE", 407, CHAL_MD5);
	assert_null(sent_to(f, CALLER, "SIP/2.0 407 "));
	assert_non_null(sent_to(f, 5099, "ACK "));
	cred_check(f, 5099, CARRIER_URI, CF_DIGEST_MD5);
	/* a new transaction: another branch, the CSeq one higher (§22.2),
	 * our Record-Route marked for the ACK of its 2xx */
	assert_int_equal(count_to(f, 5099, "INVITE "), 2);
	r = sent_to(f, 5099, "INVITE ");
	assert_non_null(strstr(r, "\r\nCSeq: 2 INVITE\r\n"));
	rr = strstr(r, "\r\nRecord-Route: <");
	assert_non_null(rr);
	rr += 2;
	assert_non_null(strstr(rr, ";cfack=1."));
	snprintf(route, sizeof(route), "Route: %.*s\r\n",
	         (int)(strstr(rr, ">") + 1 - (rr + 14)), rr + 14);
	answer_from(f, 5099, "INVITE", 180, NULL);
	assert_non_null(strstr(caller_got(f, 180), "\r\nCSeq: 1 INVITE\r\n"));
	answer_from(f, 5099, "INVITE", 200, NULL);
	assert_non_null(strstr(caller_got(f, 200), "\r\nCSeq: 1 INVITE\r\n"));

	/* the caller's ACK of the 2xx (CSeq 1) reaches the trunk as 2; an
	 * ACK with another From tag keeps its number */
	for (int i = 0; i < 2; i++) {
		snprintf(
		    buf, sizeof(buf),
		    "ACK sip:trunk@127.0.0.1:5099 SIP/2.0\r\n"
		    "Via: SIP/2.0/UDP 127.0.0.1:25160;branch=z9hG4bKack%d\r\n"
		    "%s"
		    "From: <sip:alice@example.com>;tag=%s\r\n"
		    "To: <sip:+4930123456@example.com>;tag=t5099\r\n"
		    "Call-ID: t1@test\r\nCSeq: 1 ACK\r\n"
		    "Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n",
		    i, route, i ? "other" : "a1");
		feed_from(f, buf, CALLER);
		r = sent_to(f, 5099, "ACK sip:trunk@");
		assert_non_null(r);
		if (!strstr(r,
		            i ? "\r\nCSeq: 1 ACK\r\n" : "\r\nCSeq: 2 ACK\r\n"))
			fail_msg("ACK %d: %s", i, r);
	}
}

/* SHA-256 offered first (RFC 8760): the client uses it. A 401 is
 * answered with Authorization. */
static void test_trunk_sha256_401(void **state)
{
	struct fixture *f = *state;
	const char *r;

	sent_clear(f);
	req(f, "INVITE", "sip:+4930123456@example.com", "t2@test",
	    "<sip:+4930123456@example.com>", NULL);
	answer_from(
	    f, 5099, "INVITE", 407,
	    "Proxy-Authenticate: Digest realm=\"carrier\", "
	    "nonce=\"n1\", qop=\"auth\", algorithm=SHA-256\r\n" CHAL_MD5);
	cred_check(f, 5099, CARRIER_URI, CF_DIGEST_SHA256);
	answer_from(f, 5099, "INVITE", 200, NULL);
	caller_got(f, 200);

	sent_clear(f);
	req(f, "INVITE", "sip:+4930123457@example.com", "t3@test",
	    "<sip:+4930123457@example.com>", NULL);
	answer_from(f, 5099, "INVITE", 401,
	            "WWW-Authenticate: Digest realm=\"carrier\", "
	            "nonce=\"n2\"\r\n");
	r = sent_to(f, 5099, "INVITE ");
	assert_non_null(
	    strstr(r, "\r\nAuthorization: Digest username=\"acct\""));
	assert_null(strstr(r, "cnonce"));
	answer_from(f, 5099, "INVITE", 486, NULL);
	caller_got(f, 486);
}

/* The trunk challenges our credentials again: the caller gets 403 (not
 * the trunk's challenge); a trunk without credentials passes its 407
 * through; the second rule strips the 9; no rule and no user: 404. */
static void test_trunk_refused_and_rules(void **state)
{
	struct fixture *f = *state;

	sent_clear(f);
	req(f, "INVITE", "sip:+4930123456@example.com", "t4@test",
	    "<sip:+4930123456@example.com>", NULL);
	answer_from(f, 5099, "INVITE", 407, CHAL_MD5);
	answer_from(f, 5099, "INVITE", 407, CHAL_MD5);
	caller_got(f, 403);
	assert_int_equal(count_to(f, 5099, "INVITE "), 2);

	sent_clear(f);
	req(f, "INVITE", "sip:9012345@example.com", "t5@test",
	    "<sip:9012345@example.com>", NULL);
	assert_non_null(
	    sent_to(f, 5098, "INVITE sip:012345@127.0.0.1:5098 SIP/2.0\r\n"));
	answer_from(f, 5098, "INVITE", 407, CHAL_MD5);
	caller_got(f, 407);

	sent_clear(f);
	req(f, "INVITE", "sip:12345@example.com", "t6@test",
	    "<sip:12345@example.com>", NULL);
	caller_got(f, 404);
	assert_int_equal(f->nsent, 2); /* 100, 404 */
}

/* CANCEL while the authenticated branch rings: it is cancelled, 487. */
static void test_trunk_cancel(void **state)
{
	struct fixture *f = *state;
	char buf[1024];

	sent_clear(f);
	req(f, "INVITE", "sip:+4930123456@example.com", "t7@test",
	    "<sip:+4930123456@example.com>", NULL);
	answer_from(f, 5099, "INVITE", 407, CHAL_MD5);
	answer_from(f, 5099, "INVITE", 180, NULL);
	snprintf(buf, sizeof(buf),
	         "CANCEL sip:+4930123456@example.com SIP/2.0\r\n"
	         "Via: SIP/2.0/UDP 127.0.0.1:25160;branch=z9hG4bKc%u\r\n"
	         "From: <sip:alice@example.com>;tag=a1\r\n"
	         "To: <sip:+4930123456@example.com>\r\n"
	         "Call-ID: t7@test\r\nCSeq: 1 CANCEL\r\nMax-Forwards: 70\r\n"
	         "Content-Length: 0\r\n\r\n",
	         f->branch);
	feed_from(f, buf, CALLER);
	assert_non_null(sent_to(f, 5099, "CANCEL "));
	caller_got(f, 487);
	answer_from(f, 5099, "INVITE", 487, NULL);
}

static const char *const trunk_auth_sets[] = {
    "proxy.trunk=carrier sip:127.0.0.1:5099;transport=udp",
    "proxy.dialplan=^\\+[0-9]{6,}$ carrier strip=1 prefix=00",
    "proxy.authenticate=yes",
};
static const struct sets trunks_auth = {trunk_auth_sets, 3};

/* With authentication on, the dial plan is for our users only: alice is
 * challenged first (407 of ours), a request from another domain (not
 * challenged) does not reach the trunk: 404. */
static void test_trunk_foreign_caller(void **state)
{
	struct fixture *f = *state;
	char buf[1024];

	sent_clear(f);
	req(f, "INVITE", "sip:+4930123456@example.com", "fa@test",
	    "<sip:+4930123456@example.com>", NULL);
	caller_got(f, 407);
	assert_null(sent_to(f, 5099, "INVITE "));

	sent_clear(f);
	snprintf(buf, sizeof(buf),
	         "INVITE sip:+4930123456@example.com SIP/2.0\r\n"
	         "Via: SIP/2.0/UDP 127.0.0.1:25160;branch=z9hG4bKfx1\r\n"
	         "From: <sip:mallory@evil.example>;tag=m1\r\n"
	         "To: <sip:+4930123456@example.com>\r\n"
	         "Call-ID: fx@test\r\nCSeq: 1 INVITE\r\n"
	         "Contact: <sip:mallory@127.0.0.1:25160>\r\n"
	         "Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n");
	feed_from(f, buf, CALLER);
	caller_got(f, 404);
	assert_null(sent_to(f, 5099, "INVITE "));
}

static const char *const trunk_fwd_sets[] = {
    "proxy.trunk=carrier sip:127.0.0.1:5099;transport=udp",
    "proxy.dialplan=^\\+[0-9]{6,}$ carrier strip=1 prefix=00",
    "proxy.forward_busy=sip:busy@127.0.0.1:5081",
};
static const struct sets trunks_fwd = {trunk_fwd_sets, 3};

/* The failure routes are for calls to our users: a busy number at the
 * trunk goes upstream as 486, the forward_busy URI does not ring (while
 * bob's busy still goes there). */
static void test_trunk_no_failure_route(void **state)
{
	struct fixture *f = *state;

	sent_clear(f);
	req(f, "INVITE", "sip:+4930123456@example.com", "tb@test",
	    "<sip:+4930123456@example.com>", NULL);
	answer_from(f, 5099, "INVITE", 486, NULL);
	caller_got(f, 486);
	assert_null(sent_to(f, 5081, "INVITE "));

	reg(f, "bob", "Contact: <sip:bob@127.0.0.1:5071>");
	sent_clear(f);
	invite(f, BOB, NULL);
	answer_from(f, 5071, "INVITE", 486, NULL);
	assert_non_null(sent_to(f, 5081, "INVITE "));
	answer_from(f, 5081, "INVITE", 200, NULL);
	caller_got(f, 200);
}

/* Every allocation fails once in turn while a number is routed to the
 * trunk and while its 407 is answered: no crash, no leak, no transaction
 * left (teardown checks); then a call works again. */
static void test_trunk_oom(void **state)
{
	struct fixture *f = *state;

	for (long n = 1; n <= 120; n++) {
		char cid[32];

		sent_clear(f);
		snprintf(cid, sizeof(cid), "oom%ld@test", n);
		f->fail_after = n;
		req(f, "INVITE", "sip:+4930123456@example.com", cid,
		    "<sip:+4930123456@example.com>", NULL);
		f->fail_after = 0;
		if (sent_to(f, 5099, "INVITE ")) {
			f->fail_after = n;
			answer_from(f, 5099, "INVITE", 407, CHAL_MD5);
			f->fail_after = 0;
			if (count_to(f, 5099, "INVITE ") == 2)
				answer_from(f, 5099, "INVITE", 486, NULL);
		}
		for (int i = 0; i < 200 && cf_sip_txn_env_pending(f->env); i++)
			cf_tmr_wheel_advance(f->wheel,
			                     cf_tmr_wheel_now(f->wheel) + 1000);
		if (cf_sip_txn_env_pending(f->env))
			fail_msg("n=%ld: a transaction is left pending", n);
	}
	sent_clear(f);
	req(f, "INVITE", "sip:+4930123456@example.com", "oom-end@test",
	    "<sip:+4930123456@example.com>", NULL);
	answer_from(f, 5099, "INVITE", 407, CHAL_MD5);
	answer_from(f, 5099, "INVITE", 486, NULL);
	caller_got(f, 486);
}

/* The configuration: every mistake reported with its line (--set: 0),
 * the load refused. */
static void test_trunk_config(void **state)
{
	static const struct {
		const char *set, *want;
	} v[] = {
	    {"proxy.trunk=carrier", "trunk carrier has no URI"},
	    {"proxy.trunk=c sip:127.0.0.1;transport=sctp",
	     "the transport udp, tcp or tls"},
	    {"proxy.trunk=c tel:+123", "is not a SIP URI"},
	    {"proxy.trunk=c sip:u@127.0.0.1", "without user part"},
	    {"proxy.trunk=c sip:127.0.0.1 username=x", "go together"},
	    {"proxy.trunk=c sip:127.0.0.1 bogus", "is not username="},
	    {"proxy.trunk=c/d sip:127.0.0.1", "the name must be"},
	    {"proxy.dialplan=^[0-9+$ x", "bad regex '^[0-9+$'"},
	    {"proxy.dialplan=^1$ nosuch", "no trunk named nosuch"},
	    {"proxy.dialplan=^1$", "want REGEX TRUNK"},
	};
	(void)state;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		const char *sets[3] = {"proxy.trunk=x sip:127.0.0.1:5070",
		                       v[i].set};
		struct cf_app_conf *c = NULL;
		struct cf_mbuf errs;

		cf_mbuf_init(&errs);
		assert_int_equal(cf_app_conf_load(&c, NULL, sets, 2, &errs),
		                 EINVAL);
		assert_null(c);
		assert_int_equal(cf_mbuf_write_u8(&errs, 0), 0);
		if (!strstr((char *)errs.buf, v[i].want))
			fail_msg("%s: want '%s' in: %s", v[i].set, v[i].want,
			         (char *)errs.buf);
		cf_mbuf_reset(&errs);
	}
	/* a file: the line is named */
	{
		char path[] = "/tmp/cf_test_trunk_XXXXXX";
		struct cf_app_conf *c = NULL;
		struct cf_mbuf errs;
		int fd = mkstemp(path);
		FILE *fp = fdopen(fd, "w");

		assert_non_null(fp);
		fputs("[proxy]\ntrunk = a sip:127.0.0.1\n\n"
		      "dialplan = ^(0[0-9]+$ a\n",
		      fp);
		fclose(fp);
		cf_mbuf_init(&errs);
		assert_int_equal(cf_app_conf_load(&c, path, NULL, 0, &errs),
		                 EINVAL);
		assert_int_equal(cf_mbuf_write_u8(&errs, 0), 0);
		if (!strstr((char *)errs.buf,
		            ":4: [proxy] dialplan: bad regex"))
			fail_msg("want line 4: %s", (char *)errs.buf);
		cf_mbuf_reset(&errs);
		unlink(path);
	}
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
	    TS(test_route_name_unresolved, names),
	    cmocka_unit_test(test_digest_client),
	    cmocka_unit_test(test_digest_client_bad),
	    TS(test_trunk_407, trunks),
	    TS(test_trunk_sha256_401, trunks),
	    TS(test_trunk_refused_and_rules, trunks),
	    TS(test_trunk_cancel, trunks),
	    TS(test_trunk_oom, trunks),
	    TS(test_trunk_foreign_caller, trunks_auth),
	    TS(test_trunk_no_failure_route, trunks_fwd),
	    cmocka_unit_test(test_trunk_config),
	};

	cf_log_set_level(CF_LOG_ERR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
