/* SPDX-License-Identifier: BSD-3-Clause */
/* ctrans.c - client transactions: RFC 3261 §17.1 with RFC 6026 (Accepted,
 * Timer M), the ACK for non-2xx finals (§17.1.1.3) and CANCEL (§9.1). */
#include <errno.h>
#include <string.h>
#include <strings.h>

#include "sip/sip_priv.h"

/* ------------------------------------------------------- ACK and CANCEL */

/* Lines shared by ACK and CANCEL: the request line, the top Via only (the
 * request's, hop-by-hop) and the Route headers of the request. */
static int head_print(struct cf_mbuf *mb, const char *method,
                      const struct cf_sip_msg *req)
{
	size_t i;
	int err;

	err = cf_mbuf_printf(mb, "%s %.*s SIP/2.0\r\nVia: %.*s\r\n", method,
	                     (int)req->ruri_pl.l, req->ruri_pl.p,
	                     (int)req->via.val.l, req->via.val.p);
	for (i = 0; !err && i < req->hdrc; i++) {
		if (req->hdrv[i].id == CF_SIP_H_ROUTE)
			err = cf_mbuf_write_pl(mb, &req->hdrv[i].line);
	}

	return err;
}

static int tail_print(struct cf_mbuf *mb, const char *method,
                      const struct cf_sip_msg *req, const struct cf_pl *from,
                      const struct cf_pl *to)
{
	return cf_mbuf_printf(mb,
	                      "From: %.*s\r\nTo: %.*s\r\nCall-ID: %.*s\r\n"
	                      "CSeq: %u %s\r\nMax-Forwards: 70\r\n"
	                      "Content-Length: 0\r\n\r\n",
	                      (int)from->l, from->p, (int)to->l, to->p,
	                      (int)req->call_id.l, req->call_id.p,
	                      req->cseq.num, method);
}

/*
 * The ACK for a non-2xx final response to INVITE (RFC 3261 §17.1.1.3):
 * same Request-URI, the top Via of the request only, From and Call-ID of
 * the request, the To of the response (with its tag), CSeq number with
 * method ACK, the Route headers of the request. EINVAL when a header is
 * missing, ENOMEM.
 */
int cf_sip_ack_encode(struct cf_mbuf *mb, const struct cf_sip_msg *req,
                      const struct cf_sip_msg *resp)
{
	const struct cf_sip_hdr *from = cf_sip_msg_hdr(req, CF_SIP_H_FROM);
	const struct cf_sip_hdr *to = cf_sip_msg_hdr(resp, CF_SIP_H_TO);
	int err;

	if (!from || !to)
		return EINVAL;

	err = head_print(mb, "ACK", req);
	if (!err)
		err = tail_print(mb, "ACK", req, &from->val, &to->val);

	return err;
}

/*
 * A CANCEL for req (RFC 3261 §9.1): Request-URI, Call-ID, From, To and the
 * CSeq number of the request with method CANCEL, the request's top Via
 * only (same branch, §9.1), its Route headers. EINVAL, ENOMEM.
 */
int cf_sip_cancel_encode(struct cf_mbuf *mb, const struct cf_sip_msg *req)
{
	const struct cf_sip_hdr *from = cf_sip_msg_hdr(req, CF_SIP_H_FROM);
	const struct cf_sip_hdr *to = cf_sip_msg_hdr(req, CF_SIP_H_TO);
	int err;

	if (!from || !to)
		return EINVAL;

	err = head_print(mb, "CANCEL", req);
	if (!err)
		err = tail_print(mb, "CANCEL", req, &from->val, &to->val);

	return err;
}

/* ------------------------------------------------- the state machine */

static void terminate(struct cf_sip_ctrans *ct)
{
	if (ct->state == CF_SIP_CS_TERMINATED)
		return;

	ct->state = CF_SIP_CS_TERMINATED;
	cf_tmr_cancel(&ct->tmr);
	cf_tmr_cancel(&ct->tmr_a);
	cf_sip_txn_pending_set(ct->env, &ct->pending, false);
	if (ct->env) {
		cf_hash_unlink(&ct->le);
		cf_sip_txn_bury(ct->env, &ct->le, ct);
	}
}

