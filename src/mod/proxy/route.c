/* SPDX-License-Identifier: BSD-3-Clause */
/* route.c - what every forwarded request gets (RFC 3261 §16.4 Route
 * processing, §16.6 Via/Record-Route/Max-Forwards), loop detection
 * (§16.3 item 4), next hops, and stateless forwarding (§16.11). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "mod/proxy/flow.h"
#include "mod/proxy/proxy_int.h"

/* Our branches: the RFC 3261 cookie, "cf", the loop hash, '.', index. */
#define OUR_BRANCH "z9hG4bKcf"

/* ------------------------------------------------------------ next hop */

/*
 * The next hop for a URI (RFC 3263 §4 with a numeric host: the transport
 * parameter, else UDP for sip: and TLS for sips: (RFC 3261 §26.2.2: a
 * sips URI with transport=tcp means TLS over TCP too); the port, else
 * 5060, or 5061 for TLS). Host names need DNS, which a worker may not
 * block on: ENOENT (the caller resolves them, cf_sip_resolve). EPROTO for
 * a scheme or transport we do not open hops for (sips with udp, ws, wss:
 * confab opens no WebSocket connections).
 */
int proxy_uri_hop(const struct cf_sip_uri *u, struct cf_sip_peer *hop)
{
	bool sips = u->scheme == CF_SIP_SCHEME_SIPS;
	struct cf_pl tp;

	memset(hop, 0, sizeof(*hop));
	if (u->scheme != CF_SIP_SCHEME_SIP && !sips)
		return EPROTO;
	hop->tp = sips ? CF_SIP_TP_TLS : CF_SIP_TP_UDP;
	if (!cf_sip_param_get(&u->params, "transport", &tp) &&
	    cf_pl_isset(&tp)) {
		if (!cf_pl_strcasecmp(&tp, "tcp"))
			hop->tp = sips ? CF_SIP_TP_TLS : CF_SIP_TP_TCP;
		else if (!cf_pl_strcasecmp(&tp, "tls"))
			hop->tp = CF_SIP_TP_TLS;
		else if (cf_pl_strcasecmp(&tp, "udp") || sips)
			return EPROTO;
	}
	if (cf_sa_set_pl(&hop->addr, &u->host,
	                 u->port ? u->port
	                         : (hop->tp == CF_SIP_TP_TLS ? 5061 : 5060)))
		return ENOENT;
	return 0;
}

int proxy_ruri_hop(const struct proxy_routes *r, const struct cf_sip_uri *u,
                   struct cf_sip_peer *hop)
{
	int err;

	if (r && r->nown == 2 && r->flow_set) {
		*hop = r->flow; /* a UA's flow (flow.h) */
		return 0;
	}
	err = proxy_uri_hop(u, hop);
	/* a sips URI is TLS whatever our entry says (RFC 5630) */
	if (!err && r && r->nown == 2 && r->own_tp_set &&
	    u->scheme == CF_SIP_SCHEME_SIP &&
	    !cf_sip_param_exists(&u->params, "transport")) {
		hop->tp = r->own_tp;
		if (!u->port && hop->tp == CF_SIP_TP_TLS)
			cf_sa_set_port(&hop->addr, 5061);
	}
	return err;
}

/*
 * The next hop of one target (fwd.c, before its branch starts; sips.c,
 * to sort targets out): the flow or server it names, else the first Path
 * value (RFC 3327 §5.2), else the next Route (§16.4), else its Request-URI
 * (the target's, or the received one). Errors of proxy_uri_hop.
 */
int proxy_target_hop(const struct proxy_routes *r, const struct cf_sip_msg *req,
                     const struct proxy_target *t, struct cf_sip_peer *hop)
{
	struct cf_sip_uri u;
	struct cf_pl pl;
	int err;

	if (t->has_hop) {
		*hop = t->hop;
		return 0;
	}
	if (t->path) {
		struct cf_sip_addr a;
		const char *comma;

		cf_pl_set_str(&pl, t->path);
		comma = cf_pl_chr(&pl, ',');
		if (comma)
			pl.l = (size_t)(comma - pl.p);
		err = cf_sip_addr_decode(&a, &pl);
		return err ? err : proxy_uri_hop(&a.uri, hop);
	}
	if (r->has_next)
		return proxy_uri_hop(&r->next, hop);
	if (t->uri) {
		cf_pl_set_str(&pl, t->uri);
		err = cf_sip_uri_decode(&u, &pl);
		if (err)
			return err;
	} else {
		u = req->ruri;
	}
	return proxy_ruri_hop(r, &u, hop);
}

