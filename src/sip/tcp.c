/* SPDX-License-Identifier: BSD-3-Clause */
/* tcp.c - the stream transports' shared half (TCP, and TLS over it):
 * listeners accepted by any worker, and the receive side of a stream:
 * framing (pipelined and split messages), CRLF keep-alive (RFC 5626
 * §3.5.1), garbage and oversize handling; the TLS handshake is driven from
 * the connection's event handler here. */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include "sip/stack_priv.h"

enum { TCP_BACKLOG = 1024 };

/* Open a non-blocking listening socket on l->addr (v6-only for IPv6);
 * l->addr gets the bound address. */
int tcp_listener_open(struct listener *l)
{
	int af = cf_sa_af(&l->addr), one = 1, fd, err = 0;

	if (af != AF_INET && af != AF_INET6)
		return EINVAL;
	fd = socket(af, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return errno;
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (af == AF_INET6)
		(void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one,
		                 sizeof(one));
	if (bind(fd, &l->addr.u.sa, sock_sa_len(&l->addr)) ||
	    listen(fd, TCP_BACKLOG)) {
		err = errno;
		goto out;
	}
	err = sock_listener_bound(l, fd);
out:
	if (err)
		close(fd);
	return err;
}

/*
 * Readable listener (shared by every worker with EPOLLEXCLUSIVE): accept
 * up to TCP_ACCEPT_BURST connections; each belongs to this worker from now
 * on. Over the per-address or total limit the connection is closed at
 * once and counted (conns_refused).
 */
void tcp_accept_h(int fd, int events, void *arg)
{
	struct worker *w = arg;
	struct cf_sip *sip = w->sip;
	const struct listener *l = NULL;

	for (size_t i = 0; i < sip->lc; i++) {
		if (sip->lv[i].fd == fd)
			l = &sip->lv[i];
	}
	if (!l)
		return;

	for (int i = 0; i < TCP_ACCEPT_BURST; i++) {
		struct cf_sip_conn *conn;
		struct cf_sa addr;
		int cfd, one = 1;

		memset(&addr, 0, sizeof(addr));
		addr.len = sizeof(addr.u.ss);
		cfd = accept4(fd, &addr.u.sa, &addr.len,
		              SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (cfd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				cf_log(CF_LOG_WARN, NULL, "tcp: accept: %s",
				       strerror(errno));
			return;
		}
		if (atomic_load(&sip->stopping)) {
			close(cfd);
			continue;
		}
		(void)setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one,
		                 sizeof(one));
		if (conn_alloc(&conn, w, cfd, l->tp, &addr, &l->addr, true))
			continue;
		if ((l->tp == CF_SIP_TP_TLS || l->tp == CF_SIP_TP_WSS) &&
		    tls_conn_setup(conn, NULL)) {
			ctr_add(&w->st.tls_handshake_failures, 1);
			conn_close(conn, "no TLS context");
			continue;
		}
		/* WSS: the upgrade and the frames run over the TLS session */
		if ((l->tp == CF_SIP_TP_WS || l->tp == CF_SIP_TP_WSS) &&
		    ws_conn_start(conn))
			conn_close(conn, "out of memory");
	}
}

/* Close for bad input: counted and logged once, here. */
static void reject(struct cf_sip_conn *conn, ctr_t *ctr, const char *why)
{
	char abuf[64];

	ctr_add(ctr, 1);
	cf_log(CF_LOG_NOTICE, NULL, "%s: closing connection from %s: %s",
	       conn->tp == CF_SIP_TP_TLS ? "tls" : "tcp",
	       cf_sa_print(&conn->addr, abuf, sizeof(abuf)), why);
	conn_close(conn, NULL);
}

/*
 * Cut the buffered bytes into messages (cf_sip_frame), decode each and
 * hand it to its Call-ID's worker; answer pings. Stops at an incomplete
 * message (kept for the next read) or when the connection was closed.
 */
static void frame(struct worker *w, struct cf_sip_conn *conn)
{
	struct cf_sip *sip = w->sip;
	size_t off = 0;

	while (off < conn->rlen && !atomic_load(&conn->closed)) {
		const uint8_t *p = conn->rbuf + off;
		size_t n = conn->rlen - off, mlen = 0, used;
		enum cf_sip_ka ka = CF_SIP_KA_NONE;
		struct cf_sip_msg *msg;
		struct cf_sip_peer peer;
		int err;

		err = cf_sip_frame(p, n, sip->cfg.max_msg, &mlen, &ka);
		if (err == ENODATA)
			break;
		if (err == EMSGSIZE) {
			reject(conn, &w->st.oversize, "message too large");
			return;
		}
		if (err || !mlen || mlen > n) {
			reject(conn, &w->st.stream_garbage, "garbage");
			return;
		}
		off += mlen;
		if (ka != CF_SIP_KA_NONE) {
			if (ka == CF_SIP_KA_PING) {
				/* RFC 5626 §3.5.1: ping "\r\n\r\n", pong
				 * "\r\n" */
				ctr_add(&w->st.keepalive_pongs, 1);
				(void)conn_send_local(
				    w, conn, (const uint8_t *)"\r\n", 2);
			}
			continue;
		}
		err = cf_sip_msg_decode(&msg, p, mlen, CF_SIP_STREAM, &used);
		if (err == ENOMEM)
			continue; /* lost; the peer's transaction times out */
		if (err) {
			reject(conn, &w->st.stream_garbage, "garbage");
			return;
		}
		ctr_add(&w->st.rx_msgs, 1);
		memset(&peer, 0, sizeof(peer));
		peer.tp = conn->tp;
		peer.addr = conn->addr;
		peer.local = conn->local;
		peer.conn = conn;
		worker_dispatch(w, msg, &peer);
	}
	if (atomic_load(&conn->closed))
		return;
	if (off && off < conn->rlen)
		memmove(conn->rbuf, conn->rbuf + off, conn->rlen - off);
	conn->rlen -= off;
}

/*
 * Receive buffers. An idle connection holds none: a read with nothing
 * buffered goes into `stk`, a TCP_RBUF_INIT-byte buffer on conn_read's
 * stack lent to the connection for that call, and only bytes left over
 * (part of a message) get a buffer of the connection's own. From there the
 * buffer doubles up to one message over the limit (max_msg + 1); full at
 * that size means oversize. Once everything is read and framed, it goes
 * back (rbuf_settle). Cost for an idle connection: no buffer; for a busy
 * one, an allocation when a read ends inside a message.
 */
static int rbuf_room(struct cf_sip_conn *conn, size_t cap, uint8_t *stk)
{
	size_t size;
	uint8_t *nb;

	if (!conn->rbuf) {
		conn->rbuf = stk;
		conn->rsize = TCP_RBUF_INIT;
	}
	if (conn->rlen < conn->rsize)
		return 0;
	if (conn->rsize >= cap)
		return EMSGSIZE;
	size = conn->rsize * 2;
	if (size > cap)
		size = cap;
	nb = cf_mem_alloc(size, NULL);
	if (!nb)
		return ENOMEM;
	if (conn->rlen)
		memcpy(nb, conn->rbuf, conn->rlen);
	if (conn->rbuf != stk)
		cf_mem_deref(conn->rbuf);
	conn->rbuf = nb;
	conn->rsize = size;
	return 0;
}

/* Before conn_read returns: the lent stack buffer is taken back (what is
 * left in it is copied to a buffer of the connection's own: ENOMEM if that
 * fails), and an own buffer with nothing left in it is freed. */
static int rbuf_settle(struct cf_sip_conn *conn, uint8_t *stk)
{
	uint8_t *nb;

	if (!conn->rbuf)
		return 0;
	if (!conn->rlen || atomic_load(&conn->closed)) {
		if (conn->rbuf != stk)
			cf_mem_deref(conn->rbuf);
		conn->rbuf = NULL;
		conn->rsize = 0;
		conn->rlen = 0;
		return 0;
	}
	if (conn->rbuf != stk)
		return 0;
	nb = cf_mem_alloc(TCP_RBUF_INIT, NULL);
	if (!nb) {
		conn->rbuf = NULL;
		conn->rsize = 0;
		conn->rlen = 0;
		return ENOMEM;
	}
	memcpy(nb, stk, conn->rlen);
	conn->rbuf = nb;
	return 0;
}

static void again_h(void *arg);

/* Read what the socket has, at most TCP_READS_PER_WAKEUP times: the fd
 * is level-triggered, so a peer that sends without pause is read again on
 * the next round, after the other connections and the mailbox. Bytes a
 * TLS session decrypted but we did not take yet wake no epoll: a 0 ms
 * timer reads them on the next round. */
static void conn_read(struct worker *w, struct cf_sip_conn *conn)
{
	size_t cap = conn->ws ? ws_rbuf_cap(conn) : w->sip->cfg.max_msg + 1;
	uint8_t stk[TCP_RBUF_INIT];

	for (int i = 0; i < TCP_READS_PER_WAKEUP && !atomic_load(&conn->closed);
	     i++) {
		ssize_t r;
		int err = rbuf_room(conn, cap, stk);

		if (err == EMSGSIZE) {
			reject(conn, &w->st.oversize, "message too large");
			break;
		}
		if (err) {
			conn_close(conn, "out of memory");
			break;
		}
		if (conn->ssl)
			r = tls_read(conn, conn->rbuf + conn->rlen,
			             conn->rsize - conn->rlen);
		else
			r = recv(conn->fd, conn->rbuf + conn->rlen,
			         conn->rsize - conn->rlen, MSG_DONTWAIT);
		if (r == 0) {
			conn_close(conn, "closed by peer");
			break;
		}
		if (r < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EPROTO)
				reject(conn, &w->st.stream_garbage,
				       "bad TLS record");
			else if (errno != EAGAIN && errno != EWOULDBLOCK)
				conn_close(conn, "read error");
			break;
		}
		ctr_add(&w->st.rx_bytes, (uint64_t)r);
		conn->rlen += (size_t)r;
		conn_touch(conn);
		if (conn->ws)
			ws_recv(w, conn);
		else
			frame(w, conn);
	}
	if (rbuf_settle(conn, stk)) {
		conn_close(conn, "out of memory");
		return;
	}
	if (!atomic_load(&conn->closed) && tls_pending(conn))
		cf_tmr_start(cf_loop_wheel(w->loop), &conn->again, 0, again_h,
		             conn);
}

