/* SPDX-License-Identifier: BSD-3-Clause */
/* test_lua.c - the Lua routing hooks (src/mod/lua) through the proxy: a
 * real transaction environment on a fake clock with the registrar, auth
 * and a temporary store (as test_proxy.c); each test loads a script by a
 * configuration reload and reads back what the proxy sent. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "mod/lua/lua.h"
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
	char script[64];
	char log[64];
	int logfd;
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
	f->nsent++;
	return 0;
}

static void sent_clear(struct fixture *f)
{
	for (size_t i = 0; i < f->nsent; i++)
		free(f->sent[i].bytes);
	f->nsent = 0;
}

static void tmpname(char *buf, size_t size, const char *stem)
{
	int fd;

	snprintf(buf, size, "/tmp/cf_test_lua_%s_XXXXXX", stem);
	fd = mkstemp(buf);
	assert_true(fd >= 0);
	close(fd);
}

/* A configuration with the script path and these extra keys, applied as
 * SIGHUP does (the lua module's reload loads the script). */
static void conf_apply(struct fixture *f, const char *script, const char *extra)
{
	const char *sets[8];
	char s[128];
	struct cf_app_conf *c;
	size_t n = 0;

	sets[n++] = "general.domain=example.com";
	sets[n++] = "registrar.authenticate=no";
	sets[n++] = "proxy.authenticate=no";
	sets[n++] = "proxy.no_answer_timeout=0";
	if (script) {
		snprintf(s, sizeof(s), "lua.script=%s", script);
		sets[n++] = s;
	}
	if (extra)
		sets[n++] = extra;
	assert_int_equal(cf_app_conf_load(&c, NULL, sets, n, NULL), 0);
	if (!f->app) {
		f->conf = c;
		return;
	}
	cf_app_reload(f->app, c);
	cf_mem_deref(f->conf);
	f->conf = c;
}

/* Write text as the script and reload; extra: one more key. */
static void load_x(struct fixture *f, const char *text, const char *extra)
{
	FILE *fp = fopen(f->script, "w");

	assert_non_null(fp);
	fputs(text, fp);
	fclose(fp);
	conf_apply(f, f->script, extra);
}

