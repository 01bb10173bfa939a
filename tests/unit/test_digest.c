/* SPDX-License-Identifier: BSD-3-Clause */
/* test_digest.c - unit tests: digest maths against every row of
 * tests/vectors/digest/digest-vectors.tsv, credentials parser, challenge
 * encoder, stateless nonces. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>

#include "core/core.h"
#include "proto/sip/digest.h"
#include "testutil.h"

#define T(f)                                                                   \
	cmocka_unit_test_setup_teardown(f, cf_test_leak_setup,                 \
	                                cf_test_leak_teardown)

/* A slice over a C string, as a pointer to a compound literal. */
#define PL(s) (&(struct cf_pl){(s), strlen(s)})

/* An independent reference: hex of EVP digest `name` over s, cut to
 * `bytes` bytes (0: whole digest). Used for RFC 7616 §3.9.2 as printed
 * (SHA-512 truncated) and to cross-check the RFC 2069 and -sess forms. */
static void ref_hash(const char *name, size_t bytes, const char *s, char *out)
{
	static const char hx[] = "0123456789abcdef";
	unsigned char d[EVP_MAX_MD_SIZE];
	unsigned int dl = 0;
	EVP_MD *md = EVP_MD_fetch(NULL, name, NULL);

	assert_non_null(md);
	assert_int_equal(EVP_Digest(s, strlen(s), d, &dl, md, NULL), 1);
	EVP_MD_free(md);
	if (bytes && bytes < dl)
		dl = (unsigned int)bytes;
	for (unsigned int i = 0; i < dl; i++) {
		out[2 * i] = hx[d[i] >> 4];
		out[2 * i + 1] = hx[d[i] & 15];
	}
	out[2 * dl] = '\0';
}

/* ------------------------------------------------------------ vectors */

enum {
	C_ID,
	C_ALG,
	C_USER,
	C_REALM,
	C_PASS,
	C_METHOD,
	C_URI,
	C_NONCE,
	C_NC,
	C_CNONCE,
	C_QOP,
	C_OPAQUE,
	C_USERHASH,
	C_HA1,
	C_HA2,
	C_RESPONSE,
	C_REFRESP,
	C_COUNT,
};

static const char *const col_names[C_COUNT] = {
    "id",
    "algorithm",
    "username",
    "realm",
    "password",
    "method",
    "uri",
    "nonce",
    "nc",
    "cnonce",
    "qop",
    "opaque",
    "userhash",
    "HA1",
    "HA2",
    "response",
    "reference_response",
};

static char *vectors_path(void)
{
	const char *dir = getenv("CF_VECTORS_DIR");
	static char path[4096];

#ifdef CF_VECTORS_DIR_DEFAULT
	if (!dir)
		dir = CF_VECTORS_DIR_DEFAULT;
#endif
	assert_non_null(dir);
	snprintf(path, sizeof(path), "%s/digest/digest-vectors.tsv", dir);
	return path;
}

/* Split a line on TABs in place; returns the field count. */
static size_t split_tabs(char *line, char **f, size_t max)
{
	size_t n = 0;

	line[strcspn(line, "\r\n")] = '\0';
	while (n < max) {
		char *t = strchr(line, '\t');

		f[n++] = line;
		if (!t)
			break;
		*t = '\0';
		line = t + 1;
	}
	return n;
}

static void truncated_sha512_row(char **v, const char *user, char *ha1,
                                 char *ha2, char *resp, char *uh)
{
	char buf[1024];

	snprintf(buf, sizeof(buf), "%s:%s:%s", user, v[C_REALM], v[C_PASS]);
	ref_hash("SHA2-512", 32, buf, ha1);
	snprintf(buf, sizeof(buf), "%s:%s", v[C_METHOD], v[C_URI]);
	ref_hash("SHA2-512", 32, buf, ha2);
	snprintf(buf, sizeof(buf), "%s:%s:%s:%s:%s:%s", ha1, v[C_NONCE],
	         v[C_NC], v[C_CNONCE], v[C_QOP], ha2);
	ref_hash("SHA2-512", 32, buf, resp);
	snprintf(buf, sizeof(buf), "%s:%s", user, v[C_REALM]);
	ref_hash("SHA2-512", 32, buf, uh);
}

/* Build the Authorization value a client would send for this row, parse
 * it and verify it against the row's HA1 (and refuse a wrong HA1). */
