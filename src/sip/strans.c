/* SPDX-License-Identifier: BSD-3-Clause */
/* strans.c - server transactions: RFC 3261 §17.2 with RFC 6026 (Accepted,
 * Timer L), matching (§17.2.3, RFC 2543 rules), CANCEL (§9.2), responses
 * routed per §18.2.2 and RFC 3581. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "sip/sip_priv.h"

/* ------------------------------------------------------------ matching */

struct match {
	const struct cf_sip_msg *msg;
	bool for_cancel; /* §9.2: any method but CANCEL and ACK */
};

static bool pl_eq(const struct cf_pl *a, const struct cf_pl *b)
{
	if (!cf_pl_isset(a) || !cf_pl_isset(b))
		return !cf_pl_isset(a) && !cf_pl_isset(b);

	return !cf_pl_cmp(a, b);
}

/* The To tag of this transaction's responses. */
static const struct cf_pl *resp_tag(const struct cf_sip_strans *st,
                                    struct cf_pl *pl)
{
	if (cf_pl_isset(&st->req->to.tag))
		return &st->req->to.tag;

	cf_pl_set_str(pl, st->tag);
	return pl;
}

/* §17.2.3: the method of the request matches the one that created the
 * transaction, except ACK which matches INVITE; for a CANCEL looking for
 * its target (§9.2), any method but CANCEL. */
static bool method_match(const struct cf_sip_strans *st, const struct match *m)
{
	if (m->for_cancel)
		return st->mid != CF_SIP_M_CANCEL;
	if (m->msg->mid == CF_SIP_M_ACK)
		return st->invite;
	if (st->mid != m->msg->mid)
		return false;

	return st->mid != CF_SIP_M_OTHER ||
	       !cf_pl_cmp(&st->method, &m->msg->method);
}

/* RFC 3261 §17.2.3: branch, sent-by (host and port) and method class. */
static bool match_3261(const struct cf_sip_strans *st, const struct match *m)
{
	const struct cf_sip_via *b = &m->msg->via;

	return st->rfc3261 && !cf_pl_cmp(&st->branch, &b->branch) &&
	       !cf_pl_casecmp(&st->host, &b->host) && st->port == b->port &&
	       method_match(st, m);
}

/* RFC 3261 §17.2.3 for RFC 2543 requests (no cookie): Request-URI, To tag,
 * From tag, Call-ID, CSeq and top Via; an ACK matches with the To tag of
 * our response and the CSeq number only. */
static bool match_2543(const struct cf_sip_strans *st, const struct match *m)
{
	const struct cf_sip_msg *a = st->req;
	const struct cf_sip_msg *b = m->msg;
	struct cf_pl tag;

	if (st->rfc3261 || a->cseq.num != b->cseq.num ||
	    cf_pl_cmp(&a->call_id, &b->call_id) ||
	    !pl_eq(&a->from.tag, &b->from.tag) ||
	    cf_pl_casecmp(&a->via.val, &b->via.val) ||
	    cf_sip_uri_cmp(&a->ruri, &b->ruri))
		return false;

	if (!method_match(st, m))
		return false;

	if (b->mid == CF_SIP_M_ACK && !m->for_cancel)
		return pl_eq(resp_tag(st, &tag), &b->to.tag);

	return pl_eq(&a->to.tag, &b->to.tag);
}

static bool match_h(struct cf_le *le, void *arg)
{
	const struct cf_sip_strans *st = le->data;
	const struct match *m = arg;

	return match_3261(st, m) || match_2543(st, m);
}

static uint32_t req_key(const struct cf_sip_msg *msg)
{
	if (cf_sip_txn_has_cookie(&msg->via.branch))
		return cf_sip_txn_branch_key(&msg->via.branch);

	return cf_sip_txn_2543_key(msg);
}

/* Find the server transaction of a request; O(bucket). for_cancel: the
 * INVITE (or other) transaction a CANCEL targets (§9.2). */
struct cf_sip_strans *cf_sip_strans_find(struct cf_sip_txn_env *env,
                                         const struct cf_sip_msg *msg,
                                         bool for_cancel)
{
	struct match m = {msg, for_cancel};
	struct cf_le *le;

	le = cf_hash_lookup(env->st_ht, req_key(msg), match_h, &m);

	return le ? le->data : NULL;
}

/* ------------------------------------------------- the state machine */

