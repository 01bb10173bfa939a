/* SPDX-License-Identifier: BSD-3-Clause */
/* uri.c - SIP, SIPS and tel URIs (RFC 3261 §19.1, RFC 3966) with IPv6
 * references (RFC 5118): decode into slices, compare (§19.1.4), print. */
#include <errno.h>

#include "proto/sip/sip_int.h"

static inline bool is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
	       (c >= 'A' && c <= 'F');
}

/*
 * host [":" port]. A '[' starts an IPv6 reference: only hex digits, ':' and
 * '.' inside, at least one ':'; the ABNF bug of RFC 3261 that allows three
 * colons (RFC 5118 §4.10, fixed by RFC 5954) is tolerated because we do not
 * count groups. "2001:db8::10" without brackets fails on the port (RFC 5118
 * §4.2). Port is 1..65535.
 */
int cf_sip_hostport_decode(const char *p, const char *e, struct cf_pl *host,
                           bool *v6, uint16_t *port)
{
	const char *h = p;
	uint64_t n;

	*v6 = false;
	*port = 0;
	if (p >= e)
		return EBADMSG;

	if (*p == '[') {
		bool colon = false;
		h = ++p;
		while (p < e && *p != ']') {
			if (*p == ':')
				colon = true;
			else if (!is_hex(*p) && *p != '.')
				return EBADMSG;
			p++;
		}
		if (p == e || p == h || !colon)
			return EBADMSG;
		*host = pl_make(h, p);
		*v6 = true;
		p++;
	} else {
		while (p < e && cc_is((uint8_t)*p, CC_HOST))
			p++;
		if (p == h)
			return EBADMSG;
		*host = pl_make(h, p);
	}

	if (p == e)
		return 0;
	if (*p != ':' || p + 1 == e || e - p > 6)
		return EBADMSG;
	if (!dec_u64(p + 1, e, 65535, &n) || n == 0)
		return EBADMSG;
	*port = (uint16_t)n;
	return 0;
}

/* Every parameter well-formed (no ";;", no LWS: a URI holds none). */
static int params_check(const struct cf_pl *params)
{
	struct cf_pl n, v;
	size_t pos = 0;
	int err;

	for (size_t i = 0; i < params->l; i++) {
		uint8_t c = (uint8_t)params->p[i];
		if (!cc_is(c, CC_PARAM) && c != '=' && c != ';')
			return EBADMSG;
	}
	while (!(err = cf_sip_param_next(params, &pos, &n, &v)))
		;
	return err == ENOENT ? 0 : err;
}

/*
 * Decode a URI from pl (no <>, no surrounding LWS). Called on demand for
 * the Request-URI (eagerly), From/To (eagerly, via addr) and any URI a
 * module asks for. Slices point into pl's bytes. O(length).
 * EBADMSG on a malformed URI or one longer than CF_SIP_URI_MAX.
 */
