/* SPDX-License-Identifier: BSD-3-Clause */
/* udp.c - the UDP transport: listener sockets shared by every worker,
 * batched receive (recvmmsg), decode, hand-off by Call-ID, and sendto. */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "sip/stack_priv.h"

/*
 * Open a non-blocking UDP socket bound to l->addr (v6 sockets are
 * v6-only: an IPv4 listener is its own socket). The receive buffer is
 * raised to UDP_RCVBUF so a burst is queued rather than dropped while the
 * workers are busy (the kernel caps it at net.core.rmem_max).
 * l->addr gets the bound address (the real port when 0 was asked).
 */
int udp_listener_open(struct listener *l)
{
	int af = cf_sa_af(&l->addr), one = 1, rcvbuf = UDP_RCVBUF;
	int fd, err = 0;

	if (af != AF_INET && af != AF_INET6)
		return EINVAL;
	fd = socket(af, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return errno;
	if (af == AF_INET6)
		(void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one,
		                 sizeof(one));
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf)))
		(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf,
		                 sizeof(rcvbuf));
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &rcvbuf, sizeof(rcvbuf));
	if (bind(fd, &l->addr.u.sa, sock_sa_len(&l->addr))) {
		err = errno;
		goto out;
	}
	err = sock_listener_bound(l, fd);
out:
	if (err)
		close(fd);
	return err;
}

static bool only_crlf(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (p[i] != '\r' && p[i] != '\n' && p[i] != ' ')
			return false;
	}
	return true;
}

/* One datagram: decode, check its size, hand it to its Call-ID's worker. */
static void datagram(struct worker *w, const struct listener *l,
                     const uint8_t *p, size_t n, bool trunc,
                     const struct sockaddr_storage *from, socklen_t fromlen)
{
	struct cf_sip *sip = w->sip;
	struct cf_sip_peer peer;
	struct cf_sip_msg *msg;
	bool oversize = trunc || n > sip->cfg.max_msg;
	char abuf[64];
	size_t used;
	int err;

	ctr_add(&w->st.rx_bytes, n);
	if (oversize)
		n = sip->cfg.max_msg;
	else if (only_crlf(p, n))
		return; /* CRLF keep-alive over UDP: nothing to answer */

	memset(&peer, 0, sizeof(peer));
	peer.tp = CF_SIP_TP_UDP;
	memcpy(&peer.addr.u.ss, from, fromlen);
	peer.addr.len = fromlen;
	peer.local = l->addr;
	if (!oversize && udp_stun(w, &peer, p, n))
		return; /* STUN keep-alive (RFC 5626 §4.4.2) */

	err = cf_sip_msg_decode(&msg, p, n, CF_SIP_DATAGRAM, &used);
	if (err == ENOMEM)
		return; /* lost like on the wire: the peer retransmits */
	if (err) {
		if (oversize)
			ctr_add(&w->st.oversize, 1);
		else
			ctr_add(&w->st.parse_errors, 1);
		cf_log(oversize ? CF_LOG_NOTICE : CF_LOG_DEBUG, NULL,
		       "udp: %s datagram from %s dropped",
		       oversize ? "oversize" : "unparsable",
		       cf_sa_print(&peer.addr, abuf, sizeof(abuf)));
		return;
	}
	ctr_add(&w->st.rx_msgs, 1);
	if (oversize) {
		/* RFC 3261 §18.1.1/§21.5.11: answer 513 when the head says
		 * where to; the transaction layer sends msg->fault. */
		bool answer = msg->req && msg->respondable;

		ctr_add(&w->st.oversize, 1);
		cf_log(CF_LOG_NOTICE, &msg->call_id,
		       "udp: datagram from %s over %zu bytes: %s",
		       cf_sa_print(&peer.addr, abuf, sizeof(abuf)),
		       sip->cfg.max_msg, answer ? "513" : "dropped");
		if (!answer) {
			cf_mem_deref(msg);
			return;
		}
		msg->fault.code = 513;
		msg->fault.reason = "Message Too Large";
	}
	worker_dispatch(w, msg, &peer);
}

/*
 * Readable UDP listener (any worker: the socket is shared, EPOLLEXCLUSIVE
 * wakes one loop). Reads up to UDP_BATCH datagrams per recvmmsg, and at
 * most UDP_BATCHES_PER_WAKEUP batches before returning to the loop so
 * mailboxes, timers and streams get their turn.
 */
void udp_recv_h(int fd, int events, void *arg)
{
	struct worker *w = arg;
	struct cf_sip *sip = w->sip;
	const struct listener *l = NULL;
	size_t slot = sip->cfg.max_msg + 1;

	for (size_t i = 0; i < sip->lc; i++) {
		if (sip->lv[i].fd == fd)
			l = &sip->lv[i];
	}
	if (!l)
		return;

	for (int b = 0; b < UDP_BATCHES_PER_WAKEUP; b++) {
		int n;

		for (size_t i = 0; i < UDP_BATCH; i++) {
			w->mmsg[i].msg_hdr.msg_namelen = sizeof(w->from[i]);
			w->mmsg[i].msg_hdr.msg_flags = 0;
		}
		n = recvmmsg(fd, w->mmsg, UDP_BATCH, MSG_DONTWAIT, NULL);
		if (n <= 0)
			return; /* EAGAIN: another worker took them */
		for (int i = 0; i < n; i++) {
			struct msghdr *h = &w->mmsg[i].msg_hdr;

			datagram(w, l, w->rxbuf + i * slot, w->mmsg[i].msg_len,
			         h->msg_flags & MSG_TRUNC, &w->from[i],
			         h->msg_namelen);
		}
		/* the answers to this batch leave in one syscall */
		udp_txq_flush(w);
		if (n < UDP_BATCH)
			return;
	}
}

