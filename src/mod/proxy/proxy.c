/* SPDX-License-Identifier: BSD-3-Clause */
/* proxy.c - the proxy module: which requests it forwards, validation
 * (RFC 3261 §16.3), authentication (407), target determination (§16.5). */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "mod/auth/auth.h"
#include "mod/proxy/proxy_int.h"
#include "mod/registrar/registrar.h"

static const struct cf_mod_key keys[] = {
    {"proxy", "no_answer_timeout", CF_MOD_KEY_UINT, "120",
     "Seconds an INVITE may ring on every branch before they are cancelled "
     "and the caller gets 480; 0 = only Timer C",
     0, 3600, CF_MOD_KEY_LIVE},
    {"proxy", "max_branches", CF_MOD_KEY_UINT, "10",
     "Most bindings one request forks to (the highest q first)", 1,
     PROXY_BRANCHES_HARD_MAX, CF_MOD_KEY_LIVE},
    {"proxy", "record_route", CF_MOD_KEY_BOOL, "yes",
     "Record-Route dialog-creating requests (INVITE, SUBSCRIBE, REFER, "
     "NOTIFY)",
     0, 0, CF_MOD_KEY_LIVE},
    {"proxy", "authenticate", CF_MOD_KEY_BOOL, "yes",
     "Challenge (407) requests from our users for the methods of [auth] "
     "methods",
     0, 0, CF_MOD_KEY_LIVE},
    {"proxy", "forward_busy", CF_MOD_KEY_STR, NULL,
     "Failure route: SIP URI an INVITE goes to when the callee is busy "
     "(486, 600)",
     0, 0, CF_MOD_KEY_LIVE},
    {"proxy", "forward_noanswer", CF_MOD_KEY_STR, NULL,
     "Failure route: SIP URI an INVITE goes to when nobody answers "
     "(no_answer_timeout, 408, 480)",
     0, 0, CF_MOD_KEY_LIVE},
    {"proxy", "forward_offline", CF_MOD_KEY_STR, NULL,
     "Failure route: SIP URI an INVITE goes to when the callee has no "
     "binding",
     0, 0, CF_MOD_KEY_LIVE},
    {"proxy", "forward_unavailable", CF_MOD_KEY_STR, NULL,
     "Failure route: SIP URI an INVITE goes to when the branches fail "
     "with 5xx",
     0, 0, CF_MOD_KEY_LIVE},
    {"proxy", "forward_headers", CF_MOD_KEY_STR, "history-info",
     "What a forwarded INVITE carries: history-info, diversion or both", 0, 0,
     CF_MOD_KEY_LIVE},
    {"proxy", "trunk", CF_MOD_KEY_STR, NULL,
     "A trunk: NAME sip:HOST[:PORT][;transport=udp|tcp] "
     "[username=USER password=PASS] (repeatable)",
     0, 0, CF_MOD_KEY_LIVE | CF_MOD_KEY_LIST},
    {"proxy", "dialplan", CF_MOD_KEY_STR, NULL,
     "A dial plan rule: REGEX TRUNK [strip=N] [prefix=DIGITS], tried in "
     "order on the Request-URI's user part (repeatable)",
     0, 0, CF_MOD_KEY_LIVE | CF_MOD_KEY_LIST},
    {"proxy", "max_calls", CF_MOD_KEY_UINT, "0",
     "Most calls at once through the proxy; beyond: 503. 0 = no limit", 0,
     1000000, CF_MOD_KEY_LIVE},
    {"proxy", "max_calls_per_user", CF_MOD_KEY_UINT, "0",
     "Most calls at once one of our users takes part in (caller or "
     "callee); beyond: 486. 0 = no limit",
     0, 100000, CF_MOD_KEY_LIVE},
    {"proxy", "max_call_duration", CF_MOD_KEY_UINT, "14400",
     "Seconds an answered call may last before the proxy sends BYE to "
     "both sides; 0 = no limit",
     0, 604800, CF_MOD_KEY_LIVE},
    {"dns", "server", CF_MOD_KEY_STR, "system",
     "DNS server for RFC 3263 lookups of other domains: addr:port "
     "(127.0.0.1:5353, [::1]:53), or system for /etc/resolv.conf",
     0, 0, CF_MOD_KEY_LIVE},
    {NULL},
};

enum { LISTEN_MAX = 16 };