/* ------------------------------------------------------ loop detection */

static uint64_t fnv(uint64_t h, const struct cf_pl *pl)
{
	for (size_t i = 0; pl->p && i < pl->l; i++) {
		h ^= (uint8_t)pl->p[i];
		h *= 0x100000001b3ULL;
	}
	h ^= 0xff;
	return h * 0x100000001b3ULL;
}

/*
 * §16.6 item 8 (the Kamailio way): a hash of what identifies the request
 * at this hop — the Request-URI as received, Call-ID, From and To tags,
 * CSeq number and method, Proxy-Require and Proxy-Authorization. The top
 * Via of §16.6 is left out on purpose: with it a request coming back
 * after two hops would never hash the same (the previous hop's Via
 * differs), and loops would be found by Max-Forwards only.
 */
void proxy_loop_hash(const struct cf_sip_msg *msg, char out[PROXY_HASH_LEN + 1])
{
	uint64_t h = 0xcbf29ce484222325ULL;
	struct cf_pl num;
	char nb[16];

	h = fnv(h, &msg->ruri_pl);
	h = fnv(h, &msg->call_id);
	h = fnv(h, &msg->from.tag);
	h = fnv(h, &msg->to.tag);
	snprintf(nb, sizeof(nb), "%u", msg->cseq.num);
	cf_pl_set_str(&num, nb);
	h = fnv(h, &num);
	h = fnv(h, &msg->cseq.method);
	for (size_t i = 0; i < msg->hdrc; i++) {
		if (msg->hdrv[i].id == CF_SIP_H_PROXY_REQUIRE ||
		    msg->hdrv[i].id == CF_SIP_H_PROXY_AUTHORIZATION)
			h = fnv(h, &msg->hdrv[i].val);
	}
	snprintf(out, PROXY_HASH_LEN + 1, "%016llx", (unsigned long long)h);
}

struct loopf {
	const char *hash;
	bool found;
};

static bool loop_via(const struct cf_sip_hdr *hdr, const struct cf_pl *val,
                     void *arg)
{
	struct loopf *l = arg;
	struct cf_sip_via via;
	size_t pre = strlen(OUR_BRANCH);

	(void)hdr;
	if (cf_sip_via_decode(&via, val) || via.branch.l < pre + PROXY_HASH_LEN)
		return false;
	if (strncmp(via.branch.p, OUR_BRANCH, pre) ||
	    memcmp(via.branch.p + pre, l->hash, PROXY_HASH_LEN))
		return false;
	l->found = true;
	return true;
}

/* §16.3 item 4: a Via of ours (our branch prefix) carrying the hash this
 * request hashes to now: it came back unchanged, a loop (482). The same
 * prefix with another hash is a spiral, which is fine. O(Vias). */
bool proxy_loop_found(const struct cf_sip_msg *msg, const char *hash)
{
	struct loopf l = {hash, false};

	cf_sip_msg_vals_apply(msg, CF_SIP_H_VIA, loop_via, &l);
	return l.found;
}

/* -------------------------------------------------------------- routes */

struct rwalk {
	struct cf_app *app;
	struct proxy_routes *r;
	bool in_own; /* still in the leading values that are ours */
	const struct cf_sip_hdr *cur;
	size_t idx; /* value index in the current header */
};

