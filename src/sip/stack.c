/* SPDX-License-Identifier: BSD-3-Clause */
/* stack.c - the SIP stack object: configuration defaults, listeners, start
 * and graceful stop of the workers, the send entry point and counters. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "proto/ws/ws.h"
#include "sip/stack_priv.h"

static const char *const tp_names[CF_SIP_TP__COUNT] = {
    [CF_SIP_TP_UDP] = "UDP", [CF_SIP_TP_TCP] = "TCP", [CF_SIP_TP_TLS] = "TLS",
    [CF_SIP_TP_WS] = "WS",   [CF_SIP_TP_WSS] = "WSS",
};

const char *cf_sip_tp_name(enum cf_sip_tp tp)
{
	if ((unsigned)tp >= CF_SIP_TP__COUNT)
		return "?";
	return tp_names[tp];
}

int cf_sip_tp_decode(const struct cf_pl *name, enum cf_sip_tp *tp)
{
	if (!name || !tp)
		return EINVAL;
	for (unsigned i = 0; i < CF_SIP_TP__COUNT; i++) {
		if (!cf_pl_strcasecmp(name, tp_names[i])) {
			*tp = (enum cf_sip_tp)i;
			return 0;
		}
	}
	return EINVAL;
}

/*
 * Defaults. RFC 3261 Table 4 timers. Streams idle for 600 s are closed:
 * Kamailio's tcp_connection_lifetime is 120 s, but a UA behind NAT that
 * registers over TCP usually refreshes every 300-600 s (RFC 5626 flows keep
 * alive with CRLF every ~120 s), and closing its flow earlier makes calls
 * to it fail; 600 s bounds dead connections without breaking such UAs.
 * 64 connections per source address lets a busy NAT or a proxy farm behind
 * one address in, while one host cannot take the 4096 in all alone.
 */
void cf_sip_cfg_default(struct cf_sip_cfg *cfg)
{
	if (!cfg)
		return;
	memset(cfg, 0, sizeof(*cfg));
	cfg->t1_ms = 500;
	cfg->t2_ms = 4000;
	cfg->t4_ms = 5000;
	cfg->timer_c_ms = 180000;
	cfg->workers = 0;
	cfg->max_msg = CF_SIP_MSG_MAX;
	cfg->tcp_idle_s = 600;
	cfg->tcp_max_per_ip = 64;
	cfg->tcp_max = 4096;
	cfg->ws_max_frame = CF_WS_FRAME_MAX;
	cfg->ws_handshake_s = 10;
}

/* --------------------------------------------- handlers around the user's */

/* While stopping, new requests are refused (RFC 3261 §21.5.4) so that only
 * the open transactions are left to finish. */
static void wrap_request(struct cf_sip_strans *st, const struct cf_sip_msg *msg,
                         const struct cf_sip_peer *peer, void *arg)
{
	struct cf_sip *sip = arg;

	if (atomic_load_explicit(&sip->stopping, memory_order_relaxed)) {
		if (st)
			(void)cf_sip_strans_reply(st, 503,
			                          "Service Unavailable",
			                          "Retry-After: 5\r\n", NULL);
		return;
	}
	if (sip->uh.request)
		sip->uh.request(st, msg, peer, sip->uh.arg);
}

static void wrap_cancel(struct cf_sip_strans *st, void *arg)
{
	struct cf_sip *sip = arg;

	if (sip->uh.cancel)
		sip->uh.cancel(st, sip->uh.arg);
}

static void wrap_stray(const struct cf_sip_msg *msg,
                       const struct cf_sip_peer *peer, void *arg)
{
	struct cf_sip *sip = arg;

	if (sip->uh.stray_response)
		sip->uh.stray_response(msg, peer, sip->uh.arg);
}

/* The transaction layer's send callback (runs on a worker thread). */
int tp_send(const struct cf_sip_peer *peer, const struct cf_pl *bytes,
            void *arg)
{
	return cf_sip_send(arg, peer, bytes);
}

int tp_send_host(const struct cf_sip_peer *peer, const char *host,
                 const struct cf_pl *bytes, void *arg)
{
	return cf_sip_send_host(arg, peer, host, bytes);
}

/* ------------------------------------------------------------ lifecycle */

