/* SPDX-License-Identifier: BSD-3-Clause */
/* test_auth.c - the auth module: challenges, digest verification for each
 * algorithm, nonce-count replay, stale nonces, unknown users, the identity
 * rule, lockouts, rate limit and bans, allow/deny lists, the cache and the
 * control commands; driven through a real transaction environment with a
 * fake clock, a recording send and an in-memory store. */
#include <errno.h>
#include <stdatomic.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "mod/auth/auth.h"
#include "mod/auth/auth_int.h"
#include "mod/auth/auth_mod.h"
#include "mod/mod.h"
#include "proto/sip/digest.h"
#include "store/store.h"
#include "testapp.h"

enum { SENT_MAX = 64, SETS_MAX = 16 };

struct fixture {
	struct cf_tmr_wheel *wheel;
	struct cf_sip_txn_env *env;
	struct cf_app_conf *conf;
	struct cf_app *app;
	struct cf_store *store;
	struct cf_sip_txn_handlers h;
	struct cf_sip_peer peer;
	const struct cf_auth_api *api;
	uint64_t now; /* the module's fake clock, ms */
	char *sent[SENT_MAX];
	size_t nsent;
	enum cf_auth_verdict verdict;
	struct cf_auth_id id;
	unsigned seq;
	long blocks;
	long fail_after;
	bool started;
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

/* The service under test: the gate, then check() for methods that need
 * it (proxy = not a REGISTER), then 200. */
static void on_req(struct cf_sip_strans *st, const struct cf_sip_msg *msg,
                   const struct cf_sip_peer *peer, void *arg)
{
	struct fixture *f = arg;
	char domain[256];

	if (!st)
		return;
	f->verdict = CF_AUTH_PASS;
	memset(&f->id, 0, sizeof(f->id));
	if (cf_mod_auth.request(f->app, st, msg, peer)) {
		f->verdict = CF_AUTH_ANSWERED;
		return;
	}
	if (f->api->method_needs_auth(f->app, msg->mid)) {
		assert_int_equal(
		    cf_pl_strcpy(&msg->ruri.host, domain, sizeof(domain)), 0);
		f->verdict =
		    f->api->check(f->app, st, msg, peer, domain,
		                  msg->mid != CF_SIP_M_REGISTER, &f->id);
		if (f->verdict != CF_AUTH_PASS)
			return;
	}
	(void)cf_mod_reply(st, 200, NULL);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->blocks = cf_mem_blocks();
	cf_testapp_txn_alloc(&f->wheel, &f->env, NULL, rec_send, f);
	f->h.request = on_req;
	f->h.arg = f;
	f->peer.tp = CF_SIP_TP_UDP;
	assert_int_equal(cf_sa_set_str(&f->peer.addr, "127.0.0.1", 25160), 0);
	assert_int_equal(cf_sa_set_str(&f->peer.local, "127.0.0.1", 25060), 0);
	f->now = 1800000000000ull;

	/* the store: two domains, one preferring SHA-256 */
	assert_int_equal(cf_store_open(&f->store, ":memory:", NULL), 0);
	assert_int_equal(
	    cf_store_domain_add(
	        f->store, &(struct cf_store_domain){"confab.test", NULL, NULL}),
	    0);
	assert_int_equal(
	    cf_store_domain_add(
	        f->store,
	        &(struct cf_store_domain){"sha.test", NULL, "SHA-256,MD5"}),
	    0);
	assert_int_equal(
	    cf_store_subscriber_add(f->store, "alice", "confab.test", "secret"),
	    0);
	assert_int_equal(
	    cf_store_subscriber_add(f->store, "carol", "confab.test", "pw2"),
	    0);
	assert_int_equal(
	    cf_store_subscriber_add(f->store, "bob", "sha.test", "hunter2"), 0);
	*state = f;
	return 0;
}

/* Start the module with these --set overrides (each test its own). */
static void start(struct fixture *f, const char *const *sets, size_t n)
{
	const char *all[SETS_MAX] = {"general.domain=confab.test"};

	assert_true(n + 1 <= SETS_MAX);
	for (size_t i = 0; i < n; i++)
		all[i + 1] = sets[i];
	assert_int_equal(cf_app_conf_load(&f->conf, NULL, all, n + 1, NULL), 0);
	assert_int_equal(cf_app_alloc(&f->app, f->conf), 0);
	cf_app_set_store(f->app, f->store);
	cf_mod_auth_set_clock(&f->now);
	assert_int_equal(cf_mod_init_all(f->app), 0);
	f->api = cf_mod_find("auth")->api;
	assert_non_null(f->api);
	f->started = true;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	cf_testapp_txn_drain(f->wheel, f->env, 80);
	if (f->started)
		cf_mod_stop_all(f->app);
	sent_clear(f);
	cf_mem_deref(f->app);
	cf_mem_deref(f->conf);
	cf_mem_deref(f->store);
	cf_mem_deref(f->env);
	cf_mem_deref(f->wheel);
	assert_int_equal(cf_mem_blocks(), f->blocks);
	free(f);
	return 0;
}

/* Feed one request. from/to: user parts; extra: header lines. */
static void feed_cid(struct fixture *f, const char *method, const char *ruri,
                     const char *from, const char *to, const char *host,
                     const char *callid, const char *extra)
{
	struct cf_sip_msg *msg = NULL;
	char buf[4096];
	size_t used;
	int n;

	f->seq++;
	n = snprintf(buf, sizeof(buf),
	             "%s %s SIP/2.0\r\n"
	             "Via: SIP/2.0/UDP 127.0.0.1:25160;branch=z9hG4bKa%u\r\n"
	             "From: <sip:%s@%s>;tag=ft1\r\n"
	             "To: <sip:%s@%s>\r\n"
	             "Call-ID: %s\r\n"
	             "CSeq: %u %s\r\n"
	             "Max-Forwards: 70\r\n"
	             "%s"
	             "Content-Length: 0\r\n\r\n",
	             method, ruri, f->seq, from, host, to, host, callid, f->seq,
	             method, extra ? extra : "");
	assert_true(n > 0 && (size_t)n < sizeof(buf));
	assert_int_equal(cf_sip_msg_decode(&msg, (const uint8_t *)buf, n,
	                                   CF_SIP_DATAGRAM, &used),
	                 0);
	cf_mem_fail_after(f->fail_after);
	cf_sip_txn_recv(f->env, &f->h, msg, &f->peer);
	cf_mem_fail_after(0);
	cf_mem_deref(msg);
}

static void feed(struct fixture *f, const char *method, const char *ruri,
                 const char *user, const char *host, const char *extra)
{
	feed_cid(f, method, ruri, user, user, host, "cid-1@test", extra);
}

static const char *last(struct fixture *f, unsigned code)
{
	char want[16];

	assert_true(f->nsent > 0);
	snprintf(want, sizeof(want), "SIP/2.0 %u ", code);
	if (strncmp(f->sent[f->nsent - 1], want, strlen(want)))
		fail_msg("want %u, got: %.60s", code, f->sent[f->nsent - 1]);
	return f->sent[f->nsent - 1];
}

/* The nonce of the last challenge. */
static void nonce_of(struct fixture *f, char *nonce)
{
	const char *r = f->sent[f->nsent - 1];
	const char *p = strstr(r, "nonce=\"");
	const char *e;

	assert_non_null(p);
	p += 7;
	e = strchr(p, '"');
	assert_non_null(e);
	assert_true((size_t)(e - p) < CF_DIGEST_NONCE_SIZE);
	memcpy(nonce, p, e - p);
	nonce[e - p] = '\0';
}

/* An Authorization (or Proxy-Authorization) header line. */
static void cred_line(char *out, size_t size, bool proxy,
                      enum cf_digest_alg alg, const char *user,
                      const char *realm, const char *pw, const char *method,
                      const char *uri, const char *nonce, unsigned nc)
{
	char ha1[CF_DIGEST_HEX_SIZE], ha2[CF_DIGEST_HEX_SIZE];
	char resp[CF_DIGEST_HEX_SIZE], ncs[16];
	struct cf_pl u, r, p, m, ur, n, ncp, cn = CF_PL("0a4f113b"),
	                                     qop = CF_PL("auth");

	snprintf(ncs, sizeof(ncs), "%08x", nc);
	cf_pl_set_str(&u, user);
	cf_pl_set_str(&r, realm);
	cf_pl_set_str(&p, pw);
	cf_pl_set_str(&m, method);
	cf_pl_set_str(&ur, uri);
	cf_pl_set_str(&n, nonce);
	cf_pl_set_str(&ncp, ncs);
	assert_int_equal(cf_digest_ha1(alg, &u, &r, &p, ha1), 0);
	assert_int_equal(cf_digest_ha2(alg, &m, &ur, ha2), 0);
	assert_int_equal(
	    cf_digest_response(alg, ha1, &n, &ncp, &cn, &qop, ha2, resp), 0);
	snprintf(out, size,
	         "%s: Digest username=\"%s\", realm=\"%s\", nonce=\"%s\", "
	         "uri=\"%s\", response=\"%s\", algorithm=%s, qop=auth, "
	         "nc=%s, cnonce=\"0a4f113b\"\r\n",
	         proxy ? "Proxy-Authorization" : "Authorization", user, realm,
	         nonce, uri, resp, cf_digest_alg_name(alg, false), ncs);
}

/* REGISTER alice without credentials: the challenge's nonce. */
static void challenge(struct fixture *f, const char *user, const char *host,
                      char *nonce)
{
	char ruri[64];

	snprintf(ruri, sizeof(ruri), "sip:%s", host);
	feed(f, "REGISTER", ruri, user, host, NULL);
	last(f, 401);
	nonce_of(f, nonce);
}

/* REGISTER with credentials computed for pw over nonce. */
static void reg_with(struct fixture *f, const char *user, const char *host,
                     const char *pw, const char *nonce, unsigned nc,
                     enum cf_digest_alg alg, const char *callid)
{
	char line[1024], ruri[64];

