/* SPDX-License-Identifier: BSD-3-Clause */
/* test_transport.c - the UDP/TCP transports and the stack, over real
 * sockets on 127.0.0.1 and ::1 (ephemeral ports, bounded poll waits). */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "sip/sip.h"
#include "sip/stack_priv.h"

enum { WAIT_MS = 3000 };

/* ------------------------------------------------------------- fixture */

struct fx {
	long blocks;
	struct cf_sip *sip;
	struct cf_sa udp4, udp6, tcp4, tcp6;
};

static void on_request(struct cf_sip_strans *st, const struct cf_sip_msg *msg,
                       const struct cf_sip_peer *peer, void *arg)
{
	if (st)
		(void)cf_sip_strans_reply(st, 200, "OK", NULL, NULL);
}

static const struct cf_sip_txn_handlers handlers = {
    .request = on_request,
};

static void listener_h(enum cf_sip_tp tp, const struct cf_sa *addr, void *arg)
{
	struct fx *fx = arg;
	bool v6 = cf_sa_af(addr) == AF_INET6;

	if (tp == CF_SIP_TP_UDP)
		*(v6 ? &fx->udp6 : &fx->udp4) = *addr;
	else
		*(v6 ? &fx->tcp6 : &fx->tcp4) = *addr;
}

static void fx_start(struct fx *fx, const struct cf_sip_cfg *cfg)
{
	struct cf_sa a;

	memset(fx, 0, sizeof(*fx));
	fx->blocks = cf_mem_blocks();
	assert_int_equal(cf_sip_alloc(&fx->sip, cfg, &handlers), 0);
	assert_int_equal(cf_sa_set_str(&a, "127.0.0.1", 0), 0);
	assert_int_equal(cf_sip_listen(fx->sip, CF_SIP_TP_UDP, &a), 0);
	assert_int_equal(cf_sip_listen(fx->sip, CF_SIP_TP_TCP, &a), 0);
	assert_int_equal(cf_sa_set_str(&a, "::1", 0), 0);
	assert_int_equal(cf_sip_listen(fx->sip, CF_SIP_TP_UDP, &a), 0);
	assert_int_equal(cf_sip_listen(fx->sip, CF_SIP_TP_TCP, &a), 0);
	cf_sip_listeners_apply(fx->sip, listener_h, fx);
	assert_true(cf_sa_port(&fx->udp4) && cf_sa_port(&fx->udp6));
	assert_true(cf_sa_port(&fx->tcp4) && cf_sa_port(&fx->tcp6));
	assert_int_equal(cf_sip_start(fx->sip), 0);
}