static void row_roundtrip(char **v, enum cf_digest_alg alg, const char *algname)
{
	char hdr[2048], bad[CF_DIGEST_HEX_SIZE];
	struct cf_digest_cred cred;
	bool uh = v[C_USERHASH][0] != '\0';
	int n;

	n = snprintf(hdr, sizeof(hdr),
	             "Digest username=\"%s\", realm=\"%s\", nonce=\"%s\", "
	             "uri=\"%s\", response=\"%s\", algorithm=%s, qop=%s, "
	             "nc=%s, cnonce=\"%s\", opaque=\"%s\"%s",
	             uh ? v[C_USERHASH] : v[C_USER], v[C_REALM], v[C_NONCE],
	             v[C_URI], v[C_RESPONSE], algname, v[C_QOP], v[C_NC],
	             v[C_CNONCE], v[C_OPAQUE], uh ? ", userhash=true" : "");
	assert_true(n > 0 && (size_t)n < sizeof(hdr));
	assert_int_equal(cf_digest_cred_decode(&cred, PL(hdr)), 0);
	assert_true(cred.alg_known);
	assert_int_equal(cred.alg, alg);
	assert_false(cred.sess);
	assert_int_equal(cred.userhash_true, uh);
	assert_int_equal(cred.nc_val, 1);
	assert_int_equal(cf_pl_strcmp(&cred.cnonce, v[C_CNONCE]), 0);
	assert_int_equal(cf_pl_strcmp(&cred.opaque, v[C_OPAQUE]), 0);
	assert_true(cf_digest_cred_verify(&cred, PL(v[C_METHOD]), v[C_HA1]));
	assert_false(cf_digest_cred_verify(&cred, PL("POST"), v[C_HA1]));
	strcpy(bad, v[C_HA1]);
	bad[0] = bad[0] == '0' ? '1' : '0';
	assert_false(cf_digest_cred_verify(&cred, PL(v[C_METHOD]), bad));
}

static void test_vectors_all_rows(void **state)
{
	char line[4096], *f[32];
	int col[C_COUNT];
	size_t rows = 0, published = 0, correct = 0;
	bool header = false;
	FILE *fp;

	(void)state;
	fp = fopen(vectors_path(), "r");
	assert_non_null(fp);
	for (unsigned guard = 0; guard < 1000 && fgets(line, sizeof(line), fp);
	     guard++) {
		char ha1[CF_DIGEST_HEX_SIZE], ha2[CF_DIGEST_HEX_SIZE];
		char resp[CF_DIGEST_HEX_SIZE], uh[CF_DIGEST_HEX_SIZE];
		char *v[C_COUNT], algname[32];
		enum cf_digest_alg alg;
		bool sess;
		size_t n;

		if (line[0] == '#' || line[0] == '\n')
			continue;
		n = split_tabs(line, f, 32);
		if (!header) {
			for (int c = 0; c < C_COUNT; c++) {
				col[c] = -1;
				for (size_t i = 0; i < n; i++)
					if (!strcmp(f[i], col_names[c]))
						col[c] = (int)i;
				assert_true(col[c] >= 0);
			}
			header = true;
			continue;
		}
		for (int c = 0; c < C_COUNT; c++) {
			assert_true((size_t)col[c] < n);
			v[c] = f[col[c]];
		}
		rows++;
		/* "MD5 (algorithm absent)" -> "MD5" */
		snprintf(algname, sizeof(algname), "%.*s",
		         (int)strcspn(v[C_ALG], " "), v[C_ALG]);
		assert_int_equal(cf_digest_alg_decode(PL(algname), &alg, &sess),
		                 0);
		assert_false(sess);
		assert_string_equal(v[C_RESPONSE], v[C_REFRESP]);
		assert_string_equal(v[C_QOP], "auth");

		assert_int_equal(cf_digest_ha1(alg, PL(v[C_USER]),
		                               PL(v[C_REALM]), PL(v[C_PASS]),
		                               ha1),
		                 0);
		assert_int_equal(
		    cf_digest_ha2(alg, PL(v[C_METHOD]), PL(v[C_URI]), ha2), 0);
		assert_int_equal(cf_digest_response(
		                     alg, ha1, PL(v[C_NONCE]), PL(v[C_NC]),
		                     PL(v[C_CNONCE]), PL(v[C_QOP]), ha2, resp),
		                 0);
		assert_int_equal(
		    cf_digest_userhash(alg, PL(v[C_USER]), PL(v[C_REALM]), uh),
		    0);

		if (strstr(v[C_ID], "-as-published")) {
			/* RFC 7616 §3.9.2 as printed: SHA-512 cut to 256 bits,
			 * NOT SHA-512/256 (FIPS 180-4 has other initial
			 * values). Ours must differ from every printed value,
			 * and truncated SHA-512 must reproduce them all. */
			char t1[129], t2[129], tr[129], tu[129];

			published++;
			assert_int_equal(alg, CF_DIGEST_SHA512_256);
			assert_string_not_equal(ha1, v[C_HA1]);
			assert_string_not_equal(ha2, v[C_HA2]);
			assert_string_not_equal(resp, v[C_RESPONSE]);
			assert_string_not_equal(uh, v[C_USERHASH]);
			truncated_sha512_row(v, v[C_USER], t1, t2, tr, tu);
			assert_string_equal(t1, v[C_HA1]);
			assert_string_equal(t2, v[C_HA2]);
			assert_string_equal(tr, v[C_RESPONSE]);
			assert_string_equal(tu, v[C_USERHASH]);
			continue;
		}
		if (strstr(v[C_ID], "-correct"))
			correct++;
		assert_string_equal(ha1, v[C_HA1]);
		assert_string_equal(ha2, v[C_HA2]);
		assert_string_equal(resp, v[C_RESPONSE]);
		if (v[C_USERHASH][0])
			assert_string_equal(uh, v[C_USERHASH]);
		row_roundtrip(v, alg, algname);
	}
	fclose(fp);
	assert_true(header);
	assert_int_equal(rows, 5);
	assert_int_equal(published, 1);
	assert_int_equal(correct, 1);
}

