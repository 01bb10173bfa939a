/* SPDX-License-Identifier: BSD-3-Clause */
/* fwd.c - the proxy transaction (RFC 3261 §16.6-§16.10): branches to the
 * targets (parallel, serial by q), Timer C, the no-answer timeout, the
 * response context and best-response selection, CANCEL fan-out. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "mod/proxy/proxy_int.h"

struct branch {
	struct cf_le le;          /* in proxy_txn.branches */
	struct proxy_txn *pt;     /* owner (no reference) */
	struct cf_sip_ctrans *ct; /* reference */
	struct cf_tmr tmr_c;      /* Timer C (§16.6 item 11), INVITE */
	uint16_t code;            /* final received; 0 while pending */
	bool prov;                /* a provisional came */
	bool failover;            /* an RFC 3263 server (target.failover) */
};

struct proxy_txn {
	struct cf_mod_txn mt; /* first: the CANCEL hook finds us */
	struct cf_app *app;
	struct cf_sip_strans *st; /* reference */
	struct cf_sip_msg *req;   /* the request as received (reference) */
	struct cf_sip_txn_env *env;
	struct cf_sip_peer in; /* conn borrowed: st holds it */
	struct proxy_routes routes;
	bool strict, rr, invite;
	char hash[PROXY_HASH_LEN + 1];
	struct proxy_target *tv; /* targets (owned) */
	size_t tc, next;         /* count; the next one to start */
	struct cf_list branches;
	unsigned nbranch;
	size_t pending; /* branches without a final response */
	struct cf_tmr tmr_noans;
	struct cf_tmr tmr_tick;     /* looks at proxy_stopping() */
	struct cf_sip_msg *best;    /* best final so far (reference) or NULL */
	uint16_t best_code;         /* 0: none yet */
	struct cf_mbuf *challenges; /* 401/407 challenge lines (§16.7 7) */
	unsigned attempts;          /* failure routes taken */
	char *fail_uri;             /* the failure route target (owned) */
	bool forwarded;             /* a configured failure route taken */
	bool noans;                 /* no_answer_timeout fired (forwarding) */
	bool busy600;               /* a 600 taken for the busy route */
	bool cancelled, done;
};

/* ------------------------------------------------------------ helpers */

void proxy_targets_free(struct proxy_target *t, size_t n)
{
	for (size_t i = 0; t && i < n; i++) {
		t[i].uri = cf_mem_deref(t[i].uri);
		t[i].path = cf_mem_deref(t[i].path);
		t[i].hop.conn = cf_mem_deref(t[i].hop.conn);
	}
}

/* RFC 6026 §7.2 / §16.7 step 10: a branch whose context ended still
 * passes its 2xx (retransmissions, or a 2xx that crossed our CANCEL)
 * upstream, statelessly, by its Via. Anything else is absorbed. */
static void late_resp(struct cf_sip_ctrans *ct, const struct cf_sip_msg *msg,
                      uint16_t code, void *arg)
{
	(void)ct;
	(void)arg;
	if (msg && code >= 200 && code < 300 &&
	    msg->cseq.mid == CF_SIP_M_INVITE)
		proxy_resp_stateless(cf_sip_txn_env_current(), msg);
}

static void branch_destroy(void *data)
{
	struct branch *b = data;

	cf_tmr_cancel(&b->tmr_c);
	if (b->ct)
		cf_sip_ctrans_set_resp(b->ct, late_resp, NULL);
	cf_mem_deref(b->ct);
}

static void pt_destroy(void *data)
{
	struct proxy_txn *pt = data;

	cf_tmr_cancel(&pt->tmr_noans);
	cf_tmr_cancel(&pt->tmr_tick);
	cf_list_flush(&pt->branches, true);
	proxy_targets_free(pt->tv, pt->tc);
	cf_mem_deref(pt->tv);
	cf_mem_deref(pt->best);
	cf_mem_deref(pt->challenges);
	cf_mem_deref(pt->fail_uri);
	cf_mem_deref(pt->req);
	cf_mem_deref(pt->st);
}

