/* SPDX-License-Identifier: BSD-3-Clause */
/* test_registrar.c - the registrar module (RFC 3261 §10.3, Path, outbound,
 * GRUU, write-behind and restore) through a real transaction environment
 * with a fake clock, a recording send and a temporary SQLite store. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

#include <cmocka.h>

#include "mod/basic/basic.h"
#include "mod/mod.h"
#include "mod/registrar/registrar.h"
#include "proto/sip/digest.h"
#include "sip/stack_priv.h"
#include "store/store.h"
#include "testapp.h"

enum { SENT_MAX = 64, T0 = 1800000000 };

struct fixture {
	struct cf_tmr_wheel *wheel;
	struct cf_sip_txn_env *env;
	struct cf_app_conf *conf;
	struct cf_app *app;
	struct cf_store *store;
	struct cf_sip_txn_handlers h;
	struct cf_sip_peer peer;
	char *sent[SENT_MAX];
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

	(void)peer;
	if (f->nsent == SENT_MAX) {
		free(f->sent[0]);
		memmove(f->sent, f->sent + 1, (SENT_MAX - 1) * sizeof(char *));
		f->nsent--;
	}
	f->sent[f->nsent++] = strndup(bytes->p, bytes->l);
	return 0;
}

static void sent_clear(struct fixture *f)
{
	for (size_t i = 0; i < f->nsent; i++)
		free(f->sent[i]);
	f->nsent = 0;
}

/* The app and the modules over f->db and f->sets. */
static void app_up(struct fixture *f)
{
	const char *sets[16];
	char uri[96];
	struct cf_sa sa;
	size_t n = 0;

	sets[n++] = "general.domain=example.com,confab.test";
	sets[n++] = "registrar.authenticate=no";
	for (size_t i = 0; i < f->nsets && n < 16; i++)
		sets[n++] = f->sets[i];
	assert_int_equal(cf_app_conf_load(&f->conf, NULL, sets, n, NULL), 0);
	assert_int_equal(cf_app_alloc(&f->app, f->conf), 0);
	assert_int_equal(cf_sa_set_str(&sa, "127.0.0.1", 25060), 0);
	assert_int_equal(cf_app_addr_add(f->app, &sa), 0);
	snprintf(uri, sizeof(uri), "sqlite:%s", f->db);
	assert_int_equal(
	    cf_store_open(&f->store, uri, &(struct cf_store_cfg){100, false}),
	    0);
	cf_app_set_store(f->app, f->store);
	assert_int_equal(cf_mod_init_all(f->app), 0);
	cf_mod_handlers(&f->h, f->app);
}

static void app_down(struct fixture *f)
{
	cf_mod_stop_all(f->app);
	f->app = cf_mem_deref(f->app);
	f->conf = cf_mem_deref(f->conf);
	f->store = cf_mem_deref(f->store);
}

struct sets {
	const char *const *v;
	size_t n;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	const struct sets *s = *state;
	int fd;

