/* SPDX-License-Identifier: BSD-3-Clause */
/* test_ctl.c - the provisioning commands (domain, user, store, location
 * show from the store) against a temporary store, through the control
 * protocol as the daemon and offline confabctl run them; AOR parsing; the
 * CSV import; the app's store reference and the store opening at start. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "daemon/daemon.h"
#include "mod/auth/auth.h"
#include "mod/prov.h"
#include "store/store.h"
#include "testutil.h"

struct fix {
	struct cf_app_conf *conf;
	struct cf_app *app;
	struct cf_store *st;
	char dir[64];
};

static struct fix fx;

/* An app over the embedded defaults (domain confab.test) and a fresh
 * store in a temporary directory, opened as confabd does. */
static int setup(void **state)
{
	const char *sets[2];
	char set_dir[96], uri[4096];

	(void)state;
	cf_test_leak_start();
	memset(&fx, 0, sizeof(fx));
	snprintf(fx.dir, sizeof(fx.dir), "/tmp/confab-ctl-XXXXXX");
	assert_non_null(mkdtemp(fx.dir));
	snprintf(set_dir, sizeof(set_dir), "general.data_dir=%s/data", fx.dir);
	sets[0] = set_dir;
	sets[1] = "general.domain=confab.test,Second.test";
	assert_int_equal(cf_app_conf_load(&fx.conf, NULL, sets, 2, NULL), 0);
	assert_int_equal(cf_app_alloc(&fx.app, fx.conf), 0);
	assert_int_equal(cf_ctl_store_open(fx.conf, &fx.st, uri, sizeof(uri)),
	                 0);
	cf_app_set_store(fx.app, fx.st);
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	fx.app = cf_mem_deref(fx.app);
	fx.st = cf_mem_deref(fx.st);
	fx.conf = cf_mem_deref(fx.conf);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fx.dir);
	assert_int_equal(system(cmd), 0);
	cf_test_leak_check();
	return 0;
}

/* Run a request line (printf format); return the parsed response. */
static json_t *ctl(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static json_t *ctl(const char *fmt, ...)
{
	char line[4096], *out = NULL;
	va_list ap;
	json_t *r;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	assert_int_equal(cf_ctl_request(fx.app, line, strlen(line), &out), 0);
	assert_non_null(out);
	assert_null(strchr(out, '\n'));
	r = json_loads(out, 0, NULL);
	free(out);
	assert_true(json_is_object(r));
	return r;
}

static void ok(const char *line)
{
	json_t *r = ctl("%s", line);

	if (!json_is_true(json_object_get(r, "ok")))
		fail_msg("'%s' failed: %s", line,
		         json_string_value(json_object_get(r, "error")));
	json_decref(r);
}

static void bad(const char *line, const char *error)
{
	json_t *r = ctl("%s", line);
	const char *e = json_string_value(json_object_get(r, "error"));

	assert_true(json_is_false(json_object_get(r, "ok")));
	assert_non_null(e);
	assert_null(strchr(e, '\n')); /* one line */
	if (!strstr(e, error))
		fail_msg("'%s': got '%s', want '%s'", line, e, error);
	json_decref(r);
}

static size_t user_count(const char *domain)
{
	json_t *r =
	    domain ? ctl("{\"cmd\":\"user list\",\"args\":[\"%s\"]}", domain)
	           : ctl("{\"cmd\":\"user list\"}");
	size_t n;

	assert_true(json_is_true(json_object_get(r, "ok")));
	n = json_integer_value(json_object_get(r, "count"));
	assert_int_equal(n, json_array_size(json_object_get(r, "users")));
	json_decref(r);
	return n;
}

/* ------------------------------------------------------------ AOR */

static void test_aor_parse(void **state)
{
	static const char *const good[][3] = {
	    {"alice@example.test", "alice", "example.test"},
	    {"sip:alice@example.test", "alice", "example.test"},
	    {"SIP:Alice@Example.TEST", "Alice", "example.test"},
	    {"a.b-c_d%41+1@x-y.test", "a.b-c_d%41+1", "x-y.test"},
	    {"1000@10.0.0.1", "1000", "10.0.0.1"},
	};
	static const char *const malformed[] = {
	    "",
	    "alice",
	    "@example.test",
	    "alice@",
	    "a@b@c",
	    "sips:a@b.test",
	    "sip:a@b.test;transport=tcp",
	    "a@b.test:5060",
	    "a b@c.test",
	    "a@-b.test",
	    "a@b..test",
	    "a%4@b.test",
	    "a@b.test.",
	    "<sip:a@b.test>",
	    "a\"@b.test",
	};
	char user[CF_STORE_USER_MAX + 1], domain[CF_STORE_DOMAIN_MAX + 1];
	char longuser[CF_STORE_USER_MAX + 20];

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		assert_int_equal(cf_prov_aor_parse(good[i][0], user, domain),
		                 0);
		assert_string_equal(user, good[i][1]);
		assert_string_equal(domain, good[i][2]);
	}
	for (size_t i = 0; i < sizeof(malformed) / sizeof(malformed[0]); i++) {
		if (!cf_prov_aor_parse(malformed[i], user, domain))
			fail_msg("'%s' accepted", malformed[i]);
	}
	memset(longuser, 'a', CF_STORE_USER_MAX + 1);
	snprintf(longuser + CF_STORE_USER_MAX + 1, 8, "@b.test");
	assert_int_equal(cf_prov_aor_parse(longuser, user, domain), EINVAL);
	assert_int_equal(cf_prov_aor_parse(NULL, user, domain), EINVAL);
}

