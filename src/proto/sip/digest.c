/* SPDX-License-Identifier: BSD-3-Clause */
/* digest.c - Digest maths, credentials parser, challenges, stateless nonces
 * (RFC 2617, RFC 7616, RFC 8760, RFC 3261 §22). */
#include <errno.h>
#include <pthread.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "proto/sip/digest_int.h"

/* The message digests and the HMAC, fetched once (explicit fetching avoids
 * OpenSSL 3's per-call implicit lookup) and only read afterwards. */
static EVP_MD *mds[CF_DIGEST_ALG_COUNT];
static EVP_MAC *hmac;
static pthread_once_t fetch_once = PTHREAD_ONCE_INIT;

static void fetch(void)
{
	mds[CF_DIGEST_MD5] = EVP_MD_fetch(NULL, "MD5", NULL);
	mds[CF_DIGEST_SHA256] = EVP_MD_fetch(NULL, "SHA2-256", NULL);
	mds[CF_DIGEST_SHA512_256] = EVP_MD_fetch(NULL, "SHA2-512/256", NULL);
	hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
}

static const EVP_MD *md_get(enum cf_digest_alg alg)
{
	if ((unsigned)alg >= CF_DIGEST_ALG_COUNT)
		return NULL;
	pthread_once(&fetch_once, fetch);
	return mds[alg];
}

static const char *const alg_names[CF_DIGEST_ALG_COUNT] = {
    [CF_DIGEST_MD5] = "MD5",
    [CF_DIGEST_SHA256] = "SHA-256",
    [CF_DIGEST_SHA512_256] = "SHA-512-256",
};

static const char *const alg_names_sess[CF_DIGEST_ALG_COUNT] = {
    [CF_DIGEST_MD5] = "MD5-sess",
    [CF_DIGEST_SHA256] = "SHA-256-sess",
    [CF_DIGEST_SHA512_256] = "SHA-512-256-sess",
};

size_t cf_digest_hexlen(enum cf_digest_alg alg)
{
	switch (alg) {
	case CF_DIGEST_MD5:
		return 32;
	case CF_DIGEST_SHA256:
	case CF_DIGEST_SHA512_256:
		return 64;
	default:
		return 0;
	}
}

const char *cf_digest_alg_name(enum cf_digest_alg alg, bool sess)
{
	if ((unsigned)alg >= CF_DIGEST_ALG_COUNT)
		return NULL;
	return sess ? alg_names_sess[alg] : alg_names[alg];
}

int cf_digest_alg_decode(const struct cf_pl *pl, enum cf_digest_alg *alg,
                         bool *sess)
{
	if (!pl || !alg || !sess)
		return EINVAL;
	for (unsigned i = 0; i < CF_DIGEST_ALG_COUNT; i++) {
		if (!cf_pl_strcasecmp(pl, alg_names[i])) {
			*alg = i;
			*sess = false;
			return 0;
		}
		if (!cf_pl_strcasecmp(pl, alg_names_sess[i])) {
			*alg = i;
			*sess = true;
			return 0;
		}
	}
	return ENOENT;
}

/* ----------------------------------------------------------------- maths */

static void hex_encode(const uint8_t *d, size_t n, char *out)
{
	static const char hx[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = hx[d[i] >> 4];
		out[2 * i + 1] = hx[d[i] & 0xf];
	}
	out[2 * n] = '\0';
}