static bool route_val(const struct cf_sip_hdr *hdr, const struct cf_pl *val,
                      void *arg)
{
	struct rwalk *w = arg;
	struct proxy_routes *r = w->r;
	struct cf_sip_addr a;

	if (hdr != w->cur) {
		w->cur = hdr;
		w->idx = 0;
	}
	w->idx++;
	r->count++;
	r->last_hdr = hdr;
	r->last_val = *val;
	r->last_idx = w->idx;
	if (cf_sip_addr_decode(&a, val)) {
		r->bad = true;
		return true;
	}
	r->last = a.uri;

	if (w->in_own && r->nown < 2 && cf_app_uri_is_local(w->app, &a.uri)) {
		/* §16.4: a Route value of ours (two after a double
		 * Record-Route) */
		struct cf_pl tp;

		r->own_hdr[r->nown] = hdr;
		r->own_lr = cf_sip_param_exists(&a.uri.params, "lr");
		(void)cf_sip_param_get(&a.uri.params, "cfack", &r->own_cfack);
		if (r->nown == 1 &&
		    !cf_sip_param_get(&a.uri.params, "transport", &tp) &&
		    cf_pl_isset(&tp) && !cf_sip_tp_decode(&tp, &r->own_tp))
			r->own_tp_set = true;
		else if (r->nown == 1 && a.uri.scheme == CF_SIP_SCHEME_SIPS) {
			r->own_tp = CF_SIP_TP_TLS; /* RFC 5630: sips is TLS */
			r->own_tp_set = true;
		}
		if (r->nown == 1 && !proxy_flow_hop(&a.uri.user, &r->flow))
			r->flow_set = true;
		r->nown++;
		return false;
	}
	if (w->in_own) {
		w->in_own = false;
		r->has_next = true;
		r->next = a.uri;
		r->next_hdr = hdr;
		r->next_val = *val;
		r->next_idx = w->idx;
	}
	return false;
}

/* Read the Route set: our own leading values (§16.4), the first other
 * one, and the last one (strict routers). 0 or EBADMSG. */
int proxy_routes_decode(struct cf_app *app, const struct cf_sip_msg *msg,
                        struct proxy_routes *r)
{
	struct rwalk w = {app, r, true, NULL, 0};

	memset(r, 0, sizeof(*r));
	cf_sip_msg_vals_apply(msg, CF_SIP_H_ROUTE, route_val, &w);
	return r->bad ? EBADMSG : 0;
}

/* The text after value val in hdr (the values that follow it), without
 * the separating comma and spaces. */
static struct cf_pl after(const struct cf_sip_hdr *hdr, const struct cf_pl *val)
{
	const char *end = hdr->val.p + hdr->val.l;
	struct cf_pl rest = {val->p + val->l, 0};

	if (rest.p > end)
		rest.p = end;
	rest.l = (size_t)(end - rest.p);
	while (rest.l && (*rest.p == ',' || *rest.p == ' ' || *rest.p == '\t' ||
	                  *rest.p == '\r' || *rest.p == '\n')) {
		rest.p++;
		rest.l--;
	}
	return rest;
}

/*
 * Record the Route edits: drop our own leading values (§16.4) and, for a
 * strict router (§16.4: our Record-Route came back as the Request-URI),
 * the last value, which becomes the Request-URI. A header line holding
 * more values than those removed is replaced by one with what is left.
 */
static int route_edits(struct cf_sip_msg *msg, const struct proxy_routes *r,
                       bool strict)
{
	const struct cf_sip_hdr *done[3] = {NULL, NULL, NULL};
	size_t nd = 0;
	int err = 0;

	for (size_t i = 0; !err && i < r->nown; i++) {
		const struct cf_sip_hdr *h = r->own_hdr[i];

		if (nd && done[nd - 1] == h)
			continue;
		done[nd++] = h;
		err = cf_sip_msg_edit_del(msg, h);
		/* the rest of a line that also held the next value */
		if (!err && r->has_next && r->next_hdr == h) {
			struct cf_pl rest = after(h, &r->next_val);
			size_t l = (size_t)(rest.p + rest.l - r->next_val.p);

			if (strict && r->last_hdr == h)
				l = (size_t)(r->last_val.p - r->next_val.p);
			while (l && (r->next_val.p[l - 1] == ',' ||
			             r->next_val.p[l - 1] == ' '))
				l--;
			if (l)
				err =
				    cf_sip_msg_edit_add(msg, h, "Route: %.*s",
				                        (int)l, r->next_val.p);
		}
	}
	if (!err && strict && r->last_hdr) {
		const struct cf_sip_hdr *h = r->last_hdr;
		bool gone = false;

		for (size_t i = 0; i < nd; i++)
			gone = gone || done[i] == h;
		if (!gone) {
			size_t l = (size_t)(r->last_val.p - h->val.p);

			err = cf_sip_msg_edit_del(msg, h);
			while (l && (h->val.p[l - 1] == ',' ||
			             h->val.p[l - 1] == ' '))
				l--;
			if (!err && l)
				err = cf_sip_msg_edit_add(msg, h, "Route: %.*s",
				                          (int)l, h->val.p);
		}
	}
	return err;
}