/* ------------------------------------------------------------- maths */

static void test_alg_names(void **state)
{
	enum cf_digest_alg alg;
	bool sess;

	(void)state;
	for (unsigned i = 0; i < CF_DIGEST_ALG_COUNT; i++) {
		for (int s = 0; s < 2; s++) {
			const char *n = cf_digest_alg_name(i, s);

			assert_non_null(n);
			assert_int_equal(
			    cf_digest_alg_decode(PL(n), &alg, &sess), 0);
			assert_int_equal(alg, i);
			assert_int_equal(sess, s);
		}
	}
	assert_int_equal(cf_digest_alg_decode(PL("sha-256-SESS"), &alg, &sess),
	                 0);
	assert_int_equal(alg, CF_DIGEST_SHA256);
	assert_true(sess);
	assert_int_equal(cf_digest_alg_decode(PL("SHA-512"), &alg, &sess),
	                 ENOENT);
	assert_int_equal(cf_digest_alg_decode(PL("MD5-"), &alg, &sess), ENOENT);
	assert_null(cf_digest_alg_name(CF_DIGEST_ALG_COUNT, false));
	assert_int_equal(cf_digest_hexlen(CF_DIGEST_MD5), 32);
	assert_int_equal(cf_digest_hexlen(CF_DIGEST_SHA512_256), 64);
	assert_int_equal(cf_digest_hexlen(CF_DIGEST_ALG_COUNT), 0);
}

static void test_rfc2069_and_sess(void **state)
{
	char ha1[CF_DIGEST_HEX_SIZE], ha2[CF_DIGEST_HEX_SIZE];
	char out[CF_DIGEST_HEX_SIZE], ref[129], buf[512];

	(void)state;
	/* No qop: H(HA1:nonce:HA2), nc and cnonce ignored. */
	assert_int_equal(cf_digest_ha1(CF_DIGEST_MD5, PL("bob"),
	                               PL("example.com"), PL("pw"), ha1),
	                 0);
	assert_int_equal(cf_digest_ha2(CF_DIGEST_MD5, PL("REGISTER"),
	                               PL("sip:example.com"), ha2),
	                 0);
	assert_int_equal(cf_digest_response(CF_DIGEST_MD5, ha1, PL("n1"),
	                                    PL("00000001"), PL("c"), NULL, ha2,
	                                    out),
	                 0);
	snprintf(buf, sizeof(buf), "%s:n1:%s", ha1, ha2);
	ref_hash("MD5", 0, buf, ref);
	assert_string_equal(out, ref);
	assert_int_equal(cf_digest_response(CF_DIGEST_MD5, ha1, PL("n1"), NULL,
	                                    NULL, PL(""), ha2, out),
	                 0);
	assert_string_equal(out, ref);

	/* -sess: H(HA1:nonce:cnonce) */
	assert_int_equal(
	    cf_digest_ha1_sess(CF_DIGEST_SHA256, "abc", PL("n"), PL("c"), out),
	    0);
	ref_hash("SHA2-256", 0, "abc:n:c", ref);
	assert_string_equal(out, ref);
	assert_int_equal(strlen(out), 64);

	/* empty parts still get their separators */
	assert_int_equal(
	    cf_digest_ha1(CF_DIGEST_MD5, PL(""), PL(""), PL(""), out), 0);
	ref_hash("MD5", 0, "::", ref);
	assert_string_equal(out, ref);

	assert_int_equal(
	    cf_digest_ha2(CF_DIGEST_ALG_COUNT, PL("a"), PL("b"), out), EINVAL);
	assert_int_equal(cf_digest_hash(CF_DIGEST_MD5, NULL, 1, out), EINVAL);
}

/* ------------------------------------------------------------- parser */

static const char good[] =
    "digest  username=\"J\\\"o\\\\e\",\r\n realm=\"atlanta.com\" ,"
    "nonce=\"84a4cc6f3082121f32b42a2187831a9e\",\turi=\"sip:atlanta.com\","
    "response=\"7587245234b3434cc3412213e5f113a5\", Algorithm=SHA-256-sess,"
    " cnonce=\"0a4f113b\", opaque=\"\", qop=auth, NC=0000001F, "
    "x-ext=\"a,b\", userhash=false, flag=token";