static void terminate(struct cf_sip_strans *st)
{
	if (st->state == CF_SIP_SS_TERMINATED)
		return;

	st->state = CF_SIP_SS_TERMINATED;
	cf_tmr_cancel(&st->tmr);
	cf_tmr_cancel(&st->tmr_g);
	cf_sip_txn_pending_set(st->env, &st->pending, false);
	if (st->env) {
		/* the table's reference goes to the reaper */
		cf_hash_unlink(&st->le);
		cf_sip_txn_bury(st->env, &st->le, st);
	}
}

void cf_sip_strans_detach(struct cf_sip_strans *st)
{
	cf_sip_txn_pending_set(st->env, &st->pending, false);
	st->state = CF_SIP_SS_TERMINATED;
	cf_tmr_cancel(&st->tmr);
	cf_tmr_cancel(&st->tmr_g);
	st->env = NULL;
}

static void destroy(void *data)
{
	struct cf_sip_strans *st = data;

	cf_tmr_cancel(&st->tmr);
	cf_tmr_cancel(&st->tmr_g);
	cf_mem_deref(st->resp);
	cf_mem_deref(st->req);
	cf_mem_deref(st->peer.conn);
}

/* Send bytes to the response destination; when the request's TCP/TLS
 * connection has closed (EPIPE), once more over a new connection to the
 * Via sent-by port (§18.2.2), which later responses use too. */
static int send_dst(struct cf_sip_strans *st, const struct cf_pl *bytes)
{
	int err = cf_sip_txn_send(st->env, &st->dst, bytes);

	if (err == EPIPE && cf_sip_txn_resp_reconnect(&st->dst, st->req)) {
		char a[64];

		cf_log(CF_LOG_INFO, &st->req->call_id,
		       "server transaction: connection closed, response over "
		       "a new %s connection to %s",
		       cf_sip_tp_name(st->dst.tp),
		       cf_sa_print(&st->dst.addr, a, sizeof(a)));
		err = cf_sip_txn_send(st->env, &st->dst, bytes);
	}
	return err;
}

static int resend(struct cf_sip_strans *st)
{
	struct cf_pl bytes;

	if (!st->resp || !st->env)
		return 0;

	bytes = cf_mbuf_pl(st->resp);
	return send_dst(st, &bytes);
}

/* Timer G (§17.2.1): retransmit the non-2xx final, T1 doubling up to T2. */
static void timer_g(void *arg)
{
	struct cf_sip_strans *st = arg;
	struct cf_sip_txn_env *env = st->env;

	if (st->state != CF_SIP_SS_COMPLETED)
		return;

	if (resend(st)) {
		cf_log(CF_LOG_NOTICE, &st->req->call_id,
		       "INVITE server transaction: transport error");
		terminate(st);
		return;
	}
	st->g_ms *= 2;
	if (st->g_ms > env->cfg.t2_ms)
		st->g_ms = env->cfg.t2_ms;
	cf_tmr_start(env->wheel, &st->tmr_g, st->g_ms, timer_g, st);
}

/* Timers H, I, J, L: whichever runs in the current state. */
static void timer_main(void *arg)
{
	struct cf_sip_strans *st = arg;

	if (st->state == CF_SIP_SS_COMPLETED && st->invite) {
		/* Timer H: the ACK never came (§17.2.1). */
		++st->env->stats.timeouts;
		cf_log(CF_LOG_NOTICE, &st->req->call_id,
		       "INVITE server transaction: no ACK for %u (Timer H)",
		       st->code);
	}
	/* else Timer I (Confirmed), J (non-INVITE Completed), L (Accepted) */
	terminate(st);
}

static uint64_t reliable0(const struct cf_sip_strans *st, uint64_t ms)
{
	return cf_sip_tp_reliable(st->peer.tp) ? 0 : ms;
}

static int strans_alloc(struct cf_sip_strans **stp, struct cf_sip_txn_env *env,
                        struct cf_sip_msg *msg, const struct cf_sip_peer *peer)
{
	struct cf_sip_strans *st;

	st = cf_mem_zalloc(sizeof(*st), destroy);
	if (!st)
		return ENOMEM;

	st->env = env;
	st->req = cf_mem_ref(msg);
	st->peer = *peer;
	cf_mem_ref(st->peer.conn);
	cf_sip_txn_resp_dst(&st->dst, msg, peer);
	st->invite = msg->mid == CF_SIP_M_INVITE;
	st->state = st->invite ? CF_SIP_SS_PROCEEDING : CF_SIP_SS_TRYING;
	st->rfc3261 = cf_sip_txn_has_cookie(&msg->via.branch);
	st->mid = msg->mid;
	st->method = msg->method;
	st->branch = msg->via.branch;
	st->host = msg->via.host;
	st->port = msg->via.port;
	st->key = req_key(msg);
	cf_sip_rand_token(st->tag, CF_SIP_TAG_LEN);
	cf_tmr_init(&st->tmr);
	cf_tmr_init(&st->tmr_g);