	assert_non_null(f);
	f->blocks = cf_mem_blocks();
	if (s) {
		f->sets = s->v;
		f->nsets = s->n;
	}
	snprintf(f->db, sizeof(f->db), "/tmp/cf_test_reg_XXXXXX");
	fd = mkstemp(f->db);
	assert_true(fd >= 0);
	close(fd);
	unlink(f->db); /* the store creates it */
	cf_registrar_test_clock(T0);
	cf_testapp_txn_alloc(&f->wheel, &f->env, NULL, rec_send, f);
	app_up(f);
	f->peer.tp = CF_SIP_TP_UDP;
	assert_int_equal(cf_sa_set_str(&f->peer.addr, "127.0.0.1", 25160), 0);
	assert_int_equal(cf_sa_set_str(&f->peer.local, "127.0.0.1", 25060), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char p[96];

	cf_testapp_txn_drain(f->wheel, f->env, 80);
	app_down(f);
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

static void feed_raw(struct fixture *f, const char *buf, size_t n)
{
	struct cf_sip_msg *msg = NULL;
	size_t used;

	assert_int_equal(cf_sip_msg_decode(&msg, (const uint8_t *)buf, n,
	                                   CF_SIP_DATAGRAM, &used),
	                 0);
	cf_mem_fail_after(f->fail_after);
	cf_sip_txn_recv(f->env, &f->h, msg, &f->peer);
	cf_mem_fail_after(0);
	cf_mem_deref(msg);
}

/* A REGISTER: To AOR, Call-ID, CSeq, extra header lines (Contact...). */
static void reg(struct fixture *f, const char *aor, const char *callid,
                unsigned cseq, const char *extra)
{
	char buf[4096];
	int n;

	n = snprintf(buf, sizeof(buf),
	             "REGISTER sip:example.com SIP/2.0\r\n"
	             "Via: SIP/2.0/UDP 127.0.0.1:25160;branch=z9hG4bKr%u\r\n"
	             "Max-Forwards: 70\r\n"
	             "From: <%s>;tag=ft1\r\n"
	             "To: <%s>\r\n"
	             "Call-ID: %s\r\n"
	             "CSeq: %u REGISTER\r\n"
	             "%s"
	             "Content-Length: 0\r\n\r\n",
	             ++f->branch, aor, aor, callid, cseq, extra ? extra : "");
	assert_true(n > 0 && (size_t)n < sizeof(buf));
	feed_raw(f, buf, (size_t)n);
}

static const char *last(struct fixture *f, unsigned code)
{
	char want[16];

	assert_true(f->nsent > 0);
	snprintf(want, sizeof(want), "SIP/2.0 %u ", code);
	if (strncmp(f->sent[f->nsent - 1], want, strlen(want)))
		fail_msg("want %u, got: %.300s", code, f->sent[f->nsent - 1]);
	return f->sent[f->nsent - 1];
}

static size_t count(const char *s, const char *sub)
{
	size_t n = 0;

	for (const char *p = strstr(s, sub); p; p = strstr(p + 1, sub))
		n++;
	return n;
}

/* Lookups collected. */
struct seen {
	char uri[8][256];
	char path[256];
	char instance[128];
	int q[8];
	struct cf_sip_peer peer;
	size_t n;
};

static bool seen_h(const struct cf_reg_contact *c, void *arg)
{
	struct seen *s = arg;

	if (s->n < 8) {
		snprintf(s->uri[s->n], sizeof(s->uri[0]), "%.*s", (int)c->uri.l,
		         c->uri.p);
		s->q[s->n] = c->q;
	}
	snprintf(s->path, sizeof(s->path), "%.*s", (int)c->path.l,
	         c->path.p ? c->path.p : "");
	snprintf(s->instance, sizeof(s->instance), "%.*s", (int)c->instance.l,
	         c->instance.p ? c->instance.p : "");
	s->peer = c->peer;
	s->n++;
	return false;
}

static int lookup(const char *aor, struct seen *s)
{
	struct cf_pl pl;

	memset(s, 0, sizeof(*s));
	cf_pl_set_str(&pl, aor);
	return cf_registrar_lookup(&pl, seen_h, s);
}

#define ALICE "sip:alice@example.com"
#define C1    "Contact: <sip:alice@192.0.2.1:5060>\r\n"
#define C2    "Contact: <sip:alice@192.0.2.2:5060>\r\n"

/* ------------------------------------------------------------- tests */

static void test_add_refresh_remove(void **state)
{
	struct fixture *f = *state;
	struct cf_registrar_stats st;
	struct seen s;
	const char *r;

	assert_int_equal(lookup(ALICE, &s), ENOENT);
	reg(f, ALICE, "c1@test", 1, C1);
	r = last(f, 200);
	assert_non_null(
	    strstr(r, "\r\nContact: <sip:alice@192.0.2.1:5060>;expires=3600"));
	assert_non_null(strstr(r, "\r\nDate: "));
	assert_non_null(strstr(r, " GMT\r\n"));
	assert_int_equal(lookup(ALICE, &s), 0);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.uri[0], "sip:alice@192.0.2.1:5060");
	/* the AOR is normalised: case of the host, escapes, parameters */
	assert_int_equal(lookup("sip:%61lice@EXAMPLE.com;user=phone", &s), 0);
	assert_int_equal(lookup("sips:alice@example.com:5061", &s), 0);

	/* refresh with a new expiry from the Expires header */
	cf_registrar_test_clock(T0 + 100);
	reg(f, ALICE, "c1@test", 2, C1 "Expires: 1800\r\n");
	r = last(f, 200);
	assert_non_null(strstr(r, ";expires=1800"));
	assert_int_equal(count(r, "\r\nContact: "), 1);
	cf_registrar_stats(&st);
	assert_int_equal(st.registrations, 1);
	assert_int_equal(st.refreshes, 1);
	assert_int_equal(st.contacts, 1);
	assert_int_equal(st.aors, 1);

	/* a second contact, then the first removed by its parameter */
	reg(f, ALICE, "c1@test", 3, C2);
	r = last(f, 200);
	assert_int_equal(count(r, "\r\nContact: "), 2);
	reg(f, ALICE, "c1@test", 4,
	    "Contact: <sip:alice@192.0.2.1:5060>;expires=0\r\n");
	r = last(f, 200);
	assert_int_equal(count(r, "\r\nContact: "), 1);
	assert_non_null(strstr(r, "192.0.2.2"));
	assert_null(strstr(r, "192.0.2.1"));
	/* and the other by the Expires header; the URI compares by §19.1.4 */
	reg(f, ALICE, "c1@test", 5,
	    "Contact: <sip:alice@192.0.2.2>;foo\r\nExpires: 0\r\n");
	last(f, 200);
	assert_int_equal(lookup(ALICE, &s), 0); /* :5060 vs none differ */
	reg(f, ALICE, "c1@test", 6,
	    "Contact: <SIP:alice@192.0.2.2:5060>\r\nExpires: 0\r\n");
	r = last(f, 200);
	assert_int_equal(count(r, "\r\nContact: "), 0);
	assert_int_equal(lookup(ALICE, &s), ENOENT);
	cf_registrar_stats(&st);
	assert_int_equal(st.removals, 2);
	assert_int_equal(st.contacts, 0);
	assert_int_equal(st.aors, 0);
}

static void test_query_and_q(void **state)
{
	struct fixture *f = *state;
	struct seen s;
	const char *r;

	/* a query of an AOR with nothing: 200 with no Contact */
	reg(f, ALICE, "q@test", 1, NULL);
	r = last(f, 200);
	assert_int_equal(count(r, "\r\nContact: "), 0);

	reg(f, ALICE, "q@test", 2,
	    "Contact: <sip:a@192.0.2.1>;q=0.1, <sip:a@192.0.2.2>;q=0.9\r\n"
	    "Contact: <sip:a@192.0.2.3>\r\n");
	r = last(f, 200);
	assert_int_equal(count(r, "\r\nContact: "), 3);
	assert_non_null(strstr(r, ";q=0.100"));
	assert_non_null(strstr(r, ";q=0.900"));

	reg(f, ALICE, "q@test", 3, NULL); /* query */
	r = last(f, 200);
	assert_int_equal(count(r, "\r\nContact: "), 3);

	/* by q, highest first; no q counts as 1.0 */
	assert_int_equal(lookup(ALICE, &s), 0);
	assert_int_equal(s.n, 3);
	assert_string_equal(s.uri[0], "sip:a@192.0.2.3");
	assert_int_equal(s.q[0], -1);
	assert_string_equal(s.uri[1], "sip:a@192.0.2.2");
	assert_int_equal(s.q[1], 900);
	assert_string_equal(s.uri[2], "sip:a@192.0.2.1");

	/* a bad q changes nothing */
	reg(f, ALICE, "q@test", 4, "Contact: <sip:a@192.0.2.4>;q=1.5\r\n");
	last(f, 400);
	reg(f, ALICE, "q@test", 5, "Contact: <sip:a@192.0.2.4>;q=abc\r\n");
	last(f, 400);
	assert_int_equal(lookup(ALICE, &s), 0);
	assert_int_equal(s.n, 3);
}

static void test_wildcard(void **state)
{
	struct fixture *f = *state;
	struct seen s;
	const char *r;

	reg(f, ALICE, "w@test", 1, C1 C2);
	last(f, 200);
	/* "*" needs Expires: 0 and nothing else */
	reg(f, ALICE, "w@test", 2, "Contact: *\r\n");
	last(f, 400);
	reg(f, ALICE, "w@test", 3, "Contact: *\r\nExpires: 60\r\n");
	last(f, 400);
	reg(f, ALICE, "w@test", 4, "Contact: *\r\n" C1 "Expires: 0\r\n");
	last(f, 400);
	reg(f, ALICE, "w@test", 5,
	    "Contact: *, <sip:x@192.0.2.9>\r\n"
	    "Expires: 0\r\n");
	last(f, 400);
	assert_int_equal(lookup(ALICE, &s), 0);
	assert_int_equal(s.n, 2);
	/* the order rule holds for "*" too */
	reg(f, ALICE, "w@test", 1, "Contact: *\r\nExpires: 0\r\n");
	last(f, 500);
	reg(f, ALICE, "w@test", 6, "Contact: *\r\nExpires: 0\r\n");
	r = last(f, 200);
	assert_int_equal(count(r, "\r\nContact: "), 0);
	assert_int_equal(lookup(ALICE, &s), ENOENT);
	/* nothing bound: still 200 */
	reg(f, ALICE, "w2@test", 1, "Contact: *\r\nExpires: 0\r\n");
	last(f, 200);
}

static void test_expires_rules(void **state)
{
	struct fixture *f = *state;
	const char *r;
	struct seen s;

	/* 423 with Min-Expires, whether from the header or the param */
	reg(f, ALICE, "e@test", 1, C1 "Expires: 10\r\n");
	r = last(f, 423);
	assert_non_null(strstr(r, "\r\nMin-Expires: 60\r\n"));
	reg(f, ALICE, "e@test", 2, "Contact: <sip:a@192.0.2.1>;expires=59\r\n");
	r = last(f, 423);
	assert_non_null(strstr(r, "\r\nMin-Expires: 60\r\n"));
	assert_int_equal(lookup(ALICE, &s), ENOENT);
	/* the parameter wins over the header */
	reg(f, ALICE, "e@test", 3,
	    "Contact: <sip:a@192.0.2.1>;expires=120\r\nExpires: 10\r\n");
	r = last(f, 200);
	assert_non_null(strstr(r, ";expires=120"));
	/* clamped to max_expires */
	reg(f, ALICE, "e@test", 4,
	    "Contact: <sip:a@192.0.2.2>;expires=999999\r\n");
	r = last(f, 200);
	assert_non_null(strstr(r, "<sip:a@192.0.2.2>;expires=86400"));
	reg(f, ALICE, "e@test", 5,
	    "Contact: <sip:a@192.0.2.3>;expires=99999999999999999999\r\n");
	r = last(f, 200);
	assert_non_null(strstr(r, "<sip:a@192.0.2.3>;expires=86400"));
	reg(f, ALICE, "e@test", 6, C1 "Expires: soon\r\n");
	last(f, 400);

	/* SIGHUP: new limits for the next REGISTER */
	{
		static const char *const sets[] = {
		    "general.domain=example.com,confab.test",
		    "registrar.authenticate=no", "registrar.min_expires=300",
		    "registrar.max_expires=600", "general.log_level=error"};
		struct cf_app_conf *c2 = NULL;

		assert_int_equal(cf_app_conf_load(&c2, NULL, sets, 5, NULL), 0);
		cf_app_reload(f->app, c2);
		cf_mem_deref(c2);
	}
	reg(f, ALICE, "e@test", 7, C1 "Expires: 120\r\n");
	r = last(f, 423);
	assert_non_null(strstr(r, "\r\nMin-Expires: 300\r\n"));
	reg(f, ALICE, "e@test", 8, C1 "Expires: 3600\r\n");
	r = last(f, 200);
	assert_non_null(strstr(r, "<sip:alice@192.0.2.1:5060>;expires=600"));
}

static void test_callid_cseq(void **state)
{
	struct fixture *f = *state;
	struct seen s;
	const char *r;

	reg(f, ALICE, "o@test", 10, C1);
	last(f, 200);
	/* §10.3 step 7: same Call-ID, lower CSeq: refused */
	reg(f, ALICE, "o@test", 9, C1 "Expires: 0\r\n");
	last(f, 500);
	/* the same CSeq soon after: that request again (a retransmission
	 * answered statelessly), no change */
	reg(f, ALICE, "o@test", 10, C1 "Expires: 0\r\n");
	r = last(f, 200);
	assert_int_equal(count(r, "\r\nContact: "), 1);
	assert_int_equal(lookup(ALICE, &s), 0);
	/* ... and later: refused */
	cf_registrar_test_clock(T0 + 33);
	reg(f, ALICE, "o@test", 10, C1 "Expires: 0\r\n");
	last(f, 500);
	/* another Call-ID (a restarted UA) may have any CSeq */
	reg(f, ALICE, "other@test", 1, C1 "Expires: 120\r\n");
	r = last(f, 200);
	assert_non_null(strstr(r, ";expires=120"));
	/* the old Call-ID with a higher CSeq than it had: the binding now
	 * carries other@test's, so this is a new Call-ID: accepted */
	reg(f, ALICE, "o@test", 11, C1 "Expires: 0\r\n");
	r = last(f, 200);
	assert_int_equal(count(r, "\r\nContact: "), 0);
}

/* The very same REGISTER bytes again (same branch): the transaction is
 * gone at once, so the registrar answers it again, the same way. */
static void test_retransmission(void **state)
{
	struct fixture *f = *state;
	struct cf_registrar_stats st;
	char buf[1024];
	int n;

	n = snprintf(buf, sizeof(buf),
	             "REGISTER sip:example.com SIP/2.0\r\n"
	             "Via: SIP/2.0/UDP 127.0.0.1:25160;branch=z9hG4bKretr\r\n"
	             "Max-Forwards: 70\r\n"
	             "From: <" ALICE ">;tag=ft1\r\n"
	             "To: <" ALICE ">\r\n"
	             "Call-ID: retr@test\r\n"
	             "CSeq: 5 REGISTER\r\n" C1 "Content-Length: 0\r\n\r\n");
	feed_raw(f, buf, (size_t)n);
	last(f, 200);
	assert_int_equal(cf_sip_txn_env_count(f->env), 0); /* stateless */
	feed_raw(f, buf, (size_t)n);
	last(f, 200);
	cf_registrar_stats(&st);
	assert_int_equal(st.registrations, 1);
	assert_int_equal(st.refreshes, 0);
	assert_int_equal(st.contacts, 1);
}

static void test_to_and_domain(void **state)
{
	struct fixture *f = *state;
	char buf[1024];
	FILE *fp;
	char path[512];
	const char *dir = getenv("CF_VECTORS_DIR");
	size_t n;

	/* To of another domain */
	reg(f, "sip:alice@example.org", "d@test", 1, C1);
	last(f, 403);
	/* a To without a user is no AOR */
	reg(f, "sip:example.com", "d@test", 2, C1);
	last(f, 400);
	/* one of our addresses stands for the default domain */
	reg(f, "sip:bob@127.0.0.1", "d@test", 3, C1);
	last(f, 200);
	{
		struct seen s;

		assert_int_equal(lookup("sip:bob@example.com", &s), 0);
	}
	/* RFC 4475 unksm2: To with an unknown scheme */
	snprintf(path, sizeof(path), "%s/rfc4475/unksm2.dat",
	         dir ? dir : "tests/vectors");
	fp = fopen(path, "rb");
	assert_non_null(fp);
	n = fread(buf, 1, sizeof(buf), fp);
	fclose(fp);
	feed_raw(f, buf, n);
	last(f, 400);
}

static const char *const max2_sets[] = {"registrar.max_contacts=2"};
static const struct sets max2 = {max2_sets, 1};

static void test_max_reject(void **state)
{
	struct fixture *f = *state;
	struct seen s;

	reg(f, ALICE, "m@test", 1, C1 C2);
	last(f, 200);
	reg(f, ALICE, "m@test", 2, "Contact: <sip:a@192.0.2.3>\r\n");
	last(f, 403);
	assert_int_equal(lookup(ALICE, &s), 0);
	assert_int_equal(s.n, 2);
	/* a refresh is no new binding; replacing one by another is fine */
	reg(f, ALICE, "m@test", 3, C1);
	last(f, 200);
	reg(f, ALICE, "m@test", 4,
	    "Contact: <sip:alice@192.0.2.1:5060>;expires=0\r\n"
	    "Contact: <sip:a@192.0.2.3>\r\n");
	last(f, 200);
	assert_int_equal(lookup(ALICE, &s), 0);
	assert_int_equal(s.n, 2);
	/* three in one request: too many */
	reg(f, "sip:carol@example.com", "m2@test", 1,
	    "Contact: <sip:c@192.0.2.1>, <sip:c@192.0.2.2>, "
	    "<sip:c@192.0.2.3>\r\n");
	last(f, 403);
}

static const char *const repl_sets[] = {
    "registrar.max_contacts=2", "registrar.max_contacts_policy=replace_oldest"};
static const struct sets repl = {repl_sets, 2};

static void test_max_replace(void **state)
{
	struct fixture *f = *state;
	struct cf_registrar_stats st;
	struct seen s;

	reg(f, ALICE, "m@test", 1, "Contact: <sip:a@192.0.2.1>\r\n");
	last(f, 200);
	reg(f, ALICE, "m@test", 2, "Contact: <sip:a@192.0.2.2>\r\n");
	last(f, 200);
	reg(f, ALICE, "m@test", 3, "Contact: <sip:a@192.0.2.1>\r\n");
	last(f, 200); /* .1 is now the most recent */
	reg(f, ALICE, "m@test", 4, "Contact: <sip:a@192.0.2.3>\r\n");
	last(f, 200);
	assert_int_equal(lookup(ALICE, &s), 0);
	assert_int_equal(s.n, 2);
	/* .2 was the oldest: gone */
	for (size_t i = 0; i < s.n; i++)
		assert_string_not_equal(s.uri[i], "sip:a@192.0.2.2");
	cf_registrar_stats(&st);
	assert_int_equal(st.replaced, 1);
}

static void test_path(void **state)
{
	struct fixture *f = *state;
	struct seen s;
	const char *r;

	reg(f, ALICE, "p@test", 1,
	    C1 "Path: <sip:edge1.example.net;lr>\r\n"
	       "Path: <sip:edge2.example.net;lr>\r\n"
	       "Supported: path\r\n");
	r = last(f, 200);
	assert_non_null(strstr(r, "\r\nPath: <sip:edge1.example.net;lr>,"
	                          "<sip:edge2.example.net;lr>\r\n"));
	assert_int_equal(lookup(ALICE, &s), 0);
	assert_string_equal(
	    s.path, "<sip:edge1.example.net;lr>,<sip:edge2.example.net;lr>");
	/* stored, but not echoed to a UA that does not support path */
	reg(f, "sip:bob@example.com", "p2@test", 1,
	    C2 "Path: <sip:edge1.example.net;lr>\r\n");
	r = last(f, 200);
	assert_null(strstr(r, "\r\nPath:"));
	assert_int_equal(lookup("sip:bob@example.com", &s), 0);
	assert_string_equal(s.path, "<sip:edge1.example.net;lr>");
}

#define INST "<urn:uuid:00000000-0000-1000-8000-000A95A0E128>"

static void test_outbound(void **state)
{
	struct fixture *f = *state;
	struct cf_registrar_stats st;
	struct cf_pl aor = CF_PL(ALICE), inst = CF_PL(INST);
	struct seen s;
	const char *r;
	void *conn;

	/* the flow's stream: a connection object not in any stack */
	conn = cf_mem_zalloc(sizeof(struct cf_sip_conn), NULL);
	assert_non_null(conn);
	f->peer.tp = CF_SIP_TP_TCP;
	f->peer.conn = conn;
	reg(f, ALICE, "ob1@test", 1,
	    "Contact: <sip:alice@192.0.2.1:40000;transport=tcp;ob>"
	    ";reg-id=1;+sip.instance=\"" INST "\"\r\n"
	    "Supported: outbound, path\r\n");
	r = last(f, 200);
	assert_non_null(strstr(r, "\r\nRequire: outbound\r\n"));
	assert_non_null(strstr(r, ";reg-id=1"));
	assert_non_null(strstr(r, ";+sip.instance=\"" INST "\""));
	memset(&s, 0, sizeof(s));
	assert_int_equal(cf_registrar_flow(&aor, &inst, 1, seen_h, &s), 0);
	assert_int_equal(s.peer.tp, CF_SIP_TP_TCP);
	assert_ptr_equal(s.peer.conn, conn);
	assert_int_equal(cf_sa_port(&s.peer.addr), 25160);
	assert_int_equal(cf_registrar_flow(&aor, &inst, 2, seen_h, &s), ENOENT);

	/* the same instance and reg-id from a new Call-ID and address:
	 * replaces the flow (one binding) */
	reg(f, ALICE, "ob2@test", 1,
	    "Contact: <sip:alice@192.0.2.7:40001;transport=tcp;ob>"
	    ";reg-id=1;+sip.instance=\"" INST "\"\r\n"
	    "Supported: outbound\r\n");
	r = last(f, 200);
	assert_int_equal(count(r, "\r\nContact: "), 1);
	assert_non_null(strstr(r, "192.0.2.7"));
	/* a second flow of the same instance (reg-id 2) */
	reg(f, ALICE, "ob3@test", 1,
	    "Contact: <sip:alice@192.0.2.7:40002;transport=tcp;ob>"
	    ";reg-id=2;+sip.instance=\"" INST "\"\r\n"
	    "Supported: outbound\r\n");
	r = last(f, 200);
	assert_int_equal(count(r, "\r\nContact: "), 2);
	assert_int_equal(lookup(ALICE, &s), 0);
	assert_int_equal(s.n, 2);

	/* the stream closes: its flows go */
	cf_registrar_conn_closed(conn);
	assert_int_equal(lookup(ALICE, &s), ENOENT);
	cf_registrar_stats(&st);
	assert_int_equal(st.flows_failed, 2);

	/* no Supported: outbound: reg-id is ignored, no Require */
	reg(f, ALICE, "ob4@test", 1,
	    "Contact: <sip:alice@192.0.2.8>;reg-id=1;+sip.instance=\"" INST
	    "\"\r\n");
	r = last(f, 200);
	assert_null(strstr(r, "Require: outbound"));
	cf_registrar_conn_closed(conn); /* not a flow: stays */
	assert_int_equal(lookup(ALICE, &s), 0);

	/* a REGISTER handled after its stream closed: bound, no flow kept */
	atomic_store(&((struct cf_sip_conn *)conn)->closed, true);
	reg(f, ALICE, "ob5@test", 1,
	    "Contact: <sip:alice@192.0.2.9;ob>;reg-id=3;+sip.instance=\"" INST
	    "\"\r\nSupported: outbound\r\n");
	last(f, 200);
	memset(&s, 0, sizeof(s));
	assert_int_equal(cf_registrar_flow(&aor, &inst, 3, seen_h, &s), 0);
	assert_null(s.peer.conn);
	f->peer.conn = NULL;
	cf_mem_deref(conn);
}

/* A WebSocket client (RFC 7118): its Contact host is *.invalid, so the
 * binding keeps its connection even without outbound, and losing the
 * connection removes the binding. */
static void test_ws_flow(void **state)
{
	struct fixture *f = *state;
	struct seen s;
	void *conn;

	conn = cf_mem_zalloc(sizeof(struct cf_sip_conn), NULL);
	assert_non_null(conn);
	f->peer.tp = CF_SIP_TP_WS;
	f->peer.conn = conn;
	reg(f, ALICE, "ws1@test", 1,
	    "Contact: <sip:k3d7f8@df7jal23ls0d.invalid;transport=ws>\r\n");
	last(f, 200);
	memset(&s, 0, sizeof(s));
	assert_int_equal(lookup(ALICE, &s), 0);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.peer.tp, CF_SIP_TP_WS);
	assert_ptr_equal(s.peer.conn, conn);
	cf_registrar_conn_closed(conn);
	assert_int_equal(lookup(ALICE, &s), ENOENT);
	f->peer.tp = CF_SIP_TP_TCP;
	f->peer.conn = NULL;
	cf_mem_deref(conn);
}

