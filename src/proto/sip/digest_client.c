/* SPDX-License-Identifier: BSD-3-Clause */
/* digest_client.c - the client side of Digest (RFC 3261 §22.2, RFC 7616,
 * RFC 8760): decode a WWW-Authenticate / Proxy-Authenticate challenge and
 * write the Authorization / Proxy-Authorization credentials answering it.
 * Pure code like digest.c: no I/O, no clock, no randomness (the caller
 * gives the cnonce). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "proto/sip/digest.h"

static bool is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static bool is_tchar(char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9'))
		return true;
	return c && strchr("-.!%*_+`'~", c) != NULL;
}

static const char *skip_ws(const char *p, const char *e)
{
	while (p < e && is_ws(*p))
		p++;
	return p;
}

/* A quoted-string body from after its opening quote to its closing one
 * (*endp); quoted-pairs are skipped over, not removed. */
static int quoted(const char *p, const char *e, const char **endp)
{
	while (p < e && *p != '"') {
		if (*p == '\\' && ++p == e)
			return EBADMSG;
		p++;
	}
	if (p == e)
		return EBADMSG;
	*endp = p;
	return 0;
}

/* Does the comma-separated qop-options list hold the token "auth"? */
static bool qop_has_auth(const struct cf_pl *qop)
{
	const char *p = qop->p, *e = qop->p + qop->l;

	while (p < e) {
		const char *s;

		while (p < e && (is_ws(*p) || *p == ','))
			p++;
		for (s = p; p < e && !is_ws(*p) && *p != ','; p++)
			;
		if (!cf_pl_strcasecmp(&(struct cf_pl){s, (size_t)(p - s)},
		                      "auth"))
			return true;
	}
	return false;
}

int cf_digest_chal_decode(struct cf_digest_chal_rx *ch, const struct cf_pl *pl)
{
	const char *p, *e, *s;

	if (!ch || !pl || !pl->p)
		return EINVAL;
	memset(ch, 0, sizeof(*ch));
	e = pl->p + pl->l;
	p = skip_ws(pl->p, e);
	for (s = p; p < e && is_tchar(*p); p++)
		;
	if (cf_pl_strcasecmp(&(struct cf_pl){s, (size_t)(p - s)}, "Digest") ||
	    p == e || !is_ws(*p))
		return EBADMSG;

	for (;;) {
		struct cf_pl name, val;
		struct cf_pl *dst = NULL;

		p = skip_ws(p, e);
		if (p == e)
			break;
		for (s = p; p < e && is_tchar(*p); p++)
			;
		name.p = s;
		name.l = (size_t)(p - s);
		p = skip_ws(p, e);
		if (!name.l || p == e || *p != '=')
			return EBADMSG;
		p = skip_ws(p + 1, e);
		if (p < e && *p == '"') {
			const char *q;

			if (quoted(p + 1, e, &q))
				return EBADMSG;
			val.p = p + 1;
			val.l = (size_t)(q - p - 1);
			p = q + 1;
		} else {
			for (s = p; p < e && is_tchar(*p); p++)
				;
			val.p = s;
			val.l = (size_t)(p - s);
			if (!val.l)
				return EBADMSG;
		}
		if (!cf_pl_strcasecmp(&name, "realm"))
			dst = &ch->realm;
		else if (!cf_pl_strcasecmp(&name, "nonce"))
			dst = &ch->nonce;
		else if (!cf_pl_strcasecmp(&name, "opaque"))
			dst = &ch->opaque;
		else if (!cf_pl_strcasecmp(&name, "algorithm"))
			dst = &ch->algorithm;
		else if (!cf_pl_strcasecmp(&name, "qop"))
			dst = &ch->qop;
		else if (!cf_pl_strcasecmp(&name, "stale"))
			ch->stale = !cf_pl_strcasecmp(&val, "true");
		if (dst) {
			if (dst->p)
				return EBADMSG; /* repeated */
			*dst = val;
		}
		p = skip_ws(p, e);
		if (p == e)
			break;
		if (*p != ',')
			return EBADMSG;
		p++;
	}
	if (!ch->realm.p || !ch->nonce.p)
		return EBADMSG;
	ch->alg = CF_DIGEST_MD5;
	ch->alg_known =
	    !ch->algorithm.p ||
	    !cf_digest_alg_decode(&ch->algorithm, &ch->alg, &ch->sess);
	ch->qop_auth = ch->qop.p && qop_has_auth(&ch->qop);
	return 0;
}