	/* the table's reference */
	cf_hash_append(env->st_ht, st->key, &st->le, cf_mem_ref(st));
	cf_sip_txn_pending_set(env, &st->pending, true);

	*stp = st;
	return 0;
}

/*
 * Answer a server transaction (see sip.h). Called by the service, from its
 * request/cancel handler or later. 1xx may repeat; one final only
 * (EALREADY after). EINVAL for a bad code or a transaction whose env is
 * gone; ENOMEM; or the send callback's error (the transaction is then
 * terminated, §17.2.4).
 */
/* Send mb (our reference) as st's response with status code, and run the
 * state machine of §17.2.1 / §17.2.2 with RFC 6026. */
static int respond(struct cf_sip_strans *st, struct cf_mbuf *mb, uint16_t code)
{
	struct cf_sip_txn_env *env = st->env;
	struct cf_pl bytes;
	int err;

	cf_mem_deref(st->resp);
	st->resp = mb;
	st->code = code;
	if (code >= 200) /* sent, or the send fails and it terminates */
		cf_sip_txn_pending_set(env, &st->pending, false);

	bytes = cf_mbuf_pl(mb);
	err = send_dst(st, &bytes);
	if (err) {
		cf_log(CF_LOG_NOTICE, &st->req->call_id,
		       "server transaction: cannot send %u: %s", code,
		       strerror(err));
		terminate(st);
		return err;
	}

	if (code < 200) {
		if (st->state == CF_SIP_SS_TRYING)
			st->state = CF_SIP_SS_PROCEEDING;
	} else if (st->invite && code < 300) {
		/* RFC 6026 §8.5: Accepted; Timer L absorbs retransmissions
		 * while the TU retransmits the 2xx. */
		st->state = CF_SIP_SS_ACCEPTED;
		cf_tmr_start(env->wheel, &st->tmr, 64ull * env->cfg.t1_ms,
		             timer_main, st);
	} else if (st->invite) {
		/* §17.2.1: Completed; G over UDP only, H always */
		st->state = CF_SIP_SS_COMPLETED;
		if (!cf_sip_tp_reliable(st->peer.tp)) {
			st->g_ms = env->cfg.t1_ms;
			cf_tmr_start(env->wheel, &st->tmr_g, st->g_ms, timer_g,
			             st);
		}
		cf_tmr_start(env->wheel, &st->tmr, 64ull * env->cfg.t1_ms,
		             timer_main, st);
	} else {
		/* §17.2.2: Completed; Timer J = 64*T1 over UDP, 0 else */
		st->state = CF_SIP_SS_COMPLETED;
		cf_tmr_start(env->wheel, &st->tmr,
		             reliable0(st, 64ull * env->cfg.t1_ms), timer_main,
		             st);
	}

	return 0;
}

/*
 * Answer a server transaction (see sip.h). Called by the service, from its
 * request/cancel handler or later. 1xx may repeat; one final only
 * (EALREADY after). EINVAL for a bad code or a transaction whose env is
 * gone; ENOMEM; or the send callback's error (the transaction is then
 * terminated, §17.2.4).
 */
int cf_sip_strans_reply(struct cf_sip_strans *st, uint16_t code,
                        const char *reason, const char *hdrs,
                        const struct cf_pl *body)
{
	struct cf_sip_txn_env *env;
	struct cf_mbuf *mb;
	int err;

	if (!st || code < 100 || code > 699)
		return EINVAL;
	if (st->code >= 200)
		return EALREADY;
	env = st->env;
	if (!env || st->state == CF_SIP_SS_TERMINATED)
		return EINVAL;

	err = cf_sip_txn_reply_build(&mb, env, st->req, &st->peer, code, reason,
	                             code == 100 ? NULL : st->tag, hdrs, body);
	if (err)
		return err;

	return respond(st, mb, code);
}

/*
 * A proxy's response (RFC 3261 §16.7 step 9): bytes built elsewhere (the
 * received response without our Via) sent as this transaction's response.
 * A further 2xx after the first one (RFC 6026 §7.2/§8.5: every 2xx of a
 * forked INVITE goes upstream) is sent as is and changes nothing.
 * Copies bytes (kept for retransmissions). EINVAL, EALREADY (a final other
 * than 2xx-after-2xx was sent already), ENOMEM or the send error.
 */
