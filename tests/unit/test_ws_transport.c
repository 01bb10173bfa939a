/* SPDX-License-Identifier: BSD-3-Clause */
/* test_ws_transport.c - the WebSocket transport (RFC 7118) over real
 * sockets on 127.0.0.1 and ::1 with 2 workers: upgrade, SIP over WS both
 * ways, ping/pong, close, and each bad input closing its own connection
 * only, counted. Bounded poll waits, no timed assertions. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cmocka.h>
#include <openssl/ssl.h>
#include <stdlib.h>

#include "proto/http/http.h"
#include "proto/ws/ws.h"
#include "sip/sip.h"

enum { WAIT_MS = 3000 };

static const uint8_t MASK[4] = {0xa1, 0xb2, 0xc3, 0xd4};

/* The one wss client of a test: its fd and TLS session (the helpers
 * below read and write through it when given that fd). */
static int ssl_fd = -1;
static SSL *ssl;

/* ------------------------------------------------------------- fixture */

struct fx {
	long blocks;
	struct cf_sip *sip;
	struct cf_sa ws4, ws6, udp4, wss4;
};

static char tls_dir[128];
static char tls_cert[512], tls_key[512];

/* The last request whose Call-ID starts "keep-": its peer, kept (with a
 * connection reference) so the test can send a request back to it. */
static pthread_mutex_t kept_mtx = PTHREAD_MUTEX_INITIALIZER;
static struct cf_sip_peer kept;

static void on_request(struct cf_sip_strans *st, const struct cf_sip_msg *msg,
                       const struct cf_sip_peer *peer, void *arg)
{
	(void)arg;
	if (msg->call_id.l >= 5 && !memcmp(msg->call_id.p, "keep-", 5)) {
		pthread_mutex_lock(&kept_mtx);
		cf_mem_deref(kept.conn);
		kept = *peer;
		kept.conn = cf_mem_ref(peer->conn);
		pthread_mutex_unlock(&kept_mtx);
	}
	if (st)
		(void)cf_sip_strans_reply(st, 200, "OK", NULL, NULL);
}

/* Connections seen closing by the observer (cf_sip_conn_observe): the hook
 * the registrar uses to drop a closed connection's bindings. */
static _Atomic int closed_seen;

static void closed_h(struct cf_sip_conn *conn, void *arg)
{
	(void)arg;
	pthread_mutex_lock(&kept_mtx);
	if (conn == kept.conn)
		atomic_fetch_add(&closed_seen, 1);
	pthread_mutex_unlock(&kept_mtx);
}

static const struct cf_sip_txn_handlers handlers = {
    .request = on_request,
};

static void listener_h(enum cf_sip_tp tp, const struct cf_sa *addr, void *arg)
{
	struct fx *fx = arg;

	if (tp == CF_SIP_TP_WS)
		*(cf_sa_af(addr) == AF_INET6 ? &fx->ws6 : &fx->ws4) = *addr;
	else if (tp == CF_SIP_TP_WSS)
		fx->wss4 = *addr;
	else if (tp == CF_SIP_TP_UDP)
		fx->udp4 = *addr;
}

static uint32_t handshake_s; /* 0: the default */

static void fx_start_wss(struct fx *fx, const char *origins, size_t max_frame,
                         bool wss)
{
	struct cf_sip_cfg cfg;
	struct cf_sa a;

	memset(fx, 0, sizeof(*fx));
	fx->blocks = cf_mem_blocks();
	cf_sip_cfg_default(&cfg);
	cfg.workers = 2;
	if (max_frame)
		cfg.ws_max_frame = max_frame;
	if (handshake_s)
		cfg.ws_handshake_s = handshake_s;
	assert_int_equal(cf_sip_alloc(&fx->sip, &cfg, &handlers), 0);
	assert_int_equal(cf_sa_set_str(&a, "127.0.0.1", 0), 0);
	assert_int_equal(cf_sip_listen(fx->sip, CF_SIP_TP_WS, &a), 0);
	assert_int_equal(cf_sip_listen(fx->sip, CF_SIP_TP_UDP, &a), 0);
	assert_int_equal(cf_sa_set_str(&a, "::1", 0), 0);
	assert_int_equal(cf_sip_listen(fx->sip, CF_SIP_TP_WS, &a), 0);
	if (wss) {
		struct cf_sip_tls_cfg tc;
		bool made;

		assert_int_equal(cf_sa_set_str(&a, "127.0.0.1", 0), 0);
		assert_int_equal(cf_sip_listen(fx->sip, CF_SIP_TP_WSS, &a), 0);
		/* wss without a certificate does not start */
		assert_int_equal(cf_sip_start(fx->sip), ENOENT);
		assert_int_equal(
		    cf_sip_tls_selfsigned(tls_dir, "confab.test", tls_cert,
		                          sizeof(tls_cert), tls_key,
		                          sizeof(tls_key), &made),
		    0);
		cf_sip_tls_cfg_default(&tc);
		tc.certificate = tls_cert;
		tc.private_key = tls_key;
		assert_int_equal(cf_sip_tls_set(fx->sip, &tc), 0);
	}
	assert_int_equal(cf_sip_ws_origins_set(fx->sip, origins), 0);
	assert_int_equal(cf_sip_conn_observe(fx->sip, closed_h, NULL), 0);
	atomic_store(&closed_seen, 0);
	cf_sip_listeners_apply(fx->sip, listener_h, fx);
	assert_true(cf_sa_port(&fx->ws4) && cf_sa_port(&fx->ws6));
	assert_int_equal(cf_sip_start(fx->sip), 0);
}

