/* SPDX-License-Identifier: BSD-3-Clause */
/* test_tls.c - the TLS transport: a 2-worker stack with a TLS listener on
 * an ephemeral 127.0.0.1 port, driven by OpenSSL clients written here
 * (blocking sockets with 3 s timeouts: every wait is bounded). */
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cmocka.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "sip/sip.h"

enum { WAIT_MS = 3000, BIG_BODY = 10000 };

/* Certificates made once for every test (cf_sip_tls_selfsigned): A for
 * confab.test, the default; B for b.test (SNI, reload). */
static char dir[256];
static char cert_a[512], key_a[512], cert_b[512], key_b[512];

/* ------------------------------------------------------------- fixture */

struct fx {
	long blocks;
	struct cf_sip *sip;
	struct cf_sa tls4;
	struct cf_sa tcp4;
};

static _Atomic int strays; /* responses to our own outgoing requests */

static void on_request(struct cf_sip_strans *st, const struct cf_sip_msg *msg,
                       const struct cf_sip_peer *peer, void *arg)
{
	static char big[BIG_BODY];
	struct cf_pl body = {big, sizeof(big)};

	(void)arg;
	memset(big, 'x', sizeof(big));
	/* "tls-many-" requests get a 10 kB body: their answers back up */
	if (st && peer->tp == CF_SIP_TP_TLS && msg->call_id.l > 9 &&
	    !memcmp(msg->call_id.p, "tls-many-", 9))
		(void)cf_sip_strans_reply(
		    st, 200, "OK", "Content-Type: text/plain\r\n", &body);
	else if (st && peer->tp == CF_SIP_TP_TLS)
		(void)cf_sip_strans_reply(st, 200, "OK", NULL, NULL);
	else if (st)
		(void)cf_sip_strans_reply(st, 606, "Not Over TLS", NULL, NULL);
}

static void on_stray(const struct cf_sip_msg *msg,
                     const struct cf_sip_peer *peer, void *arg)
{
	(void)arg;
	if (!msg->req && peer->tp == CF_SIP_TP_TLS)
		strays++;
}

static const struct cf_sip_txn_handlers handlers = {
    .request = on_request,
    .stray_response = on_stray,
};

static void listener_h(enum cf_sip_tp tp, const struct cf_sa *addr, void *arg)
{
	struct fx *fx = arg;

	if (tp == CF_SIP_TP_TLS)
		fx->tls4 = *addr;
	else if (tp == CF_SIP_TP_TCP)
		fx->tcp4 = *addr;
}

static void tls_cfg_a(struct cf_sip_tls_cfg *tc)
{
	cf_sip_tls_cfg_default(tc);
	tc->certificate = cert_a;
	tc->private_key = key_a;
	tc->ca_file = cert_a; /* outgoing: we verify ourselves */
}

static void fx_start_tls(struct fx *fx, const struct cf_sip_tls_cfg *tc)
{
	struct cf_sip_cfg cfg;
	struct cf_sa a;

	memset(fx, 0, sizeof(*fx));
	fx->blocks = cf_mem_blocks();
	cf_sip_cfg_default(&cfg);
	cfg.workers = 2;
	assert_int_equal(cf_sip_alloc(&fx->sip, &cfg, &handlers), 0);
	assert_int_equal(cf_sa_set_str(&a, "127.0.0.1", 0), 0);
	assert_int_equal(cf_sip_listen(fx->sip, CF_SIP_TP_TLS, &a), 0);
	assert_int_equal(cf_sip_listen(fx->sip, CF_SIP_TP_TCP, &a), 0);
	/* a TLS listener without a certificate does not start */
	assert_int_equal(cf_sip_start(fx->sip), ENOENT);
	assert_int_equal(cf_sip_tls_set(fx->sip, tc), 0);
	cf_sip_listeners_apply(fx->sip, listener_h, fx);
	assert_true(cf_sa_port(&fx->tls4) != 0);
	assert_int_equal(cf_sip_start(fx->sip), 0);
}

static void fx_start(struct fx *fx)
{
	struct cf_sip_tls_cfg tc;

	tls_cfg_a(&tc);
	fx_start_tls(fx, &tc);
}