/* The end of the response context: the final went upstream. Branches
 * still pending were cancelled; their transactions go on without us. */
static void finish(struct proxy_txn *pt)
{
	struct cf_le *le;

	if (pt->done)
		return;
	pt->done = true;
	cf_tmr_cancel(&pt->tmr_noans);
	cf_tmr_cancel(&pt->tmr_tick);
	proxy_live(-1);
	for (le = pt->branches.head; le; le = le->next) {
		struct branch *b = le->data;

		cf_tmr_cancel(&b->tmr_c);
		if (b->ct)
			cf_sip_ctrans_set_resp(b->ct, late_resp, NULL);
	}
	cf_sip_strans_set_arg(pt->st, NULL);
	cf_mem_deref(pt); /* the context's own reference */
}

/* §16.10: CANCEL every pending INVITE branch (a branch with no
 * provisional yet sends it when one comes, §9.1). */
static void cancel_all(struct proxy_txn *pt)
{
	if (!pt->invite)
		return;
	for (struct cf_le *le = pt->branches.head; le; le = le->next) {
		struct branch *b = le->data;

		if (!b->code && b->ct)
			(void)cf_sip_ctrans_cancel(b->ct);
	}
}

/* The top Via of a response is ours (§16.7 step 3): remove it. The
 * response is this worker's and passed to us alone: its edit list is ours
 * until cleared. */
struct topvia {
	const struct cf_sip_hdr *hdr;
	struct cf_pl val;
};

static bool top_via(const struct cf_sip_hdr *hdr, const struct cf_pl *val,
                    void *arg)
{
	struct topvia *t = arg;

	t->hdr = hdr;
	t->val = *val;
	return true;
}

static int via_strip(struct cf_sip_msg *msg)
{
	struct topvia t = {0};
	const char *end;
	struct cf_pl rest;
	int err;

	cf_sip_msg_vals_apply(msg, CF_SIP_H_VIA, top_via, &t);
	if (!t.hdr)
		return EBADMSG;
	err = cf_sip_msg_edit_del(msg, t.hdr);
	end = t.hdr->val.p + t.hdr->val.l;
	rest.p = t.val.p + t.val.l;
	while (rest.p < end &&
	       (*rest.p == ',' || *rest.p == ' ' || *rest.p == '\t' ||
	        *rest.p == '\r' || *rest.p == '\n'))
		rest.p++;
	rest.l = rest.p < end ? (size_t)(end - rest.p) : 0;
	if (!err && rest.l)
		err = cf_sip_msg_edit_add(msg, t.hdr, "Via: %.*s", (int)rest.l,
		                          rest.p);
	return err;
}

/* §16.7 step 9: send a received response upstream on the server
 * transaction, our Via removed; with the collected challenges instead of
 * its own when aggregate (§16.7 step 7). */
static int resp_forward(struct proxy_txn *pt, const struct cf_sip_msg *cmsg,
                        uint16_t code, bool aggregate)
{
	struct cf_sip_msg *msg = (struct cf_sip_msg *)cmsg;
	struct cf_mbuf *mb = NULL;
	struct cf_pl bytes;
	int err;

	err = via_strip(msg);
	if (!err && aggregate && pt->challenges && pt->challenges->end) {
		for (size_t i = 0; !err && i < msg->hdrc; i++) {
			if (msg->hdrv[i].id == CF_SIP_H_WWW_AUTHENTICATE ||
			    msg->hdrv[i].id == CF_SIP_H_PROXY_AUTHENTICATE)
				err = cf_sip_msg_edit_del(msg, &msg->hdrv[i]);
		}
		/* the lines end with CRLF: append them without it */
		bytes = cf_mbuf_pl(pt->challenges);
		while (!err && bytes.l) {
			const char *nl = memchr(bytes.p, '\n', bytes.l);
			size_t l = nl ? (size_t)(nl - bytes.p) + 1 : bytes.l;
			size_t t = l;

			while (t && (bytes.p[t - 1] == '\n' ||
			             bytes.p[t - 1] == '\r'))
				t--;
			err = cf_sip_msg_edit_append(msg, "%.*s", (int)t,
			                             bytes.p);
			bytes.p += l;
			bytes.l -= l;
		}
	}
	if (!err)
		err = cf_mbuf_alloc(&mb, msg->raw.l + 128);
	if (!err)
		err = cf_sip_msg_encode(mb, msg);
	cf_sip_msg_edit_clear(msg);
	if (!err) {
		bytes = cf_mbuf_pl(mb);
		err = cf_sip_strans_forward(pt->st, code, &bytes);
	}
	cf_mem_deref(mb);
	if (err && err != EALREADY)
		cf_log(CF_LOG_NOTICE, &pt->req->call_id,
		       "proxy: %u not forwarded upstream: %s", code,
		       strerror(err));
	/* a server transaction must end: a final of our own with the same
	 * code (cf_mod_reply falls back to 500) */
	if (err == ENOMEM && code >= 200)
		(void)cf_mod_reply(pt->st, code, NULL);
	return err;
}