static void fx_start(struct fx *fx, const char *origins, size_t max_frame)
{
	fx_start_wss(fx, origins, max_frame, false);
}

static void fx_stop(struct fx *fx)
{
	pthread_mutex_lock(&kept_mtx);
	kept.conn = cf_mem_deref(kept.conn);
	pthread_mutex_unlock(&kept_mtx);
	cf_sip_stop(fx->sip, 50);
	fx->sip = cf_mem_deref(fx->sip);
	assert_int_equal(cf_mem_blocks(), fx->blocks);
}

static struct cf_sip_stats stats(const struct fx *fx)
{
	struct cf_sip_stats st;

	cf_sip_stats(fx->sip, &st);
	return st;
}

/* ------------------------------------------------------------- clients */

static int tcp_client(const struct cf_sa *srv)
{
	int fd = socket(cf_sa_af(srv), SOCK_STREAM, 0);
	socklen_t len = cf_sa_af(srv) == AF_INET6 ? sizeof(struct sockaddr_in6)
	                                          : sizeof(struct sockaddr_in);

	assert_true(fd >= 0);
	assert_int_equal(connect(fd, &srv->u.sa, len), 0);
	return fd;
}

/* Read within WAIT_MS; bytes, 0 closed, -1 reset, -2 nothing in time. */
static ssize_t recv_wait(int fd, uint8_t *buf, size_t size)
{
	struct pollfd pfd = {.fd = fd, .events = POLLIN};
	ssize_t r;

	for (int i = 0; fd == ssl_fd && i < 16; i++) {
		/* TLS: records may hold no application data (tickets) */
		if (!SSL_pending(ssl) && poll(&pfd, 1, WAIT_MS) != 1)
			return -2;
		r = SSL_read(ssl, buf, (int)size);
		if (r > 0)
			return r;
		if (SSL_get_error(ssl, (int)r) != SSL_ERROR_WANT_READ)
			return r == 0 ? 0 : -1;
	}
	if (fd == ssl_fd)
		return -2;
	if (poll(&pfd, 1, WAIT_MS) != 1)
		return -2;
	r = recv(fd, buf, size, 0);
	return r < 0 ? -1 : r;
}

static void send_all(int fd, const void *p, size_t n)
{
	if (fd == ssl_fd) {
		assert_int_equal(SSL_write(ssl, p, (int)n), (int)n);
		return;
	}
	assert_int_equal(send(fd, p, n, MSG_NOSIGNAL), (ssize_t)n);
}

/* Read an HTTP response head (up to the empty line) into buf. */
static void http_read(int fd, char *buf, size_t size)
{
	size_t len = 0;

	buf[0] = '\0';
	for (int i = 0; i < 8192 && !strstr(buf, "\r\n\r\n") && len < size - 1;
	     i++) {
		ssize_t r = recv_wait(fd, (uint8_t *)buf + len, 1);

		if (r <= 0)
			break;
		len += (size_t)r;
		buf[len] = '\0';
	}
}

static const char *const KEY = "dGhlIHNhbXBsZSBub25jZQ==";

