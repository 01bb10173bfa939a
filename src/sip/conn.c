/* SPDX-License-Identifier: BSD-3-Clause */
/* conn.c - stream connections (TCP and TLS): the table keyed by remote
 * address (reuse, per-address and total limits), buffered writes, idle and
 * handshake timeouts, outgoing connects, close. Everything but the table
 * runs on the owner's thread. */
#include <errno.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include "sip/stack_priv.h"

static void conn_destructor(void *data)
{
	struct cf_sip_conn *conn = data;

	/* conn_close ran on the owner (fd closed, unlinked, timer off,
	 * TLS session freed); only memory is left, and any thread may drop
	 * the last ref */
	conn->rbuf = cf_mem_deref(conn->rbuf);
	conn->ws = cf_mem_deref(conn->ws);
	conn->tls_host = cf_mem_deref(conn->tls_host);
	cf_mbuf_reset(&conn->wbuf);
}

static uint64_t idle_ms(const struct cf_sip *sip)
{
	return (uint64_t)sip->cfg.tcp_idle_s * 1000;
}

static struct cf_tmr_wheel *wheel(const struct cf_sip_conn *conn)
{
	return cf_loop_wheel(conn->owner->loop);
}

/* Idle timeout: one timer per connection, re-armed for the remainder when
 * traffic came since it was set, so traffic costs a clock read, not a timer
 * restart. */
static void idle_h(void *arg)
{
	struct cf_sip_conn *conn = arg;
	uint64_t now = cf_tmr_wheel_now(wheel(conn));
	uint64_t lim = idle_ms(conn->sip);

	if (conn->ssl && !conn->hs_done) {
		tls_fail(conn->owner, conn, "handshake timeout");
		return;
	}

	if (now - conn->last_ms < lim) {
		cf_tmr_start(wheel(conn), &conn->idle,
		             lim - (now - conn->last_ms), idle_h, conn);
		return;
	}
	conn_close(conn, "idle");
}

void conn_touch(struct cf_sip_conn *conn)
{
	conn->last_ms = cf_tmr_wheel_now(wheel(conn));
}

/* (Re)arm the connection's one timer: the handshake timeout while a TLS
 * handshake runs, else the idle timeout (none when it is 0). */
void conn_idle_arm(struct cf_sip_conn *conn)
{
	cf_tmr_cancel(&conn->idle);
	if (conn->ssl && !conn->hs_done)
		cf_tmr_start(wheel(conn), &conn->idle, tls_handshake_ms(conn),
		             idle_h, conn);
	else if (conn->sip->cfg.tcp_idle_s)
		cf_tmr_start(wheel(conn), &conn->idle, idle_ms(conn->sip),
		             idle_h, conn);
}

/* Ask the loop for what the connection waits for: always readable;
 * writable while connecting, while plain bytes are queued, or while the
 * TLS session says it wants to write (a queue blocked on WANT_READ waits
 * for the next readable event instead: asking for POLLOUT would spin).
 * One epoll_ctl only when that changes. */
void conn_interest(struct cf_sip_conn *conn)
{
	int ev = CF_FD_READ;
	bool w;

	if (atomic_load(&conn->closed) || !conn->in_loop)
		return;
	if (conn->ssl)
		w = conn->connecting || conn->rd_want_write ||
		    conn->wr_want_write;
	else
		w = conn->connecting || conn->wpos < conn->wbuf.end;
	if (w)
		ev |= CF_FD_WRITE;
	if (ev == conn->events)
		return;
	if (!cf_loop_fd_listen(conn->owner->loop, conn->fd, ev, conn_fd_h,
	                       conn))
		conn->events = ev;
}

/*
 * A new connection on fd, owned by w (the calling worker): checked against
 * the limits and entered in the table in one critical section, registered
 * in w's loop, idle timer armed. accepted: apply the per-address limit too.
 * On success w holds the one reference (dropped by conn_close).
 * Errors: EPROTO over a limit (fd closed, counted, logged), ENOMEM,
 * or the loop's error; on error fd is closed.
 */