/* §16.7 step 6: lower class is better (6xx are sent at once elsewhere);
 * in a class the first received wins over later ones and over ours (a
 * timeout or an unsendable branch); 503 counts as 500. */
static void best_consider(struct proxy_txn *pt, const struct cf_sip_msg *msg,
                          uint16_t code)
{
	unsigned cls = code / 100, bcls = pt->best_code / 100;

	if (pt->busy600)
		return; /* the 600 stays the best: the busy route follows */
	if (msg && (code == 401 || code == 407)) {
		if (!pt->challenges)
			(void)cf_mbuf_alloc(&pt->challenges, 512);
		for (size_t i = 0; pt->challenges && i < msg->hdrc; i++) {
			const struct cf_sip_hdr *h = &msg->hdrv[i];

			if (h->id == CF_SIP_H_WWW_AUTHENTICATE ||
			    h->id == CF_SIP_H_PROXY_AUTHENTICATE)
				(void)cf_mbuf_write_pl(pt->challenges,
				                       &h->line);
		}
	}
	if (pt->best_code && cls > bcls)
		return;
	if (pt->best_code && cls == bcls && (pt->best || !msg))
		return;
	pt->best_code = code;
	cf_mem_deref(pt->best);
	pt->best = msg ? cf_mem_ref((void *)msg) : NULL;
}

static void start_group(struct proxy_txn *pt);
static void timer_c(void *arg);
static bool cfg_forward(struct proxy_txn *pt, uint16_t code);

/* The configured failure route for a final (issue 4 point 3): once per
 * request, INVITE only. True when a branch to it was started. */
static bool cfg_forward(struct proxy_txn *pt, uint16_t code)
{
	enum proxy_fwd why;
	struct proxy_target *t;
	struct cf_sip_uri u;
	struct cf_pl pl;
	char uri[256];

	if (!pt->invite || pt->cancelled || pt->forwarded)
		return false;
	if (pt->noans || code == 408 || code == 480)
		why = PROXY_FWD_NOANSWER;
	else if (code == 486 || code == 600)
		why = PROXY_FWD_BUSY;
	else if (code >= 500 && code < 600)
		why = PROXY_FWD_UNAVAILABLE;
	else
		return false;
	if (!proxy_forward_uri(&pt->req->ruri.user, &pt->req->ruri.host, why,
	                       uri, sizeof(uri)))
		return false;
	pt->forwarded = true;
	t = cf_mem_realloc(pt->tv, (pt->tc + 1) * sizeof(*t));
	if (!t)
		return false;
	pt->tv = t;
	t = &pt->tv[pt->tc];
	memset(t, 0, sizeof(*t));
	t->uri = cf_mem_strdup(uri);
	if (!t->uri)
		return false;
	cf_pl_set_str(&pl, t->uri);
	if (cf_sip_uri_decode(&u, &pl) || proxy_uri_hop(&u, &t->hop)) {
		cf_log(CF_LOG_NOTICE, &pt->req->call_id,
		       "proxy: failure route %s: no next hop", uri);
		t->uri = cf_mem_deref(t->uri);
		return false;
	}
	t->has_hop = true;
	t->q = 1000;
	t->fwd = pt->noans ? 408 : code;
	t->fwd_why = (uint8_t)why;
	cf_log(CF_LOG_INFO, &pt->req->call_id, "proxy: %u: failure route to %s",
	       code, uri);
	pt->best_code = 0;
	pt->best = cf_mem_deref(pt->best);
	pt->busy600 = false;
	pt->tc++;
	pt->next = pt->tc - 1;
	start_group(pt);
	return true;
}