/* Send an upgrade request with these extra lines (each ending CRLF). */
static void upgrade_send(int fd, const char *proto, const char *version,
                         const char *extra)
{
	char req[1024];
	int n = snprintf(req, sizeof(req),
	                 "GET / HTTP/1.1\r\n"
	                 "Host: 127.0.0.1\r\n"
	                 "Upgrade: websocket\r\n"
	                 "Connection: Upgrade\r\n"
	                 "Sec-WebSocket-Key: %s\r\n"
	                 "Sec-WebSocket-Version: %s\r\n"
	                 "%s%s%s"
	                 "%s\r\n",
	                 KEY, version, proto ? "Sec-WebSocket-Protocol: " : "",
	                 proto ? proto : "", proto ? "\r\n" : "",
	                 extra ? extra : "");

	send_all(fd, req, (size_t)n);
}

static SSL_CTX *cctx;

/* Connect over TLS (no certificate check) and make this the wss client. */
static int tls_client(const struct cf_sa *srv)
{
	int fd = tcp_client(srv);

	if (!cctx) {
		cctx = SSL_CTX_new(TLS_client_method());
		assert_non_null(cctx);
		SSL_CTX_set_verify(cctx, SSL_VERIFY_NONE, NULL);
	}
	ssl = SSL_new(cctx);
	assert_non_null(ssl);
	SSL_set_fd(ssl, fd);
	SSL_set_tlsext_host_name(ssl, "confab.test");
	assert_int_equal(SSL_connect(ssl), 1);
	ssl_fd = fd;
	return fd;
}

static void tls_client_close(int fd)
{
	SSL_free(ssl);
	ssl = NULL;
	ssl_fd = -1;
	close(fd);
}

/* Upgrade on a connected fd; checks the 101 (accept, subprotocol). */
static int ws_upgrade(int fd)
{
	char resp[2048];

	upgrade_send(fd, "sip", "13", "Origin: https://ok.test\r\n");
	http_read(fd, resp, sizeof(resp));
	assert_non_null(strstr(resp, "HTTP/1.1 101 "));
	assert_non_null(strstr(resp, "Sec-WebSocket-Protocol: sip\r\n"));
	assert_non_null(
	    strstr(resp, "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo="));
	return fd;
}

/* Connect and upgrade. */
static int ws_client(const struct cf_sa *srv)
{
	return ws_upgrade(tcp_client(srv));
}

static void frame_send(int fd, bool fin, enum cf_ws_op op, const void *p,
                       size_t n)
{
	struct cf_mbuf mb;

	cf_mbuf_init(&mb);
	assert_int_equal(cf_ws_frame_encode(&mb, fin, op, p, n, MASK), 0);
	send_all(fd, mb.buf, mb.end);
	cf_mbuf_reset(&mb);
}

/* Read one server frame: 0 and its payload in buf (*op, *n), or -1 when
 * the connection ended first. Server frames must be unmasked. */
static int frame_read(int fd, uint8_t *buf, size_t size, enum cf_ws_op *op,
                      size_t *n)
{
	static uint8_t rb[70000];
	static size_t rl;
	static int rfd = -1;

	if (fd != rfd) {
		rfd = fd;
		rl = 0;
	}
	for (int i = 0; i < 256; i++) {
		struct cf_ws_frame f;
		size_t used;
		ssize_t r;
		int err = cf_ws_frame_decode(&f, rb, rl, CF_WS_CLIENT,
		                             sizeof(rb), &used);

		if (!err) {
			assert_true(f.len <= size);
			memcpy(buf, f.payload, (size_t)f.len);
			*op = f.op;
			*n = (size_t)f.len;
			memmove(rb, rb + used, rl - used);
			rl -= used;
			return 0;
		}
		assert_int_equal(err, ENODATA);
		r = recv_wait(fd, rb + rl, sizeof(rb) - rl);
		if (r <= 0)
			return -1;
		rl += (size_t)r;
	}
	return -1;
}

/* The next frame is a close with this code, and then the server closes. */
static void expect_close(int fd, uint16_t code)
{
	uint8_t buf[256];
	enum cf_ws_op op;
	struct cf_pl reason;
	uint16_t got;
	size_t n;

	assert_int_equal(frame_read(fd, buf, sizeof(buf), &op, &n), 0);
	assert_int_equal(op, CF_WS_OP_CLOSE);
	assert_int_equal(cf_ws_close_decode(buf, n, &got, &reason), 0);
	assert_int_equal(got, code);
	/* then the end of the stream: the server closes first (§7.1.1) */
	assert_true(recv_wait(fd, buf, sizeof(buf)) <= 0);
}