	snprintf(ruri, sizeof(ruri), "sip:%s", host);
	cred_line(line, sizeof(line), false, alg, user, host, pw, "REGISTER",
	          ruri, nonce, nc);
	feed_cid(f, "REGISTER", ruri, user, user, host, callid, line);
}

static long counter(struct fixture *f, const char *name)
{
	const struct cf_mod_cmd *cmd = NULL;
	struct cf_mod_ctl_req req = {"security", "show", json_array(),
	                             json_object()};
	json_t *resp = json_object();
	long v;

	assert_int_equal(cf_mod_cmd_find(&cmd, "security", "show"), 0);
	assert_int_equal(cmd->h(f->app, &req, resp), 0);
	v = json_integer_value(
	    json_object_get(json_object_get(resp, "counters"), name));
	json_decref(resp);
	json_decref(req.args);
	json_decref(req.opts);
	return v;
}

/* ------------------------------------------------------------ tests */

static void test_challenge(void **state)
{
	struct fixture *f = *state;
	const char *r, *a, *b, *c;

	start(f, NULL, 0);
	feed(f, "REGISTER", "sip:confab.test", "alice", "confab.test", NULL);
	r = last(f, 401);
	assert_int_equal(f->verdict, CF_AUTH_ANSWERED);
	/* answered statelessly: no Timer J state per challenge */
	assert_int_equal(cf_sip_txn_env_count(f->env), 0);
	a = strstr(r, "\r\nWWW-Authenticate: Digest realm=\"confab.test\"");
	assert_non_null(a);
	a = strstr(r, "algorithm=MD5");
	b = strstr(r, "algorithm=SHA-256");
	c = strstr(r, "algorithm=SHA-512-256");
	assert_non_null(a);
	assert_non_null(b);
	assert_non_null(c);
	assert_true(a < b && b < c); /* MD5 first by default */
	assert_non_null(strstr(r, "qop=\"auth\""));
	assert_null(strstr(r, "stale"));
	/* three headers, all with the same nonce */
	{
		char n1[CF_DIGEST_NONCE_SIZE];
		int k = 0;

		nonce_of(f, n1);
		for (const char *p = r; (p = strstr(p, "WWW-Authenticate:"));
		     p++)
			k++;
		assert_int_equal(k, 3);
		for (const char *p = r; (p = strstr(p, "nonce=\"")); p++)
			assert_int_equal(strncmp(p + 7, n1, strlen(n1)), 0);
	}
	/* a proxied request: 407 with Proxy-Authenticate */
	feed(f, "INVITE", "sip:carol@confab.test", "alice", "confab.test",
	     NULL);
	r = last(f, 407);
	assert_non_null(strstr(r, "\r\nProxy-Authenticate: Digest "));
	/* an INVITE keeps its transaction (the ACK must be absorbed) */
	assert_int_equal(cf_sip_txn_env_count(f->env), 1);
	assert_null(strstr(r, "WWW-Authenticate"));
	/* OPTIONS needs nothing; ACK/CANCEL never */
	feed(f, "OPTIONS", "sip:confab.test", "alice", "confab.test", NULL);
	last(f, 200);
	assert_false(f->api->method_needs_auth(f->app, CF_SIP_M_ACK));
	assert_false(f->api->method_needs_auth(f->app, CF_SIP_M_CANCEL));
	assert_true(f->api->method_needs_auth(f->app, CF_SIP_M_MESSAGE));
	assert_true(f->api->method_needs_auth(f->app, CF_SIP_M_REFER));
	assert_false(f->api->method_needs_auth(f->app, CF_SIP_M_BYE));
	assert_int_equal(counter(f, "challenges"), 2);
}

static void test_challenge_order(void **state)
{
	struct fixture *f = *state;
	static const char *const sets[] = {"auth.algorithms=SHA-512-256, MD5",
	                                   "auth.methods=REGISTER"};
	const char *r, *a, *b;

	start(f, sets, 2);
	/* the domain's own order */
	feed(f, "REGISTER", "sip:sha.test", "bob", "sha.test", NULL);
	r = last(f, 401);
	assert_non_null(strstr(r, "realm=\"sha.test\""));
	a = strstr(r, "algorithm=SHA-256");
	b = strstr(r, "algorithm=MD5");
	assert_non_null(a);
	assert_non_null(b);
	assert_true(a < b);
	assert_null(strstr(r, "SHA-512-256"));
	/* the configured order */
	feed(f, "REGISTER", "sip:confab.test", "alice", "confab.test", NULL);
	r = last(f, 401);
	a = strstr(r, "algorithm=SHA-512-256");
	b = strstr(r, "algorithm=MD5");
	assert_non_null(a);
	assert_non_null(b);
	assert_true(a < b);
	assert_null(strstr(r, "algorithm=SHA-256,"));
	/* methods: only REGISTER now */
	assert_false(f->api->method_needs_auth(f->app, CF_SIP_M_INVITE));
}

static int hdr_count(const char *r, const char *name)
{
	int k = 0;

	for (const char *p = r; (p = strstr(p, name)); p++)
		k++;
	return k;
}

static void test_md5_only_agents(void **state)
{
	struct fixture *f = *state;
	char nonce[CF_DIGEST_NONCE_SIZE], line[1024];
	const char *r;

	start(f, NULL, 0);
	/* libre 1.x fails on any non-MD5 challenge: MD5 alone for it */
	feed(f, "REGISTER", "sip:confab.test", "alice", "confab.test",
	     "User-Agent: baresip v1.0.0 (x86_64/linux)\r\n");
	r = last(f, 401);
	assert_int_equal(hdr_count(r, "WWW-Authenticate:"), 1);
	assert_non_null(strstr(r, "algorithm=MD5"));
	/* even where the domain prefers SHA-256 */
	feed(f, "REGISTER", "sip:sha.test", "bob", "sha.test",
	     "User-Agent: BareSIP 3.0\r\n");
	r = last(f, 401);
	assert_int_equal(hdr_count(r, "WWW-Authenticate:"), 1);
	assert_non_null(strstr(r, "algorithm=MD5"));
	/* and it registers with it */
	nonce_of(f, nonce);
	cred_line(line, sizeof(line), false, CF_DIGEST_MD5, "bob", "sha.test",
	          "hunter2", "REGISTER", "sip:sha.test", nonce, 1);
	strcat(line, "User-Agent: baresip v1.0.0\r\n");
	feed(f, "REGISTER", "sip:sha.test", "bob", "sha.test", line);
	last(f, 200);
	/* other agents get all three */
	feed(f, "REGISTER", "sip:confab.test", "alice", "confab.test",
	     "User-Agent: Linphone/5.0\r\n");
	assert_int_equal(hdr_count(last(f, 401), "WWW-Authenticate:"), 3);
}

static void test_md5_only_none(void **state)
{
	struct fixture *f = *state;
	static const char *const sets[] = {"auth.md5_only_agents=none"};

	start(f, sets, 1);
	feed(f, "REGISTER", "sip:confab.test", "alice", "confab.test",
	     "User-Agent: baresip v1.0.0 (x86_64/linux)\r\n");
	assert_int_equal(hdr_count(last(f, 401), "WWW-Authenticate:"), 3);
}

static void test_success_each_alg(void **state)
{
	struct fixture *f = *state;
	static const enum cf_digest_alg algs[] = {
	    CF_DIGEST_MD5, CF_DIGEST_SHA256, CF_DIGEST_SHA512_256};
	char nonce[CF_DIGEST_NONCE_SIZE];

	start(f, NULL, 0);
	for (size_t i = 0; i < 3; i++) {
		challenge(f, "alice", "confab.test", nonce);
		reg_with(f, "alice", "confab.test", "secret", nonce, 1, algs[i],
		         "cid-1@test");
		last(f, 200);
		assert_int_equal(f->verdict, CF_AUTH_PASS);
		assert_string_equal(f->id.user, "alice");
		assert_string_equal(f->id.domain, "confab.test");
	}
	/* SHA-256 in the domain that prefers it; a proxied MESSAGE */
	challenge(f, "bob", "sha.test", nonce);
	reg_with(f, "bob", "sha.test", "hunter2", nonce, 1, CF_DIGEST_SHA256,
	         "cid-2@test");
	last(f, 200);
	{
		char line[1024];

		feed(f, "MESSAGE", "sip:alice@confab.test", "carol",
		     "confab.test", NULL);
		last(f, 407);
		nonce_of(f, nonce);
		cred_line(line, sizeof(line), true, CF_DIGEST_MD5, "carol",
		          "confab.test", "pw2", "MESSAGE",
		          "sip:alice@confab.test", nonce, 1);
		feed(f, "MESSAGE", "sip:alice@confab.test", "carol",
		     "confab.test", line);
		last(f, 200);
		assert_string_equal(f->id.user, "carol");
	}
	/* an algorithm the domain does not offer: a new challenge */
	challenge(f, "bob", "sha.test", nonce);
	reg_with(f, "bob", "sha.test", "hunter2", nonce, 1,
	         CF_DIGEST_SHA512_256, "cid-3@test");
	last(f, 401);
	assert_int_equal(counter(f, "auth_ok"), 5);
	assert_int_equal(counter(f, "auth_failed"), 0);
}

static void test_wrong_password(void **state)
{
	struct fixture *f = *state;
	char nonce[CF_DIGEST_NONCE_SIZE];

	start(f, NULL, 0);
	challenge(f, "alice", "confab.test", nonce);
	reg_with(f, "alice", "confab.test", "wrong", nonce, 1, CF_DIGEST_MD5,
	         "cid-1@test");
	last(f, 401);
	assert_int_equal(f->verdict, CF_AUTH_ANSWERED);
	assert_null(strstr(f->sent[f->nsent - 1], "stale"));
	assert_int_equal(counter(f, "auth_failed"), 1);
	/* the right one still works afterwards */
	nonce_of(f, nonce);
	reg_with(f, "alice", "confab.test", "secret", nonce, 1, CF_DIGEST_MD5,
	         "cid-1@test");
	last(f, 200);
}

static void test_replay(void **state)
{
	struct fixture *f = *state;
	char nonce[CF_DIGEST_NONCE_SIZE];

	start(f, NULL, 0);
	challenge(f, "alice", "confab.test", nonce);
	reg_with(f, "alice", "confab.test", "secret", nonce, 1, CF_DIGEST_MD5,
	         "cid-1@test");
	last(f, 200);
	/* the same Authorization again (new transaction), same Call-ID */
	reg_with(f, "alice", "confab.test", "secret", nonce, 1, CF_DIGEST_MD5,
	         "cid-1@test");
	last(f, 401);
	/* and in a new Call-ID */
	reg_with(f, "alice", "confab.test", "secret", nonce, 1, CF_DIGEST_MD5,
	         "cid-other@test");
	last(f, 401);
	assert_int_equal(counter(f, "replays"), 2);
	/* the next nonce-count is fine, a lower one is not */
	reg_with(f, "alice", "confab.test", "secret", nonce, 3, CF_DIGEST_MD5,
	         "cid-1@test");
	last(f, 200);
	reg_with(f, "alice", "confab.test", "secret", nonce, 2, CF_DIGEST_MD5,
	         "cid-1@test");
	last(f, 401);
	/* replays are not failures */
	assert_int_equal(counter(f, "auth_failed"), 0);
}

static void test_stale(void **state)
{
	struct fixture *f = *state;
	static const char *const sets[] = {"auth.nonce_lifetime=30"};
	char nonce[CF_DIGEST_NONCE_SIZE], n2[CF_DIGEST_NONCE_SIZE];

	start(f, sets, 1);
	challenge(f, "alice", "confab.test", nonce);
	f->now += 29000;
	reg_with(f, "alice", "confab.test", "secret", nonce, 1, CF_DIGEST_MD5,
	         "cid-1@test");
	last(f, 200);
	f->now += 2000; /* 31 s: expired */
	reg_with(f, "alice", "confab.test", "secret", nonce, 2, CF_DIGEST_MD5,
	         "cid-1@test");
	assert_non_null(strstr(last(f, 401), "stale=true"));
	assert_int_equal(counter(f, "stale"), 1);
	/* a wrong password with an expired nonce: no stale=true */
	reg_with(f, "alice", "confab.test", "bad", nonce, 3, CF_DIGEST_MD5,
	         "cid-1@test");
	assert_null(strstr(last(f, 401), "stale"));
	/* the fresh nonce works */
	nonce_of(f, n2);
	assert_string_not_equal(n2, nonce);
	reg_with(f, "alice", "confab.test", "secret", n2, 1, CF_DIGEST_MD5,
	         "cid-1@test");
	last(f, 200);
	/* a nonce of another realm or altered: a plain challenge */
	n2[5] = n2[5] == 'A' ? 'B' : 'A';
	reg_with(f, "alice", "confab.test", "secret", n2, 2, CF_DIGEST_MD5,
	         "cid-1@test");
	assert_null(strstr(last(f, 401), "stale"));
	assert_int_equal(counter(f, "bad_nonce"), 1);
}

static void test_nonce_slots(void **state)
{
	struct fixture *f = *state;
	static const char *const sets[] = {"auth.nonce_slots=1024",
	                                   "security.rate=0"};
	char nonce[CF_DIGEST_NONCE_SIZE], other[CF_DIGEST_NONCE_SIZE];

	start(f, sets, 2);
	challenge(f, "alice", "confab.test", nonce);
	/* 1024 newer challenges take every slot: the first nonce is gone */
	for (int i = 0; i < 1024; i++) {
		challenge(f, "carol", "confab.test", other);
		sent_clear(f);
		for (int k = 0; k < 2; k++) /* let the transactions go */
			cf_tmr_wheel_advance(
			    f->wheel, cf_tmr_wheel_now(f->wheel) + 40000);
	}
	reg_with(f, "alice", "confab.test", "secret", nonce, 1, CF_DIGEST_MD5,
	         "cid-1@test");
	assert_non_null(strstr(last(f, 401), "stale=true"));
	/* the newest still works */
	reg_with(f, "carol", "confab.test", "pw2", other, 1, CF_DIGEST_MD5,
	         "cid-1@test");
	last(f, 200);
}

static void test_unknown_user(void **state)
{
	struct fixture *f = *state;
	char nonce[CF_DIGEST_NONCE_SIZE];

	start(f, NULL, 0);
	challenge(f, "mallory", "confab.test", nonce);
	reg_with(f, "mallory", "confab.test", "x", nonce, 1, CF_DIGEST_MD5,
	         "cid-1@test");
	/* answered as a wrong password: no user enumeration */
	last(f, 401);
	assert_int_equal(counter(f, "unknown_user"), 1);
	assert_false(f->api->user_exists(f->app, &CF_PL("mallory"),
	                                 &CF_PL("confab.test")));
	assert_true(f->api->user_exists(f->app, &CF_PL("alice"),
	                                &CF_PL("CONFAB.test")));
	assert_false(
	    f->api->user_exists(f->app, &CF_PL("alice"), &CF_PL("sha.test")));
}

static void test_unknown_user_404(void **state)
{
	struct fixture *f = *state;
	static const char *const sets[] = {"auth.unknown_user=404"};
	char nonce[CF_DIGEST_NONCE_SIZE];

	start(f, sets, 1);
	challenge(f, "mallory", "confab.test", nonce);
	reg_with(f, "mallory", "confab.test", "x", nonce, 1, CF_DIGEST_MD5,
	         "cid-1@test");
	assert_non_null(strstr(last(f, 404), "404 User unknown\r\n"));
}

static void test_identity(void **state)
{
	struct fixture *f = *state;
	char nonce[CF_DIGEST_NONCE_SIZE], line[1024];

	start(f, NULL, 0);
	/* REGISTER: To says carol, credentials say alice */
	challenge(f, "alice", "confab.test", nonce);
	cred_line(line, sizeof(line), false, CF_DIGEST_MD5, "alice",
	          "confab.test", "secret", "REGISTER", "sip:confab.test", nonce,
	          1);
	feed_cid(f, "REGISTER", "sip:confab.test", "alice", "carol",
	         "confab.test", "cid-i@test", line);
	assert_non_null(strstr(last(f, 403), "403 Identity mismatch\r\n"));
	/* From says carol */
	cred_line(line, sizeof(line), false, CF_DIGEST_MD5, "alice",
	          "confab.test", "secret", "REGISTER", "sip:confab.test", nonce,
	          2);
	feed_cid(f, "REGISTER", "sip:confab.test", "carol", "alice",
	         "confab.test", "cid-i@test", line);
	last(f, 403);
	/* INVITE: To is the callee, only From counts */
	feed(f, "INVITE", "sip:carol@confab.test", "alice", "confab.test",
	     NULL);
	nonce_of(f, nonce);
	cred_line(line, sizeof(line), true, CF_DIGEST_MD5, "alice",
	          "confab.test", "secret", "INVITE", "sip:carol@confab.test",
	          nonce, 1);
	feed_cid(f, "INVITE", "sip:carol@confab.test", "alice", "carol",
	         "confab.test", "cid-j@test", line);
	last(f, 200);
	assert_int_equal(counter(f, "identity_mismatch"), 2);
}

static void test_identity_off(void **state)
{
	struct fixture *f = *state;
	static const char *const sets[] = {"auth.check_identity=no"};
	char nonce[CF_DIGEST_NONCE_SIZE], line[1024];

	start(f, sets, 1);
	challenge(f, "alice", "confab.test", nonce);
	cred_line(line, sizeof(line), false, CF_DIGEST_MD5, "alice",
	          "confab.test", "secret", "REGISTER", "sip:confab.test", nonce,
	          1);
	feed_cid(f, "REGISTER", "sip:confab.test", "carol", "carol",
	         "confab.test", "cid-i@test", line);
	last(f, 200);
	assert_string_equal(f->id.user, "alice");
}

static void test_uri_mismatch(void **state)
{
	struct fixture *f = *state;
	char nonce[CF_DIGEST_NONCE_SIZE], line[1024];

	start(f, NULL, 0);
	challenge(f, "alice", "confab.test", nonce);
	/* SIPp signs sip:HOST:PORT: accepted, logged, counted */
	cred_line(line, sizeof(line), false, CF_DIGEST_MD5, "alice",
	          "confab.test", "secret", "REGISTER", "sip:127.0.0.1:25060",
	          nonce, 1);
	feed(f, "REGISTER", "sip:confab.test", "alice", "confab.test", line);
	last(f, 200);
	assert_int_equal(counter(f, "uri_mismatch"), 1);
	/* but the response must be over the uri sent */
	cred_line(line, sizeof(line), false, CF_DIGEST_MD5, "alice",
	          "confab.test", "secret", "REGISTER", "sip:127.0.0.1:25060",
	          nonce, 2);
	{
		char *u = strstr(line, "uri=\"sip:127.0.0.1:25060\"");

		assert_non_null(u);
		memcpy(u + 5, "sip:127.0.0.1:25061", 19);
	}
	feed(f, "REGISTER", "sip:confab.test", "alice", "confab.test", line);
	last(f, 401);
	/* the same uri: no mismatch counted */
	nonce_of(f, nonce);
	reg_with(f, "alice", "confab.test", "secret", nonce, 1, CF_DIGEST_MD5,
	         "cid-1@test");
	last(f, 200);
	assert_int_equal(counter(f, "uri_mismatch"), 1);
}

static void test_bad_credentials(void **state)
{
	struct fixture *f = *state;

	start(f, NULL, 0);
	/* no response parameter: not credentials */
	feed(f, "REGISTER", "sip:confab.test", "alice", "confab.test",
	     "Authorization: Digest username=\"alice\", "
	     "realm=\"confab.test\"\r\n");
	assert_non_null(strstr(last(f, 400), "400 Bad credentials"));
	/* credentials for another realm only: a challenge for ours */
	feed(f, "REGISTER", "sip:confab.test", "alice", "confab.test",
	     "Authorization: Digest username=\"alice\", realm=\"other\", "
	     "nonce=\"x\", uri=\"sip:other\", response=\"00\"\r\n");
	last(f, 401);
	/* Basic: 400 */
	feed(f, "REGISTER", "sip:confab.test", "alice", "confab.test",
	     "Authorization: Basic YWxpY2U6c2VjcmV0\r\n");
	last(f, 400);
}

static void test_lockout(void **state)
{
	struct fixture *f = *state;
	static const char *const sets[] = {"security.fail_max=3",
	                                   "security.lockout_time=100",
	                                   "security.user_fail_max=0"};
	char nonce[CF_DIGEST_NONCE_SIZE];
	const char *r;

	start(f, sets, 3);
	challenge(f, "alice", "confab.test", nonce);
	for (unsigned i = 1; i <= 2; i++) {
		reg_with(f, "alice", "confab.test", "bad", nonce, i,
		         CF_DIGEST_MD5, "cid-1@test");
		last(f, 401);
	}
	/* the third failure locks the source out */
	reg_with(f, "alice", "confab.test", "bad", nonce, 3, CF_DIGEST_MD5,
	         "cid-1@test");
	r = last(f, 403);
	assert_non_null(strstr(r, "403 Too many failed authentications"));
	/* even the right password, even another user, even no credentials */
	reg_with(f, "alice", "confab.test", "secret", nonce, 4, CF_DIGEST_MD5,
	         "cid-1@test");
	last(f, 403);
	feed(f, "REGISTER", "sip:confab.test", "carol", "confab.test", NULL);
	last(f, 403);
	assert_int_equal(counter(f, "lockouts"), 1);
	assert_int_equal(counter(f, "locked_refused"), 2);
	/* another source is not affected */
	assert_int_equal(cf_sa_set_str(&f->peer.addr, "127.0.0.2", 5060), 0);
	feed(f, "REGISTER", "sip:confab.test", "carol", "confab.test", NULL);
	last(f, 401);
	assert_int_equal(cf_sa_set_str(&f->peer.addr, "127.0.0.1", 5060), 0);
	/* the lockout ends on time */
	f->now += 99000;
	feed(f, "REGISTER", "sip:confab.test", "alice", "confab.test", NULL);
	last(f, 403);
	f->now += 1000;
	challenge(f, "alice", "confab.test", nonce);
	reg_with(f, "alice", "confab.test", "secret", nonce, 1, CF_DIGEST_MD5,
	         "cid-1@test");
	last(f, 200);
}

static void test_lockout_503_window(void **state)
{
	struct fixture *f = *state;
	static const char *const sets[] = {
	    "security.fail_max=2", "security.fail_window=10",
	    "security.lockout_time=50", "security.lockout_response=503"};
	char nonce[CF_DIGEST_NONCE_SIZE];

	start(f, sets, 4);
	challenge(f, "alice", "confab.test", nonce);
	reg_with(f, "alice", "confab.test", "bad", nonce, 1, CF_DIGEST_MD5,
	         "cid-1@test");
	last(f, 401);
	/* outside the window: counting starts again */
	f->now += 11000;
	nonce_of(f, nonce);
	reg_with(f, "alice", "confab.test", "bad", nonce, 1, CF_DIGEST_MD5,
	         "cid-1@test");
	last(f, 401);
	reg_with(f, "alice", "confab.test", "bad", nonce, 2, CF_DIGEST_MD5,
	         "cid-1@test");
	assert_non_null(strstr(last(f, 503), "\r\nRetry-After: 50\r\n"));
	f->now += 20000;
	feed(f, "REGISTER", "sip:confab.test", "alice", "confab.test", NULL);
	assert_non_null(strstr(last(f, 503), "\r\nRetry-After: 30\r\n"));
}

static void test_user_lockout(void **state)
{
	struct fixture *f = *state;
	static const char *const sets[] = {"security.fail_max=0",
	                                   "security.user_fail_max=3"};
	char nonce[CF_DIGEST_NONCE_SIZE], addr[32];

	start(f, sets, 2);
	/* three sources, one user each time */
	for (int i = 0; i < 3; i++) {
		snprintf(addr, sizeof(addr), "127.0.1.%d", i + 1);
		assert_int_equal(cf_sa_set_str(&f->peer.addr, addr, 5060), 0);
		challenge(f, "alice", "confab.test", nonce);
		reg_with(f, "alice", "confab.test", "bad", nonce, 1,
		         CF_DIGEST_MD5, "cid-1@test");
	}
	last(f, 403);
	assert_int_equal(counter(f, "user_lockouts"), 1);
	/* alice is locked from anywhere; carol is not */
	assert_int_equal(cf_sa_set_str(&f->peer.addr, "127.0.2.1", 5060), 0);
	challenge(f, "alice", "confab.test", nonce);
	reg_with(f, "alice", "confab.test", "secret", nonce, 1, CF_DIGEST_MD5,
	         "cid-1@test");
	last(f, 403);
	challenge(f, "carol", "confab.test", nonce);
	reg_with(f, "carol", "confab.test", "pw2", nonce, 1, CF_DIGEST_MD5,
	         "cid-1@test");
	last(f, 200);
	/* security show lists the locked user */
	{
		const struct cf_mod_cmd *cmd = NULL;
		struct cf_mod_ctl_req req = {"security", "show", json_array(),
		                             json_object()};
		json_t *resp = json_object(), *u;

		assert_int_equal(cf_mod_cmd_find(&cmd, "security", "show"), 0);
		assert_int_equal(cmd->h(f->app, &req, resp), 0);
		u = json_array_get(json_object_get(resp, "locked_users"), 0);
		assert_non_null(u);
		assert_string_equal(
		    json_string_value(json_object_get(u, "user")),
		    "alice@confab.test");
		json_decref(resp);
		json_decref(req.args);
		json_decref(req.opts);
	}
}

/* Run a control command; returns its error, resp kept in *out. */
static int ctl(struct fixture *f, const char *noun, const char *verb,
               const char *arg, const char *time, json_t **out)
{
	const struct cf_mod_cmd *cmd = NULL;
	struct cf_mod_ctl_req req = {noun, verb, json_array(), json_object()};
	json_t *resp = json_object();
	int err;

	if (arg)
		json_array_append_new(req.args, json_string(arg));
	if (time)
		json_object_set_new(req.opts, "time", json_string(time));
	assert_int_equal(cf_mod_cmd_find(&cmd, noun, verb), 0);
	err = cmd->h(f->app, &req, resp);
	json_decref(req.args);
	json_decref(req.opts);
	if (out)
		*out = resp;
	else
		json_decref(resp);
	return err;
}

static void test_rate_ban(void **state)
{
	struct fixture *f = *state;
	static const char *const sets[] = {
	    "security.rate=2", "security.burst=3", "security.ban_time=20"};
	json_t *resp;

	start(f, sets, 3);
	for (int i = 0; i < 3; i++) {
		feed(f, "OPTIONS", "sip:confab.test", "alice", "confab.test",
		     NULL);
		last(f, 200);
	}
	/* the burst is used up: banned */
	feed(f, "OPTIONS", "sip:confab.test", "alice", "confab.test", NULL);
	assert_non_null(strstr(last(f, 503), "\r\nRetry-After: 20\r\n"));
	f->now += 5000; /* the bucket would refill; the ban holds */
	feed(f, "OPTIONS", "sip:confab.test", "alice", "confab.test", NULL);
	assert_non_null(strstr(last(f, 503), "\r\nRetry-After: 15\r\n"));
	assert_int_equal(counter(f, "rate_limited"), 1);
	assert_int_equal(counter(f, "banned_refused"), 1);
	assert_int_equal(ctl(f, "ban", "list", NULL, NULL, &resp), 0);
	assert_string_equal(
	    json_string_value(json_object_get(
	        json_array_get(json_object_get(resp, "bans"), 0), "address")),
	    "127.0.0.1");
	assert_string_equal(
	    json_string_value(json_object_get(
	        json_array_get(json_object_get(resp, "bans"), 0), "reason")),
	    "rate");
	json_decref(resp);
	/* another source is fine */
	assert_int_equal(cf_sa_set_str(&f->peer.addr, "127.0.0.9", 5060), 0);
	feed(f, "OPTIONS", "sip:confab.test", "alice", "confab.test", NULL);
	last(f, 200);
	assert_int_equal(cf_sa_set_str(&f->peer.addr, "127.0.0.1", 5060), 0);
	/* the ban ends by itself */
	f->now += 15000;
	feed(f, "OPTIONS", "sip:confab.test", "alice", "confab.test", NULL);
	last(f, 200);
	assert_int_equal(ctl(f, "ban", "list", NULL, NULL, &resp), 0);
	assert_int_equal(json_array_size(json_object_get(resp, "bans")), 0);
	json_decref(resp);
	/* a steady 2/s is never banned */
	for (int i = 0; i < 20; i++) {
		f->now += 500;
		feed(f, "OPTIONS", "sip:confab.test", "alice", "confab.test",
		     NULL);
		last(f, 200);
	}
}

static void test_burst_default(void **state)
{
	struct fixture *f = *state;
	static const char *const sets[] = {"security.rate=5"};
	json_t *resp;

	start(f, sets, 1);
	/* burst 0 (default): one second's worth of the rate */
	for (int i = 0; i < 5; i++) {
		feed(f, "OPTIONS", "sip:confab.test", "alice", "confab.test",
		     NULL);
		last(f, 200);
	}
	feed(f, "OPTIONS", "sip:confab.test", "alice", "confab.test", NULL);
	assert_non_null(strstr(last(f, 503), "\r\nRetry-After: 60\r\n"));
	assert_int_equal(ctl(f, "security", "show", NULL, NULL, &resp), 0);
	assert_int_equal(json_integer_value(json_object_get(
	                     json_object_get(resp, "state"), "burst")),
	                 5);
	json_decref(resp);
}

static void test_ban_ctl(void **state)
{
	struct fixture *f = *state;
	json_t *resp;

	start(f, NULL, 0);
	assert_int_equal(ctl(f, "ban", "add", "127.0.0.1", "30", NULL), 0);
	feed(f, "OPTIONS", "sip:confab.test", "alice", "confab.test", NULL);
	assert_non_null(strstr(last(f, 503), "\r\nRetry-After: 30\r\n"));
	assert_int_equal(ctl(f, "ban", "list", NULL, NULL, &resp), 0);
	assert_string_equal(
	    json_string_value(json_object_get(
	        json_array_get(json_object_get(resp, "bans"), 0), "reason")),
	    "manual");
	json_decref(resp);
	assert_int_equal(ctl(f, "ban", "remove", "127.0.0.1", NULL, NULL), 0);
	feed(f, "OPTIONS", "sip:confab.test", "alice", "confab.test", NULL);
	last(f, 200);
	assert_int_equal(ctl(f, "ban", "remove", "127.0.0.1", NULL, &resp),
	                 ENOENT);
	assert_non_null(json_object_get(resp, "error"));
	json_decref(resp);
	assert_int_equal(ctl(f, "ban", "add", "nonsense", NULL, NULL), EINVAL);
	assert_int_equal(ctl(f, "ban", "add", "::1", "x", NULL), EINVAL);
	/* a ban until removed, IPv6 */
	assert_int_equal(ctl(f, "ban", "add", "::1", "0", NULL), 0);
	assert_int_equal(cf_sa_set_str(&f->peer.addr, "::1", 5060), 0);
	f->now += 86400000;
	feed(f, "OPTIONS", "sip:confab.test", "alice", "confab.test", NULL);
	last(f, 503);
	/* a lockout is lifted by ban remove too */
	assert_int_equal(ctl(f, "ban", "remove", "::1", NULL, NULL), 0);
	feed(f, "OPTIONS", "sip:confab.test", "alice", "confab.test", NULL);
	last(f, 200);
}

static void test_allow_deny(void **state)
{
	struct fixture *f = *state;
	static const char *const sets[] = {"security.rate=1",
	                                   "security.burst=1",
	                                   "security.fail_max=1",
	                                   "security.allow=127.0.0.0/8",
	                                   "security.deny=10.0.0.0/8, ::1",
	                                   "security.deny=127.0.0.5"};
	char nonce[CF_DIGEST_NONCE_SIZE];
	json_t *resp;

	start(f, sets, 6);
	/* allowed: never limited, never locked out */
	for (int i = 0; i < 10; i++) {
		feed(f, "OPTIONS", "sip:confab.test", "alice", "confab.test",
		     NULL);
		last(f, 200);
	}
	challenge(f, "alice", "confab.test", nonce);
	reg_with(f, "alice", "confab.test", "bad", nonce, 1, CF_DIGEST_MD5,
	         "cid-1@test");
	last(f, 401);
	assert_int_equal(counter(f, "allowed"), 12);
	/* the allow list wins over the deny list */
	assert_int_equal(cf_sa_set_str(&f->peer.addr, "127.0.0.5", 5060), 0);
	feed(f, "OPTIONS", "sip:confab.test", "alice", "confab.test", NULL);
	last(f, 200);
	/* denied */
	assert_int_equal(cf_sa_set_str(&f->peer.addr, "10.200.0.1", 5060), 0);
	feed(f, "OPTIONS", "sip:confab.test", "alice", "confab.test", NULL);
	last(f, 403);
	assert_int_equal(cf_sa_set_str(&f->peer.addr, "::1", 5060), 0);
	feed(f, "OPTIONS", "sip:confab.test", "alice", "confab.test", NULL);
	last(f, 403);
	assert_int_equal(counter(f, "denied"), 2);
	/* neither: limited */
	assert_int_equal(cf_sa_set_str(&f->peer.addr, "11.0.0.1", 5060), 0);
	feed(f, "OPTIONS", "sip:confab.test", "alice", "confab.test", NULL);
	last(f, 200);
	feed(f, "OPTIONS", "sip:confab.test", "alice", "confab.test", NULL);
	last(f, 503);
	assert_int_equal(ctl(f, "security", "show", NULL, NULL, &resp), 0);
	{
		json_t *st = json_object_get(resp, "state");
		json_t *deny = json_object_get(st, "deny");

		assert_string_equal(json_string_value(json_array_get(
		                        json_object_get(st, "allow"), 0)),
		                    "127.0.0.0/8");
		assert_int_equal(json_array_size(deny), 3);
		assert_string_equal(json_string_value(json_array_get(deny, 1)),
		                    "::1/128");
	}
	json_decref(resp);
}

static void test_cidr_bits(void **state)
{
	struct fixture *f = *state;
	static const char *const sets[] = {
	    "security.deny=10.0.0.0/12, 2001:db8:8000::/33, 192.0.2.77/31"};
	static const struct {
		const char *addr;
		unsigned code;
	} v[] = {
	    {"10.15.255.255", 403},    {"10.16.0.1", 200},
	    {"10.0.0.0", 403},         {"2001:db8:ffff::1", 403},
	    {"2001:db8:7fff::1", 200}, {"192.0.2.76", 403},
	    {"192.0.2.77", 403},       {"192.0.2.78", 200},
	};

	start(f, sets, 1);
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		assert_int_equal(cf_sa_set_str(&f->peer.addr, v[i].addr, 5060),
		                 0);
		feed(f, "OPTIONS", "sip:confab.test", "alice", "confab.test",
		     NULL);
		last(f, v[i].code);
	}
}