/* Behind an edge proxy (RFC 5626 §6): two Vias make a flow only when the
 * first Path URI carries ;ob. */
static void test_outbound_edge(void **state)
{
	struct fixture *f = *state;
	const char *r;

	reg(f, ALICE, "edge1@test", 1,
	    "Via: SIP/2.0/UDP 192.0.2.50;branch=z9hG4bKua1\r\n"
	    "Path: <sip:edge.example.net;lr;ob>\r\n"
	    "Contact: <sip:alice@192.0.2.51;ob>;reg-id=1;+sip.instance=\"" INST
	    "\"\r\nSupported: outbound, path\r\n");
	r = last(f, 200);
	assert_non_null(strstr(r, "\r\nRequire: outbound\r\n"));
	assert_non_null(
	    strstr(r, "\r\nPath: <sip:edge.example.net;lr;ob>\r\n"));
	reg(f, "sip:bob@example.com", "edge2@test", 1,
	    "Via: SIP/2.0/UDP 192.0.2.50;branch=z9hG4bKua2\r\n"
	    "Path: <sip:edge.example.net;lr>\r\n"
	    "Contact: <sip:bob@192.0.2.52;ob>;reg-id=1;+sip.instance=\"" INST
	    "\"\r\nSupported: outbound, path\r\n");
	r = last(f, 200);
	assert_null(strstr(r, "Require: outbound"));
	assert_null(strstr(r, "reg-id="));
}