static size_t options_tp(char *buf, size_t size, const char *callid,
                         const char *tp)
{
	int n =
	    snprintf(buf, size,
	             "OPTIONS sip:test@127.0.0.1 SIP/2.0\r\n"
	             "Via: SIP/2.0/%s df7jal23ls0d.invalid;branch=z9hG4bK-"
	             "%s\r\n"
	             "Max-Forwards: 70\r\n"
	             "From: <sip:a@127.0.0.1>;tag=1\r\n"
	             "To: <sip:test@127.0.0.1>\r\n"
	             "Call-ID: %s\r\n"
	             "CSeq: 1 OPTIONS\r\n"
	             "Contact: <sip:a@df7jal23ls0d.invalid;transport=ws>\r\n"
	             "\r\n",
	             tp, callid, callid);

	assert_true(n > 0 && (size_t)n < size);
	return (size_t)n;
}

static size_t options(char *buf, size_t size, const char *callid)
{
	return options_tp(buf, size, callid, "WS");
}

/* Read one SIP message in a text frame into buf (NUL-terminated). */
static void sip_read(int fd, char *buf, size_t size)
{
	enum cf_ws_op op;
	size_t n;

	assert_int_equal(frame_read(fd, (uint8_t *)buf, size - 1, &op, &n), 0);
	assert_int_equal(op, CF_WS_OP_TEXT);
	buf[n] = '\0';
}

/* --------------------------------------------------------------- tests */

/* Upgrade, then OPTIONS (several Call-IDs, so both workers answer: the
 * other worker's answers reach the owner through its mailbox), each
 * answered 200 in its own text frame, Via WS with received=. */
static void test_ws_options(void **state)
{
	char req[2048], resp[4096];
	struct fx fx;
	(void)state;

	fx_start(&fx, NULL, 0);
	for (int v6 = 0; v6 < 2; v6++) {
		int fd = ws_client(v6 ? &fx.ws6 : &fx.ws4);

		for (int i = 0; i < 6; i++) {
			char id[32];
			size_t n;

			snprintf(id, sizeof(id), "ws-opt-%d-%d", v6, i);
			n = options(req, sizeof(req), id);
			frame_send(fd, true,
			           i % 2 ? CF_WS_OP_BINARY : CF_WS_OP_TEXT, req,
			           n);
			sip_read(fd, resp, sizeof(resp));
			assert_non_null(strstr(resp, "SIP/2.0 200 OK\r\n"));
			assert_non_null(strstr(resp, id));
			assert_non_null(strstr(
			    resp, "Via: SIP/2.0/WS df7jal23ls0d.invalid;"));
			assert_non_null(strstr(resp, ";received="));
		}
		close(fd);
	}
	assert_int_equal(stats(&fx).ws_upgrades, 2);
	assert_true(stats(&fx).rx_msgs >= 12);
	assert_int_equal(stats(&fx).ws_protocol_errors, 0);
	fx_stop(&fx);
}

/* A fragmented OPTIONS with a ping between its fragments (§5.4, §5.5). */
static void test_ws_fragments_ping(void **state)
{
	char req[2048], resp[4096];
	uint8_t buf[256];
	enum cf_ws_op op;
	struct fx fx;
	size_t n, got;
	int fd;
	(void)state;

	fx_start(&fx, NULL, 0);
	fd = ws_client(&fx.ws4);
	n = options(req, sizeof(req), "ws-frag-1");
	frame_send(fd, false, CF_WS_OP_TEXT, req, 10);
	frame_send(fd, true, CF_WS_OP_PING, "are you there", 13);
	assert_int_equal(frame_read(fd, buf, sizeof(buf), &op, &got), 0);
	assert_int_equal(op, CF_WS_OP_PONG);
	assert_int_equal(got, 13);
	assert_memory_equal(buf, "are you there", 13);
	frame_send(fd, false, CF_WS_OP_CONT, req + 10, 100);
	frame_send(fd, true, CF_WS_OP_CONT, req + 110, n - 110);
	sip_read(fd, resp, sizeof(resp));
	assert_non_null(strstr(resp, "SIP/2.0 200 OK\r\n"));
	assert_non_null(strstr(resp, "ws-frag-1"));
	/* an unsolicited pong is ignored; the connection stays */
	frame_send(fd, true, CF_WS_OP_PONG, "x", 1);
	frame_send(fd, true, CF_WS_OP_PING, NULL, 0);
	assert_int_equal(frame_read(fd, buf, sizeof(buf), &op, &got), 0);
	assert_int_equal(op, CF_WS_OP_PONG);
	assert_int_equal(got, 0);
	assert_int_equal(stats(&fx).ws_pongs, 2);
	close(fd);
	fx_stop(&fx);
}