static struct {
	pthread_mutex_t mtx;
	struct proxy_cfg cfg;
	struct {
		enum cf_sip_tp tp;
		struct cf_sa addr;
	} lv[LISTEN_MAX];
	size_t lc;
	cf_proxy_failure_h *fail_h;
	void *fail_arg;
	char fwd[PROXY_FWD_N][256]; /* configured failure routes, "" none */
	unsigned fwd_hdrs;
	atomic_uint_fast64_t requests, branches, stateless, challenged, loops,
	    hops;
	atomic_bool stopping;
	atomic_long live;
} px = {.mtx = PTHREAD_MUTEX_INITIALIZER};

bool proxy_stopping(void)
{
	return atomic_load(&px.stopping);
}

void proxy_live(int delta)
{
	atomic_fetch_add(&px.live, delta);
}

void proxy_stat_stateless(void)
{
	atomic_fetch_add(&px.stateless, 1);
}
void proxy_stat_branch(void)
{
	atomic_fetch_add(&px.branches, 1);
}
void proxy_stat_request(void)
{
	atomic_fetch_add(&px.requests, 1);
}

void cf_proxy_stats(struct cf_proxy_stats *st)
{
	if (!st)
		return;
	st->requests = atomic_load(&px.requests);
	st->branches = atomic_load(&px.branches);
	st->stateless = atomic_load(&px.stateless);
	st->challenged = atomic_load(&px.challenged);
	st->loops = atomic_load(&px.loops);
	st->hops = atomic_load(&px.hops);
	st->sips_refused = proxy_sips_refused_count();
	st->bad_route = proxy_bad_get(PROXY_BAD_ROUTE) +
	                proxy_bad_get(PROXY_BAD_ROUTE_SCHEME);
	st->bad_contact = proxy_bad_get(PROXY_BAD_CONTACT);
	st->unknown_user = proxy_bad_get(PROXY_BAD_USER);
	st->over_max_branches = proxy_bad_get(PROXY_BAD_BRANCHES);
}

void cf_proxy_failure_hook_set(cf_proxy_failure_h *h, void *arg)
{
	pthread_mutex_lock(&px.mtx);
	px.fail_h = h;
	px.fail_arg = arg;
	pthread_mutex_unlock(&px.mtx);
}

cf_proxy_failure_h *proxy_failure_hook(void **argp)
{
	cf_proxy_failure_h *h;

	pthread_mutex_lock(&px.mtx);
	h = px.fail_h;
	*argp = px.fail_arg;
	pthread_mutex_unlock(&px.mtx);
	return h;
}

/* Called on a worker when a request failed or has no binding: a copy
 * of the configured URI (the mutex: SIGHUP may change it). */
bool proxy_forward_uri(const struct cf_pl *user, const struct cf_pl *domain,
                       enum proxy_fwd why, char *uri, size_t size)
{
	bool ok;

	if ((unsigned)why >= PROXY_FWD_N || !size)
		return false;
	if (proxy_user_forward(user, domain, why, uri, size))
		return true;
	pthread_mutex_lock(&px.mtx);
	ok = px.fwd[why][0] && strlen(px.fwd[why]) < size;
	if (ok)
		strcpy(uri, px.fwd[why]);
	pthread_mutex_unlock(&px.mtx);
	return ok;
}

unsigned proxy_forward_headers(void)
{
	unsigned h;

	pthread_mutex_lock(&px.mtx);
	h = px.fwd_hdrs;
	pthread_mutex_unlock(&px.mtx);
	return h;
}

/* One [proxy] forward_* value: a SIP URI that decodes, else none (and a
 * warning). */
static void fwd_read(const struct cf_app_conf *c, const char *key, char *out,
                     size_t size)
{
	const char *v = cf_app_conf_str(c, "proxy", key);
	struct cf_sip_uri u;
	struct cf_pl pl;

	out[0] = 0;
	if (!v || !*v)
		return;
	cf_pl_set_str(&pl, v);
	if (strlen(v) >= size || cf_sip_uri_decode(&u, &pl)) {
		cf_log(CF_LOG_WARN, NULL, "proxy: %s: not a SIP URI: %s", key,
		       v);
		return;
	}
	strcpy(out, v);
}

/* A copy: workers read the settings once per request (a mutex taken
 * uncontended costs about 20 ns). */
void proxy_cfg_get(struct proxy_cfg *cfg)
{
	pthread_mutex_lock(&px.mtx);
	*cfg = px.cfg;
	pthread_mutex_unlock(&px.mtx);
}