/* The Route values after skip ones, comma-separated, into b. */
struct rrest {
	size_t skip, idx;
	char *b;
	size_t len, size;
	bool full;
};

static bool rest_val(const struct cf_sip_hdr *hdr, const struct cf_pl *val,
                     void *arg)
{
	struct rrest *w = arg;
	int n;

	(void)hdr;
	if (w->idx++ < w->skip)
		return false;
	n = snprintf(w->b + w->len, w->size - w->len, "%.*s, ", (int)val->l,
	             val->p);
	if (n < 0 || (size_t)n >= w->size - w->len) {
		w->full = true;
		return true;
	}
	w->len += (size_t)n;
	return false;
}

/*
 * §16.6 item 6: the next hop is a strict router (its Route value has no
 * lr): it gets the request with its own URI as the Request-URI, the
 * Request-URI we got becomes the last Route value, and its value and ours
 * leave the Route set. The Route lines are rewritten as one.
 */
static int next_strict_edits(struct cf_sip_msg *msg,
                             const struct proxy_routes *r)
{
	const struct cf_sip_hdr *first = cf_sip_msg_hdr(msg, CF_SIP_H_ROUTE);
	struct rrest w = {r->nown + 1, 0, NULL, 0, 0, false};
	int err = 0;

	w.size = msg->raw.l + 16;
	w.b = cf_mem_alloc(w.size, NULL);
	if (!w.b)
		return ENOMEM;
	w.b[0] = 0;
	cf_sip_msg_vals_apply(msg, CF_SIP_H_ROUTE, rest_val, &w);
	if (w.full)
		err = ENOMEM;
	if (!err)
		err = cf_sip_msg_edit_add(msg, first, "Route: %s<%.*s>", w.b,
		                          (int)msg->ruri_pl.l, msg->ruri_pl.p);
	for (size_t i = 0; !err && i < msg->hdrc; i++) {
		if (msg->hdrv[i].id == CF_SIP_H_ROUTE)
			err = cf_sip_msg_edit_del(msg, &msg->hdrv[i]);
	}
	if (!err)
		err = cf_sip_msg_edit_ruri(msg, &r->next.all);
	cf_mem_deref(w.b);
	return err;
}

bool proxy_next_strict(const struct proxy_routes *r)
{
	return r->has_next && !cf_sip_param_exists(&r->next.params, "lr");
}

/* ------------------------------------------------------ request edits */

static const char *tp_lc(enum cf_sip_tp tp)
{
	switch (tp) {
	case CF_SIP_TP_TCP:
		return "tcp";
	case CF_SIP_TP_TLS:
		return "tls";
	case CF_SIP_TP_WS:
		return "ws";
	case CF_SIP_TP_WSS:
		return "wss";
	default:
		return "udp";
	}
}

/* One Record-Route entry for our side on tp. A sips request gets sips
 * entries (RFC 3261 §16.6 item 4, RFC 5630 §4.3): the TLS listener with
 * no transport parameter (sips means TLS), or wss for a WebSocket flow.
 * The entry of a side that is a UA's flow names it in its user part
 * (flow.h): user is "" or "TOKEN@". */