/* Events on a TLS connection: finish the connect, step the handshake,
 * then write what is queued and read (each may close the connection). */
static void tls_events(struct worker *w, struct cf_sip_conn *conn, int events)
{
	if (conn->connecting) {
		conn_flush(conn);
		if (atomic_load(&conn->closed) || conn->connecting)
			return;
	}
	if (!conn->hs_done && tls_handshake(w, conn))
		return;
	if (conn->wpos < conn->wbuf.end)
		conn_flush(conn);
	if (!atomic_load(&conn->closed) &&
	    (events & (CF_FD_READ | CF_FD_ERR) || conn->rd_want_write))
		conn_read(w, conn);
	(void)events;
}

/* Events on a connection (owner thread). A reference is held across the
 * handler: framing and writing may close, and so release, the
 * connection. */
void conn_fd_h(int fd, int events, void *arg)
{
	struct cf_sip_conn *conn = cf_mem_ref(arg);

	(void)fd;
	if (conn->ssl) {
		tls_events(conn->owner, conn, events);
	} else {
		if (events & CF_FD_WRITE)
			conn_flush(conn);
		if (!atomic_load(&conn->closed) &&
		    (events & (CF_FD_READ | CF_FD_ERR)))
			conn_read(conn->owner, conn);
	}
	conn_interest(conn);
	cf_mem_deref(conn);
}

static void again_h(void *arg)
{
	struct cf_sip_conn *conn = arg;

	conn_fd_h(conn->fd, CF_FD_READ, conn);
}