static void test_drop(void **state)
{
	struct fixture *f = *state;
	static const char *const sets[] = {"security.ban_action=drop",
	                                   "security.deny=127.0.0.1"};

	start(f, sets, 2);
	feed(f, "OPTIONS", "sip:confab.test", "alice", "confab.test", NULL);
	assert_int_equal(f->nsent, 0);
	feed(f, "INVITE", "sip:carol@confab.test", "alice", "confab.test",
	     NULL);
	/* only the transaction layer's 100 Trying */
	assert_int_equal(f->nsent, 1);
	last(f, 100);
	/* no transaction is left waiting for an answer (teardown checks) */
}

/* check() of a module that was never started (or is stopping): 503,
 * never a pass; the gate lets requests by. */
static void on_req_raw(struct cf_sip_strans *st, const struct cf_sip_msg *msg,
                       const struct cf_sip_peer *peer, void *arg)
{
	struct fixture *f = arg;
	const struct cf_auth_api *api = cf_mod_find("auth")->api;
	struct cf_auth_id id;

	f->verdict =
	    api->check(f->app, st, msg, peer, "confab.test", false, &id);
}

static void test_not_started(void **state)
{
	struct fixture *f = *state;

	f->h.request = on_req_raw;
	feed(f, "REGISTER", "sip:confab.test", "alice", "confab.test", NULL);
	assert_non_null(strstr(last(f, 503), "\r\nRetry-After: 5\r\n"));
	assert_int_equal(f->verdict, CF_AUTH_ANSWERED);
	assert_false(cf_mod_auth.request(NULL, NULL, NULL, NULL));
	assert_false(((const struct cf_auth_api *)cf_mod_find("auth")->api)
	                 ->domain_exists(NULL, &CF_PL("confab.test")));
}

