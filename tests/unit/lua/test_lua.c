/* SPDX-License-Identifier: BSD-3-Clause */
/* test_lua.c - the Lua routing hooks (src/mod/lua) through the proxy: a
 * real transaction environment on a fake clock with the registrar, auth
 * and a temporary store (proxytest.h); each test loads a script by a
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
#include "proxytest.h"

/* What a test here has beyond the proxy fixture: the script file and the
 * log the module writes to (one test at a time). */
static struct {
	char script[64];
	char log[64];
	int logfd;
} lx;

static void tmpname(char *buf, size_t size, const char *stem)
{
	int fd;

	snprintf(buf, size, "/tmp/cf_test_lua_%s_XXXXXX", stem);
	fd = mkstemp(buf);
	assert_true(fd >= 0);
	close(fd);
}

/* A configuration with the script path and this extra key, applied as
 * SIGHUP does (the lua module's reload loads the script). */
static void conf_apply(struct fixture *f, const char *script, const char *extra)
{
	const char *sets[2];
	char s[128];
	struct cf_app_conf *c;
	size_t n = 0;

	if (script) {
		snprintf(s, sizeof(s), "lua.script=%s", script);
		sets[n++] = s;
	}
	if (extra)
		sets[n++] = extra;
	c = proxytest_conf(sets, n);
	cf_app_reload(f->app, c);
	cf_mem_deref(f->conf);
	f->conf = c;
}

/* Write text as the script and reload; extra: one more key. */
static void load_x(struct fixture *f, const char *text, const char *extra)
{
	FILE *fp = fopen(lx.script, "w");

	assert_non_null(fp);
	fputs(text, fp);
	fclose(fp);
	conf_apply(f, lx.script, extra);
}

static void load(struct fixture *f, const char *text)
{
	load_x(f, text, NULL);
}

static int setup(void **state)
{
	tmpname(lx.script, sizeof(lx.script), "script");
	tmpname(lx.log, sizeof(lx.log), "log");
	lx.logfd = open(lx.log, O_WRONLY | O_TRUNC);
	assert_true(lx.logfd >= 0);
	cf_log_set_fd(lx.logfd);
	*state = proxytest_alloc(NULL, NULL, 0);
	return 0;
}

static int teardown(void **state)
{
	proxytest_free(*state);
	cf_log_set_fd(2);
	close(lx.logfd);
	unlink(lx.script);
	unlink(lx.log);
	return 0;
}

/* ------------------------------------------------------------ helpers */

/* A REGISTER from port binding user to sip:user@127.0.0.1:port. */
static void reg_port(struct fixture *f, const char *user, uint16_t port)
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

/* An INVITE from alice to ruri (To bob), a new Call-ID each time, with
 * extra header lines. */
static void invite_new(struct fixture *f, const char *ruri, const char *extra)
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