static int rr_add(struct cf_sip_msg *msg, const struct cf_sa *a,
                  enum cf_sip_tp tp, bool sips, const char *param,
                  const char *user)
{
	char addr[64];

	cf_sa_print(a, addr, sizeof(addr));
	if (!param)
		param = "";
	if (sips && tp == CF_SIP_TP_TLS)
		return cf_sip_msg_edit_add(msg, NULL,
		                           "Record-Route: <sips:%s%s;lr%s>", user,
		                           addr, param);
	if (tp == CF_SIP_TP_UDP)
		return cf_sip_msg_edit_add(msg, NULL,
		                           "Record-Route: <sip:%s%s;lr%s>", user,
		                           addr, param);
	return cf_sip_msg_edit_add(msg, NULL,
	                           "Record-Route: <%s:%s%s;transport=%s;lr%s>",
	                           sips ? "sips" : "sip", user, addr,
	                           tp_lc(tp), param);
}

/* "TOKEN@" naming the flow of a side (its peer set: fwd.c decides with
 * proxy_flow_in/out), else "". True when a token was written. */
static bool flow_user(enum cf_sip_tp tp, const struct cf_sa *peer, char *buf,
                      size_t size)
{
	buf[0] = '\0';
	if (proxy_flow_user(tp, peer, buf, size - 1)) {
		buf[0] = '\0';
		return false;
	}
	strcat(buf, "@");
	return true;
}

/*
 * The edits of §16.6 for one branch, recorded on msg: Route processing
 * (§16.4), Max-Forwards decremented or 70 (item 3), Record-Route (item 4:
 * one entry, or two when the request changes transport or address family
 * so that each side gets the address it can reach), the new top Via with
 * a branch of the loop hash and the branch index (item 8). ENOMEM.
 */
int proxy_req_edits(struct cf_sip_msg *msg, const struct proxy_edit *e)
{
	const struct cf_sip_hdr *mf =
	    cf_sip_msg_hdr(msg, CF_SIP_H_MAX_FORWARDS);
	char addr[64];
	int err;

	if (!e->strict && !e->ruri && !e->path && proxy_next_strict(e->routes))
		err = next_strict_edits(msg, e->routes);
	else
		err = route_edits(msg, e->routes, e->strict);
	if (!err && e->ruri)
		err = cf_sip_msg_edit_ruri(msg, e->ruri);
	if (!err && mf) {
		err = cf_sip_msg_edit_add(
		    msg, mf, "Max-Forwards: %d",
		    msg->max_forwards > 0 ? msg->max_forwards - 1 : 0);
		if (!err)
			err = cf_sip_msg_edit_del(msg, mf);
	} else if (!err) {
		err = cf_sip_msg_edit_append(msg, "Max-Forwards: 70");
	}
	if (!err && e->rr) {
		/* a side that is a UA's flow gets an entry of its own, naming
		 * it: the second of our entries in a request's Route set is
		 * then always the side the request goes out on */
		char uin[PROXY_FLOW_USER_MAX + 1], uout[PROXY_FLOW_USER_MAX + 1];
		bool fin = flow_user(e->in_tp, &e->in_addr, uin, sizeof(uin));
		bool fout = flow_user(e->out_tp, &e->out_addr, uout,
		                      sizeof(uout));
		bool two = e->in_tp != e->out_tp ||
		           cf_sa_af(&e->in_local) != cf_sa_af(&e->out_local) ||
		           fin || fout;

		/* the top entry is the one the callee's side reaches */
		err = rr_add(msg, &e->out_local, e->out_tp, e->sips,
		             e->rr_param, uout);
		if (!err && two)
			err = rr_add(msg, &e->in_local, e->in_tp, e->sips,
			             e->rr_param, uin);
	}
	/* Path from the binding (RFC 3327 §5.2): Route headers, first */
	if (!err && e->path)
		err = cf_sip_msg_edit_add(msg, NULL, "Route: %s", e->path);
	if (!err) {
		cf_sa_print(&e->out_local, addr, sizeof(addr));
		err = cf_sip_msg_edit_add(
		    msg, NULL,
		    "Via: SIP/2.0/%s %s;branch=" OUR_BRANCH "%s.%u%s",
		    cf_sip_tp_name(e->out_tp), addr, e->hash, e->idx,
		    e->out_tp == CF_SIP_TP_UDP ? ";rport" : "");
	}
	return err;
}