int cf_digest_hash(enum cf_digest_alg alg, const struct cf_pl *p, size_t n,
                   char *out)
{
	const EVP_MD *md = md_get(alg);
	uint8_t d[EVP_MAX_MD_SIZE];
	unsigned int dl = 0;
	EVP_MD_CTX *ctx;
	int err = 0;

	if (!out || (n && !p))
		return EINVAL;
	if (!md)
		return (unsigned)alg >= CF_DIGEST_ALG_COUNT ? EINVAL : ENOMEM;
	ctx = EVP_MD_CTX_new();
	if (!ctx)
		return ENOMEM;
	if (!EVP_DigestInit_ex(ctx, md, NULL)) {
		err = ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		if ((i && !EVP_DigestUpdate(ctx, ":", 1)) ||
		    (p[i].l && !EVP_DigestUpdate(ctx, p[i].p, p[i].l))) {
			err = ENOMEM;
			goto out;
		}
	}
	if (!EVP_DigestFinal_ex(ctx, d, &dl) || dl * 2 > CF_DIGEST_HEX_MAX) {
		err = ENOMEM;
		goto out;
	}
	hex_encode(d, dl, out);
out:
	EVP_MD_CTX_free(ctx);
	return err;
}

static struct cf_pl pl_of(const struct cf_pl *pl)
{
	return pl ? *pl : CF_PL_NULL;
}

static struct cf_pl pl_str(const char *s)
{
	struct cf_pl pl;

	cf_pl_set_str(&pl, s);
	return pl;
}

int cf_digest_ha1(enum cf_digest_alg alg, const struct cf_pl *user,
                  const struct cf_pl *realm, const struct cf_pl *password,
                  char *out)
{
	struct cf_pl p[3] = {pl_of(user), pl_of(realm), pl_of(password)};

	return cf_digest_hash(alg, p, 3, out);
}

int cf_digest_ha1_sess(enum cf_digest_alg alg, const char *ha1,
                       const struct cf_pl *nonce, const struct cf_pl *cnonce,
                       char *out)
{
	struct cf_pl p[3] = {pl_str(ha1), pl_of(nonce), pl_of(cnonce)};

	if (!ha1)
		return EINVAL;
	return cf_digest_hash(alg, p, 3, out);
}

int cf_digest_ha2(enum cf_digest_alg alg, const struct cf_pl *method,
                  const struct cf_pl *uri, char *out)
{
	struct cf_pl p[2] = {pl_of(method), pl_of(uri)};

	return cf_digest_hash(alg, p, 2, out);
}

int cf_digest_response(enum cf_digest_alg alg, const char *ha1,
                       const struct cf_pl *nonce, const struct cf_pl *nc,
                       const struct cf_pl *cnonce, const struct cf_pl *qop,
                       const char *ha2, char *out)
{
	if (!ha1 || !ha2)
		return EINVAL;
	if (!qop || !qop->l) {
		/* RFC 2069 / RFC 2617 §3.2.2.1 without qop */
		struct cf_pl p[3] = {pl_str(ha1), pl_of(nonce), pl_str(ha2)};

		return cf_digest_hash(alg, p, 3, out);
	}
	struct cf_pl p[6] = {pl_str(ha1),   pl_of(nonce), pl_of(nc),
	                     pl_of(cnonce), pl_of(qop),   pl_str(ha2)};

	return cf_digest_hash(alg, p, 6, out);
}

int cf_digest_userhash(enum cf_digest_alg alg, const struct cf_pl *user,
                       const struct cf_pl *realm, char *out)
{
	struct cf_pl p[2] = {pl_of(user), pl_of(realm)};

	return cf_digest_hash(alg, p, 2, out);
}

/* ----------------------------------------------------------- credentials */

/* RFC 3261 §25.1 token characters. */
static bool is_tchar(char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9'))
		return true;
	return c && strchr("-.!%*_+`'~", c) != NULL;
}

static bool is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
	       (c >= 'A' && c <= 'F');
}

static const char *skip_ws(const char *p, const char *e)
{
	while (p < e && cf_authp_ws(*p))
		p++;
	return p;
}

