/* SPDX-License-Identifier: BSD-3-Clause */
/* dialog.c - RFC 3261 §12 dialogs seen from one side (UAC or UAS): the
 * dialog ID, route set, remote target, CSeq numbers and the early ->
 * confirmed -> terminated states. Pure bookkeeping: the owner feeds it
 * the messages it sends and receives, and asks it to write requests. A
 * proxy observing a call holds the two views (caller's, callee's). */
#include <errno.h>
#include <string.h>

#include "sip/sip.h"

enum { ROUTES_MAX = 32 }; /* route set entries kept (more: EBADMSG) */

static void dialog_destroy(void *data)
{
	struct cf_sip_dialog *d = data;

	cf_mem_deref(d->call_id);
	cf_mem_deref(d->local_tag);
	cf_mem_deref(d->remote_tag);
	cf_mem_deref(d->local_uri);
	cf_mem_deref(d->remote_uri);
	cf_mem_deref(d->target);
	for (size_t i = 0; i < d->nroutes; i++)
		cf_mem_deref(d->routes[i]);
	cf_mem_deref(d->routes);
}

const char *cf_sip_dialog_state_name(enum cf_sip_dlg_state s)
{
	switch (s) {
	case CF_SIP_DLG_EARLY:
		return "early";
	case CF_SIP_DLG_CONFIRMED:
		return "confirmed";
	case CF_SIP_DLG_TERMINATED:
		return "terminated";
	}
	return "?";
}

/* ------------------------------------------------------------ routes */

struct rr_collect {
	struct cf_pl v[ROUTES_MAX];
	size_t n;
	bool over;
};

static bool rr_h(const struct cf_sip_hdr *hdr, const struct cf_pl *val,
                 void *arg)
{
	struct rr_collect *c = arg;

	(void)hdr;
	if (c->n >= ROUTES_MAX) {
		c->over = true;
		return true;
	}
	c->v[c->n++] = *val;
	return false;
}

/* The route set from msg's Record-Route (reversed for a UAC), replacing
 * the one held. Each value is checked to be a name-addr URI. */
static int routes_set(struct cf_sip_dialog *d, const struct cf_sip_msg *msg,
                      bool reverse)
{
	struct rr_collect c = {0};
	char **rv = NULL;

	cf_sip_msg_vals_apply(msg, CF_SIP_H_RECORD_ROUTE, rr_h, &c);
	if (c.over)
		return EBADMSG;
	if (c.n) {
		rv = cf_mem_zalloc(c.n * sizeof(*rv), NULL);
		if (!rv)
			return ENOMEM;
	}
	for (size_t i = 0; i < c.n; i++) {
		const struct cf_pl *v = &c.v[reverse ? c.n - 1 - i : i];
		struct cf_sip_addr a;

		if (cf_sip_addr_decode(&a, v) ||
		    (a.uri.scheme != CF_SIP_SCHEME_SIP &&
		     a.uri.scheme != CF_SIP_SCHEME_SIPS)) {
			for (size_t j = 0; j < i; j++)
				cf_mem_deref(rv[j]);
			cf_mem_deref(rv);
			return EBADMSG;
		}
		rv[i] = cf_pl_dup(v);
		if (!rv[i]) {
			for (size_t j = 0; j < i; j++)
				cf_mem_deref(rv[j]);
			cf_mem_deref(rv);
			return ENOMEM;
		}
	}
	for (size_t i = 0; i < d->nroutes; i++)
		cf_mem_deref(d->routes[i]);
	cf_mem_deref(d->routes);
	d->routes = rv;
	d->nroutes = c.n;
	return 0;
}

int cf_sip_dialog_routes_set(struct cf_sip_dialog *d,
                             const struct cf_sip_msg *msg)
{
	if (!d || !msg)
		return EINVAL;
	return routes_set(d, msg, d->role == CF_SIP_DLG_UAC);
}

static bool first_val(const struct cf_sip_hdr *hdr, const struct cf_pl *val,
                      void *arg)
{
	(void)hdr;
	*(struct cf_pl *)arg = *val;
	return true;
}