void cf_sip_ctrans_detach(struct cf_sip_ctrans *ct)
{
	cf_sip_txn_pending_set(ct->env, &ct->pending, false);
	ct->state = CF_SIP_CS_TERMINATED;
	cf_tmr_cancel(&ct->tmr);
	cf_tmr_cancel(&ct->tmr_a);
	ct->env = NULL;
}

static void destroy(void *data)
{
	struct cf_sip_ctrans *ct = data;

	cf_tmr_cancel(&ct->tmr);
	cf_tmr_cancel(&ct->tmr_a);
	cf_mem_deref(ct->ack);
	cf_mem_deref(ct->req);
	cf_mem_deref(ct->peer.conn);
	cf_mem_deref(ct->host);
}

/* Tell the TU, holding a reference so it may drop its own. */
static void report(struct cf_sip_ctrans *ct, const struct cf_sip_msg *msg,
                   uint16_t code)
{
	if (!ct->resph)
		return;

	cf_mem_ref(ct);
	ct->resph(ct, msg, code, ct->arg);
	cf_mem_deref(ct);
}

/* §17.1.4: a transport error ends the transaction with a 503 for the TU. */
static void transport_error(struct cf_sip_ctrans *ct, int err)
{
	cf_log(CF_LOG_NOTICE, &ct->req->call_id,
	       "client transaction %.*s: transport error: %s",
	       (int)ct->req->method.l, ct->req->method.p, strerror(err));
	terminate(ct);
	report(ct, NULL, 503);
}

/* Bytes of this transaction (the request, its ACK) to its peer, naming
 * its TLS server when it has one (RFC 5922: SNI, certificate check). */
static int ct_send(struct cf_sip_ctrans *ct, struct cf_sip_txn_env *env,
                   const struct cf_pl *bytes)
{
	if (ct->host && env && env->send_host)
		return env->send_host(&ct->peer, ct->host, bytes,
		                      env->send_arg);
	return cf_sip_txn_send(env, &ct->peer, bytes);
}

static int send_req(struct cf_sip_ctrans *ct)
{
	return ct_send(ct, ct->env, &ct->req->raw);
}

/* Timer A (INVITE: T1 doubling, §17.1.1.2) / Timer E (non-INVITE: doubling
 * up to T2, then T2 in Proceeding, §17.1.2.2). UDP only. */
static void timer_a(void *arg)
{
	struct cf_sip_ctrans *ct = arg;
	struct cf_sip_txn_env *env = ct->env;
	int err;

	err = send_req(ct);
	if (err) {
		transport_error(ct, err);
		return;
	}

	if (ct->invite) {
		ct->a_ms *= 2;
	} else if (ct->state == CF_SIP_CS_PROCEEDING) {
		ct->a_ms = env->cfg.t2_ms;
	} else {
		ct->a_ms *= 2;
		if (ct->a_ms > env->cfg.t2_ms)
			ct->a_ms = env->cfg.t2_ms;
	}
	cf_tmr_start(env->wheel, &ct->tmr_a, ct->a_ms, timer_a, ct);
}

/* Timers B, D, F, K, M: whichever runs in the current state. */
static void timer_main(void *arg)
{
	struct cf_sip_ctrans *ct = arg;

	switch (ct->state) {
	case CF_SIP_CS_CALLING:
	case CF_SIP_CS_PROCEEDING:
		/* Timer B (INVITE) / F (non-INVITE), or no final 64*T1
		 * after our CANCEL (§9.1): 408 for the TU */
		++ct->env->stats.timeouts;
		cf_log(CF_LOG_NOTICE, &ct->req->call_id,
		       "client transaction %.*s: timeout (%s)",
		       (int)ct->req->method.l, ct->req->method.p,
		       !ct->invite ? "Timer F"
		       : ct->state == CF_SIP_CS_CALLING
		           ? "Timer B"
		           : "no final after CANCEL");
		terminate(ct);
		report(ct, NULL, 408);
		break;
	default:
		/* D, K (Completed), M (Accepted) */
		terminate(ct);
		break;
	}
}

