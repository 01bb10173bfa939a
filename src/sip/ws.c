/* SPDX-License-Identifier: BSD-3-Clause */
/* ws.c - the WebSocket transport (RFC 7118 over RFC 6455): the HTTP
 * upgrade on a ws listener's connections, then one SIP message per
 * WebSocket message; ping/pong, close, limits. Runs on the connection's
 * owner thread, on top of the TCP stream code (tcp.c, conn.c). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "proto/http/http.h"
#include "proto/ws/ws.h"
#include "sip/stack_priv.h"

enum {
	WS_LINGER_MS = 2000, /* after our close frame, wait this for the
	                      * peer's FIN before closing (§7.1.1) */
};

enum ws_state {
	WS_HANDSHAKE = 0, /* reading the HTTP upgrade request */
	WS_OPEN,
	WS_CLOSING, /* close frame or HTTP refusal sent; input discarded */
};

/* Per-connection WebSocket state; owned by the connection (freed by its
 * destructor), touched on the owner thread only. */
struct ws_conn {
	enum ws_state state;
	struct cf_sip_conn *conn; /* back pointer, not a reference */
	struct cf_ws_msg msg;     /* reassembly of fragmented messages */
	struct cf_tmr tmr;        /* handshake deadline, then linger */
};

static void ws_destructor(void *data)
{
	struct ws_conn *ws = data;

	cf_mbuf_reset(&ws->msg.buf);
}

static struct cf_tmr_wheel *wheel(const struct cf_sip_conn *conn)
{
	return cf_loop_wheel(conn->owner->loop);
}

static void tmr_h(void *arg)
{
	struct cf_sip_conn *conn = arg;
	struct ws_conn *ws = conn->ws;
	char abuf[64];

	if (ws->state == WS_HANDSHAKE) {
		/* a connection that never upgrades is a slot held for
		 * nothing: counted like a refused upgrade */
		ctr_add(&conn->owner->st.ws_refused, 1);
		cf_log(CF_LOG_NOTICE, NULL,
		       "ws: closing connection from %s: no upgrade in time",
		       cf_sa_print(&conn->addr, abuf, sizeof(abuf)));
		conn_close(conn, NULL);
		return;
	}
	conn_close(conn, "linger over");
}

/* After an accept on a ws listener (owner thread): WebSocket state and the
 * handshake deadline. ENOMEM (the caller closes the connection). */
int ws_conn_start(struct cf_sip_conn *conn)
{
	struct cf_sip *sip = conn->sip;
	struct ws_conn *ws;

	ws = cf_mem_zalloc(sizeof(*ws), ws_destructor);
	if (!ws)
		return ENOMEM;
	ws->conn = conn;
	cf_ws_msg_init(&ws->msg, sip->cfg.max_msg);
	cf_tmr_init(&ws->tmr);
	conn->ws = ws;
	if (sip->cfg.ws_handshake_s)
		cf_tmr_start(wheel(conn), &ws->tmr,
		             (uint64_t)sip->cfg.ws_handshake_s * 1000, tmr_h,
		             conn);
	return 0;
}

/* From conn_close (owner thread): the timer off; memory stays until the
 * connection's last reference goes. */
void ws_conn_stop(struct cf_sip_conn *conn)
{
	cf_tmr_cancel(&conn->ws->tmr);
}

/* The receive buffer's ceiling: the HTTP head, or one whole frame. */
size_t ws_rbuf_cap(const struct cf_sip_conn *conn)
{
	size_t frame = conn->sip->cfg.ws_max_frame + CF_WS_HDR_MAX;

	return frame > CF_HTTP_HEAD_MAX ? frame : CF_HTTP_HEAD_MAX;
}

/* Stop reading, let what we wrote leave, then close: our FIN follows the
 * last bytes at once when nothing is queued (the peer then closes, §7.1.1
 * "the server SHOULD close first"); else the linger timer closes. Input
 * still arriving is read and dropped, so closing does not turn into a
 * reset that could destroy our last frame at the peer. */