int conn_alloc(struct cf_sip_conn **connp, struct worker *w, int fd,
               enum cf_sip_tp tp, const struct cf_sa *addr,
               const struct cf_sa *local, bool accepted)
{
	struct cf_sip *sip = w->sip;
	struct cf_sip_conn *conn;
	int err = 0;

	conn = cf_mem_zalloc(sizeof(*conn), conn_destructor);
	if (!conn) {
		close(fd);
		return ENOMEM;
	}
	conn->sip = sip;
	conn->owner = w;
	conn->tp = tp;
	conn->fd = fd;
	conn->accepted = accepted;
	conn->addr = *addr;
	if (local)
		conn->local = *local;
	cf_mbuf_init(&conn->wbuf);
	cf_tmr_init(&conn->idle);
	cf_tmr_init(&conn->again);

	uint32_t key = cf_sa_hash(addr, false);
	pthread_mutex_lock(&sip->ct_mtx);
	if (atomic_load(&sip->conns_open) >= sip->cfg.tcp_max) {
		err = EPROTO;
	} else if (accepted && sip->cfg.tcp_max_per_ip) {
		struct cf_list *b = cf_hash_bucket(sip->ct, key);
		uint32_t n = 0;

		for (struct cf_le *le = b ? b->head : NULL; le; le = le->next) {
			struct cf_sip_conn *c = le->data;

			if (cf_sa_addr_eq(&c->addr, addr))
				n++;
		}
		if (n >= sip->cfg.tcp_max_per_ip)
			err = EPROTO;
	}
	if (!err) {
		cf_hash_append(sip->ct, key, &conn->le_table, conn);
		conn->in_table = true;
		atomic_fetch_add(&sip->conns_open, 1);
	}
	pthread_mutex_unlock(&sip->ct_mtx);
	if (err) {
		char abuf[64];

		/* counted before the close, so the peer that sees the
		 * close sees it counted */
		ctr_add(&w->st.conns_refused, 1);
		cf_log(CF_LOG_NOTICE, NULL,
		       "%s: connection %s %s refused: limit",
		       tp == CF_SIP_TP_TLS ? "tls" : "tcp",
		       accepted ? "from" : "to",
		       cf_sa_print(addr, abuf, sizeof(abuf)));
		goto out;
	}

	cf_list_append(&w->conns, &conn->le_worker, conn);
	err = cf_loop_fd_listen(w->loop, fd, CF_FD_READ, conn_fd_h, conn);
	if (err)
		goto out;
	conn->in_loop = true;
	conn->events = CF_FD_READ;
	conn_touch(conn);
	conn_idle_arm(conn);
out:
	if (err) {
		conn_close(conn, NULL);
		conn = NULL;
	}
	*connp = conn;
	return err;
}

/*
 * Close a connection (owner thread): out of the table and the loop, fd
 * closed, the owner's reference dropped. Holders of other references see
 * conn->closed and send by address instead. why: logged at debug level, or
 * NULL. Idempotent.
 */