static uint64_t reliable0(const struct cf_sip_ctrans *ct, uint64_t ms)
{
	return cf_sip_tp_reliable(ct->peer.tp) ? 0 : ms;
}

static void no_resp(struct cf_sip_ctrans *ct, const struct cf_sip_msg *msg,
                    uint16_t code, void *arg)
{
	(void)ct;
	(void)msg;
	(void)code;
	(void)arg;
}

/* Start a transaction for req (a reference is taken). */
static int ctrans_start(struct cf_sip_ctrans **ctp, struct cf_sip_txn_env *env,
                        struct cf_sip_msg *req, const struct cf_sip_peer *peer,
                        const char *tls_host, cf_sip_resp_h *resph, void *arg)
{
	struct cf_sip_ctrans *ct;
	char *host = NULL;
	int err;

	if (!cf_sip_txn_has_cookie(&req->via.branch) ||
	    req->mid == CF_SIP_M_ACK)
		return EINVAL;

	/* the TLS server name is kept for a connection a later send (a
	 * CANCEL, an ACK) may have to open again */
	if (tls_host && *tls_host && !(host = cf_mem_strdup(tls_host)))
		return ENOMEM;
	ct = cf_mem_zalloc(sizeof(*ct), destroy);
	if (!ct) {
		cf_mem_deref(host);
		return ENOMEM;
	}

	ct->env = env;
	ct->req = cf_mem_ref(req);
	ct->peer = *peer;
	ct->host = host;
	cf_mem_ref(ct->peer.conn);
	ct->invite = req->mid == CF_SIP_M_INVITE;
	ct->state = CF_SIP_CS_CALLING;
	ct->resph = resph;
	ct->arg = arg;
	ct->key = cf_sip_txn_branch_key(&req->via.branch);
	cf_tmr_init(&ct->tmr);
	cf_tmr_init(&ct->tmr_a);

	err = send_req(ct);
	if (err) {
		cf_log(CF_LOG_NOTICE, &req->call_id,
		       "client transaction %.*s: cannot send: %s",
		       (int)req->method.l, req->method.p, strerror(err));
		ct->state = CF_SIP_CS_TERMINATED;
		goto out;
	}

	cf_hash_append(env->ct_ht, ct->key, &ct->le, cf_mem_ref(ct));
	cf_sip_txn_pending_set(env, &ct->pending, true);

	/* §17.1.1.2 / §17.1.2.2: A or E over UDP; B or F always */
	if (!cf_sip_tp_reliable(peer->tp)) {
		ct->a_ms = env->cfg.t1_ms;
		cf_tmr_start(env->wheel, &ct->tmr_a, ct->a_ms, timer_a, ct);
	}
	cf_tmr_start(env->wheel, &ct->tmr, 64ull * env->cfg.t1_ms, timer_main,
	             ct);

out:
	if (err || !ctp)
		ct = cf_mem_deref(ct);
	if (ctp)
		*ctp = ct;
	return err;
}

/*
 * Start a client transaction: send req (encoded with its edits) to peer and
 * run its timers. Called by a service or the proxy. On success, when ctp
 * is given, *ctp holds a reference for the caller (drop it with
 * cf_mem_deref); the layer holds its own until the transaction
 * terminates. resp gets every response, then 408 or 503 (msg NULL).
 * EINVAL (no z9hG4bK branch, ACK, bad arguments), ENOMEM, or the send
 * error of the first transmission (no transaction is created then).
 */
int cf_sip_ctrans_start(struct cf_sip_ctrans **ctp, struct cf_sip_txn_env *env,
                        const struct cf_sip_msg *req,
                        const struct cf_sip_peer *peer, cf_sip_resp_h *resp,
                        void *arg)
{
	return cf_sip_ctrans_start_host(ctp, env, req, peer, NULL, resp, arg);
}