int cf_sip_strans_forward(struct cf_sip_strans *st, uint16_t code,
                          const struct cf_pl *bytes)
{
	struct cf_mbuf *mb;
	int err;

	if (!st || !bytes || code < 100 || code > 699)
		return EINVAL;
	if (!st->env || st->state == CF_SIP_SS_TERMINATED)
		return EINVAL;
	if (st->code >= 200) {
		if (st->state == CF_SIP_SS_ACCEPTED && code < 300)
			return send_dst(st, bytes);
		return EALREADY;
	}

	err = cf_mbuf_alloc(&mb, bytes->l);
	if (err)
		return err;
	err = cf_mbuf_write_pl(mb, bytes);
	if (err) {
		cf_mem_deref(mb);
		return err;
	}

	return respond(st, mb, code);
}

struct cf_sip_txn_env *cf_sip_strans_env(const struct cf_sip_strans *st)
{
	return st ? st->env : NULL;
}

/* See sip.h. The transaction leaves the table now and is freed on the
 * next wheel tick (or when the caller drops its reference). Its To tag is
 * derived from the request (cf_sip_txn_stateless_tag), not random. */
int cf_sip_strans_reply_stateless(struct cf_sip_strans *st, uint16_t code,
                                  const char *reason, const char *hdrs,
                                  const struct cf_pl *body)
{
	int err;

	if (!st || st->invite || code < 200)
		return EINVAL;
	/* §8.2.7: the same To tag for a retransmission, which will meet no
	 * transaction and be answered again */
	if (st->env && st->req && st->code < 200)
		cf_sip_txn_stateless_tag(st->env, st->req, st->tag);

	err = cf_sip_strans_reply(st, code, reason, hdrs, body);
	if (!err)
		terminate(st);

	return err;
}

/* See sip.h. Freed like a stateless answer: on the next wheel tick. */
void cf_sip_strans_drop(struct cf_sip_strans *st)
{
	if (st)
		terminate(st);
}

const struct cf_sip_msg *cf_sip_strans_msg(const struct cf_sip_strans *st)
{
	return st ? st->req : NULL;
}

const struct cf_sip_peer *cf_sip_strans_peer(const struct cf_sip_strans *st)
{
	return st ? &st->peer : NULL;
}

bool cf_sip_strans_final_sent(const struct cf_sip_strans *st)
{
	return st && st->code >= 200;
}

uint16_t cf_sip_strans_code(const struct cf_sip_strans *st)
{
	return st ? st->code : 0;
}

/* arg is not owned: a service that attaches an object keeps its own
 * reference and clears it when done. */
void cf_sip_strans_set_arg(struct cf_sip_strans *st, void *arg)
{
	if (st)
		st->arg = arg;
}

void *cf_sip_strans_arg(const struct cf_sip_strans *st)
{
	return st ? st->arg : NULL;
}

/* ---------------------------------------------------------- receiving */

/* A retransmitted request (§17.2.1, §17.2.2): resend the last response;
 * nothing in Trying, nothing in Accepted (RFC 6026 §8.5: the TU resends
 * the 2xx) or Confirmed. */
static void absorb(struct cf_sip_strans *st)
{
	++st->env->stats.retransmissions_absorbed;

	switch (st->state) {
	case CF_SIP_SS_PROCEEDING:
	case CF_SIP_SS_COMPLETED:
		(void)resend(st);
		break;
	default:
		break;
	}
}

static void recv_ack(struct cf_sip_txn_env *env,
                     const struct cf_sip_txn_handlers *h,
                     struct cf_sip_msg *msg, const struct cf_sip_peer *peer)
{
	struct cf_sip_strans *st = cf_sip_strans_find(env, msg, false);

	if (!st) {
		/* ACK for a 2xx: a transaction of its own, for the TU */
		if (h->request)
			h->request(NULL, msg, peer, h->arg);
		return;
	}

	switch (st->state) {
	case CF_SIP_SS_COMPLETED:
		/* §17.2.1: Confirmed; Timer I = T4 over UDP, 0 else */
		st->state = CF_SIP_SS_CONFIRMED;
		cf_tmr_cancel(&st->tmr_g);
		cf_tmr_start(env->wheel, &st->tmr,
		             reliable0(st, env->cfg.t4_ms), timer_main, st);
		break;
	case CF_SIP_SS_ACCEPTED:
		/* RFC 6026 §8.5: an ACK in Accepted goes to the TU */
		if (h->request)
			h->request(NULL, msg, peer, h->arg);
		break;
	case CF_SIP_SS_CONFIRMED:
		++env->stats.retransmissions_absorbed;
		break;
	default:
		break; /* ACK before any final: nothing to acknowledge */
	}
}