void conn_close(struct cf_sip_conn *conn, const char *why)
{
	struct cf_sip *sip = conn->sip;
	struct worker *w = conn->owner;
	char abuf[64];
	bool failed;

	if (atomic_exchange(&conn->closed, true))
		return;
	/* one we opened that never came up: refused, unreachable, a failed
	 * or timed-out TLS handshake */
	failed = conn->fail_notify &&
	         (conn->connecting || (conn->ssl && !conn->hs_done));
	if (conn->in_table) {
		pthread_mutex_lock(&sip->ct_mtx);
		cf_hash_unlink(&conn->le_table);
		pthread_mutex_unlock(&sip->ct_mtx);
		conn->in_table = false;
		atomic_fetch_sub(&sip->conns_open, 1);
	}
	if (conn->in_loop)
		cf_loop_fd_close(conn->owner->loop, conn->fd);
	conn->in_loop = false;
	tls_conn_free(conn);
	if (conn->fd >= 0)
		close(conn->fd);
	conn->fd = -1;
	cf_tmr_cancel(&conn->idle);
	if (conn->ws)
		ws_conn_stop(conn);
	cf_tmr_cancel(&conn->again);
	cf_list_unlink(&conn->le_worker);
	if (conn->wpos < conn->wbuf.end)
		cf_log(CF_LOG_NOTICE, NULL,
		       "tcp: connection with %s closed with %zu bytes unsent: "
		       "%s",
		       cf_sa_print(&conn->addr, abuf, sizeof(abuf)),
		       (size_t)(conn->wbuf.end - conn->wpos),
		       why ? why : "closed");
	if (why)
		cf_log(CF_LOG_DEBUG, NULL, "%s: connection with %s closed: %s",
		       conn->tp == CF_SIP_TP_TLS ? "tls" : "tcp",
		       cf_sa_print(&conn->addr, abuf, sizeof(abuf)), why);
	for (size_t i = 0; i < sip->nobs; i++)
		sip->obs[i].h(conn, sip->obs[i].arg);
	/* RFC 3261 §17.1.4 / RFC 3263 §4.3: the client transactions that
	 * sent through it fail now (503 to their TU, the next server is
	 * tried) rather than at Timer B/F. The owner opened it for its own
	 * transactions; we run on the owner (never inside a send: a
	 * connection that fails inside conn_connect is not marked). */
	if (failed && w && w->env && !w->releasing)
		cf_sip_txn_env_transport_failed(w->env, conn->tp, &conn->addr,
		                                conn->tls_host);
	cf_mem_deref(conn);
}

bool cf_sip_conn_closed(const struct cf_sip_conn *conn)
{
	return !conn || atomic_load(&((struct cf_sip_conn *)conn)->closed);
}

int cf_sip_conn_observe(struct cf_sip *sip, cf_sip_conn_close_h *h, void *arg)
{
	if (!sip || !h || sip->started)
		return EINVAL;
	for (size_t i = 0; i < sip->nobs; i++) {
		if (sip->obs[i].h == h && sip->obs[i].arg == arg)
			return EALREADY;
	}
	if (sip->nobs >= CF_SIP_CONN_OBSERVERS)
		return ENOMEM;
	sip->obs[sip->nobs].h = h;
	sip->obs[sip->nobs].arg = arg;
	sip->nobs++;
	return 0;
}

/* At stop, after the join: close every stream this worker owns. */
void worker_conns_close(struct worker *w)
{
	while (w->conns.head)
		conn_close(w->conns.head->data, NULL);
}

/* send() or SSL_write(): bytes taken, or -1 with errno (EAGAIN: later). */
static ssize_t io_write(struct cf_sip_conn *conn, const uint8_t *p, size_t n)
{
	ssize_t r;

	if (conn->ssl)
		return tls_write(conn, p, n);
	do {
		r = send(conn->fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);
	} while (r < 0 && errno == EINTR);
	if (r < 0 && errno == EWOULDBLOCK)
		errno = EAGAIN;
	return r;
}

static int queue(struct cf_sip_conn *conn, const uint8_t *p, size_t n)
{
	if (conn->wbuf.end - conn->wpos + n > TCP_WBUF_MAX) {
		conn_close(conn, "peer does not read");
		return ENOMEM;
	}
	return cf_mbuf_write_mem(&conn->wbuf, p, n);
}

/*
 * Writable (or connected): finish a connect, then write what is queued
 * (over TLS once the handshake is done; tcp.c drives the handshake).
 * Called on the owner thread from the connection's fd handler.
 */