static void fx_stop(struct fx *fx)
{
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

/* The failure count once it reaches n, or what it is after WAIT_MS: a
 * refused client may see the server's alert before the server's worker
 * has counted it (the alert leaves inside SSL_do_handshake). */
static uint64_t failures_reach(const struct fx *fx, uint64_t n)
{
	for (int i = 0; i < WAIT_MS / 10; i++) {
		struct timespec ts = {0, 10 * 1000000L};

		if (stats(fx).tls_handshake_failures >= n)
			break;
		nanosleep(&ts, NULL);
	}
	return stats(fx).tls_handshake_failures;
}

/* ------------------------------------------------------------- clients */

static int client_rcvbuf; /* SO_RCVBUF of the next clients, or 0 */

static int tcp_client(const struct cf_sa *srv)
{
	struct timeval tv = {WAIT_MS / 1000, 0};
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	if (client_rcvbuf)
		assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVBUF,
		                            &client_rcvbuf,
		                            sizeof(client_rcvbuf)),
		                 0);
	assert_int_equal(
	    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
	assert_int_equal(
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)), 0);
	assert_int_equal(connect(fd, &srv->u.sa, sizeof(struct sockaddr_in)),
	                 0);
	return fd;
}

struct client {
	SSL_CTX *ctx;
	SSL *ssl;
	int fd;
};

/* A TLS client. maxv: 0 or TLS1_VERSION/TLS1_1_VERSION (then SECLEVEL=0,
 * so the refusal is the server's, not our OpenSSL's). sni: NULL or a
 * name. Returns SSL_connect's result (1: up). */
static int client_open(struct client *c, const struct cf_sa *srv, int maxv,
                       const char *sni, const char *ca)
{
	memset(c, 0, sizeof(*c));
	c->ctx = SSL_CTX_new(TLS_client_method());
	assert_non_null(c->ctx);
	if (maxv) {
		assert_int_equal(SSL_CTX_set_min_proto_version(c->ctx, maxv),
		                 1);
		assert_int_equal(SSL_CTX_set_max_proto_version(c->ctx, maxv),
		                 1);
		assert_int_equal(
		    SSL_CTX_set_cipher_list(c->ctx, "DEFAULT:@SECLEVEL=0"), 1);
	}
	if (ca) {
		assert_int_equal(
		    SSL_CTX_load_verify_locations(c->ctx, ca, NULL), 1);
		SSL_CTX_set_verify(c->ctx, SSL_VERIFY_PEER, NULL);
	}
	c->fd = tcp_client(srv);
	c->ssl = SSL_new(c->ctx);
	assert_non_null(c->ssl);
	SSL_set_fd(c->ssl, c->fd);
	if (sni)
		SSL_set_tlsext_host_name(c->ssl, sni);
	return SSL_connect(c->ssl);
}

static void client_close(struct client *c)
{
	if (c->ssl)
		SSL_free(c->ssl);
	SSL_CTX_free(c->ctx);
	close(c->fd);
	ERR_clear_error();
	memset(c, 0, sizeof(*c));
	c->fd = -1;
}

/* The CN of the certificate the server showed. */
static void peer_cn(struct client *c, char *buf, size_t size)
{
	X509 *x = SSL_get1_peer_certificate(c->ssl);

	assert_non_null(x);
	assert_true(X509_NAME_get_text_by_NID(X509_get_subject_name(x),
	                                      NID_commonName, buf,
	                                      (int)size) > 0);
	X509_free(x);
}

static size_t options(char *buf, size_t size, const char *callid)
{
	int n = snprintf(buf, size,
	                 "OPTIONS sip:127.0.0.1 SIP/2.0\r\n"
	                 "Via: SIP/2.0/TLS 127.0.0.1:9;branch=z9hG4bK-%s;"
	                 "rport\r\n"
	                 "Max-Forwards: 70\r\n"
	                 "From: <sip:a@127.0.0.1>;tag=1\r\n"
	                 "To: <sip:127.0.0.1>\r\n"
	                 "Call-ID: %s\r\n"
	                 "CSeq: 1 OPTIONS\r\n"
	                 "Content-Length: 0\r\n\r\n",
	                 callid, callid);

	assert_true(n > 0 && (size_t)n < size);
	return (size_t)n;
}