/* The History-Info (RFC 7044 §9.4: the retargeted entry gets the Reason
 * of the response that caused it, the new one mp= its index) and/or
 * Diversion (RFC 5806) of a forwarded request. The Request-URI as
 * received is the diverting target. */
static int fwd_headers(struct proxy_txn *pt, const char *to, uint16_t cause,
                       enum proxy_fwd why)
{
	unsigned h = proxy_forward_headers();
	const struct cf_pl *from = &pt->req->ruri_pl;
	int err = 0;

	if (h & PROXY_FWD_HI)
		err = cf_sip_msg_edit_append(
		    pt->req,
		    "History-Info: <%.*s?Reason=SIP%%3Bcause%%3D%u>;index=1, "
		    "<%s>;index=1.1;mp=1",
		    (int)from->l, from->p, cause, to);
	if (!err && (h & PROXY_FWD_DIV))
		err = cf_sip_msg_edit_append(
		    pt->req, "Diversion: <%.*s>;reason=%s;counter=1",
		    (int)from->l, from->p,
		    why == PROXY_FWD_BUSY       ? "user-busy"
		    : why == PROXY_FWD_NOANSWER ? "no-answer"
		    : why == PROXY_FWD_OFFLINE  ? "unavailable"
		                                : "out-of-service");
	return err;
}

/* Every branch failed: a failure route (proxy.h hook), else the best. */
static void final_best(struct proxy_txn *pt)
{
	void *harg = NULL;
	cf_proxy_failure_h *hook = proxy_failure_hook(&harg);
	uint16_t code = pt->best_code ? pt->best_code : 408;

	if (hook && !pt->cancelled && pt->attempts < CF_PROXY_FAILURE_MAX) {
		struct cf_proxy_failure f = {pt->req, code, pt->best,
		                             pt->attempts};
		char uri[512];

		uri[0] = 0;
		if (hook(&f, uri, sizeof(uri), harg) && uri[0]) {
			struct proxy_target *t;
			struct cf_sip_uri u;
			struct cf_pl pl;

			pt->attempts++;
			cf_mem_deref(pt->fail_uri);
			pt->fail_uri = cf_mem_strdup(uri);
			t = pt->fail_uri
			        ? cf_mem_realloc(pt->tv,
			                         (pt->tc + 1) * sizeof(*t))
			        : NULL;
			if (t) {
				pt->tv = t;
				t = &pt->tv[pt->tc];
				memset(t, 0, sizeof(*t));
				t->uri = cf_mem_strdup(uri);
				cf_pl_set_str(&pl, pt->fail_uri);
				if (t->uri && !cf_sip_uri_decode(&u, &pl) &&
				    !proxy_uri_hop(&u, &t->hop)) {
					t->has_hop = true;
					pt->tc++;
					start_group(pt);
					return;
				}
				t->uri = cf_mem_deref(t->uri);
			}
		}
	}

	if (cfg_forward(pt, code))
		return;

	if (pt->best) {
		(void)resp_forward(pt, pt->best, code,
		                   code == 401 || code == 407);
	} else {
		if (code == 503)
			code = 500; /* §16.7 step 6 */
		(void)cf_mod_reply(pt->st, code, NULL);
	}
	finish(pt);
}

/* A branch ended (final received, or failed locally): on to the next q
 * group, or the best response when none is left. */
static void branch_done(struct proxy_txn *pt)
{
	if (pt->done || pt->pending)
		return;
	if (pt->next < pt->tc && !pt->cancelled) {
		start_group(pt);
		return;
	}
	final_best(pt);
}