int cf_sip_uri_decode(struct cf_sip_uri *uri, const struct cf_pl *pl)
{
	const char *s, *p, *e, *q;

	if (!uri || !pl)
		return EINVAL;
	memset(uri, 0, sizeof(*uri));
	if (!pl->p || !pl->l || pl->l > CF_SIP_URI_MAX)
		return EBADMSG;

	s = p = pl->p;
	e = s + pl->l;
	uri->all = *pl;

	/* scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) */
	if (!((lc(*p) >= 'a' && lc(*p) <= 'z')))
		return EBADMSG;
	while (p < e && (cc_is((uint8_t)*p, CC_ALNUM) || *p == '+' ||
	                 *p == '-' || *p == '.'))
		p++;
	if (p == e || *p != ':')
		return EBADMSG;
	uri->scheme_pl = pl_make(s, p);
	if (PL_CI_EQ(&uri->scheme_pl, "sip"))
		uri->scheme = CF_SIP_SCHEME_SIP;
	else if (PL_CI_EQ(&uri->scheme_pl, "sips"))
		uri->scheme = CF_SIP_SCHEME_SIPS;
	else if (PL_CI_EQ(&uri->scheme_pl, "tel"))
		uri->scheme = CF_SIP_SCHEME_TEL;
	p++;
	if (p == e)
		return EBADMSG;

	/* No URI holds LWS, controls, quotes or angle brackets (they must be
	 * escaped), whatever the scheme. */
	for (q = p; q < e; q++) {
		uint8_t c = (uint8_t)*q;
		if (c <= ' ' || c == 0x7f || c == '"' || c == '<' || c == '>')
			return EBADMSG;
	}

	if (uri->scheme == CF_SIP_SCHEME_OTHER)
		return 0; /* opaque: RFC 4475 §3.3.2 must still parse */

	if (uri->scheme == CF_SIP_SCHEME_TEL) {
		q = p;
		while (q < e && *q != ';')
			q++;
		if (q == p)
			return EBADMSG;
		uri->user = pl_make(p, q);
		if (q < e) {
			uri->params = pl_make(q + 1, e);
			return params_check(&uri->params);
		}
		return 0;
	}

	/* userinfo "@": user may hold ';', '?', '/' ... (user-unreserved,
	 * RFC 4475 §3.1.1.9 "user;par=u%40example.net"). */
	q = p;
	while (q < e && cc_is((uint8_t)*q, CC_USER))
		q++;
	if (q < e && *q == '@') {
		const char *c = memchr(p, ':', (size_t)(q - p));
		if (c) {
			uri->user = pl_make(p, c);
			uri->password = pl_make(c + 1, q);
		} else {
			uri->user = pl_make(p, q);
		}
		if (!uri->user.l)
			return EBADMSG;
		p = q + 1;
	}

	q = p;
	while (q < e && *q != ';' && *q != '?')
		q++;
	if (cf_sip_hostport_decode(p, q, &uri->host, &uri->host_v6, &uri->port))
		return EBADMSG;
	p = q;

	if (p < e && *p == ';') {
		q = ++p;
		while (q < e && *q != '?')
			q++;
		uri->params = pl_make(p, q);
		if (params_check(&uri->params))
			return EBADMSG;
		p = q;
	}
	if (p < e && *p == '?') {
		uri->headers = pl_make(p + 1, e);
		if (!uri->headers.l)
			return EBADMSG;
		for (q = p + 1; q < e; q++) {
			uint8_t c = (uint8_t)*q;
			if (!cc_is(c, CC_HDRC) && c != '=' && c != '&')
				return EBADMSG;
		}
	}
	return 0;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	return lc(c) - 'a' + 10;
}

/* Next octet of an escaped string (%HH decoded, RFC 3261 §19.1.4). */
static const char *esc_next(const char *p, const char *e, int *c)
{
	if (*p == '%' && e - p >= 3 && is_hex(p[1]) && is_hex(p[2])) {
		*c = hexval(p[1]) * 16 + hexval(p[2]);
		return p + 3;
	}
	*c = (uint8_t)*p;
	return p + 1;
}

static bool esc_eq(const struct cf_pl *a, const struct cf_pl *b, bool ci)
{
	const char *p, *pe, *q, *qe;

	if (!a->l || !b->l)
		return a->l == b->l;
	p = a->p;
	pe = p + a->l;
	q = b->p;
	qe = q + b->l;

	while (p < pe && q < qe) {
		int x, y;
		p = esc_next(p, pe, &x);
		q = esc_next(q, qe, &y);
		if (ci) {
			x = lc((char)x);
			y = lc((char)y);
		}
		if (x != y)
			return false;
	}
	return p == pe && q == qe;
}

static bool pl_eq(const struct cf_pl *a, const struct cf_pl *b, bool ci)
{
	if (a->l != b->l)
		return false;
	if (!a->l)
		return true;
	return ci ? mem_ci_eq(a->p, b->p, a->l) : !memcmp(a->p, b->p, a->l);
}

/* Parameters of a that must match in b (§19.1.4: user, ttl, method, maddr,
 * transport always; any other only when present in both). */