static void test_bad_config(void **state)
{
	struct fixture *f = *state;
	static const char *const bad[][1] = {
	    {"auth.methods=REGISTER, FROB"}, {"auth.algorithms=MD5, MD5"},
	    {"auth.algorithms=SHA-1"},       {"auth.unknown_user=maybe"},
	    {"security.ban_action=shrug"},   {"security.lockout_response=404"},
	    {"security.allow=300.0.0.1"},    {"security.deny=10.0.0.0/33"},
	    {"auth.secret=short"},
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *all[] = {"general.domain=confab.test", bad[i][0]};
		struct cf_app_conf *c = NULL;
		struct cf_app *app = NULL;

		assert_int_equal(cf_app_conf_load(&c, NULL, all, 2, NULL), 0);
		assert_int_equal(cf_app_alloc(&app, c), 0);
		if (cf_mod_init_all(app) != EINVAL)
			fail_msg("accepted: %s", bad[i][0]);
		cf_mod_stop_all(app);
		cf_mem_deref(app);
		cf_mem_deref(c);
	}
	(void)f;
}

static void test_cache(void **state)
{
	struct fixture *f = *state;
	static const char *const sets[] = {"auth.secret=0123456789abcdef!"};
	char nonce[CF_DIGEST_NONCE_SIZE];

	start(f, sets, 1);
	assert_true(f->api->domain_exists(f->app, &CF_PL("Sha.Test")));
	assert_false(f->api->domain_exists(f->app, &CF_PL("new.test")));

	/* a new user, a new password, a removed user */
	assert_int_equal(
	    cf_store_subscriber_add(f->store, "dave", "confab.test", "d1"), 0);
	assert_false(
	    f->api->user_exists(f->app, &CF_PL("dave"), &CF_PL("confab.test")));
	f->api->user_changed(f->app, "dave", "confab.test");
	assert_true(
	    f->api->user_exists(f->app, &CF_PL("dave"), &CF_PL("confab.test")));
	challenge(f, "dave", "confab.test", nonce);
	reg_with(f, "dave", "confab.test", "d1", nonce, 1, CF_DIGEST_SHA256,
	         "cid-1@test");
	last(f, 200);
	assert_int_equal(
	    cf_store_subscriber_passwd(f->store, "dave", "confab.test", "d2"),
	    0);
	f->api->user_changed(f->app, "dave", "confab.test");
	reg_with(f, "dave", "confab.test", "d2", nonce, 2, CF_DIGEST_SHA256,
	         "cid-1@test");
	last(f, 200);
	assert_int_equal(
	    cf_store_subscriber_remove(f->store, "dave", "confab.test"), 0);
	f->api->user_changed(f->app, "dave", "confab.test");
	assert_false(
	    f->api->user_exists(f->app, &CF_PL("dave"), &CF_PL("confab.test")));

	/* a new domain with its own order; a removed one takes its users */
	assert_int_equal(
	    cf_store_domain_add(
	        f->store,
	        &(struct cf_store_domain){"new.test", NULL, "SHA-512-256"}),
	    0);
	f->api->domain_changed(f->app, "new.test");
	assert_true(f->api->domain_exists(f->app, &CF_PL("new.test")));
	feed(f, "REGISTER", "sip:new.test", "x", "new.test", NULL);
	assert_non_null(strstr(last(f, 401), "algorithm=SHA-512-256"));
	assert_null(strstr(f->sent[f->nsent - 1], "MD5"));
	assert_int_equal(cf_store_domain_remove(f->store, "sha.test"), 0);
	f->api->domain_changed(f->app, "sha.test");
	assert_false(f->api->domain_exists(f->app, &CF_PL("sha.test")));
	assert_false(
	    f->api->user_exists(f->app, &CF_PL("bob"), &CF_PL("sha.test")));
	assert_true(f->api->user_exists(f->app, &CF_PL("alice"),
	                                &CF_PL("confab.test")));

	/* a bulk change (confabctl user import): reload reads them all */
	assert_int_equal(
	    cf_store_subscriber_add(f->store, "erin", "confab.test", "e1"), 0);
	assert_int_equal(
	    cf_store_subscriber_add(f->store, "frank", "confab.test", "f1"), 0);
	assert_non_null(f->api->reload);
	assert_int_equal(f->api->reload(f->app), 0);
	assert_true(
	    f->api->user_exists(f->app, &CF_PL("erin"), &CF_PL("confab.test")));
	assert_true(f->api->user_exists(f->app, &CF_PL("frank"),
	                                &CF_PL("confab.test")));
}