/* ------------------------------------------------------- the store */

static void test_store_open(void **state)
{
	char path[128];
	struct stat sb;
	json_t *r, *d;

	(void)state;
	/* the data directory was made, the database is in it */
	snprintf(path, sizeof(path), "%s/data/confab.db", fx.dir);
	assert_int_equal(stat(path, &sb), 0);
	assert_ptr_equal(cf_app_store(fx.app), fx.st);
	assert_false(cf_app_online(fx.app));

	/* both configured domains were added, lower-cased by the store's
	 * NOCASE: one row each */
	r = ctl("{\"cmd\":\"domain list\"}");
	d = json_object_get(r, "domains");
	assert_int_equal(json_array_size(d), 2);
	assert_true(
	    json_is_true(json_object_get(json_array_get(d, 0), "config")));
	/* stored in lower case, as domain add does */
	assert_string_equal(
	    json_string_value(json_object_get(json_array_get(d, 1), "name")),
	    "second.test");
	json_decref(r);

	r = ctl("{\"cmd\":\"store show\"}");
	assert_true(json_is_true(json_object_get(r, "ok")));
	assert_non_null(strstr(json_string_value(json_object_get(r, "uri")),
	                       "/data/confab.db"));
	assert_int_equal(json_integer_value(json_object_get(r, "version")),
	                 cf_store_version_latest(fx.st));
	json_decref(r);
}

static void test_app_store_ref(void **state)
{
	struct cf_store *other = NULL;
	unsigned v = 0;
	long before;

	(void)state;
	assert_int_equal(cf_store_open(&other, ":memory:", NULL), 0);
	before = cf_mem_blocks();
	cf_app_set_store(fx.app, other);
	assert_ptr_equal(cf_app_store(fx.app), other);
	/* the app holds its own reference: ours can go */
	other = cf_mem_deref(other);
	assert_int_equal(cf_store_version(cf_app_store(fx.app), &v), 0);
	cf_app_set_store(fx.app, NULL); /* the last reference: closed */
	assert_null(cf_app_store(fx.app));
	assert_true(cf_mem_blocks() < before);
	cf_app_set_store(fx.app, fx.st);
	assert_null(cf_app_store(NULL));
	cf_app_set_store(NULL, fx.st); /* no-op */
}

/* ---------------------------------------------------------- domains */

