/* SPDX-License-Identifier: BSD-3-Clause */
/* test_daemon.c - configuration validation, listen specs, the command
 * tables and the control protocol. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "daemon/daemon.h"
#include "testutil.h"

/* Write text to a temporary file; returns its path (static buffer). */
static const char *tmpconf(const char *text)
{
	static char path[64];
	FILE *f;
	int fd;

	snprintf(path, sizeof(path), "/tmp/confab-test-XXXXXX");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	return path;
}

/* Load text (NULL: defaults) with sets; errors into errs (a string). */
static int load(struct cf_app_conf **c, const char *text,
                const char *const *sets, size_t nsets, char *errs, size_t size,
                const char **pathp)
{
	struct cf_mbuf mb;
	const char *path = text ? tmpconf(text) : NULL;
	int err;

	cf_mbuf_init(&mb);
	err = cf_app_conf_load(c, path, sets, nsets, &mb);
	snprintf(errs, size, "%.*s", (int)mb.end, mb.buf ? (char *)mb.buf : "");
	cf_mbuf_reset(&mb);
	if (path)
		unlink(path);
	if (pathp)
		*pathp = path;
	return err;
}

static bool count_item(const char *value, void *arg)
{
	(void)value;
	(*(int *)arg)++;
	return false;
}

static void test_defaults(void **state)
{
	struct cf_app_conf *c = NULL;
	char errs[512], sock[108];
	int n = 0;

	(void)state;
	assert_int_equal(load(&c, NULL, NULL, 0, errs, sizeof(errs), NULL), 0);
	assert_string_equal(errs, "");
	assert_string_equal(cf_app_conf_str(c, "general", "domain"),
	                    "confab.test");
	assert_int_equal(cf_app_conf_u32(c, "general", "workers"), 0);
	assert_string_equal(cf_app_conf_str(c, "general", "log_level"), "info");
	assert_int_equal(cf_app_conf_u32(c, "sip", "t1"), 500);
	assert_int_equal(cf_app_conf_u32(c, "sip", "t2"), 4000);
	assert_int_equal(cf_app_conf_u32(c, "test", "ring_timeout"), 60);
	assert_string_equal(cf_app_conf_str(c, "test", "ring_extension"),
	                    "ring");
	assert_false(cf_app_conf_isset(c, "sip", "listen"));
	cf_app_conf_apply(c, "sip", "listen", count_item, &n);
	assert_int_equal(n, 10); /* udp+tcp+tls+ws+wss on 127.0.0.1 and [::1] */
	assert_null(cf_app_conf_str(c, "control", "socket"));
	assert_int_equal(cf_ctl_sock_path(c, sock, sizeof(sock)), 0);
	assert_string_equal(sock, "var/confabd.sock");
	assert_null(cf_app_conf_str(c, "nosuch", "key"));
	cf_mem_deref(c);
}

static void test_file_values(void **state)
{
	struct cf_app_conf *c = NULL;
	char errs[512], sock[108];
	int n = 0;

	(void)state;
	assert_int_equal(load(&c,
	                      "; a comment\n"
	                      "[general]\n"
	                      "domain = example.test, other.test\n"
	                      "data_dir = /tmp/cf\n"
	                      "[sip]\n"
	                      "listen = udp:127.0.0.1:25060\n"
	                      "listen = tcp:[::1]:25061, 127.0.0.2\n"
	                      "t1 = 250\n"
	                      "[test]\n"
	                      "ring_extension = bell\n",
	                      NULL, 0, errs, sizeof(errs), NULL),
	                 0);
	assert_string_equal(errs, "");
	assert_string_equal(cf_app_conf_str(c, "general", "domain"),
	                    "example.test, other.test");
	assert_int_equal(cf_app_conf_u32(c, "sip", "t1"), 250);
	assert_string_equal(cf_app_conf_str(c, "test", "ring_extension"),
	                    "bell");
	assert_true(cf_app_conf_isset(c, "sip", "listen"));
	cf_app_conf_apply(c, "sip", "listen", count_item, &n);
	assert_int_equal(n, 3);
	assert_int_equal(cf_ctl_sock_path(c, sock, sizeof(sock)), 0);
	assert_string_equal(sock, "/tmp/cf/confabd.sock");
	cf_mem_deref(c);
}