/* As cf_sip_ctrans_start; a TLS connection the transaction opens (now, or
 * for its CANCEL and ACK) names tls_host (SNI, RFC 5922 certificate
 * check); NULL: none. Seven parameters: the one addition is not worth a
 * struct that every other caller would have to fill. */
int cf_sip_ctrans_start_host(struct cf_sip_ctrans **ctp,
                             struct cf_sip_txn_env *env,
                             const struct cf_sip_msg *req,
                             const struct cf_sip_peer *peer,
                             const char *tls_host, cf_sip_resp_h *resp,
                             void *arg)
{
	struct cf_sip_msg *msg = NULL;
	struct cf_mbuf *mb = NULL;
	size_t used;
	int err;

	if (!env || !req || !req->req || !peer)
		return EINVAL;

	if (!cf_list_count(&req->edits)) {
		msg = cf_mem_ref((void *)req);
	} else {
		/* the bytes we send are the ones ACK/CANCEL must follow */
		err = cf_mbuf_alloc(&mb, req->raw.l + 256);
		if (err)
			goto out;
		err = cf_sip_msg_encode(mb, req);
		if (err)
			goto out;
		err = cf_sip_msg_decode(&msg, mb->buf, mb->end, CF_SIP_DATAGRAM,
		                        &used);
		if (err)
			goto out;
	}

	err = ctrans_start(ctp, env, msg, peer, tls_host, resp ? resp : no_resp,
	                   arg);

out:
	cf_mem_deref(mb);
	cf_mem_deref(msg);
	return err;
}

/* See sip.h. The proxy hands a branch it no longer tracks to a handler
 * with no state (2xx retransmissions forwarded by their Via). */
void cf_sip_ctrans_set_resp(struct cf_sip_ctrans *ct, cf_sip_resp_h *resp,
                            void *arg)
{
	if (!ct)
		return;
	ct->resph = resp ? resp : no_resp;
	ct->arg = arg;
}

static int send_cancel(struct cf_sip_ctrans *ct)
{
	struct cf_sip_msg *msg = NULL;
	struct cf_mbuf *mb = NULL;
	size_t used;
	int err;

	err = cf_mbuf_alloc(&mb, 512);
	if (err)
		goto out;
	err = cf_sip_cancel_encode(mb, ct->req);
	if (err)
		goto out;
	err = cf_sip_msg_decode(&msg, mb->buf, mb->end, CF_SIP_DATAGRAM, &used);
	if (err)
		goto out;

	/* its own non-INVITE transaction; its answer concerns nobody */
	err = ctrans_start(NULL, ct->env, msg, &ct->peer, ct->host, no_resp,
	                   NULL);
	if (err)
		goto out;
	ct->cancel_sent = true;
	/* §9.1: no final response 64*T1 after the CANCEL: give up */
	cf_tmr_start(ct->env->wheel, &ct->tmr, 64ull * ct->env->cfg.t1_ms,
	             timer_main, ct);

out:
	cf_mem_deref(mb);
	cf_mem_deref(msg);
	return err;
}

/*
 * Cancel a pending INVITE client transaction (RFC 3261 §9.1). The CANCEL is
 * sent at once when a provisional response has arrived, else when the
 * first one arrives. The INVITE transaction then gets its final response
 * (487, typically) as usual. EINVAL (not an INVITE), EALREADY (already
 * cancelled, or a final response came), ENOMEM or a send error.
 */
int cf_sip_ctrans_cancel(struct cf_sip_ctrans *ct)
{
	if (!ct || !ct->invite || !ct->env)
		return EINVAL;
	if (ct->cancel_pending || ct->cancel_sent)
		return EALREADY;

	switch (ct->state) {
	case CF_SIP_CS_CALLING:
		ct->cancel_pending = true;
		return 0;
	case CF_SIP_CS_PROCEEDING:
		return send_cancel(ct);
	default:
		return EALREADY;
	}
}