/* A request to the client goes back over its own connection: the peer
 * handed up (conn + WS) is all it takes (its Contact is *.invalid). */
static void test_ws_request_to_client(void **state)
{
	static const char msg[] =
	    "MESSAGE sip:a@df7jal23ls0d.invalid SIP/2.0\r\n"
	    "Via: SIP/2.0/WS 127.0.0.1;branch=z9hG4bKx\r\n"
	    "Call-ID: to-client\r\n"
	    "CSeq: 1 MESSAGE\r\n"
	    "Content-Length: 0\r\n\r\n";
	char req[2048], resp[4096];
	struct cf_sip_peer peer;
	struct cf_pl bytes = {msg, sizeof(msg) - 1};
	struct fx fx;
	int fd;
	(void)state;

	fx_start(&fx, NULL, 0);
	fd = ws_client(&fx.ws4);
	frame_send(fd, true, CF_WS_OP_TEXT, req,
	           options(req, sizeof(req), "keep-1"));
	sip_read(fd, resp, sizeof(resp));
	assert_non_null(strstr(resp, "keep-1"));
	pthread_mutex_lock(&kept_mtx);
	peer = kept;
	assert_non_null(peer.conn);
	assert_int_equal(peer.tp, CF_SIP_TP_WS);
	/* from this (non-worker) thread: through the owner's mailbox */
	assert_int_equal(cf_sip_send(fx.sip, &peer, &bytes), 0);
	pthread_mutex_unlock(&kept_mtx);
	sip_read(fd, resp, sizeof(resp));
	assert_string_equal(resp, msg);
	assert_false(cf_sip_conn_closed(peer.conn));
	/* losing the connection: the observer sees this very connection
	 * go (bounded wait for the server to read our FIN) */
	close(fd);
	for (int i = 0; i < 300 && !atomic_load(&closed_seen); i++)
		poll(NULL, 0, 10);
	assert_int_equal(atomic_load(&closed_seen), 1);
	assert_true(cf_sip_conn_closed(peer.conn));
	fx_stop(&fx);
}

/* The client closes: its close is echoed with its code, then we close. */
static void test_ws_client_close(void **state)
{
	struct cf_mbuf mb;
	struct fx fx;
	int fd;
	(void)state;

	fx_start(&fx, NULL, 0);
	fd = ws_client(&fx.ws6);
	cf_mbuf_init(&mb);
	assert_int_equal(cf_ws_close_encode(&mb, 1001, "bye", MASK), 0);
	send_all(fd, mb.buf, mb.end);
	cf_mbuf_reset(&mb);
	expect_close(fd, 1001);
	close(fd);
	fx_stop(&fx);
}

/* A good connection next to the bad ones: still answered afterwards. */
static void still_good(int fd, const char *id)
{
	char req[2048], resp[4096];

	frame_send(fd, true, CF_WS_OP_TEXT, req, options(req, sizeof(req), id));
	sip_read(fd, resp, sizeof(resp));
	assert_non_null(strstr(resp, id));
}

/* Unmasked frame → 1002; frame over the limit → 1009 (from its header
 * alone); reserved bit → 1002; not SIP → 1007. Each closes its own
 * connection only, and is counted. */