static void test_domain_add(void **state)
{
	json_t *r, *d;

	(void)state;
	r = ctl("{\"cmd\":\"domain add\",\"args\":[\"Example.ORG\"],"
	        "\"opts\":{\"realm\":\"Example Realm\","
	        "\"digest-algs\":\"SHA-256,MD5\"}}");
	assert_true(json_is_true(json_object_get(r, "ok")));
	assert_string_equal(json_string_value(json_object_get(r, "domain")),
	                    "example.org");
	assert_string_equal(json_string_value(json_object_get(r, "realm")),
	                    "Example Realm");
	assert_string_equal(
	    json_string_value(json_object_get(r, "digest_algs")),
	    "SHA-256,MD5");
	json_decref(r);
	ok("{\"cmd\":\"domain add\",\"args\":[\"plain.test\"]}");

	r = ctl("{\"cmd\":\"domain list\"}");
	d = json_object_get(r, "domains");
	assert_int_equal(json_array_size(d), 4);
	for (size_t i = 0; i < json_array_size(d); i++) {
		json_t *o = json_array_get(d, i);
		const char *name =
		    json_string_value(json_object_get(o, "name"));

		if (!strcmp(name, "plain.test")) {
			/* realm = the name; algorithms: the default */
			assert_string_equal(
			    json_string_value(json_object_get(o, "realm")),
			    "plain.test");
			assert_string_equal(json_string_value(json_object_get(
			                        o, "digest_algs")),
			                    "");
			assert_true(
			    json_is_false(json_object_get(o, "config")));
		}
	}
	json_decref(r);

	bad("{\"cmd\":\"domain add\",\"args\":[\"example.org\"]}",
	    "domain example.org exists");
	bad("{\"cmd\":\"domain add\",\"args\":[\"EXAMPLE.org\"]}",
	    "domain example.org exists");
	bad("{\"cmd\":\"domain add\",\"args\":[\"bad_name.test\"]}",
	    "malformed domain 'bad_name.test'");
	bad("{\"cmd\":\"domain add\",\"args\":[\"\"]}", "malformed domain");
	bad("{\"cmd\":\"domain add\",\"args\":[\"x.test\"],"
	    "\"opts\":{\"digest-algs\":\"SHA-1\"}}",
	    "bad --digest-algs 'SHA-1'");
	bad("{\"cmd\":\"domain add\",\"args\":[\"x.test\"],"
	    "\"opts\":{\"digest-algs\":\"MD5,MD5\"}}",
	    "bad --digest-algs");
	bad("{\"cmd\":\"domain add\",\"args\":[\"x.test\"],"
	    "\"opts\":{\"realm\":\"a\\\"b\"}}",
	    "bad --realm");
	bad("{\"cmd\":\"domain add\",\"args\":[\"x.test\"],"
	    "\"opts\":{\"relam\":\"r\"}}",
	    "unknown option --relam");
	bad("{\"cmd\":\"domain add\"}", "usage: domain add NAME");
	/* none of the refused ones was added */
	assert_int_equal(cf_store_domain_get(fx.st, "x.test", NULL, NULL),
	                 ENOENT);
}

static void test_domain_set(void **state)
{
	json_t *r;

	(void)state;
	r = ctl("{\"cmd\":\"domain set\",\"args\":[\"Confab.test\"],"
	        "\"opts\":{\"digest-algs\":\"SHA-256,MD5\"}}");
	assert_true(json_is_true(json_object_get(r, "ok")));
	assert_string_equal(
	    json_string_value(json_object_get(r, "digest_algs")),
	    "SHA-256,MD5");
	json_decref(r);
	r = ctl("{\"cmd\":\"domain list\"}");
	assert_string_equal(
	    json_string_value(json_object_get(
	        json_array_get(json_object_get(r, "domains"), 0),
	        "digest_algs")),
	    "SHA-256,MD5");
	json_decref(r);
	r = ctl("{\"cmd\":\"domain set\",\"args\":[\"confab.test\"],"
	        "\"opts\":{\"digest-algs\":\"default\"}}");
	assert_true(json_is_true(json_object_get(r, "ok")));
	assert_string_equal(
	    json_string_value(json_object_get(r, "digest_algs")), "");
	json_decref(r);

	bad("{\"cmd\":\"domain set\",\"args\":[\"confab.test\"]}",
	    "missing --digest-algs");
	bad("{\"cmd\":\"domain set\",\"args\":[\"confab.test\"],"
	    "\"opts\":{\"digest-algs\":\"SHA-1\"}}",
	    "bad --digest-algs 'SHA-1'");
	bad("{\"cmd\":\"domain set\",\"args\":[\"nowhere.test\"],"
	    "\"opts\":{\"digest-algs\":\"MD5\"}}",
	    "unknown domain 'nowhere.test'");
	bad("{\"cmd\":\"domain set\",\"args\":[\"a_b\"],"
	    "\"opts\":{\"digest-algs\":\"MD5\"}}",
	    "malformed domain");
	bad("{\"cmd\":\"domain set\",\"args\":[\"confab.test\"],"
	    "\"opts\":{\"realm\":\"x\"}}",
	    "unknown option --realm");
}

