/* SPDX-License-Identifier: BSD-3-Clause */
/* worker.c - a worker thread: its loop, transaction environment and
 * mailbox, and the hand-off of messages to the worker owning a Call-ID. */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>

#include "sip/stack_priv.h"

/* The worker running on this thread (NULL on other threads). */
static _Thread_local struct worker *cur_worker;

struct worker *worker_current(const struct cf_sip *sip)
{
	if (cur_worker && cur_worker->sip == sip)
		return cur_worker;
	return NULL;
}

static void job_destructor(void *data)
{
	struct job *j = data;

	cf_mem_deref(j->msg);
	cf_mem_deref(j->peer.conn);
}

/* A job with room for len bytes of data; msg and peer.conn empty. */
int job_alloc(struct job **jp, enum job_kind kind, size_t len)
{
	struct job *j = cf_mem_alloc(sizeof(*j) + len, job_destructor);

	if (!j)
		return ENOMEM;
	memset(j, 0, sizeof(*j));
	j->kind = kind;
	j->len = len;
	*jp = j;
	return 0;
}

/* Give msg (our reference) to this worker's transactions. */
static void handle(struct worker *w, struct cf_sip_msg *msg,
                   const struct cf_sip_peer *peer)
{
	ctr_add(&w->st.handled, 1);
	cf_sip_txn_recv(w->env, &w->sip->wrap, msg, peer);
	cf_mem_deref(msg);
}

/*
 * Route a decoded message to the worker owning its Call-ID: every message
 * of a call (requests, retransmissions, ACK, CANCEL, responses) then meets
 * its transactions on one thread with no lock, and one busy source (a
 * trunk, SIPp) is spread over every worker. Takes the caller's reference to
 * msg; peer->conn is borrowed (the job takes its own). Cost: one hash of the
 * Call-ID, and for another worker one small allocation and a mailbox push.
 */
void worker_dispatch(struct worker *w, struct cf_sip_msg *msg,
                     const struct cf_sip_peer *peer)
{
	struct cf_sip *sip = w->sip;
	struct worker *to = w;
	struct job *j;

	if (sip->wc > 1 && cf_pl_isset(&msg->call_id))
		to = &sip->wv[cf_hash_mix32(cf_hash_mem(msg->call_id.p,
		                                        msg->call_id.l)) %
		              sip->wc];
	if (to == w) {
		handle(w, msg, peer);
		return;
	}
	if (job_alloc(&j, JOB_MSG, 0)) {
		/* no memory for the hand-off: drop, the peer retransmits */
		cf_mem_deref(msg);
		return;
	}
	j->msg = msg;
	j->peer = *peer;
	j->peer.conn = cf_mem_ref(peer->conn);
	cf_mbox_send(to->mbox, &j->node);
}

static void probe_h(void *arg)
{
	struct worker *w = arg;

	atomic_store(&w->txn_count, cf_sip_txn_env_pending(w->env));
	cf_tmr_start(cf_loop_wheel(w->loop), &w->probe, 10, probe_h, w);
}

/* Stop: no more connections accepted here; publish how many transactions
 * still await a final response (every 10 ms) for cf_sip_stop to wait on;
 * answered ones only wait out their timers and are not waited for. */
static void stop_accept(struct worker *w)
{
	struct cf_sip *sip = w->sip;

	for (size_t i = 0; i < sip->lc; i++) {
		if (sip->lv[i].tp != CF_SIP_TP_UDP)
			cf_loop_fd_close(w->loop, sip->lv[i].fd);
	}
	probe_h(w);
}