/* --------------------------------------------------------- stateless */

/* Where a response goes after our Via: the next Via's received (else its
 * host) and rport (else its port, else 5060); its transport. §18.2.2. */
static int via_hop(const struct cf_sip_via *v, struct cf_sip_peer *hop)
{
	const struct cf_pl *host =
	    cf_pl_isset(&v->received) ? &v->received : &v->host;
	uint32_t port = v->port ? v->port : 5060;
	struct cf_pl tp = v->transport;

	memset(hop, 0, sizeof(*hop));
	if (cf_pl_isset(&v->rport_val))
		(void)cf_pl_u32(&v->rport_val, &port);
	if (cf_sip_tp_decode(&tp, &hop->tp) ||
	    (hop->tp != CF_SIP_TP_UDP && hop->tp != CF_SIP_TP_TCP &&
	     hop->tp != CF_SIP_TP_TLS))
		return EPROTO;
	if (!v->port && !cf_pl_isset(&v->rport_val) && hop->tp == CF_SIP_TP_TLS)
		port = 5061; /* §18.2.2: the transport's default port */
	if (port == 0 || port > 65535 ||
	    cf_sa_set_pl(&hop->addr, host, (uint16_t)port))
		return ENOENT;
	return 0;
}

struct vwalk {
	size_t n;
	struct cf_pl first, second;
	const struct cf_sip_hdr *first_hdr;
};

static bool via_val(const struct cf_sip_hdr *hdr, const struct cf_pl *val,
                    void *arg)
{
	struct vwalk *w = arg;

	if (w->n == 0) {
		w->first = *val;
		w->first_hdr = hdr;
	} else {
		w->second = *val;
	}
	return ++w->n == 2;
}

/*
 * §16.7 step 3 / §16.11: remove the top Via, which must be ours, and send
 * the response where the next Via says. Used for 2xx retransmissions of
 * an INVITE after the proxy transaction ended (RFC 6026 §7.2) and for
 * strays. A response that is not ours, or that has no second Via, is
 * dropped (§16.7 step 3).
 */
void proxy_resp_stateless(struct cf_sip_txn_env *env,
                          const struct cf_sip_msg *cmsg)
{
	struct cf_sip_msg *msg = (struct cf_sip_msg *)cmsg;
	struct vwalk w = {0};
	struct cf_sip_via top, next;
	struct cf_sip_peer hop;
	struct cf_mbuf *mb = NULL;
	int err;

	if (!env)
		return;
	cf_sip_msg_vals_apply(msg, CF_SIP_H_VIA, via_val, &w);
	if (w.n < 2 || cf_sip_via_decode(&top, &w.first) ||
	    cf_sip_via_decode(&next, &w.second) ||
	    top.branch.l < strlen(OUR_BRANCH) ||
	    strncmp(top.branch.p, OUR_BRANCH, strlen(OUR_BRANCH)))
		return;
	if (via_hop(&next, &hop))
		return;

	/* msg is this worker's, passed to us alone: its edit list is ours
	 * for the length of this call */
	err = cf_sip_msg_edit_del(msg, w.first_hdr);
	if (!err) {
		struct cf_pl rest = after(w.first_hdr, &w.first);

		if (rest.l)
			err = cf_sip_msg_edit_add(msg, w.first_hdr, "Via: %.*s",
			                          (int)rest.l, rest.p);
	}
	if (!err)
		err = cf_mbuf_alloc(&mb, msg->raw.l);
	if (!err)
		err = cf_sip_msg_encode(mb, msg);
	if (!err) {
		struct cf_pl bytes = cf_mbuf_pl(mb);

		err = cf_sip_txn_env_send(env, &hop, &bytes);
		proxy_stat_stateless();
	}
	cf_sip_msg_edit_clear(msg);
	cf_mem_deref(mb);
	if (err)
		cf_log(CF_LOG_NOTICE, &msg->call_id,
		       "proxy: response %u not forwarded: %s", msg->scode,
		       strerror(err));
}