static void test_parse_good(void **state)
{
	struct cf_digest_cred c;
	struct cf_pl u;
	char buf[16];

	(void)state;
	assert_int_equal(cf_digest_cred_decode(&c, PL(good)), 0);
	assert_int_equal(cf_pl_strcmp(&c.username, "J\\\"o\\\\e"), 0);
	assert_int_equal(cf_digest_unescape(&c.username, buf, sizeof(buf), &u),
	                 0);
	assert_int_equal(cf_pl_strcmp(&u, "J\"o\\e"), 0);
	assert_int_equal(cf_digest_unescape(&c.username, buf, 3, &u), ENOMEM);
	assert_int_equal(cf_pl_strcmp(&c.realm, "atlanta.com"), 0);
	assert_int_equal(
	    cf_pl_strcmp(&c.nonce, "84a4cc6f3082121f32b42a2187831a9e"), 0);
	assert_int_equal(cf_pl_strcmp(&c.uri, "sip:atlanta.com"), 0);
	assert_int_equal(
	    cf_pl_strcmp(&c.response, "7587245234b3434cc3412213e5f113a5"), 0);
	assert_int_equal(cf_pl_strcmp(&c.algorithm, "SHA-256-sess"), 0);
	assert_true(c.alg_known);
	assert_int_equal(c.alg, CF_DIGEST_SHA256);
	assert_true(c.sess);
	assert_int_equal(cf_pl_strcmp(&c.cnonce, "0a4f113b"), 0);
	assert_non_null(c.opaque.p);
	assert_int_equal(c.opaque.l, 0);
	assert_int_equal(cf_pl_strcmp(&c.qop, "auth"), 0);
	assert_int_equal(c.nc_val, 0x1f);
	assert_false(c.userhash_true);
	assert_int_equal(cf_pl_strcmp(&c.userhash, "false"), 0);
	assert_false(cf_pl_isset(&c.username_star));

	/* no unescape needed: slice reused, nothing copied */
	assert_int_equal(cf_digest_unescape(&c.realm, buf, 1, &u), 0);
	assert_ptr_equal(u.p, c.realm.p);

	/* minimal RFC 2069 form, unknown algorithm is not an error */
	assert_int_equal(
	    cf_digest_cred_decode(&c, PL("Digest username=\"a\",realm=\"r\","
	                                 "nonce=\"n\",uri=\"u\",response=\"x\","
	                                 "algorithm=\"SHA-1\"")),
	    0);
	assert_false(c.alg_known);
	assert_false(c.qop.p);
	assert_int_equal(c.nc_val, 0);
	assert_false(cf_digest_cred_verify(&c, PL("REGISTER"),
	                                   "00000000000000000000000000000000"));

	/* username* alone is fine (RFC 7616 §3.4.4) */
	assert_int_equal(
	    cf_digest_cred_decode(
	        &c, PL("Digest username*=UTF-8''J%C3%A4s%C3%B8n%20Doe, "
	               "realm=\"r\", nonce=\"n\", uri=\"u\", "
	               "response=\"x\"")),
	    0);
	assert_int_equal(
	    cf_pl_strcmp(&c.username_star, "UTF-8''J%C3%A4s%C3%B8n%20Doe"), 0);
}

static void test_parse_missing(void **state)
{
	static const char *const need[] = {"username", "realm", "nonce", "uri",
	                                   "response"};
	char hdr[512];

	(void)state;
	for (size_t i = 0; i < sizeof(need) / sizeof(need[0]); i++) {
		struct cf_digest_cred c;
		int n = snprintf(hdr, sizeof(hdr), "Digest ");

		for (size_t k = 0; k < sizeof(need) / sizeof(need[0]); k++) {
			if (k != i)
				n += snprintf(hdr + n, sizeof(hdr) - n,
				              "%s%s=\"v\"", n > 7 ? ", " : "",
				              need[k]);
		}
		assert_int_equal(cf_digest_cred_decode(&c, PL(hdr)), EBADMSG);
	}
	struct cf_digest_cred c;
	const char *base = "Digest username=\"a\", realm=\"r\", nonce=\"n\", "
	                   "uri=\"u\", response=\"x\"";

	snprintf(hdr, sizeof(hdr), "%s", base);
	assert_int_equal(cf_digest_cred_decode(&c, PL(hdr)), 0);
	snprintf(hdr, sizeof(hdr), "%s, qop=auth, nc=00000001", base);
	assert_int_equal(cf_digest_cred_decode(&c, PL(hdr)), EBADMSG);
	snprintf(hdr, sizeof(hdr), "%s, qop=auth, cnonce=\"c\"", base);
	assert_int_equal(cf_digest_cred_decode(&c, PL(hdr)), EBADMSG);
	snprintf(hdr, sizeof(hdr), "%s, qop=auth, cnonce=\"c\", nc=00000001",
	         base);
	assert_int_equal(cf_digest_cred_decode(&c, PL(hdr)), 0);
	snprintf(hdr, sizeof(hdr), "%s, qop=auth, cnonce=\"c\", nc=0000001",
	         base);
	assert_int_equal(cf_digest_cred_decode(&c, PL(hdr)), EBADMSG);
	snprintf(hdr, sizeof(hdr), "%s, qop=auth, cnonce=\"c\", nc=0000000g",
	         base);
	assert_int_equal(cf_digest_cred_decode(&c, PL(hdr)), EBADMSG);
	snprintf(hdr, sizeof(hdr), "%s, username*=UTF-8''x", base);
	assert_int_equal(cf_digest_cred_decode(&c, PL(hdr)), EBADMSG);
	assert_int_equal(cf_digest_cred_decode(&c, PL("Digest")), EBADMSG);
	assert_int_equal(cf_digest_cred_decode(&c, PL("Digest ")), EBADMSG);
	assert_int_equal(cf_digest_cred_decode(&c, PL("")), EBADMSG);
}