static int cfg_read(struct cf_app *app)
{
	const struct cf_app_conf *c = cf_app_conf(app);
	const char *dns = cf_app_conf_str(c, "dns", "server");
	char fwd[PROXY_FWD_N][sizeof(px.fwd[0])];
	struct proxy_cfg cfg;
	const char *hv;
	unsigned hdrs;
	int err;

	err = cf_sip_resolve_server_set(dns);
	if (err)
		cf_log(CF_LOG_ERR, NULL, "proxy: [dns] server '%s': not "
		       "addr:port", dns ? dns : "");

	cfg.no_answer_ms =
	    cf_app_conf_u32(c, "proxy", "no_answer_timeout") * 1000u;
	cfg.max_branches = cf_app_conf_u32(c, "proxy", "max_branches");
	cfg.record_route = cf_app_conf_bool(c, "proxy", "record_route");
	cfg.authenticate = cf_app_conf_bool(c, "proxy", "authenticate");
	fwd_read(c, "forward_busy", fwd[PROXY_FWD_BUSY], sizeof(fwd[0]));
	fwd_read(c, "forward_noanswer", fwd[PROXY_FWD_NOANSWER],
	         sizeof(fwd[0]));
	fwd_read(c, "forward_offline", fwd[PROXY_FWD_OFFLINE], sizeof(fwd[0]));
	fwd_read(c, "forward_unavailable", fwd[PROXY_FWD_UNAVAILABLE],
	         sizeof(fwd[0]));
	hv = cf_app_conf_str(c, "proxy", "forward_headers");
	if (!hv || !strcasecmp(hv, "history-info"))
		hdrs = PROXY_FWD_HI;
	else if (!strcasecmp(hv, "diversion"))
		hdrs = PROXY_FWD_DIV;
	else if (!strcasecmp(hv, "both"))
		hdrs = PROXY_FWD_HI | PROXY_FWD_DIV;
	else {
		cf_log(CF_LOG_WARN, NULL,
		       "proxy: forward_headers: %s: history-info assumed", hv);
		hdrs = PROXY_FWD_HI;
	}
	if (proxy_trunks_load(c) && !err)
		err = ENOMEM; /* checked when loaded: only memory fails */
	pthread_mutex_lock(&px.mtx);
	px.cfg = cfg;
	memcpy(px.fwd, fwd, sizeof(fwd));
	px.fwd_hdrs = hdrs;
	pthread_mutex_unlock(&px.mtx);
	return err;
}

static void listener(enum cf_sip_tp tp, const struct cf_sa *addr, void *arg)
{
	(void)arg;
	if (px.lc < LISTEN_MAX) {
		px.lv[px.lc].tp = tp;
		px.lv[px.lc].addr = *addr;
		px.lc++;
	}
}

/* A listener of this transport and family (the first one; a wildcard
 * listener is not a usable Via/Record-Route address and is skipped), else
 * fallback. The table is written at start (main thread) before any
 * request, read-only after. */
void proxy_local_addr(enum cf_sip_tp tp, int af, const struct cf_sa *fallback,
                      struct cf_sa *out)
{
	for (size_t i = 0; i < px.lc; i++) {
		char b[64];

		if (px.lv[i].tp != tp || cf_sa_af(&px.lv[i].addr) != af)
			continue;
		cf_sa_ntop(&px.lv[i].addr, b, sizeof(b));
		if (!strcmp(b, "0.0.0.0") || !strcmp(b, "::"))
			continue;
		*out = px.lv[i].addr;
		return;
	}
	*out = *fallback;
}

static int proxy_init(struct cf_app *app)
{
	int err;

	atomic_store(&px.stopping, false);
	err = cfg_read(app);
	px.lc = 0;
	if (!err)
		err = proxy_calls_init(app); /* calls.c, CDRs */
	return err;
}

static int proxy_start(struct cf_app *app)
{
	struct cf_sip *sip = cf_app_sip(app);

	px.lc = 0;
	if (sip)
		cf_sip_listeners_apply(sip, listener, NULL);
	(void)cf_proxy_forwards_load(app); /* logged; config routes work */
	return 0;
}

/* The proxy transactions live on the workers: tell them (each ends
 * itself with 503 at its next tick, its branches cancelled) and wait for
 * them, bounded. */
static void proxy_stop(struct cf_app *app)
{
	struct timespec ts = {0, 10 * 1000 * 1000};

	atomic_store(&px.stopping, true);
	for (int i = 0;
	     i < PROXY_STOP_WAIT_MS / 10 && atomic_load(&px.live) > 0; i++)
		nanosleep(&ts, NULL);
	if (atomic_load(&px.live) > 0)
		cf_log(CF_LOG_WARN, NULL,
		       "proxy: %ld transactions still open at stop",
		       (long)atomic_load(&px.live));
	px.lc = 0;
	proxy_forwards_clear();
	proxy_trunks_clear();
	proxy_calls_stop(app); /* calls.c: CDRs of open calls, written out */
}