static void test_domain_remove(void **state)
{
	json_t *r;

	(void)state;
	ok("{\"cmd\":\"domain add\",\"args\":[\"gone.test\"]}");
	ok("{\"cmd\":\"user add\",\"args\":[\"a@gone.test\"],"
	   "\"opts\":{\"password\":\"pw\"}}");
	ok("{\"cmd\":\"user add\",\"args\":[\"b@gone.test\"],"
	   "\"opts\":{\"password\":\"pw\"}}");
	ok("{\"cmd\":\"user add\",\"args\":[\"a@confab.test\"],"
	   "\"opts\":{\"password\":\"pw\"}}");
	r = ctl("{\"cmd\":\"domain remove\",\"args\":[\"GONE.test\"]}");
	assert_true(json_is_true(json_object_get(r, "ok")));
	assert_int_equal(
	    json_integer_value(json_object_get(r, "users_removed")), 2);
	json_decref(r);
	assert_int_equal(user_count(NULL), 1);
	bad("{\"cmd\":\"domain remove\",\"args\":[\"gone.test\"]}",
	    "unknown domain 'gone.test'");
	bad("{\"cmd\":\"user list\",\"args\":[\"gone.test\"]}",
	    "unknown domain 'gone.test'");
	/* a domain of the configuration stays */
	bad("{\"cmd\":\"domain remove\",\"args\":[\"second.test\"]}",
	    "in [general] domain of the configuration");
	assert_int_equal(cf_store_domain_get(fx.st, "second.test", NULL, NULL),
	                 0);
	bad("{\"cmd\":\"domain remove\",\"args\":[\"a b\"]}",
	    "malformed domain");
}

/* ------------------------------------------------------------ users */

static void test_user_add(void **state)
{
	struct cf_store_subscriber sub;
	json_t *r;

	(void)state;
	r = ctl("{\"cmd\":\"user add\",\"args\":[\"sip:alice@Confab.Test\"],"
	        "\"opts\":{\"password\":\"secret\"}}");
	assert_true(json_is_true(json_object_get(r, "ok")));
	assert_string_equal(json_string_value(json_object_get(r, "aor")),
	                    "sip:alice@confab.test");
	json_decref(r);
	memset(&sub, 0, sizeof(sub));
	assert_int_equal(
	    cf_store_subscriber_get(fx.st, "alice", "confab.test", &sub), 0);
	/* MD5("alice:confab.test:secret") */
	assert_true(strlen(sub.ha1[CF_DIGEST_MD5]) == 32);

	bad("{\"cmd\":\"user add\",\"args\":[\"alice@confab.test\"],"
	    "\"opts\":{\"password\":\"x\"}}",
	    "user alice@confab.test exists");
	bad("{\"cmd\":\"user add\",\"args\":[\"bob@nowhere.test\"],"
	    "\"opts\":{\"password\":\"x\"}}",
	    "unknown domain 'nowhere.test'");
	bad("{\"cmd\":\"user add\",\"args\":[\"bob@confab.test\"],"
	    "\"opts\":{\"password\":\"\"}}",
	    "empty password");
	bad("{\"cmd\":\"user add\",\"args\":[\"bob@confab.test\"]}",
	    "missing --password");
	bad("{\"cmd\":\"user add\",\"args\":[\"bob\"],"
	    "\"opts\":{\"password\":\"x\"}}",
	    "malformed AOR 'bob': expected user@domain or sip:user@domain");
	bad("{\"cmd\":\"user add\",\"args\":[\"sip:bob@confab.test:5060\"],"
	    "\"opts\":{\"password\":\"x\"}}",
	    "malformed AOR");
	bad("{\"cmd\":\"user add\",\"args\":[\"bob@confab.test\"],"
	    "\"opts\":{\"password\":\"x\",\"pasword\":\"y\"}}",
	    "unknown option --pasword");
	bad("{\"cmd\":\"user add\",\"args\":[]}", "usage: user add AOR");
	assert_int_equal(user_count(NULL), 1);
}