/* The log so far contains s. */
static bool logged(struct fixture *f, const char *s)
{
	static char buf[65536];
	FILE *fp = fopen(lx.log, "r");
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
	reg_port(f, "bob", 5071);
	invite_new(f, BOB, "Subject: hello\r\nX-A: 1\r\nX-A: 2\r\n");
	inv = sent_to(f, 5071, "INVITE ");
	assert_non_null(inv);
	assert_non_null(strstr(inv,
	                       "X-Seen: INVITE|sip:bob@example.com|bob|"
	                       "example.com|alice|bob|example.com|example.com|"
	                       "sip:alice@example.com|sip:bob@example.com|"
	                       "127.0.0.1|25160|"
	                       "udp|false|nil|hello|hello|1+2|nil|"
	                       "call"));
	answer_from(f, 5071, "INVITE", 200, NULL);
	caller_got_str(f, "SIP/2.0 200 ");
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
	reg_port(f, "bob", 5071);
	reg_port(f, "carol", 5073);
	invite_new(f, BOB, NULL);
	assert_null(sent_to(f, 5071, "INVITE "));
	assert_non_null(sent_to(f, 5073, "INVITE sip:carol@127.0.0.1:5073 "));
	answer_from(f, 5073, "INVITE", 486, NULL);
	caller_got_str(f, "SIP/2.0 486 ");
	sent_clear(f);
	invite_new(f, "sip:ext@example.com", NULL);
	assert_non_null(sent_to(f, 5090, "INVITE sip:out@127.0.0.1:5090 "));
	answer_from(f, 5090, "INVITE", 200, NULL);
	caller_got_str(f, "SIP/2.0 200 ");
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
	reg_port(f, "bob", 5071);
	invite_new(f, BOB, "X-Secret: a\r\nX-Keep: b\r\nX-Secret: c\r\n");
	inv = sent_to(f, 5071, "INVITE ");
	assert_non_null(inv);
	assert_null(strstr(inv, "X-Secret"));
	assert_non_null(strstr(inv, "X-Keep: b\r\n"));
	assert_non_null(strstr(inv, "X-Removed: 2\r\n"));
	answer_from(f, 5071, "INVITE", 200, NULL);
	sent_clear(f);
	invite_new(f, "sip:carol@example.com", NULL);
	caller_got_str(f, "SIP/2.0 500 Routing Script Error");
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
	reg_port(f, "bob", 5071);
	invite_new(f, BOB, NULL);
	caller_got_str(f, "SIP/2.0 403 Blocked\r\n");
	/* print() in a hook: one line with the Call-ID */
	assert_true(logged(f, "@test: lua: from alice\n"));
	assert_null(sent_to(f, 5071, "INVITE "));
	/* bad codes are errors */
	load(f, "function on_request(req) req:reply(200, 'OK') end\n");
	invite_new(f, BOB, NULL);
	caller_got_str(f, "SIP/2.0 500 ");
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
	invite_new(f, BOB, NULL);
	assert_non_null(sent_to(f, 5091, "INVITE sip:a@127.0.0.1:5091 "));
	assert_non_null(sent_to(f, 5092, "INVITE sip:b@127.0.0.1:5092 "));
	assert_non_null(strstr(sent_to(f, 5092, "INVITE "), "X-Forked: yes"));
	answer_from(f, 5091, "INVITE", 180, NULL);
	answer_from(f, 5092, "INVITE", 180, NULL);
	answer_from(f, 5091, "INVITE", 200, NULL);
	caller_got_str(f, "SIP/2.0 200 ");
	assert_non_null(sent_to(f, 5092, "CANCEL "));
	/* our users stand for their bindings; one with none is skipped */
	reg_port(f, "carol", 5073);
	sent_clear(f);
	load(f, "function on_request(req)\n"
	        "  req:fork({'sip:carol@example.com', 'sip:bob@example.com',\n"
	        "            'sip:c@127.0.0.1:5093'})\n"
	        "end\n");
	invite_new(f, BOB, NULL);
	assert_non_null(sent_to(f, 5073, "INVITE sip:carol@127.0.0.1:5073 "));
	assert_non_null(sent_to(f, 5093, "INVITE sip:c@127.0.0.1:5093 "));
	assert_true(logged(f, "fork target sip:bob@example.com: no binding"));
	answer_from(f, 5073, "INVITE", 486, NULL);
	answer_from(f, 5093, "INVITE", 486, NULL);
	caller_got_str(f, "SIP/2.0 486 ");
	/* nothing to ring: 480; a host name: no next hop */
	load(f, "function on_request(req)\n"
	        "  req:fork({'sip:bob@example.com', 'sip:x@example.org'})\n"
	        "end\n");
	invite_new(f, BOB, NULL);
	caller_got_str(f, "SIP/2.0 480 ");
	assert_true(logged(f, "fork target sip:x@example.org: no next hop"));
	/* a bad target list is a script error */
	load(f, "function on_request(req) req:fork({'mailto:x'}) end\n");
	invite_new(f, BOB, NULL);
	caller_got_str(f, "SIP/2.0 500 ");
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
	reg_port(f, "bob", 5071);
	invite_new(f, BOB, NULL);
	answer_from(f, 5071, "INVITE", 486, NULL);
	assert_non_null(sent_to(f, 5080, "INVITE sip:vm@127.0.0.1:5080 "));
	answer_from(f, 5080, "INVITE", 486, NULL);
	caller_got_str(f, "SIP/2.0 486 ");
	sent_clear(f);
	/* nil: the final goes upstream */
	invite_new(f, BOB, NULL);
	answer_from(f, 5071, "INVITE", 603, NULL);
	caller_got_str(f, "SIP/2.0 603 ");
	/* an error in on_failure: 500 */
	invite_new(f, BOB, NULL);
	answer_from(f, 5071, "INVITE", 404, NULL);
	caller_got_str(f, "SIP/2.0 500 ");
	assert_true(logged(f, ":5: no route for sip:bob@example.com"));
	/* a return that is not a URI: 500 */
	load(f, "function on_failure(req, code) return 42 end\n");
	invite_new(f, BOB, NULL);
	answer_from(f, 5071, "INVITE", 486, NULL);
	caller_got_str(f, "SIP/2.0 500 ");
	/* on_failure cannot edit */
	load(f, "function on_failure(req, code) req:set_uri('sip:x@h') end\n");
	invite_new(f, BOB, NULL);
	answer_from(f, 5071, "INVITE", 486, NULL);
	caller_got_str(f, "SIP/2.0 500 ");
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
	reg_port(f, "bob", 5071);
	invite_new(f, BOB, NULL);
	answer_from(f, 5071, "INVITE", 180, "X-Internal: 1\r\n");
	r = caller_got_str(f, "SIP/2.0 180 ");
	assert_null(strstr(r, "X-Internal"));
	assert_non_null(strstr(r, "X-Code: 180 Ringing INVITE\r\n"));
	answer_from(f, 5071, "INVITE", 183, "X-Internal: 1\r\n");
	r = caller_got_str(f, "SIP/2.0 183 ");
	assert_non_null(strstr(r, "X-Internal: 1"));
	assert_null(strstr(r, "X-Code"));
	assert_int_equal(stats().err_runtime - e0, 1);
	answer_from(f, 5071, "INVITE", 200, NULL);
	r = caller_got_str(f, "SIP/2.0 200 ");
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
	reg_port(f, "bob", 5071);
	invite_new(f, "sip:rt@example.com", NULL);
	caller_got_str(f, "SIP/2.0 500 Routing Script Error");
	assert_true(logged(f, ":3: attempt to index a nil value"));
	invite_new(f, "sip:loop@example.com", NULL);
	caller_got_str(f, "SIP/2.0 500 ");
	assert_true(logged(f, ":4: instruction limit (1000000) reached"));
	invite_new(f, "sip:mem@example.com", NULL);
	caller_got_str(f, "SIP/2.0 500 ");
	assert_true(logged(f, "line 6: memory limit (1024 KB) reached"));
	invite_new(f, "sip:big@example.com", NULL);
	caller_got_str(f, "SIP/2.0 500 ");
	st = stats();
	assert_int_equal(st.err_runtime - st0.err_runtime, 1);
	assert_int_equal(st.err_insns - st0.err_insns, 1);
	assert_int_equal(st.err_memory - st0.err_memory, 2);
	/* the state still works */
	sent_clear(f);
	invite_new(f, BOB, NULL);
	assert_non_null(sent_to(f, 5071, "INVITE "));
	answer_from(f, 5071, "INVITE", 200, NULL);
	caller_got_str(f, "SIP/2.0 200 ");
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
	reg_port(f, "bob", 5071);
	for (int i = 0; i < 3; i++) {
		sent_clear(f);
		invite_new(f, BOB, NULL);
		assert_non_null(sent_to(f, 5071, "INVITE "));
		answer_from(f, 5071, "INVITE", 486, NULL);
	}
	load_x(f,
	       "function on_request(req)\n"
	       "  local n = 0\n"
	       "  for i = 1, 3000 do n = n + i end\n"
	       "end\n",
	       "lua.max_instructions=5000");
	invite_new(f, BOB, NULL);
	caller_got_str(f, "SIP/2.0 500 ");
	assert_true(logged(f, ":3: instruction limit (5000) reached"));
}