/* The URI of the first Contact: ENOENT when none, EBADMSG when bad. */
static int contact_uri(const struct cf_sip_msg *msg, char **out)
{
	struct cf_pl v = {0};
	struct cf_sip_addr a;
	char *s;

	cf_sip_msg_vals_apply(msg, CF_SIP_H_CONTACT, first_val, &v);
	if (!cf_pl_isset(&v))
		return ENOENT;
	if (cf_sip_addr_decode(&a, &v) || a.wildcard)
		return EBADMSG;
	s = cf_pl_dup(&a.uri.all);
	if (!s)
		return ENOMEM;
	cf_mem_deref(*out);
	*out = s;
	return 0;
}

/* ------------------------------------------------------------ create */

static int common(struct cf_sip_dialog **dp, const struct cf_sip_msg *req,
                  const struct cf_pl *ltag, const struct cf_pl *rtag,
                  const struct cf_sip_addr *local,
                  const struct cf_sip_addr *remote, enum cf_sip_dlg_role role,
                  uint16_t code)
{
	struct cf_sip_dialog *d;

	d = cf_mem_zalloc(sizeof(*d), dialog_destroy);
	if (!d)
		return ENOMEM;
	d->role = role;
	d->method = req->mid;
	d->state = code < 200 ? CF_SIP_DLG_EARLY : CF_SIP_DLG_CONFIRMED;
	d->code = code >= 200 ? code : 0;
	d->call_id = cf_pl_dup(&req->call_id);
	d->local_tag = cf_pl_dup(ltag);
	d->remote_tag = cf_pl_isset(rtag) ? cf_pl_dup(rtag) : cf_mem_strdup("");
	d->local_uri = cf_pl_dup(&local->uri.all);
	d->remote_uri = cf_pl_dup(&remote->uri.all);
	if (!d->call_id || !d->local_tag || !d->remote_tag || !d->local_uri ||
	    !d->remote_uri) {
		cf_mem_deref(d);
		return ENOMEM;
	}
	*dp = d;
	return 0;
}

int cf_sip_dialog_uac_alloc(struct cf_sip_dialog **dp,
                            const struct cf_sip_msg *req,
                            const struct cf_sip_msg *resp)
{
	struct cf_sip_dialog *d;
	int err;

	if (!dp || !req || !resp || !req->req || resp->req ||
	    resp->scode <= 100 || resp->scode >= 300 ||
	    !cf_pl_isset(&resp->to.tag) || !cf_pl_isset(&req->from.tag) ||
	    cf_pl_cmp(&req->call_id, &resp->call_id))
		return EINVAL;
	err = common(&d, req, &req->from.tag, &resp->to.tag, &req->from,
	             &req->to, CF_SIP_DLG_UAC, resp->scode);
	if (err)
		return err;
	d->local_cseq = req->cseq.num;
	err = routes_set(d, resp, true);
	if (!err) {
		err = contact_uri(resp, &d->target);
		if (err == ENOENT && resp->scode < 200) {
			/* a provisional may come without: the Request-URI
			 * until the 2xx says */
			d->target = cf_pl_dup(&req->ruri_pl);
			err = d->target ? 0 : ENOMEM;
		} else if (err == ENOENT) {
			err = EBADMSG;
		}
	}
	if (err) {
		cf_mem_deref(d);
		return err;
	}
	*dp = d;
	return 0;
}

int cf_sip_dialog_uas_alloc(struct cf_sip_dialog **dp,
                            const struct cf_sip_msg *req,
                            const struct cf_pl *local_tag, uint16_t code)
{
	struct cf_sip_dialog *d;
	int err;

	if (!dp || !req || !req->req || !cf_pl_isset(local_tag) ||
	    code <= 100 || code >= 300)
		return EINVAL;
	err = common(&d, req, local_tag, &req->from.tag, &req->to, &req->from,
	             CF_SIP_DLG_UAS, code);
	if (err)
		return err;
	d->remote_cseq = req->cseq.num;
	d->remote_set = true;
	err = routes_set(d, req, false);
	if (!err)
		err = contact_uri(req, &d->target);
	if (err == ENOENT)
		err = EBADMSG;
	if (err) {
		cf_mem_deref(d);
		return err;
	}
	*dp = d;
	return 0;
}