static void proxy_reload(struct cf_app *app)
{
	(void)cfg_read(app);
	proxy_calls_cfg(app);
}

/* ------------------------------------------------------------ targets */

static const struct cf_auth_api *auth_api(void)
{
	const struct cf_mod *m = cf_mod_find("auth");

	return m ? m->api : NULL;
}

/* Copy a binding (the registrar's lock is held: quick, no call back). */
bool proxy_collect_h(const struct cf_reg_contact *c, void *arg)
{
	struct proxy_collect *col = arg;
	struct proxy_target *t;

	if (col->n >= col->max) {
		col->dropped++;
		return false;
	}
	t = &col->tv[col->n];
	memset(t, 0, sizeof(*t));
	t->uri = cf_pl_dup(&c->uri);
	if (cf_pl_isset(&c->path))
		t->path = cf_pl_dup(&c->path);
	if (!t->uri || (cf_pl_isset(&c->path) && !t->path)) {
		col->nomem = true;
		proxy_targets_free(t, 1);
		return true;
	}
	t->q = c->q < 0 ? 1000 : c->q;
	/* RFC 5626 §5.3 (outbound) and connection reuse for stream
	 * contacts: back over the flow the REGISTER came on, while it is
	 * open. Path wins: the edge proxy owns the flow then. */
	if (!t->path && (c->outbound || cf_sip_tp_reliable(c->peer.tp))) {
		if (!c->peer.conn || !cf_sip_conn_closed(c->peer.conn)) {
			t->hop = c->peer;
			t->hop.conn = cf_mem_ref(c->peer.conn);
			t->has_hop = true;
			t->flow = true; /* named in our Record-Route */
		}
	}
	col->n++;
	return false;
}

/* The binding a GRUU designates (RFC 5627 §6), as a target: 0 when none
 * (t left empty), 1 when found (t to be freed by proxy_targets_free). */
size_t proxy_gruu_target(const struct cf_sip_uri *u, struct proxy_target *t)
{
	struct proxy_collect col = {.tv = t, .max = 1};

	memset(t, 0, sizeof(*t));
	if (cf_registrar_lookup_gruu(&u->all, proxy_collect_h, &col) ||
	    col.nomem)
		return 0;
	return col.n;
}

/* The bindings of aor (sip:user@domain) as targets appended to tv, at
 * most max (the hook's fork to one of our users, hook.c). */
size_t proxy_aor_targets(const struct cf_pl *aor, struct proxy_target *tv,
                         size_t max, bool *nomem)
{
	struct proxy_collect col = {.tv = tv, .max = max};

	(void)cf_registrar_lookup(aor, proxy_collect_h, &col);
	*nomem = col.nomem;
	return col.n;
}

/* ------------------------------------------------------------ requests */

static void answer(struct cf_sip_strans *st, const struct cf_sip_msg *msg,
                   uint16_t code, const char *reason, const char *hdrs)
{
	int err = cf_sip_strans_reply(
	    st, code, reason ? reason : cf_sip_reason(code), hdrs, NULL);

	if (err == ENOMEM)
		(void)cf_mod_reply(st, 500, NULL);
	if (msg->mid == CF_SIP_M_INVITE)
		proxy_calls_final(msg, st); /* calls.c: its CDR now */
	cf_log(CF_LOG_INFO, &msg->call_id, "proxy: %.*s %.*s: %u %s",
	       (int)msg->method.l, msg->method.p, (int)msg->ruri_pl.l,
	       msg->ruri_pl.p, code, reason ? reason : cf_sip_reason(code));
}

static bool creates_dialog(enum cf_sip_method m)
{
	return m == CF_SIP_M_INVITE || m == CF_SIP_M_SUBSCRIBE ||
	       m == CF_SIP_M_REFER || m == CF_SIP_M_NOTIFY;
}

/* §16.5: the targets of a request for one of our domains: a GRUU's
 * binding, else every binding of the AOR (highest q first). Answers and
 * returns 0 targets when there are none. */
static size_t local_targets(struct cf_app *app, struct cf_sip_strans *st,
                            const struct cf_sip_msg *msg,
                            const struct proxy_cfg *cfg,
                            struct proxy_target **tvp)
{
	const struct cf_sip_uri *u = &msg->ruri;
	const struct cf_auth_api *auth = auth_api();
	struct proxy_collect col = {0};
	char aor[600];
	struct cf_pl aorpl;
	int err;

	col.max = cfg->max_branches;
	col.tv = cf_mem_zalloc(col.max * sizeof(*col.tv), NULL);
	if (!col.tv) {
		(void)cf_mod_reply(st, 500, NULL);
		return 0;
	}