/* The UDP socket to send from: the listener peer->local names, else the
 * first one of the peer's address family. */
static int udp_fd(const struct cf_sip *sip, const struct cf_sip_peer *peer)
{
	int fd = -1;

	for (size_t i = 0; i < sip->lc; i++) {
		const struct listener *l = &sip->lv[i];

		if (l->tp != CF_SIP_TP_UDP ||
		    cf_sa_af(&l->addr) != cf_sa_af(&peer->addr))
			continue;
		if (cf_sa_isset(&peer->local) &&
		    cf_sa_eq(&l->addr, &peer->local))
			return l->fd;
		if (fd < 0)
			fd = l->fd;
	}
	return fd;
}

/*
 * Sends from a worker are queued and leave in one sendmmsg: at the end of
 * each receive batch, when the queue is full, or at the latest when the
 * loop comes round (a 0 ms timer: the loop advances its wheel before it
 * waits). Cost per answer: one copy, instead of one syscall. A send that
 * fails there is counted as a drop (UDP is lossy: the transaction layer's
 * retransmissions cover it). Order is kept per worker.
 */
struct txq {
	int fd;
	unsigned n;
	size_t used;
	struct cf_tmr tmr;
	struct mmsghdr mm[UDP_BATCH];
	struct iovec iov[UDP_BATCH];
	struct sockaddr_storage to[UDP_BATCH];
	uint8_t buf[UDP_TXQ_BYTES];
};

int udp_txq_alloc(struct worker *w)
{
	w->txq = cf_mem_zalloc(sizeof(*w->txq), NULL);
	if (!w->txq)
		return ENOMEM;
	cf_tmr_init(&w->txq->tmr);
	return 0;
}

void udp_txq_flush(struct worker *w)
{
	struct txq *q = w->txq;
	unsigned off = 0;

	cf_tmr_cancel(&q->tmr);
	while (off < q->n) {
		int r = sendmmsg(q->fd, q->mm + off, q->n - off, MSG_DONTWAIT);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			ctr_add(&w->st.tx_drops, q->n - off);
			break;
		}
		if (r <= 0) {
			/* the first message failed (e.g. unreachable):
			 * drop it, send the rest */
			ctr_add(&w->st.tx_drops, 1);
			off++;
			continue;
		}
		off += (unsigned)r;
	}
	q->n = 0;
	q->used = 0;
}

static void txq_tmr_h(void *arg)
{
	udp_txq_flush(arg);
}

static void txq_add(struct worker *w, int fd, const struct cf_sa *to,
                    const struct cf_pl *bytes)
{
	struct txq *q = w->txq;
	unsigned i;

	if (q->n && (q->fd != fd || q->n == UDP_BATCH ||
	             q->used + bytes->l > UDP_TXQ_BYTES))
		udp_txq_flush(w);
	i = q->n++;
	q->fd = fd;
	memcpy(q->buf + q->used, bytes->p, bytes->l);
	q->iov[i].iov_base = q->buf + q->used;
	q->iov[i].iov_len = bytes->l;
	q->used += bytes->l;
	memcpy(&q->to[i], &to->u.ss, sock_sa_len(to));
	memset(&q->mm[i], 0, sizeof(q->mm[i]));
	q->mm[i].msg_hdr.msg_iov = &q->iov[i];
	q->mm[i].msg_hdr.msg_iovlen = 1;
	q->mm[i].msg_hdr.msg_name = &q->to[i];
	q->mm[i].msg_hdr.msg_namelen = sock_sa_len(to);
	if (i == 0)
		cf_tmr_start(cf_loop_wheel(w->loop), &q->tmr, 0, txq_tmr_h, w);
}

/* Send a datagram: queued on a worker (see struct txq), one sendto from
 * any other thread (UDP sockets are safe to share). */
int udp_send(struct cf_sip *sip, struct worker *w,
             const struct cf_sip_peer *peer, const struct cf_pl *bytes)
{
	int fd = udp_fd(sip, peer);

	if (fd < 0)
		return ENOENT;
	if (cf_sa_af(&peer->addr) != AF_INET &&
	    cf_sa_af(&peer->addr) != AF_INET6)
		return EINVAL;
	if (w && !w->releasing && bytes->l <= UDP_TXQ_BYTES / 4) {
		ctr_add(&w->st.tx_msgs, 1);
		txq_add(w, fd, &peer->addr, bytes);
		return 0;
	}
	if (w && w->txq->n)
		udp_txq_flush(w); /* keep the order */
	/* counted before the syscall so that a reader who saw the answer
	 * arrive sees it counted */
	if (w)
		ctr_add(&w->st.tx_msgs, 1);
	else
		atomic_fetch_add_explicit(&sip->ext_tx_msgs, 1,
		                          memory_order_relaxed);
	if (sendto(fd, bytes->p, bytes->l, MSG_DONTWAIT, &peer->addr.u.sa,
	           sock_sa_len(&peer->addr)) < 0) {
		int err = errno;

		if (w)
			ctr_add(&w->st.tx_msgs, (uint64_t)-1);
		else
			atomic_fetch_sub_explicit(&sip->ext_tx_msgs, 1,
			                          memory_order_relaxed);
		return err;
	}
	return 0;
}