/* A reload with a broken script keeps the old one; a good one replaces
 * it; a missing file too keeps it; no script: no hooks. */
static void test_reload(void **state)
{
	struct fixture *f = *state;
	struct cf_lua_stats st0, st;
	unsigned g1;

	reg_port(f, "bob", 5071);
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
	invite_new(f, BOB, NULL);
	assert_non_null(strstr(sent_to(f, 5071, "INVITE "), "X-V: 1\r\n"));
	answer_from(f, 5071, "INVITE", 486, NULL);

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
	invite_new(f, BOB, NULL);
	assert_non_null(strstr(sent_to(f, 5071, "INVITE "), "X-V: 2\r\n"));
	answer_from(f, 5071, "INVITE", 486, NULL);

	/* a missing file keeps it too */
	sent_clear(f);
	conf_apply(f, "/nonexistent/routing.lua", NULL);
	assert_true(logged(f, "/nonexistent/routing.lua: No such file"));
	invite_new(f, BOB, NULL);
	assert_non_null(strstr(sent_to(f, 5071, "INVITE "), "X-V: 2\r\n"));
	answer_from(f, 5071, "INVITE", 486, NULL);

	/* no script: the proxy alone */
	sent_clear(f);
	conf_apply(f, NULL, NULL);
	assert_int_equal(stats().generation, 0);
	invite_new(f, BOB, NULL);
	assert_null(strstr(sent_to(f, 5071, "INVITE "), "X-V"));
	answer_from(f, 5071, "INVITE", 486, NULL);
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
	reg_port(f, "bob", 5071);
	invite_new(f, BOB, NULL);
	assert_non_null(sent_to(f, 5071, "INVITE "));
	answer_from(f, 5071, "INVITE", 486, NULL);
	invite_new(f, BOB, NULL);
	caller_got_str(f, "SIP/2.0 500 ");
	assert_true(logged(f, "message used after its hook returned"));
	/* fields are read-only */
	load(f, "function on_request(req) req.uri = 'sip:x@y' end\n");
	invite_new(f, BOB, NULL);
	caller_got_str(f, "SIP/2.0 500 ");
	assert_true(logged(f, "message fields are read-only"));
}