/* ---------------------------------------------------------- receiving */

struct match {
	const struct cf_sip_msg *msg;
};

/* §17.1.3: the top Via branch and the CSeq method match the request. */
static bool match_h(struct cf_le *le, void *arg)
{
	const struct cf_sip_ctrans *ct = le->data;
	const struct cf_sip_msg *msg = ((const struct match *)arg)->msg;

	if (cf_pl_cmp(&ct->req->via.branch, &msg->via.branch) ||
	    msg->cseq.mid != ct->req->mid)
		return false;

	return msg->cseq.mid != CF_SIP_M_OTHER ||
	       !cf_pl_cmp(&msg->cseq.method, &ct->req->method);
}

static void invite_final(struct cf_sip_ctrans *ct, struct cf_sip_msg *msg)
{
	struct cf_sip_txn_env *env = ct->env;
	struct cf_pl bytes;
	int err;

	cf_tmr_cancel(&ct->tmr_a);
	cf_tmr_cancel(&ct->tmr);
	cf_sip_txn_pending_set(env, &ct->pending, false);

	if (msg->scode < 300) {
		/* RFC 6026 §7.2: Accepted, Timer M; 2xx go to the TU */
		ct->state = CF_SIP_CS_ACCEPTED;
		cf_tmr_start(env->wheel, &ct->tmr, 64ull * env->cfg.t1_ms,
		             timer_main, ct);
		report(ct, msg, msg->scode);
		return;
	}

	/* §17.1.1.2: Completed, ACK, Timer D (32 s UDP, 0 reliable) */
	ct->state = CF_SIP_CS_COMPLETED;
	err = cf_mbuf_alloc(&ct->ack, 512);
	if (!err)
		err = cf_sip_ack_encode(ct->ack, ct->req, msg);
	if (!err) {
		bytes = cf_mbuf_pl(ct->ack);
		err = ct_send(ct, env, &bytes);
	}
	if (err) {
		cf_log(CF_LOG_NOTICE, &ct->req->call_id,
		       "INVITE client transaction: cannot ACK %u: %s",
		       msg->scode, strerror(err));
		ct->ack = cf_mem_deref(ct->ack);
	}
	cf_tmr_start(env->wheel, &ct->tmr, reliable0(ct, CF_SIP_TIMER_D_MS),
	             timer_main, ct);
	report(ct, msg, msg->scode);
}

static void invite_resp(struct cf_sip_ctrans *ct, struct cf_sip_msg *msg)
{
	struct cf_pl bytes;

	switch (ct->state) {
	case CF_SIP_CS_CALLING:
	case CF_SIP_CS_PROCEEDING:
		if (msg->scode >= 200) {
			invite_final(ct, msg);
			break;
		}
		/* §17.1.1.2: Proceeding; no more retransmissions, no B (a
		 * later 1xx leaves the §9.1 timer of a CANCEL running) */
		if (ct->state == CF_SIP_CS_CALLING) {
			cf_tmr_cancel(&ct->tmr_a);
			cf_tmr_cancel(&ct->tmr);
		}
		ct->state = CF_SIP_CS_PROCEEDING;
		if (ct->cancel_pending && !ct->cancel_sent) {
			ct->cancel_pending = false;
			(void)send_cancel(ct);
		}
		report(ct, msg, msg->scode);
		break;
	case CF_SIP_CS_ACCEPTED:
		/* RFC 6026 §7.2: every 2xx goes to the TU */
		if (msg->scode >= 200 && msg->scode < 300)
			report(ct, msg, msg->scode);
		break;
	case CF_SIP_CS_COMPLETED:
		/* §17.1.1.2: a retransmitted final: ACK again */
		if (msg->scode < 300)
			break;
		++ct->env->stats.retransmissions_absorbed;
		if (ct->ack) {
			bytes = cf_mbuf_pl(ct->ack);
			(void)ct_send(ct, ct->env, &bytes);
		}
		break;
	default:
		break;
	}
}