/* §16.7 steps 2-10 for one response of a branch. */
static void on_resp(struct cf_sip_ctrans *ct, const struct cf_sip_msg *msg,
                    uint16_t code, void *arg)
{
	struct branch *b = arg;
	struct proxy_txn *pt = cf_mem_ref(b->pt);
	char fwd[256];

	(void)ct;
	if (pt->done)
		goto out;

	if (code < 200) {
		/* §16.7 step 5: provisionals but 100 go upstream at once;
		 * step 2: Timer C restarts */
		if (code == 100 || !msg)
			goto out;
		b->prov = true;
		if (pt->invite && cf_tmr_isrunning(&b->tmr_c))
			cf_tmr_start(cf_sip_txn_env_wheel(pt->env), &b->tmr_c,
			             cf_sip_txn_env_cfg(pt->env)->timer_c_ms,
			             timer_c, b);
		(void)resp_forward(pt, msg, code, false);
		goto out;
	}

	if (b->code) {
		/* RFC 6026: a further 2xx of this branch */
		if (msg && code < 300)
			(void)resp_forward(pt, msg, code, false);
		goto out;
	}
	b->code = code;
	cf_tmr_cancel(&b->tmr_c);
	if (pt->pending)
		pt->pending--;

	if (msg && code == 600 && pt->invite && !pt->forwarded &&
	    !pt->cancelled &&
	    proxy_forward_uri(&pt->req->ruri.user, &pt->req->ruri.host,
	                      PROXY_FWD_BUSY, fwd, sizeof(fwd))) {
		/* busy everywhere, and a busy route: the other branches are
		 * cancelled (§16.7 step 10) and the route taken when they
		 * are done (final_best) */
		cancel_all(pt);
		pt->best_code = 0;
		pt->best = cf_mem_deref(pt->best);
		best_consider(pt, msg, code);
		pt->busy600 = true;
		branch_done(pt);
		goto out;
	}
	if (msg && (code < 300 || code >= 600)) {
		/* §16.7 step 5 and 10: every 2xx at once; a 6xx ends the
		 * search. The other branches are cancelled. */
		(void)resp_forward(pt, msg, code, false);
		cancel_all(pt);
		finish(pt);
		goto out;
	}

	best_consider(pt, msg, code);
	/* RFC 3263 §4.3: the next server of a resolved list on a 503, a
	 * timeout (our 408) or a transport error (our 503) only */
	if (b->failover && code != 503 && !(code == 408 && !msg))
		pt->next = pt->tc;
	branch_done(pt);
out:
	cf_mem_deref(pt);
}

/* Timer C (§16.6 item 11, §16.8): no final for too long. A branch that
 * rang is cancelled (its 487 ends it); one that never answered is
 * cancelled too and ends by 408 from its transaction. */
static void timer_c(void *arg)
{
	struct branch *b = arg;

	cf_log(CF_LOG_INFO, &b->pt->req->call_id, "proxy: Timer C on a branch");
	if (b->ct)
		(void)cf_sip_ctrans_cancel(b->ct);
}

/* [proxy] no_answer_timeout: the callee's devices rang for long enough:
 * cancel them all and answer 480 upstream. */
static void timer_noans(void *arg)
{
	struct proxy_txn *pt = arg;

	char uri[256];

	cf_mem_ref(pt);
	if (!pt->forwarded &&
	    proxy_forward_uri(&pt->req->ruri.user, &pt->req->ruri.host,
	                      PROXY_FWD_NOANSWER, uri, sizeof(uri))) {
		/* the failure route starts when the cancelled branches
		 * are done (final_best) */
		cf_log(CF_LOG_INFO, &pt->req->call_id,
		       "proxy: no answer: branches cancelled, forwarding");
		pt->noans = true;
		cancel_all(pt);
		cf_mem_deref(pt);
		return;
	}
	cf_log(CF_LOG_INFO, &pt->req->call_id,
	       "proxy: no answer: branches cancelled, 480");
	cancel_all(pt);
	(void)cf_sip_strans_reply(pt->st, 480, "No Answer", NULL, NULL);
	finish(pt);
	cf_mem_deref(pt);
}