/* Out of memory anywhere on the check path: no crash, no leak, every
 * transaction answered or ended (teardown checks), and the same exchange
 * works once memory is back. */
static void test_oom(void **state)
{
	struct fixture *f = *state;
	char nonce[CF_DIGEST_NONCE_SIZE], line[1024];

	start(f, NULL, 0);
	challenge(f, "alice", "confab.test", nonce);
	for (long n = 1; n <= 30; n++) {
		f->fail_after = n;
		feed(f, "REGISTER", "sip:confab.test", "carol", "confab.test",
		     NULL);
		cred_line(line, sizeof(line), false, CF_DIGEST_MD5, "alice",
		          "confab.test", "secret", "REGISTER",
		          "sip:confab.test", nonce, (unsigned)n);
		feed(f, "REGISTER", "sip:confab.test", "alice", "confab.test",
		     line);
		f->fail_after = 0;
		sent_clear(f);
	}
	challenge(f, "alice", "confab.test", nonce);
	reg_with(f, "alice", "confab.test", "secret", nonce, 1, CF_DIGEST_MD5,
	         "cid-1@test");
	last(f, 200);
}

static void test_sweep(void **state)
{
	struct fixture *f = *state;
	json_t *resp;
	char addr[32];

	start(f, NULL, 0);
	for (int i = 0; i < 50; i++) {
		snprintf(addr, sizeof(addr), "127.0.3.%d", i + 1);
		assert_int_equal(cf_sa_set_str(&f->peer.addr, addr, 5060), 0);
		feed(f, "OPTIONS", "sip:confab.test", "a", "confab.test", NULL);
	}
	assert_int_equal(ctl(f, "security", "show", NULL, NULL, &resp), 0);
	assert_int_equal(
	    json_integer_value(json_object_get(json_object_get(resp, "state"),
	                                       "sources_tracked")),
	    50);
	json_decref(resp);
	/* idle for a minute and more: gone */
	f->now += 61000;
	cf_mod_auth_sweep();
	assert_int_equal(ctl(f, "security", "show", NULL, NULL, &resp), 0);
	assert_int_equal(
	    json_integer_value(json_object_get(json_object_get(resp, "state"),
	                                       "sources_tracked")),
	    0);
	json_decref(resp);
}

