/* SPDX-License-Identifier: BSD-3-Clause */
/* test_wakeup_stack.c - the stack after an overload: a blast of OPTIONS
 * over UDP that overflows the listener's socket (drops), then, once the
 * workers are quiet, a trickle of single requests: each must be answered
 * on its own, not when the next one arrives (a message held in a worker
 * until new traffic is a lost wake-up). Bounded in count and waits. */
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

enum {
	BLASTERS = 2,
	BLAST_PER_THREAD = 20000, /* datagrams per blaster (no reading) */
	T1_MS = 50,               /* Timer J (64 x T1) is 3.2 s */
	TRICKLE = 100,            /* single requests after the blast, */
	TRICKLE_GAP_MS = 50,      /* one per 50 ms: past Timer J */
	WAIT_MS = 10000,          /* for each trickle answer (a loaded CI) */
	QUIET_MAX_MS = 60000,     /* for the workers to finish the blast */
};

static void on_request(struct cf_sip_strans *st, const struct cf_sip_msg *msg,
                       const struct cf_sip_peer *peer, void *arg)
{
	(void)msg;
	(void)peer;
	(void)arg;
	if (st)
		(void)cf_sip_strans_reply(st, 200, "OK", NULL, NULL);
}

static const struct cf_sip_txn_handlers handlers = {
    .request = on_request,
};

static struct cf_sa srv;

static void listener_h(enum cf_sip_tp tp, const struct cf_sa *addr, void *arg)
{
	(void)arg;
	if (tp == CF_SIP_TP_UDP && cf_sa_af(addr) == AF_INET)
		srv = *addr;
}

static size_t options(char *buf, size_t size, const char *callid)
{
	int n = snprintf(buf, size,
	                 "OPTIONS sip:test@127.0.0.1 SIP/2.0\r\n"
	                 "Via: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bK-%s;"
	                 "rport\r\n"
	                 "Max-Forwards: 70\r\n"
	                 "From: <sip:a@127.0.0.1>;tag=1\r\n"
	                 "To: <sip:test@127.0.0.1>\r\n"
	                 "Call-ID: %s\r\n"
	                 "CSeq: 1 OPTIONS\r\n"
	                 "Content-Length: 0\r\n\r\n",
	                 callid, callid);

	assert_true(n > 0 && (size_t)n < size);
	return (size_t)n;
}

static int udp_client(void)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	assert_int_equal(connect(fd, &srv.u.sa, sizeof(struct sockaddr_in)),
	                 0);
	return fd;
}

/* Sends without reading: the answers overflow this socket, the requests
 * the server's. */
static void *blaster(void *arg)
{
	int id = (int)(intptr_t)arg, fd = udp_client();
	char req[1024], cid[64];

	for (int i = 0; i < BLAST_PER_THREAD; i++) {
		snprintf(cid, sizeof(cid), "blast-%d-%d", id, i);
		size_t n = options(req, sizeof(req), cid);

		(void)send(fd, req, n, MSG_DONTWAIT);
	}
	close(fd);
	return NULL;
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

static uint64_t rx_msgs(struct cf_sip *sip)
{
	struct cf_sip_stats st;

	cf_sip_stats(sip, &st);
	return st.rx_msgs;
}

static void test_trickle_after_overload(void **state)
{
	struct cf_sip_cfg cfg;
	struct cf_sip *sip;
	struct cf_sa a;
	pthread_t th[BLASTERS];
	long blocks = cf_mem_blocks();
	uint64_t last;
	int fd, late = 0, quiet = 0;

	(void)state;
	cf_sip_cfg_default(&cfg);
	cfg.workers = 2;
	cfg.t1_ms = T1_MS; /* the blast's transactions end during the trickle */
	assert_int_equal(cf_sip_alloc(&sip, &cfg, &handlers), 0);
	assert_int_equal(cf_sa_set_str(&a, "127.0.0.1", 0), 0);
	assert_int_equal(cf_sip_listen(sip, CF_SIP_TP_UDP, &a), 0);
	cf_sip_listeners_apply(sip, listener_h, NULL);
	assert_true(cf_sa_port(&srv));
	assert_int_equal(cf_sip_start(sip), 0);

	for (int i = 0; i < BLASTERS; i++)
		assert_int_equal(
		    pthread_create(&th[i], NULL, blaster, (void *)(intptr_t)i),
		    0);
	for (int i = 0; i < BLASTERS; i++)
		assert_int_equal(pthread_join(th[i], NULL), 0);

	/* the workers finish what the socket kept: rx_msgs stands still */
	last = rx_msgs(sip);
	for (int t = 0; t < QUIET_MAX_MS / 100 && quiet < 10; t++) {
		uint64_t now;

		sleep_ms(100);
		now = rx_msgs(sip);
		quiet = now == last ? quiet + 1 : 0;
		last = now;
	}
	assert_true(quiet >= 10);
	fprintf(stderr, "blast: %llu of %d requests received\n",
	        (unsigned long long)last, BLASTERS * BLAST_PER_THREAD);

	/* the trickle: one request at a time, each answered on its own */
	fd = udp_client();
	for (int i = 0; i < TRICKLE; i++) {
		char req[1024], resp[4096], cid[64];
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		size_t n;
		ssize_t r;

		snprintf(cid, sizeof(cid), "trickle-%d", i);
		n = options(req, sizeof(req), cid);
		assert_int_equal(send(fd, req, n, 0), (ssize_t)n);
		if (poll(&pfd, 1, WAIT_MS) != 1) {
			fprintf(stderr, "%s: no answer within %d ms\n", cid,
			        (int)WAIT_MS);
			late++;
			break; /* held: the next request would release it */
		}
		r = recv(fd, resp, sizeof(resp) - 1, 0);
		assert_true(r > 0);
		resp[r] = '\0';
		if (!strstr(resp, cid)) {
			/* the answer to an earlier request, released now */
			fprintf(stderr, "%s: got a late answer instead\n", cid);
			late++;
		}
		sleep_ms(TRICKLE_GAP_MS);
	}
	close(fd);
	cf_sip_stop(sip, 50);
	sip = cf_mem_deref(sip);
	assert_int_equal(late, 0);
	assert_int_equal(cf_mem_blocks(), blocks);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_trickle_after_overload),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