/* Shutting down (proxy_stop): cancel the branches, 503 upstream. */
static void timer_tick(void *arg)
{
	struct proxy_txn *pt = arg;

	if (!proxy_stopping()) {
		cf_tmr_start(cf_sip_txn_env_wheel(pt->env), &pt->tmr_tick,
		             PROXY_TICK_MS, timer_tick, pt);
		return;
	}
	cf_mem_ref(pt);
	cancel_all(pt);
	(void)cf_sip_strans_reply(pt->st, 503, "Shutting Down",
	                          "Retry-After: 5\r\n", NULL);
	finish(pt);
	cf_mem_deref(pt);
}

/* Start one branch (§16.6): copy with our edits, a client transaction. A
 * branch that cannot be sent counts as a 503 of ours (§16.9). */
static void branch_start(struct proxy_txn *pt, struct proxy_target *t)
{
	struct proxy_edit e = {0};
	struct cf_sip_peer hop;
	struct branch *b;
	struct cf_pl ruri;
	char tls_host[256];
	int err;

	err = proxy_target_hop(&pt->routes, pt->req, t, &hop);
	if (err) {
		cf_log(CF_LOG_NOTICE, &pt->req->call_id,
		       "proxy: no next hop for %s: %s",
		       t->uri ? t->uri : "the Request-URI", strerror(err));
		best_consider(pt, NULL, err == ENOENT ? 404 : 503);
		return;
	}
	if (proxy_sips_refused(pt->req, &pt->routes, &hop)) {
		best_consider(pt, NULL, 480); /* RFC 5630 */
		return;
	}
	/* RFC 5922: the name a new TLS connection expects (SNI, checked) */
	if (hop.tp != CF_SIP_TP_TLS || hop.conn ||
	    !proxy_tls_host(&pt->routes, pt->req, t, tls_host,
	                    sizeof(tls_host)))
		tls_host[0] = 0;

	b = cf_mem_zalloc(sizeof(*b), branch_destroy);
	if (!b) {
		best_consider(pt, NULL, 500);
		return;
	}
	b->pt = pt;
	b->failover = t->failover;
	cf_tmr_init(&b->tmr_c);

	e.routes = &pt->routes;
	e.strict = pt->strict;
	if (t->uri) {
		cf_pl_set_str(&ruri, t->uri);
		e.ruri = &ruri;
	}
	e.path = t->path;
	e.hash = pt->hash;
	e.idx = ++pt->nbranch;
	e.rr = pt->rr;
	e.in_tp = pt->in.tp;
	e.in_local = pt->in.local;
	e.out_tp = hop.tp;
	proxy_sips_edit(pt->req, &pt->routes, &e);
	if (cf_sa_isset(&hop.local)) {
		e.out_local = hop.local;
	} else {
		proxy_local_addr(hop.tp, cf_sa_af(&hop.addr), &pt->in.local,
		                 &e.out_local);
		hop.local = e.out_local;
	}

	err = proxy_req_edits(pt->req, &e);
	if (!err && t->fwd)
		err =
		    fwd_headers(pt, t->uri, t->fwd, (enum proxy_fwd)t->fwd_why);
	if (!err)
		err = cf_sip_ctrans_start_host(&b->ct, pt->env, pt->req, &hop,
		                               tls_host[0] ? tls_host : NULL,
		                               on_resp, b);
	cf_sip_msg_edit_clear(pt->req);
	if (err) {
		cf_log(CF_LOG_NOTICE, &pt->req->call_id,
		       "proxy: branch not sent: %s", strerror(err));
		cf_mem_deref(b);
		best_consider(pt, NULL, err == ENOMEM ? 500 : 503);
		return;
	}
	proxy_stat_branch();
	if (cf_log_get_level() == CF_LOG_DEBUG) {
		char a[64];

		cf_log(CF_LOG_DEBUG, &pt->req->call_id,
		       "proxy: %.*s branch %u to %s %s", (int)pt->req->method.l,
		       pt->req->method.p, e.idx, cf_sip_tp_name(hop.tp),
		       cf_sa_print(&hop.addr, a, sizeof(a)));
	}
	cf_list_append(&pt->branches, &b->le, b);
	pt->pending++;
	if (pt->invite)
		cf_tmr_start(cf_sip_txn_env_wheel(pt->env), &b->tmr_c,
		             cf_sip_txn_env_cfg(pt->env)->timer_c_ms, timer_c,
		             b);
}

