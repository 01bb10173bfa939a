/* SPDX-License-Identifier: BSD-3-Clause */
/* fwd.c - the proxy transaction (RFC 3261 §16.6-§16.10): branches to the
 * targets (parallel, serial by q), Timer C, the no-answer timeout, the
 * response context and best-response selection, CANCEL fan-out. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "mod/proxy/flow.h"
#include "mod/proxy/proxy_int.h"

struct branch {
	struct cf_le le;          /* in proxy_txn.branches */
	struct proxy_txn *pt;     /* owner (no reference) */
	struct cf_sip_ctrans *ct; /* reference */
	struct cf_tmr tmr_c;      /* Timer C (§16.6 item 11), INVITE */
	uint16_t code;            /* final received; 0 while pending */
	bool prov;                /* a provisional came */
	bool failover;            /* an RFC 3263 server (target.failover) */
	size_t ti;                /* its target in pt->tv */
	bool authed;              /* resent with a trunk's credentials */
	uint32_t cseq;            /* the caller's CSeq (authed: renumbered) */
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
		t[i].fwd_uri = cf_mem_deref(t[i].fwd_uri);
		t[i].trunk = cf_mem_deref(t[i].trunk);
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
	if (msg && code >= 200 && code < 300 &&
	    msg->cseq.mid == CF_SIP_M_INVITE) {
		/* arg: the caller's CSeq + 1 when a trunk leg renumbered
		 * it (trunk.c), else NULL */
		if (arg && proxy_cseq_set((struct cf_sip_msg *)msg,
		                          (uint32_t)((uintptr_t)arg - 1)))
			return;
		proxy_calls_late(msg, code); /* calls.c: crossed a CANCEL */
		proxy_resp_stateless(cf_sip_txn_env_current(), msg);
	}
}

static void *late_arg(const struct branch *b)
{
	return b->authed ? (void *)((uintptr_t)b->cseq + 1) : NULL;
}

