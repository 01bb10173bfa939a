/* SPDX-License-Identifier: BSD-3-Clause */
/* addr.c - name-addr and addr-spec (RFC 3261 §20.10, §25.1): From, To,
 * Contact, Route, Record-Route... decoded into slices on demand. */
#include <errno.h>

#include "proto/sip/sip_int.h"

/* Walk the header parameters, checking them and picking the tag. */
static int addr_params(struct cf_sip_addr *addr, const char *p, const char *e)
{
	struct cf_pl n, v;
	size_t pos = 0;
	int err;

	addr->params = pl_trim_lws(p, e);
	if (!addr->params.l)
		return EBADMSG; /* ";" and nothing after it */
	while (!(err = cf_sip_param_next(&addr->params, &pos, &n, &v))) {
		if (PL_CI_EQ(&n, "tag")) {
			if (!v.l)
				return EBADMSG;
			addr->tag = v;
		}
	}
	return err == ENOENT ? 0 : err;
}

/*
 * Decode one name-addr or addr-spec (one value: split comma-separated
 * headers first, e.g. with cf_sip_msg_vals_apply). Slices point into pl.
 *
 * name-addr: [display-name] "<" URI ">" *(";" param); the display name is
 * a quoted string (quotes removed, escapes kept) or a run of tokens. No LWS
 * is allowed right inside the brackets (RFC 4475 §3.1.2.14 badaspec), but
 * none is needed before '<' (§3.1.1.6 lwsdisp).
 * addr-spec: a bare URI that cannot hold ';' ',' or '?' (§20), so what
 * follows ';' is a header parameter (RFC 4475 §3.3.12 cparam01).
 * "*" alone sets wildcard (Contact, §10.2.2).
 * Returns 0 or EBADMSG. O(length).
 */
int cf_sip_addr_decode(struct cf_sip_addr *addr, const struct cf_pl *pl)
{
	const char *p, *e, *t;
	struct cf_pl upl;

	if (!addr || !pl)
		return EINVAL;
	memset(addr, 0, sizeof(*addr));
	if (!pl->p)
		return EBADMSG;
	p = skip_lws(pl->p, pl->p + pl->l);
	e = rskip_lws(p, pl->p + pl->l);
	if (p == e)
		return EBADMSG;

	if (e - p == 1 && *p == '*') {
		addr->wildcard = true;
		return 0;
	}

	if (*p == '"') {
		t = skip_quoted(p, e);
		if (!t)
			return EBADMSG;
		addr->dname = pl_make(p + 1, t - 1);
		p = skip_lws(t, e);
		if (p == e || *p != '<')
			return EBADMSG;
	} else if (*p != '<') {
		for (t = p; t < e; t++) {
			if (!cc_is((uint8_t)*t, CC_TOKEN) && !is_lws(*t))
				break;
		}
		if (t < e && *t == '<') {
			addr->dname = pl_trim_lws(p, t);
			p = t;
		}
	}

	if (*p == '<') {
		t = memchr(p + 1, '>', (size_t)(e - p - 1));
		if (!t)
			return EBADMSG;
		upl = pl_make(p + 1, t);
		if (cf_sip_uri_decode(&addr->uri, &upl))
			return EBADMSG;
		p = skip_lws(t + 1, e);
		if (p == e)
			return 0;
		if (*p != ';')
			return EBADMSG;
		return addr_params(addr, p + 1, e);
	}

	/* addr-spec */
	for (t = p; t < e && *t != ';' && !is_lws(*t); t++) {
		if (*t == '?' || *t == ',')
			return EBADMSG;
	}
	upl = pl_make(p, t);
	if (cf_sip_uri_decode(&addr->uri, &upl))
		return EBADMSG;
	p = skip_lws(t, e);
	if (p == e)
		return 0;
	if (*p != ';')
		return EBADMSG;
	return addr_params(addr, p + 1, e);
}