/* ------------------------------------------------------------ update */

bool cf_sip_dialog_match(const struct cf_sip_dialog *d,
                         const struct cf_sip_msg *req)
{
	return d && req && req->req &&
	       !cf_pl_strcmp(&req->call_id, d->call_id) &&
	       !cf_pl_strcmp(&req->to.tag, d->local_tag) &&
	       (!d->remote_tag[0] || !cf_pl_strcmp(&req->from.tag, d->remote_tag));
}

static bool target_refresh(enum cf_sip_method m)
{
	return m == CF_SIP_M_INVITE || m == CF_SIP_M_UPDATE ||
	       m == CF_SIP_M_SUBSCRIBE || m == CF_SIP_M_NOTIFY;
}

/* A final response to the request that made the dialog (an early one):
 * 2xx confirms, anything else ends it. */
static int initial_final(struct cf_sip_dialog *d, const struct cf_sip_msg *m,
                         bool uac)
{
	int err = 0;

	if (d->state != CF_SIP_DLG_EARLY)
		return 0;
	d->code = m->scode;
	if (m->scode >= 300) {
		d->state = CF_SIP_DLG_TERMINATED;
		return 0;
	}
	d->state = CF_SIP_DLG_CONFIRMED;
	if (uac) {
		/* §12.1.2: the route set is computed from the 2xx */
		err = routes_set(d, m, true);
		if (!err) {
			err = contact_uri(m, &d->target);
			if (err == ENOENT)
				err = 0;
		}
	}
	return err;
}

int cf_sip_dialog_recv(struct cf_sip_dialog *d, const struct cf_sip_msg *msg)
{
	int err;

	if (!d || !msg)
		return EINVAL;
	if (!msg->req) {
		if (d->state == CF_SIP_DLG_TERMINATED || msg->scode < 200)
			return 0;
		if (d->role == CF_SIP_DLG_UAC && msg->cseq.mid == d->method &&
		    d->state == CF_SIP_DLG_EARLY)
			return initial_final(d, msg, true);
		if (msg->scode == 481 || msg->scode == 408)
			d->state = CF_SIP_DLG_TERMINATED;
		else if (msg->scode < 300 && target_refresh(msg->cseq.mid)) {
			err = contact_uri(msg, &d->target);
			if (err && err != ENOENT)
				return err;
		}
		return 0;
	}
	if (!cf_sip_dialog_match(d, msg))
		return ENOENT;
	if (msg->mid == CF_SIP_M_ACK || msg->mid == CF_SIP_M_CANCEL)
		return 0; /* CSeq of the INVITE: not a new request */
	if (d->remote_set && msg->cseq.num <= d->remote_cseq)
		return EPROTO; /* a retransmission never gets here */
	d->remote_cseq = msg->cseq.num;
	d->remote_set = true;
	if (msg->mid == CF_SIP_M_BYE) {
		d->state = CF_SIP_DLG_TERMINATED;
		return 0;
	}
	if (target_refresh(msg->mid)) {
		err = contact_uri(msg, &d->target);
		if (err && err != ENOENT)
			return err;
	}
	return 0;
}

int cf_sip_dialog_sent(struct cf_sip_dialog *d, const struct cf_sip_msg *msg)
{
	if (!d || !msg)
		return EINVAL;
	if (msg->req) {
		if (msg->mid == CF_SIP_M_ACK || msg->mid == CF_SIP_M_CANCEL)
			return 0;
		if (msg->cseq.num > d->local_cseq)
			d->local_cseq = msg->cseq.num;
		if (msg->mid == CF_SIP_M_BYE)
			d->state = CF_SIP_DLG_TERMINATED;
		return 0;
	}
	if (d->role == CF_SIP_DLG_UAS && msg->cseq.mid == d->method &&
	    msg->scode >= 200 && d->remote_set &&
	    msg->cseq.num == d->remote_cseq)
		return initial_final(d, msg, false);
	return 0;
}

/* ------------------------------------------------------------ requests */

/* The URI inside a route value "<uri;lr>;params". */
static int route_uri(const char *val, struct cf_sip_uri *u)
{
	struct cf_sip_addr a;
	struct cf_pl pl;

	cf_pl_set_str(&pl, val);
	if (cf_sip_addr_decode(&a, &pl))
		return EBADMSG;
	*u = a.uri;
	return 0;
}

