/* SPDX-License-Identifier: BSD-3-Clause */
/* via.c - one Via value (RFC 3261 §20.42, §25.1; RFC 3581 rport; RFC 5118
 * §4.5 received with or without IPv6 brackets). */
#include <errno.h>

#include "proto/sip/sip_int.h"

/* A token, LWS allowed around it. */
static const char *token(const char *p, const char *e, struct cf_pl *tok)
{
	const char *s;

	p = skip_lws(p, e);
	s = p;
	while (p < e && cc_is((uint8_t)*p, CC_TOKEN))
		p++;
	*tok = pl_make(s, p);
	return skip_lws(p, e);
}

static int via_params(struct cf_sip_via *via)
{
	struct cf_pl n, v;
	size_t pos = 0;
	int err;

	while (!(err = cf_sip_param_next(&via->params, &pos, &n, &v))) {
		switch (lc(n.p[0])) {
		case 'b':
			if (PL_CI_EQ(&n, "branch")) {
				if (!v.l)
					return EBADMSG;
				via->branch = v;
			}
			break;
		case 'r':
			if (PL_CI_EQ(&n, "received")) {
				if (v.l >= 2 && v.p[0] == '[' &&
				    v.p[v.l - 1] == ']') {
					v.p++;
					v.l -= 2;
				}
				if (!v.l)
					return EBADMSG;
				via->received = v;
			} else if (PL_CI_EQ(&n, "rport")) {
				uint64_t port;
				if (v.l &&
				    (!dec_u64(v.p, v.p + v.l, 65535, &port)))
					return EBADMSG;
				via->rport = true;
				via->rport_val = v;
			}
			break;
		case 'm':
			if (PL_CI_EQ(&n, "maddr"))
				via->maddr = v;
			break;
		case 't':
			if (PL_CI_EQ(&n, "ttl")) {
				uint64_t ttl;
				if (!v.l || !dec_u64(v.p, v.p + v.l, 255, &ttl))
					return EBADMSG;
				via->ttl = v;
			}
			break;
		default:
			break;
		}
	}
	return err == ENOENT ? 0 : err;
}

/*
 * Decode the first via-parm of pl (a Via header value; later via-parms
 * after a ',' are left alone):
 *   sent-protocol LWS sent-by *( SEMI via-params )
 *   sent-protocol = name SLASH version SLASH transport (LWS around '/').
 * Called eagerly for the top Via by cf_sip_msg_decode and on demand for
 * the others. Slices point into pl. Returns 0 or EBADMSG. O(length).
 */
int cf_sip_via_decode(struct cf_sip_via *via, const struct cf_pl *pl)
{
	struct cf_pl name, ver;
	const char *p, *e, *h;
	uint64_t port;
	uint16_t hport;

	if (!via || !pl)
		return EINVAL;
	memset(via, 0, sizeof(*via));
	if (!pl->p)
		return EBADMSG;
	p = skip_lws(pl->p, pl->p + pl->l);
	e = cf_sip_val_end(p, pl->p + pl->l);
	e = rskip_lws(p, e);
	via->val = pl_make(p, e);

	p = token(p, e, &name);
	if (!name.l || p == e || *p != '/')
		return EBADMSG;
	p = token(p + 1, e, &ver);
	if (!ver.l || p == e || *p != '/')
		return EBADMSG;
	via->proto = pl_make(name.p, ver.p + ver.l);
	p = token(p + 1, e, &via->transport);
	if (!via->transport.l || p == e)
		return EBADMSG;

	/* sent-by = host [ COLON port ] */
	h = p;
	if (*p == '[') {
		while (p < e && *p != ']')
			p++;
		if (p == e)
			return EBADMSG;
		p++;
	} else {
		while (p < e && cc_is((uint8_t)*p, CC_HOST))
			p++;
	}
	if (cf_sip_hostport_decode(h, p, &via->host, &via->host_v6, &hport))
		return EBADMSG;
	p = skip_lws(p, e);
	if (p < e && *p == ':') {
		const char *d = p = skip_lws(p + 1, e);
		while (p < e && *p >= '0' && *p <= '9')
			p++;
		if (!dec_u64(d, p, 65535, &port) || !port)
			return EBADMSG;
		via->port = (uint16_t)port;
		p = skip_lws(p, e);
	}
	if (p == e)
		return 0;
	if (*p != ';')
		return EBADMSG;
	via->params = pl_trim_lws(p + 1, e);
	if (!via->params.l)
		return EBADMSG;
	return via_params(via);
}