static void test_parse_malformed(void **state)
{
	static const char *const bad[] = {
	    /* unterminated quote */
	    "Digest username=\"a, realm=\"r\", nonce=\"n\", uri=\"u\", "
	    "response=\"x",
	    "Digest username=\"a\", realm=\"r\", nonce=\"n\", uri=\"u\", "
	    "response=\"x\\\"",
	    "Digest username=\"a\", realm=\"r\", nonce=\"n\", uri=\"u\", "
	    "response=\"x\\",
	    /* duplicate parameters, also differing in case */
	    "Digest username=\"a\", realm=\"r\", nonce=\"n\", uri=\"u\", "
	    "response=\"x\", realm=\"r\"",
	    "Digest username=\"a\", realm=\"r\", nonce=\"n\", uri=\"u\", "
	    "response=\"x\", RESPONSE=\"y\"",
	    "Digest username=\"a\", realm=\"r\", nonce=\"n\", uri=\"u\", "
	    "response=\"x\", qop=auth, qop=auth, nc=00000001, cnonce=\"c\"",
	    /* other schemes and broken syntax */
	    "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==",
	    "Digestusername=\"a\", realm=\"r\", nonce=\"n\", uri=\"u\", "
	    "response=\"x\"",
	    "Digest username=\"a\", realm=\"r\", nonce=\"n\", uri=\"u\", "
	    "response=\"x\",",
	    "Digest username=\"a\",, realm=\"r\", nonce=\"n\", uri=\"u\", "
	    "response=\"x\"",
	    "Digest username=\"a\" realm=\"r\", nonce=\"n\", uri=\"u\", "
	    "response=\"x\"",
	    "Digest username=, realm=\"r\", nonce=\"n\", uri=\"u\", "
	    "response=\"x\"",
	    "Digest username \"a\", realm=\"r\", nonce=\"n\", uri=\"u\", "
	    "response=\"x\"",
	    "Digest username=\"a\", realm=\"r\", nonce=\"n\", uri=\"u\", "
	    "response=\"x\", =\"v\"",
	    /* control character inside a quoted string */
	    "Digest username=\"a\x01\", realm=\"r\", nonce=\"n\", "
	    "uri=\"u\", response=\"x\"",
	    /* escaped line break */
	    "Digest username=\"a\\\r\n b\", realm=\"r\", nonce=\"n\", "
	    "uri=\"u\", response=\"x\"",
	};
	struct cf_digest_cred c;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (cf_digest_cred_decode(&c, PL(bad[i])) != EBADMSG)
			fail_msg("accepted: %s", bad[i]);
	}
	assert_int_equal(cf_digest_cred_decode(NULL, PL("Digest a=b")), EINVAL);
	/* NUL inside a quoted value (slices may hold any byte) */
	static const char nul[] = "Digest username=\"a\0b\", realm=\"r\", "
	                          "nonce=\"n\", uri=\"u\", response=\"x\"";
	assert_int_equal(
	    cf_digest_cred_decode(&c, &(struct cf_pl){nul, sizeof(nul) - 1}),
	    EBADMSG);
}

/* Every prefix of a good header is refused or parsed, never overread
 * (run under ASan: the copy is exactly the prefix length). */
static void test_parse_prefixes(void **state)
{
	size_t n = strlen(good), ok = 0;

	(void)state;
	for (size_t l = 0; l <= n; l++) {
		struct cf_digest_cred c;
		char *b = malloc(l ? l : 1);
		int err;

		assert_non_null(b);
		memcpy(b, good, l);
		err = cf_digest_cred_decode(&c, &(struct cf_pl){b, l});
		assert_true(err == 0 || err == EBADMSG);
		ok += err == 0;
		free(b);
	}
	assert_true(ok >= 1); /* at least the whole header */
}