static void sip_destructor(void *data)
{
	struct cf_sip *sip = data;

	cf_sip_stop(sip, 0);
	for (size_t i = 0; i < sip->lc; i++) {
		if (sip->lv[i].fd >= 0)
			close(sip->lv[i].fd);
	}
	sip->ct = cf_mem_deref(sip->ct);
	sip->wv = cf_mem_deref(sip->wv);
	sip->ws_origins = cf_mem_deref(sip->ws_origins);
	tls_ctx_release(sip);
	pthread_mutex_destroy(&sip->tls_mtx);
	pthread_mutex_destroy(&sip->ct_mtx);
	pthread_mutex_destroy(&sip->run_mtx);
	pthread_cond_destroy(&sip->run_cond);
}

/*
 * Create a stack (not yet running). Called once by the daemon (and tests)
 * before cf_sip_listen/cf_sip_start. cfg NULL means the defaults; h is
 * copied. The caller owns the one reference: cf_mem_deref stops the stack
 * if still running and frees it. Errors: EINVAL, ENOMEM.
 */
int cf_sip_alloc(struct cf_sip **sipp, const struct cf_sip_cfg *cfg,
                 const struct cf_sip_txn_handlers *h)
{
	struct cf_sip *sip;
	int err;

	if (!sipp || !h)
		return EINVAL;
	/* the mutexes are initialised before anything can fail, so the
	 * destructor may always destroy them */
	sip = cf_mem_zalloc(sizeof(*sip), sip_destructor);
	if (!sip)
		return ENOMEM;
	pthread_mutex_init(&sip->ct_mtx, NULL);
	pthread_mutex_init(&sip->tls_mtx, NULL);
	pthread_mutex_init(&sip->run_mtx, NULL);
	pthread_cond_init(&sip->run_cond, NULL);

	if (cfg)
		sip->cfg = *cfg;
	else
		cf_sip_cfg_default(&sip->cfg);
	if (!sip->cfg.max_msg || sip->cfg.max_msg > CF_SIP_MSG_MAX)
		sip->cfg.max_msg = CF_SIP_MSG_MAX;
	if (!sip->cfg.ws_max_frame)
		sip->cfg.ws_max_frame = CF_WS_FRAME_MAX;
	sip->wc = sip->cfg.workers;
	if (!sip->wc) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);
		sip->wc = n > 0 ? (uint32_t)n : 1;
	}
	sip->uh = *h;
	sip->wrap.request = wrap_request;
	sip->wrap.cancel = wrap_cancel;
	sip->wrap.stray_response = wrap_stray;
	sip->wrap.arg = sip;

	err = cf_hash_alloc(&sip->ct, 256);
	if (err)
		goto out;
	sip->wv = cf_mem_zalloc(sip->wc * sizeof(*sip->wv), NULL);
	if (!sip->wv) {
		err = ENOMEM;
		goto out;
	}
	for (uint32_t i = 0; i < sip->wc; i++) {
		struct worker *w = &sip->wv[i];

		w->sip = sip;
		w->idx = i;
		snprintf(w->name, sizeof(w->name), "w%u", i);
		cf_list_init(&w->conns);
		cf_tmr_init(&w->probe);
	}
out:
	if (err)
		sip = cf_mem_deref(sip);
	*sipp = sip;
	return err;
}

/*
 * Add a listener before cf_sip_start: UDP, TCP, TLS, WS or WSS on an IPv4
 * or IPv6 address (WS and WSS, RFC 7118: a TCP or TLS listener whose
 * connections start with the HTTP upgrade); port 0 takes an ephemeral port
 * (see cf_sip_listeners_apply). A TLS or WSS listener needs a certificate
 * (cf_sip_tls_set) by cf_sip_start. Errors: EINVAL (started, bad
 * transport, too many), EPROTO (unknown transport), or the errno of
 * socket/bind/listen (e.g. EADDRINUSE).
 */
int cf_sip_listen(struct cf_sip *sip, enum cf_sip_tp tp,
                  const struct cf_sa *addr)
{
	struct listener *l;
	int err;

	if (!sip || !addr || sip->started || sip->lc >= LISTENERS_MAX)
		return EINVAL;
	if (tp != CF_SIP_TP_UDP && tp != CF_SIP_TP_TCP && tp != CF_SIP_TP_TLS &&
	    tp != CF_SIP_TP_WS && tp != CF_SIP_TP_WSS)
		return EPROTO;
	l = &sip->lv[sip->lc];
	l->tp = tp;
	l->addr = *addr;
	l->fd = -1;
	err = tp == CF_SIP_TP_UDP ? udp_listener_open(l) : tcp_listener_open(l);
	if (err)
		return err;
	sip->lc++;
	return 0;
}