static bool strict_first(const struct cf_sip_dialog *d)
{
	struct cf_sip_uri u;

	return d->nroutes && !route_uri(d->routes[0], &u) &&
	       !cf_sip_param_exists(&u.params, "lr");
}

int cf_sip_dialog_next_hop(const struct cf_sip_dialog *d,
                           struct cf_sip_uri *uri)
{
	struct cf_pl pl;

	if (!d || !uri)
		return EINVAL;
	if (d->nroutes)
		return route_uri(d->routes[0], uri);
	cf_pl_set_str(&pl, d->target);
	return cf_sip_uri_decode(uri, &pl) ? EBADMSG : 0;
}

int cf_sip_dialog_request_encode(struct cf_mbuf *mb, struct cf_sip_dialog *d,
                                 enum cf_sip_method m, const char *via,
                                 const char *hdrs, const struct cf_pl *body)
{
	const char *name = cf_sip_method_name(m);
	bool strict;
	uint32_t cseq;
	size_t first = 0;
	int err;

	if (!mb || !d || !via || !d->target || !name ||
	    d->state == CF_SIP_DLG_TERMINATED)
		return EINVAL;
	cseq = m == CF_SIP_M_ACK ? d->local_cseq : d->local_cseq + 1;
	strict = strict_first(d);
	if (strict) {
		/* §12.2.1.1: a strict router gets the Request-URI, the
		 * target goes last in Route */
		struct cf_sip_uri u;

		(void)route_uri(d->routes[0], &u);
		err = cf_mbuf_printf(mb, "%s %.*s SIP/2.0\r\n", name,
		                     (int)u.all.l, u.all.p);
		first = 1;
	} else {
		err = cf_mbuf_printf(mb, "%s %s SIP/2.0\r\n", name, d->target);
	}
	if (!err)
		err = cf_mbuf_printf(mb, "Via: %s\r\nMax-Forwards: 70\r\n", via);
	for (size_t i = first; !err && i < d->nroutes; i++)
		err = cf_mbuf_printf(mb, "Route: %s\r\n", d->routes[i]);
	if (!err && strict)
		err = cf_mbuf_printf(mb, "Route: <%s>\r\n", d->target);
	if (!err)
		err = cf_mbuf_printf(mb, "From: <%s>;tag=%s\r\n", d->local_uri,
		                     d->local_tag);
	if (!err)
		err = cf_mbuf_printf(mb, "To: <%s>%s%s\r\n", d->remote_uri,
		                     d->remote_tag[0] ? ";tag=" : "",
		                     d->remote_tag);
	if (!err)
		err = cf_mbuf_printf(mb, "Call-ID: %s\r\nCSeq: %u %s\r\n",
		                     d->call_id, cseq, name);
	if (!err && hdrs)
		err = cf_mbuf_write_str(mb, hdrs);
	if (!err)
		err = cf_mbuf_printf(mb, "Content-Length: %zu\r\n\r\n",
		                     body ? body->l : 0);
	if (!err && body && body->l)
		err = cf_mbuf_write_pl(mb, body);
	if (!err)
		d->local_cseq = cseq;
	return err;
}

size_t cf_sip_dialog_routes_after(struct cf_sip_dialog *d,
                                  cf_sip_dialog_route_h *ours, void *arg)
{
	size_t i, end;

	if (!d || !ours)
		return 0;
	for (i = 0; i < d->nroutes; i++) {
		struct cf_sip_uri u;

		if (!route_uri(d->routes[i], &u) && ours(&u, arg))
			break;
	}
	if (i == d->nroutes)
		return 0;
	for (end = i; end < d->nroutes; end++) {
		struct cf_sip_uri u;

		if (route_uri(d->routes[end], &u) || !ours(&u, arg))
			break;
	}
	for (size_t j = 0; j < end; j++)
		cf_mem_deref(d->routes[j]);
	memmove(d->routes, d->routes + end,
	        (d->nroutes - end) * sizeof(*d->routes));
	d->nroutes -= end;
	return end;
}