/* Mutations of the good header (a byte replaced by one that matters to the
 * grammar, or deleted, one to three times): the parser answers 0 or
 * EBADMSG, every slice lies inside the input, and nothing is read past it
 * (ASan: each input sits in its own exact-size block). Deterministic. */
static void test_parse_mutations(void **state)
{
	static const char alphabet[] = "\"\\,= \t\r\n*%a0\x01\xc3";
	uint32_t seed = 12345;
	size_t ok = 0, bad = 0;

	(void)state;
	for (int i = 0; i < 20000; i++) {
		char buf[sizeof(good)];
		size_t l = sizeof(good) - 1;
		struct cf_digest_cred c;
		int n, err;
		char *b;

		memcpy(buf, good, l);
		seed = seed * 1103515245u + 12345u;
		n = 1 + (int)((seed >> 16) % 3);
		for (int k = 0; k < n && l; k++) {
			size_t pos;

			seed = seed * 1103515245u + 12345u;
			pos = (seed >> 16) % l;
			seed = seed * 1103515245u + 12345u;
			if ((seed >> 16) % 4 == 0) {
				memmove(buf + pos, buf + pos + 1, l - pos - 1);
				l--;
			} else {
				buf[pos] = alphabet[(seed >> 20) %
				                    (sizeof(alphabet) - 1)];
			}
		}
		b = malloc(l ? l : 1);
		assert_non_null(b);
		memcpy(b, buf, l);
		err = cf_digest_cred_decode(&c, &(struct cf_pl){b, l});
		assert_true(err == 0 || err == EBADMSG);
		if (!err) {
			const struct cf_pl *f[] = {
			    &c.username, &c.realm, &c.nonce,  &c.uri,
			    &c.response, &c.qop,   &c.cnonce, &c.nc};

			for (size_t j = 0; j < sizeof(f) / sizeof(f[0]); j++)
				assert_true(!f[j]->p ||
				            (f[j]->p >= b &&
				             f[j]->p + f[j]->l <= b + l));
			ok++;
		} else {
			bad++;
		}
		free(b);
	}
	assert_true(ok > 0 && bad > 0);
	print_message("mutated headers: %zu parsed, %zu refused\n", ok, bad);
}

static void test_verify(void **state)
{
	char ha1[CF_DIGEST_HEX_SIZE], ha2[CF_DIGEST_HEX_SIZE];
	char resp[CF_DIGEST_HEX_SIZE], hdr[1024];
	struct cf_digest_cred c;

	(void)state;
	for (unsigned a = 0; a < CF_DIGEST_ALG_COUNT; a++) {
		for (int sess = 0; sess < 2; sess++) {
			char h1[CF_DIGEST_HEX_SIZE];

			assert_int_equal(cf_digest_ha1(a, PL("alice"),
			                               PL("example.com"),
			                               PL("secret"), ha1),
			                 0);
			strcpy(h1, ha1);
			if (sess)
				assert_int_equal(
				    cf_digest_ha1_sess(a, ha1, PL("nn"),
				                       PL("cc"), h1),
				    0);
			assert_int_equal(
			    cf_digest_ha2(a, PL("REGISTER"),
			                  PL("sip:example.com:5060"), ha2),
			    0);
			assert_int_equal(
			    cf_digest_response(a, h1, PL("nn"), PL("0000000a"),
			                       PL("cc"), PL("auth"), ha2, resp),
			    0);
			for (char *r = resp; *r; r++)
				if (*r >= 'a' && *r <= 'f')
					*r = (char)(*r - 'a' + 'A');
			snprintf(hdr, sizeof(hdr),
			         "Digest username=\"alice\", "
			         "realm=\"example.com\", nonce=\"nn\", "
			         "uri=\"sip:example.com:5060\", "
			         "response=\"%s\", algorithm=%s, qop=auth, "
			         "nc=0000000a, cnonce=\"cc\"",
			         resp, cf_digest_alg_name(a, sess));
			assert_int_equal(cf_digest_cred_decode(&c, PL(hdr)), 0);
			assert_int_equal(c.nc_val, 10);
			assert_true(
			    cf_digest_cred_verify(&c, PL("REGISTER"), ha1));
			assert_false(
			    cf_digest_cred_verify(&c, PL("INVITE"), ha1));
			/* HA1 of another algorithm has the wrong length or
			 * value */
			assert_false(cf_digest_cred_verify(
			    &c, PL("REGISTER"),
			    "0123456789abcdef0123456789abcdef"));
		}
	}
	/* qop=auth-int is not offered: never verifies */
	snprintf(hdr, sizeof(hdr),
	         "Digest username=\"alice\", realm=\"r\", nonce=\"n\", "
	         "uri=\"u\", response=\"%s\", qop=auth-int, nc=00000001, "
	         "cnonce=\"c\"",
	         resp);
	assert_int_equal(cf_digest_cred_decode(&c, PL(hdr)), 0);
	assert_false(cf_digest_cred_verify(&c, PL("REGISTER"), ha1));
}