int cf_sip_ws_origins_set(struct cf_sip *sip, const char *origins)
{
	char *dup = NULL;

	if (!sip || sip->started)
		return EINVAL;
	if (origins && *origins) {
		dup = cf_mem_strdup(origins);
		if (!dup)
			return ENOMEM;
	}
	cf_mem_deref(sip->ws_origins);
	sip->ws_origins = dup;
	return 0;
}

/*
 * Start the workers (threads "w0".."wN-1"), each with its loop, wheel,
 * transaction environment and mailbox, all listeners registered in every
 * loop. Returns once every worker runs. Errors: EINVAL, ENOENT (a TLS
 * listener and no certificate set), ENOMEM, or the errno of
 * pthread_create; on error nothing is left running.
 */
int cf_sip_start(struct cf_sip *sip)
{
	int err = 0;

	if (!sip || sip->started)
		return EINVAL;
	for (size_t i = 0; i < sip->lc; i++) {
		if ((sip->lv[i].tp == CF_SIP_TP_TLS ||
		     sip->lv[i].tp == CF_SIP_TP_WSS) &&
		    !tls_server_ready(sip))
			return ENOENT;
	}
	atomic_store(&sip->stopping, false);
	for (uint32_t i = 0; i < sip->wc; i++) {
		err = worker_start(&sip->wv[i]);
		if (err)
			break;
	}
	sip->started = true;
	if (err) {
		cf_sip_stop(sip, 0);
		return err;
	}

	pthread_mutex_lock(&sip->run_mtx);
	while (sip->running < sip->wc)
		pthread_cond_wait(&sip->run_cond, &sip->run_mtx);
	pthread_mutex_unlock(&sip->run_mtx);
	return 0;
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

/*
 * Graceful stop (SIGTERM/SIGINT in the daemon, teardown in tests): stop
 * accepting connections, refuse new requests with 503, wait until no
 * worker has a transaction pending (cf_sip_txn_env_pending: no final
 * response sent or received yet) or max_wait_ms has passed (polled every
 * 10 ms), then stop the loops, join the threads and free the workers'
 * state. Transactions that only wait out Timer J/I/K/D to absorb
 * retransmissions are not waited for. Idempotent. Called from the thread
 * that started.
 */
void cf_sip_stop(struct cf_sip *sip, uint32_t max_wait_ms)
{
	if (!sip || !sip->started)
		return;
	atomic_store(&sip->stopping, true);

	for (uint32_t i = 0; i < sip->wc; i++) {
		struct worker *w = &sip->wv[i];
		struct job *j;

		if (!w->thread_started)
			continue;
		if (!job_alloc(&j, JOB_STOP_ACCEPT, 0))
			cf_mbox_send(w->mbox, &j->node);
	}

	uint64_t deadline = cf_clock_ms() + max_wait_ms;
	while (max_wait_ms) {
		size_t n = 0;

		for (uint32_t i = 0; i < sip->wc; i++) {
			size_t c = atomic_load(&sip->wv[i].txn_count);

			/* SIZE_MAX: not published yet, keep waiting */
			if (sip->wv[i].thread_started)
				n += c == SIZE_MAX ? 1 : c;
		}
		if (!n || cf_clock_ms() >= deadline)
			break;
		sleep_ms(10);
	}

	for (uint32_t i = 0; i < sip->wc; i++) {
		struct worker *w = &sip->wv[i];

		if (w->thread_started)
			cf_loop_stop(w->loop);
	}
	for (uint32_t i = 0; i < sip->wc; i++) {
		struct worker *w = &sip->wv[i];

		if (w->thread_started) {
			pthread_join(w->thread, NULL);
			w->thread_started = false;
		}
	}
	/* No worker runs now: this thread owns everything. Sends from the
	 * destructors that run now are refused (EINVAL), not queued. */
	sip->started = false;
	for (uint32_t i = 0; i < sip->wc; i++)
		worker_release(&sip->wv[i]);
	sip->running = 0;
}

/* ----------------------------------------------------------------- send */

/*
 * Send bytes to a peer; callable from any thread (the transaction layer
 * calls it on a worker). UDP: sendto on the listener socket matching
 * peer->local (else the first of the family); from a worker, batched into
 * one sendmmsg per loop round. TCP and TLS: on peer->conn if still open, else
 * on an open connection to peer->addr, else a new outgoing connection (RFC 3261
 * §18.1.1, §18.2.2) unless peer->conn was an inbound connection that has closed
 * (see conn_send_addr). A stream owned by another worker is written by that
 * worker: the bytes are copied into a job for its mailbox, and 0 means queued,
 * not written. Errors: EINVAL (not running, bad peer), EPROTO (transport not
 * built), ENOENT (no UDP listener for the family), ENOMEM, or a socket errno.
 */
static int send_peer(struct cf_sip *sip, const struct cf_sip_peer *peer,
                     const char *host, const struct cf_pl *bytes)
{
	struct worker *w, *owner;
	struct cf_sip_conn *conn;
	size_t hl = host ? strlen(host) : 0;
	struct job *j;
	bool open;
	int err;

	if (!sip || !peer || !bytes || !bytes->p || !sip->started)
		return EINVAL;

	w = worker_current(sip);
	switch (peer->tp) {
	case CF_SIP_TP_UDP:
		return udp_send(sip, w, peer, bytes);
	case CF_SIP_TP_TCP:
	case CF_SIP_TP_TLS:
	case CF_SIP_TP_WS:
	case CF_SIP_TP_WSS:
		break;
	default:
		return EPROTO;
	}

	conn = peer->conn;
	open = conn && !atomic_load(&conn->closed);
	if (open && conn->owner == w)
		return conn_send_local(w, conn, (const uint8_t *)bytes->p,
		                       bytes->l);
	if (!open && w)
		return conn_send_addr(w, peer, host, (const uint8_t *)bytes->p,
		                      bytes->l);

	/* another worker's stream, or no stream and not on a worker */
	if (open)
		owner = conn->owner;
	else
		owner = &sip->wv[cf_sa_hash(&peer->addr, true) % sip->wc];
	err = job_alloc(&j, JOB_SEND, bytes->l + hl + 1);
	if (err)
		return err;
	memcpy(j->data, bytes->p, bytes->l);
	j->len = bytes->l;
	j->hostlen = hl;
	memcpy(j->data + bytes->l, host ? host : "", hl + 1);
	j->peer = *peer;
	j->peer.conn = cf_mem_ref(conn);
	cf_mbox_send(owner->mbox, &j->node);
	if (!w)
		atomic_fetch_add_explicit(&sip->ext_tx_msgs, 1,
		                          memory_order_relaxed);
	return 0;
}

int cf_sip_send(struct cf_sip *sip, const struct cf_sip_peer *peer,
                const struct cf_pl *bytes)
{
	return send_peer(sip, peer, NULL, bytes);
}

/* As cf_sip_send; a new TLS connection names host (SNI, verification).
 * Connections are reused by address and transport, whatever name they
 * were opened for. */
int cf_sip_send_host(struct cf_sip *sip, const struct cf_sip_peer *peer,
                     const char *host, const struct cf_pl *bytes)
{
	return send_peer(sip, peer, host, bytes);
}

/* ---------------------------------------------------------------- stats */

/* Sum of every worker's counters (approximate while running: each counter
 * is read atomically, not all of them at one instant). */
void cf_sip_stats(const struct cf_sip *sip, struct cf_sip_stats *st)
{
	if (!st)
		return;
	memset(st, 0, sizeof(*st));
	if (!sip)
		return;
	for (uint32_t i = 0; i < sip->wc; i++)
		worker_stats_add(&sip->wv[i], st);
	st->tx_msgs += atomic_load_explicit(
	    &((struct cf_sip *)sip)->ext_tx_msgs, memory_order_relaxed);
	st->conns_open = atomic_load_explicit(
	    &((struct cf_sip *)sip)->conns_open, memory_order_relaxed);
}

uint64_t cf_sip_worker_handled(const struct cf_sip *sip, uint32_t idx)
{
	if (!sip || idx >= sip->wc)
		return 0;
	return ctr_get(&sip->wv[idx].st.handled);
}

void cf_sip_listeners_apply(const struct cf_sip *sip, cf_sip_listener_h *h,
                            void *arg)
{
	if (!sip || !h)
		return;
	for (size_t i = 0; i < sip->lc; i++)
		h(sip->lv[i].tp, &sip->lv[i].addr, arg);
}