static void linger(struct cf_sip_conn *conn)
{
	struct ws_conn *ws = conn->ws;

	if (atomic_load(&conn->closed))
		return;
	ws->state = WS_CLOSING;
	cf_ws_msg_reset(&ws->msg);
	if (conn->wpos >= conn->wbuf.end) {
		/* WSS: a half-close would cut the TLS stream; closing sends
		 * close_notify after our last record */
		if (conn->ssl) {
			conn_close(conn, "closed");
			return;
		}
		(void)shutdown(conn->fd, SHUT_WR);
	}
	cf_tmr_start(wheel(conn), &ws->tmr, WS_LINGER_MS, tmr_h, conn);
}

/* Bad input after the upgrade: counted and logged once, here; a close
 * frame with code, then linger. */
static void fail(struct worker *w, struct cf_sip_conn *conn, ctr_t *ctr,
                 uint16_t code, const char *why)
{
	struct cf_mbuf mb;
	char abuf[64];

	ctr_add(ctr, 1);
	cf_log(CF_LOG_NOTICE, NULL,
	       "ws: closing connection from %s: %s (close %u)",
	       cf_sa_print(&conn->addr, abuf, sizeof(abuf)), why, code);
	cf_mbuf_init(&mb);
	if (!cf_ws_close_encode(&mb, code, why, NULL))
		(void)conn_write(w, conn, mb.buf, mb.end);
	cf_mbuf_reset(&mb);
	linger(conn);
}

static const char *status_text(uint16_t status)
{
	switch (status) {
	case 403:
		return "Forbidden";
	case 405:
		return "Method Not Allowed";
	case 426:
		return "Upgrade Required";
	case 431:
		return "Request Header Fields Too Large";
	default:
		return "Bad Request";
	}
}

/* Refuse the upgrade with an HTTP status and close (RFC 6455 §4.2.1: "the
 * server MUST stop processing the client's handshake and return an HTTP
 * response with an appropriate error code"). Counted and logged once. */
static void refuse(struct worker *w, struct cf_sip_conn *conn, uint16_t status,
                   const char *why)
{
	char buf[512], abuf[64];
	int n;

	ctr_add(&w->st.ws_refused, 1);
	cf_log(CF_LOG_NOTICE, NULL, "ws: refusing upgrade from %s: %u %s",
	       cf_sa_print(&conn->addr, abuf, sizeof(abuf)), status, why);
	n = snprintf(buf, sizeof(buf),
	             "HTTP/1.1 %u %s\r\n"
	             "%s"
	             "Connection: close\r\n"
	             "Content-Type: text/plain\r\n"
	             "Content-Length: %zu\r\n"
	             "\r\n"
	             "%s\n",
	             status, status_text(status),
	             status == 426   ? "Sec-WebSocket-Version: 13\r\n"
	             : status == 405 ? "Allow: GET\r\n"
	                             : "",
	             strlen(why) + 1, why);
	if (n > 0 && (size_t)n < sizeof(buf))
		(void)conn_write(w, conn, (const uint8_t *)buf, (size_t)n);
	linger(conn);
}

/* The opening handshake (§4.2): decode the head buffered so far, check it,
 * answer 101 or refuse. Returns the head's length once upgraded, else 0
 * (incomplete, or refused: state is CLOSING). */
static size_t handshake(struct worker *w, struct cf_sip_conn *conn)
{
	struct cf_sip *sip = w->sip;
	struct cf_http_req req;
	struct cf_http_ws_upgrade up;
	char accept[CF_HTTP_WS_ACCEPT_LEN + 1], buf[256];
	size_t used = 0;
	int err, n;

	err = cf_http_req_decode(&req, conn->rbuf, conn->rlen, &used);
	if (err == ENODATA)
		return 0;
	if (err == EMSGSIZE) {
		refuse(w, conn, 431, "request head too large");
		return 0;
	}
	if (err) {
		/* not HTTP: a WebSocket frame before the upgrade, TLS on the
		 * plain port, SIP on the wrong port, binary garbage */
		refuse(w, conn, 400, "not an HTTP request");
		return 0;
	}
	if (cf_http_ws_upgrade_check(&req, "sip", sip->ws_origins, &up)) {
		refuse(w, conn, up.status, up.reason);
		return 0;
	}
	if (cf_http_ws_accept(&up.key, accept)) {
		conn_close(conn, "libcrypto failed");
		return 0;
	}
	/* RFC 7118 §4: the server MUST answer with the "sip" subprotocol */
	n = snprintf(buf, sizeof(buf),
	             "HTTP/1.1 101 Switching Protocols\r\n"
	             "Upgrade: websocket\r\n"
	             "Connection: Upgrade\r\n"
	             "Sec-WebSocket-Accept: %s\r\n"
	             "Sec-WebSocket-Protocol: sip\r\n"
	             "\r\n",
	             accept);
	if (conn_write(w, conn, (const uint8_t *)buf, (size_t)n))
		return 0;
	ctr_add(&w->st.ws_upgrades, 1);
	conn->ws->state = WS_OPEN;
	cf_tmr_cancel(&conn->ws->tmr);
	return used;
}