static void test_ws_bad_frames(void **state)
{
	static const uint8_t unmasked[] = {0x81, 0x02, 'h', 'i'};
	static const uint8_t rsv[] = {0xc1, 0x80, 1, 2, 3, 4};
	/* binary, masked, 16-bit length 1025 (limit 1024), no payload */
	static const uint8_t big[] = {0x82, 0xfe, 0x04, 0x01, 1, 2, 3, 4};
	char req[2048];
	struct fx fx;
	int good, fd;
	(void)state;

	fx_start(&fx, NULL, 1024);
	good = ws_client(&fx.ws4);
	still_good(good, "good-0");

	fd = ws_client(&fx.ws4);
	send_all(fd, unmasked, sizeof(unmasked));
	expect_close(fd, CF_WS_CLOSE_PROTOCOL);
	close(fd);
	assert_int_equal(stats(&fx).ws_protocol_errors, 1);
	still_good(good, "good-1");

	fd = ws_client(&fx.ws6);
	send_all(fd, big, sizeof(big));
	expect_close(fd, CF_WS_CLOSE_TOO_BIG);
	close(fd);
	assert_int_equal(stats(&fx).ws_oversize, 1);

	/* at the limit: fine (a SIP message padded to exactly 1024) */
	fd = ws_client(&fx.ws4);
	{
		char m[1100];
		size_t n = options(m, sizeof(m), "at-limit");
		/* pad with an X-Pad header up to exactly 1024 bytes */
		size_t pad = 1024 - n - strlen("X-Pad: \r\n");
		char *e = strstr(m, "\r\n\r\n") + 2;

		memmove(e + pad + 9, e, strlen(e) + 1);
		memcpy(e, "X-Pad: ", 7);
		memset(e + 7, 'p', pad);
		memcpy(e + 7 + pad, "\r\n", 2);
		assert_int_equal(strlen(m), 1024);
		frame_send(fd, true, CF_WS_OP_TEXT, m, 1024);
		sip_read(fd, req, sizeof(req));
		assert_non_null(strstr(req, "at-limit"));
	}
	close(fd);

	fd = ws_client(&fx.ws4);
	send_all(fd, rsv, sizeof(rsv));
	expect_close(fd, CF_WS_CLOSE_PROTOCOL);
	close(fd);
	assert_int_equal(stats(&fx).ws_protocol_errors, 2);

	fd = ws_client(&fx.ws4);
	frame_send(fd, true, CF_WS_OP_TEXT, "hello, not SIP", 14);
	expect_close(fd, CF_WS_CLOSE_INVALID);
	close(fd);
	assert_int_equal(stats(&fx).ws_protocol_errors, 3);

	still_good(good, "good-2");
	close(good);
	assert_int_equal(stats(&fx).ws_upgrades, 6);
	fx_stop(&fx);
}

/* RFC 6455 §8.1: a text message that is not UTF-8 fails the connection
 * (1007); the same bytes in a binary frame are fine, and the answer, which
 * echoes them, comes back in a binary frame (a browser would fail the
 * connection on a text frame that is not UTF-8). */
static void test_ws_utf8(void **state)
{
	char req[2048], resp[4096];
	enum cf_ws_op op;
	struct fx fx;
	size_t n;
	char *from;
	int fd;
	(void)state;

	fx_start(&fx, NULL, 0);
	fd = ws_client(&fx.ws4);
	n = options(req, sizeof(req), "latin-1");
	from = strstr(req, "From: <");
	assert_non_null(from);
	memmove(from + 13, from + 6, n - (size_t)(from + 6 - req) + 1);
	memcpy(from + 6, "\"Jos\xe9\" ", 7); /* Latin-1 display name */
	n += 7;
	frame_send(fd, true, CF_WS_OP_BINARY, req, n);
	assert_int_equal(
	    frame_read(fd, (uint8_t *)resp, sizeof(resp) - 1, &op, &n), 0);
	resp[n] = '\0';
	assert_int_equal(op, CF_WS_OP_BINARY);
	assert_non_null(strstr(resp, "SIP/2.0 200 OK\r\n"));
	assert_non_null(strstr(resp, "From: \"Jos\xe9\" <"));
	/* a UTF-8 answer is text (checked in the other tests too) */
	still_good(fd, "utf8-ok");
	/* as text: 1007 */
	frame_send(fd, true, CF_WS_OP_TEXT, req, strlen(req));
	expect_close(fd, CF_WS_CLOSE_INVALID);
	close(fd);
	assert_int_equal(stats(&fx).ws_protocol_errors, 1);
	fx_stop(&fx);
}

/* The message limit ([sip] max_message_size) across fragments → 1009. */
static void test_ws_message_too_big(void **state)
{
	static char chunk[60000];
	struct fx fx;
	int fd;
	(void)state;

	fx_start(&fx, NULL, 0);
	memset(chunk, 'a', sizeof(chunk));
	fd = ws_client(&fx.ws4);
	frame_send(fd, false, CF_WS_OP_TEXT, chunk, sizeof(chunk));
	frame_send(fd, true, CF_WS_OP_CONT, chunk, 10000); /* 70000 > 65535 */
	expect_close(fd, CF_WS_CLOSE_TOO_BIG);
	close(fd);
	assert_int_equal(stats(&fx).ws_oversize, 1);
	fx_stop(&fx);
}