/* Lookups from other threads while the worker registers, refreshes,
 * removes and the clock runs: consistent answers, no crash (run it under
 * -Db_sanitize=thread to look for races). */
struct hammer {
	atomic_bool stop;
	atomic_long found;
};

static bool count_h(const struct cf_reg_contact *c, void *arg)
{
	struct hammer *hm = arg;

	assert_true(c->uri.l > 0 && c->aor.l > 0);
	atomic_fetch_add(&hm->found, 1);
	return false;
}

static void *hammer_main(void *arg)
{
	struct hammer *hm = arg;
	struct cf_pl inst = CF_PL(INST);

	for (long i = 0; i < 2000000 && !atomic_load(&hm->stop); i++) {
		char aor[64];
		struct cf_pl pl;
		json_t *arr;

		snprintf(aor, sizeof(aor), "sip:u%ld@example.com", i % 50);
		cf_pl_set_str(&pl, aor);
		(void)cf_registrar_lookup(&pl, count_h, hm);
		(void)cf_registrar_flow(&pl, &inst, 1, count_h, hm);
		if (i % 97 == 0) {
			arr = json_array();
			(void)cf_registrar_bindings_json(aor, arr);
			json_decref(arr);
		}
	}
	return NULL;
}

static void test_threads(void **state)
{
	struct fixture *f = *state;
	struct hammer hm = {0};
	pthread_t th[3];

	for (size_t i = 0; i < 3; i++)
		assert_int_equal(pthread_create(&th[i], NULL, hammer_main, &hm),
		                 0);
	for (unsigned round = 1; round <= 6; round++) {
		for (unsigned u = 0; u < 50; u++) {
			char aor[64], cid[64], ct[256];

			snprintf(aor, sizeof(aor), "sip:u%u@example.com", u);
			snprintf(cid, sizeof(cid), "t%u@test", u);
			snprintf(ct, sizeof(ct),
			         "Contact: <sip:u%u@192.0.2.%u>;expires=%u;"
			         "reg-id=1;+sip.instance=\"" INST "\"\r\n"
			         "Supported: outbound\r\n",
			         u, round, round % 3 ? 60 : 0);
			reg(f, aor, cid, round, ct);
		}
		cf_registrar_test_clock(T0 + round * 20);
		(void)cf_registrar_sweep();
	}
	atomic_store(&hm.stop, true);
	for (size_t i = 0; i < 3; i++)
		pthread_join(th[i], NULL);
	/* the last round removed every binding */
	{
		struct cf_registrar_stats st;

		cf_registrar_stats(&st);
		assert_int_equal(st.contacts, 0);
		assert_int_equal(st.aors, 0);
		assert_int_equal(st.registrations + st.refreshes, 200);
	}
	sent_clear(f);
}