static void test_user_passwd_remove(void **state)
{
	struct cf_store_subscriber a, b;

	(void)state;
	ok("{\"cmd\":\"user add\",\"args\":[\"carol@confab.test\"],"
	   "\"opts\":{\"password\":\"one\"}}");
	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	assert_int_equal(
	    cf_store_subscriber_get(fx.st, "carol", "confab.test", &a), 0);
	ok("{\"cmd\":\"user passwd\",\"args\":[\"sip:carol@confab.test\"],"
	   "\"opts\":{\"password\":\"two\"}}");
	assert_int_equal(
	    cf_store_subscriber_get(fx.st, "carol", "confab.test", &b), 0);
	for (int i = 0; i < CF_DIGEST_ALG_COUNT; i++)
		assert_string_not_equal(a.ha1[i], b.ha1[i]);

	bad("{\"cmd\":\"user passwd\",\"args\":[\"dave@confab.test\"],"
	    "\"opts\":{\"password\":\"x\"}}",
	    "unknown user dave@confab.test");
	bad("{\"cmd\":\"user passwd\",\"args\":[\"carol@nowhere.test\"],"
	    "\"opts\":{\"password\":\"x\"}}",
	    "unknown domain 'nowhere.test'");
	bad("{\"cmd\":\"user passwd\",\"args\":[\"carol@confab.test\"],"
	    "\"opts\":{\"password\":\"\"}}",
	    "empty password");
	bad("{\"cmd\":\"user passwd\",\"args\":[\"carol@confab.test\"]}",
	    "missing --password");
	bad("{\"cmd\":\"user passwd\",\"args\":[\"carol\"],"
	    "\"opts\":{\"password\":\"x\"}}",
	    "malformed AOR");

	ok("{\"cmd\":\"user remove\",\"args\":[\"carol@confab.test\"]}");
	assert_int_equal(
	    cf_store_subscriber_get(fx.st, "carol", "confab.test", &a), ENOENT);
	bad("{\"cmd\":\"user remove\",\"args\":[\"carol@confab.test\"]}",
	    "unknown user carol@confab.test");
	bad("{\"cmd\":\"user remove\",\"args\":[\"carol@nowhere.test\"]}",
	    "unknown domain");
	bad("{\"cmd\":\"user remove\",\"args\":[\"@confab.test\"]}",
	    "malformed AOR");
}

static void test_user_list(void **state)
{
	json_t *r;

	(void)state;
	assert_int_equal(user_count(NULL), 0);
	ok("{\"cmd\":\"user add\",\"args\":[\"b@confab.test\"],"
	   "\"opts\":{\"password\":\"x\"}}");
	ok("{\"cmd\":\"user add\",\"args\":[\"a@confab.test\"],"
	   "\"opts\":{\"password\":\"x\"}}");
	ok("{\"cmd\":\"user add\",\"args\":[\"a@second.test\"],"
	   "\"opts\":{\"password\":\"x\"}}");
	assert_int_equal(user_count(NULL), 3);
	assert_int_equal(user_count("confab.test"), 2);
	assert_int_equal(user_count("SECOND.test"), 1);
	r = ctl("{\"cmd\":\"user list\",\"args\":[\"confab.test\"]}");
	/* by user */
	assert_string_equal(
	    json_string_value(json_array_get(json_object_get(r, "users"), 0)),
	    "a@confab.test");
	json_decref(r);
	bad("{\"cmd\":\"user list\",\"args\":[\"nowhere.test\"]}",
	    "unknown domain 'nowhere.test'");
	bad("{\"cmd\":\"user list\",\"args\":[\"x_y\"]}", "malformed domain");
	bad("{\"cmd\":\"user list\",\"args\":[\"a\",\"b\"]}", "usage");
}

static void binding(const char *aor, const char *contact, int64_t expires)
{
	struct cf_store_binding b = {
	    .aor = aor,
	    .contact = contact,
	    .received = "udp:127.0.0.1:5062",
	    .call_id = "c1",
	    .cseq = 7,
	    .q = 500,
	    .expires = expires,
	    .user_agent = "test-ua",
	};

	assert_int_equal(cf_store_location_upsert(fx.st, &b), 0);
}