/* Workers read the cache and run the gate while the main thread
 * provisions, bans and sweeps (run under TSan to see the locking). */
struct stress {
	struct fixture *f;
	int id;
	size_t found;
};

static void *stress_worker(void *arg)
{
	struct stress *w = arg;
	char addr[32];
	struct cf_sa sa;
	uint32_t retry;

	for (int i = 0; i < 20000; i++) {
		snprintf(addr, sizeof(addr), "127.1.%d.%d", w->id, i % 200);
		(void)cf_sa_set_str(&sa, addr, 5060);
		(void)auth_guard_request(&sa, &retry);
		if (i % 7 == 0)
			(void)auth_guard_fail(&sa, &CF_PL("alice"),
			                      &CF_PL("confab.test"), &retry);
		if (w->f->api->user_exists(w->f->app, &CF_PL("alice"),
		                           &CF_PL("confab.test")))
			w->found++;
		(void)w->f->api->domain_exists(w->f->app,
		                               &CF_PL("confab.test"));
	}
	return NULL;
}

static void test_threads(void **state)
{
	struct fixture *f = *state;
	static const char *const sets[] = {"security.rate=100"};
	struct stress w[3];
	pthread_t th[3];
	struct cf_sa sa;

	start(f, sets, 1);
	for (int i = 0; i < 3; i++) {
		w[i] = (struct stress){f, i, 0};
		assert_int_equal(
		    pthread_create(&th[i], NULL, stress_worker, &w[i]), 0);
	}
	assert_int_equal(cf_sa_set_str(&sa, "127.1.0.5", 0), 0);
	for (int i = 0; i < 300; i++) {
		f->api->user_changed(f->app, "carol", "confab.test");
		f->api->domain_changed(f->app, "sha.test");
		(void)auth_guard_ban_add(&sa, 10);
		(void)auth_guard_ban_remove(&sa);
		if (i % 50 == 0)
			auth_guard_sweep();
	}
	for (int i = 0; i < 3; i++) {
		assert_int_equal(pthread_join(th[i], NULL), 0);
		assert_int_equal(w[i].found, 20000); /* alice never vanished */
	}
}