/* Refused upgrades: the HTTP status, then the server closes. */
static void expect_status(int fd, const char *status)
{
	char resp[2048];
	uint8_t b[512];

	http_read(fd, resp, sizeof(resp));
	assert_non_null(strstr(resp, status));
	assert_non_null(strstr(resp, "Connection: close\r\n"));
	/* the body, then the end of the stream */
	for (int i = 0; i < 8; i++) {
		if (recv_wait(fd, b, sizeof(b)) <= 0)
			return;
	}
	fail_msg("the server did not close");
}

static void test_ws_refused(void **state)
{
	static const uint8_t frame[] = {0x81, 0x82, 1,       2,
	                                3,    4,    'h' ^ 1, 'i' ^ 2};
	struct fx fx;
	int fd, good;
	(void)state;

	fx_start(&fx, "https://ok.test, https://also.test", 0);
	good = ws_client(&fx.ws4);

	/* plain HTTP, no upgrade */
	fd = tcp_client(&fx.ws4);
	send_all(fd, "GET / HTTP/1.1\r\nHost: x\r\n\r\n", 27);
	expect_status(fd, "HTTP/1.1 400 ");
	close(fd);
	/* wrong subprotocol, and none */
	fd = tcp_client(&fx.ws4);
	upgrade_send(fd, "chat", "13", NULL);
	expect_status(fd, "HTTP/1.1 400 ");
	close(fd);
	fd = tcp_client(&fx.ws6);
	upgrade_send(fd, NULL, "13", NULL);
	expect_status(fd, "HTTP/1.1 400 ");
	close(fd);
	/* bad version: 426 with the version we speak */
	fd = tcp_client(&fx.ws4);
	upgrade_send(fd, "sip", "8", NULL);
	expect_status(fd, "Sec-WebSocket-Version: 13\r\n");
	close(fd);
	/* Origin not on the list */
	fd = tcp_client(&fx.ws4);
	upgrade_send(fd, "sip", "13", "Origin: https://evil.test\r\n");
	expect_status(fd, "HTTP/1.1 403 ");
	close(fd);
	/* a frame before the upgrade */
	fd = tcp_client(&fx.ws4);
	send_all(fd, frame, sizeof(frame));
	expect_status(fd, "HTTP/1.1 400 ");
	close(fd);
	/* a head over 8 KB */
	fd = tcp_client(&fx.ws4);
	{
		static char big[CF_HTTP_HEAD_MAX + 100];

		memset(big, 'a', sizeof(big));
		memcpy(big, "GET / HTTP/1.1\r\nX: ", 19);
		send_all(fd, big, sizeof(big));
	}
	expect_status(fd, "HTTP/1.1 431 ");
	close(fd);

	assert_int_equal(stats(&fx).ws_refused, 7);
	assert_int_equal(stats(&fx).ws_upgrades, 1);
	still_good(good, "after-refusals");
	close(good);
	fx_stop(&fx);
}

/* Nothing to do with WebSocket: UDP next to it keeps working, and a ws
 * listener needs the upgrade (raw SIP there is refused 400). */
static void test_ws_raw_sip(void **state)
{
	char req[2048];
	struct fx fx;
	int fd;
	(void)state;

	fx_start(&fx, NULL, 0);
	fd = tcp_client(&fx.ws4);
	send_all(fd, req, options(req, sizeof(req), "raw"));
	expect_status(fd, "HTTP/1.1 400 ");
	close(fd);
	assert_int_equal(stats(&fx).ws_refused, 1);
	fx_stop(&fx);
}

/* Out of memory while a WebSocket message is handled: that message is
 * lost (the client's transaction retransmits or times out), the connection
 * and the stack go on, nothing leaks (fx_stop checks the blocks). */