	if (cf_sip_param_exists(&u->params, "gr")) {
		/* RFC 5627 §6: the one instance the GRUU designates */
		err = cf_registrar_lookup_gruu(&u->all, proxy_collect_h, &col);
	} else {
		snprintf(aor, sizeof(aor), "sip:%.*s@%.*s", (int)u->user.l,
		         u->user.p, (int)u->host.l, u->host.p);
		cf_pl_set_str(&aorpl, aor);
		err = cf_registrar_lookup(&aorpl, proxy_collect_h, &col);
	}
	if (col.nomem) {
		proxy_targets_free(col.tv, col.n);
		cf_mem_deref(col.tv);
		(void)cf_mod_reply(st, 500, NULL);
		return 0;
	}
	if (err || !col.n) {
		/* known user, nobody registered: 480; unknown: 404 */
		bool known = !auth || !auth->user_exists ||
		             auth->user_exists(app, &u->user, &u->host);

		uint16_t code = known ? 480 : 404;
		char furi[256];

		if (known && msg->mid == CF_SIP_M_INVITE &&
		    proxy_forward_uri(&u->user, &u->host, PROXY_FWD_OFFLINE,
		                      furi, sizeof(furi))) {
			size_t n = 0;

			col.tv = cf_mem_deref(col.tv);
			code = proxy_retarget(app, furi, 480, PROXY_FWD_OFFLINE,
			                      &col.tv, &n);
			if (!code) {
				cf_log(CF_LOG_INFO, &msg->call_id,
				       "proxy: offline: forwarded to %s", furi);
				*tvp = col.tv;
				return n;
			}
			if (code != 404)
				code = 480;
		}
		cf_mem_deref(col.tv);
		if (code == 404)
			proxy_refuse(st, msg, PROXY_BAD_USER, 404, NULL);
		else
			answer(st, msg, code, NULL, NULL);
		return 0;
	}
	if (col.dropped)
		proxy_branches_over(msg, col.n, col.dropped);
	*tvp = col.tv;
	return col.n;
}

/* ------------------------------------------- RFC 3263: another domain */

/* A request to a host name waiting for its servers. */
struct dns_wait {
	struct cf_mod_txn mt; /* first: a CANCEL finds us (dns_cancel) */
	struct cf_app *app;
	struct cf_sip_strans *st; /* reference */
	struct cf_sip_msg *msg;   /* reference: r slices into it */
	struct cf_sip_peer peer;  /* conn borrowed: st holds it */
	struct proxy_routes r;
	bool rr;
	bool cancelled; /* 487 sent: forward nothing */
	/* a trunk by name (trunk.c): its Request-URI and trunk go on every
	 * server found for it; tmpl.uri NULL: the Request-URI's host */
	struct proxy_target tmpl;
	struct cf_sip_uri tu;
};

/* §16.10 while the lookups run: the INVITE gets 487 now and is never
 * forwarded (the CANCEL got its 200 from the transaction layer). */
static void dns_cancel(struct cf_app *app, struct cf_sip_strans *st)
{
	struct dns_wait *w = cf_sip_strans_arg(st);

	(void)app;
	if (!w || w->cancelled)
		return;
	w->cancelled = true;
	cf_sip_strans_set_arg(st, NULL);
	(void)cf_mod_reply(st, 487, NULL);
}

static const struct cf_mod dns_wait_mod = {
    .name = "proxy-dns",
    .cancel = dns_cancel,
};

static void dns_wait_destroy(void *data)
{
	struct dns_wait *w = data;

	cf_mem_deref(w->st);
	cf_mem_deref(w->msg);
	proxy_targets_free(&w->tmpl, 1);
}

/* The servers of the Request-URI's host (cf_sip_resolve): each its own
 * q group in the RFC 3263 order, so one is tried after the other and the
 * next only on a 503, a timeout or a transport error (§4.3). */