/* ---------------------------------------------------------- challenge */

static void test_challenge(void **state)
{
	struct cf_digest_chal ch = {
	    .realm = "example.com",
	    .nonce = "abc",
	    .alg = CF_DIGEST_SHA256,
	    .qop_auth = true,
	};
	struct cf_mbuf *mb = NULL;
	struct cf_pl pl;

	(void)state;
	assert_int_equal(cf_mbuf_alloc(&mb, 64), 0);
	assert_int_equal(cf_digest_chal_encode(mb, &ch), 0);
	pl = cf_mbuf_pl(mb);
	assert_int_equal(cf_pl_strcmp(&pl, "Digest realm=\"example.com\", "
	                                   "nonce=\"abc\", algorithm=SHA-256, "
	                                   "qop=\"auth\""),
	                 0);
	mb->pos = mb->end = 0;
	ch.realm = "we\"ird\\";
	ch.opaque = "op";
	ch.alg = CF_DIGEST_MD5;
	ch.sess = true;
	ch.qop_auth = false;
	ch.stale = true;
	ch.userhash = true;
	assert_int_equal(cf_digest_chal_encode(mb, &ch), 0);
	pl = cf_mbuf_pl(mb);
	assert_int_equal(cf_pl_strcmp(&pl, "Digest realm=\"we\\\"ird\\\\\", "
	                                   "nonce=\"abc\", opaque=\"op\", "
	                                   "algorithm=MD5-sess, stale=true, "
	                                   "userhash=true"),
	                 0);
	ch.nonce = NULL;
	assert_int_equal(cf_digest_chal_encode(mb, &ch), EINVAL);
	ch.nonce = "n";
	ch.alg = CF_DIGEST_ALG_COUNT;
	assert_int_equal(cf_digest_chal_encode(mb, &ch), EINVAL);
	mb = cf_mem_deref(mb);
}

/* ------------------------------------------------------------- nonces */

static const uint8_t secret[32] = "0123456789abcdef0123456789abcdef";
static const uint8_t secret2[32] = "0123456789abcdef0123456789abcdeX";

static void test_nonce(void **state)
{
	char n1[CF_DIGEST_NONCE_SIZE], n2[CF_DIGEST_NONCE_SIZE];
	char x[CF_DIGEST_NONCE_SIZE];
	struct cf_pl realm = CF_PL("example.com");
	uint64_t now = 1764000000, issued = 0;

	(void)state;
	assert_int_equal(
	    cf_digest_nonce_make(secret, sizeof(secret), &realm, now, 1, n1),
	    0);
	assert_int_equal(strlen(n1), CF_DIGEST_NONCE_LEN);
	assert_int_equal(strspn(n1, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmn"
	                            "opqrstuvwxyz0123456789-_"),
	                 CF_DIGEST_NONCE_LEN);
	/* another salt, same second: another nonce */
	assert_int_equal(
	    cf_digest_nonce_make(secret, sizeof(secret), &realm, now, 2, n2),
	    0);
	assert_string_not_equal(n1, n2);
	/* deterministic for the same inputs */
	assert_int_equal(
	    cf_digest_nonce_make(secret, sizeof(secret), &realm, now, 1, x), 0);
	assert_string_equal(n1, x);

	assert_int_equal(cf_digest_nonce_check(secret, sizeof(secret), &realm,
	                                       PL(n1), now + 10, 30, &issued),
	                 CF_DIGEST_NONCE_OK);
	assert_int_equal(issued, now);
	assert_int_equal(cf_digest_nonce_check(secret, sizeof(secret), &realm,
	                                       PL(n1), now + 30, 30, NULL),
	                 CF_DIGEST_NONCE_OK);
	issued = 0;
	assert_int_equal(cf_digest_nonce_check(secret, sizeof(secret), &realm,
	                                       PL(n1), now + 31, 30, &issued),
	                 CF_DIGEST_NONCE_STALE);
	assert_int_equal(issued, now);
	/* small clock skew between nodes is tolerated, more is not */
	assert_int_equal(cf_digest_nonce_check(secret, sizeof(secret), &realm,
	                                       PL(n1), now - 5, 30, NULL),
	                 CF_DIGEST_NONCE_OK);
	assert_int_equal(cf_digest_nonce_check(secret, sizeof(secret), &realm,
	                                       PL(n1), now - 6, 30, NULL),
	                 CF_DIGEST_NONCE_BAD);
	/* another realm, another secret */
	assert_int_equal(cf_digest_nonce_check(secret, sizeof(secret),
	                                       PL("example.org"), PL(n1), now,
	                                       30, NULL),
	                 CF_DIGEST_NONCE_BAD);
	assert_int_equal(cf_digest_nonce_check(secret2, sizeof(secret2), &realm,
	                                       PL(n1), now, 30, NULL),
	                 CF_DIGEST_NONCE_BAD);
	/* every single-character alteration is refused, including the
	 * non-canonical spellings of the last character */
	for (size_t i = 0; i < CF_DIGEST_NONCE_LEN; i++) {
		static const char alt[] = "AQgw-_9a";

		for (const char *a = alt; *a; a++) {
			if (*a == n1[i])
				continue;
			strcpy(x, n1);
			x[i] = *a;
			assert_int_equal(
			    cf_digest_nonce_check(secret, sizeof(secret),
			                          &realm, PL(x), now, 30, NULL),
			    CF_DIGEST_NONCE_BAD);
		}
	}
	/* the last character carries 4 bits and 2 zero bits: setting a zero
	 * bit decodes to the same bytes, yet must be refused */
	{
		static const char b64[] =
		    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijk"
		    "lmnopqrstuvwxyz0123456789-_";
		size_t v =
		    (size_t)(strchr(b64, n1[CF_DIGEST_NONCE_LEN - 1]) - b64);

		assert_int_equal(v & 3, 0);
		strcpy(x, n1);
		x[CF_DIGEST_NONCE_LEN - 1] = b64[v | 1];
		assert_int_equal(cf_digest_nonce_check(secret, sizeof(secret),
		                                       &realm, PL(x), now, 30,
		                                       NULL),
		                 CF_DIGEST_NONCE_BAD);
	}
	strcpy(x, n1);
	x[CF_DIGEST_NONCE_LEN - 1] = '*';
	assert_int_equal(cf_digest_nonce_check(secret, sizeof(secret), &realm,
	                                       PL(x), now, 30, NULL),
	                 CF_DIGEST_NONCE_BAD);
	assert_int_equal(cf_digest_nonce_check(secret, sizeof(secret), &realm,
	                                       &(struct cf_pl){n1, 42}, now, 30,
	                                       NULL),
	                 CF_DIGEST_NONCE_BAD);
	assert_int_equal(cf_digest_nonce_check(secret, sizeof(secret), &realm,
	                                       PL(""), now, 30, NULL),
	                 CF_DIGEST_NONCE_BAD);
	/* short secret */
	assert_int_equal(cf_digest_nonce_make(secret, 15, &realm, now, 1, x),
	                 EINVAL);
	assert_int_equal(
	    cf_digest_nonce_check(secret, 15, &realm, PL(n1), now, 30, NULL),
	    CF_DIGEST_NONCE_BAD);
}