void worker_mbox_h(struct cf_mbox_node *node, void *arg)
{
	struct job *j = CF_CONTAINER_OF(node, struct job, node);
	struct worker *w = arg;
	struct cf_sip_conn *conn;
	int err;

	if (w->releasing) {
		/* the mailbox is being freed after the stop: drop the job */
		cf_mem_deref(j);
		return;
	}
	switch (j->kind) {
	case JOB_MSG:
		handle(w, j->msg, &j->peer);
		j->msg = NULL;
		break;
	case JOB_SEND:
		conn = j->peer.conn;
		if (conn && !atomic_load(&conn->closed) && conn->owner == w)
			err = conn_send_local(w, conn, j->data, j->len);
		else
			err = conn_send_addr(
			    w, &j->peer,
			    j->hostlen ? (const char *)j->data + j->len : NULL,
			    j->data, j->len);
		if (err) {
			char abuf[64];

			/* the sender was told 0 (queued): the loss is only
			 * seen here */
			cf_log(CF_LOG_NOTICE, NULL,
			       "tcp: %zu bytes handed over for %s not sent: %s",
			       j->len,
			       cf_sa_print(&j->peer.addr, abuf, sizeof(abuf)),
			       strerror(err));
		}
		break;
	case JOB_STOP_ACCEPT:
		stop_accept(w);
		break;
	}
	cf_mem_deref(j);
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct cf_sip *sip = w->sip;

	cur_worker = w;
	cf_log_set_thread(w->name);
	pthread_mutex_lock(&sip->run_mtx);
	sip->running++;
	pthread_cond_broadcast(&sip->run_cond);
	pthread_mutex_unlock(&sip->run_mtx);

	(void)cf_loop_run(w->loop);
	cf_sip_resolve_close(); /* its lookups get ECANCELED */
	cur_worker = NULL;
	return NULL;
}

static int rx_alloc(struct worker *w)
{
	size_t slot = w->sip->cfg.max_msg + 1;

	w->rxbuf = cf_mem_alloc(UDP_BATCH * slot, NULL);
	w->mmsg = cf_mem_zalloc(UDP_BATCH * sizeof(*w->mmsg), NULL);
	w->iov = cf_mem_zalloc(UDP_BATCH * sizeof(*w->iov), NULL);
	w->from = cf_mem_zalloc(UDP_BATCH * sizeof(*w->from), NULL);
	if (!w->rxbuf || !w->mmsg || !w->iov || !w->from)
		return ENOMEM;
	if (udp_txq_alloc(w))
		return ENOMEM;
	for (size_t i = 0; i < UDP_BATCH; i++) {
		w->iov[i].iov_base = w->rxbuf + i * slot;
		w->iov[i].iov_len = slot;
		w->mmsg[i].msg_hdr.msg_iov = &w->iov[i];
		w->mmsg[i].msg_hdr.msg_iovlen = 1;
		w->mmsg[i].msg_hdr.msg_name = &w->from[i];
	}
	return 0;
}

/*
 * Build a worker's loop, transaction environment and mailbox, register the
 * listeners (shared with every other worker: CF_FD_EXCL wakes one loop per
 * event) and start its thread with every signal blocked (the daemon's main
 * thread takes SIGTERM/SIGINT/SIGHUP). Called by cf_sip_start.
 */
int worker_start(struct worker *w)
{
	struct cf_sip *sip = w->sip;
	sigset_t all, old;
	int err;

	atomic_store(&w->txn_count, SIZE_MAX);
	err = cf_loop_alloc(&w->loop);
	if (err)
		return err;
	err = cf_sip_txn_env_alloc(&w->env, &sip->cfg, cf_loop_wheel(w->loop),
	                           tp_send, sip);
	if (err)
		return err;
	cf_sip_txn_env_send_host_set(w->env, tp_send_host);
	err = cf_mbox_alloc(&w->mbox, w->loop, worker_mbox_h, w);
	if (err)
		return err;
	err = rx_alloc(w);
	if (err)
		return err;
	for (size_t i = 0; i < sip->lc; i++) {
		struct listener *l = &sip->lv[i];

		err = cf_loop_fd_listen(
		    w->loop, l->fd, CF_FD_READ | CF_FD_EXCL,
		    l->tp == CF_SIP_TP_UDP ? udp_recv_h : tcp_accept_h, w);
		if (err)
			return err;
	}

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	err = pthread_create(&w->thread, NULL, worker_main, w);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err)
		return err;
	w->thread_started = true;
	return 0;
}

