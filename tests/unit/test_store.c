/* SPDX-License-Identifier: BSD-3-Clause */
/* test_store.c - unit tests: the store's API on SQLite (domains,
 * subscribers, bulk import, location, transactions), migrations and
 * persistence across reopen. Each test works in its own /tmp directory,
 * removed afterwards. */
#include <errno.h>
#include <ftw.h>
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "core/core.h"
#include "store/store.h"
#include "store/store_priv.h"
#include "testutil.h"

static char dir[64];
static char dbpath[128];
static char uri[160];

static int rm_cb(const char *path, const struct stat *sb, int type,
                 struct FTW *ftw)
{
	(void)sb;
	(void)type;
	(void)ftw;
	return remove(path);
}

static int setup(void **state)
{
	(void)state;
	cf_test_leak_start();
	strcpy(dir, "/tmp/cf-store-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(dbpath, sizeof(dbpath), "%s/confab.db", dir);
	snprintf(uri, sizeof(uri), "sqlite:%s", dbpath);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	cf_mem_fail_after(0);
	nftw(dir, rm_cb, 8, FTW_DEPTH | FTW_PHYS);
	if (access(dir, F_OK) == 0) {
		fprintf(stderr, "temp dir %s not removed\n", dir);
		return -1;
	}
	cf_test_leak_check();
	return 0;
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

static struct cf_store *open_ok(void)
{
	struct cf_store *st = NULL;

	assert_int_equal(cf_store_open(&st, uri, NULL), 0);
	assert_non_null(st);
	return st;
}

static void add_domain(struct cf_store *st, const char *name, const char *realm,
                       const char *algs)
{
	struct cf_store_domain d = {name, realm, algs};

	assert_int_equal(cf_store_domain_add(st, &d), 0);
}

/* ------------------------------------------------------------- open */

static void test_open(void **state)
{
	struct cf_store *st = NULL;
	struct cf_store_cfg cfg = {.busy_timeout_ms = 100, .sync_full = true};
	unsigned v = 0;
	sqlite3 *db;
	sqlite3_stmt *s;
	char bad[200];

	(void)state;
	assert_int_equal(cf_store_open(NULL, uri, NULL), EINVAL);
	assert_int_equal(cf_store_open(&st, NULL, NULL), EINVAL);
	assert_int_equal(cf_store_open(&st, "", NULL), EINVAL);
	assert_int_equal(cf_store_open(&st, "sqlite:", NULL), EINVAL);
	assert_int_equal(cf_store_open(&st, "postgresql://localhost/x", NULL),
	                 EINVAL);
	snprintf(bad, sizeof(bad), "%s/no/such/dir/x.db", dir);
	assert_int_equal(cf_store_open(&st, bad, NULL), EIO);
	assert_null(st);

	/* out of memory at each of the two allocations */
	for (long n = 1; n <= 2; n++) {
		cf_mem_fail_after(n);
		assert_int_equal(cf_store_open(&st, uri, NULL), ENOMEM);
		cf_mem_fail_after(0);
		assert_null(st);
	}

	assert_int_equal(cf_store_open(&st, uri, &cfg), 0);
	assert_int_equal(cf_store_version(st, &v), 0);
	assert_int_equal(v, 5);
	assert_int_equal(cf_store_version_latest(st), 5);
	assert_int_equal(cf_store_sqlite_migrations_latest(), 5);
	assert_int_equal(cf_store_version(st, NULL), EINVAL);

	/* the file is in WAL mode (a property of the database file) */
	assert_int_equal(sqlite3_open(dbpath, &db), SQLITE_OK);
	assert_int_equal(
	    sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &s, NULL),
	    SQLITE_OK);
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	assert_string_equal((const char *)sqlite3_column_text(s, 0), "wal");
	sqlite3_finalize(s);
	sqlite3_close(db);
	st = cf_mem_deref(st);

	/* a file that is not a database is refused, not overwritten */
	{
		char junk[200];
		FILE *f;

		snprintf(junk, sizeof(junk), "%s/junk.db", dir);
		f = fopen(junk, "wb");
		assert_non_null(f);
		for (int i = 0; i < 512; i++)
			fputs("not a database ", f);
		fclose(f);
		assert_int_equal(cf_store_open(&st, junk, NULL), EIO);
		assert_null(st);
	}

	/* a plain path and an in-memory database work too */
	assert_int_equal(cf_store_open(&st, dbpath, NULL), 0);
	st = cf_mem_deref(st);
	assert_int_equal(cf_store_open(&st, ":memory:", NULL), 0);
	assert_int_equal(cf_store_version(st, &v), 0);
	assert_int_equal(v, 5);
	st = cf_mem_deref(st);
}

/* ----------------------------------------------------------- domains */

struct dom_seen {
	int n;
	char names[8][64];
	char realms[8][64];
	char algs[8][64];
	int stop_after;
};

static bool dom_h(const struct cf_store_domain *d, void *arg)
{
	struct dom_seen *ds = arg;

	if (ds->n < 8) {
		snprintf(ds->names[ds->n], 64, "%s", d->name);
		snprintf(ds->realms[ds->n], 64, "%s", d->realm);
		snprintf(ds->algs[ds->n], 64, "%s",
		         d->digest_algs ? d->digest_algs : "(null)");
	}
	ds->n++;
	return ds->stop_after && ds->n >= ds->stop_after;
}

static void test_domains(void **state)
{
	struct cf_store *st = open_ok();
	struct dom_seen ds = {0};
	struct cf_store_domain d;
	char longname[300];

	(void)state;
	add_domain(st, "example.com", NULL, NULL);
	add_domain(st, "b.example.org", "Realm B", "SHA-256,MD5");
	add_domain(st, "a.example.net", "", "");
	add_domain(st, "[2001:db8::1]", NULL, "SHA-512-256");

	/* existing, also in another case */
	d = (struct cf_store_domain){"example.com", NULL, NULL};
	assert_int_equal(cf_store_domain_add(st, &d), EALREADY);
	d.name = "EXAMPLE.com";
	assert_int_equal(cf_store_domain_add(st, &d), EALREADY);

	/* invalid input */
	static const char *const badnames[] = {"", "a b", "a@b", "a/b", "x\n"};
	for (size_t i = 0; i < sizeof(badnames) / sizeof(*badnames); i++) {
		d = (struct cf_store_domain){badnames[i], NULL, NULL};
		assert_int_equal(cf_store_domain_add(st, &d), EINVAL);
	}
	memset(longname, 'a', sizeof(longname));
	longname[CF_STORE_DOMAIN_MAX + 1] = '\0';
	d = (struct cf_store_domain){longname, NULL, NULL};
	assert_int_equal(cf_store_domain_add(st, &d), EINVAL);
	longname[CF_STORE_DOMAIN_MAX] = '\0'; /* at the limit: fine */
	assert_int_equal(cf_store_domain_add(st, &d), 0);
	assert_int_equal(cf_store_domain_remove(st, longname), 0);
	d = (struct cf_store_domain){NULL, NULL, NULL};
	assert_int_equal(cf_store_domain_add(st, &d), EINVAL);
	static const char *const badalgs[] = {
	    "SHA-1", "MD5,MD5", "MD5-sess", "MD5,", ",MD5", "MD5 ,SHA-256"};
	for (size_t i = 0; i < sizeof(badalgs) / sizeof(*badalgs); i++) {
		d = (struct cf_store_domain){"c.example", NULL, badalgs[i]};
		assert_int_equal(cf_store_domain_add(st, &d), EINVAL);
	}
	d = (struct cf_store_domain){"c.example", "bad\x01realm", NULL};
	assert_int_equal(cf_store_domain_add(st, &d), EINVAL);
	assert_int_equal(cf_store_domain_add(NULL, &d), EINVAL);
	assert_int_equal(cf_store_domain_add(st, NULL), EINVAL);

	/* get: realm defaults to the name; lookups ignore case */
	assert_int_equal(cf_store_domain_get(st, "EXAMPLE.COM", dom_h, &ds), 0);
	assert_int_equal(ds.n, 1);
	assert_string_equal(ds.names[0], "example.com");
	assert_string_equal(ds.realms[0], "example.com");
	assert_string_equal(ds.algs[0], "(null)");
	assert_int_equal(cf_store_domain_get(st, "c.example", dom_h, &ds),
	                 ENOENT);
	assert_int_equal(cf_store_domain_get(st, "a b", dom_h, &ds), EINVAL);

	/* list: by name, every field */
	memset(&ds, 0, sizeof(ds));
	assert_int_equal(cf_store_domain_list(st, dom_h, &ds), 0);
	assert_int_equal(ds.n, 4);
	assert_string_equal(ds.names[0], "[2001:db8::1]");
	assert_string_equal(ds.algs[0], "SHA-512-256");
	assert_string_equal(ds.names[1], "a.example.net");
	assert_string_equal(ds.realms[1], "a.example.net");
	assert_string_equal(ds.algs[1], "(null)");
	assert_string_equal(ds.names[2], "b.example.org");
	assert_string_equal(ds.realms[2], "Realm B");
	assert_string_equal(ds.algs[2], "SHA-256,MD5");
	assert_string_equal(ds.names[3], "example.com");
	/* a handler can stop the walk */
	memset(&ds, 0, sizeof(ds));
	ds.stop_after = 2;
	assert_int_equal(cf_store_domain_list(st, dom_h, &ds), 0);
	assert_int_equal(ds.n, 2);
	assert_int_equal(cf_store_domain_list(st, NULL, NULL), EINVAL);

	/* algorithms can change; the realm cannot */
	assert_int_equal(cf_store_domain_set_algs(st, "example.com", "SHA-256"),
	                 0);
	assert_int_equal(cf_store_domain_set_algs(st, "nope.example", "MD5"),
	                 ENOENT);
	assert_int_equal(cf_store_domain_set_algs(st, "example.com", "SHA-1"),
	                 EINVAL);
	memset(&ds, 0, sizeof(ds));
	assert_int_equal(cf_store_domain_get(st, "example.com", dom_h, &ds), 0);
	assert_string_equal(ds.algs[0], "SHA-256");
	assert_int_equal(cf_store_domain_set_algs(st, "example.com", NULL), 0);
	memset(&ds, 0, sizeof(ds));
	assert_int_equal(cf_store_domain_get(st, "example.com", dom_h, &ds), 0);
	assert_string_equal(ds.algs[0], "(null)");

	/* remove takes the domain's subscribers with it */
	assert_int_equal(
	    cf_store_subscriber_add(st, "alice", "example.com", "pw"), 0);
	assert_int_equal(cf_store_domain_remove(st, "Example.Com"), 0);
	assert_int_equal(cf_store_domain_remove(st, "example.com"), ENOENT);
	assert_int_equal(cf_store_domain_remove(st, ""), EINVAL);
	add_domain(st, "example.com", NULL, NULL);
	struct cf_store_subscriber sub;
	assert_int_equal(
	    cf_store_subscriber_get(st, "alice", "example.com", &sub), ENOENT);
	st = cf_mem_deref(st);
}

/* ------------------------------------------------------- subscribers */

struct sub_seen {
	int n;
	char ids[8][64];
	char ha1_md5[8][CF_DIGEST_HEX_SIZE];
};

static bool sub_h(const struct cf_store_subscriber *s, void *arg)
{
	struct sub_seen *ss = arg;

	if (ss->n < 8) {
		snprintf(ss->ids[ss->n], 64, "%s@%s", s->user, s->domain);
		strcpy(ss->ha1_md5[ss->n], s->ha1[CF_DIGEST_MD5]);
	}
	ss->n++;
	return false;
}

/* Does the database file (and its WAL) contain the bytes of s? */
static bool file_has(const char *suffix, const char *s)
{
	char path[200], *buf;
	bool found = false;
	size_t n, l = strlen(s);
	FILE *f;

	snprintf(path, sizeof(path), "%s%s", dbpath, suffix);
	f = fopen(path, "rb");
	if (!f)
		return false;
	buf = malloc(64 << 20);
	assert_non_null(buf);
	n = fread(buf, 1, 64 << 20, f);
	fclose(f);
	for (size_t i = 0; i + l <= n && !found; i++)
		found = !memcmp(buf + i, s, l);
	free(buf);
	return found;
}

struct fwd_seen {
	size_t n;
	char last[160];
};

static bool fwd_h(const struct cf_store_forward *f, void *arg)
{
	struct fwd_seen *fs = arg;

	fs->n++;
	snprintf(fs->last, sizeof(fs->last), "%s@%s %s %s %s %s", f->user,
	         f->domain, f->uri[0] ? f->uri[0] : "-",
	         f->uri[1] ? f->uri[1] : "-", f->uri[2] ? f->uri[2] : "-",
	         f->uri[3] ? f->uri[3] : "-");
	return false;
}

/* Per-user failure routes (migration 4): set, replace, clear, unknown
 * user, bad URIs, gone with the subscriber. */
static void test_forwards(void **state)
{
	struct cf_store *st = open_ok();
	struct cf_store_forward f = {
	    "bob", "example.com", {"sip:vm@127.0.0.1", NULL, NULL, NULL}};
	struct fwd_seen fs = {0};

	(void)state;
	add_domain(st, "example.com", NULL, NULL);
	assert_int_equal(cf_store_subscriber_add(st, "bob", "example.com", "p"),
	                 0);
	assert_int_equal(cf_store_forward_set(st, &f), 0);
	assert_int_equal(cf_store_forward_list(st, fwd_h, &fs), 0);
	assert_int_equal(fs.n, 1);
	assert_string_equal(fs.last, "bob@example.com sip:vm@127.0.0.1 - - -");
	f.uri[0] = NULL;
	f.uri[1] = "sip:a@127.0.0.1:5080";
	f.uri[3] = "sips:b@example.net";
	assert_int_equal(cf_store_forward_set(st, &f), 0);
	fs.n = 0;
	assert_int_equal(cf_store_forward_list(st, fwd_h, &fs), 0);
	assert_int_equal(fs.n, 1);
	assert_string_equal(
	    fs.last,
	    "bob@example.com - sip:a@127.0.0.1:5080 - sips:b@example.net");
	/* bad URIs and users */
	f.uri[2] = "tel:+123";
	assert_int_equal(cf_store_forward_set(st, &f), EINVAL);
	f.uri[2] = "sip:a b@x";
	assert_int_equal(cf_store_forward_set(st, &f), EINVAL);
	f.uri[2] = "";
	assert_int_equal(cf_store_forward_set(st, &f), EINVAL);
	f.uri[2] = NULL;
	f.user = "nobody";
	assert_int_equal(cf_store_forward_set(st, &f), ENOENT);
	f.uri[1] = f.uri[3] = NULL;
	assert_int_equal(cf_store_forward_set(st, &f), ENOENT);
	/* clear */
	f.user = "bob";
	assert_int_equal(cf_store_forward_set(st, &f), 0);
	fs.n = 0;
	assert_int_equal(cf_store_forward_list(st, fwd_h, &fs), 0);
	assert_int_equal(fs.n, 0);
	/* gone with the subscriber */
	f.uri[0] = "sip:vm@127.0.0.1";
	assert_int_equal(cf_store_forward_set(st, &f), 0);
	assert_int_equal(cf_store_subscriber_remove(st, "bob", "example.com"),
	                 0);
	fs.n = 0;
	assert_int_equal(cf_store_forward_list(st, fwd_h, &fs), 0);
	assert_int_equal(fs.n, 0);
	cf_mem_deref(st);
}

static void test_subscribers(void **state)
{
	struct cf_store *st = open_ok();
	struct cf_store_subscriber sub;
	struct sub_seen ss = {0};
	char ha1[CF_DIGEST_HEX_SIZE], longuser[200];

	(void)state;
	/* RFC 2617 §3.5: realm "testrealm@host.com" */
	add_domain(st, "host.com", "testrealm@host.com", NULL);
	add_domain(st, "example.com", NULL, NULL);
	assert_int_equal(
	    cf_store_subscriber_add(st, "Mufasa", "host.com", "Circle Of Life"),
	    0);
	assert_int_equal(
	    cf_store_subscriber_add(st, "Mufasa", "host.com", "other"),
	    EALREADY);
	assert_int_equal(
	    cf_store_subscriber_add(st, "Mufasa", "HOST.com", "other"),
	    EALREADY);
	assert_int_equal(
	    cf_store_subscriber_add(st, "Mufasa", "nope.com", "pw"), ENOENT);
	/* the user part is case-sensitive (RFC 3261 §19.1.4) */
	assert_int_equal(
	    cf_store_subscriber_add(st, "mufasa", "host.com", "pw2"), 0);
	assert_int_equal(
	    cf_store_subscriber_add(st, "bob", "example.com", "pw3"), 0);
	assert_int_equal(
	    cf_store_subscriber_add(st, "%41b;x=1", "example.com", "pw4"), 0);

	/* invalid input */
	static const char *const badusers[] = {"",    "a b", "a@b", "a:b",
	                                       "a\"", "%4",  "%zz", "a<"};
	for (size_t i = 0; i < sizeof(badusers) / sizeof(*badusers); i++)
		assert_int_equal(
		    cf_store_subscriber_add(st, badusers[i], "host.com", "pw"),
		    EINVAL);
	memset(longuser, 'u', sizeof(longuser));
	longuser[CF_STORE_USER_MAX + 1] = '\0';
	assert_int_equal(
	    cf_store_subscriber_add(st, longuser, "host.com", "pw"), EINVAL);
	longuser[CF_STORE_USER_MAX] = '\0';
	assert_int_equal(
	    cf_store_subscriber_add(st, longuser, "host.com", "pw"), 0);
	assert_int_equal(cf_store_subscriber_remove(st, longuser, "host.com"),
	                 0);
	assert_int_equal(cf_store_subscriber_add(st, "carol", "host.com", ""),
	                 EINVAL);
	assert_int_equal(cf_store_subscriber_add(st, "carol", "host.com", NULL),
	                 EINVAL);
	assert_int_equal(cf_store_subscriber_add(st, "carol", "", "pw"),
	                 EINVAL);

	/* get: the RFC's HA1, and the other two over the same realm */
	assert_int_equal(
	    cf_store_subscriber_get(st, "Mufasa", "Host.Com", &sub), 0);
	assert_string_equal(sub.user, "Mufasa");
	assert_string_equal(sub.domain, "Host.Com");
	assert_string_equal(sub.ha1[CF_DIGEST_MD5],
	                    "939e7578ed9e3c518a452acee763bce9");
	for (int a = 0; a < CF_DIGEST_ALG_COUNT; a++) {
		assert_int_equal(cf_digest_ha1(a, &CF_PL("Mufasa"),
		                               &CF_PL("testrealm@host.com"),
		                               &CF_PL("Circle Of Life"), ha1),
		                 0);
		assert_string_equal(sub.ha1[a], ha1);
	}
	assert_true(sub.created > 1700000000);
	assert_int_equal(sub.created, sub.updated);
	assert_int_equal(
	    cf_store_subscriber_get(st, "nobody", "host.com", &sub), ENOENT);
	assert_int_equal(
	    cf_store_subscriber_get(st, "Mufasa", "nope.com", &sub), ENOENT);
	assert_int_equal(cf_store_subscriber_get(st, "a b", "host.com", &sub),
	                 EINVAL);
	assert_int_equal(
	    cf_store_subscriber_get(st, "Mufasa", "host.com", NULL), EINVAL);

	/* passwd: new HA1s, unknown user */
	assert_int_equal(cf_store_subscriber_passwd(st, "Mufasa", "host.com",
	                                            "Circle of Life"),
	                 0);
	assert_int_equal(
	    cf_store_subscriber_get(st, "Mufasa", "host.com", &sub), 0);
	assert_int_equal(cf_digest_ha1(CF_DIGEST_MD5, &CF_PL("Mufasa"),
	                               &CF_PL("testrealm@host.com"),
	                               &CF_PL("Circle of Life"), ha1),
	                 0);
	assert_string_equal(sub.ha1[CF_DIGEST_MD5], ha1);
	assert_string_not_equal(sub.ha1[CF_DIGEST_MD5],
	                        "939e7578ed9e3c518a452acee763bce9");
	assert_int_equal(
	    cf_store_subscriber_passwd(st, "nobody", "host.com", "x"), ENOENT);
	assert_int_equal(
	    cf_store_subscriber_passwd(st, "nobody", "nope.com", "x"), ENOENT);
	assert_int_equal(
	    cf_store_subscriber_passwd(st, "Mufasa", "host.com", ""), EINVAL);

	/* list: all, one domain */
	assert_int_equal(cf_store_subscriber_list(st, NULL, sub_h, &ss), 0);
	assert_int_equal(ss.n, 4);
	assert_string_equal(ss.ids[0], "%41b;x=1@example.com");
	assert_string_equal(ss.ids[1], "bob@example.com");
	assert_string_equal(ss.ids[2], "Mufasa@host.com");
	assert_string_equal(ss.ha1_md5[2], ha1);
	assert_string_equal(ss.ids[3], "mufasa@host.com");
	memset(&ss, 0, sizeof(ss));
	assert_int_equal(cf_store_subscriber_list(st, "HOST.COM", sub_h, &ss),
	                 0);
	assert_int_equal(ss.n, 2);
	memset(&ss, 0, sizeof(ss));
	assert_int_equal(cf_store_subscriber_list(st, "nope.com", sub_h, &ss),
	                 0);
	assert_int_equal(ss.n, 0);
	assert_int_equal(cf_store_subscriber_list(st, "a b", sub_h, &ss),
	                 EINVAL);

	/* remove */
	assert_int_equal(cf_store_subscriber_remove(st, "mufasa", "host.com"),
	                 0);
	assert_int_equal(cf_store_subscriber_remove(st, "mufasa", "host.com"),
	                 ENOENT);
	assert_int_equal(cf_store_subscriber_remove(st, "x", "nope.com"),
	                 ENOENT);
	assert_int_equal(cf_store_subscriber_remove(st, "", "host.com"),
	                 EINVAL);
	st = cf_mem_deref(st);

	/* passwords are never stored: not in the file, not in the WAL */
	assert_false(file_has("", "Circle of Life"));
	assert_false(file_has("-wal", "Circle of Life"));
	assert_true(file_has("", "Mufasa")); /* the check can find things */
}

/* ------------------------------------------------------------ import */

struct gen {
	size_t n, i;
	size_t bad_at; /* 1-based row to make bad, 0: none */
	const char *bad_user;
	const char *domain;
	int src_err_at; /* 1-based row where the source fails */
	char user[32];
	char pass[32];
};

static int gen_next(struct cf_store_import_row *row, void *arg)
{
	struct gen *g = arg;

	if (g->i >= g->n)
		return ENOENT;
	g->i++;
	if (g->src_err_at && g->i == (size_t)g->src_err_at)
		return EBADMSG;
	snprintf(g->user, sizeof(g->user), "u%06zu", g->i);
	snprintf(g->pass, sizeof(g->pass), "pw-%zu", g->i * 7919);
	row->user = g->user;
	row->domain = g->domain;
	row->password = g->pass;
	if (g->bad_at == g->i)
		row->user = g->bad_user;
	return 0;
}

static bool count_h(const struct cf_store_subscriber *s, void *arg)
{
	(void)s;
	(*(size_t *)arg)++;
	return false;
}

static void test_import(void **state)
{
	struct cf_store *st = open_ok();
	struct cf_store_subscriber sub;
	struct gen g = {.n = 100000, .domain = "example.com"};
	char ha1[CF_DIGEST_HEX_SIZE];
	struct timespec t0, t1;
	size_t count = 0, rows = 0;

	(void)state;
	add_domain(st, "example.com", NULL, NULL);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(cf_store_subscriber_import(st, gen_next, &g, &count),
	                 0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	assert_int_equal(count, 100000);
	print_message("import of 100000 subscribers: %.3f s\n",
	              (double)(t1.tv_sec - t0.tv_sec) +
	                  (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
	assert_int_equal(cf_store_subscriber_list(st, NULL, count_h, &rows), 0);
	assert_int_equal(rows, 100000);
	/* spot checks: first, middle, last */
	static const size_t probe[] = {1, 54321, 100000};
	for (size_t i = 0; i < 3; i++) {
		char user[32], pass[32];

		snprintf(user, sizeof(user), "u%06zu", probe[i]);
		snprintf(pass, sizeof(pass), "pw-%zu", probe[i] * 7919);
		assert_int_equal(
		    cf_store_subscriber_get(st, user, "example.com", &sub), 0);
		assert_int_equal(
		    cf_digest_ha1(CF_DIGEST_SHA512_256,
		                  &(struct cf_pl){user, strlen(user)},
		                  &CF_PL("example.com"),
		                  &(struct cf_pl){pass, strlen(pass)}, ha1),
		    0);
		assert_string_equal(sub.ha1[CF_DIGEST_SHA512_256], ha1);
	}

	/* all or nothing: an existing user in row 3 of a new batch */
	add_domain(st, "other.com", NULL, NULL);
	g = (struct gen){
	    .n = 5, .domain = "other.com", .bad_at = 3, .bad_user = "existing"};
	assert_int_equal(
	    cf_store_subscriber_add(st, "existing", "other.com", "x"), 0);
	assert_int_equal(cf_store_subscriber_import(st, gen_next, &g, &count),
	                 EALREADY);
	assert_int_equal(count, 2); /* 0-based index of the failing row */
	assert_int_equal(
	    cf_store_subscriber_get(st, "u000002", "other.com", &sub), ENOENT);
	/* invalid row, unknown domain, source error */
	g = (struct gen){
	    .n = 5, .domain = "other.com", .bad_at = 4, .bad_user = "a b"};
	assert_int_equal(cf_store_subscriber_import(st, gen_next, &g, &count),
	                 EINVAL);
	assert_int_equal(count, 3);
	g = (struct gen){.n = 5, .domain = "nope.com"};
	assert_int_equal(cf_store_subscriber_import(st, gen_next, &g, &count),
	                 ENOENT);
	assert_int_equal(count, 0);
	g = (struct gen){.n = 5, .domain = "other.com", .src_err_at = 5};
	assert_int_equal(cf_store_subscriber_import(st, gen_next, &g, &count),
	                 EBADMSG);
	assert_int_equal(count, 4);
	rows = 0;
	assert_int_equal(
	    cf_store_subscriber_list(st, "other.com", count_h, &rows), 0);
	assert_int_equal(rows, 1); /* only the one added by hand */
	/* an empty source imports nothing and succeeds */
	g = (struct gen){.n = 0, .domain = "other.com"};
	assert_int_equal(cf_store_subscriber_import(st, gen_next, &g, &count),
	                 0);
	assert_int_equal(count, 0);
	/* not inside a caller's transaction */
	assert_int_equal(cf_store_txn_begin(st), 0);
	g = (struct gen){.n = 1, .domain = "other.com"};
	assert_int_equal(cf_store_subscriber_import(st, gen_next, &g, NULL),
	                 EALREADY);
	assert_int_equal(cf_store_txn_rollback(st), 0);
	assert_int_equal(cf_store_subscriber_import(st, NULL, NULL, NULL),
	                 EINVAL);
	st = cf_mem_deref(st);
}

/* ----------------------------------------------------------- location */

struct loc_seen {
	int n;
	struct cf_store_binding b[8];
	char strs[8][14][160];
	int stop_after;
};

static const char *keep(char *dst, const char *s)
{
	if (!s)
		return NULL;
	snprintf(dst, 160, "%s", s);
	return dst;
}

static bool loc_h(const struct cf_store_binding *b, void *arg)
{
	struct loc_seen *ls = arg;

	if (ls->n < 8) {
		struct cf_store_binding *c = &ls->b[ls->n];
		char(*s)[160] = ls->strs[ls->n];

		*c = *b;
		c->aor = keep(s[0], b->aor);
		c->contact = keep(s[1], b->contact);
		c->received = keep(s[2], b->received);
		c->path = keep(s[3], b->path);
		c->instance = keep(s[4], b->instance);
		c->call_id = keep(s[5], b->call_id);
		c->user_agent = keep(s[6], b->user_agent);
		c->socket = keep(s[7], b->socket);
		c->node = keep(s[8], b->node);
	}
	ls->n++;
	return ls->stop_after && ls->n >= ls->stop_after;
}

static void test_location(void **state)
{
	struct cf_store *st = open_ok();
	struct cf_store_binding b = {
	    .aor = "sip:alice@example.com",
	    .contact = "sip:alice@192.0.2.1:5060;transport=tcp",
	    .received = "tcp:192.0.2.1:40000",
	    .path = "<sip:edge.example.com;lr>",
	    .instance = "<urn:uuid:00000000-0000-1000-8000-000A95A0E128>",
	    .reg_id = 1,
	    .expires = 2000000000,
	    .q = 500,
	    .call_id = "a84b4c76e66710@pc33.atlanta.com",
	    .cseq = 314159,
	    .flags = 0x5,
	    .user_agent = "baresip v1.0",
	    .socket = "tcp:127.0.0.1:5060",
	    .node = "node-a",
	};
	struct cf_store_binding b2 = {
	    .aor = "sip:alice@example.com",
	    .contact = "sip:alice@[2001:db8::2]",
	    .expires = 1000,
	    .q = -1,
	    .call_id = "c2",
	    .cseq = 1,
	};
	struct cf_store_binding b3 = {
	    .aor = "sip:bob@example.com",
	    .contact = "sip:bob@192.0.2.3",
	    .expires = 1500,
	    .q = 1000,
	    .call_id = "c3",
	    .cseq = 7,
	};
	struct loc_seen ls = {0};
	size_t n = 0;

	(void)state;
	assert_int_equal(cf_store_location_upsert(st, &b), 0);
	assert_int_equal(cf_store_location_upsert(st, &b2), 0);
	assert_int_equal(cf_store_location_upsert(st, &b3), 0);

	/* every field back, NULLs kept NULL, by contact */
	assert_int_equal(cf_store_location_list(st, b.aor, loc_h, &ls), 0);
	assert_int_equal(ls.n, 2);
	struct cf_store_binding *r = &ls.b[0]; /* "sip:alice@1" < "...@[" */
	assert_string_equal(r->contact, b.contact);
	assert_string_equal(r->received, b.received);
	assert_string_equal(r->path, b.path);
	assert_string_equal(r->instance, b.instance);
	assert_int_equal(r->reg_id, 1);
	assert_int_equal(r->expires, 2000000000);
	assert_int_equal(r->q, 500);
	assert_string_equal(r->call_id, b.call_id);
	assert_int_equal(r->cseq, 314159);
	assert_int_equal(r->flags, 5);
	assert_string_equal(r->user_agent, b.user_agent);
	assert_string_equal(r->socket, b.socket);
	assert_string_equal(r->node, "node-a");
	r = &ls.b[1];
	assert_string_equal(r->contact, b2.contact);
	assert_null(r->received);
	assert_null(r->path);
	assert_null(r->instance);
	assert_null(r->user_agent);
	assert_int_equal(r->q, -1);
	assert_string_equal(r->node, "");

	/* upsert on the same (aor, contact) replaces, no new row */
	b.expires = 2000000600;
	b.cseq = 314160;
	b.path = NULL;
	assert_int_equal(cf_store_location_upsert(st, &b), 0);
	memset(&ls, 0, sizeof(ls));
	assert_int_equal(cf_store_location_load(st, loc_h, &ls), 0);
	assert_int_equal(ls.n, 3);
	assert_string_equal(ls.b[0].aor, "sip:alice@example.com");
	assert_string_equal(ls.b[0].contact, b.contact);
	assert_int_equal(ls.b[0].expires, 2000000600);
	assert_int_equal(ls.b[0].cseq, 314160);
	assert_null(ls.b[0].path);
	assert_string_equal(ls.b[1].contact, b2.contact);
	assert_string_equal(ls.b[2].aor, "sip:bob@example.com");
	memset(&ls, 0, sizeof(ls));
	ls.stop_after = 1;
	assert_int_equal(cf_store_location_load(st, loc_h, &ls), 0);
	assert_int_equal(ls.n, 1);

	/* invalid bindings */
	struct cf_store_binding bad = b3;
	bad.call_id = NULL;
	assert_int_equal(cf_store_location_upsert(st, &bad), EINVAL);
	bad = b3;
	bad.contact = "";
	assert_int_equal(cf_store_location_upsert(st, &bad), EINVAL);
	bad = b3;
	bad.q = 1001;
	assert_int_equal(cf_store_location_upsert(st, &bad), EINVAL);
	bad.q = -2;
	assert_int_equal(cf_store_location_upsert(st, &bad), EINVAL);
	bad = b3;
	bad.user_agent = "evil\r\nHeader: x";
	assert_int_equal(cf_store_location_upsert(st, &bad), EINVAL);
	assert_int_equal(cf_store_location_upsert(st, NULL), EINVAL);
	assert_int_equal(cf_store_location_list(st, NULL, loc_h, &ls), EINVAL);
	assert_int_equal(cf_store_location_load(st, NULL, NULL), EINVAL);

	/* expiry: expires <= now goes, later stays */
	assert_int_equal(cf_store_location_delete_expired(st, 999, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(cf_store_location_delete_expired(st, 1000, &n), 0);
	assert_int_equal(n, 1); /* b2 */
	assert_int_equal(cf_store_location_delete_expired(st, 1000, NULL), 0);
	memset(&ls, 0, sizeof(ls));
	assert_int_equal(cf_store_location_list(st, b.aor, loc_h, &ls), 0);
	assert_int_equal(ls.n, 1);

	/* delete one, delete all of an aor */
	assert_int_equal(cf_store_location_delete(st, b3.aor, b3.contact), 0);
	assert_int_equal(cf_store_location_delete(st, b3.aor, b3.contact),
	                 ENOENT);
	assert_int_equal(cf_store_location_delete(st, "", b3.contact), EINVAL);
	assert_int_equal(cf_store_location_upsert(st, &b2), 0);
	assert_int_equal(cf_store_location_delete_aor(st, b.aor, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(cf_store_location_delete_aor(st, b.aor, &n), 0);
	assert_int_equal(n, 0);
	memset(&ls, 0, sizeof(ls));
	assert_int_equal(cf_store_location_load(st, loc_h, &ls), 0);
	assert_int_equal(ls.n, 0);
	st = cf_mem_deref(st);
}

/* ------------------------------------------------------- transactions */

static void test_txn(void **state)
{
	struct cf_store *st = open_ok();
	struct cf_store_subscriber sub;

	(void)state;
	add_domain(st, "example.com", NULL, NULL);
	assert_int_equal(cf_store_txn_commit(st), EINVAL);
	assert_int_equal(cf_store_txn_rollback(st), EINVAL);
	assert_int_equal(cf_store_txn_begin(st), 0);
	assert_int_equal(cf_store_txn_begin(st), EALREADY);
	assert_int_equal(cf_store_subscriber_add(st, "a", "example.com", "p"),
	                 0);
	assert_int_equal(cf_store_txn_rollback(st), 0);
	assert_int_equal(cf_store_subscriber_get(st, "a", "example.com", &sub),
	                 ENOENT);
	assert_int_equal(cf_store_txn_begin(st), 0);
	assert_int_equal(cf_store_subscriber_add(st, "a", "example.com", "p"),
	                 0);
	assert_int_equal(cf_store_subscriber_add(st, "b", "example.com", "p"),
	                 0);
	assert_int_equal(cf_store_txn_commit(st), 0);
	assert_int_equal(cf_store_subscriber_get(st, "b", "example.com", &sub),
	                 0);
	assert_int_equal(cf_store_txn_begin(NULL), EINVAL);
	/* a transaction left open is rolled back at close */
	assert_int_equal(cf_store_txn_begin(st), 0);
	assert_int_equal(cf_store_subscriber_add(st, "c", "example.com", "p"),
	                 0);
	st = cf_mem_deref(st);
	st = open_ok();
	assert_int_equal(cf_store_subscriber_get(st, "c", "example.com", &sub),
	                 ENOENT);
	st = cf_mem_deref(st);
}

/* Two handles (confabd and confabctl) on one file: each sees the other's
 * commits; a writer blocked past its busy timeout gets ETIMEDOUT. */
static void test_two_handles(void **state)
{
	struct cf_store_cfg cfg = {.busy_timeout_ms = 50};
	struct cf_store *a = open_ok(), *b = NULL;
	struct cf_store_subscriber sub;

	(void)state;
	assert_int_equal(cf_store_open(&b, uri, &cfg), 0);
	add_domain(a, "example.com", NULL, NULL);
	assert_int_equal(cf_store_subscriber_add(b, "x", "example.com", "p"),
	                 0);
	assert_int_equal(cf_store_subscriber_get(a, "x", "example.com", &sub),
	                 0);
	assert_int_equal(cf_store_txn_begin(a), 0);
	assert_int_equal(cf_store_subscriber_add(b, "y", "example.com", "p"),
	                 ETIMEDOUT);
	/* readers are not blocked by the writer (WAL) */
	assert_int_equal(cf_store_subscriber_get(b, "x", "example.com", &sub),
	                 0);
	assert_int_equal(cf_store_txn_commit(a), 0);
	assert_int_equal(cf_store_subscriber_add(b, "y", "example.com", "p"),
	                 0);
	b = cf_mem_deref(b);
	a = cf_mem_deref(a);
}

/* -------------------------------------------------- persistence, migrations */

static void test_reopen(void **state)
{
	struct cf_store *st = open_ok();
	struct cf_store_subscriber sub;
	struct cf_store_binding b = {
	    .aor = "sip:a@example.com",
	    .contact = "sip:a@192.0.2.1",
	    .expires = 2000000000,
	    .q = -1,
	    .call_id = "c",
	    .cseq = 2,
	};
	struct loc_seen ls = {0};
	struct dom_seen ds = {0};
	unsigned v = 0;

	(void)state;
	add_domain(st, "example.com", "Example", "SHA-256,MD5");
	assert_int_equal(cf_store_subscriber_add(st, "a", "example.com", "p"),
	                 0);
	assert_int_equal(cf_store_location_upsert(st, &b), 0);
	st = cf_mem_deref(st);

	st = open_ok();
	assert_int_equal(cf_store_version(st, &v), 0);
	assert_int_equal(v, 5);
	assert_int_equal(cf_store_domain_get(st, "example.com", dom_h, &ds), 0);
	assert_string_equal(ds.realms[0], "Example");
	assert_string_equal(ds.algs[0], "SHA-256,MD5");
	assert_int_equal(cf_store_subscriber_get(st, "a", "example.com", &sub),
	                 0);
	assert_int_equal(cf_store_location_load(st, loc_h, &ls), 0);
	assert_int_equal(ls.n, 1);
	assert_string_equal(ls.b[0].contact, "sip:a@192.0.2.1");
	assert_int_equal(ls.b[0].cseq, 2);
	st = cf_mem_deref(st);
}

/* A commit survives kill -9 of the process that made it (WAL with
 * synchronous=NORMAL: the WAL frames are written before COMMIT returns). */
static void test_kill9(void **state)
{
	struct cf_store_binding b = {
	    .aor = "sip:k@example.com",
	    .contact = "sip:k@192.0.2.7",
	    .expires = 2000000000,
	    .q = -1,
	    .call_id = "kill9",
	    .cseq = 9,
	};
	struct loc_seen ls = {0};
	struct cf_store *st;
	int status = 0;
	char wal[200];
	pid_t pid;

	(void)state;
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct cf_store *cst = NULL;

		if (cf_store_open(&cst, uri, NULL) ||
		    cf_store_location_upsert(cst, &b))
			_exit(1);
		/* uncommitted: must be gone after the kill */
		b.contact = "sip:k@192.0.2.8";
		if (cf_store_txn_begin(cst) ||
		    cf_store_location_upsert(cst, &b))
			_exit(1);
		kill(getpid(), SIGKILL);
		_exit(2);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGKILL);
	/* the WAL was left behind, not checkpointed: recovery reads it */
	snprintf(wal, sizeof(wal), "%s-wal", dbpath);
	assert_int_equal(access(wal, F_OK), 0);
	st = open_ok();
	assert_int_equal(cf_store_location_load(st, loc_h, &ls), 0);
	assert_int_equal(ls.n, 1);
	assert_string_equal(ls.b[0].contact, "sip:k@192.0.2.7");
	assert_string_equal(ls.b[0].call_id, "kill9");
	st = cf_mem_deref(st);
}

static int count_rows(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *s;
	int n = -1;

	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK);
	if (sqlite3_step(s) == SQLITE_ROW)
		n = sqlite3_column_int(s, 0);
	sqlite3_finalize(s);
	return n;
}

static void test_migrate_v1(void **state)
{
	struct cf_store *st = NULL;
	struct cf_store_subscriber sub;
	struct dom_seen ds = {0};
	unsigned v = 0;
	sqlite3 *db;

	(void)state;
	/* a version-1 database, as the first release made it */
	assert_int_equal(sqlite3_open(dbpath, &db), SQLITE_OK);
	assert_int_equal(cf_store_sqlite_migrate(db, 1, &v), 0);
	assert_int_equal(v, 1);
	assert_int_equal(count_rows(db, "SELECT COUNT(*) FROM sqlite_master "
	                                "WHERE name = 'location'"),
	                 0);
	assert_int_equal(
	    sqlite3_exec(db,
	                 "INSERT INTO domains (id, name, realm, created) "
	                 "VALUES (7, 'old.example', 'Old Realm', 1);"
	                 "INSERT INTO subscribers (domain_id, user, "
	                 "ha1_md5, ha1_sha256, ha1_sha512_256, created, "
	                 "updated) VALUES (7, 'bob', "
	                 "'0123456789abcdef0123456789abcdef', 'x', 'y', "
	                 "1, 2)",
	                 NULL, NULL, NULL),
	    SQLITE_OK);
	/* re-running to the same target is a no-op */
	assert_int_equal(cf_store_sqlite_migrate(db, 1, &v), 0);
	assert_int_equal(v, 1);
	assert_int_equal(cf_store_sqlite_migrate(db, 99, &v), EINVAL);
	sqlite3_close(db);

	/* open: upgraded in place to the latest, data kept */
	assert_int_equal(cf_store_open(&st, uri, NULL), 0);
	assert_int_equal(cf_store_version(st, &v), 0);
	assert_int_equal(v, 5);
	assert_int_equal(cf_store_domain_get(st, "old.example", dom_h, &ds), 0);
	assert_string_equal(ds.realms[0], "Old Realm");
	assert_string_equal(ds.algs[0], "(null)"); /* the v3 column */
	assert_int_equal(
	    cf_store_subscriber_get(st, "bob", "old.example", &sub), 0);
	assert_string_equal(sub.ha1[CF_DIGEST_MD5],
	                    "0123456789abcdef0123456789abcdef");
	assert_int_equal(sub.updated, 2);
	assert_int_equal(cf_store_domain_set_algs(st, "old.example", "MD5"), 0);
	struct cf_store_binding b = {.aor = "sip:bob@old.example",
	                             .contact = "sip:bob@192.0.2.9",
	                             .q = -1,
	                             .call_id = "c",
	                             .expires = 5};
	assert_int_equal(cf_store_location_upsert(st, &b), 0);
	st = cf_mem_deref(st);

	/* one schema_version row per migration, in order */
	assert_int_equal(sqlite3_open(dbpath, &db), SQLITE_OK);
	assert_int_equal(count_rows(db, "SELECT COUNT(*) FROM schema_version"),
	                 5);
	assert_int_equal(count_rows(db, "SELECT group_concat(version, '') "
	                                "FROM (SELECT version FROM "
	                                "schema_version ORDER BY version)"),
	                 12345);

	/* a database from a newer confab is refused, not touched */
	assert_int_equal(sqlite3_exec(db,
	                              "INSERT INTO schema_version VALUES "
	                              "(99, 'future', 0)",
	                              NULL, NULL, NULL),
	                 SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(cf_store_open(&st, uri, NULL), EPROTO);
	assert_null(st);
}

/* Several threads on one handle: the handle's lock serialises them. */
struct thr_arg {
	struct cf_store *st;
	int id;
	int err;
};

static void *thr_main(void *p)
{
	struct thr_arg *ta = p;

	for (int i = 0; i < 200 && !ta->err; i++) {
		char user[32];
		struct cf_store_subscriber sub;

		snprintf(user, sizeof(user), "t%d-%d", ta->id, i);
		ta->err =
		    cf_store_subscriber_add(ta->st, user, "example.com", "pw");
		if (!ta->err)
			ta->err = cf_store_subscriber_get(ta->st, user,
			                                  "example.com", &sub);
	}
	return NULL;
}

static void test_threads(void **state)
{
	struct cf_store *st = open_ok();
	struct thr_arg ta[4];
	pthread_t th[4];
	size_t rows = 0;

	(void)state;
	add_domain(st, "example.com", NULL, NULL);
	for (int i = 0; i < 4; i++) {
		ta[i] = (struct thr_arg){st, i, 0};
		assert_int_equal(pthread_create(&th[i], NULL, thr_main, &ta[i]),
		                 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(ta[i].err, 0);
	}
	assert_int_equal(cf_store_subscriber_list(st, NULL, count_h, &rows), 0);
	assert_int_equal(rows, 800);
	st = cf_mem_deref(st);
}

/* CDRs (migration 5): put inserts then updates by uid; list gives the
 * last N oldest first; interrupt closes the open ones only. */
struct cdrs {
	char disp[8][16];
	int64_t end[8], dur[8];
	char contact[8][40];
	size_t n;
};

static bool cdr_h(const struct cf_store_cdr *c, void *arg)
{
	struct cdrs *l = arg;

	if (l->n < 8) {
		snprintf(l->disp[l->n], sizeof(l->disp[0]), "%s",
		         c->disposition);
		snprintf(l->contact[l->n], sizeof(l->contact[0]), "%s",
		         c->contact ? c->contact : "");
		l->end[l->n] = c->end_ms;
		l->dur[l->n] = c->duration_ms;
		l->n++;
	}
	return false;
}

static void test_cdrs(void **state)
{
	struct cf_store *st = open_ok();
	struct cf_store_cdr c = {.uid = "u1", .call_id = "c1",
	                         .caller = "sip:a@x", .callee = "sip:b@x",
	                         .ruri = "sip:b@x", .start_ms = 1000,
	                         .disposition = "open"};
	struct cdrs l = {0};
	size_t n = 0;

	(void)state;
	assert_int_equal(cf_store_cdr_put(st, &c), 0);
	c.contact = "sip:b@10.0.0.1";
	c.answer_ms = 2000;
	c.code = 200;
	assert_int_equal(cf_store_cdr_put(st, &c), 0); /* same uid: update */
	c = (struct cf_store_cdr){.uid = "u2", .call_id = "c2",
	                          .start_ms = 3000, .end_ms = 3500,
	                          .disposition = "busy", .code = 486};
	assert_int_equal(cf_store_cdr_put(st, &c), 0);
	c.uid = NULL;
	assert_int_equal(cf_store_cdr_put(st, &c), EINVAL);

	assert_int_equal(cf_store_cdr_list(st, 0, cdr_h, &l), 0);
	assert_int_equal(l.n, 2);
	assert_string_equal(l.disp[0], "open");
	assert_string_equal(l.contact[0], "sip:b@10.0.0.1");
	assert_string_equal(l.disp[1], "busy");

	/* a restart: the open one is interrupted, duration from answer */
	assert_int_equal(cf_store_cdr_interrupt(st, 9000, &n), 0);
	assert_int_equal(n, 1);
	memset(&l, 0, sizeof(l));
	assert_int_equal(cf_store_cdr_list(st, 1, cdr_h, &l), 0);
	assert_int_equal(l.n, 1);
	assert_string_equal(l.disp[0], "busy"); /* the last one only */
	memset(&l, 0, sizeof(l));
	assert_int_equal(cf_store_cdr_list(st, 2, cdr_h, &l), 0);
	assert_string_equal(l.disp[0], "interrupted");
	assert_int_equal(l.end[0], 9000);
	assert_int_equal(l.dur[0], 7000);
	assert_int_equal(cf_store_cdr_interrupt(st, 9500, &n), 0);
	assert_int_equal(n, 0);
	cf_mem_deref(st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    T(test_open),       T(test_domains),     T(test_subscribers),
	    T(test_forwards),   T(test_import),      T(test_location),
	    T(test_txn),        T(test_two_handles), T(test_reopen),
	    T(test_migrate_v1),
	    T(test_cdrs), T(test_threads),     T(test_kill9),
	};

	cf_log_set_level(CF_LOG_WARN); /* no migration notices */
	return cmocka_run_group_tests(tests, NULL, NULL);
}