/* The next group of targets with equal q (all of them in parallel); a
 * group where nothing could be sent goes straight on to the next. */
static void start_group(struct proxy_txn *pt)
{
	for (unsigned rounds = 0; pt->next < pt->tc && rounds < 64; rounds++) {
		int q = pt->tv[pt->next].q;

		while (pt->next < pt->tc && pt->tv[pt->next].q == q)
			branch_start(pt, &pt->tv[pt->next++]);
		if (pt->pending)
			return;
	}
	if (!pt->pending)
		final_best(pt);
}

/* ------------------------------------------------------------- entry */

/*
 * Take a request over (proxy.c decided it is to be forwarded): the
 * targets (ownership passes to us, the array included) are tried in
 * groups of equal q. st is always answered, now or later.
 */
void proxy_txn_start(struct cf_app *app, struct cf_sip_strans *st,
                     const struct cf_sip_msg *msg,
                     const struct cf_sip_peer *peer,
                     struct proxy_target *targets, size_t n,
                     const struct proxy_routes *routes, bool strict, bool rr)
{
	struct cf_sip_txn_env *env = cf_sip_strans_env(st);
	struct proxy_txn *pt;
	void *harg;

	pt = env ? cf_mem_zalloc(sizeof(*pt), pt_destroy) : NULL;
	if (!pt) {
		proxy_targets_free(targets, n);
		cf_mem_deref(targets);
		(void)cf_mod_reply(st, 500, NULL);
		return;
	}
	pt->mt.mod = &cf_mod_proxy;
	pt->app = app;
	pt->st = cf_mem_ref(st);
	pt->req = cf_mem_ref((void *)msg);
	pt->env = env;
	pt->in = *peer;
	pt->routes = *routes;
	pt->strict = strict;
	pt->rr = rr;
	pt->invite = msg->mid == CF_SIP_M_INVITE;
	pt->tv = targets;
	pt->tc = n;
	pt->forwarded = n && targets[0].fwd; /* offline: forwarded already */
	cf_tmr_init(&pt->tmr_noans);
	cf_tmr_init(&pt->tmr_tick);
	proxy_live(1);
	cf_tmr_start(cf_sip_txn_env_wheel(env), &pt->tmr_tick, PROXY_TICK_MS,
	             timer_tick, pt);
	proxy_loop_hash(msg, pt->hash);
	cf_sip_strans_set_arg(st, pt);
	proxy_stat_request();

	if (pt->invite) {
		struct proxy_cfg cfg;

		proxy_cfg_get(&cfg);
		if (cfg.no_answer_ms)
			cf_tmr_start(cf_sip_txn_env_wheel(env), &pt->tmr_noans,
			             cfg.no_answer_ms, timer_noans, pt);
	}
	(void)harg;

	/* the context's own reference is dropped by finish() */
	cf_mem_ref(pt);
	start_group(pt);
	cf_mem_deref(pt);
}

/* §16.10: the CANCEL got its 200 from the transaction layer; cancel the
 * pending branches and answer the INVITE 487 now (a 2xx that crosses
 * still goes upstream, statelessly). */
void proxy_txn_cancel(struct cf_app *app, struct cf_sip_strans *st)
{
	struct proxy_txn *pt = cf_sip_strans_arg(st);

	(void)app;
	if (!pt || pt->done)
		return;
	cf_mem_ref(pt);
	pt->cancelled = true;
	cancel_all(pt);
	(void)cf_mod_reply(st, 487, NULL);
	finish(pt);
	cf_mem_deref(pt);
}