static bool gr_find(const char *r, const char *name, char *out, size_t size)
{
	const char *p = strstr(r, name), *e;

	if (!p)
		return false;
	p += strlen(name);
	e = strchr(p, '"');
	if (!e || (size_t)(e - p) >= size)
		return false;
	memcpy(out, p, (size_t)(e - p));
	out[e - p] = '\0';
	return true;
}

static void test_gruu(void **state)
{
	struct fixture *f = *state;
	char pub[256], tmp[512];
	struct cf_pl pl;
	struct seen s;
	const char *r;

	reg(f, ALICE, "g@test", 1,
	    "Contact: <sip:alice@192.0.2.1>;+sip.instance=\"" INST "\"\r\n"
	    "Supported: gruu\r\n");
	r = last(f, 200);
	assert_true(gr_find(r, ";pub-gruu=\"", pub, sizeof(pub)));
	assert_string_equal(
	    pub, "sip:alice@example.com;gr=urn:uuid:00000000-0000-1000-8000-"
	         "000A95A0E128");
	assert_true(gr_find(r, ";temp-gruu=\"", tmp, sizeof(tmp)));
	assert_non_null(strstr(tmp, "@example.com;gr"));
	assert_null(strstr(tmp, "alice")); /* opaque */

	cf_pl_set_str(&pl, pub);
	memset(&s, 0, sizeof(s));
	assert_int_equal(cf_registrar_lookup_gruu(&pl, seen_h, &s), 0);
	assert_string_equal(s.uri[0], "sip:alice@192.0.2.1");
	cf_pl_set_str(&pl, tmp);
	memset(&s, 0, sizeof(s));
	assert_int_equal(cf_registrar_lookup_gruu(&pl, seen_h, &s), 0);
	assert_string_equal(s.uri[0], "sip:alice@192.0.2.1");
	assert_string_equal(s.instance, INST);

	/* tampered with: not found */
	tmp[6] = tmp[6] == 'A' ? 'B' : 'A';
	cf_pl_set_str(&pl, tmp);
	assert_int_equal(cf_registrar_lookup_gruu(&pl, seen_h, &s), ENOENT);
	/* not a GRUU at all */
	cf_pl_set_str(&pl, "sip:alice@example.com");
	assert_int_equal(cf_registrar_lookup_gruu(&pl, seen_h, &s), ENOENT);

	/* no Supported: gruu: none in the 200 */
	reg(f, ALICE, "g@test", 2,
	    "Contact: <sip:alice@192.0.2.1>;+sip.instance=\"" INST "\"\r\n");
	r = last(f, 200);
	assert_null(strstr(r, "gruu="));
	/* unregistered: the GRUU leads nowhere */
	reg(f, ALICE, "g@test", 3, "Contact: *\r\nExpires: 0\r\n");
	last(f, 200);
	cf_pl_set_str(&pl, pub);
	assert_int_equal(cf_registrar_lookup_gruu(&pl, seen_h, &s), ENOENT);
}