/* An OPTIONS with a header of pad bytes (pad < 65000). */
static size_t options_pad(char *buf, size_t size, const char *callid,
                          size_t pad)
{
	static char padding[65000];
	int n;

	assert_true(pad < sizeof(padding));
	memset(padding, 'x', pad);
	padding[pad] = '\0';
	n = snprintf(buf, size,
	             "OPTIONS sip:127.0.0.1 SIP/2.0\r\n"
	             "Via: SIP/2.0/TLS 127.0.0.1:9;branch=z9hG4bK-%s;rport\r\n"
	             "Max-Forwards: 70\r\n"
	             "From: <sip:a@127.0.0.1>;tag=1\r\n"
	             "To: <sip:127.0.0.1>\r\n"
	             "Call-ID: %s\r\n"
	             "CSeq: 1 OPTIONS\r\n"
	             "X-Pad: %s\r\n"
	             "Content-Length: 0\r\n\r\n",
	             callid, callid, padding);
	assert_true(n > 0 && (size_t)n < size);
	return (size_t)n;
}

/* Read until `want` responses (no bodies here) or a bounded failure. */
static size_t read_responses(struct client *c, char *buf, size_t size, int want)
{
	size_t len = 0;
	int got = 0;

	while (got < want && len < size - 1) {
		int r = SSL_read(c->ssl, buf + len, (int)(size - 1 - len));

		if (r <= 0)
			break;
		len += (size_t)r;
		buf[len] = '\0';
		got = 0;
		for (const char *p = buf; (p = strstr(p, "\r\n\r\n")); p += 4)
			got++;
	}
	buf[len] = '\0';
	return len;
}

/* One OPTIONS on an open client, answered 200 on the same connection. */
static void client_options(struct client *c, const char *callid)
{
	char req[1024], resp[4096];
	size_t n = options(req, sizeof(req), callid);

	assert_int_equal(SSL_write(c->ssl, req, (int)n), (int)n);
	read_responses(c, resp, sizeof(resp), 1);
	assert_non_null(strstr(resp, "SIP/2.0 200 OK"));
	assert_non_null(strstr(resp, callid));
	assert_non_null(strstr(resp, "SIP/2.0/TLS"));
}

/* The server closed the plain socket: 0 or a reset within WAIT_MS. */
static bool closed_by_server(int fd)
{
	struct pollfd pfd = {.fd = fd, .events = POLLIN};
	char buf[512];

	for (int i = 0; i < 8; i++) {
		ssize_t r;

		if (poll(&pfd, 1, WAIT_MS) != 1)
			return false;
		r = recv(fd, buf, sizeof(buf), 0);
		if (r <= 0)
			return true;
	}
	return false;
}

/* --------------------------------------------------------------- tests */