/* One whole WebSocket message: exactly one SIP message (RFC 7118 §5).
 * WebSocket keeps message boundaries, so it is decoded like a datagram
 * (Content-Length may be absent; RFC 3261 §18.3 rules for message
 * transports); its peer is the connection (WS, the real source address),
 * so responses and requests to this client go back on it whatever its Via
 * or Contact say (`*.invalid`). */
static void sip_msg(struct worker *w, struct cf_sip_conn *conn,
                    const struct cf_pl *m)
{
	struct cf_sip_msg *msg;
	struct cf_sip_peer peer;
	size_t used;
	int err;

	err = cf_sip_msg_decode(&msg, (const uint8_t *)m->p, m->l,
	                        CF_SIP_DATAGRAM, &used);
	if (err == ENOMEM)
		return; /* lost; the peer's transaction times out */
	if (err == EMSGSIZE) {
		fail(w, conn, &w->st.ws_oversize, CF_WS_CLOSE_TOO_BIG,
		     "message too large");
		return;
	}
	if (err) {
		/* counted with the TCP streams' garbage too */
		ctr_add(&w->st.stream_garbage, 1);
		fail(w, conn, &w->st.ws_protocol_errors, CF_WS_CLOSE_INVALID,
		     "not a SIP message");
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

/* A control frame (payload unmasked): ping → pong with the same payload
 * (§5.5.2), pong ignored (§5.5.3), close → close echoing the code, then
 * our side closes (§5.5.1). */
static void control(struct worker *w, struct cf_sip_conn *conn,
                    const struct cf_ws_frame *f, const uint8_t *pl)
{
	struct cf_mbuf mb;
	struct cf_pl reason;
	uint16_t code;

	cf_mbuf_init(&mb);
	switch (f->op) {
	case CF_WS_OP_PING:
		ctr_add(&w->st.ws_pongs, 1);
		if (!cf_ws_frame_encode(&mb, true, CF_WS_OP_PONG, pl,
		                        (size_t)f->len, NULL))
			(void)conn_write(w, conn, mb.buf, mb.end);
		break;
	case CF_WS_OP_CLOSE:
		if (cf_ws_close_decode(pl, (size_t)f->len, &code, &reason)) {
			fail(w, conn, &w->st.ws_protocol_errors,
			     CF_WS_CLOSE_PROTOCOL, "bad close frame");
			break;
		}
		if (code == CF_WS_CLOSE_NO_STATUS)
			code = 0; /* answered with an empty close */
		if (!cf_ws_close_encode(&mb, code, NULL, NULL))
			(void)conn_write(w, conn, mb.buf, mb.end);
		linger(conn);
		break;
	default:
		break;
	}
	cf_mbuf_reset(&mb);
}

/* Frames from off on: decode, unmask in place, answer control frames,
 * reassemble data frames and pass each whole message up. Returns where
 * the first incomplete frame starts. */
static size_t frames(struct worker *w, struct cf_sip_conn *conn, size_t off)
{
	struct cf_sip *sip = w->sip;
	struct ws_conn *ws = conn->ws;

	while (off < conn->rlen && !atomic_load(&conn->closed) &&
	       ws->state == WS_OPEN) {
		uint8_t *p = conn->rbuf + off;
		struct cf_ws_frame f;
		struct cf_pl m;
		enum cf_ws_op op;
		size_t used;
		bool done;
		int err;

		err = cf_ws_frame_decode(&f, p, conn->rlen - off, CF_WS_SERVER,
		                         sip->cfg.ws_max_frame, &used);
		if (err == ENODATA)
			break;
		if (err == EMSGSIZE) {
			fail(w, conn, &w->st.ws_oversize, CF_WS_CLOSE_TOO_BIG,
			     "frame too large");
			break;
		}
		if (err) {
			fail(w, conn, &w->st.ws_protocol_errors,
			     CF_WS_CLOSE_PROTOCOL,
			     !(p[1] & 0x80) ? "unmasked frame"
			                    : "protocol error");
			break;
		}
		off += used;
		cf_ws_unmask(p + f.hlen, (size_t)f.len, f.mask, 0);
		if (cf_ws_op_control(f.op)) {
			control(w, conn, &f, p + f.hlen);
			continue;
		}
		err = cf_ws_msg_feed(&ws->msg, &f, p + f.hlen, &done, &op, &m);
		if (err == EMSGSIZE) {
			fail(w, conn, &w->st.ws_oversize, CF_WS_CLOSE_TOO_BIG,
			     "message too large");
			break;
		}
		if (err == ENOMEM) {
			conn_close(conn, "out of memory");
			break;
		}
		if (err) {
			fail(w, conn, &w->st.ws_protocol_errors,
			     CF_WS_CLOSE_PROTOCOL, "bad fragment sequence");
			break;
		}
		/* §8.1: a text message that is not UTF-8 fails the
		 * connection (SIP is UTF-8 too, RFC 3261 §7) */
		if (done && op == CF_WS_OP_TEXT &&
		    !cf_ws_utf8_valid((const uint8_t *)m.p, m.l)) {
			fail(w, conn, &w->st.ws_protocol_errors,
			     CF_WS_CLOSE_INVALID, "text frame not UTF-8");
			break;
		}
		if (done)
			sip_msg(w, conn, &m);
	}
	return off;
}

/* Bytes arrived on a ws connection (from conn_read, owner thread). */
void ws_recv(struct worker *w, struct cf_sip_conn *conn)
{
	struct ws_conn *ws = conn->ws;
	size_t off = 0;

	if (ws->state == WS_HANDSHAKE) {
		off = handshake(w, conn);
		if (!off || atomic_load(&conn->closed)) {
			if (ws->state == WS_CLOSING)
				conn->rlen = 0;
			return;
		}
	}
	if (ws->state == WS_OPEN)
		off = frames(w, conn, off);
	if (atomic_load(&conn->closed))
		return;
	if (ws->state == WS_CLOSING) {
		conn->rlen = 0; /* read and dropped while lingering */
		return;
	}
	if (off && off < conn->rlen)
		memmove(conn->rbuf, conn->rbuf + off, conn->rlen - off);
	conn->rlen -= off;
}

/*
 * Send one SIP message to a ws client (conn_send_local, owner thread): one
 * unmasked frame (§5.1: a server never masks; RFC 7118 §5: one SIP message
 * per WebSocket message), text when the message is UTF-8 (what browsers'
 * SIP stacks expect), else binary: a browser fails the connection on a
 * text frame that is not UTF-8 (§8.1), and a message relayed from a UDP
 * peer may carry Latin-1 bytes. One UTF-8 scan, and header and payload in
 * one write (one copy of the message). EPIPE before the upgrade or while
 * closing; else as conn_write.
 */
int ws_send(struct worker *w, struct cf_sip_conn *conn, const uint8_t *p,
            size_t n)
{
	uint8_t *buf;
	size_t h;
	int err;

	if (conn->ws->state != WS_OPEN)
		return EPIPE;
	buf = cf_mem_alloc(n + CF_WS_HDR_MAX, NULL);
	if (!buf)
		return ENOMEM;
	h = cf_ws_hdr_encode(
	    buf, true, cf_ws_utf8_valid(p, n) ? CF_WS_OP_TEXT : CF_WS_OP_BINARY,
	    n, NULL);
	memcpy(buf + h, p, n);
	err = conn_write(w, conn, buf, h + n);
	cf_mem_deref(buf);
	return err;
}