static void test_user_show(void **state)
{
	int64_t now = (int64_t)(cf_clock_wall_ms() / 1000);
	json_t *r, *bs, *b;

	(void)state;
	ok("{\"cmd\":\"domain add\",\"args\":[\"sha.test\"],"
	   "\"opts\":{\"realm\":\"R\",\"digest-algs\":\"SHA-256\"}}");
	ok("{\"cmd\":\"user add\",\"args\":[\"erin@sha.test\"],"
	   "\"opts\":{\"password\":\"x\"}}");
	binding("sip:erin@sha.test", "sip:erin@127.0.0.1:5062", now + 600);
	binding("sip:erin@sha.test", "sip:erin@127.0.0.1:5063", now - 10);
	binding("sip:other@sha.test", "sip:o@127.0.0.1:5064", now + 600);

	r = ctl("{\"cmd\":\"user show\",\"args\":[\"erin@sha.test\"]}");
	assert_true(json_is_true(json_object_get(r, "ok")));
	assert_string_equal(json_string_value(json_object_get(r, "aor")),
	                    "sip:erin@sha.test");
	assert_string_equal(json_string_value(json_object_get(r, "realm")),
	                    "R");
	assert_int_equal(json_array_size(json_object_get(r, "algorithms")),
	                 CF_DIGEST_ALG_COUNT);
	assert_string_equal(
	    json_string_value(json_object_get(r, "bindings_from")), "store");
	bs = json_object_get(r, "bindings");
	assert_int_equal(json_array_size(bs), 1); /* the expired one is not */
	b = json_array_get(bs, 0);
	assert_string_equal(json_string_value(json_object_get(b, "contact")),
	                    "sip:erin@127.0.0.1:5062");
	assert_true(json_integer_value(json_object_get(b, "expires")) > 590);
	assert_true(json_integer_value(json_object_get(b, "expires")) <= 600);
	assert_string_equal(json_string_value(json_object_get(b, "q")),
	                    "0.500");
	assert_string_equal(json_string_value(json_object_get(b, "user_agent")),
	                    "test-ua");
	json_decref(r);

	bad("{\"cmd\":\"user show\",\"args\":[\"frank@sha.test\"]}",
	    "unknown user frank@sha.test");
	bad("{\"cmd\":\"user show\",\"args\":[\"frank@none.test\"]}",
	    "unknown domain 'none.test'");
	bad("{\"cmd\":\"user show\",\"args\":[\"frank\"]}", "malformed AOR");

	/* a user removed offline loses its stored bindings */
	ok("{\"cmd\":\"user remove\",\"args\":[\"erin@sha.test\"]}");
	r = ctl("{\"cmd\":\"user add\",\"args\":[\"erin@sha.test\"],"
	        "\"opts\":{\"password\":\"x\"}}");
	json_decref(r);
	r = ctl("{\"cmd\":\"user show\",\"args\":[\"erin@sha.test\"]}");
	assert_int_equal(json_array_size(json_object_get(r, "bindings")), 0);
	json_decref(r);
}

/* location show as offline confabctl runs it: from the store. */
static void test_location_show_store(void **state)
{
	int64_t now = (int64_t)(cf_clock_wall_ms() / 1000);
	struct cf_mod_ctl_req req = {"location", "show", json_array(),
	                             json_object()};
	json_t *r;

	(void)state;
	binding("sip:a@confab.test", "sip:a@127.0.0.1:5062", now + 60);
	binding("sip:a@confab.test", "sip:a@127.0.0.1:5063", now + 60);
	binding("sip:b@confab.test", "sip:b@127.0.0.1:5064", now + 60);

	r = json_object();
	assert_int_equal(cf_prov_location_show_h(fx.app, &req, r), 0);
	assert_int_equal(json_integer_value(json_object_get(r, "count")), 3);
	json_decref(r);

	json_array_append_new(req.args, json_string("a@confab.test"));
	r = json_object();
	assert_int_equal(cf_prov_location_show_h(fx.app, &req, r), 0);
	assert_int_equal(json_integer_value(json_object_get(r, "count")), 2);
	json_decref(r);

	json_array_set_new(req.args, 0, json_string("nonsense"));
	r = json_object();
	assert_int_equal(cf_prov_location_show_h(fx.app, &req, r), EINVAL);
	assert_non_null(strstr(json_string_value(json_object_get(r, "error")),
	                       "malformed AOR"));
	json_decref(r);
	json_decref(req.args);
	json_decref(req.opts);
}

static bool has_user(const char *user, const char *domain)
{
	const struct cf_auth_api *api = cf_mod_find("auth")->api;
	struct cf_pl u, d;

	cf_pl_set_str(&u, user);
	cf_pl_set_str(&d, domain);
	return api->user_exists(fx.app, &u, &d);
}

static bool is_local(const char *uri)
{
	struct cf_sip_uri u;
	struct cf_pl pl;

	cf_pl_set_str(&pl, uri);
	assert_int_equal(cf_sip_uri_decode(&u, &pl), 0);
	return cf_app_uri_is_local(fx.app, &u);
}

/* Online (modules initialised, as in confabd): every change reaches the
 * auth module's cache, and the store's domains are served. */