/*
 * §16.11: an ACK for a 2xx (it matches no transaction) goes on with no
 * state: Route processing, Max-Forwards, a Via whose branch is the same
 * for a retransmission (the hash). Its next hop is the first Route left,
 * else the Request-URI. Returns false when the ACK is not for us to
 * forward (no Route, Request-URI ours).
 */
bool proxy_req_stateless(struct cf_app *app, struct cf_sip_txn_env *env,
                         const struct cf_sip_msg *cmsg,
                         const struct cf_sip_peer *peer)
{
	struct cf_sip_msg *msg = (struct cf_sip_msg *)cmsg;
	struct proxy_routes r;
	struct proxy_edit e = {0};
	struct cf_sip_peer hop;
	struct cf_mbuf *mb = NULL;
	struct proxy_target t = {0};
	struct cf_pl turi;
	char hash[PROXY_HASH_LEN + 1];
	int err;

	if (!env || proxy_routes_decode(app, msg, &r))
		return false;
	if (r.has_next) {
		err = proxy_uri_hop(&r.next, &hop);
	} else if (!cf_app_uri_is_local(app, &msg->ruri)) {
		err = proxy_ruri_hop(&r, &msg->ruri, &hop);
	} else if (cf_sip_param_exists(&msg->ruri.params, "gr") &&
	           proxy_gruu_target(&msg->ruri, &t)) {
		/* a GRUU as remote target (RFC 5627 §7): its binding, as
		 * for the requests of the dialog (proxy.c) */
		struct cf_sip_uri u;

		cf_pl_set_str(&turi, t.uri);
		e.ruri = &turi;
		e.path = t.path;
		if (t.has_hop) {
			hop = t.hop;
			err = 0;
		} else if (t.path) {
			struct cf_sip_addr a;
			struct cf_pl pv;
			const char *comma;

			cf_pl_set_str(&pv, t.path);
			comma = cf_pl_chr(&pv, ',');
			if (comma)
				pv.l = (size_t)(comma - pv.p);
			err = cf_sip_addr_decode(&a, &pv);
			if (!err)
				err = proxy_uri_hop(&a.uri, &hop);
		} else {
			err = cf_sip_uri_decode(&u, &turi);
			if (!err)
				err = proxy_uri_hop(&u, &hop);
		}
	} else {
		return false;
	}
	if (msg->max_forwards == 0) {
		proxy_targets_free(&t, 1);
		return true; /* §16.3 step 3: nothing to answer an ACK with */
	}
	if (msg->max_forwards == 0)
		return true; /* §16.3 step 3: nothing to answer an ACK with */
	if (err) {
		cf_log(CF_LOG_NOTICE, &msg->call_id,
		       "proxy: ACK not forwarded: no next hop (%s)",
		       strerror(err));
		proxy_targets_free(&t, 1);
		return true;
	}

	if (proxy_sips_refused(msg, &r, &hop))
		return true; /* RFC 5630: logged and counted there */

	proxy_loop_hash(msg, hash);
	e.routes = &r;
	e.hash = hash;
	e.in_tp = peer->tp;
	e.out_tp = hop.tp;
	e.in_local = peer->local;
	if (cf_sa_isset(&hop.local)) {
		e.out_local = hop.local; /* a flow: its own side */
	} else {
		proxy_local_addr(hop.tp, cf_sa_af(&hop.addr), &peer->local,
		                 &e.out_local);
		hop.local = e.out_local;
	}
	err = proxy_req_edits(msg, &e);
	if (!err && cf_pl_isset(&r.own_cfack))
		err = proxy_trunk_ack(msg, &r);
	if (!err)
		err = cf_mbuf_alloc(&mb, msg->raw.l + 256);
	if (!err)
		err = cf_sip_msg_encode(mb, msg);
	if (!err) {
		struct cf_pl bytes = cf_mbuf_pl(mb);

		err = cf_sip_txn_env_send(env, &hop, &bytes);
		proxy_stat_stateless();
	}
	cf_sip_msg_edit_clear(msg);
	cf_mem_deref(mb);
	proxy_targets_free(&t, 1);
	if (err)
		cf_log(CF_LOG_NOTICE, &msg->call_id,
		       "proxy: ACK not forwarded: %s", strerror(err));
	return true;
}