static void test_expiry(void **state)
{
	struct fixture *f = *state;
	struct cf_registrar_stats st;
	struct seen s;
	const char *r;

	reg(f, ALICE, "x@test", 1,
	    "Contact: <sip:a@192.0.2.1>;expires=60, "
	    "<sip:a@192.0.2.2>;expires=120\r\n");
	last(f, 200);
	cf_registrar_test_clock(T0 + 59);
	assert_int_equal(lookup(ALICE, &s), 0);
	assert_int_equal(s.n, 2);
	reg(f, ALICE, "x@test", 2, NULL);
	r = last(f, 200);
	assert_non_null(strstr(r, "<sip:a@192.0.2.1>;expires=1\r\n"));
	assert_non_null(strstr(r, "<sip:a@192.0.2.2>;expires=61\r\n"));
	/* on time: gone from lookups at once, from memory at the sweep */
	cf_registrar_test_clock(T0 + 60);
	assert_int_equal(lookup(ALICE, &s), 0);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.uri[0], "sip:a@192.0.2.2");
	cf_registrar_test_clock(T0 + 200);
	assert_int_equal(lookup(ALICE, &s), ENOENT);
	(void)cf_registrar_sweep();
	cf_registrar_stats(&st);
	assert_int_equal(st.contacts, 0);
	assert_int_equal(st.aors, 0);
	assert_int_equal(st.expired, 2);
	reg(f, ALICE, "x@test", 3, NULL);
	r = last(f, 200);
	assert_int_equal(count(r, "\r\nContact: "), 0);
}

/* RFC 4475 §3.1.2.6 cparam01, cparam02 and §3.1.2.17 regescrt: the
 * registered contact is the URI, without the contact-params of a bare
 * addr-spec, with the url-params inside <>, escaped headers kept. */