static void test_online(void **state)
{
	char why[256];
	size_t n = 0;
	json_t *r;
	FILE *f;

	(void)state;
	bad("{\"cmd\":\"user reload\"}", "confabd is not running");
	ok("{\"cmd\":\"user add\",\"args\":[\"a@confab.test\"],"
	   "\"opts\":{\"password\":\"x\"}}");
	assert_int_equal(cf_mod_init_all(fx.app), 0);
	assert_true(cf_app_online(fx.app));
	assert_true(has_user("a", "confab.test")); /* loaded at init */

	ok("{\"cmd\":\"user add\",\"args\":[\"b@confab.test\"],"
	   "\"opts\":{\"password\":\"x\"}}");
	assert_true(has_user("b", "confab.test"));
	ok("{\"cmd\":\"user remove\",\"args\":[\"b@confab.test\"]}");
	assert_false(has_user("b", "confab.test"));
	ok("{\"cmd\":\"user passwd\",\"args\":[\"a@confab.test\"],"
	   "\"opts\":{\"password\":\"y\"}}");

	/* several domains: one added online is served at once */
	assert_false(is_local("sip:u@on.test"));
	ok("{\"cmd\":\"domain add\",\"args\":[\"on.test\"]}");
	assert_true(is_local("sip:u@on.test"));
	assert_true(is_local("sip:u@ON.TEST"));
	ok("{\"cmd\":\"user add\",\"args\":[\"c@on.test\"],"
	   "\"opts\":{\"password\":\"x\"}}");
	assert_true(has_user("c", "on.test"));
	assert_false(has_user("c", "confab.test"));
	ok("{\"cmd\":\"domain remove\",\"args\":[\"on.test\"]}");
	assert_false(is_local("sip:u@on.test"));
	assert_false(has_user("c", "on.test"));

	/* a bulk import behind the daemon's back, then user reload */
	f = tmpfile();
	assert_non_null(f);
	fputs("i1@confab.test,p\ni2@second.test,p\n", f);
	rewind(f);
	assert_int_equal(
	    cf_prov_import(fx.st, f, "i.csv", &n, why, sizeof(why)), 0);
	fclose(f);
	assert_false(has_user("i2", "second.test"));
	r = ctl("{\"cmd\":\"user reload\"}");
	assert_true(json_is_true(json_object_get(r, "ok")));
	assert_int_equal(json_integer_value(json_object_get(r, "users")), 3);
	json_decref(r);
	assert_true(has_user("i1", "confab.test"));
	assert_true(has_user("i2", "second.test"));

	/* user show online asks the registrar: no binding yet */
	r = ctl("{\"cmd\":\"user show\",\"args\":[\"a@confab.test\"]}");
	assert_true(json_is_true(json_object_get(r, "ok")));
	assert_int_equal(json_array_size(json_object_get(r, "bindings")), 0);
	assert_string_equal(
	    json_string_value(json_object_get(r, "bindings_from")),
	    "registrar");
	json_decref(r);

	cf_mod_stop_all(fx.app);
	assert_false(cf_app_online(fx.app));
	assert_false(is_local("sip:u@none.test"));
}

/* No store: one clear line, not a crash. */
static void test_no_store(void **state)
{
	(void)state;
	cf_app_set_store(fx.app, NULL);
	bad("{\"cmd\":\"user list\"}", "no store");
	bad("{\"cmd\":\"domain add\",\"args\":[\"x.test\"]}", "no store");
	bad("{\"cmd\":\"store show\"}", "no store");
	cf_app_set_store(fx.app, fx.st);
}

/* Served domains: the configuration's, whatever the store says. */
static void test_uri_is_local(void **state)
{
	struct cf_sip_uri u;
	struct cf_pl pl;

	(void)state;
	cf_pl_set_str(&pl, "sip:alice@SECOND.test");
	assert_int_equal(cf_sip_uri_decode(&u, &pl), 0);
	assert_true(cf_app_uri_is_local(fx.app, &u));
	cf_pl_set_str(&pl, "sip:alice@other.test");
	assert_int_equal(cf_sip_uri_decode(&u, &pl), 0);
	assert_false(cf_app_uri_is_local(fx.app, &u));
}

/* ----------------------------------------------------------- import */

static FILE *text(const char *s)
{
	FILE *f = tmpfile();

	assert_non_null(f);
	fputs(s, f);
	rewind(f);
	return f;
}

static int import(const char *s, size_t *count, char *why, size_t size)
{
	FILE *f = text(s);
	int err = cf_prov_import(fx.st, f, "u.csv", count, why, size);

	fclose(f);
	return err;
}

