/* SPDX-License-Identifier: BSD-3-Clause */
/* sips.c - TLS in routing: RFC 5630 and RFC 3261 §26.2 (a request for a
 * sips URI leaves over TLS or WSS hops only, its Record-Route is sips) and
 * RFC 5922 §4 (the name a new TLS connection expects the server to
 * prove). */
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "mod/proxy/proxy_int.h"

static atomic_uint_fast64_t refused; /* targets not sent: plain hop */

uint64_t proxy_sips_refused_count(void)
{
	return atomic_load(&refused);
}

/*
 * RFC 3261 §26.2.2 and RFC 5630 §3.1: a sips Request-URI asks for TLS on
 * every hop up to the domain serving it and beyond (the "last hop"
 * exception of RFC 3261 is gone, RFC 5630 §3.1.3). A sips Route after
 * ours asks the same of the hop to that proxy. Our own Route entries
 * (sips after a sips Record-Route) were removed: they say how the request
 * came, not where it goes.
 */
bool proxy_sips_req(const struct cf_sip_msg *msg, const struct proxy_routes *r)
{
	return msg->ruri.scheme == CF_SIP_SCHEME_SIPS ||
	       (r && r->has_next && r->next.scheme == CF_SIP_SCHEME_SIPS);
}

/* TLS, or a WebSocket flow over TLS (RFC 7118 §5: wss counts as TLS). */
static bool secure(enum cf_sip_tp tp)
{
	return tp == CF_SIP_TP_TLS || tp == CF_SIP_TP_WSS;
}

bool proxy_sips_refused(const struct cf_sip_msg *msg,
                        const struct proxy_routes *r,
                        const struct cf_sip_peer *hop)
{
	char a[64];

	if (!proxy_sips_req(msg, r) || secure(hop->tp))
		return false;
	atomic_fetch_add(&refused, 1);
	cf_log(CF_LOG_NOTICE, &msg->call_id,
	       "proxy: sips: %.*s %.*s not sent to %s %s: not a TLS hop "
	       "(RFC 5630)",
	       (int)msg->method.l, msg->method.p, (int)msg->ruri_pl.l,
	       msg->ruri_pl.p, cf_sip_tp_name(hop->tp),
	       cf_sa_print(&hop->addr, a, sizeof(a)));
	return true;
}

/*
 * The target set of a sips request, plain hops removed (RFC 5630 §4.1: a
 * binding reachable only over UDP or TCP cannot take it, whatever its
 * Contact's scheme; one registered over a TLS flow can, its Request-URI
 * becoming its Contact). A target whose hop cannot be known yet (a host
 * name) stays: its branch is checked again when it starts. O(n).
 */
size_t proxy_sips_targets(struct cf_sip_strans *st,
                          const struct cf_sip_msg *msg,
                          const struct proxy_routes *r, struct proxy_target *tv,
                          size_t n)
{
	size_t kept = 0;

	if (!proxy_sips_req(msg, r))
		return n;
	for (size_t i = 0; i < n; i++) {
		struct cf_sip_peer hop;

		if (!proxy_target_hop(r, msg, &tv[i], &hop) &&
		    proxy_sips_refused(msg, r, &hop)) {
			proxy_targets_free(&tv[i], 1);
			continue;
		}
		if (kept != i)
			tv[kept] = tv[i];
		kept++;
	}
	if (kept)
		return kept;
	cf_mem_deref(tv);
	(void)cf_sip_strans_reply(st, 480, "Not Reachable Over TLS", NULL,
	                          NULL);
	cf_log(CF_LOG_INFO, &msg->call_id,
	       "proxy: %.*s %.*s: 480 Not Reachable Over TLS (%zu binding%s "
	       "over plain transports only)",
	       (int)msg->method.l, msg->method.p, (int)msg->ruri_pl.l,
	       msg->ruri_pl.p, n, n == 1 ? "" : "s");
	return 0;
}

void proxy_sips_edit(const struct cf_sip_msg *msg, const struct proxy_routes *r,
                     struct proxy_edit *e)
{
	if (!proxy_sips_req(msg, r))
		return;
	e->sips = true;
	if (!secure(e->in_tp)) {
		/* the caller's side of the dialog: our TLS listener of the
		 * same family (when there is none, the address it came to) */
		struct cf_sa in = e->in_local;

		proxy_local_addr(CF_SIP_TP_TLS, cf_sa_af(&in), &in,
		                 &e->in_local);
		if (!cf_sa_eq(&in, &e->in_local)) {
			e->in_tp = CF_SIP_TP_TLS;
			/* its flow is not TLS: its entry names none */
			memset(&e->in_addr, 0, sizeof(e->in_addr));
		}
	}
}

/*
 * RFC 5922 §4: a TLS connection to another domain's server expects the
 * server to prove that domain (the host of the URI that was resolved,
 * never the SRV or NAPTR target: those came from DNS, which the
 * certificate is there to check). The URI is the one the hop came from:
 * the first Path value, the next Route, else the target's (or the
 * received) Request-URI. An IP literal gives no name (the address is
 * checked instead, and no SNI is sent, RFC 6066 §3). True when buf holds
 * a name.
 */
bool proxy_tls_host(const struct proxy_routes *r, const struct cf_sip_msg *req,
                    const struct proxy_target *t, char *buf, size_t size)
{
	struct cf_sip_uri u;
	struct cf_sa sa;
	struct cf_pl pl;

	if (t->path) {
		struct cf_sip_addr a;
		const char *comma;

		cf_pl_set_str(&pl, t->path);
		comma = cf_pl_chr(&pl, ',');
		if (comma)
			pl.l = (size_t)(comma - pl.p);
		if (cf_sip_addr_decode(&a, &pl))
			return false;
		u = a.uri;
	} else if (r->has_next) {
		u = r->next;
	} else if (t->uri) {
		cf_pl_set_str(&pl, t->uri);
		if (cf_sip_uri_decode(&u, &pl))
			return false;
	} else {
		u = req->ruri;
	}
	if (!cf_pl_isset(&u.host) || !cf_sa_set_pl(&sa, &u.host, 0))
		return false;
	return !cf_pl_strcpy(&u.host, buf, size);
}