static void vector(struct fixture *f, const char *name)
{
	const char *dir = getenv("CF_VECTORS_DIR");
	char path[512], buf[2048];
	FILE *fp;
	size_t n;

	snprintf(path, sizeof(path), "%s/rfc4475/%s",
	         dir ? dir : "tests/vectors", name);
	fp = fopen(path, "rb");
	assert_non_null(fp);
	n = fread(buf, 1, sizeof(buf), fp);
	fclose(fp);
	/* the vectors share a branch: let the last transaction end first,
	 * or this one is absorbed as its retransmission */
	for (int i = 0; i < 80 && cf_sip_txn_env_count(f->env); i++)
		cf_tmr_wheel_advance(f->wheel,
		                     cf_tmr_wheel_now(f->wheel) + 1000);
	feed_raw(f, buf, n);
}

static void test_rfc4475(void **state)
{
	struct fixture *f = *state;
	struct seen s;
	const char *r;

	vector(f, "cparam01.dat");
	r = last(f, 200);
	assert_non_null(
	    strstr(r, "\r\nContact: <sip:+19725552222@gw1.example.net>;"));
	assert_int_equal(lookup("sip:watson@example.com", &s), 0);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.uri[0], "sip:+19725552222@gw1.example.net");

	vector(f, "cparam02.dat");
	r = last(f, 200);
	assert_non_null(strstr(
	    r,
	    "\r\nContact: <sip:+19725552222@gw1.example.net;unknownparam>;"));
	assert_int_equal(lookup("sip:watson@example.com", &s), 0);
	/* a URI parameter the other lacks: §19.1.4 says they are the same
	 * (unknownparam is not in both) - one binding, refreshed */
	assert_int_equal(s.n, 1);

	vector(f, "regescrt.dat");
	r = last(f, 200);
	assert_non_null(strstr(r, "\r\nContact: <sip:user@example.com"
	                          "?Route=%3Csip:sip.example.com%3E>;"));
	assert_int_equal(lookup("sip:user@example.com", &s), 0);
	assert_string_equal(
	    s.uri[0], "sip:user@example.com?Route=%3Csip:sip.example.com%3E");
}

static void test_persistence(void **state)
{
	struct fixture *f = *state;
	struct cf_registrar_stats st;
	struct seen s;

	reg(f, ALICE, "db@test", 1,
	    "Contact: <sip:a@192.0.2.1>;q=0.5, <sip:a@192.0.2.2>\r\n"
	    "Path: <sip:edge.example.net;lr>\r\n"
	    "User-Agent: test/1.0\r\n");
	last(f, 200);
	reg(f, "sip:bob@example.com", "db2@test", 1,
	    "Contact: <sip:b@192.0.2.3>;expires=60;+sip.instance=\"" INST
	    "\"\r\n");
	last(f, 200);
	reg(f, "sip:carol@example.com", "db3@test", 1,
	    "Contact: <sip:c@192.0.2.4>\r\n");
	last(f, 200);
	reg(f, "sip:carol@example.com", "db3@test", 2,
	    "Contact: <sip:c@192.0.2.4>\r\nExpires: 0\r\n");
	last(f, 200);
	assert_int_equal(cf_registrar_flush(), 0);
	cf_registrar_stats(&st);
	assert_true(st.wb_written >= 5);
	assert_int_equal(st.wb_errors, 0);

	/* a new registrar over the same store file */
	app_down(f);
	app_up(f);
	assert_int_equal(lookup(ALICE, &s), 0);
	assert_int_equal(s.n, 2);
	assert_string_equal(s.uri[0], "sip:a@192.0.2.2");
	assert_string_equal(s.uri[1], "sip:a@192.0.2.1");
	assert_int_equal(s.q[1], 500);
	assert_string_equal(s.path, "<sip:edge.example.net;lr>");
	assert_int_equal(cf_sa_port(&s.peer.addr), 25160);
	assert_int_equal(lookup("sip:bob@example.com", &s), 0);
	assert_string_equal(s.instance, INST);
	assert_int_equal(lookup("sip:carol@example.com", &s), ENOENT);
	/* the Call-ID/CSeq state came back too */
	reg(f, ALICE, "db@test", 1, "Contact: <sip:a@192.0.2.1>\r\n");
	last(f, 500);

	/* expired while down: not restored, and deleted from the store */
	app_down(f);
	cf_registrar_test_clock(T0 + 61);
	app_up(f);
	assert_int_equal(lookup("sip:bob@example.com", &s), ENOENT);
	assert_int_equal(lookup(ALICE, &s), 0);
	cf_registrar_stats(&st);
	assert_int_equal(st.contacts, 2);
}

static const char *const slow_sets[] = {"registrar.write_behind_ms=800"};
static const struct sets slow = {slow_sets, 1};

/* The store locked by another process: the batch fails, stays queued,
 * and is written once the lock is gone. */
static void test_store_busy(void **state)
{
	struct fixture *f = *state;
	struct cf_registrar_stats st;
	struct cf_store *other;
	char uri[96];

	snprintf(uri, sizeof(uri), "sqlite:%s", f->db);
	assert_int_equal(cf_store_open(&other, uri, NULL), 0);
	assert_int_equal(cf_store_txn_begin(other), 0); /* the write lock */
	reg(f, ALICE, "busy@test", 1, C1);
	last(f, 200);
	assert_int_equal(cf_registrar_flush(), ETIMEDOUT);
	cf_registrar_stats(&st);
	assert_true(st.wb_errors >= 1);
	assert_int_equal(st.wb_queued, 1);
	assert_int_equal(st.wb_written, 0);
	assert_int_equal(cf_store_txn_commit(other), 0);
	assert_int_equal(cf_registrar_flush(), 0);
	cf_registrar_stats(&st);
	assert_int_equal(st.wb_queued, 0);
	assert_int_equal(st.wb_written, 1);
	cf_mem_deref(other);
}