static void load(struct fixture *f, const char *text)
{
	load_x(f, text, NULL);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct cf_sip_cfg cfg;
	struct cf_store *st;
	char uri[96];
	struct cf_sa sa;

	assert_non_null(f);
	f->blocks = cf_mem_blocks();
	tmpname(f->db, sizeof(f->db), "db");
	unlink(f->db);
	tmpname(f->script, sizeof(f->script), "script");
	tmpname(f->log, sizeof(f->log), "log");
	f->logfd = open(f->log, O_WRONLY | O_TRUNC);
	assert_true(f->logfd >= 0);
	cf_log_set_fd(f->logfd);
	cf_registrar_test_clock(T0);
	cf_sip_cfg_default(&cfg);
	cf_testapp_txn_alloc(&f->wheel, &f->env, &cfg, rec_send, f);

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

	conf_apply(f, NULL, NULL);
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

	cf_testapp_txn_drain(f->wheel, f->env, 400);
	cf_mod_stop_all(f->app);
	f->app = cf_mem_deref(f->app);
	f->conf = cf_mem_deref(f->conf);
	sent_clear(f);
	cf_mem_deref(f->env);
	cf_mem_deref(f->wheel);
	cf_registrar_test_clock(0);
	cf_log_set_fd(2);
	close(f->logfd);
	assert_int_equal(cf_mem_blocks(), f->blocks);
	unlink(f->db);
	snprintf(p, sizeof(p), "%s-wal", f->db);
	unlink(p);
	snprintf(p, sizeof(p), "%s-shm", f->db);
	unlink(p);
	unlink(f->script);
	unlink(f->log);
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

static void reg(struct fixture *f, const char *user, uint16_t port)
{
	char buf[2048];
	unsigned b = ++f->branch;

	snprintf(buf, sizeof(buf),
	         "REGISTER sip:example.com SIP/2.0\r\n"
	         "Via: SIP/2.0/UDP 127.0.0.1:%u;branch=z9hG4bKreg%u\r\n"
	         "Max-Forwards: 70\r\n"
	         "From: <sip:%s@example.com>;tag=r1\r\n"
	         "To: <sip:%s@example.com>\r\n"
	         "Call-ID: reg-%s-%u@test\r\n"
	         "CSeq: 1 REGISTER\r\n"
	         "Contact: <sip:%s@127.0.0.1:%u>\r\n"
	         "Content-Length: 0\r\n\r\n",
	         port, b, user, user, user, b, user, port);
	feed_from(f, buf, port);
	assert_true(f->nsent > 0);
	assert_memory_equal(f->sent[f->nsent - 1].bytes, "SIP/2.0 200 ", 12);
	sent_clear(f);
}

/* An INVITE from alice to ruri (To bob), with extra header lines. */
static void invite(struct fixture *f, const char *ruri, const char *extra)
{
	char buf[4096];
	unsigned b = ++f->branch;

	snprintf(buf, sizeof(buf),
	         "INVITE %s SIP/2.0\r\n"
	         "Via: SIP/2.0/UDP 127.0.0.1:25160;branch=z9hG4bKc%u\r\n"
	         "Max-Forwards: 70\r\n"
	         "From: <sip:alice@example.com>;tag=a1\r\n"
	         "To: <sip:bob@example.com>\r\n"
	         "Call-ID: call%u@test\r\n"
	         "CSeq: 1 INVITE\r\n"
	         "Contact: <sip:alice@127.0.0.1:25160>\r\n"
	         "%s"
	         "Content-Length: 0\r\n\r\n",
	         ruri, b, b, extra ? extra : "");
	feed_from(f, buf, CALLER);
}

static const char *sent_to(struct fixture *f, uint16_t port, const char *prefix)
{
	for (size_t i = f->nsent; i-- > 0;) {
		if (f->sent[i].port == port &&
		    !strncmp(f->sent[i].bytes, prefix, strlen(prefix)))
			return f->sent[i].bytes;
	}
	return NULL;
}

static void answer_from(struct fixture *f, uint16_t port, uint16_t code,
                        const char *extra)
{
	const char *r = sent_to(f, port, "INVITE ");
	struct cf_sip_msg *msg = NULL;
	struct cf_mbuf *mb = NULL;
	char tag[16];
	struct cf_pl t;
	size_t used;

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

/* The last response the caller got: asserted to start with want. */
static const char *caller_got(struct fixture *f, const char *want)
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

/* The log so far contains s. */
static bool logged(struct fixture *f, const char *s)
{
	static char buf[65536];
	FILE *fp = fopen(f->log, "r");
	size_t n;

	assert_non_null(fp);
	n = fread(buf, 1, sizeof(buf) - 1, fp);
	fclose(fp);
	buf[n] = 0;
	return strstr(buf, s) != NULL;
}

static struct cf_lua_stats stats(void)
{
	struct cf_lua_stats st;

	cf_lua_stats(&st);
	return st;
}

#define BOB "sip:bob@example.com"

/* ------------------------------------------------------------- tests */

/* Every field a script reads, put into a header it adds: the forwarded
 * INVITE carries what the script saw. */
static void test_fields(void **state)
{
	struct fixture *f = *state;
	const char *inv;

	load(f,
	     "function on_request(req)\n"
	     "  local t = {req.method, req.uri, req.uri_user, req.uri_host,\n"
	     "    req.from_user, req.to_user, req.from_host, req.to_host,\n"
	     "    req.from, req.to, req.source_ip,\n"
	     "    tostring(req.source_port), req.transport,\n"
	     "    tostring(req.in_dialog), tostring(req.user),\n"
	     "    req:header('subject'), req:header('s'),\n"
	     "    table.concat(req:headers('X-A'), '+'),\n"
	     "    tostring(req:header('X-None')), req.call_id}\n"
	     "  req:add_header('X-Seen', table.concat(t, '|'))\n"
	     "end\n");
	assert_int_equal(stats().generation > 0, 1);
	reg(f, "bob", 5071);
	invite(f, BOB, "Subject: hello\r\nX-A: 1\r\nX-A: 2\r\n");
	inv = sent_to(f, 5071, "INVITE ");
	assert_non_null(inv);
	assert_non_null(strstr(inv,
	                       "X-Seen: INVITE|sip:bob@example.com|bob|"
	                       "example.com|alice|bob|example.com|example.com|"
	                       "sip:alice@example.com|sip:bob@example.com|"
	                       "127.0.0.1|25160|"
	                       "udp|false|nil|hello|hello|1+2|nil|"
	                       "call"));
	answer_from(f, 5071, 200, NULL);
	caller_got(f, "SIP/2.0 200 ");
	assert_true(stats().calls >= 1);
}

/* set_uri re-routes: to another of our users (the registrar's bindings)
 * and to a numeric host. */
static void test_set_uri(void **state)
{
	struct fixture *f = *state;

	load(f, "function on_request(req)\n"
	        "  if req.uri_user == 'bob' then\n"
	        "    req:set_uri('sip:carol@example.com')\n"
	        "  elseif req.uri_user == 'ext' then\n"
	        "    req:set_uri('sip:out@127.0.0.1:5090')\n"
	        "  end\n"
	        "end\n");
	reg(f, "bob", 5071);
	reg(f, "carol", 5073);
	invite(f, BOB, NULL);
	assert_null(sent_to(f, 5071, "INVITE "));
	assert_non_null(sent_to(f, 5073, "INVITE sip:carol@127.0.0.1:5073 "));
	answer_from(f, 5073, 486, NULL);
	caller_got(f, "SIP/2.0 486 ");
	sent_clear(f);
	invite(f, "sip:ext@example.com", NULL);
	assert_non_null(sent_to(f, 5090, "INVITE sip:out@127.0.0.1:5090 "));
	answer_from(f, 5090, 200, NULL);
	caller_got(f, "SIP/2.0 200 ");
}

/* remove_header takes every line of a name; Via and the like are not the
 * script's (an error: 500). */
static void test_headers_edit(void **state)
{
	struct fixture *f = *state;
	const char *inv;

	load(f, "function on_request(req)\n"
	        "  if req.uri_user == 'carol' then\n"
	        "    req:remove_header('Via')\n"
	        "  end\n"
	        "  local n = req:remove_header('X-Secret')\n"
	        "  req:add_header('X-Removed', tostring(n))\n"
	        "end\n");
	reg(f, "bob", 5071);
	invite(f, BOB, "X-Secret: a\r\nX-Keep: b\r\nX-Secret: c\r\n");
	inv = sent_to(f, 5071, "INVITE ");
	assert_non_null(inv);
	assert_null(strstr(inv, "X-Secret"));
	assert_non_null(strstr(inv, "X-Keep: b\r\n"));
	assert_non_null(strstr(inv, "X-Removed: 2\r\n"));
	answer_from(f, 5071, 200, NULL);
	sent_clear(f);
	invite(f, "sip:carol@example.com", NULL);
	caller_got(f, "SIP/2.0 500 Routing Script Error");
	assert_true(logged(f, "is not the script's to change"));
}

/* reply answers instead of forwarding. */
static void test_reply(void **state)
{
	struct fixture *f = *state;

	load(f, "function on_request(req)\n"
	        "  print('from', req.from_user)\n"
	        "  if req.from_user == 'alice' then\n"
	        "    req:reply(403, 'Blocked')\n"
	        "    return\n"
	        "  end\n"
	        "end\n");
	reg(f, "bob", 5071);
	invite(f, BOB, NULL);
	caller_got(f, "SIP/2.0 403 Blocked\r\n");
	/* print() in a hook: one line with the Call-ID */
	assert_true(logged(f, "@test: lua: from alice\n"));
	assert_null(sent_to(f, 5071, "INVITE "));
	/* bad codes are errors */
	load(f, "function on_request(req) req:reply(200, 'OK') end\n");
	invite(f, BOB, NULL);
	caller_got(f, "SIP/2.0 500 ");
	assert_true(logged(f, "routing.lua") || logged(f, "cf_test_lua"));
	assert_true(logged(f, ":1: reply: code 200 is not 300..699"));
}

/* fork: parallel branches to the URIs given, the 200 of one cancels the
 * other. */
static void test_fork(void **state)
{
	struct fixture *f = *state;

	load(f, "function on_request(req)\n"
	        "  req:add_header('X-Forked', 'yes')\n"
	        "  req:fork({'sip:a@127.0.0.1:5091', 'sip:b@127.0.0.1:5092'})\n"
	        "end\n");
	invite(f, BOB, NULL);
	assert_non_null(sent_to(f, 5091, "INVITE sip:a@127.0.0.1:5091 "));
	assert_non_null(sent_to(f, 5092, "INVITE sip:b@127.0.0.1:5092 "));
	assert_non_null(strstr(sent_to(f, 5092, "INVITE "), "X-Forked: yes"));
	answer_from(f, 5091, 180, NULL);
	answer_from(f, 5092, 180, NULL);
	answer_from(f, 5091, 200, NULL);
	caller_got(f, "SIP/2.0 200 ");
	assert_non_null(sent_to(f, 5092, "CANCEL "));
	/* our users stand for their bindings; one with none is skipped */
	reg(f, "carol", 5073);
	sent_clear(f);
	load(f, "function on_request(req)\n"
	        "  req:fork({'sip:carol@example.com', 'sip:bob@example.com',\n"
	        "            'sip:c@127.0.0.1:5093'})\n"
	        "end\n");
	invite(f, BOB, NULL);
	assert_non_null(sent_to(f, 5073, "INVITE sip:carol@127.0.0.1:5073 "));
	assert_non_null(sent_to(f, 5093, "INVITE sip:c@127.0.0.1:5093 "));
	assert_true(logged(f, "fork target sip:bob@example.com: no binding"));
	answer_from(f, 5073, 486, NULL);
	answer_from(f, 5093, 486, NULL);
	caller_got(f, "SIP/2.0 486 ");
	/* nothing to ring: 480; a host name: no next hop */
	load(f, "function on_request(req)\n"
	        "  req:fork({'sip:bob@example.com', 'sip:x@example.org'})\n"
	        "end\n");
	invite(f, BOB, NULL);
	caller_got(f, "SIP/2.0 480 ");
	assert_true(logged(f, "fork target sip:x@example.org: no next hop"));
	/* a bad target list is a script error */
	load(f, "function on_request(req) req:fork({'mailto:x'}) end\n");
	invite(f, BOB, NULL);
	caller_got(f, "SIP/2.0 500 ");
	assert_true(logged(f, "fork: target 1 is not a SIP URI"));
}

/* on_failure: a URI for busy, nil otherwise (the failure goes upstream);
 * the attempt count guards against loops. */
static void test_failure(void **state)
{
	struct fixture *f = *state;

	load(f, "function on_failure(req, code)\n"
	        "  if code == 486 and req.attempt == 0 then\n"
	        "    return 'sip:vm@127.0.0.1:5080'\n"
	        "  end\n"
	        "  if code == 404 then error('no route for ' .. req.uri) end\n"
	        "end\n");
	reg(f, "bob", 5071);
	invite(f, BOB, NULL);
	answer_from(f, 5071, 486, NULL);
	assert_non_null(sent_to(f, 5080, "INVITE sip:vm@127.0.0.1:5080 "));
	answer_from(f, 5080, 486, NULL);
	caller_got(f, "SIP/2.0 486 ");
	sent_clear(f);
	/* nil: the final goes upstream */
	invite(f, BOB, NULL);
	answer_from(f, 5071, 603, NULL);
	caller_got(f, "SIP/2.0 603 ");
	/* an error in on_failure: 500 */
	invite(f, BOB, NULL);
	answer_from(f, 5071, 404, NULL);
	caller_got(f, "SIP/2.0 500 ");
	assert_true(logged(f, ":5: no route for sip:bob@example.com"));
	/* a return that is not a URI: 500 */
	load(f, "function on_failure(req, code) return 42 end\n");
	invite(f, BOB, NULL);
	answer_from(f, 5071, 486, NULL);
	caller_got(f, "SIP/2.0 500 ");
	/* on_failure cannot edit */
	load(f, "function on_failure(req, code) req:set_uri('sip:x@h') end\n");
	invite(f, BOB, NULL);
	answer_from(f, 5071, 486, NULL);
	caller_got(f, "SIP/2.0 500 ");
	assert_true(logged(f, "set_uri: only in on_request"));
}

/* on_reply: headers added and removed on the responses going upstream;
 * an error leaves the response as it was. */
static void test_reply_hook(void **state)
{
	struct fixture *f = *state;
	uint64_t e0 = stats().err_runtime;
	const char *r;

	load(f, "function on_reply(reply)\n"
	        "  reply:remove_header('X-Internal')\n"
	        "  reply:add_header('X-Code', reply.code .. ' ' .. reply.reason"
	        " .. ' ' .. reply.method)\n"
	        "  if reply.code == 183 then error('boom') end\n"
	        "end\n");
	reg(f, "bob", 5071);
	invite(f, BOB, NULL);
	answer_from(f, 5071, 180, "X-Internal: 1\r\n");
	r = caller_got(f, "SIP/2.0 180 ");
	assert_null(strstr(r, "X-Internal"));
	assert_non_null(strstr(r, "X-Code: 180 Ringing INVITE\r\n"));
	answer_from(f, 5071, 183, "X-Internal: 1\r\n");
	r = caller_got(f, "SIP/2.0 183 ");
	assert_non_null(strstr(r, "X-Internal: 1"));
	assert_null(strstr(r, "X-Code"));
	assert_int_equal(stats().err_runtime - e0, 1);
	answer_from(f, 5071, 200, NULL);
	r = caller_got(f, "SIP/2.0 200 ");
	assert_non_null(strstr(r, "X-Code: 200 OK INVITE\r\n"));
}

/* A runtime error, the instruction limit and the memory limit: each
 * logged with its line, counted, answered 500; the next request works. */
static void test_errors(void **state)
{
	struct fixture *f = *state;
	struct cf_lua_stats st0 = stats(), st;

	load_x(f,
	       "function on_request(req)\n"
	       "  local u = req.uri_user\n"
	       "  if u == 'rt' then local x = nil; return x.y end\n"
	       "  if u == 'loop' then while true do end end\n"
	       "  if u == 'mem' then local t = {}\n"
	       "    for i = 1, 1e7 do t[i] = string.rep('x', 64) .. i end\n"
	       "  end\n"
	       "  if u == 'big' then local s = string.rep('x', 1e9) end\n"
	       "end\n",
	       "lua.max_memory=1024");
	reg(f, "bob", 5071);
	invite(f, "sip:rt@example.com", NULL);
	caller_got(f, "SIP/2.0 500 Routing Script Error");
	assert_true(logged(f, ":3: attempt to index a nil value"));
	invite(f, "sip:loop@example.com", NULL);
	caller_got(f, "SIP/2.0 500 ");
	assert_true(logged(f, ":4: instruction limit (1000000) reached"));
	invite(f, "sip:mem@example.com", NULL);
	caller_got(f, "SIP/2.0 500 ");
	assert_true(logged(f, "line 6: memory limit (1024 KB) reached"));
	invite(f, "sip:big@example.com", NULL);
	caller_got(f, "SIP/2.0 500 ");
	st = stats();
	assert_int_equal(st.err_runtime - st0.err_runtime, 1);
	assert_int_equal(st.err_insns - st0.err_insns, 1);
	assert_int_equal(st.err_memory - st0.err_memory, 2);
	/* the state still works */
	sent_clear(f);
	invite(f, BOB, NULL);
	assert_non_null(sent_to(f, 5071, "INVITE "));
	answer_from(f, 5071, 200, NULL);
	caller_got(f, "SIP/2.0 200 ");
}

/* The instruction limit is configurable and per call: a loop under it
 * passes every time. */
static void test_insn_limit(void **state)
{
	struct fixture *f = *state;

	load_x(f,
	       "function on_request(req)\n"
	       "  local n = 0\n"
	       "  for i = 1, 3000 do n = n + i end\n"
	       "end\n",
	       "lua.max_instructions=20000");
	reg(f, "bob", 5071);
	for (int i = 0; i < 3; i++) {
		sent_clear(f);
		invite(f, BOB, NULL);
		assert_non_null(sent_to(f, 5071, "INVITE "));
		answer_from(f, 5071, 486, NULL);
	}
	load_x(f,
	       "function on_request(req)\n"
	       "  local n = 0\n"
	       "  for i = 1, 3000 do n = n + i end\n"
	       "end\n",
	       "lua.max_instructions=5000");
	invite(f, BOB, NULL);
	caller_got(f, "SIP/2.0 500 ");
	assert_true(logged(f, ":3: instruction limit (5000) reached"));
}

/* A reload with a broken script keeps the old one; a good one replaces
 * it; a missing file too keeps it; no script: no hooks. */
static void test_reload(void **state)
{
	struct fixture *f = *state;
	struct cf_lua_stats st0, st;
	unsigned g1;

	reg(f, "bob", 5071);
	load(f, "function on_request(req) req:add_header('X-V', '1') end\n");
	g1 = stats().generation;
	assert_true(g1 > 0);
	st0 = stats();
	load(f, "function on_request(req)\n  req:add_header('X-V', '2'\nend\n");
	st = stats();
	assert_int_equal(st.err_load - st0.err_load, 1);
	assert_int_equal(st.generation, g1);
	assert_true(logged(f, ":3: ')' expected (to close '(' at line 2)"));
	assert_true(logged(f, "keeping the script loaded before"));
	invite(f, BOB, NULL);
	assert_non_null(strstr(sent_to(f, 5071, "INVITE "), "X-V: 1\r\n"));
	answer_from(f, 5071, 486, NULL);

	/* an error in the main chunk, a function that is not one */
	load(f, "error('not today')\n");
	load(f, "on_request = 42\n");
	assert_true(logged(f, "on_request is a number, not a function"));
	st = stats();
	assert_int_equal(st.err_load - st0.err_load, 3);
	assert_int_equal(st.generation, g1);

	/* the main chunk's own limits */
	load(f, "while true do end\n");
	assert_true(logged(f, ":1: instruction limit"));
	assert_int_equal(stats().generation, g1);

	sent_clear(f);
	load(f, "function on_request(req) req:add_header('X-V', '2') end\n");
	assert_true(stats().generation > g1);
	invite(f, BOB, NULL);
	assert_non_null(strstr(sent_to(f, 5071, "INVITE "), "X-V: 2\r\n"));
	answer_from(f, 5071, 486, NULL);

	/* a missing file keeps it too */
	sent_clear(f);
	conf_apply(f, "/nonexistent/routing.lua", NULL);
	assert_true(logged(f, "/nonexistent/routing.lua: No such file"));
	invite(f, BOB, NULL);
	assert_non_null(strstr(sent_to(f, 5071, "INVITE "), "X-V: 2\r\n"));
	answer_from(f, 5071, 486, NULL);

	/* no script: the proxy alone */
	sent_clear(f);
	conf_apply(f, NULL, NULL);
	assert_int_equal(stats().generation, 0);
	invite(f, BOB, NULL);
	assert_null(strstr(sent_to(f, 5071, "INVITE "), "X-V"));
	answer_from(f, 5071, 486, NULL);
}

/* The sandbox: no io, no os.execute, no require/load/dofile; os.time and
 * os.date are there; print goes to the log. */
static void test_sandbox(void **state)
{
	struct fixture *f = *state;
	unsigned g;

	load(f, "assert(io == nil and require == nil and load == nil)\n"
	        "assert(dofile == nil and loadfile == nil and debug == nil)\n"
	        "assert(package == nil and coroutine == nil)\n"
	        "assert(os.execute == nil and os.getenv == nil)\n"
	        "assert(os.remove == nil and os.exit == nil)\n"
	        "assert(type(os.time()) == 'number')\n"
	        "assert(type(os.date('%H')) == 'string')\n"
	        "print('sandbox', 'ok', 42)\n");
	g = stats().generation;
	assert_true(g > 0);
	assert_true(logged(f, "lua: sandbox ok 42"));
	/* each of those is an error */
	load(f, "io.open('/etc/passwd')\n");
	assert_int_equal(stats().generation, g);
	load(f, "os.execute('true')\n");
	assert_int_equal(stats().generation, g);
	load(f, "require('os')\n");
	assert_int_equal(stats().generation, g);
	/* bytecode is refused even through a text-only loader */
	load(f, "\x1bLua");
	assert_int_equal(stats().generation, g);
}

/* A message kept past its hook cannot be used: an error, not a crash. */
static void test_kept_message(void **state)
{
	struct fixture *f = *state;

	load(f, "local kept\n"
	        "function on_request(req)\n"
	        "  if kept then local m = kept.method end\n"
	        "  kept = req\n"
	        "end\n");
	reg(f, "bob", 5071);
	invite(f, BOB, NULL);
	assert_non_null(sent_to(f, 5071, "INVITE "));
	answer_from(f, 5071, 486, NULL);
	invite(f, BOB, NULL);
	caller_got(f, "SIP/2.0 500 ");
	assert_true(logged(f, "message used after its hook returned"));
	/* fields are read-only */
	load(f, "function on_request(req) req.uri = 'sip:x@y' end\n");
	invite(f, BOB, NULL);
	caller_got(f, "SIP/2.0 500 ");
	assert_true(logged(f, "message fields are read-only"));
}

/* Bad arguments are script errors with a reason. */
static void test_bad_args(void **state)
{
	struct fixture *f = *state;

	reg(f, "bob", 5071);
	load(f, "function on_request(req) req:set_uri('not a uri') end\n");
	invite(f, BOB, NULL);
	caller_got(f, "SIP/2.0 500 ");
	assert_true(logged(f, "set_uri: not a SIP URI: not a uri"));
	load(f, "function on_request(req) req:add_header('X', 'a\\r\\nB: c')"
	        " end\n");
	invite(f, BOB, NULL);
	caller_got(f, "SIP/2.0 500 ");
	assert_true(logged(f, "add_header: the value has a line break"));
	load(f, "function on_request(req) req:add_header('X Y', 'a') end\n");
	invite(f, BOB, NULL);
	caller_got(f, "SIP/2.0 500 ");
	assert_true(logged(f, "add_header: bad header name 'X Y'"));
	load(f, "function on_request(req) req:reply(403, 'a\\nb') end\n");
	invite(f, BOB, NULL);
	caller_got(f, "SIP/2.0 500 ");
	assert_true(logged(f, "reply: bad reason phrase"));
	load(f, "function on_request(req) req:fork({}) end\n");
	invite(f, BOB, NULL);
	caller_got(f, "SIP/2.0 500 ");
	assert_true(logged(f, "fork: 1 to 16 targets, not 0"));
	load(f, "function on_request(req) error({}) end\n");
	invite(f, BOB, NULL);
	caller_got(f, "SIP/2.0 500 ");
	assert_true(logged(f, "(error object is a table value)"));
}

/* req.user: the user the proxy authenticated (407, then the right
 * credentials). The 407 itself comes before the script. */
static void test_user(void **state)
{
	struct fixture *f = *state;
	char ha1[CF_DIGEST_HEX_SIZE], ha2[CF_DIGEST_HEX_SIZE];
	char resp[CF_DIGEST_HEX_SIZE], nonce[CF_DIGEST_NONCE_SIZE];
	char line[1024];
	struct cf_pl u = CF_PL("alice"), rl = CF_PL("example.com"),
	             pw = CF_PL("secret"), m = CF_PL("INVITE"), ur = CF_PL(BOB),
	             n, nc = CF_PL("00000001"), cn = CF_PL("0a4f113b"),
	             qop = CF_PL("auth");
	const char *r, *p, *e;
	uint64_t calls;

	load_x(f,
	       "function on_request(req)\n"
	       "  req:add_header('X-User', tostring(req.user))\n"
	       "end\n",
	       "proxy.authenticate=yes");
	reg(f, "bob", 5071);
	calls = stats().calls;
	invite(f, BOB, NULL);
	r = caller_got(f, "SIP/2.0 407 ");
	assert_int_equal(stats().calls, calls);
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
	         "Proxy-Authorization: Digest username=\"alice\", "
	         "realm=\"example.com\", nonce=\"%s\", uri=\"" BOB "\", "
	         "response=\"%s\", algorithm=MD5, qop=auth, nc=00000001, "
	         "cnonce=\"0a4f113b\"\r\n",
	         nonce, resp);
	invite(f, BOB, line);
	r = sent_to(f, 5071, "INVITE ");
	assert_non_null(r);
	assert_non_null(strstr(r, "X-User: alice@example.com\r\n"));
	assert_int_equal(stats().calls, calls + 1);
	answer_from(f, 5071, 200, NULL);
	caller_got(f, "SIP/2.0 200 ");
}

/* Out of memory at every allocation of a call whose script edits, re-
 * routes and edits the replies: no crash, no leak, no transaction left
 * (teardown checks), and the script still works afterwards. */
static void test_oom(void **state)
{
	struct fixture *f = *state;

	load(f, "function on_request(req)\n"
	        "  req:add_header('X-A', 'b')\n"
	        "  req:remove_header('Subject')\n"
	        "  req:set_uri('sip:carol@example.com')\n"
	        "end\n"
	        "function on_reply(reply) reply:add_header('X-R', 'c') end\n"
	        "function on_failure(req, code) return nil end\n");
	reg(f, "carol", 5073);
	for (long n = 1; n <= 120; n++) {
		sent_clear(f);
		f->fail_after = n;
		invite(f, BOB, "Subject: x\r\n");
		f->fail_after = 0;
		if (sent_to(f, 5073, "INVITE ")) {
			f->fail_after = n;
			answer_from(f, 5073, 486, NULL);
			f->fail_after = 0;
		}
		for (int i = 0; i < 200 && cf_sip_txn_env_pending(f->env); i++)
			cf_tmr_wheel_advance(f->wheel,
			                     cf_tmr_wheel_now(f->wheel) + 1000);
		if (cf_sip_txn_env_pending(f->env))
			fail_msg("n=%ld: a transaction is left pending", n);
	}
	sent_clear(f);
	invite(f, BOB, "Subject: x\r\n");
	assert_non_null(strstr(sent_to(f, 5073, "INVITE "), "X-A: b\r\n"));
	answer_from(f, 5073, 486, NULL);
	assert_non_null(strstr(caller_got(f, "SIP/2.0 486 "), "X-R: c\r\n"));
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
	const struct CMUnitTest tests[] = {
	    T(test_fields),     T(test_set_uri), T(test_headers_edit),
	    T(test_reply),      T(test_fork),    T(test_failure),
	    T(test_reply_hook), T(test_errors),  T(test_insn_limit),
	    T(test_reload),     T(test_sandbox), T(test_kept_message),
	    T(test_bad_args),   T(test_user),    T(test_oom),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
