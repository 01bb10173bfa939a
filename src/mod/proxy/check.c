/* SPDX-License-Identifier: BSD-3-Clause */
/* check.c - bad input the proxy refuses before forwarding (issue 4 point
 * 7): broken Route sets, an INVITE without a usable Contact, unknown
 * users, forks over the branch limit. Each gets a clear response (or, for
 * the fork limit, a log line), a log line with the Call-ID and a counter
 * (cf_proxy_stats, `confabctl status`). */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>

#include "mod/proxy/proxy_int.h"

static atomic_uint_fast64_t counts[PROXY_BAD_N];

static const char *const names[PROXY_BAD_N] = {
    [PROXY_BAD_ROUTE] = "bad route",
    [PROXY_BAD_ROUTE_SCHEME] = "route scheme",
    [PROXY_BAD_CONTACT] = "bad contact",
    [PROXY_BAD_USER] = "unknown user",
    [PROXY_BAD_BRANCHES] = "branch limit",
};

void proxy_bad_count(enum proxy_bad why)
{
	if ((unsigned)why < PROXY_BAD_N)
		atomic_fetch_add(&counts[why], 1);
}

uint64_t proxy_bad_get(enum proxy_bad why)
{
	return (unsigned)why < PROXY_BAD_N ? atomic_load(&counts[why]) : 0;
}

void proxy_refuse(struct cf_sip_strans *st, const struct cf_sip_msg *msg,
                  enum proxy_bad why, uint16_t code, const char *reason)
{
	const char *rs = reason ? reason : cf_sip_reason(code);

	proxy_bad_count(why);
	if (cf_sip_strans_reply(st, code, rs, NULL, NULL) == ENOMEM)
		(void)cf_mod_reply(st, 500, NULL);
	proxy_calls_final(msg, st); /* calls.c: the CDR of a refused INVITE */
	cf_log(CF_LOG_NOTICE, &msg->call_id,
	       "proxy: refused (%s): %.*s %.*s: %u %s",
	       (unsigned)why < PROXY_BAD_N ? names[why] : "?",
	       (int)msg->method.l, msg->method.p, (int)msg->ruri_pl.l,
	       msg->ruri_pl.p, code, rs);
}

/* ------------------------------------------------------------- Route */

static bool route_scheme(const struct cf_sip_hdr *hdr, const struct cf_pl *val,
                         void *arg)
{
	struct cf_sip_addr a;
	bool *bad = arg;

	(void)hdr;
	if (cf_sip_addr_decode(&a, val))
		return false; /* proxy_routes_decode said so already */
	if (a.uri.scheme != CF_SIP_SCHEME_SIP &&
	    a.uri.scheme != CF_SIP_SCHEME_SIPS) {
		*bad = true;
		return true;
	}
	return false;
}

/* ----------------------------------------------------------- Contact */

struct contacts {
	size_t n;
	bool bad;
};

static bool contact_val(const struct cf_sip_hdr *hdr, const struct cf_pl *val,
                        void *arg)
{
	struct contacts *c = arg;
	struct cf_sip_addr a;

	(void)hdr;
	c->n++;
	if (cf_sip_addr_decode(&a, val) || a.wildcard ||
	    (a.uri.scheme != CF_SIP_SCHEME_SIP &&
	     a.uri.scheme != CF_SIP_SCHEME_SIPS) ||
	    !cf_pl_isset(&a.uri.host))
		c->bad = true;
	return c->bad;
}

/*
 * RFC 3261 §8.1.1.8: an INVITE carries exactly one Contact, a SIP or SIPS
 * URI; without it the callee could not reach the caller in the dialog.
 * Route values must be SIP or SIPS URIs (§20.34 allows others, but we
 * could not route by them: 416). PROXY_BAD_N when msg is fine.
 */
enum proxy_bad proxy_check_msg(const struct cf_sip_msg *msg,
                               const struct proxy_routes *r, uint16_t *code,
                               const char **reason)
{
	if (r->count) {
		bool bad = false;

		cf_sip_msg_vals_apply(msg, CF_SIP_H_ROUTE, route_scheme, &bad);
		if (bad) {
			*code = 416;
			*reason = "Unsupported URI Scheme In Route";
			return PROXY_BAD_ROUTE_SCHEME;
		}
	}
	if (msg->mid == CF_SIP_M_INVITE) {
		struct contacts c = {0, false};

		cf_sip_msg_vals_apply(msg, CF_SIP_H_CONTACT, contact_val, &c);
		if (!c.n || c.bad || c.n > 1) {
			*code = 400;
			*reason = !c.n    ? "Missing Contact"
			          : c.bad ? "Bad Contact"
			                  : "More Than One Contact";
			return PROXY_BAD_CONTACT;
		}
	}
	return PROXY_BAD_N;
}

bool proxy_check(struct cf_app *app, struct cf_sip_strans *st,
                 const struct cf_sip_msg *msg, const struct proxy_routes *r)
{
	const char *reason = NULL;
	uint16_t code = 0;
	enum proxy_bad why = proxy_check_msg(msg, r, &code, &reason);

	(void)app;
	if (why == PROXY_BAD_N)
		return false;
	proxy_refuse(st, msg, why, code, reason);
	return true;
}

void proxy_branches_over(const struct cf_sip_msg *msg, size_t tried,
                         size_t dropped)
{
	proxy_bad_count(PROXY_BAD_BRANCHES);
	cf_log(CF_LOG_NOTICE, &msg->call_id,
	       "proxy: %.*s %.*s: %zu bindings, %zu tried ([proxy] "
	       "max_branches), %zu of the lowest q not tried",
	       (int)msg->method.l, msg->method.p, (int)msg->ruri_pl.l,
	       msg->ruri_pl.p, tried + dropped, tried, dropped);
}