static void nict_resp(struct cf_sip_ctrans *ct, struct cf_sip_msg *msg)
{
	struct cf_sip_txn_env *env = ct->env;

	switch (ct->state) {
	case CF_SIP_CS_CALLING:
	case CF_SIP_CS_PROCEEDING:
		if (msg->scode < 200) {
			/* §17.1.2.2: Proceeding; E goes on (at T2) */
			ct->state = CF_SIP_CS_PROCEEDING;
			report(ct, msg, msg->scode);
			break;
		}
		/* Completed; Timer K = T4 over UDP, 0 reliable */
		ct->state = CF_SIP_CS_COMPLETED;
		cf_sip_txn_pending_set(env, &ct->pending, false);
		cf_tmr_cancel(&ct->tmr_a);
		cf_tmr_start(env->wheel, &ct->tmr,
		             reliable0(ct, env->cfg.t4_ms), timer_main, ct);
		report(ct, msg, msg->scode);
		break;
	case CF_SIP_CS_COMPLETED:
		++env->stats.retransmissions_absorbed;
		break;
	default:
		break;
	}
}

void cf_sip_ctrans_recv(struct cf_sip_txn_env *env,
                        const struct cf_sip_txn_handlers *h,
                        struct cf_sip_msg *msg, const struct cf_sip_peer *peer)
{
	struct match m = {msg};
	struct cf_sip_ctrans *ct;
	struct cf_le *le;

	le = cf_hash_lookup(env->ct_ht, cf_sip_txn_branch_key(&msg->via.branch),
	                    match_h, &m);
	if (!le) {
		if (h->stray_response)
			h->stray_response(msg, peer, h->arg);
		return;
	}

	ct = cf_mem_ref(le->data);
	if (ct->invite)
		invite_resp(ct, msg);
	else
		nict_resp(ct, msg);
	cf_mem_deref(ct);
}

/* ------------------------------------------------- transport failure */

enum { FAIL_BATCH = 64 };

struct failwalk {
	enum cf_sip_tp tp;
	const struct cf_sa *addr;
	const char *host;
	struct cf_sip_ctrans *v[FAIL_BATCH];
	size_t n;
};

static bool fail_match(struct cf_le *le, void *arg)
{
	struct failwalk *fw = arg;
	struct cf_sip_ctrans *ct = le->data;

	if (ct->state == CF_SIP_CS_CALLING && !ct->peer.conn &&
	    ct->peer.tp == fw->tp && cf_sa_eq(&ct->peer.addr, fw->addr) &&
	    (!ct->host == !fw->host &&
	     (!ct->host || !strcasecmp(ct->host, fw->host))))
		fw->v[fw->n++] = cf_mem_ref(ct);
	return fw->n == FAIL_BATCH;
}

/*
 * The transactions are collected first (a reference each), then failed:
 * a failure unlinks the transaction from the table the walk is on, and
 * its TU may start others (the next server). Only those still Calling
 * (no response yet) that went out without a connection of their own; at
 * most FAIL_BATCH per round, rounds until none is left (bounded: each
 * round terminates what it found).
 */
void cf_sip_txn_env_transport_failed(struct cf_sip_txn_env *env,
                                     enum cf_sip_tp tp,
                                     const struct cf_sa *addr, const char *host)
{
	struct failwalk fw;

	if (!env || !addr)
		return;
	for (int round = 0; round < 1024; round++) {
		fw.tp = tp;
		fw.addr = addr;
		fw.host = host;
		fw.n = 0;
		cf_hash_apply(env->ct_ht, fail_match, &fw);
		for (size_t i = 0; i < fw.n; i++) {
			if (fw.v[i]->state == CF_SIP_CS_CALLING)
				transport_error(fw.v[i], ECONNREFUSED);
			cf_mem_deref(fw.v[i]);
		}
		if (fw.n < FAIL_BATCH)
			break;
	}
}