/* The parameters we keep, by name; index = bit in the `seen` mask. */
static const struct {
	const char *name;
	size_t off;
} cred_params[] = {
    {"username", offsetof(struct cf_digest_cred, username)},
    {"username*", offsetof(struct cf_digest_cred, username_star)},
    {"realm", offsetof(struct cf_digest_cred, realm)},
    {"nonce", offsetof(struct cf_digest_cred, nonce)},
    {"uri", offsetof(struct cf_digest_cred, uri)},
    {"response", offsetof(struct cf_digest_cred, response)},
    {"algorithm", offsetof(struct cf_digest_cred, algorithm)},
    {"cnonce", offsetof(struct cf_digest_cred, cnonce)},
    {"opaque", offsetof(struct cf_digest_cred, opaque)},
    {"qop", offsetof(struct cf_digest_cred, qop)},
    {"nc", offsetof(struct cf_digest_cred, nc)},
    {"userhash", offsetof(struct cf_digest_cred, userhash)},
};

enum {
	P_USERNAME = 1u << 0,
	P_USERNAME_STAR = 1u << 1,
	P_REALM = 1u << 2,
	P_NONCE = 1u << 3,
	P_URI = 1u << 4,
	P_RESPONSE = 1u << 5,
	P_ALGORITHM = 1u << 6,
	P_CNONCE = 1u << 7,
	P_QOP = 1u << 9,
	P_NC = 1u << 10,
	P_USERHASH = 1u << 11,
};

/* One quoted-string body starting after its opening quote: *endp gets the
 * position of the closing quote. Strict: RFC 3261 §25.1 qdtext /
 * quoted-pair, no control characters but LWS, no escaped CR or LF. Lax:
 * anything but an unescaped quote. EBADMSG if unterminated. */
static int quoted(const char *p, const char *e, enum cf_authp_mode mode,
                  const char **endp)
{
	bool strict = mode == CF_AUTHP_STRICT;

	while (p < e && *p != '"') {
		unsigned char c = (unsigned char)*p;

		if (c == '\\') {
			if (++p == e || (strict && (*p == '\r' || *p == '\n')))
				return EBADMSG;
		} else if (strict &&
		           ((c < 0x20 && !cf_authp_ws((char)c)) || c == 0x7f)) {
			return EBADMSG;
		}
		p++;
	}
	if (p == e)
		return EBADMSG;
	*endp = p;
	return 0;
}

int cf_authp_decode(const struct cf_pl *pl, const char *scheme,
                    enum cf_authp_mode mode, cf_authp_h *h, void *arg)
{
	const char *p, *e, *s;
	int err;

	if (!pl || !pl->p || !scheme || !h)
		return EINVAL;
	e = pl->p + pl->l;
	p = skip_ws(pl->p, e);

	/* auth-scheme, then at least one LWS */
	for (s = p; p < e && is_tchar(*p); p++)
		;
	if (cf_pl_strcasecmp(&(struct cf_pl){s, (size_t)(p - s)}, scheme) ||
	    p == e || !cf_authp_ws(*p))
		return EBADMSG;

	for (;;) {
		struct cf_pl name, val;

		p = skip_ws(p, e);
		if (p == e && mode == CF_AUTHP_LAX)
			break; /* an empty list, or a trailing comma */
		for (s = p; p < e && is_tchar(*p); p++)
			;
		name = (struct cf_pl){s, (size_t)(p - s)};
		if (!name.l)
			return EBADMSG; /* empty, or a trailing comma */
		p = skip_ws(p, e);
		if (p == e || *p != '=')
			return EBADMSG;
		p = skip_ws(p + 1, e);
		if (p < e && *p == '"') {
			const char *q;

			err = quoted(p + 1, e, mode, &q);
			if (err)
				return err;
			val = (struct cf_pl){p + 1, (size_t)(q - p - 1)};
			p = q + 1;
		} else {
			for (s = p; p < e && is_tchar(*p); p++)
				;
			val = (struct cf_pl){s, (size_t)(p - s)};
			if (!val.l)
				return EBADMSG;
		}
		err = h(&name, &val, arg);
		if (err)
			return err;

		p = skip_ws(p, e);
		if (p == e)
			break;
		if (*p != ',')
			return EBADMSG;
		p++;
	}
	return 0;
}