static void fx_cfg(struct cf_sip_cfg *cfg)
{
	cf_sip_cfg_default(cfg);
	cfg->workers = 2;
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

/* ------------------------------------------------------------- clients */

static socklen_t salen(const struct cf_sa *sa)
{
	return cf_sa_af(sa) == AF_INET6 ? sizeof(struct sockaddr_in6)
	                                : sizeof(struct sockaddr_in);
}

static int udp_client(const struct cf_sa *srv)
{
	int fd = socket(cf_sa_af(srv), SOCK_DGRAM, 0);

	assert_true(fd >= 0);
	assert_int_equal(connect(fd, &srv->u.sa, salen(srv)), 0);
	return fd;
}

static int tcp_client(const struct cf_sa *srv)
{
	int fd = socket(cf_sa_af(srv), SOCK_STREAM, 0);

	assert_true(fd >= 0);
	assert_int_equal(connect(fd, &srv->u.sa, salen(srv)), 0);
	return fd;
}

static uint16_t local_port(int fd)
{
	struct cf_sa sa;

	memset(&sa, 0, sizeof(sa));
	sa.len = sizeof(sa.u.ss);
	assert_int_equal(getsockname(fd, &sa.u.sa, &sa.len), 0);
	return cf_sa_port(&sa);
}

/* An OPTIONS request; pad adds a header of that many bytes. */
static size_t options(char *buf, size_t size, const char *tp,
                      const char *callid, size_t pad)
{
	static char padding[70000];
	int n;

	memset(padding, 'x', sizeof(padding) - 1);
	padding[pad < sizeof(padding) ? pad : sizeof(padding) - 1] = '\0';
	n = snprintf(buf, size,
	             "OPTIONS sip:test@127.0.0.1 SIP/2.0\r\n"
	             "Via: SIP/2.0/%s 127.0.0.1:9;branch=z9hG4bK-%s;rport\r\n"
	             "Max-Forwards: 70\r\n"
	             "From: <sip:a@127.0.0.1>;tag=1\r\n"
	             "To: <sip:test@127.0.0.1>\r\n"
	             "Call-ID: %s\r\n"
	             "CSeq: 1 OPTIONS\r\n"
	             "%s%s%s"
	             "Content-Length: 0\r\n\r\n",
	             tp, callid, callid, pad ? "X-Pad: " : "",
	             pad ? padding : "", pad ? "\r\n" : "");
	assert_true(n > 0 && (size_t)n < size);
	return (size_t)n;
}

/* Read within WAIT_MS; returns bytes (0: closed by the server, -1: reset,
 * -2: nothing in time). */
static ssize_t recv_wait(int fd, char *buf, size_t size)
{
	struct pollfd pfd = {.fd = fd, .events = POLLIN};
	ssize_t r;

	if (poll(&pfd, 1, WAIT_MS) != 1)
		return -2;
	r = recv(fd, buf, size, 0);
	return r < 0 ? -1 : r;
}

/* Read from a stream until `want` complete responses (each ends with an
 * empty line and has no body here). */
static size_t tcp_read_responses(int fd, char *buf, size_t size, int want)
{
	size_t len = 0;
	int got = 0;

	while (got < want && len < size - 1) {
		ssize_t r = recv_wait(fd, buf + len, size - 1 - len);

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

static void sleep_ms(long ms)
{
	struct timespec ts = {0, ms * 1000000L};

	nanosleep(&ts, NULL);
}

/* --------------------------------------------------------------- tests */

static void udp_options(const struct cf_sa *srv)
{
	char req[2048], resp[4096];
	int fd = udp_client(srv);
	size_t n = options(req, sizeof(req), "UDP", "udp-opt-1", 0);
	ssize_t r;

	assert_int_equal(send(fd, req, n, 0), (ssize_t)n);
	r = recv_wait(fd, resp, sizeof(resp) - 1);
	assert_true(r > 0);
	resp[r] = '\0';
	/* answered to the source port (rport, RFC 3581), not the Via's 9 */
	assert_non_null(strstr(resp, "SIP/2.0 200"));
	assert_non_null(strstr(resp, "udp-opt-1"));
	assert_true(local_port(fd) != 9);
	close(fd);
}

static void test_udp4_options(void **state)
{
	struct cf_sip_cfg cfg;
	struct fx fx;

	fx_cfg(&cfg);
	fx_start(&fx, &cfg);
	udp_options(&fx.udp4);
	assert_true(stats(&fx).rx_msgs >= 1);
	assert_true(stats(&fx).tx_msgs >= 1);
	fx_stop(&fx);
}

static void test_udp6_options(void **state)
{
	struct cf_sip_cfg cfg;
	struct fx fx;

	fx_cfg(&cfg);
	fx_start(&fx, &cfg);
	udp_options(&fx.udp6);
	fx_stop(&fx);
}

static void test_tcp_pipelined(void **state)
{
	char req[4096], resp[8192];
	struct cf_sip_cfg cfg;
	struct fx fx;
	size_t n;
	int fd;

	fx_cfg(&cfg);
	fx_start(&fx, &cfg);
	fd = tcp_client(&fx.tcp4);
	n = options(req, sizeof(req), "TCP", "pipe-1", 0);
	n += options(req + n, sizeof(req) - n, "TCP", "pipe-2", 0);
	assert_int_equal(send(fd, req, n, 0), (ssize_t)n);
	tcp_read_responses(fd, resp, sizeof(resp), 2);
	assert_non_null(strstr(resp, "pipe-1"));
	assert_non_null(strstr(resp, "pipe-2"));
	close(fd);
	fx_stop(&fx);
}

static void test_tcp6_split(void **state)
{
	char req[2048], resp[4096];
	struct cf_sip_cfg cfg;
	struct fx fx;
	size_t n, a, b;
	int fd;

	fx_cfg(&cfg);
	fx_start(&fx, &cfg);
	fd = tcp_client(&fx.tcp6);
	n = options(req, sizeof(req), "TCP", "split-1", 0);
	a = n / 3;
	b = 2 * n / 3;
	assert_int_equal(send(fd, req, a, 0), (ssize_t)a);
	sleep_ms(20);
	assert_int_equal(send(fd, req + a, b - a, 0), (ssize_t)(b - a));
	sleep_ms(20);
	assert_int_equal(send(fd, req + b, n - b, 0), (ssize_t)(n - b));
	tcp_read_responses(fd, resp, sizeof(resp), 1);
	assert_non_null(strstr(resp, "SIP/2.0 200"));
	assert_non_null(strstr(resp, "split-1"));
	close(fd);
	fx_stop(&fx);
}

static void test_tcp_keepalive(void **state)
{
	struct cf_sip_cfg cfg;
	char buf[16];
	struct fx fx;
	ssize_t r;
	int fd;

	fx_cfg(&cfg);
	fx_start(&fx, &cfg);
	fd = tcp_client(&fx.tcp4);
	assert_int_equal(send(fd, "\r\n\r\n", 4, 0), 4);
	r = recv_wait(fd, buf, sizeof(buf));
	assert_int_equal(r, 2);
	assert_memory_equal(buf, "\r\n", 2);
	assert_int_equal(stats(&fx).keepalive_pongs, 1);
	close(fd);
	fx_stop(&fx);
}

static void test_tcp_garbage(void **state)
{
	char req[2048], resp[4096];
	struct cf_sip_cfg cfg;
	struct fx fx;
	int bad, good;
	size_t n;

	fx_cfg(&cfg);
	fx_start(&fx, &cfg);
	good = tcp_client(&fx.tcp4);
	bad = tcp_client(&fx.tcp4);
	n = options(req, sizeof(req), "TCP", "good-1", 0);
	assert_int_equal(send(good, req, n, 0), (ssize_t)n);
	tcp_read_responses(good, resp, sizeof(resp), 1);
	assert_non_null(strstr(resp, "good-1"));

	const char junk[] = "\x01\x02garbage that is not SIP\r\n"
	                    "Content-Length: 0\r\n\r\n";
	assert_int_equal(send(bad, junk, sizeof(junk) - 1, 0),
	                 (ssize_t)sizeof(junk) - 1);
	assert_true(recv_wait(bad, resp, sizeof(resp)) <= 0 &&
	            recv_wait(bad, resp, sizeof(resp)) != -2);
	assert_int_equal(stats(&fx).stream_garbage, 1);

	n = options(req, sizeof(req), "TCP", "good-2", 0);
	assert_int_equal(send(good, req, n, 0), (ssize_t)n);
	tcp_read_responses(good, resp, sizeof(resp), 1);
	assert_non_null(strstr(resp, "good-2"));
	close(bad);
	close(good);
	fx_stop(&fx);
}

static void test_udp_oversize(void **state)
{
	static char req[8192];
	char resp[4096];
	struct cf_sip_cfg cfg;
	struct fx fx;
	ssize_t r;
	size_t n;
	int fd;

	fx_cfg(&cfg);
	cfg.max_msg = 2000;
	fx_start(&fx, &cfg);
	fd = udp_client(&fx.udp4);
	/* at the limit: answered 200 */
	n = options(req, sizeof(req), "UDP", "size-ok", 0);
	n = options(req, sizeof(req), "UDP", "size-ok", 2000 - n - 9);
	assert_int_equal(n, 2000);
	assert_int_equal(send(fd, req, n, 0), (ssize_t)n);
	r = recv_wait(fd, resp, sizeof(resp) - 1);
	assert_true(r > 0);
	resp[r] = '\0';
	assert_non_null(strstr(resp, "SIP/2.0 200"));
	/* past it: 513 */
	n = options(req, sizeof(req), "UDP", "size-big", 3000);
	assert_int_equal(send(fd, req, n, 0), (ssize_t)n);
	r = recv_wait(fd, resp, sizeof(resp) - 1);
	assert_true(r > 0);
	resp[r] = '\0';
	assert_non_null(strstr(resp, "SIP/2.0 513"));
	assert_non_null(strstr(resp, "size-big"));
	assert_int_equal(stats(&fx).oversize, 1);
	close(fd);
	fx_stop(&fx);
}

static void test_tcp_oversize(void **state)
{
	static char req[8192];
	char resp[4096];
	struct cf_sip_cfg cfg;
	struct fx fx;
	size_t n;
	int fd;

	fx_cfg(&cfg);
	cfg.max_msg = 2000;
	fx_start(&fx, &cfg);
	fd = tcp_client(&fx.tcp4);
	n = options(req, sizeof(req), "TCP", "tcp-big", 3000);
	(void)send(fd, req, n, MSG_NOSIGNAL);
	ssize_t r = recv_wait(fd, resp, sizeof(resp));
	assert_true(r == 0 || r == -1);
	assert_int_equal(stats(&fx).oversize, 1);
	close(fd);
	fx_stop(&fx);
}

static void test_tcp_limit_per_ip(void **state)
{
	char req[2048], resp[4096];
	struct cf_sip_cfg cfg;
	struct fx fx;
	int fd[3];
	size_t n;

	fx_cfg(&cfg);
	cfg.tcp_max_per_ip = 2;
	fx_start(&fx, &cfg);
	for (int i = 0; i < 2; i++) {
		char cid[16];

		snprintf(cid, sizeof(cid), "lim-%d", i);
		fd[i] = tcp_client(&fx.tcp4);
		n = options(req, sizeof(req), "TCP", cid, 0);
		assert_int_equal(send(fd[i], req, n, 0), (ssize_t)n);
		tcp_read_responses(fd[i], resp, sizeof(resp), 1);
		assert_non_null(strstr(resp, cid));
	}
	assert_int_equal(stats(&fx).conns_open, 2);
	fd[2] = tcp_client(&fx.tcp4); /* the kernel completes it... */
	ssize_t r = recv_wait(fd[2], resp, sizeof(resp));
	assert_true(r == 0 || r == -1); /* ...we close it */
	assert_int_equal(stats(&fx).conns_refused, 1);
	for (int i = 0; i < 3; i++)
		close(fd[i]);
	fx_stop(&fx);
}

/* Many calls on one stream: each is handled by its Call-ID's worker, and
 * answers from the worker that does not own the connection go through the
 * owner's mailbox; all arrive. */
static void test_tcp_cross_worker(void **state)
{
	static char req[16384], resp[32768];
	struct cf_sip_cfg cfg;
	struct fx fx;
	size_t n = 0;
	int fd;

	fx_cfg(&cfg);
	fx_start(&fx, &cfg);
	fd = tcp_client(&fx.tcp6);
	for (int i = 0; i < 16; i++) {
		char cid[16];

		snprintf(cid, sizeof(cid), "cross-%d", i);
		n += options(req + n, sizeof(req) - n, "TCP", cid, 0);
	}
	assert_int_equal(send(fd, req, n, 0), (ssize_t)n);
	tcp_read_responses(fd, resp, sizeof(resp), 16);
	for (int i = 0; i < 16; i++) {
		char cid[20];

		snprintf(cid, sizeof(cid), "cross-%d\r\n", i);
		assert_non_null(strstr(resp, cid));
	}
	assert_true(cf_sip_worker_handled(fx.sip, 0) > 0);
	assert_true(cf_sip_worker_handled(fx.sip, 1) > 0);
	close(fd);
	fx_stop(&fx);
}

/* The limit on connections in all (tcp_max). */
static void test_tcp_limit_total(void **state)
{
	char req[2048], resp[4096];
	struct cf_sip_cfg cfg;
	struct fx fx;
	int a, b;
	size_t n;

	fx_cfg(&cfg);
	cfg.tcp_max = 1;
	fx_start(&fx, &cfg);
	a = tcp_client(&fx.tcp4);
	n = options(req, sizeof(req), "TCP", "total-1", 0);
	assert_int_equal(send(a, req, n, 0), (ssize_t)n);
	tcp_read_responses(a, resp, sizeof(resp), 1);
	assert_non_null(strstr(resp, "total-1"));
	b = tcp_client(&fx.tcp6);
	ssize_t r = recv_wait(b, resp, sizeof(resp));
	assert_true(r == 0 || r == -1);
	assert_int_equal(stats(&fx).conns_refused, 1);
	close(a);
	close(b);
	fx_stop(&fx);
}

static void test_tcp_idle(void **state)
{
	char req[2048], resp[4096];
	struct cf_sip_cfg cfg;
	struct fx fx;
	size_t n;
	int fd;

	fx_cfg(&cfg);
	cfg.tcp_idle_s = 1;
	fx_start(&fx, &cfg);
	fd = tcp_client(&fx.tcp4);
	n = options(req, sizeof(req), "TCP", "idle-1", 0);
	assert_int_equal(send(fd, req, n, 0), (ssize_t)n);
	tcp_read_responses(fd, resp, sizeof(resp), 1);
	assert_non_null(strstr(resp, "idle-1"));
	/* nothing more: the server closes within ~1 s (we wait up to 3) */
	ssize_t r = recv_wait(fd, resp, sizeof(resp));
	assert_true(r == 0 || r == -1);
	assert_int_equal(stats(&fx).conns_open, 0);
	close(fd);
	fx_stop(&fx);
}

/* One source address and port, many calls: both workers get work. */
static void test_udp_spread(void **state)
{
	char req[2048], resp[4096];
	struct cf_sip_cfg cfg;
	struct fx fx;
	int fd, got = 0;

	fx_cfg(&cfg);
	fx_start(&fx, &cfg);
	fd = udp_client(&fx.udp4);
	for (int burst = 0; burst < 10; burst++) {
		for (int i = 0; i < 20; i++) {
			char cid[32];
			size_t n;

			snprintf(cid, sizeof(cid), "spread-%d-%d", burst, i);
			n = options(req, sizeof(req), "UDP", cid, 0);
			assert_int_equal(send(fd, req, n, 0), (ssize_t)n);
		}
		for (int i = 0; i < 20; i++) {
			if (recv_wait(fd, resp, sizeof(resp)) > 0)
				got++;
		}
	}
	assert_int_equal(got, 200);
	assert_true(cf_sip_worker_handled(fx.sip, 0) > 0);
	assert_true(cf_sip_worker_handled(fx.sip, 1) > 0);
	assert_int_equal(cf_sip_worker_handled(fx.sip, 0) +
	                     cf_sip_worker_handled(fx.sip, 1),
	                 200);
	close(fd);
	fx_stop(&fx);
}

/* cf_sip_send over TCP with no connection opens one, then reuses it. */
static void test_tcp_outgoing_reuse(void **state)
{
	struct cf_sip_cfg cfg;
	struct cf_sip_peer peer;
	struct cf_sa srv;
	char buf[256];
	struct fx fx;
	size_t len = 0;
	int lfd, cfd, one = 1;
	struct pollfd pfd;

	fx_cfg(&cfg);
	fx_start(&fx, &cfg);
	lfd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(lfd >= 0);
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	assert_int_equal(cf_sa_set_str(&srv, "127.0.0.1", 0), 0);
	assert_int_equal(bind(lfd, &srv.u.sa, salen(&srv)), 0);
	assert_int_equal(listen(lfd, 4), 0);
	srv.len = sizeof(srv.u.ss);
	assert_int_equal(getsockname(lfd, &srv.u.sa, &srv.len), 0);

	memset(&peer, 0, sizeof(peer));
	peer.tp = CF_SIP_TP_TCP;
	peer.addr = srv;
	assert_int_equal(cf_sip_send(fx.sip, &peer, &CF_PL("hello ")), 0);
	pfd = (struct pollfd){.fd = lfd, .events = POLLIN};
	assert_int_equal(poll(&pfd, 1, WAIT_MS), 1);
	cfd = accept(lfd, NULL, NULL);
	assert_true(cfd >= 0);
	while (len < 6) {
		ssize_t r = recv_wait(cfd, buf + len, sizeof(buf) - len);

		assert_true(r > 0);
		len += (size_t)r;
	}
	assert_int_equal(stats(&fx).conns_open, 1);
	assert_int_equal(cf_sip_send(fx.sip, &peer, &CF_PL("world")), 0);
	while (len < 11) {
		ssize_t r = recv_wait(cfd, buf + len, sizeof(buf) - len);

		assert_true(r > 0);
		len += (size_t)r;
	}
	assert_memory_equal(buf, "hello world", 11);
	/* no second connection */
	pfd = (struct pollfd){.fd = lfd, .events = POLLIN};
	assert_int_equal(poll(&pfd, 1, 0), 0);
	assert_int_equal(stats(&fx).conns_open, 1);
	close(cfd);
	close(lfd);
	fx_stop(&fx);
}

/* Out of memory at every allocation of alloc/listen/start: an error or a
 * running stack, and after stop nothing leaks. */
static void test_oom_start(void **state)
{
	for (long n = 1; n < 200; n++) {
		long blocks = cf_mem_blocks();
		struct cf_sip_cfg cfg;
		struct cf_sip *sip = NULL;
		struct cf_sa a;
		int err;

		fx_cfg(&cfg);
		assert_int_equal(cf_sa_set_str(&a, "127.0.0.1", 0), 0);
		cf_mem_fail_after(n);
		err = cf_sip_alloc(&sip, &cfg, &handlers);
		if (!err)
			err = cf_sip_listen(sip, CF_SIP_TP_UDP, &a);
		if (!err)
			err = cf_sip_listen(sip, CF_SIP_TP_TCP, &a);
		if (!err)
			err = cf_sip_start(sip);
		cf_mem_fail_after(0);
		if (err)
			assert_int_equal(err, ENOMEM);
		cf_sip_stop(sip, 0);
		sip = cf_mem_deref(sip);
		assert_int_equal(cf_mem_blocks(), blocks);
		if (!err)
			break; /* every allocation point was failed once */
	}
}

/* Out of memory while receiving: the datagram is lost (the peer would
 * retransmit), the next one is answered. */
static void test_oom_rx(void **state)
{
	char req[2048], resp[4096];
	struct cf_sip_cfg cfg;
	struct fx fx;
	size_t n;
	int fd;

	fx_cfg(&cfg);
	cfg.workers = 1;
	fx_start(&fx, &cfg);
	fd = udp_client(&fx.udp4);
	n = options(req, sizeof(req), "UDP", "oom-1", 0);
	cf_mem_fail_after(1);
	assert_int_equal(send(fd, req, n, 0), (ssize_t)n);
	struct pollfd pfd = {.fd = fd, .events = POLLIN};
	(void)poll(&pfd, 1, 200); /* the lost one: usually no answer */
	cf_mem_fail_after(0);
	if (pfd.revents & POLLIN)
		(void)recv(fd, resp, sizeof(resp), 0);
	n = options(req, sizeof(req), "UDP", "oom-2", 0);
	assert_int_equal(send(fd, req, n, 0), (ssize_t)n);
	ssize_t r = recv_wait(fd, resp, sizeof(resp) - 1);
	assert_true(r > 0);
	resp[r] = '\0';
	assert_non_null(strstr(resp, "oom-2"));
	close(fd);
	fx_stop(&fx);
}

/* Stop with transactions open (UDP non-INVITE: Timer J keeps them 32 s):
 * cf_sip_stop waits for them (bounded by max_wait_ms) and meanwhile
 * refuses new requests with 503; then it frees everything. */
static void *stop_thread(void *arg)
{
	cf_sip_stop(arg, 1000);
	return NULL;
}

static void test_stop_graceful(void **state)
{
	char req[2048], resp[4096];
	struct cf_sip_cfg cfg;
	struct fx fx;
	pthread_t thr;
	ssize_t r;
	size_t n;
	int fd;

	fx_cfg(&cfg);
	fx_start(&fx, &cfg);
	udp_options(&fx.udp4); /* leaves a transaction in Completed */
	assert_int_equal(pthread_create(&thr, NULL, stop_thread, fx.sip), 0);
	for (int i = 0; i < 1000 && !atomic_load(&fx.sip->stopping); i++)
		sleep_ms(1);
	assert_true(atomic_load(&fx.sip->stopping));
	fd = udp_client(&fx.udp4);
	n = options(req, sizeof(req), "UDP", "late-1", 0);
	assert_int_equal(send(fd, req, n, 0), (ssize_t)n);
	r = recv_wait(fd, resp, sizeof(resp) - 1);
	assert_true(r > 0);
	resp[r] = '\0';
	assert_non_null(strstr(resp, "SIP/2.0 503"));
	assert_non_null(strstr(resp, "Retry-After"));
	pthread_join(thr, NULL);
	close(fd);
	fx_stop(&fx);
}

static void test_tp_names(void **state)
{
	enum cf_sip_tp tp;

	assert_string_equal(cf_sip_tp_name(CF_SIP_TP_TCP), "TCP");
	assert_int_equal(cf_sip_tp_decode(&CF_PL("udp"), &tp), 0);
	assert_int_equal(tp, CF_SIP_TP_UDP);
	assert_int_equal(cf_sip_tp_decode(&CF_PL("sctp"), &tp), EINVAL);
}

static void test_cfg_default(void **state)
{
	struct cf_sip_cfg cfg;

	cf_sip_cfg_default(&cfg);
	assert_int_equal(cfg.t1_ms, 500);
	assert_int_equal(cfg.t2_ms, 4000);
	assert_int_equal(cfg.t4_ms, 5000);
	assert_int_equal(cfg.timer_c_ms, 180000);
	assert_int_equal(cfg.max_msg, CF_SIP_MSG_MAX);
	assert_int_equal(cfg.workers, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_tp_names),
	    cmocka_unit_test(test_cfg_default),
	    cmocka_unit_test(test_udp4_options),
	    cmocka_unit_test(test_udp6_options),
	    cmocka_unit_test(test_tcp_pipelined),
	    cmocka_unit_test(test_tcp6_split),
	    cmocka_unit_test(test_tcp_keepalive),
	    cmocka_unit_test(test_tcp_garbage),
	    cmocka_unit_test(test_udp_oversize),
	    cmocka_unit_test(test_tcp_oversize),
	    cmocka_unit_test(test_tcp_limit_per_ip),
	    cmocka_unit_test(test_tcp_limit_total),
	    cmocka_unit_test(test_tcp_cross_worker),
	    cmocka_unit_test(test_tcp_idle),
	    cmocka_unit_test(test_udp_spread),
	    cmocka_unit_test(test_tcp_outgoing_reuse),
	    cmocka_unit_test(test_oom_start),
	    cmocka_unit_test(test_oom_rx),
	    cmocka_unit_test(test_stop_graceful),
	};

	cf_log_set_level(CF_LOG_WARN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