static void test_ws_oom(void **state)
{
	char req[2048], resp[4096];
	struct fx fx;
	bool seen = false;
	int fd;
	(void)state;

	fx_start(&fx, NULL, 0);
	fd = ws_client(&fx.ws4);
	for (long n = 1; n <= 8; n++) {
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		size_t len = options(req, sizeof(req), "oom-lost");
		struct cf_mbuf mb;

		/* encoded before the failures are armed */
		cf_mbuf_init(&mb);
		assert_int_equal(cf_ws_frame_encode(&mb, true, CF_WS_OP_TEXT,
		                                    (const uint8_t *)req, len,
		                                    MASK),
		                 0);
		cf_mem_fail_after(n);
		send_all(fd, mb.buf, mb.end);
		(void)poll(&pfd, 1, 100); /* usually no answer */
		cf_mem_fail_after(0);
		cf_mbuf_reset(&mb);
	}
	frame_send(fd, true, CF_WS_OP_TEXT, req,
	           options(req, sizeof(req), "oom-after"));
	/* answers to the lost ones may come first: read up to 10 */
	for (int i = 0; i < 10 && !seen; i++) {
		sip_read(fd, resp, sizeof(resp));
		seen = strstr(resp, "oom-after") != NULL;
	}
	assert_true(seen);
	close(fd);
	fx_stop(&fx);
}

/* A connection that never sends its upgrade is closed after
 * ws_handshake_s (1 s here; the wait is bounded by WAIT_MS, nothing is
 * timed), counted as refused; an upgraded one beside it stays. */
static void test_ws_handshake_timeout(void **state)
{
	uint8_t b[16];
	struct fx fx;
	int idle, good;
	(void)state;

	handshake_s = 1;
	fx_start(&fx, NULL, 0);
	handshake_s = 0;
	good = ws_client(&fx.ws4);
	idle = tcp_client(&fx.ws4);
	send_all(idle, "GET / HTTP/1.1\r\n", 16); /* and nothing more */
	assert_true(recv_wait(idle, b, sizeof(b)) == 0);
	close(idle);
	assert_int_equal(stats(&fx).ws_refused, 1);
	still_good(good, "after-timeout");
	close(good);
	fx_stop(&fx);
}

/* wss: the same over TLS (RFC 7118 §4 over the TLS stream of tls.c):
 * upgrade, OPTIONS answered with a Via WSS, ping/pong, an unmasked frame
 * closed 1002 (then the TLS session ends), others unaffected. */
static void test_wss(void **state)
{
	static const uint8_t unmasked[] = {0x81, 0x02, 'h', 'i'};
	char req[2048], resp[4096];
	uint8_t buf[64];
	enum cf_ws_op op;
	struct fx fx;
	size_t n;
	int fd, good;
	(void)state;

	fx_start_wss(&fx, NULL, 0, true);
	fd = ws_upgrade(tls_client(&fx.wss4));
	n = options_tp(req, sizeof(req), "wss-1", "WSS");
	frame_send(fd, true, CF_WS_OP_TEXT, req, n);
	sip_read(fd, resp, sizeof(resp));
	assert_non_null(strstr(resp, "SIP/2.0 200 OK\r\n"));
	assert_non_null(strstr(resp, "Via: SIP/2.0/WSS df7jal23ls0d.invalid;"));
	frame_send(fd, true, CF_WS_OP_PING, "tls", 3);
	assert_int_equal(frame_read(fd, buf, sizeof(buf), &op, &n), 0);
	assert_int_equal(op, CF_WS_OP_PONG);
	assert_int_equal(n, 3);
	/* a plain ws client beside it */
	good = ws_client(&fx.ws4);
	send_all(fd, unmasked, sizeof(unmasked));
	expect_close(fd, CF_WS_CLOSE_PROTOCOL);
	tls_client_close(fd);
	assert_int_equal(stats(&fx).ws_protocol_errors, 1);
	still_good(good, "beside-wss");
	close(good);
	assert_true(stats(&fx).tls_handshakes >= 1);
	assert_int_equal(stats(&fx).ws_upgrades, 2);
	fx_stop(&fx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_ws_options),
	    cmocka_unit_test(test_ws_fragments_ping),
	    cmocka_unit_test(test_ws_request_to_client),
	    cmocka_unit_test(test_ws_client_close),
	    cmocka_unit_test(test_ws_bad_frames),
	    cmocka_unit_test(test_ws_message_too_big),
	    cmocka_unit_test(test_ws_utf8),
	    cmocka_unit_test(test_ws_refused),
	    cmocka_unit_test(test_ws_raw_sip),
	    cmocka_unit_test(test_ws_handshake_timeout),
	    cmocka_unit_test(test_ws_oom),
	    cmocka_unit_test(test_wss),
	};
	char cmd[256];
	int rc;

	snprintf(tls_dir, sizeof(tls_dir), "/tmp/cf-test-wss-%ld",
	         (long)getpid());
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	SSL_CTX_free(cctx);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tls_dir);
	if (system(cmd) != 0)
		rc = rc ? rc : 1;
	return rc;
}