static bool params_match(const struct cf_pl *a, const struct cf_pl *b)
{
	static const char *const always[] = {"user", "ttl", "method", "maddr",
	                                     "transport"};
	struct cf_pl n, v, w;
	size_t pos = 0;
	char name[64];

	for (size_t i = 0; i < 5; i++) {
		int ea = cf_sip_param_get(a, always[i], &v);
		int eb = cf_sip_param_get(b, always[i], &w);
		if (ea != eb)
			return false;
		if (!ea && !esc_eq(&v, &w, true))
			return false;
	}
	while (!cf_sip_param_next(a, &pos, &n, &v)) {
		if (cf_pl_strcpy(&n, name, sizeof(name)))
			continue;
		/* a repeated name: only its first occurrence counts */
		if (cf_sip_param_get(a, name, &w) || w.p != v.p || w.l != v.l)
			continue;
		if (cf_sip_param_get(b, name, &w))
			continue;
		if (!esc_eq(&v, &w, true))
			return false;
	}
	return true;
}

/* Every "&"-separated header of a is in b with the same value. */
static bool headers_sub(const struct cf_pl *a, const struct cf_pl *b)
{
	const char *p, *e;

	if (!a->l)
		return true;
	if (!b->l)
		return false;
	p = a->p;
	e = p + a->l;

	while (p < e) {
		const char *q = memchr(p, '&', (size_t)(e - p));
		struct cf_pl h = pl_make(p, q ? q : e);
		const char *r = b->p, *re = b->p + b->l;
		bool found = false;

		while (r < re && !found) {
			const char *rq = memchr(r, '&', (size_t)(re - r));
			struct cf_pl g = pl_make(r, rq ? rq : re);
			found = esc_eq(&h, &g, false);
			r = rq ? rq + 1 : re;
		}
		if (!found)
			return false;
		p = q ? q + 1 : e;
	}
	return true;
}

int cf_sip_uri_cmp(const struct cf_sip_uri *a, const struct cf_sip_uri *b)
{
	if (!a || !b)
		return EINVAL;
	if (a->scheme != b->scheme)
		return 1;
	if (a->scheme == CF_SIP_SCHEME_OTHER) {
		return pl_eq(&a->all, &b->all, false) ? 0 : 1;
	}
	if (!esc_eq(&a->user, &b->user, false) ||
	    !esc_eq(&a->password, &b->password, false))
		return 1;
	if (!pl_eq(&a->host, &b->host, true) || a->port != b->port)
		return 1;
	if (!params_match(&a->params, &b->params) ||
	    !params_match(&b->params, &a->params))
		return 1;
	if (!headers_sub(&a->headers, &b->headers) ||
	    !headers_sub(&b->headers, &a->headers))
		return 1;
	return 0;
}

/* Print the URI from its parts (host bracketed when IPv6). */
int cf_sip_uri_print(struct cf_mbuf *mb, const struct cf_sip_uri *uri)
{
	int err = 0;

	if (!mb || !uri)
		return EINVAL;
	if (uri->scheme == CF_SIP_SCHEME_OTHER)
		return cf_mbuf_write_pl(mb, &uri->all);

	err |= cf_mbuf_write_pl(mb, &uri->scheme_pl);
	err |= cf_mbuf_write_u8(mb, ':');
	if (uri->scheme == CF_SIP_SCHEME_TEL) {
		err |= cf_mbuf_write_pl(mb, &uri->user);
	} else {
		if (uri->user.l) {
			err |= cf_mbuf_write_pl(mb, &uri->user);
			if (uri->password.l) {
				err |= cf_mbuf_write_u8(mb, ':');
				err |= cf_mbuf_write_pl(mb, &uri->password);
			}
			err |= cf_mbuf_write_u8(mb, '@');
		}
		if (uri->host_v6)
			err |= cf_mbuf_write_u8(mb, '[');
		err |= cf_mbuf_write_pl(mb, &uri->host);
		if (uri->host_v6)
			err |= cf_mbuf_write_u8(mb, ']');
		if (uri->port)
			err |= cf_mbuf_printf(mb, ":%u", uri->port);
	}
	if (uri->params.l) {
		err |= cf_mbuf_write_u8(mb, ';');
		err |= cf_mbuf_write_pl(mb, &uri->params);
	}
	if (uri->headers.l) {
		err |= cf_mbuf_write_u8(mb, '?');
		err |= cf_mbuf_write_pl(mb, &uri->headers);
	}
	return err ? ENOMEM : 0;
}