/* Bad arguments are script errors with a reason. */
static void test_bad_args(void **state)
{
	struct fixture *f = *state;

	reg_port(f, "bob", 5071);
	load(f, "function on_request(req) req:set_uri('not a uri') end\n");
	invite_new(f, BOB, NULL);
	caller_got_str(f, "SIP/2.0 500 ");
	assert_true(logged(f, "set_uri: not a SIP URI: not a uri"));
	load(f, "function on_request(req) req:add_header('X', 'a\\r\\nB: c')"
	        " end\n");
	invite_new(f, BOB, NULL);
	caller_got_str(f, "SIP/2.0 500 ");
	assert_true(logged(f, "add_header: the value has a line break"));
	load(f, "function on_request(req) req:add_header('X Y', 'a') end\n");
	invite_new(f, BOB, NULL);
	caller_got_str(f, "SIP/2.0 500 ");
	assert_true(logged(f, "add_header: bad header name 'X Y'"));
	load(f, "function on_request(req) req:reply(403, 'a\\nb') end\n");
	invite_new(f, BOB, NULL);
	caller_got_str(f, "SIP/2.0 500 ");
	assert_true(logged(f, "reply: bad reason phrase"));
	load(f, "function on_request(req) req:fork({}) end\n");
	invite_new(f, BOB, NULL);
	caller_got_str(f, "SIP/2.0 500 ");
	assert_true(logged(f, "fork: 1 to 16 targets, not 0"));
	load(f, "function on_request(req) error({}) end\n");
	invite_new(f, BOB, NULL);
	caller_got_str(f, "SIP/2.0 500 ");
	assert_true(logged(f, "(error object is a table value)"));
}

/* req.user: the user the proxy authenticated (407, then the right
 * credentials). The 407 itself comes before the script. */
static void test_user(void **state)
{
	struct fixture *f = *state;
	char line[1024];
	const char *r;
	uint64_t calls;

	load_x(f,
	       "function on_request(req)\n"
	       "  req:add_header('X-User', tostring(req.user))\n"
	       "end\n",
	       "proxy.authenticate=yes");
	reg_port(f, "bob", 5071);
	calls = stats().calls;
	invite_new(f, BOB, NULL);
	r = caller_got_str(f, "SIP/2.0 407 ");
	assert_int_equal(stats().calls, calls);
	alice_auth_line(r, BOB, line, sizeof(line));
	invite_new(f, BOB, line);
	r = sent_to(f, 5071, "INVITE ");
	assert_non_null(r);
	assert_non_null(strstr(r, "X-User: alice@example.com\r\n"));
	assert_int_equal(stats().calls, calls + 1);
	answer_from(f, 5071, "INVITE", 200, NULL);
	caller_got_str(f, "SIP/2.0 200 ");
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
	reg_port(f, "carol", 5073);
	for (long n = 1; n <= 120; n++) {
		sent_clear(f);
		f->fail_after = n;
		invite_new(f, BOB, "Subject: x\r\n");
		f->fail_after = 0;
		if (sent_to(f, 5073, "INVITE ")) {
			f->fail_after = n;
			answer_from(f, 5073, "INVITE", 486, NULL);
			f->fail_after = 0;
		}
		settle(f, n);
	}
	sent_clear(f);
	invite_new(f, BOB, "Subject: x\r\n");
	assert_non_null(strstr(sent_to(f, 5073, "INVITE "), "X-A: b\r\n"));
	answer_from(f, 5073, "INVITE", 486, NULL);
	assert_non_null(
	    strstr(caller_got_str(f, "SIP/2.0 486 "), "X-R: c\r\n"));
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