/* Free what worker_start built; the thread is joined (or never ran), so
 * the calling thread owns everything. Connections first (their fds), then
 * the mailbox (its queued jobs are handed to worker_mbox_h, which drops
 * them), then the transactions (which hold connection and message
 * references), the loop last (its wheel). */
void worker_release(struct worker *w)
{
	struct cf_sip_txn_stats ts;

	w->releasing = true;
	cf_tmr_cancel(&w->probe);
	if (w->txq)
		udp_txq_flush(w); /* also stops its timer */
	worker_conns_close(w);
	w->mbox = cf_mem_deref(w->mbox);
	if (w->env) {
		cf_sip_txn_env_stats(w->env, &ts);
		w->txn_done.requests += ts.requests;
		w->txn_done.responses += ts.responses;
		w->txn_done.retransmissions_absorbed +=
		    ts.retransmissions_absorbed;
		w->txn_done.bad_requests += ts.bad_requests;
		w->txn_done.bad_responses += ts.bad_responses;
		w->txn_done.timeouts += ts.timeouts;
	}
	w->env = cf_mem_deref(w->env);
	w->loop = cf_mem_deref(w->loop);
	w->rxbuf = cf_mem_deref(w->rxbuf);
	w->mmsg = cf_mem_deref(w->mmsg);
	w->iov = cf_mem_deref(w->iov);
	w->from = cf_mem_deref(w->from);
	w->txq = cf_mem_deref(w->txq);
	atomic_store(&w->txn_count, 0);
	w->releasing = false;
}

void worker_stats_add(const struct worker *w, struct cf_sip_stats *st)
{
	struct cf_sip_txn_stats ts = w->txn_done;

	st->rx_msgs += ctr_get(&w->st.rx_msgs);
	st->tx_msgs += ctr_get(&w->st.tx_msgs);
	st->rx_bytes += ctr_get(&w->st.rx_bytes);
	st->parse_errors += ctr_get(&w->st.parse_errors);
	st->oversize += ctr_get(&w->st.oversize);
	st->stream_garbage += ctr_get(&w->st.stream_garbage);
	st->conns_refused += ctr_get(&w->st.conns_refused);
	st->keepalive_pongs += ctr_get(&w->st.keepalive_pongs);
	st->ws_upgrades += ctr_get(&w->st.ws_upgrades);
	st->ws_refused += ctr_get(&w->st.ws_refused);
	st->ws_protocol_errors += ctr_get(&w->st.ws_protocol_errors);
	st->ws_oversize += ctr_get(&w->st.ws_oversize);
	st->ws_pongs += ctr_get(&w->st.ws_pongs);
	st->tls_handshakes += ctr_get(&w->st.tls_handshakes);
	st->tls_handshake_failures += ctr_get(&w->st.tls_handshake_failures);
	st->stun_bindings += ctr_get(&w->st.stun_bindings);
	st->stun_errors += ctr_get(&w->st.stun_errors);
	if (w->env) {
		struct cf_sip_txn_stats cur;

		cf_sip_txn_env_stats(w->env, &cur);
		ts.requests += cur.requests;
		ts.responses += cur.responses;
		ts.retransmissions_absorbed += cur.retransmissions_absorbed;
		ts.bad_requests += cur.bad_requests;
		ts.bad_responses += cur.bad_responses;
		ts.timeouts += cur.timeouts;
	}
	st->txn.requests += ts.requests;
	st->txn.responses += ts.responses;
	st->txn.retransmissions_absorbed += ts.retransmissions_absorbed;
	st->txn.bad_requests += ts.bad_requests;
	st->txn.bad_responses += ts.bad_responses;
	st->txn.timeouts += ts.timeouts;
}