static void dns_done(int err, const struct cf_sip_target *tv, size_t n,
		     void *arg)
{
	struct dns_wait *w = arg;
	struct proxy_target *t = NULL;
	size_t c = 0;

	if (!w->cancelled)
		cf_sip_strans_set_arg(w->st, NULL);
	if (err == ECANCELED || w->cancelled)
		goto out; /* the worker is going away, or 487 was sent */
	if (!err && n)
		t = cf_mem_zalloc(n * sizeof(*t), NULL);
	for (size_t i = 0; t && i < n; i++) {
		if (tv[i].tp != CF_SIP_TP_UDP && tv[i].tp != CF_SIP_TP_TCP &&
		    tv[i].tp != CF_SIP_TP_TLS)
			continue; /* no outgoing WebSocket connections */
		t[c].hop.tp = tv[i].tp;
		t[c].hop.addr = tv[i].addr;
		t[c].has_hop = true;
		t[c].failover = true;
		t[c].q = 1000 - (int)c;
		if (w->tmpl.uri) {
			t[c].uri = cf_mem_strdup(w->tmpl.uri);
			if (!t[c].uri)
				continue;
			t[c].trunk = cf_mem_ref(w->tmpl.trunk);
		}
		c++;
	}
	if (!c) {
		cf_mem_deref(t);
		if (err == ENOENT || (!err && n))
			answer(w->st, w->msg, 404, "Unresolvable Destination",
			       NULL);
		else
			answer(w->st, w->msg, err == ENOMEM ? 500 : 503,
			       "DNS Lookup Failed", NULL);
		goto out;
	}
	proxy_txn_start(w->app, w->st, w->msg, &w->peer, t, c, &w->r, false,
	                w->rr);
out:
	cf_mem_deref(w);
}

/* Resolve the Request-URI's host (or, for tmpl, a trunk's target whose
 * fields it takes over), then forward (dns_done). Answers st in every
 * case, now or later. */
static void dns_forward(struct cf_app *app, struct cf_sip_strans *st,
                        const struct cf_sip_msg *msg,
                        const struct cf_sip_peer *peer,
                        const struct proxy_routes *r, bool rr,
                        struct proxy_target *tmpl)
{
	struct dns_wait *w = cf_mem_zalloc(sizeof(*w), dns_wait_destroy);
	int err;

	if (!w) {
		(void)cf_mod_reply(st, 500, NULL);
		return;
	}
	w->app = app;
	w->st = cf_mem_ref(st);
	w->msg = cf_mem_ref((void *)msg);
	w->peer = *peer;
	w->r = *r;
	w->rr = rr;
	w->mt.mod = &dns_wait_mod;
	if (tmpl) {
		struct cf_pl pl;

		w->tmpl = *tmpl;
		memset(tmpl, 0, sizeof(*tmpl));
		cf_pl_set_str(&pl, w->tmpl.uri);
		if (cf_sip_uri_decode(&w->tu, &pl)) {
			answer(st, msg, 500, NULL, NULL);
			cf_mem_deref(w);
			return;
		}
	}
	cf_sip_strans_set_arg(st, w);
	err = cf_sip_resolve(tmpl ? &w->tu : &msg->ruri, dns_done, w);
	if (err) {
		cf_sip_strans_set_arg(st, NULL);
		if (err == EPROTO)
			answer(st, msg, 416,
			       "Unsupported URI Scheme Or Transport", NULL);
		else
			answer(st, msg, err == ENOMEM ? 500 : 503,
			       err == ENOMEM ? NULL : "No Resolver", NULL);
		cf_mem_deref(w);
	}
}

static bool route_request(struct cf_app *app, struct cf_sip_strans *st,
                          const struct cf_sip_msg *msg,
                          const struct cf_sip_peer *peer, bool hooked);

/* Is this request one the proxy forwards? Decided from the Route set and
 * the Request-URI; everything else goes on to the defaults. */
static bool proxy_request(struct cf_app *app, struct cf_sip_strans *st,
                          const struct cf_sip_msg *msg,
                          const struct cf_sip_peer *peer)
{
	return route_request(app, st, msg, peer, false);
}

/* hooked: the on_request hook ran and gave this edited request (it was
 * validated and authenticated as received): route it, once. */
