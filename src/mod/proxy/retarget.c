/* SPDX-License-Identifier: BSD-3-Clause */
/* retarget.c - where a failure route goes (issue 4 point 3): a user of one
 * of our domains through the location service like a call, any other URI
 * to its own next hop. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "mod/auth/auth.h"
#include "mod/proxy/proxy_int.h"
#include "mod/registrar/registrar.h"

/* Grow *tvp by n zeroed entries after *tcp; the array stays valid (and
 * unchanged) when that fails. */
static struct proxy_target *grow(struct proxy_target **tvp, size_t tc, size_t n)
{
	struct proxy_target *t;

	t = *tvp ? cf_mem_realloc(*tvp, (tc + n) * sizeof(*t))
	         : cf_mem_zalloc((tc + n) * sizeof(*t), NULL);
	if (!t)
		return NULL;
	*tvp = t;
	memset(t + tc, 0, n * sizeof(*t));
	return t + tc;
}

/* The bindings of a user at one of our domains (a GRUU's one binding),
 * highest q first, at most max. 0 with *n set, 404, 480 or 500. */
static uint16_t local_bindings(struct cf_app *app, const struct cf_sip_uri *u,
                               unsigned max, struct proxy_collect *col)
{
	const struct cf_mod *m = cf_mod_find("auth");
	const struct cf_auth_api *auth = m ? m->api : NULL;
	char aor[600];
	struct cf_pl pl;
	int err;

	col->max = max;
	col->tv = cf_mem_zalloc(max * sizeof(*col->tv), NULL);
	if (!col->tv)
		return 500;
	if (cf_sip_param_exists(&u->params, "gr")) {
		err = cf_registrar_lookup_gruu(&u->all, proxy_collect_h, col);
	} else {
		snprintf(aor, sizeof(aor), "sip:%.*s@%.*s", (int)u->user.l,
		         u->user.p, (int)u->host.l, u->host.p);
		cf_pl_set_str(&pl, aor);
		err = cf_registrar_lookup(&pl, proxy_collect_h, col);
	}
	if (col->nomem)
		return 500;
	if (!err && col->n)
		return 0;
	/* the same rule as a call: known and not registered is 480 */
	if (auth && auth->user_exists &&
	    !auth->user_exists(app, &u->user, &u->host))
		return 404;
	return 480;
}

/*
 * The targets of the failure route to uri, appended to *tvp (*tcp of
 * them; the array is reallocated), each stamped with the cause (History-
 * Info's Reason; 0: none) and why (Diversion's reason):
 *  - a user at one of our domains (or addresses): the location service,
 *    like a call to that user (§16.5): every binding, highest q first, at
 *    most [proxy] max_branches, so the proxy transaction forks to them
 *    in parallel or serially by q;
 *  - any other URI: itself, to its own next hop (a numeric host), or to
 *    the servers RFC 3263 finds for its host name when its branch starts
 *    (fwd.c), one after the other.
 * Called on a worker by the proxy transaction (fwd.c) and for the offline
 * route (proxy.c). Returns 0, or the final the caller answers instead:
 * 404 (unknown user), 480 (no binding), 503 (not a SIP URI, or no next
 * hop: logged), 500 (no memory). *tvp and *tcp are unchanged then.
 */
uint16_t proxy_retarget(struct cf_app *app, const char *uri, uint16_t cause,
                        enum proxy_fwd why, struct proxy_target **tvp,
                        size_t *tcp)
{
	struct proxy_collect col = {0};
	struct proxy_target *t;
	struct proxy_cfg cfg;
	struct cf_sip_uri u;
	struct cf_pl pl;
	uint16_t code;
	int err;

	cf_pl_set_str(&pl, uri);
	if (cf_sip_uri_decode(&u, &pl)) {
		cf_log(CF_LOG_NOTICE, NULL,
		       "proxy: failure route %s: not a "
		       "SIP URI",
		       uri);
		return 503;
	}

	if (cf_pl_isset(&u.user) && cf_app_uri_is_local(app, &u)) {
		proxy_cfg_get(&cfg);
		code = local_bindings(app, &u, cfg.max_branches, &col);
		t = code ? NULL : grow(tvp, *tcp, col.n);
		if (!code && !t)
			code = 500;
		if (code) {
			proxy_targets_free(col.tv, col.n);
			cf_mem_deref(col.tv);
			cf_log(CF_LOG_INFO, NULL, "proxy: failure route %s: %u",
			       uri, code);
			return code;
		}
		memcpy(t, col.tv, col.n * sizeof(*t));
		cf_mem_deref(col.tv);
		for (size_t i = 0; i < col.n; i++) {
			t[i].fwd = cause;
			t[i].fwd_why = (uint8_t)why;
			t[i].fwd_uri = cause ? cf_mem_strdup(uri) : NULL;
		}
		*tcp += col.n;
		return 0;
	}

	t = grow(tvp, *tcp, 1);
	if (!t)
		return 500;
	t->uri = cf_mem_strdup(uri);
	if (!t->uri)
		return 500;
	err = proxy_uri_hop(&u, &t->hop);
	if (err == ENOENT && u.scheme == CF_SIP_SCHEME_SIP) {
		/* a host name: located when the branch starts (fwd.c) */
		t->resolve = true;
		err = 0;
	}
	if (err) {
		cf_log(CF_LOG_NOTICE, NULL,
		       "proxy: failure route %s: no next "
		       "hop: %s",
		       uri, strerror(err));
		t->uri = cf_mem_deref(t->uri);
		return 503;
	}
	t->has_hop = !t->resolve;
	t->q = 1000;
	t->fwd = cause;
	t->fwd_why = (uint8_t)why;
	*tcp += 1;
	return 0;
}