static void branch_destroy(void *data)
{
	struct branch *b = data;

	cf_tmr_cancel(&b->tmr_c);
	if (b->ct)
		cf_sip_ctrans_set_resp(b->ct, late_resp, late_arg(b));
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
	if (pt->invite)
		proxy_calls_final(pt->req, pt->st); /* calls.c */
	cf_tmr_cancel(&pt->tmr_noans);
	cf_tmr_cancel(&pt->tmr_tick);
	proxy_live(-1);
	for (le = pt->branches.head; le; le = le->next) {
		struct branch *b = le->data;

		cf_tmr_cancel(&b->tmr_c);
		if (b->ct)
			cf_sip_ctrans_set_resp(b->ct, late_resp, late_arg(b));
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

	/* a trunk leg renumbered the CSeq (trunk.c): the caller's again */
	err = msg->cseq.num != pt->req->cseq.num
	          ? proxy_cseq_set(msg, pt->req->cseq.num)
	          : 0;
	if (!err)
		err = via_strip(msg);
	if (!err) {
		void *rarg;
		cf_proxy_reply_h *rh = proxy_reply_hook(&rarg);

		if (rh) /* on_reply (Lua): may add or remove headers */
			rh(pt->req, msg, rarg);
	}
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

/* The failure route of the Request-URI for why (proxy_forward_uri),
 * except for a call the dial plan sent to a trunk: its callee is no user
 * of ours, the trunk's final goes upstream as it is. */
static bool fwd_uri(const struct proxy_txn *pt, enum proxy_fwd why, char *uri,
                    size_t size)
{
	if (pt->tc && pt->tv[0].trunk)
		return false;
	return proxy_forward_uri(&pt->req->ruri.user, &pt->req->ruri.host, why,
	                         uri, size);
}

/* The configured failure route for a final (issue 4 point 3): once per
 * request, INVITE only. True when a branch to it was started. */
static bool cfg_forward(struct proxy_txn *pt, uint16_t code)
{
	enum proxy_fwd why;
	uint16_t rc;
	char uri[256];
	size_t tc;

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
	if (!fwd_uri(pt, why, uri, sizeof(uri)))
		return false;
	pt->forwarded = true;
	tc = pt->tc;
	rc = proxy_retarget(pt->app, uri, pt->noans ? 408 : code, why, &pt->tv,
	                    &tc);
	if (rc == 404 || rc == 480) {
		/* a user of ours: unknown, or nobody registered */
		cf_log(CF_LOG_INFO, &pt->req->call_id,
		       "proxy: %u: failure route to %s: %u", code, uri, rc);
		(void)cf_mod_reply(pt->st, rc, NULL);
		finish(pt);
		return true;
	}
	if (rc)
		return false;
	cf_log(CF_LOG_INFO, &pt->req->call_id, "proxy: %u: failure route to %s",
	       code, uri);
	pt->best_code = 0;
	pt->best = cf_mem_deref(pt->best);
	pt->busy600 = false;
	pt->next = pt->tc;
	pt->tc = tc;
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
		uint16_t reply = 0;
		struct cf_proxy_failure f = {pt->req, code, pt->best,
		                             pt->attempts, &reply};
		char uri[512];
		bool take;

		uri[0] = 0;
		take = hook(&f, uri, sizeof(uri), harg);
		if (!take && reply >= 300) {
			(void)cf_mod_reply(pt->st, reply, NULL);
			finish(pt);
			return;
		}
		if (take && uri[0]) {
			size_t tc = pt->tc;

			pt->attempts++;
			cf_mem_deref(pt->fail_uri);
			pt->fail_uri = cf_mem_strdup(uri);
			if (!proxy_retarget(pt->app, uri, 0, PROXY_FWD_BUSY,
			                    &pt->tv, &tc)) {
				pt->next = pt->tc;
				pt->tc = tc;
				start_group(pt);
				return;
			}
		}
	}

	if (cfg_forward(pt, code))
		return;

	if (pt->best && code != 503) {
		(void)resp_forward(pt, pt->best, code,
		                   code == 401 || code == 407);
	} else {
		/* §16.7 step 6: a 503 received (or ours) goes up as 500: a
		 * 503 would say that we are unavailable, not the callee */
		if (code == 503)
			code = 500;
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

static struct branch *branch_send(struct proxy_txn *pt, struct proxy_target *t,
                                  const char *auth);

/* A trunk's 401/407 (issue 4 point 4): answered with the trunk's
 * credentials (trunk.c) and the request sent again as a new branch (a new
 * transaction; the CSeq is kept, see docs/proxy.md). A second challenge
 * means the trunk refused them: our 403, never the trunk's challenge to
 * the caller. True when the response was taken here. */
static bool trunk_answer(struct proxy_txn *pt, struct branch *b,
                         const struct cf_sip_msg *msg, uint16_t code)
{
	struct proxy_target *t = &pt->tv[b->ti];
	char method[32], line[1200];
	struct branch *nb;
	int err;

	if (!t->trunk || pt->cancelled)
		return false;
	if (b->authed) {
		cf_log(CF_LOG_NOTICE, &pt->req->call_id,
		       "proxy: trunk %s refused our credentials (%u)",
		       proxy_trunk_name(t->trunk), code);
		b->code = code;
		cf_tmr_cancel(&b->tmr_c);
		if (pt->pending)
			pt->pending--;
		best_consider(pt, NULL, 403);
		branch_done(pt);
		return true;
	}
	cf_pl_strcpy(&pt->req->method, method, sizeof(method));
	err = proxy_trunk_auth(t->trunk, msg, method, t->uri ? t->uri : "",
	                       line, sizeof(line));
	if (err) {
		cf_log(CF_LOG_NOTICE, &pt->req->call_id,
		       "proxy: trunk %s: %u not answered: %s",
		       proxy_trunk_name(t->trunk), code,
		       err == ENOENT ? "no credentials or usable challenge"
		                     : strerror(err));
		return false;
	}
	b->code = code;
	cf_tmr_cancel(&b->tmr_c);
	if (pt->pending)
		pt->pending--;
	cf_log(CF_LOG_INFO, &pt->req->call_id,
	       "proxy: trunk %s: %u answered with its credentials",
	       proxy_trunk_name(t->trunk), code);
	nb = branch_send(pt, t, line);
	if (nb)
		nb->authed = true;
	else
		branch_done(pt); /* counted as our 503 (branch_send) */
	return true;
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
	if (pt->invite && msg)
		proxy_calls_resp(pt->req, msg, code); /* calls.c */

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
	if ((code == 401 || code == 407) && msg &&
	    trunk_answer(pt, b, msg, code))
		goto out;
	b->code = code;
	cf_tmr_cancel(&b->tmr_c);
	if (pt->pending)
		pt->pending--;

	if (msg && code == 600 && pt->invite && !pt->forwarded &&
	    !pt->cancelled &&
	    fwd_uri(pt, PROXY_FWD_BUSY, fwd, sizeof(fwd))) {
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
	    fwd_uri(pt, PROXY_FWD_NOANSWER, uri, sizeof(uri))) {
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
 * branch that cannot be sent counts as a 503 of ours (§16.9). auth: a
 * header line to add (a trunk's credentials), or NULL. The branch, or
 * NULL when none was sent. */
static struct branch *branch_send(struct proxy_txn *pt, struct proxy_target *t,
                                  const char *auth)
{
	struct proxy_edit e = {0};
	struct cf_sip_peer hop;
	struct branch *b;
	struct cf_pl ruri;
	char rr_param[48];
	char tls_host[256];
	int err;

	err = proxy_target_hop(&pt->routes, pt->req, t, &hop);
	if (err) {
		cf_log(CF_LOG_NOTICE, &pt->req->call_id,
		       "proxy: no next hop for %s: %s",
		       t->uri ? t->uri : "the Request-URI", strerror(err));
		best_consider(pt, NULL, err == ENOENT ? 404 : 503);
		return NULL;
	}
	if (proxy_sips_refused(pt->req, &pt->routes, &hop)) {
		best_consider(pt, NULL, 480); /* RFC 5630 */
		return NULL;
	}
	/* RFC 5922: the name a new TLS connection expects (SNI, checked) */
	if (hop.tp != CF_SIP_TP_TLS || hop.conn ||
	    !proxy_tls_host(&pt->routes, pt->req, t, tls_host,
	                    sizeof(tls_host)))
		tls_host[0] = 0;

	b = cf_mem_zalloc(sizeof(*b), branch_destroy);
	if (!b) {
		best_consider(pt, NULL, 500);
		return NULL;
	}
	b->pt = pt;
	b->failover = t->failover;
	b->ti = (size_t)(t - pt->tv);
	b->cseq = pt->req->cseq.num;
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
	if (auth) {
		/* §22.2: resent with credentials, the CSeq one higher; the
		 * ACK of its 2xx is told by our Record-Route (trunk.c) */
		proxy_trunk_rr_param(pt->req, rr_param, sizeof(rr_param));
		e.rr_param = rr_param;
	}
	e.in_tp = pt->in.tp;
	e.in_local = pt->in.local;
	e.out_tp = hop.tp;
	/* the sides that are a UA's flow are named in their entries */
	if (proxy_flow_in(pt->in.tp))
		e.in_addr = pt->in.addr;
	if (proxy_flow_out(&hop, t->has_hop && t->flow && !t->failover))
		e.out_addr = hop.addr;
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
		err = fwd_headers(pt, t->fwd_uri ? t->fwd_uri : t->uri, t->fwd,
		                  (enum proxy_fwd)t->fwd_why);
	/* to a trunk: the caller's credentials were for us (§22.3: ours to
	 * consume), the trunk gets its own */
	for (size_t i = 0; !err && t->trunk && i < pt->req->hdrc; i++) {
		if (pt->req->hdrv[i].id == CF_SIP_H_PROXY_AUTHORIZATION)
			err = cf_sip_msg_edit_del(pt->req, &pt->req->hdrv[i]);
	}
	if (!err && auth)
		err = cf_sip_msg_edit_append(pt->req, "%s", auth);
	if (!err && auth)
		err = proxy_cseq_set(pt->req, pt->req->cseq.num + 1);
	if (!err)
		err = cf_sip_ctrans_start_host(&b->ct, pt->env, pt->req, &hop,
		                               tls_host[0] ? tls_host : NULL,
		                               on_resp, b);
	cf_sip_msg_edit_clear(pt->req);
	if (err) {
		cf_log(CF_LOG_NOTICE, &pt->req->call_id,
		       "proxy: branch not sent: %s", strerror(err));
		cf_mem_deref(b);
		/* RFC 5626 §5.3: the WebSocket flow our Record-Route names is
		 * gone (flow.h) */
		best_consider(pt, NULL,
		              err == ENOMEM                          ? 500
		              : err == EPIPE && pt->routes.flow_set ? 430
		                                                     : 503);
		return NULL;
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
	return b;
}

static void branch_start(struct proxy_txn *pt, struct proxy_target *t)
{
	(void)branch_send(pt, t, NULL);
}

/* A failure route to a host name waiting for its servers (RFC 3263). */
struct resolve_wait {
	struct proxy_txn *pt; /* reference */
	size_t idx;           /* the resolve target in pt->tv */
	bool sync; /* inside cf_sip_resolve (a cached answer): the
	            * start_group that asked goes on with the servers */
};

static void resolve_wait_destroy(void *data)
{
	struct resolve_wait *w = data;

	cf_mem_deref(w->pt);
}

/* The servers of a resolve target go in right after it, each its own q
 * group in order, failing over like any RFC 3263 list (on_resp); the
 * targets after it were not started yet (start_group waited for us). */
static void resolve_done(int err, const struct cf_sip_target *sv, size_t n,
                         void *arg)
{
	struct resolve_wait *w = arg;
	struct proxy_txn *pt = w->pt;
	struct proxy_target *t, *rt;
	size_t c = 0;

	if (err == ECANCELED || pt->done)
		goto out;
	if (pt->pending)
		pt->pending--;
	t = !err && n ? cf_mem_realloc(pt->tv, (pt->tc + n) * sizeof(*t))
	              : NULL;
	if (t) {
		pt->tv = t;
		memmove(&t[w->idx + 1 + n], &t[w->idx + 1],
		        (pt->tc - w->idx - 1) * sizeof(*t));
		memset(&t[w->idx + 1], 0, n * sizeof(*t));
		rt = &t[w->idx];
		for (size_t i = 0; i < n; i++) {
			struct proxy_target *s = &t[w->idx + 1 + c];

			if (sv[i].tp != CF_SIP_TP_UDP &&
			    sv[i].tp != CF_SIP_TP_TCP && sv[i].tp != CF_SIP_TP_TLS)
				continue;
			s->uri = cf_mem_strdup(rt->uri);
			if (!s->uri)
				continue;
			s->fwd_uri = rt->fwd_uri ? cf_mem_strdup(rt->fwd_uri)
			                         : NULL;
			s->hop.tp = sv[i].tp;
			s->hop.addr = sv[i].addr;
			s->has_hop = s->failover = true;
			s->q = 1000 - (int)c;
			s->fwd = rt->fwd;
			s->fwd_why = rt->fwd_why;
			c++;
		}
		/* unused slots (no memory, WebSocket) close the gap */
		memmove(&t[w->idx + 1 + c], &t[w->idx + 1 + n],
		        (pt->tc - w->idx - 1) * sizeof(*t));
		pt->tc += c;
	}
	if (!c) {
		cf_log(CF_LOG_NOTICE, &pt->req->call_id,
		       "proxy: failure route %s: no server (%s)",
		       pt->tv[w->idx].uri, err ? strerror(err) : "no memory");
		best_consider(pt, NULL, err == ENOENT ? 404 : 503);
	}
	if (!w->sync)
		start_group(pt);
out:
	cf_mem_deref(w);
}

/* Start the lookup of the resolve target at pt->next (consumed); it
 * counts as a pending branch until resolve_done. */
static void resolve_start(struct proxy_txn *pt)
{
	struct resolve_wait *w = cf_mem_zalloc(sizeof(*w), resolve_wait_destroy);
	struct proxy_target *t = &pt->tv[pt->next];
	struct cf_sip_uri u;
	struct cf_pl pl;
	int err = w ? 0 : ENOMEM;

	pt->next++;
	cf_pl_set_str(&pl, t->uri);
	if (!err)
		err = cf_sip_uri_decode(&u, &pl);
	if (!err) {
		w->pt = cf_mem_ref(pt);
		w->idx = (size_t)(t - pt->tv);
		w->sync = true;
		pt->pending++;
		cf_mem_ref(w); /* over the call: the answer may come in it */
		err = cf_sip_resolve(&u, resolve_done, w);
		w->sync = false;
		cf_mem_deref(w);
		if (!err)
			return; /* resolve_done has (or had) w */
		pt->pending--;
	}
	cf_log(CF_LOG_NOTICE, &pt->req->call_id,
	       "proxy: failure route %s: not resolved: %s", t->uri,
	       strerror(err));
	best_consider(pt, NULL, err == ENOMEM ? 500 : 503);
	cf_mem_deref(w);
}

/* The next group of targets with equal q (all of them in parallel); a
 * group where nothing could be sent goes straight on to the next. A
 * target to resolve is a group of its own. */
static void start_group(struct proxy_txn *pt)
{
	for (unsigned rounds = 0; pt->next < pt->tc && rounds < 64; rounds++) {
		int q = pt->tv[pt->next].q;

		if (pt->tv[pt->next].resolve) {
			resolve_start(pt);
		} else {
			while (pt->next < pt->tc && pt->tv[pt->next].q == q &&
			       !pt->tv[pt->next].resolve)
				branch_start(pt, &pt->tv[pt->next++]);
		}
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