/* Both decoders walk auth-params with one walker (digest_int.h): the
 * credentials a client sends strictly, the challenges a server sends
 * leniently (a trailing comma, a control character in a quoted-string). */
static void test_param_modes(void **state)
{
	static const char *const lax[] = {
	    "Digest username=\"a\", realm=\"r\", nonce=\"n\", uri=\"u\", "
	    "response=\"x\",",
	    "Digest username=\"a\", realm=\"r\x01\", nonce=\"n\", uri=\"u\", "
	    "response=\"x\"",
	    "Digest username=\"a\", realm=\"r\\\r\", nonce=\"n\", uri=\"u\", "
	    "response=\"x\"",
	};
	const char *good = "Digest username=\"a\", realm=\"r\", nonce=\"n\", "
	                   "uri=\"u\", response=\"x\"";
	struct cf_digest_chal_rx ch;
	struct cf_digest_cred c;

	(void)state;
	assert_int_equal(cf_digest_cred_decode(&c, PL(good)), 0);
	assert_int_equal(cf_digest_chal_decode(&ch, PL(good)), 0);
	for (size_t i = 0; i < sizeof(lax) / sizeof(lax[0]); i++) {
		assert_int_equal(cf_digest_cred_decode(&c, PL(lax[i])),
		                 EBADMSG);
		assert_int_equal(cf_digest_chal_decode(&ch, PL(lax[i])), 0);
		assert_int_equal(ch.nonce.l, 1);
	}
	/* lenient still refuses a quote left open, another scheme, no params */
	assert_int_equal(cf_digest_chal_decode(&ch, PL("Digest realm=\"r")),
	                 EBADMSG);
	assert_int_equal(cf_digest_chal_decode(&ch, PL("Basic realm=\"r\"")),
	                 EBADMSG);
	assert_int_equal(cf_digest_chal_decode(&ch, PL("Digest ")), EBADMSG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    T(test_vectors_all_rows),
	    T(test_alg_names),
	    T(test_rfc2069_and_sess),
	    T(test_parse_good),
	    T(test_parse_missing),
	    T(test_parse_malformed),
	    T(test_parse_prefixes),
	    T(test_parse_mutations),
	    T(test_verify),
	    T(test_challenge),
	    T(test_nonce),
	    T(test_param_modes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