void conn_flush(struct cf_sip_conn *conn)
{
	if (conn->connecting) {
		int soerr = 0;
		socklen_t sl = sizeof(soerr);

		if (getsockopt(conn->fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) ||
		    soerr) {
			if (conn->ssl)
				tls_fail(conn->owner, conn, "connect failed");
			else
				conn_close(conn, "connect failed");
			return;
		}
		conn->connecting = false;
	}
	if (conn->ssl && !conn->hs_done) {
		conn_interest(conn);
		return;
	}
	while (conn->wpos < conn->wbuf.end) {
		ssize_t r = io_write(conn, conn->wbuf.buf + conn->wpos,
		                     conn->wbuf.end - conn->wpos);

		if (r < 0) {
			if (errno == EAGAIN) {
				conn_interest(conn);
				return;
			}
			conn_close(conn, "write error");
			return;
		}
		conn->wpos += (size_t)r;
	}
	if (conn->wbuf.size > 65536)
		cf_mbuf_reset(&conn->wbuf);
	conn->wbuf.pos = conn->wbuf.end = 0;
	conn->wpos = 0;
	conn->wr_want_write = false;
	conn_interest(conn);
}

/*
 * Send one SIP message on a connection the calling worker owns, framed as
 * its transport wants: as is on TCP, in a WebSocket frame on WS (ws.c).
 * Errors as conn_write.
 */
int conn_send_local(struct worker *w, struct cf_sip_conn *conn,
                    const uint8_t *p, size_t n)
{
	if (conn->ws)
		return ws_send(w, conn, p, n);
	return conn_write(w, conn, p, n);
}

/*
 * Write bytes on a connection the calling worker owns: straight to the
 * socket when nothing is queued, the rest buffered and sent on EPOLLOUT.
 * Over TLS the bytes are queued and the queue flushed (a refused SSL_write
 * must be retried with the same bytes: they must live in the queue), and
 * they wait there while the handshake runs.
 * Errors: ENOMEM (buffer; the connection is closed when the peer stopped
 * reading), or the errno of a failed write (the connection is closed).
 */
int conn_write(struct worker *w, struct cf_sip_conn *conn, const uint8_t *p,
               size_t n)
{
	ssize_t r = 0;
	int err;

	if (atomic_load(&conn->closed))
		return EPIPE;
	conn_touch(conn);
	ctr_add(&w->st.tx_msgs, 1);
	if (conn->ssl) {
		err = queue(conn, p, n);
		if (!err && conn->hs_done && !conn->connecting)
			conn_flush(conn);
		return atomic_load(&conn->closed) && !err ? EPIPE : err;
	}
	if (conn->connecting || conn->wpos < conn->wbuf.end)
		return queue(conn, p, n);
	r = io_write(conn, p, n);
	if (r < 0) {
		if (errno != EAGAIN) {
			err = errno;
			conn_close(conn, "write error");
			return err;
		}
		r = 0;
	}
	if ((size_t)r == n)
		return 0;
	err = queue(conn, p + r, n - (size_t)r);
	if (!err)
		conn_interest(conn);
	return err;
}

/* An open connection to addr (any owner), with a reference, or NULL. */
/* RFC 5922 §4 (and RFC 5923's caution): a TLS connection proves the
 * name it was opened for; a send naming a server reuses it only when the
 * names are the same (case-insensitive). A send without a name reuses
 * any. */
static bool host_ok(const struct cf_sip_conn *c, const char *host)
{
	if (!host || !*host || c->tp != CF_SIP_TP_TLS)
		return true;
	return c->tls_host && !strcasecmp(c->tls_host, host);
}

static struct cf_sip_conn *conn_find(struct cf_sip *sip, enum cf_sip_tp tp,
                                     const struct cf_sa *addr, const char *host)
{
	struct cf_sip_conn *found = NULL;
	struct cf_list *b;

	pthread_mutex_lock(&sip->ct_mtx);
	b = cf_hash_bucket(sip->ct, cf_sa_hash(addr, false));
	for (struct cf_le *le = b ? b->head : NULL; le; le = le->next) {
		struct cf_sip_conn *c = le->data;

		if (!atomic_load(&c->closed) && c->tp == tp &&
		    cf_sa_eq(&c->addr, addr) && host_ok(c, host)) {
			found = cf_mem_ref(c);
			break;
		}
	}
	pthread_mutex_unlock(&sip->ct_mtx);
	return found;
}