static void test_unknown_key_line(void **state)
{
	struct cf_app_conf *c = NULL;
	const char *path;
	char errs[512], want[256];

	(void)state;
	assert_int_equal(load(&c,
	                      "[general]\n"
	                      "domain = a.test\n"
	                      "\n"
	                      "[sip]\n"
	                      "t1 = 500\n"
	                      "frobnicate = 1\n",
	                      NULL, 0, errs, sizeof(errs), &path),
	                 EINVAL);
	assert_null(c);
	snprintf(want, sizeof(want),
	         "%s:6: unknown key 'frobnicate' in [sip]\n", path);
	assert_string_equal(errs, want);

	/* a key in the wrong section is unknown there */
	assert_int_equal(
	    load(&c, "[test]\nt1 = 500\n", NULL, 0, errs, sizeof(errs), &path),
	    EINVAL);
	snprintf(want, sizeof(want), "%s:2: unknown key 't1' in [test]\n",
	         path);
	assert_string_equal(errs, want);
}

static void test_bad_values(void **state)
{
	static const struct {
		const char *text;
		int line;
		const char *what;
	} cases[] = {
	    {"[sip]\nt1 = abc\n", 2,
	     "bad value for t1 in [sip]: 'abc' is "
	     "not a number"},
	    {"[sip]\nt1 = 10\n", 2,
	     "bad value for t1 in [sip]: 10 is out "
	     "of range 50..10000"},
	    {"[general]\n\nlog_level = loud\n", 3,
	     "bad value for "
	     "log_level"},
	    {"[sip]\nlisten = sctp:127.0.0.1\n", 2, "bad value for listen"},
	    {"[sip]\nlisten = udp:127.0.0.1:99999\n", 2,
	     "bad value for "
	     "listen"},
	    {"[sip]\nlisten = udp:example.com\n", 2,
	     "bad value for "
	     "listen"},
	    {"[general]\ndomain = a b\n", 2, "bad value for domain"},
	    {"[test]\nring_extension = a@b\n", 2,
	     "bad value for "
	     "ring_extension"},
	    {"[test]\nring_timeout = 0\n", 2,
	     "bad value for "
	     "ring_timeout"},
	    {"[general]\nworkers = -1\n", 2, "bad value for workers"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct cf_app_conf *c = NULL;
		const char *path;
		char errs[512], want[300];

		assert_int_equal(
		    load(&c, cases[i].text, NULL, 0, errs, sizeof(errs), &path),
		    EINVAL);
		assert_null(c);
		snprintf(want, sizeof(want), "%s:%d: %s", path, cases[i].line,
		         cases[i].what);
		if (strncmp(errs, want, strlen(want)))
			fail_msg("case %zu: got '%s' want '%s'", i, errs, want);
	}
}

static void test_every_error_reported(void **state)
{
	struct cf_app_conf *c = NULL;
	char errs[1024];
	int lines = 0;

	(void)state;
	assert_int_equal(load(&c, "[sip]\nx = 1\ny = 2\nt2 = no\n", NULL, 0,
	                      errs, sizeof(errs), NULL),
	                 EINVAL);
	for (const char *p = errs; (p = strchr(p, '\n')); p++)
		lines++;
	assert_int_equal(lines, 3);
}

static void test_syntax_and_missing(void **state)
{
	struct cf_app_conf *c = NULL;
	char errs[512];

	(void)state;
	assert_int_equal(load(&c, "[general\ndomain = x\n", NULL, 0, errs,
	                      sizeof(errs), NULL),
	                 EBADMSG);
	assert_non_null(strstr(errs, ":1: syntax error"));

	struct cf_mbuf mb;

	cf_mbuf_init(&mb);
	assert_int_equal(
	    cf_app_conf_load(&c, "/nonexistent/confab.conf", NULL, 0, &mb),
	    ENOENT);
	assert_null(c);
	assert_true(mb.end > 0);
	cf_mbuf_reset(&mb);
}

static void test_sets(void **state)
{
	static const char *const sets[] = {
	    "sip.listen=udp:127.0.0.1:25060",
	    "sip.listen=tcp:127.0.0.1:25060",
	    "general.data_dir=/tmp/x",
	    "TEST.RING_TIMEOUT=5",
	};
	static const char *const bad[] = {"sip.nosuch=1", "noequals",
	                                  "sip.t1=fast"};
	struct cf_app_conf *c = NULL;
	char errs[512];
	int n = 0;

	(void)state;
	/* --set listen replaces the file's listen values */
	assert_int_equal(load(&c, "[sip]\nlisten = udp:127.0.0.9:5060\n", sets,
	                      4, errs, sizeof(errs), NULL),
	                 0);
	cf_app_conf_apply(c, "sip", "listen", count_item, &n);
	assert_int_equal(n, 2);
	assert_string_equal(cf_app_conf_str(c, "sip", "listen"),
	                    "tcp:127.0.0.1:25060");
	assert_int_equal(cf_app_conf_u32(c, "test", "ring_timeout"), 5);
	cf_mem_deref(c);

	assert_int_equal(load(&c, NULL, bad, 3, errs, sizeof(errs), NULL),
	                 EINVAL);
	assert_non_null(strstr(errs, "--set: unknown key 'nosuch' in [sip]"));
	assert_non_null(strstr(errs, "'noequals' is not SECTION.KEY=VALUE"));
	assert_non_null(strstr(errs, "bad value for t1 in [sip]"));
}

static void test_listen_decode(void **state)
{
	struct cf_app_listen l[2];
	char buf[64];
	size_t n;

	(void)state;
	assert_int_equal(cf_app_listen_decode("udp:127.0.0.1:5070", l, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(l[0].tp, CF_SIP_TP_UDP);
	assert_string_equal(cf_sa_print(&l[0].addr, buf, sizeof(buf)),
	                    "127.0.0.1:5070");

	assert_int_equal(cf_app_listen_decode("tcp:[::1]:25061", l, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(l[0].tp, CF_SIP_TP_TCP);
	assert_int_equal(cf_sa_af(&l[0].addr), AF_INET6);
	assert_int_equal(cf_sa_port(&l[0].addr), 25061);

	assert_int_equal(cf_app_listen_decode(" TCP:[::1] ", l, &n), 0);
	assert_int_equal(l[0].tp, CF_SIP_TP_TCP);
	assert_int_equal(cf_sa_port(&l[0].addr), 5060);

	assert_int_equal(cf_app_listen_decode("udp:::1", l, &n), 0);
	assert_int_equal(cf_sa_af(&l[0].addr), AF_INET6);
	assert_int_equal(cf_sa_port(&l[0].addr), 5060);

	/* no transport: both */
	assert_int_equal(cf_app_listen_decode("127.0.0.1", l, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(l[0].tp, CF_SIP_TP_UDP);
	assert_int_equal(l[1].tp, CF_SIP_TP_TCP);
	assert_int_equal(cf_sa_port(&l[1].addr), 5060);

	/* WebSocket (RFC 7118): port 8080 unless given */
	assert_int_equal(cf_app_listen_decode("ws:127.0.0.1", l, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(l[0].tp, CF_SIP_TP_WS);
	assert_int_equal(cf_sa_port(&l[0].addr), 8080);
	assert_int_equal(cf_app_listen_decode("WS:[::1]:8081", l, &n), 0);
	assert_int_equal(l[0].tp, CF_SIP_TP_WS);
	assert_int_equal(cf_sa_af(&l[0].addr), AF_INET6);
	assert_int_equal(cf_sa_port(&l[0].addr), 8081);

	/* explicit port 0: ephemeral */
	assert_int_equal(cf_app_listen_decode("udp:127.0.0.1:0", l, &n), 0);
	assert_int_equal(cf_sa_port(&l[0].addr), 0);

	assert_int_equal(cf_app_listen_decode("", l, &n), EBADMSG);
	assert_int_equal(cf_app_listen_decode("tls:127.0.0.1", l, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(l[0].tp, CF_SIP_TP_TLS);
	assert_int_equal(cf_sa_port(&l[0].addr), 5061);
	assert_int_equal(cf_app_listen_decode("wss:127.0.0.1", l, &n), 0);
	assert_int_equal(l[0].tp, CF_SIP_TP_WSS);
	assert_int_equal(cf_sa_port(&l[0].addr), 8443);
	assert_int_equal(cf_app_listen_decode("wsx:127.0.0.1", l, &n), EBADMSG);
	assert_int_equal(cf_app_listen_decode("udp:", l, &n), EBADMSG);
	assert_int_equal(cf_app_listen_decode("udp:localhost", l, &n), EBADMSG);
	assert_int_equal(cf_app_listen_decode(NULL, l, &n), EINVAL);
}

static void test_key_check(void **state)
{
	const struct cf_mod_key *k;
	char why[128];

	(void)state;
	k = cf_mod_key_find("SIP", "T1");
	assert_non_null(k);
	assert_int_equal(cf_mod_key_check(k, "50", why, sizeof(why)), 0);
	assert_int_equal(cf_mod_key_check(k, "10000", why, sizeof(why)), 0);
	assert_int_equal(cf_mod_key_check(k, "10001", why, sizeof(why)),
	                 EINVAL);
	assert_int_equal(cf_mod_key_check(k, "", why, sizeof(why)), EINVAL);
	assert_string_equal(why, "empty value");
	k = cf_mod_key_find("general", "domain");
	assert_int_equal(cf_mod_key_check(k, "a.test,b.test", why, sizeof(why)),
	                 0);
	k = cf_mod_key_find("test", "ring_extension");
	assert_int_equal(cf_mod_key_check(k, "ring", why, sizeof(why)), 0);
	assert_int_equal(cf_mod_key_check(k, "a,b", why, sizeof(why)), EINVAL);
	k = cf_mod_key_find("tls", "verify_client");
	assert_non_null(k);
	assert_int_equal(cf_mod_key_check(k, "Require", why, sizeof(why)), 0);
	assert_int_equal(cf_mod_key_check(k, "maybe", why, sizeof(why)),
	                 EINVAL);
	assert_string_equal(why, "'maybe' is not no, optional or require");
	k = cf_mod_key_find("tls", "min_version");
	assert_non_null(k);
	assert_int_equal(cf_mod_key_check(k, "TLS1.3", why, sizeof(why)), 0);
	assert_int_equal(cf_mod_key_check(k, "TLS1.1", why, sizeof(why)),
	                 EINVAL);
	assert_null(cf_mod_key_find("sip", "nosuch"));
}

static void test_app_local(void **state)
{
	struct cf_app_conf *c = NULL;
	struct cf_app *app = NULL;
	struct cf_sip_uri u;
	struct cf_sa sa;
	char errs[256];

	(void)state;
	assert_int_equal(load(&c, "[general]\ndomain = a.test, B.test\n", NULL,
	                      0, errs, sizeof(errs), NULL),
	                 0);
	assert_int_equal(cf_app_alloc(&app, c), 0);
	assert_int_equal(cf_sa_set_str(&sa, "127.0.0.1", 25060), 0);
	assert_int_equal(cf_app_addr_add(app, &sa), 0);
	assert_int_equal(cf_app_addr_add(app, &sa), 0); /* once */
	assert_string_equal(cf_app_domain(app), "a.test");
	assert_string_equal(cf_app_allow(app),
	                    "INVITE, ACK, CANCEL, OPTIONS, REGISTER");

	memset(&u, 0, sizeof(u));
	u.scheme = CF_SIP_SCHEME_SIP;
	u.host = CF_PL("b.TEST");
	assert_true(cf_app_uri_is_local(app, &u));
	u.host = CF_PL("c.test");
	assert_false(cf_app_uri_is_local(app, &u));
	u.host = CF_PL("127.0.0.1");
	assert_true(cf_app_uri_is_local(app, &u));
	u.port = 25060;
	assert_true(cf_app_uri_is_local(app, &u));
	u.port = 5060;
	assert_false(cf_app_uri_is_local(app, &u));
	u.host = CF_PL("127.0.0.2");
	u.port = 0;
	assert_false(cf_app_uri_is_local(app, &u));

	cf_mem_deref(app);
	cf_mem_deref(c);
}

static void test_cmd_find(void **state)
{
	const struct cf_mod_cmd *cmd;

	(void)state;
	assert_int_equal(cf_mod_cmd_find(&cmd, "status", ""), 0);
	assert_non_null(cmd->h);
	assert_int_equal(cf_mod_cmd_find(&cmd, "status", NULL), 0);
	assert_int_equal(cf_mod_cmd_find(&cmd, "config", "check"), 0);
	assert_null(cmd->h); /* runs in confabctl */
	assert_int_equal(cf_mod_cmd_find(&cmd, "test", "calls"), 0);
	assert_int_equal(cf_mod_cmd_find(&cmd, "config", "frob"), EPROTO);
	assert_int_equal(cf_mod_cmd_find(&cmd, "config", ""), EPROTO);
	assert_int_equal(cf_mod_cmd_find(&cmd, "user", "add"), 0);
	assert_non_null(cmd->h);
	assert_int_equal(cf_mod_cmd_find(&cmd, "user", "import"), 0);
	assert_null(cmd->h); /* confabctl writes the store itself */
	assert_int_equal(cf_mod_cmd_find(&cmd, "frob", "add"), ENOENT);
}

/* Run a request line; return the parsed response (caller decrefs). */
static json_t *ctl(struct cf_app *app, const char *line)
{
	char *out = NULL;
	json_t *r;

	assert_int_equal(cf_ctl_request(app, line, strlen(line), &out), 0);
	assert_non_null(out);
	assert_null(strchr(out, '\n')); /* one line */
	r = json_loads(out, 0, NULL);
	free(out);
	assert_true(json_is_object(r));
	return r;
}

static void expect_error(struct cf_app *app, const char *line,
                         const char *error)
{
	json_t *r = ctl(app, line);
	const char *e = json_string_value(json_object_get(r, "error"));

	assert_true(json_is_false(json_object_get(r, "ok")));
	assert_non_null(e);
	if (!strstr(e, error))
		fail_msg("'%s': got '%s', want '%s'", line, e, error);
	json_decref(r);
}

static void test_ctl_request(void **state)
{
	struct cf_app_conf *c = NULL;
	struct cf_app *app = NULL;
	char errs[256];
	json_t *r;

	(void)state;
	assert_int_equal(load(&c, NULL, NULL, 0, errs, sizeof(errs), NULL), 0);
	assert_int_equal(cf_app_alloc(&app, c), 0);

	r = ctl(app, "{\"cmd\":\"status\"}");
	assert_true(json_is_true(json_object_get(r, "ok")));
	assert_string_equal(json_string_value(json_object_get(r, "version")),
	                    CF_VERSION);
	assert_true(json_is_array(json_object_get(r, "listeners")));
	assert_true(json_is_integer(
	    json_object_get(json_object_get(r, "counters"), "rx_msgs")));
	assert_true(json_integer_value(json_object_get(r, "workers")) >= 1);
	json_decref(r);

	r = ctl(app, "{\"cmd\":\"test calls\",\"args\":[],\"opts\":{}}");
	assert_true(json_is_true(json_object_get(r, "ok")));
	assert_int_equal(json_integer_value(json_object_get(r, "ringing")), 0);
	json_decref(r);

	cf_log_set_level(CF_LOG_ERR);
	r = ctl(app, "{\"cmd\":\"log level\",\"args\":[\"warn\"]}");
	assert_true(json_is_true(json_object_get(r, "ok")));
	assert_string_equal(json_string_value(json_object_get(r, "level")),
	                    "warn");
	assert_int_equal(cf_log_get_level(), CF_LOG_WARN);
	json_decref(r);
	expect_error(app, "{\"cmd\":\"log level\",\"args\":[\"loud\"]}",
	             "level must be");
	cf_log_set_level(CF_LOG_ERR);

	expect_error(app, "{\"cmd\":", "bad JSON");
	expect_error(app, "[1,2]", "not a JSON object");
	expect_error(app, "{\"cmd\":5}", "no \"cmd\" string");
	expect_error(app, "{\"cmd\":\"frob\"}", "unknown command 'frob'");
	expect_error(app, "{\"cmd\":\"test frob\"}",
	             "unknown verb 'frob' for 'test'");
	expect_error(app, "{\"cmd\":\"status\",\"args\":[\"x\"]}",
	             "usage: status");
	expect_error(app, "{\"cmd\":\"status\",\"args\":[1]}",
	             "array of strings");
	expect_error(app, "{\"cmd\":\"status\",\"opts\":{\"a\":1}}",
	             "object of strings");
	expect_error(app, "{\"cmd\":\"version\"}", "runs in confabctl");
	expect_error(app, "{\"cmd\":\"\"}", "bad command");

	cf_mem_deref(app);
	cf_mem_deref(c);
}

static void test_reload(void **state)
{
	struct cf_app_conf *c = NULL, *c2 = NULL;
	struct cf_app *app = NULL;
	static const char *const sets[] = {"general.log_level=warn",
	                                   "general.workers=3"};
	char errs[256];

	(void)state;
	assert_int_equal(load(&c, NULL, NULL, 0, errs, sizeof(errs), NULL), 0);
	assert_int_equal(load(&c2, NULL, sets, 2, errs, sizeof(errs), NULL), 0);
	assert_int_equal(cf_app_alloc(&app, c), 0);
	assert_int_equal(cf_mod_init_all(app), 0);
	cf_log_set_level(CF_LOG_INFO);
	cf_app_reload(app, c2);
	assert_int_equal(cf_log_get_level(), CF_LOG_WARN);
	assert_ptr_equal(cf_app_conf(app), c2);
	cf_log_set_level(CF_LOG_ERR);
	cf_mod_stop_all(app);
	cf_mem_deref(app);
	cf_mem_deref(c);
	cf_mem_deref(c2);
}

/* Every allocation of a load and an app fails once in turn: ENOMEM comes
 * back (or the load succeeds), and nothing leaks. */
static void test_oom(void **state)
{
	static const char *const sets[] = {"sip.listen=udp:127.0.0.1:25060",
	                                   "general.domain=a.test,b.test"};
	const char *path =
	    tmpconf("[sip]\nt1 = 300\n[test]\nring_timeout = 9\n");
	int ok = 0;

	(void)state;
	for (long n = 1; n < 200; n++) {
		struct cf_app_conf *c = NULL;
		struct cf_app *app = NULL;
		int err;

		cf_mem_fail_after(n);
		err = cf_app_conf_load(&c, path, sets, 2, NULL);
		if (!err)
			err = cf_app_alloc(&app, c);
		cf_mem_fail_after(0);
		assert_true(err == 0 || err == ENOMEM);
		if (!err)
			ok++;
		cf_mem_deref(app);
		cf_mem_deref(c);
		if (ok > 3)
			break;
	}
	unlink(path);
	assert_true(ok > 0);
}

static void *loop_thread(void *arg)
{
	cf_loop_run(arg);
	return NULL;
}

/* The socket server: pipelined requests answered in order, one line each;
 * a second server on the same path refused; the file removed at the end. */
static void test_ctl_socket(void **state)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	struct timeval tv = {10, 0}; /* a guard against a hang, not a check */
	struct cf_app_conf *c = NULL;
	struct cf_app *app = NULL;
	struct cf_ctl *ctl = NULL, *ctl2 = NULL;
	struct cf_loop *loop = NULL;
	static const char req[] = "{\"cmd\":\"status\"}\n{\"cmd\":\"frob\"}\n";
	char buf[8192], *nl;
	size_t len = 0;
	pthread_t th;
	int fd;

	(void)state;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "/tmp/confab-ctl-%d.sock",
	         (int)getpid());
	assert_int_equal(cf_app_conf_load(&c, NULL, NULL, 0, NULL), 0);
	assert_int_equal(cf_app_alloc(&app, c), 0);
	assert_int_equal(cf_loop_alloc(&loop), 0);
	assert_int_equal(cf_ctl_alloc(&ctl, loop, app, sun.sun_path), 0);
	assert_int_equal(pthread_create(&th, NULL, loop_thread, loop), 0);

	assert_int_equal(cf_ctl_alloc(&ctl2, loop, app, sun.sun_path),
	                 EALREADY);

	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	assert_int_equal(connect(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	assert_int_equal(write(fd, req, sizeof(req) - 1), sizeof(req) - 1);
	for (int lines = 0; lines < 2 && len < sizeof(buf) - 1;) {
		ssize_t n = read(fd, buf + len, sizeof(buf) - 1 - len);

		assert_true(n > 0);
		for (ssize_t i = 0; i < n; i++)
			lines += buf[len + i] == '\n';
		len += n;
	}
	buf[len] = '\0';
	close(fd);
	nl = strchr(buf, '\n');
	assert_non_null(nl);
	assert_non_null(strstr(nl + 1, "unknown command 'frob'"));
	*nl = '\0';
	assert_non_null(strstr(buf, "\"ok\":true"));
	assert_non_null(strstr(buf, "\"counters\""));

	cf_loop_stop(loop);
	pthread_join(th, NULL);
	ctl = cf_mem_deref(ctl);
	assert_int_equal(access(sun.sun_path, F_OK), -1);
	cf_mem_deref(loop);
	cf_mem_deref(app);
	cf_mem_deref(c);
}

/* docs/configuration.md documents every declared key in its section. */
static void doc_key(const struct cf_mod_key *k, const char *doc)
{
	char sec[64], key[80];
	const char *at, *next;

	snprintf(sec, sizeof(sec), "\n## [%s]\n", k->section);
	snprintf(key, sizeof(key), "\n| `%s` |", k->key);
	at = strstr(doc, sec);
	if (!at)
		fail_msg("docs: no section [%s]", k->section);
	next = strstr(at + 1, "\n## ");
	at = strstr(at, key);
	if (!at || (next && at > next))
		fail_msg("docs: [%s] %s undocumented", k->section, k->key);
}

static void test_docs(void **state)
{
	const char *path = getenv("CF_DOCS");
	static char doc[65536];
	size_t n;
	FILE *f;

	(void)state;
	if (!path)
		skip();
	f = fopen(path, "r");
	assert_non_null(f);
	n = fread(doc, 1, sizeof(doc) - 1, f);
	fclose(f);
	doc[n] = '\0';
	for (const struct cf_mod_key *k = cf_app_keys; k->section; k++)
		doc_key(k, doc);
	for (size_t i = 0; cf_mods[i]; i++) {
		for (const struct cf_mod_key *k = cf_mods[i]->keys;
		     k && k->section; k++)
			doc_key(k, doc);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_defaults, cf_test_leak_setup,
	                                    cf_test_leak_teardown),
	    cmocka_unit_test_setup_teardown(
	        test_file_values, cf_test_leak_setup, cf_test_leak_teardown),
	    cmocka_unit_test_setup_teardown(test_unknown_key_line,
	                                    cf_test_leak_setup,
	                                    cf_test_leak_teardown),
	    cmocka_unit_test_setup_teardown(test_bad_values, cf_test_leak_setup,
	                                    cf_test_leak_teardown),
	    cmocka_unit_test_setup_teardown(test_every_error_reported,
	                                    cf_test_leak_setup,
	                                    cf_test_leak_teardown),
	    cmocka_unit_test_setup_teardown(test_syntax_and_missing,
	                                    cf_test_leak_setup,
	                                    cf_test_leak_teardown),
	    cmocka_unit_test_setup_teardown(test_sets, cf_test_leak_setup,
	                                    cf_test_leak_teardown),
	    cmocka_unit_test_setup_teardown(
	        test_listen_decode, cf_test_leak_setup, cf_test_leak_teardown),
	    cmocka_unit_test_setup_teardown(test_key_check, cf_test_leak_setup,
	                                    cf_test_leak_teardown),
	    cmocka_unit_test_setup_teardown(test_app_local, cf_test_leak_setup,
	                                    cf_test_leak_teardown),
	    cmocka_unit_test_setup_teardown(test_cmd_find, cf_test_leak_setup,
	                                    cf_test_leak_teardown),
	    cmocka_unit_test_setup_teardown(
	        test_ctl_request, cf_test_leak_setup, cf_test_leak_teardown),
	    cmocka_unit_test_setup_teardown(test_reload, cf_test_leak_setup,
	                                    cf_test_leak_teardown),
	    cmocka_unit_test_setup_teardown(test_oom, cf_test_leak_setup,
	                                    cf_test_leak_teardown),
	    cmocka_unit_test_setup_teardown(test_docs, cf_test_leak_setup,
	                                    cf_test_leak_teardown),
	    cmocka_unit_test_setup_teardown(test_ctl_socket, cf_test_leak_setup,
	                                    cf_test_leak_teardown),
	};

	cf_log_set_level(CF_LOG_ERR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