static int nc_decode(const struct cf_pl *nc, uint32_t *v)
{
	uint32_t n = 0;

	if (nc->l != 8)
		return EBADMSG;
	for (size_t i = 0; i < 8; i++) {
		char c = nc->p[i];

		if (!is_hex(c))
			return EBADMSG;
		n = n << 4 | (uint32_t)(c <= '9'   ? c - '0'
		                        : c <= 'F' ? c - 'A' + 10
		                                   : c - 'a' + 10);
	}
	*v = n;
	return 0;
}

struct cred_walk {
	struct cf_digest_cred *cred;
	unsigned seen;
};

static int cred_param(const struct cf_pl *name, const struct cf_pl *val,
                      void *arg)
{
	struct cred_walk *w = arg;

	for (unsigned i = 0; i < sizeof(cred_params) / sizeof(cred_params[0]);
	     i++) {
		if (cf_pl_strcasecmp(name, cred_params[i].name))
			continue;
		if (w->seen & (1u << i))
			return EBADMSG; /* duplicate parameter */
		w->seen |= 1u << i;
		*(struct cf_pl *)(void *)((char *)w->cred +
		                          cred_params[i].off) = *val;
		break;
	}
	return 0;
}

int cf_digest_cred_decode(struct cf_digest_cred *cred, const struct cf_pl *pl)
{
	struct cred_walk w = {cred, 0};
	unsigned seen;
	int err;

	if (!cred || !pl || !pl->p)
		return EINVAL;
	memset(cred, 0, sizeof(*cred));
	err = cf_authp_decode(pl, "Digest", CF_AUTHP_STRICT, cred_param, &w);
	if (err)
		return err;
	seen = w.seen;

	/* RFC 7616 §3.4: required parameters */
	if (!(seen & (P_USERNAME | P_USERNAME_STAR)) ||
	    (seen & P_USERNAME && seen & P_USERNAME_STAR))
		return EBADMSG;
	if ((seen & (P_REALM | P_NONCE | P_URI | P_RESPONSE)) !=
	    (P_REALM | P_NONCE | P_URI | P_RESPONSE))
		return EBADMSG;
	if (seen & P_QOP && (seen & (P_NC | P_CNONCE)) != (P_NC | P_CNONCE))
		return EBADMSG;
	if (seen & P_NC && nc_decode(&cred->nc, &cred->nc_val))
		return EBADMSG;

	cred->alg = CF_DIGEST_MD5;
	cred->alg_known = true;
	if (seen & P_ALGORITHM &&
	    cf_digest_alg_decode(&cred->algorithm, &cred->alg, &cred->sess))
		cred->alg_known = false;
	cred->userhash_true =
	    seen & P_USERHASH && !cf_pl_strcasecmp(&cred->userhash, "true");
	return 0;
}

int cf_digest_unescape(const struct cf_pl *in, char *buf, size_t size,
                       struct cf_pl *out)
{
	size_t n = 0;

	if (!in || !out)
		return EINVAL;
	if (!in->l || !memchr(in->p, '\\', in->l)) {
		*out = *in;
		return 0;
	}
	for (size_t i = 0; i < in->l; i++) {
		if (in->p[i] == '\\' && i + 1 < in->l)
			i++;
		if (n >= size)
			return ENOMEM;
		buf[n++] = in->p[i];
	}
	*out = (struct cf_pl){buf, n};
	return 0;
}

