/* SPDX-License-Identifier: BSD-3-Clause */
/* param.c - ";name=value" parameter lists and comma-separated header
 * values (RFC 3261 §7.3.1, §25.1), decoded on demand from slices. */
#include <errno.h>

#include "proto/sip/sip_int.h"

/* Characters that end a bare parameter value. */
static inline bool val_stop(uint8_t c)
{
	return c == ';' || c == ',' || c == '?' || c == '<' || c == '>' ||
	       c == '"' || c <= ' ' || c == 0x7f;
}

/*
 * Walk one parameter. The cursor *pos starts at 0; after the last
 * parameter it is set past the end so the next call says ENOENT. An empty
 * name (";;", a trailing ';' or "=v") is EBADMSG: RFC 4475 §3.1.2.1 wants
 * those refused. O(length of the parameter).
 */
int cf_sip_param_next(const struct cf_pl *params, size_t *pos,
                      struct cf_pl *name, struct cf_pl *val)
{
	const char *s, *p, *e, *n;

	if (!params || !pos || !name || !val)
		return EINVAL;
	if (!params->p || *pos > params->l)
		return ENOENT;

	s = params->p;
	e = s + params->l;
	p = skip_lws(s + *pos, e);
	if (p == e)
		return *pos == 0 ? ENOENT : EBADMSG;

	n = p;
	while (p < e && cc_is((uint8_t)*p, CC_TOKEN | CC_PARAM))
		p++;
	if (p == n)
		return EBADMSG;
	*name = pl_make(n, p);
	*val = CF_PL_NULL;

	p = skip_lws(p, e);
	if (p < e && *p == '=') {
		p = skip_lws(p + 1, e);
		n = p;
		if (p < e && *p == '"') {
			p = skip_quoted(p, e);
			if (!p)
				return EBADMSG;
		} else if (p < e && *p == '[') {
			while (p < e && *p != ']' && !is_lws(*p))
				p++;
			if (p == e || *p != ']')
				return EBADMSG;
			p++;
		} else {
			while (p < e && !val_stop((uint8_t)*p))
				p++;
		}
		if (p == n)
			return EBADMSG;
		*val = pl_make(n, p);
		p = skip_lws(p, e);
	}

	if (p == e) {
		*pos = params->l + 1;
		return 0;
	}
	if (*p != ';')
		return EBADMSG;
	*pos = (size_t)(p + 1 - s);
	return 0;
}

/* Look a parameter up by name (case-insensitive, RFC 3261 §19.1.4).
 * Called by the transaction layer (branch), registrar (expires) etc. on
 * demand; O(length of params). ENOENT when absent, EBADMSG if the list is
 * malformed before it is found. */
int cf_sip_param_get(const struct cf_pl *params, const char *name,
                     struct cf_pl *val)
{
	struct cf_pl n, v;
	size_t pos = 0, nl;
	int err;

	if (!params || !name)
		return EINVAL;
	nl = strlen(name);
	while (!(err = cf_sip_param_next(params, &pos, &n, &v))) {
		if (n.l == nl && mem_ci_eq(n.p, name, nl)) {
			if (val)
				*val = v;
			return 0;
		}
	}
	return err;
}

bool cf_sip_param_exists(const struct cf_pl *params, const char *name)
{
	return cf_sip_param_get(params, name, NULL) == 0;
}

/* End of the first comma-separated value in [p,e): a ',' outside quoted
 * strings and <...>, or e. An unterminated quote runs to e. */
const char *cf_sip_val_end(const char *p, const char *e)
{
	/* fast path (vectorised memchr): no quote and no '<' before the
	 * first comma, or none at all */
	const char *c = memchr(p, ',', (size_t)(e - p));
	const char *x = c ? c : e;

	if (!memchr(p, '"', (size_t)(x - p)) &&
	    !memchr(p, '<', (size_t)(x - p)))
		return x;

	while (p < e) {
		switch (*p) {
		case ',':
			return p;
		case '"': {
			const char *q = skip_quoted(p, e);
			if (!q)
				return e;
			p = q;
			continue;
		}
		case '<':
			while (p < e && *p != '>')
				p++;
			if (p == e)
				return e;
			break;
		default:
			break;
		}
		p++;
	}
	return e;
}

/*
 * Call h for every comma-separated value of every header with this id, in
 * message order. Used for Contact, Route, Record-Route, Supported, Require
 * and the like. Empty values (",,") are skipped. O(bytes of those headers).
 * Returns 0, or ENOENT when no header has the id.
 */
int cf_sip_msg_vals_apply(const struct cf_sip_msg *msg, enum cf_sip_hdr_id id,
                          cf_sip_val_h *h, void *arg)
{
	bool found = false;

	if (!msg || !h)
		return EINVAL;
	for (size_t i = 0; i < msg->hdrc; i++) {
		const struct cf_sip_hdr *hdr = &msg->hdrv[i];
		const char *p, *e;

		if (hdr->id != id)
			continue;
		found = true;
		p = hdr->val.p;
		e = p + hdr->val.l;
		while (p < e) {
			const char *ve = cf_sip_val_end(p, e);
			struct cf_pl v = pl_trim_lws(p, ve);

			if (v.l && h(hdr, &v, arg))
				return 0;
			p = ve + 1;
		}
	}
	return found ? 0 : ENOENT;
}