static bool route_request(struct cf_app *app, struct cf_sip_strans *st,
                          const struct cf_sip_msg *msg,
                          const struct cf_sip_peer *peer, bool hooked)
{
	struct cf_auth_id id, *idp = NULL;
	struct cf_sip_msg *held = NULL; /* the hook's edited request */
	const struct cf_sip_uri *u = &msg->ruri;
	bool in_dialog = cf_pl_isset(&msg->to.tag);
	bool local_ruri, strict = false;
	struct proxy_target *tv = NULL;
	struct proxy_routes r;
	struct proxy_cfg cfg;
	char hash[PROXY_HASH_LEN + 1];
	size_t n = 0;

	if (msg->mid == CF_SIP_M_REGISTER || msg->mid == CF_SIP_M_CANCEL ||
	    msg->mid == CF_SIP_M_ACK)
		return false;
	if (u->scheme != CF_SIP_SCHEME_SIP && u->scheme != CF_SIP_SCHEME_SIPS)
		return false;
	if (proxy_routes_decode(app, msg, &r)) {
		proxy_refuse(st, msg, PROXY_BAD_ROUTE, 400, "Bad Route");
		return true;
	}
	local_ruri = cf_app_uri_is_local(app, u);

	/* §16.4: a strict router put our Record-Route in the Request-URI
	 * (no user part, one of our addresses) and the remote target last */
	if (local_ruri && !cf_pl_isset(&u->user) && r.count > r.nown &&
	    r.last_hdr) {
		strict = true;
		/* the R-URI becomes the last Route: it is also the hop
		 * unless a Route remains in front of it */
		if (r.has_next && r.next_hdr == r.last_hdr &&
		    r.next_idx == r.last_idx)
			r.has_next = false;
	}

	if (!strict && !r.has_next) {
		/* nothing routes it elsewhere: the Request-URI decides */
		if (local_ruri && !cf_pl_isset(&u->user))
			return false; /* for us as UAS: the defaults */
		/* in a dialog, a Request-URI at our domain is a GRUU used as
		 * remote target (RFC 5627 §7: resolved below like an initial
		 * request), else a dialog of ours we do not know (481) */
		if (local_ruri && in_dialog &&
		    !cf_sip_param_exists(&u->params, "gr"))
			return false;
	}

	proxy_cfg_get(&cfg);

	/* §16.3 step 3 */
	if (msg->max_forwards == 0) {
		atomic_fetch_add(&px.hops, 1);
		answer(st, msg, 483, NULL, NULL);
		return true;
	}
	/* §16.3 step 4 */
	proxy_loop_hash(msg, hash);
	if (proxy_loop_found(msg, hash)) {
		atomic_fetch_add(&px.loops, 1);
		answer(st, msg, 482, NULL, NULL);
		return true;
	}
	/* §16.3 step 6 */
	if (cf_sip_msg_hdr(msg, CF_SIP_H_PROXY_REQUIRE)) {
		char tags[200];

		if (cf_mod_unsupported(app, msg, CF_SIP_H_PROXY_REQUIRE, tags,
		                       sizeof(tags))) {
			char hdrs[240];

			snprintf(hdrs, sizeof(hdrs), "Unsupported: %s\r\n",
			         tags);
			answer(st, msg, 420, NULL, hdrs);
			return true;
		}
	}
	/* bad input (check.c): Route schemes, an INVITE's Contact */
	if (proxy_check(app, st, msg, &r))
		return true;

	/* 407 for our users (the From is at one of our domains) */
	if (!hooked && !in_dialog && cfg.authenticate &&
	    cf_app_uri_is_local(app, &msg->from.uri)) {
		const struct cf_auth_api *auth = auth_api();

		if (auth && auth->check &&
		    (!auth->method_needs_auth ||
		     auth->method_needs_auth(app, msg->mid))) {
			char dom[CF_STORE_DOMAIN_MAX + 1];

			cf_pl_strcpy(&msg->from.uri.host, dom, sizeof(dom));
			if (auth->check(app, st, msg, peer, dom, true, &id) !=
			    CF_AUTH_PASS) {
				atomic_fetch_add(&px.challenged, 1);
				return true;
			}
			idp = &id;
		}
	}

	/* the on_request hook (Lua): a reply, a fork, or an edited request
	 * routed from the start (hook.c) */
	if (!hooked) {
		struct cf_sip_msg *nm = NULL;

		if (proxy_hook_request(app, st, msg, peer, idp, &nm, &tv, &n)) {
			proxy_calls_refused(app, st, msg); /* calls.c: CDR */
			return true;
		}
		if (nm && !n) {
			if (!route_request(app, st, nm, peer, true))
				answer(st, nm, 404, "Not Routable", NULL);
			cf_mem_deref(nm);
			return true;
		}
		if (nm) { /* a fork of the edited request */
			(void)proxy_routes_decode(app, nm, &r);
			msg = held = nm;
		}
	}

	/* calls.c: a new call (limits: 486/503); a BYE ends one */
	if (!in_dialog && msg->mid == CF_SIP_M_INVITE &&
	    proxy_calls_invite(app, st, msg, peer))
		return true;
	if (in_dialog)
		proxy_calls_request(app, msg);

	/* §16.5: targets */
	if (n) {
		/* the hook's fork targets */
	} else if (strict) {
		/* the last Route is the Request-URI to use */
		tv = cf_mem_zalloc(sizeof(*tv), NULL);
		if (tv) {
			tv->uri = cf_pl_dup(&r.last.all);
			tv->q = 1000;
		}
		if (!tv || !tv->uri) {
			proxy_targets_free(tv, tv ? 1 : 0);
			cf_mem_deref(tv);
			(void)cf_mod_reply(st, 500, NULL);
			return true;
		}
		if (!r.has_next) {
			/* hop: the new Request-URI */
			if (proxy_uri_hop(&r.last, &tv->hop)) {
				proxy_targets_free(tv, 1);
				cf_mem_deref(tv);
				answer(st, msg, 503, "No Next Hop", NULL);
				return true;
			}
			tv->has_hop = true;
		}
		n = 1;
	} else if (r.has_next || !local_ruri) {
		/* preloaded Route, in-dialog, or another domain: as is */
		if (!r.has_next) {
			struct cf_sip_peer hop;
			/* our double Record-Route may name a flow */
			int err = proxy_ruri_hop(&r, u, &hop);

			if (err == ENOENT) {
				/* a host name: RFC 3263 server location on
				 * this worker's loop, then the servers in
				 * order */
				dns_forward(app, st, msg, peer, &r,
				            cfg.record_route && !in_dialog &&
				                creates_dialog(msg->mid),
				            NULL);
				return true;
			}
			if (err) {
				answer(st, msg, 416,
				       "Unsupported URI Scheme Or Transport",
				       NULL);
				return true;
			}
		}
		tv = cf_mem_zalloc(sizeof(*tv), NULL);
		if (!tv) {
			(void)cf_mod_reply(st, 500, NULL);
			return true;
		}
		tv->q = 1000;
		n = 1;
	} else {
		int err;

		if (!cf_pl_isset(&u->user))
			return false;
		/* the dial plan (trunk.c) first */
		err = in_dialog ? ENOENT
		                : proxy_trunk_route(app, msg, cfg.authenticate,
		                                    &tv);
		if (err == ENOMEM) {
			(void)cf_mod_reply(st, 500, NULL);
			return true;
		}
		if (!err && !tv->has_hop) {
			/* a trunk by name: RFC 3263 for it */
			dns_forward(
			    app, st, msg, peer, &r,
			    cfg.record_route && creates_dialog(msg->mid), tv);
			cf_mem_deref(tv);
			return true;
		}
		n = err ? local_targets(app, st, msg, &cfg, &tv) : 1;
		if (n)
			n = proxy_sips_targets(st, msg, &r, tv, n);
		if (!n)
			return true;
	}

	proxy_txn_start(app, st, msg, peer, tv, n, &r, strict,
	                cfg.record_route && !in_dialog &&
	                    creates_dialog(msg->mid));
	cf_mem_deref(held);
	return true;
}