bool cf_digest_cred_verify(const struct cf_digest_cred *cred,
                           const struct cf_pl *method, const char *ha1)
{
	char ha1s[CF_DIGEST_HEX_SIZE], ha2[CF_DIGEST_HEX_SIZE];
	char want[CF_DIGEST_HEX_SIZE], got[CF_DIGEST_HEX_SIZE];
	char ubuf[1024], nbuf[256], cbuf[256];
	struct cf_pl uri, nonce, cnonce;
	size_t hl;

	if (!cred || !method || !ha1 || !cred->alg_known)
		return false;
	hl = cf_digest_hexlen(cred->alg);
	if (strlen(ha1) != hl || cred->response.l != hl)
		return false;
	if (cred->qop.l && cf_pl_strcasecmp(&cred->qop, "auth"))
		return false; /* auth-int is not offered */
	if (cf_digest_unescape(&cred->uri, ubuf, sizeof(ubuf), &uri) ||
	    cf_digest_unescape(&cred->nonce, nbuf, sizeof(nbuf), &nonce) ||
	    cf_digest_unescape(&cred->cnonce, cbuf, sizeof(cbuf), &cnonce))
		return false;
	if (cred->sess) {
		if (cf_digest_ha1_sess(cred->alg, ha1, &nonce, &cnonce, ha1s))
			return false;
		ha1 = ha1s;
	}
	if (cf_digest_ha2(cred->alg, method, &uri, ha2) ||
	    cf_digest_response(cred->alg, ha1, &nonce, &cred->nc, &cnonce,
	                       &cred->qop, ha2, want))
		return false;
	/* LHEX is lower-case; accept upper-case senders too */
	for (size_t i = 0; i < hl; i++) {
		char c = cred->response.p[i];

		got[i] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
	}
	return CRYPTO_memcmp(got, want, hl) == 0;
}

/* ------------------------------------------------------------ challenge */

static int write_quoted(struct cf_mbuf *mb, const char *s)
{
	int err = cf_mbuf_write_u8(mb, '"');

	for (; !err && *s; s++) {
		if (*s == '"' || *s == '\\')
			err = cf_mbuf_write_u8(mb, '\\');
		if (!err)
			err = cf_mbuf_write_u8(mb, (uint8_t)*s);
	}
	return err ? err : cf_mbuf_write_u8(mb, '"');
}

int cf_digest_chal_encode(struct cf_mbuf *mb, const struct cf_digest_chal *c)
{
	const char *alg;
	int err;

	if (!mb || !c || !c->realm || !c->nonce)
		return EINVAL;
	alg = cf_digest_alg_name(c->alg, c->sess);
	if (!alg)
		return EINVAL;
	err = cf_mbuf_write_str(mb, "Digest realm=");
	err = err ? err : write_quoted(mb, c->realm);
	err = err ? err : cf_mbuf_write_str(mb, ", nonce=");
	err = err ? err : write_quoted(mb, c->nonce);
	if (c->opaque) {
		err = err ? err : cf_mbuf_write_str(mb, ", opaque=");
		err = err ? err : write_quoted(mb, c->opaque);
	}
	err = err ? err : cf_mbuf_printf(mb, ", algorithm=%s", alg);
	if (c->qop_auth)
		err = err ? err : cf_mbuf_write_str(mb, ", qop=\"auth\"");
	if (c->stale)
		err = err ? err : cf_mbuf_write_str(mb, ", stale=true");
	if (c->userhash)
		err = err ? err : cf_mbuf_write_str(mb, ", userhash=true");
	return err;
}

/* ---------------------------------------------------------------- nonces */

enum { NONCE_RAW = 32, NONCE_MAC = 16 };

static const char b64url[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static int nonce_mac(const uint8_t *secret, size_t secret_len,
                     const uint8_t *ts, const struct cf_pl *realm, uint8_t *mac)
{
	uint8_t full[EVP_MAX_MD_SIZE];
	char dname[] = "SHA2-256";
	OSSL_PARAM params[2];
	EVP_MAC_CTX *ctx;
	size_t ml = 0;
	int err = 0;

	pthread_once(&fetch_once, fetch);
	if (!hmac)
		return ENOMEM;
	ctx = EVP_MAC_CTX_new(hmac);
	if (!ctx)
		return ENOMEM;
	params[0] =
	    OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, dname, 0);
	params[1] = OSSL_PARAM_construct_end();
	if (!EVP_MAC_init(ctx, secret, secret_len, params) ||
	    !EVP_MAC_update(ctx, ts, 16) ||
	    (realm->l &&
	     !EVP_MAC_update(ctx, (const uint8_t *)realm->p, realm->l)) ||
	    !EVP_MAC_final(ctx, full, &ml, sizeof(full)) || ml < NONCE_MAC) {
		err = ENOMEM;
		goto out;
	}
	memcpy(mac, full, NONCE_MAC);
out:
	EVP_MAC_CTX_free(ctx);
	return err;
}