/* Open an outgoing connection owned by w (non-blocking connect; the
 * bytes wait in the queue until it completes, and over TLS until the
 * handshake does; host: the TLS server name, or NULL). */
static int conn_connect(struct cf_sip_conn **connp, struct worker *w,
                        enum cf_sip_tp tp, const struct cf_sa *addr,
                        const char *host)
{
	int af = cf_sa_af(addr), one = 1, fd, err;
	struct cf_sip_conn *conn;

	if (af != AF_INET && af != AF_INET6)
		return EINVAL;
	fd = socket(af, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return errno;
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, &addr->u.sa, sock_sa_len(addr)) &&
	    errno != EINPROGRESS) {
		err = errno;
		close(fd);
		return err;
	}
	err = conn_alloc(&conn, w, fd, tp, addr, NULL, false);
	if (err)
		return err;
	conn->local.len = sizeof(conn->local.u.ss);
	if (getsockname(fd, &conn->local.u.sa, &conn->local.len))
		conn->local.len = 0;
	conn->connecting = true;
	if (tp == CF_SIP_TP_TLS && host && *host) {
		char *h = cf_mem_strdup(host);

		if (!h) {
			conn_close(conn, "out of memory");
			return ENOMEM;
		}
		/* conn_find reads it under the table's lock */
		pthread_mutex_lock(&w->sip->ct_mtx);
		conn->tls_host = h;
		pthread_mutex_unlock(&w->sip->ct_mtx);
	}
	if (tp == CF_SIP_TP_TLS) {
		err = tls_conn_setup(conn, host);
		if (err) {
			conn_close(conn, "no TLS context");
			return err;
		}
	}
	conn_interest(conn);
	conn->fail_notify = true;
	*connp = conn;
	return 0;
}

/*
 * Send on the open connection to peer->addr, or open one owned by w
 * (RFC 3261 §18.1.1: reuse). A connection owned by another worker gets the
 * bytes through its mailbox. When peer->conn is a closed connection that
 * the peer had opened, no new one is opened: its address is an ephemeral
 * port that listens to nothing (a client that lost its flow reconnects,
 * RFC 5626), so that is EPIPE. Errors as conn_send_local, or of connect.
 */
int conn_send_addr(struct worker *w, const struct cf_sip_peer *peer,
                   const char *host, const uint8_t *p, size_t n)
{
	struct cf_sip_conn *conn =
	    conn_find(w->sip, peer->tp, &peer->addr, host);
	size_t hl = host ? strlen(host) : 0;
	struct job *j;
	int err;

	if (!conn) {
		/* nor do we open WebSocket connections: a WS client is
		 * reached over its own connection only (RFC 7118 §5) */
		if ((peer->conn && peer->conn->accepted) ||
		    peer->tp == CF_SIP_TP_WS || peer->tp == CF_SIP_TP_WSS)
			return EPIPE;
		err = conn_connect(&conn, w, peer->tp, &peer->addr, host);
		if (err)
			return err;
		return conn_send_local(w, conn, p, n);
	}
	if (conn->owner == w) {
		err = conn_send_local(w, conn, p, n);
		cf_mem_deref(conn);
		return err;
	}
	err = job_alloc(&j, JOB_SEND, n + hl + 1);
	if (err) {
		cf_mem_deref(conn);
		return err;
	}
	memcpy(j->data, p, n);
	j->len = n;
	j->hostlen = hl;
	memcpy(j->data + n, host ? host : "", hl + 1);
	j->peer = *peer;
	j->peer.conn = conn; /* our reference goes to the job */
	cf_mbox_send(conn->owner->mbox, &j->node);
	return 0;
}