/* §9.2: a CANCEL gets its own non-INVITE server transaction, answered 200
 * when it matches a transaction (481 otherwise); an INVITE without a final
 * response is reported to the TU, which answers it 487. */
static void recv_cancel(struct cf_sip_txn_env *env,
                        const struct cf_sip_txn_handlers *h,
                        struct cf_sip_msg *msg, const struct cf_sip_peer *peer)
{
	struct cf_sip_strans *cst, *st;
	int err;

	st = cf_sip_strans_find(env, msg, true);

	err = strans_alloc(&cst, env, msg, peer);
	if (err) {
		cf_log(CF_LOG_WARN, &msg->call_id, "CANCEL: out of memory");
		return;
	}

	/* Nobody else will answer this transaction: when the answer cannot
	 * be built, end it so that a retransmission tries again. */
	if (!st) {
		if (cf_sip_strans_reply(cst, 481, NULL, NULL, NULL))
			terminate(cst);
		goto out;
	}

	/* §9.2: the To tags of both responses SHOULD be the same */
	memcpy(cst->tag, st->tag, sizeof(cst->tag));
	if (cf_sip_strans_reply(cst, 200, NULL, NULL, NULL))
		terminate(cst);

	if (st->invite && st->code < 200 && !st->cancelled) {
		st->cancelled = true;
		cf_mem_ref(st);
		if (h->cancel)
			h->cancel(st, h->arg);
		cf_mem_deref(st);
	}

out:
	cf_mem_deref(cst);
}

/*
 * A non-INVITE transaction answered over UDP waits 64*T1 (Timer J) only to
 * absorb retransmissions: it needs its keys and its response, not the
 * request (about 2 KB with its header index). When nobody else holds the
 * transaction (nothing can then ask for its request), keep copies of the
 * RFC 3261 keys and let the request go. RFC 2543 transactions match on
 * much more of the request and keep it.
 */
static void slim(struct cf_sip_strans *st)
{
	char *p = st->keys;

	if (st->invite || !st->rfc3261 || st->state != CF_SIP_SS_COMPLETED ||
	    !st->req || cf_mem_nrefs(st) > 2 ||
	    st->branch.l + st->host.l + st->method.l > sizeof(st->keys))
		return;

	memcpy(p, st->branch.p, st->branch.l);
	st->branch.p = p;
	p += st->branch.l;
	memcpy(p, st->host.p, st->host.l);
	st->host.p = p;
	p += st->host.l;
	memcpy(p, st->method.p, st->method.l);
	st->method.p = p;
	st->req = cf_mem_deref(st->req);
}

/* 100 Trying, with the request's Timestamp copied (§8.2.6.1). */
static void trying(struct cf_sip_strans *st)
{
	const struct cf_sip_hdr *ts =
	    cf_sip_msg_hdr(st->req, CF_SIP_H_TIMESTAMP);
	char hdr[128];

	if (ts && ts->val.l < sizeof(hdr) - 16) {
		snprintf(hdr, sizeof(hdr), "Timestamp: %.*s\r\n",
		         (int)ts->val.l, ts->val.p);
		(void)cf_sip_strans_reply(st, 100, NULL, hdr, NULL);
		return;
	}

	(void)cf_sip_strans_reply(st, 100, NULL, NULL, NULL);
}

void cf_sip_strans_recv(struct cf_sip_txn_env *env,
                        const struct cf_sip_txn_handlers *h,
                        struct cf_sip_msg *msg, const struct cf_sip_peer *peer)
{
	struct cf_sip_strans *st;
	int err;

	if (msg->mid == CF_SIP_M_ACK) {
		recv_ack(env, h, msg, peer);
		return;
	}

	st = cf_sip_strans_find(env, msg, false);
	if (st) {
		absorb(st);
		return;
	}

	if (msg->mid == CF_SIP_M_CANCEL) {
		recv_cancel(env, h, msg, peer);
		return;
	}

	err = strans_alloc(&st, env, msg, peer);
	if (err) {
		cf_log(CF_LOG_WARN, &msg->call_id,
		       "server transaction: out of memory");
		return;
	}

	/* §17.2.1: the server transaction answers 100 Trying itself, at once
	 * (the TU may take longer than 200 ms). */
	if (st->invite)
		trying(st);

	/* our reference keeps st alive across the handler */
	if (h->request && st->state != CF_SIP_SS_TERMINATED)
		h->request(st, msg, peer, h->arg);
	slim(st); /* the table's reference and ours: answered at once */
	cf_mem_deref(st);
}