static void proxy_cancel(struct cf_app *app, struct cf_sip_strans *st)
{
	proxy_txn_cancel(app, st);
}

/* An ACK with no transaction (for a 2xx: §16.11 stateless) or a response
 * matching no client transaction (a 2xx retransmission, RFC 6026). */
static bool proxy_stateless(struct cf_app *app, const struct cf_sip_msg *msg,
                            const struct cf_sip_peer *peer)
{
	struct cf_sip_txn_env *env = cf_sip_txn_env_current();

	if (!msg->req) {
		if (msg->cseq.mid == CF_SIP_M_INVITE && msg->scode >= 200 &&
		    msg->scode < 300)
			proxy_resp_stateless(env, msg);
		return true;
	}
	if (msg->mid != CF_SIP_M_ACK)
		return false;
	return proxy_req_stateless(app, env, msg, peer);
}

static const struct cf_mod_cmd cmds[] = {
    {"dns", "zone", 1, 1, proxy_zone_h, "DOMAIN",
     "the NAPTR, SRV and A/AAAA records to publish for DOMAIN (RFC 3263)"},
    {"cdr", "list", 0, 0, proxy_cdr_list_h, "[--limit N]",
     "the last N call detail records (default 20, 0 = all)"},
    {"cdr", "export", 0, 0, proxy_cdr_export_h, "--csv",
     "every call detail record as CSV"},
    {"call", "stats", 0, 0, proxy_calls_stats_h, "",
     "calls in progress, refused over the limits, ended at the maximum "
     "duration; CDR writes"},
    {NULL},
};

const struct cf_mod cf_mod_proxy = {
    .name = "proxy",
    .doc = "RFC 3261 §16 stateful proxy: forking, Record-Route, loose "
           "routing, CANCEL, best response",
    .keys = keys,
    .cmds = cmds,
    /* none as UAS: Allow lists what we answer ourselves */
    .methods = 0,
    .init = proxy_init,
    .start = proxy_start,
    .stop = proxy_stop,
    .reload = proxy_reload,
    .request = proxy_request,
    .cancel = proxy_cancel,
    .stateless = proxy_stateless,
    .conf_check = proxy_trunk_conf_check,
};