static void put_be64(uint8_t *b, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		b[i] = (uint8_t)v;
}

static uint64_t get_be64(const uint8_t *b)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | b[i];
	return v;
}

int cf_digest_nonce_make(const uint8_t *secret, size_t secret_len,
                         const struct cf_pl *realm, uint64_t now, uint64_t salt,
                         char *out)
{
	uint8_t raw[NONCE_RAW + 1] = {0}; /* +1: the last 6-bit group pads */
	size_t o = 0;
	int err;

	if (!secret || secret_len < CF_DIGEST_SECRET_MIN || !realm || !out)
		return EINVAL;
	put_be64(raw, now);
	put_be64(raw + 8, salt);
	err = nonce_mac(secret, secret_len, raw, realm, raw + 16);
	if (err)
		return err;
	/* base64url without padding: 32 bytes -> 43 characters */
	for (size_t i = 0; i < NONCE_RAW; i += 3) {
		uint32_t v = (uint32_t)raw[i] << 16 | (uint32_t)raw[i + 1] << 8;

		if (i + 2 < NONCE_RAW)
			v |= raw[i + 2];
		out[o++] = b64url[v >> 18 & 63];
		out[o++] = b64url[v >> 12 & 63];
		out[o++] = b64url[v >> 6 & 63];
		if (i + 2 < NONCE_RAW)
			out[o++] = b64url[v & 63];
	}
	out[o] = '\0';
	return o == CF_DIGEST_NONCE_LEN ? 0 : EINVAL;
}

static int b64url_val(char c)
{
	const char *x = c ? strchr(b64url, c) : NULL;

	return x ? (int)(x - b64url) : -1;
}

enum cf_digest_nonce_verdict
cf_digest_nonce_check(const uint8_t *secret, size_t secret_len,
                      const struct cf_pl *realm, const struct cf_pl *nonce,
                      uint64_t now, uint64_t max_age, uint64_t *issued)
{
	uint8_t raw[NONCE_RAW], mac[NONCE_MAC];
	size_t o = 0;
	uint64_t t;

	if (!secret || secret_len < CF_DIGEST_SECRET_MIN || !realm || !nonce ||
	    nonce->l != CF_DIGEST_NONCE_LEN)
		return CF_DIGEST_NONCE_BAD;
	for (size_t i = 0; i < CF_DIGEST_NONCE_LEN; i += 4) {
		uint32_t v = 0;
		size_t k = 0;

		for (; k < 4 && i + k < CF_DIGEST_NONCE_LEN; k++) {
			int d = b64url_val(nonce->p[i + k]);

			if (d < 0)
				return CF_DIGEST_NONCE_BAD;
			v |= (uint32_t)d << (18 - 6 * k);
		}
		raw[o++] = (uint8_t)(v >> 16);
		raw[o++] = (uint8_t)(v >> 8);
		if (k == 4)
			raw[o++] = (uint8_t)v;
		else if ((uint8_t)v != 0)
			return CF_DIGEST_NONCE_BAD; /* non-canonical tail */
	}
	/* (the tail check above gives one text per nonce: nonce-count replay
	 * tracking keys on the text) */
	if (o != NONCE_RAW)
		return CF_DIGEST_NONCE_BAD;
	if (nonce_mac(secret, secret_len, raw, realm, mac) ||
	    CRYPTO_memcmp(mac, raw + 16, NONCE_MAC) != 0)
		return CF_DIGEST_NONCE_BAD;
	t = get_be64(raw);
	if (t > now + 5)
		return CF_DIGEST_NONCE_BAD;
	if (issued)
		*issued = t;
	if (now > t && now - t > max_age)
		return CF_DIGEST_NONCE_STALE;
	return CF_DIGEST_NONCE_OK;
}