static void test_import(void **state)
{
	char why[256];
	size_t n = 0;

	(void)state;
	assert_int_equal(import("\xef\xbb\xbf"
	                        "aor,password\r\n"
	                        "# a comment\r\n"
	                        "a@confab.test,pw1\r\n"
	                        "\r\n"
	                        "sip:b@Second.test,pw,with,commas\n"
	                        "c@confab.test,p w",
	                        &n, why, sizeof(why)),
	                 0);
	assert_int_equal(n, 3);
	assert_int_equal(user_count(NULL), 3);
	assert_int_equal(user_count("second.test"), 1);
	/* the password is the rest of the line: commas included */
	{
		struct cf_store_subscriber s1, s2;

		memset(&s1, 0, sizeof(s1));
		memset(&s2, 0, sizeof(s2));
		assert_int_equal(
		    cf_store_subscriber_get(fx.st, "b", "second.test", &s1), 0);
		ok("{\"cmd\":\"user passwd\",\"args\":[\"b@second.test\"],"
		   "\"opts\":{\"password\":\"pw,with,commas\"}}");
		assert_int_equal(
		    cf_store_subscriber_get(fx.st, "b", "second.test", &s2), 0);
		assert_string_equal(s1.ha1[CF_DIGEST_MD5],
		                    s2.ha1[CF_DIGEST_MD5]);
	}

	/* an empty file imports nothing, successfully */
	assert_int_equal(import("", &n, why, sizeof(why)), 0);
	assert_int_equal(n, 0);
}

static void test_import_bad(void **state)
{
	static const struct {
		const char *csv;
		int err;
		const char *why;
	} cases[] = {
	    {"d@confab.test,x\nnocomma\n", EINVAL,
	     "u.csv:2: expected aor,password, got 'nocomma'"},
	    {"d@confab.test,x\n\n# c\nbob,x\n", EINVAL,
	     "u.csv:4: malformed AOR 'bob'"},
	    {"d@confab.test,x\ne@confab.test,\n", EINVAL,
	     "u.csv:2: empty password for e@confab.test"},
	    {"d@confab.test,x\ne@nowhere.test,x\n", ENOENT,
	     "u.csv:2: unknown domain 'nowhere.test'"},
	    {"d@confab.test,x\nd@confab.test,y\n", EALREADY,
	     "u.csv:2: user d@confab.test exists"},
	    {"d@confab.test,x\nold@confab.test,y\n", EALREADY,
	     "u.csv:2: user old@confab.test exists"},
	    {"aor,password\nd@confab.test,x\nsip:@confab.test,y\n", EINVAL,
	     "u.csv:3: malformed AOR"},
	};
	char why[256], longline[1200];
	size_t n;

	(void)state;
	ok("{\"cmd\":\"user add\",\"args\":[\"old@confab.test\"],"
	   "\"opts\":{\"password\":\"x\"}}");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		n = 99;
		assert_int_equal(import(cases[i].csv, &n, why, sizeof(why)),
		                 cases[i].err);
		if (!strstr(why, cases[i].why))
			fail_msg("case %zu: got '%s', want '%s'", i, why,
			         cases[i].why);
		assert_null(strchr(why, '\n'));
		assert_int_equal(n, 99); /* untouched on failure */
		/* all or nothing */
		assert_int_equal(user_count(NULL), 1);
	}
	{
		static const char nul[] =
		    "d@confab.test,x\ne@confab.test,a\0b\n";
		FILE *f = tmpfile();

		assert_non_null(f);
		assert_int_equal(fwrite(nul, 1, sizeof(nul) - 1, f),
		                 sizeof(nul) - 1);
		rewind(f);
		assert_int_equal(
		    cf_prov_import(fx.st, f, "u.csv", &n, why, sizeof(why)),
		    EINVAL);
		fclose(f);
		assert_non_null(strstr(why, "u.csv:2: NUL byte"));
	}
	memset(longline, 'a', sizeof(longline) - 1);
	longline[sizeof(longline) - 1] = '\0';
	assert_int_equal(import(longline, &n, why, sizeof(why)), EINVAL);
	assert_non_null(strstr(why, "u.csv:1: line longer than"));
}

/* Large import: one transaction, counted (no timing asserted). */
static void test_import_many(void **state)
{
	enum { N = 20000 };
	char why[256];
	size_t n = 0;
	FILE *f = tmpfile();

	(void)state;
	assert_non_null(f);
	for (int i = 0; i < N; i++)
		fprintf(f, "u%05d@confab.test,pw%d\n", i, i);
	rewind(f);
	assert_int_equal(
	    cf_prov_import(fx.st, f, "many.csv", &n, why, sizeof(why)), 0);
	fclose(f);
	assert_int_equal(n, N);
	assert_int_equal(user_count("confab.test"), N);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_aor_parse, cf_test_leak_setup,
	                                    cf_test_leak_teardown),
	    cmocka_unit_test_setup_teardown(test_store_open, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_app_store_ref, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_domain_add, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_domain_set, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_domain_remove, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_user_add, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_user_passwd_remove, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_user_list, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_user_show, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_location_show_store, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_online, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_no_store, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_uri_is_local, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_import, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_import_bad, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_import_many, setup, teardown),
	};

	cf_log_set_level(CF_LOG_WARN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
