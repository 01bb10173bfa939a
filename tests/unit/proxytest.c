/* SPDX-License-Identifier: BSD-3-Clause */
/* proxytest.c - the fixture of the tests that drive the proxy (see
 * proxytest.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "mod/registrar/registrar.h"
#include "proto/sip/digest.h"
#include "proxytest.h"
#include "store/store.h"
#include "testapp.h"

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

void sent_clear(struct fixture *f)
{
	for (size_t i = 0; i < f->nsent; i++)
		free(f->sent[i].bytes);
	f->nsent = 0;
}

struct cf_app_conf *proxytest_conf(const char *const *sets, size_t n)
{
	const char *v[16];
	struct cf_app_conf *c = NULL;
	size_t k = 0;

	v[k++] = "general.domain=example.com";
	v[k++] = "registrar.authenticate=no";
	v[k++] = "proxy.authenticate=no";
	v[k++] = "proxy.no_answer_timeout=0";
	for (size_t i = 0; sets && i < n && k < 16; i++)
		v[k++] = sets[i];
	assert_int_equal(cf_app_conf_load(&c, NULL, v, k, NULL), 0);
	return c;
}

struct fixture *proxytest_alloc(const struct cf_sip_cfg *cfg,
                                const char *const *sets, size_t n)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct cf_store *st;
	char uri[96];
	struct cf_sa sa;
	int fd;

	assert_non_null(f);
	f->blocks = cf_mem_blocks();
	snprintf(f->db, sizeof(f->db), "/tmp/cf_test_proxy_XXXXXX");
	fd = mkstemp(f->db);
	assert_true(fd >= 0);
	close(fd);
	unlink(f->db);
	cf_registrar_test_clock(T0);
	cf_testapp_txn_alloc(&f->wheel, &f->env, cfg, rec_send, f);

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

	f->conf = proxytest_conf(sets, n);
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
	return f;
}

void proxytest_free(struct fixture *f)
{
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
}

int proxytest_setup(void **state)
{
	const struct sets *s = *state;
	struct cf_sip_cfg cfg;

	cf_sip_cfg_default(&cfg);
	cfg.timer_c_ms = 190000;
	*state = proxytest_alloc(&cfg, s ? s->v : NULL, s ? s->n : 0);
	return 0;
}

int proxytest_teardown(void **state)
{
	proxytest_free(*state);
	return 0;
}

void feed_from(struct fixture *f, const char *buf, uint16_t port)
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
void reg(struct fixture *f, const char *user, const char *contact)
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
void req(struct fixture *f, const char *method, const char *ruri,
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

void invite(struct fixture *f, const char *ruri, const char *extra)
{
	req(f, "INVITE", ruri, "call@test", "<sip:bob@example.com>", extra);
}

/* The last message sent to port that starts with prefix, or NULL. */
const char *sent_to(struct fixture *f, uint16_t port, const char *prefix)
{
	for (size_t i = f->nsent; i-- > 0;) {
		if (f->sent[i].port == port &&
		    !strncmp(f->sent[i].bytes, prefix, strlen(prefix)))
			return f->sent[i].bytes;
	}
	return NULL;
}

size_t count_to(struct fixture *f, uint16_t port, const char *prefix)
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
void answer_from(struct fixture *f, uint16_t port, const char *method,
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

const char *caller_got_str(struct fixture *f, const char *want)
{
	for (size_t i = f->nsent; i-- > 0;) {
		if (f->sent[i].port != CALLER ||
		    strncmp(f->sent[i].bytes, "SIP/2.0 ", 8))
			continue;
		if (strncmp(f->sent[i].bytes, want, strlen(want)))
			fail_msg("want %s, got: %.300s", want,
			         f->sent[i].bytes);
		return f->sent[i].bytes;
	}
	fail_msg("caller got nothing (want %s)", want);
	return NULL;
}

const char *caller_got(struct fixture *f, uint16_t code)
{
	char want[16];

	snprintf(want, sizeof(want), "SIP/2.0 %u ", code);
	return caller_got_str(f, want);
}

void alice_auth_line(const char *r, const char *uri, char *line, size_t size)
{
	char ha1[CF_DIGEST_HEX_SIZE], ha2[CF_DIGEST_HEX_SIZE];
	char resp[CF_DIGEST_HEX_SIZE], nonce[CF_DIGEST_NONCE_SIZE];
	struct cf_pl u = CF_PL("alice"), rl = CF_PL("example.com"),
	             pw = CF_PL("secret"), m = CF_PL("INVITE"), ur, n,
	             nc = CF_PL("00000001"), cn = CF_PL("0a4f113b"),
	             qop = CF_PL("auth");
	const char *p, *e;

	cf_pl_set_str(&ur, uri);
	p = strstr(r, "nonce=\"");
	assert_non_null(p);
	p += 7;
	e = strchr(p, '"');
	assert_true(e && (size_t)(e - p) < sizeof(nonce));
	memcpy(nonce, p, (size_t)(e - p));
	nonce[e - p] = '\0';
	cf_pl_set_str(&n, nonce);
	assert_int_equal(cf_digest_ha1(CF_DIGEST_MD5, &u, &rl, &pw, ha1), 0);
	assert_int_equal(cf_digest_ha2(CF_DIGEST_MD5, &m, &ur, ha2), 0);
	assert_int_equal(cf_digest_response(CF_DIGEST_MD5, ha1, &n, &nc, &cn,
	                                    &qop, ha2, resp),
	                 0);
	snprintf(line, size,
	         "Proxy-Authorization: Digest username=\"alice\", "
	         "realm=\"example.com\", nonce=\"%s\", uri=\"%s\", "
	         "response=\"%s\", algorithm=MD5, qop=auth, nc=00000001, "
	         "cnonce=\"0a4f113b\"\r\n",
	         nonce, uri, resp);
}

void settle(struct fixture *f, long n)
{
	for (int i = 0; i < 200 && cf_sip_txn_env_pending(f->env); i++)
		cf_tmr_wheel_advance(f->wheel,
		                     cf_tmr_wheel_now(f->wheel) + 1000);
	if (cf_sip_txn_env_pending(f->env))
		fail_msg("n=%ld: a transaction is left pending", n);
}