/* A slice as given, or a NUL-terminated string. */
static struct cf_pl pl_str(const char *s)
{
	struct cf_pl pl;

	cf_pl_set_str(&pl, s);
	return pl;
}

int cf_digest_client_encode(struct cf_mbuf *mb,
                            const struct cf_digest_chal_rx *ch,
                            const struct cf_digest_client *cl)
{
	char realm[256], nonce[512], ha1[CF_DIGEST_HEX_SIZE],
	    ha1s[CF_DIGEST_HEX_SIZE], ha2[CF_DIGEST_HEX_SIZE],
	    resp[CF_DIGEST_HEX_SIZE], nc[9];
	struct cf_pl r, n, user, pass, method, uri, cnonce, ncpl, qop;
	int err;

	if (!mb || !ch || !cl || !cl->user || !cl->password || !cl->method ||
	    !cl->uri || !cl->cnonce)
		return EINVAL;
	/* qop without "auth" (auth-int only) and unknown algorithms: we
	 * cannot answer (RFC 7616 §3.7: use the next challenge) */
	if (!ch->alg_known || (ch->qop.p && !ch->qop_auth) ||
	    (ch->sess && !ch->qop_auth))
		return EPROTO; /* -sess needs the cnonce that qop carries */
	err = cf_digest_unescape(&ch->realm, realm, sizeof(realm), &r);
	err = err ? err
	          : cf_digest_unescape(&ch->nonce, nonce, sizeof(nonce), &n);
	if (err)
		return EBADMSG; /* longer than any challenge we answer */
	user = pl_str(cl->user);
	pass = pl_str(cl->password);
	method = pl_str(cl->method);
	uri = pl_str(cl->uri);
	cnonce = pl_str(cl->cnonce);
	snprintf(nc, sizeof(nc), "%08x", cl->nc ? cl->nc : 1u);
	ncpl = pl_str(nc);
	qop = pl_str(ch->qop_auth ? "auth" : "");

	err = cf_digest_ha1(ch->alg, &user, &r, &pass, ha1);
	if (!err && ch->sess) {
		err = cf_digest_ha1_sess(ch->alg, ha1, &n, &cnonce, ha1s);
		memcpy(ha1, ha1s, sizeof(ha1));
	}
	err = err ? err : cf_digest_ha2(ch->alg, &method, &uri, ha2);
	err = err ? err
	          : cf_digest_response(ch->alg, ha1, &n, &ncpl, &cnonce, &qop,
	                               ha2, resp);
	if (err)
		return err;

	/* realm, nonce and opaque go back as they came, escapes included */
	err = cf_mbuf_printf(mb,
	                     "Digest username=\"%s\", realm=\"%.*s\", "
	                     "nonce=\"%.*s\", uri=\"%s\", response=\"%s\"",
	                     cl->user, (int)ch->realm.l, ch->realm.p,
	                     (int)ch->nonce.l, ch->nonce.p, cl->uri, resp);
	if (!err && ch->algorithm.p)
		err = cf_mbuf_printf(mb, ", algorithm=%s",
		                     cf_digest_alg_name(ch->alg, ch->sess));
	if (!err && ch->qop_auth)
		err = cf_mbuf_printf(mb, ", cnonce=\"%s\", qop=auth, nc=%s",
		                     cl->cnonce, nc);
	if (!err && ch->opaque.p)
		err = cf_mbuf_printf(mb, ", opaque=\"%.*s\"", (int)ch->opaque.l,
		                     ch->opaque.p);
	return err;
}