static void test_selfsigned(void **state)
{
	char c2[512], k2[512];
	struct stat st;
	bool made = true;
	X509 *x;
	FILE *f;

	(void)state;
	/* made in main(); a second call reuses the files */
	assert_int_equal(cf_sip_tls_selfsigned(dir, "confab.test", c2,
	                                       sizeof(c2), k2, sizeof(k2),
	                                       &made),
	                 0);
	assert_false(made);
	assert_string_equal(c2, cert_a);
	assert_int_equal(stat(k2, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	f = fopen(c2, "r");
	assert_non_null(f);
	x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	assert_non_null(x);
	assert_int_equal(X509_check_host(x, "confab.test", 0, 0, NULL), 1);
	assert_int_equal(X509_check_ip_asc(x, "127.0.0.1", 0), 1);
	assert_int_equal(X509_check_ip_asc(x, "::1", 0), 1);
	assert_int_equal(X509_check_host(x, "other.test", 0, 0, NULL), 0);
	/* valid for years, not days */
	assert_true(X509_cmp_time(X509_get0_notAfter(x), NULL) > 0);
	{
		int days = 0, secs = 0;

		assert_int_equal(
		    ASN1_TIME_diff(&days, &secs, NULL, X509_get0_notAfter(x)),
		    1);
		assert_true(days > 3600);
	}
	X509_free(x);
	assert_int_equal(cf_sip_tls_selfsigned(NULL, "x", c2, sizeof(c2), k2,
	                                       sizeof(k2), NULL),
	                 EINVAL);
}

static void test_options_over_tls(void **state)
{
	struct client c;
	struct fx fx;

	(void)state;
	fx_start(&fx);
	/* verified against the self-signed certificate as the CA */
	assert_int_equal(client_open(&c, &fx.tls4, 0, "confab.test", cert_a),
	                 1);
	assert_int_equal(SSL_get_verify_result(c.ssl), X509_V_OK);
	assert_true(SSL_version(c.ssl) >= TLS1_2_VERSION);
	client_options(&c, "tls-opt-1");
	client_options(&c, "tls-opt-2");
	assert_int_equal(stats(&fx).tls_handshakes, 1);
	assert_int_equal(stats(&fx).tls_handshake_failures, 0);
	assert_int_equal(stats(&fx).conns_open, 1);
	client_close(&c);
	fx_stop(&fx);
}

static void test_pipelined(void **state)
{
	char req[2048], resp[8192];
	struct client c;
	struct fx fx;
	size_t n;

	(void)state;
	fx_start(&fx);
	assert_int_equal(client_open(&c, &fx.tls4, 0, NULL, NULL), 1);
	n = options(req, sizeof(req), "tls-pipe-1");
	n += options(req + n, sizeof(req) - n, "tls-pipe-2");
	n += options(req + n, sizeof(req) - n, "tls-pipe-3");
	/* three messages in one TLS record */
	assert_int_equal(SSL_write(c.ssl, req, (int)n), (int)n);
	read_responses(&c, resp, sizeof(resp), 3);
	assert_non_null(strstr(resp, "tls-pipe-1"));
	assert_non_null(strstr(resp, "tls-pipe-2"));
	assert_non_null(strstr(resp, "tls-pipe-3"));
	/* keep-alive over TLS: ping answered pong */
	assert_int_equal(SSL_write(c.ssl, "\r\n\r\n", 4), 4);
	assert_int_equal(SSL_read(c.ssl, resp, sizeof(resp)), 2);
	assert_memory_equal(resp, "\r\n", 2);
	client_close(&c);
	fx_stop(&fx);
}

static void test_garbage_handshake(void **state)
{
	static const char junk[] = "OPTIONS sip:x SIP/2.0\r\n\r\n"
	                           "\x16\x03\x01\x00\x05garbage";
	struct client good;
	struct fx fx;
	int bad;

	(void)state;
	fx_start(&fx);
	assert_int_equal(client_open(&good, &fx.tls4, 0, NULL, NULL), 1);
	bad = tcp_client(&fx.tls4);
	assert_int_equal(send(bad, junk, sizeof(junk) - 1, 0),
	                 (ssize_t)sizeof(junk) - 1);
	assert_true(closed_by_server(bad));
	close(bad);
	assert_int_equal(stats(&fx).tls_handshake_failures, 1);
	/* the other connection is unaffected */
	client_options(&good, "tls-after-garbage");
	assert_int_equal(stats(&fx).conns_open, 1);
	client_close(&good);
	fx_stop(&fx);
}

static void test_handshake_timeout(void **state)
{
	struct cf_sip_tls_cfg tc;
	struct fx fx;
	int fd;

	(void)state;
	tls_cfg_a(&tc);
	tc.handshake_ms = 100;
	fx_start_tls(&fx, &tc);
	fd = tcp_client(&fx.tls4); /* says nothing */
	assert_true(closed_by_server(fd));
	close(fd);
	assert_int_equal(stats(&fx).tls_handshake_failures, 1);
	assert_int_equal(stats(&fx).conns_open, 0);
	fx_stop(&fx);
}

static void test_old_versions_refused(void **state)
{
	static const int vers[] = {TLS1_VERSION, TLS1_1_VERSION};
	struct client c;
	struct fx fx;

	(void)state;
	fx_start(&fx);
	for (size_t i = 0; i < 2; i++) {
		assert_int_not_equal(
		    client_open(&c, &fx.tls4, vers[i], NULL, NULL), 1);
		client_close(&c);
	}
	/* the same client allowed TLS 1.2 gets through */
	assert_int_equal(client_open(&c, &fx.tls4, TLS1_2_VERSION, NULL, NULL),
	                 1);
	client_options(&c, "tls12-ok");
	client_close(&c);
	assert_int_equal(failures_reach(&fx, 2), 2);
	fx_stop(&fx);
}

static void test_reload(void **state)
{
	struct cf_sip_tls_cfg tc;
	struct client a, b;
	char cn[128];
	struct fx fx;

	(void)state;
	fx_start(&fx);
	assert_int_equal(client_open(&a, &fx.tls4, 0, NULL, NULL), 1);
	client_options(&a, "reload-a-1");
	peer_cn(&a, cn, sizeof(cn));
	assert_string_equal(cn, "confab.test");

	/* a bad file keeps what runs */
	tls_cfg_a(&tc);
	tc.private_key = key_b; /* does not match cert A */
	assert_int_equal(cf_sip_tls_set(fx.sip, &tc), EINVAL);
	tc.certificate = "/nonexistent/cert.pem";
	assert_int_equal(cf_sip_tls_set(fx.sip, &tc), EINVAL);

	tls_cfg_a(&tc);
	tc.certificate = cert_b;
	tc.private_key = key_b;
	assert_int_equal(cf_sip_tls_set(fx.sip, &tc), 0);
	assert_int_equal(client_open(&b, &fx.tls4, 0, NULL, NULL), 1);
	peer_cn(&b, cn, sizeof(cn));
	assert_string_equal(cn, "b.test");
	client_options(&b, "reload-b-1");
	/* the established connection keeps working, on its old session */
	client_options(&a, "reload-a-2");
	peer_cn(&a, cn, sizeof(cn));
	assert_string_equal(cn, "confab.test");
	client_close(&a);
	client_close(&b);
	assert_int_equal(stats(&fx).tls_handshakes, 2);
	fx_stop(&fx);
}

static void test_sni(void **state)
{
	struct cf_sip_tls_domain d = {"b.test", NULL, NULL};
	struct cf_sip_tls_cfg tc;
	struct client c;
	char cn[128];
	struct fx fx;

	(void)state;
	d.certificate = cert_b;
	d.private_key = key_b;
	tls_cfg_a(&tc);
	tc.domains = &d;
	tc.ndomains = 1;
	fx_start_tls(&fx, &tc);
	assert_int_equal(client_open(&c, &fx.tls4, 0, "b.test", cert_b), 1);
	peer_cn(&c, cn, sizeof(cn));
	assert_string_equal(cn, "b.test");
	client_options(&c, "sni-b");
	client_close(&c);
	assert_int_equal(client_open(&c, &fx.tls4, 0, "B.TEST", NULL), 1);
	peer_cn(&c, cn, sizeof(cn));
	assert_string_equal(cn, "b.test");
	client_close(&c);
	assert_int_equal(client_open(&c, &fx.tls4, 0, "unknown.test", NULL), 1);
	peer_cn(&c, cn, sizeof(cn));
	assert_string_equal(cn, "confab.test");
	client_close(&c);
	assert_int_equal(client_open(&c, &fx.tls4, 0, NULL, NULL), 1);
	peer_cn(&c, cn, sizeof(cn));
	assert_string_equal(cn, "confab.test");
	client_close(&c);
	fx_stop(&fx);
}

static void test_verify_client(void **state)
{
	struct cf_sip_tls_cfg tc;
	struct client c;
	struct fx fx;

	(void)state;
	tls_cfg_a(&tc);
	tc.verify_client = CF_SIP_TLS_VERIFY_REQUIRE;
	fx_start_tls(&fx, &tc);
	/* no client certificate: refused (TLS 1.3 reports it on the first
	 * read, 1.2 in the handshake) */
	if (client_open(&c, &fx.tls4, 0, NULL, NULL) == 1) {
		char buf[64];

		(void)SSL_write(c.ssl, "\r\n\r\n", 4);
		assert_true(SSL_read(c.ssl, buf, sizeof(buf)) <= 0);
	}
	client_close(&c);
	assert_int_equal(failures_reach(&fx, 1), 1);
	fx_stop(&fx);
}

/* Wait (bounded) for strays to reach n. */
static bool strays_reach(int n)
{
	for (int i = 0; i < WAIT_MS / 10; i++) {
		struct timespec ts = {0, 10 * 1000000L};

		if (strays >= n)
			return true;
		nanosleep(&ts, NULL);
	}
	return strays >= n;
}

/* Client mode: the stack sends an OPTIONS to its own TLS listener,
 * verifying the server certificate against the CA file and the name; the
 * answer comes back over the connection it opened. A wrong name fails the
 * handshake (counted on both sides). */
static void test_outgoing(void **state)
{
	struct cf_sip_peer peer;
	struct cf_pl pl;
	char req[1024];
	struct fx fx;
	size_t n;

	(void)state;
	strays = 0;
	fx_start(&fx);
	memset(&peer, 0, sizeof(peer));
	peer.tp = CF_SIP_TP_TLS;
	peer.addr = fx.tls4;
	n = options(req, sizeof(req), "tls-out-1");
	pl.p = req;
	pl.l = n;
	assert_int_equal(cf_sip_send_host(fx.sip, &peer, "confab.test", &pl),
	                 0);
	assert_true(strays_reach(1));
	/* reused: a second request opens no new connection */
	n = options(req, sizeof(req), "tls-out-2");
	pl.l = n;
	assert_int_equal(cf_sip_send(fx.sip, &peer, &pl), 0);
	assert_true(strays_reach(2));
	assert_int_equal(stats(&fx).tls_handshakes, 2); /* both ends */
	assert_int_equal(stats(&fx).conns_open, 2);
	fx_stop(&fx);

	/* the certificate does not name "wrong.test" */
	strays = 0;
	fx_start(&fx);
	memset(&peer, 0, sizeof(peer));
	peer.tp = CF_SIP_TP_TLS;
	peer.addr = fx.tls4;
	n = options(req, sizeof(req), "tls-out-3");
	pl.p = req;
	pl.l = n;
	assert_int_equal(cf_sip_send_host(fx.sip, &peer, "wrong.test", &pl), 0);
	assert_int_equal(failures_reach(&fx, 2), 2);
	assert_int_equal(strays, 0);
	fx_stop(&fx);

	/* verify_server off (a trunk with a self-signed certificate): the
	 * same wrong name gets through */
	strays = 0;
	{
		struct cf_sip_tls_cfg tc;

		tls_cfg_a(&tc);
		tc.verify_server = false;
		tc.ca_file = NULL;
		fx_start_tls(&fx, &tc);
	}
	memset(&peer, 0, sizeof(peer));
	peer.tp = CF_SIP_TP_TLS;
	peer.addr = fx.tls4;
	n = options(req, sizeof(req), "tls-out-4");
	pl.p = req;
	pl.l = n;
	assert_int_equal(cf_sip_send_host(fx.sip, &peer, "wrong.test", &pl), 0);
	assert_true(strays_reach(1));
	assert_int_equal(stats(&fx).tls_handshake_failures, 0);
	fx_stop(&fx);
}

/* A 60 kB message crosses several TLS records and reads; 400 pipelined
 * requests whose answers carry 10 kB each (4 MB: more than the socket
 * buffers, less than the queue limit), written before reading anything,
 * make the server's writes back up (SSL_write WANT_WRITE, the queue,
 * EPOLLOUT): every answer arrives, in order, on the same connection. */
static void test_large_and_backlog(void **state)
{
	enum { N = 400 };
	static char req[70000], resp[N * (BIG_BODY + 600)];
	struct client c;
	struct fx fx;
	size_t n, len;
	int got = 0;

	(void)state;
	fx_start(&fx);
	client_rcvbuf = 4096; /* the server's answers back up */
	assert_int_equal(client_open(&c, &fx.tls4, 0, NULL, NULL), 1);
	client_rcvbuf = 0;
	n = options_pad(req, sizeof(req), "tls-big", 60000);
	assert_true(n > 60000 && n < 65535);
	assert_int_equal(SSL_write(c.ssl, req, (int)n), (int)n);
	read_responses(&c, resp, sizeof(resp), 1);
	assert_non_null(strstr(resp, "SIP/2.0 200"));
	assert_non_null(strstr(resp, "tls-big"));

	for (int i = 0; i < N; i++) {
		char id[32];

		snprintf(id, sizeof(id), "tls-many-%d", i);
		n = options(req, sizeof(req), id);
		assert_int_equal(SSL_write(c.ssl, req, (int)n), (int)n);
	}
	len = read_responses(&c, resp, sizeof(resp), N);
	for (const char *q = resp; (q = strstr(q, "SIP/2.0 200 OK")); q++)
		got++;
	assert_int_equal(got, N);
	assert_true(len > 0);
	assert_non_null(strstr(resp, "tls-many-0\r\n"));
	assert_non_null(strstr(resp, "tls-many-399\r\n"));
	client_close(&c);
	fx_stop(&fx);
}

/* A message over max_msg closes that TLS connection (oversize). */
static void test_oversize(void **state)
{
	static char req[8192];
	struct cf_sip_tls_cfg tc;
	struct cf_sip_cfg cfg;
	struct client c;
	struct cf_sa a;
	struct fx fx;
	char buf[64];
	size_t n;

	(void)state;
	memset(&fx, 0, sizeof(fx));
	fx.blocks = cf_mem_blocks();
	cf_sip_cfg_default(&cfg);
	cfg.workers = 2;
	cfg.max_msg = 2048;
	assert_int_equal(cf_sip_alloc(&fx.sip, &cfg, &handlers), 0);
	assert_int_equal(cf_sa_set_str(&a, "127.0.0.1", 0), 0);
	assert_int_equal(cf_sip_listen(fx.sip, CF_SIP_TP_TLS, &a), 0);
	tls_cfg_a(&tc);
	assert_int_equal(cf_sip_tls_set(fx.sip, &tc), 0);
	cf_sip_listeners_apply(fx.sip, listener_h, &fx);
	assert_int_equal(cf_sip_start(fx.sip), 0);

	assert_int_equal(client_open(&c, &fx.tls4, 0, NULL, NULL), 1);
	n = options_pad(req, sizeof(req), "tls-over", 4000);
	assert_int_equal(SSL_write(c.ssl, req, (int)n), (int)n);
	assert_true(SSL_read(c.ssl, buf, sizeof(buf)) <= 0);
	client_close(&c);
	assert_int_equal(stats(&fx).oversize, 1);
	fx_stop(&fx);
}

/* The plain TCP listener beside TLS still works, and its messages say
 * TCP (the handler answers 606 to anything not over TLS). */
static void test_tcp_beside(void **state)
{
	char req[1024], resp[2048];
	struct fx fx;
	ssize_t r;
	size_t n;
	int fd;

	(void)state;
	fx_start(&fx);
	fd = tcp_client(&fx.tcp4);
	n = options(req, sizeof(req), "tcp-beside");
	assert_int_equal(send(fd, req, n, 0), (ssize_t)n);
	r = recv(fd, resp, sizeof(resp) - 1, 0);
	assert_true(r > 0);
	resp[r] = '\0';
	assert_non_null(strstr(resp, "SIP/2.0 606"));
	close(fd);
	fx_stop(&fx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_selfsigned),
	    cmocka_unit_test(test_options_over_tls),
	    cmocka_unit_test(test_pipelined),
	    cmocka_unit_test(test_garbage_handshake),
	    cmocka_unit_test(test_handshake_timeout),
	    cmocka_unit_test(test_old_versions_refused),
	    cmocka_unit_test(test_reload),
	    cmocka_unit_test(test_sni),
	    cmocka_unit_test(test_verify_client),
	    cmocka_unit_test(test_outgoing),
	    cmocka_unit_test(test_large_and_backlog),
	    cmocka_unit_test(test_oversize),
	    cmocka_unit_test(test_tcp_beside),
	};
	char cmd[300];
	bool made = false;
	int rc;

	cf_log_set_level(CF_LOG_WARN);
	snprintf(dir, sizeof(dir), "/tmp/cf-test-tls-XXXXXX");
	if (!mkdtemp(dir))
		return 1;
	strcat(dir, "/tls"); /* made by cf_sip_tls_selfsigned */
	if (cf_sip_tls_selfsigned(dir, "confab.test", cert_a, sizeof(cert_a),
	                          key_a, sizeof(key_a), &made) ||
	    !made ||
	    cf_sip_tls_selfsigned(dir, "b.test", cert_b, sizeof(cert_b), key_b,
	                          sizeof(key_b), &made) ||
	    !made)
		return 1;
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	dir[strlen(dir) - 4] = '\0';
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd))
		rc = rc ? rc : 1;
	return rc;
}