static void test_ctl(void **state)
{
	struct fixture *f = *state;
	const struct cf_mod_cmd *cmd;
	struct cf_mod_ctl_req req;
	json_t *resp, *arr;

	reg(f, ALICE, "ctl@test", 1, C1);
	last(f, 200);
	reg(f, "sip:bob@example.com", "ctl2@test", 1, C2);
	last(f, 200);
	assert_int_equal(cf_mod_cmd_find(&cmd, "location", "show"), 0);
	req.noun = "location";
	req.verb = "show";
	req.opts = json_object();
	req.args = json_array();
	resp = json_object();
	assert_int_equal(cmd->h(f->app, &req, resp), 0);
	arr = json_object_get(resp, "bindings");
	assert_int_equal(json_array_size(arr), 2);
	json_decref(resp);
	json_array_append_new(req.args, json_string(ALICE));
	resp = json_object();
	assert_int_equal(cmd->h(f->app, &req, resp), 0);
	arr = json_object_get(resp, "bindings");
	assert_int_equal(json_array_size(arr), 1);
	assert_string_equal(json_string_value(json_object_get(
	                        json_array_get(arr, 0), "contact")),
	                    "sip:alice@192.0.2.1:5060");
	assert_int_equal(json_integer_value(json_object_get(
	                     json_array_get(arr, 0), "expires")),
	                 3600);
	assert_string_equal(json_string_value(json_object_get(
	                        json_array_get(arr, 0), "received")),
	                    "udp:127.0.0.1:25160");
	json_decref(resp);
	json_array_clear(req.args);
	json_array_append_new(req.args, json_string("not an aor"));
	resp = json_object();
	assert_int_equal(cmd->h(f->app, &req, resp), EINVAL);
	json_decref(resp);

	/* user show's helper */
	arr = json_array();
	assert_int_equal(cf_registrar_bindings_json("sip:bob@example.com", arr),
	                 0);
	assert_int_equal(json_array_size(arr), 1);
	json_decref(arr);

	assert_int_equal(cf_mod_cmd_find(&cmd, "location", "stats"), 0);
	resp = json_object();
	assert_int_equal(cmd->h(f->app, &req, resp), 0);
	assert_int_equal(
	    json_integer_value(json_object_get(
	        json_object_get(resp, "registrar"), "registrations")),
	    2);
	json_decref(resp);
	json_decref(req.args);
	json_decref(req.opts);
}

static const char *const auth_sets[] = {"registrar.authenticate=yes"};
static const struct sets authon = {auth_sets, 1};

/* With the auth module: 401 first, then 200 with the right digest. */
static void test_authenticated(void **state)
{
	struct fixture *f = *state;
	char ha1[CF_DIGEST_HEX_SIZE], ha2[CF_DIGEST_HEX_SIZE];
	char resp[CF_DIGEST_HEX_SIZE], nonce[CF_DIGEST_NONCE_SIZE];
	char line[1024];
	struct cf_pl u = CF_PL("alice"), rl = CF_PL("example.com"),
	             pw = CF_PL("secret"), m = CF_PL("REGISTER"),
	             ur = CF_PL("sip:example.com"), n, nc = CF_PL("00000001"),
	             cn = CF_PL("0a4f113b"), qop = CF_PL("auth");
	const char *r, *p, *e;
	struct seen s;

	/* provision alice@example.com, then start over the store */
	app_down(f);
	{
		char uri[96];
		struct cf_store *st;

		snprintf(uri, sizeof(uri), "sqlite:%s", f->db);
		assert_int_equal(cf_store_open(&st, uri, NULL), 0);
		assert_int_equal(
		    cf_store_domain_add(
		        st,
		        &(struct cf_store_domain){"example.com", NULL, NULL}),
		    0);
		assert_int_equal(cf_store_subscriber_add(
		                     st, "alice", "example.com", "secret"),
		                 0);
		cf_mem_deref(st);
	}
	app_up(f);

	reg(f, ALICE, "au@test", 1, C1);
	r = last(f, 401);
	assert_non_null(strstr(r, "realm=\"example.com\""));
	assert_int_equal(lookup(ALICE, &s), ENOENT);
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
	snprintf(line, sizeof(line),
	         C1 "Authorization: Digest username=\"alice\", "
	            "realm=\"example.com\", nonce=\"%s\", "
	            "uri=\"sip:example.com\", response=\"%s\", "
	            "algorithm=MD5, qop=auth, nc=00000001, "
	            "cnonce=\"0a4f113b\"\r\n",
	         nonce, resp);
	reg(f, ALICE, "au@test", 2, line);
	r = last(f, 200);
	assert_non_null(strstr(r, "<sip:alice@192.0.2.1:5060>;expires=3600"));
	assert_int_equal(lookup(ALICE, &s), 0);

	/* no credentials: nothing bound */
	reg(f, "sip:bob@example.com", "au2@test", 1, C2);
	last(f, 401);
	assert_int_equal(lookup("sip:bob@example.com", &s), ENOENT);
}

/* Every allocation of a REGISTER fails once in turn: an answer (200, or
 * 500 when the binding could not be made) or none, nothing leaks, and the
 * table stays consistent. */
static void test_oom(void **state)
{
	struct fixture *f = *state;
	struct seen s;

	for (long n = 1; n < 60; n++) {
		char cid[32];

		snprintf(cid, sizeof(cid), "oom%ld@test", n);
		f->fail_after = n;
		reg(f, ALICE, cid, 1, C1);
		f->fail_after = 0;
	}
	reg(f, ALICE, "final@test", 1, C1);
	last(f, 200);
	assert_int_equal(lookup(ALICE, &s), 0);
	assert_int_equal(s.n, 1);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
#define TS(name, s)                                                            \
	cmocka_unit_test_prestate_setup_teardown(name, setup, teardown,        \
	                                         (void *)&(s))
	const struct CMUnitTest tests[] = {
	    T(test_add_refresh_remove),
	    T(test_query_and_q),
	    T(test_wildcard),
	    T(test_expires_rules),
	    T(test_callid_cseq),
	    T(test_retransmission),
	    T(test_to_and_domain),
	    TS(test_max_reject, max2),
	    TS(test_max_replace, repl),
	    T(test_path),
	    T(test_outbound),
	    T(test_ws_flow),
	    T(test_outbound_edge),
	    T(test_threads),
	    T(test_gruu),
	    T(test_expiry),
	    T(test_rfc4475),
	    T(test_persistence),
	    TS(test_store_busy, slow),
	    T(test_ctl),
	    T(test_oom),
	    TS(test_authenticated, authon),
	};

	cf_log_set_level(CF_LOG_ERR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