/* Workers at the public entry points while the main thread stops the
 * module (the stack stops after the modules): no call touches freed
 * tables (ASan/TSan), and after the stop the gate lets by. */
struct stopper {
	struct fixture *f;
	atomic_bool go;
	size_t calls;
};

static void *stop_worker(void *arg)
{
	struct stopper *w = arg;
	struct cf_sip_peer peer = w->f->peer;
	char addr[32];

	atomic_store(&w->go, true);
	for (int i = 0; i < 50000; i++) {
		snprintf(addr, sizeof(addr), "127.2.%d.%d", i % 50, i % 199);
		(void)cf_sa_set_str(&peer.addr, addr, 5060);
		/* rate 0: always a pass, st and msg are not touched */
		assert_false(cf_mod_auth.request(w->f->app, NULL, NULL, &peer));
		(void)w->f->api->user_exists(w->f->app, &CF_PL("alice"),
		                             &CF_PL("confab.test"));
		w->calls++;
	}
	return NULL;
}

static void test_stop_under_load(void **state)
{
	struct fixture *f = *state;
	static const char *const sets[] = {"security.rate=0"};
	struct stopper w = {.f = f};
	pthread_t th;
	struct timespec ts = {0, 200000L};

	start(f, sets, 1);
	assert_int_equal(pthread_create(&th, NULL, stop_worker, &w), 0);
	while (!atomic_load(&w.go))
		nanosleep(&ts, NULL);
	nanosleep(&ts, NULL);
	cf_mod_stop_all(f->app);
	f->started = false;
	assert_int_equal(pthread_join(th, NULL), 0);
	assert_int_equal(w.calls, 50000);
	assert_false(f->api->user_exists(f->app, &CF_PL("alice"),
	                                 &CF_PL("confab.test")));
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
	const struct CMUnitTest tests[] = {
	    T(test_challenge),
	    T(test_challenge_order),
	    T(test_md5_only_agents),
	    T(test_md5_only_none),
	    T(test_success_each_alg),
	    T(test_wrong_password),
	    T(test_replay),
	    T(test_stale),
	    T(test_nonce_slots),
	    T(test_unknown_user),
	    T(test_unknown_user_404),
	    T(test_identity),
	    T(test_identity_off),
	    T(test_uri_mismatch),
	    T(test_bad_credentials),
	    T(test_lockout),
	    T(test_lockout_503_window),
	    T(test_user_lockout),
	    T(test_rate_ban),
	    T(test_burst_default),
	    T(test_ban_ctl),
	    T(test_allow_deny),
	    T(test_cidr_bits),
	    T(test_drop),
	    T(test_not_started),
	    T(test_bad_config),
	    T(test_cache),
	    T(test_oom),
	    T(test_sweep),
	    T(test_threads),
	    T(test_stop_under_load),
	};

	cf_log_set_level(CF_LOG_ERR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
