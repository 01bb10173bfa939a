/* SPDX-License-Identifier: BSD-3-Clause */
/* test_wakeup.c - no lost wake-ups: after a burst, with no further
 * traffic, every mailbox message, 0 ms timer and datagram is handled.
 *
 * Each test runs ROUNDS rounds: NPROD producer threads send a burst each
 * (1..16 items), then all wait, sending nothing, until the loops have
 * handled the whole burst. A wake-up lost anywhere (the mailbox's
 * `pending` counter and eventfd, the loop's timeout, a 0 ms timer, an
 * EPOLLEXCLUSIVE socket shared by two loops read in small batches) leaves
 * the count short: the producers give up after QUIET_MS and the test
 * fails, naming the round. Bounded: ROUNDS x QUIET_MS at worst, and a
 * guard timer stops the loops. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "core/core.h"
#include "core/core_priv.h"
#include "testutil.h"

#define T(f)                                                                   \
	cmocka_unit_test_setup_teardown(f, cf_test_leak_setup,                 \
	                                cf_test_leak_teardown)

enum {
	NPROD = 4,       /* producer threads */
	NLOOP = 2,       /* consumer loops (threads) */
	ROUNDS = 1000,   /* bursts per test */
	BURST_MAX = 16,  /* items per producer per burst */
	QUIET_MS = 5000, /* wait for a burst with no traffic, then fail */
	GUARD_MS = 60000,
	RX_PER_WAKE = 4, /* datagrams read per readable event */
};

enum mode { M_MBOX, M_TIMER, M_UDP };

struct item {
	struct cf_mbox_node node;
};

struct lctx {
	struct cf_loop *loop;
	struct cf_mbox *mb;
	struct cf_tmr flush; /* the 0 ms timer (txq pattern) */
	struct cf_tmr guard;
	long queued;         /* loop thread only */
	pthread_t thread;
};

static struct {
	enum mode mode;
	struct lctx l[NLOOP];
	pthread_barrier_t bar;
	atomic_long delivered;
	atomic_bool lost;
	atomic_long lost_round;
	atomic_long lost_want;
	atomic_long lost_got;
	int rxfd;
	struct sockaddr_in rxaddr;
	struct item items[NPROD][BURST_MAX];
	struct item fwd[NLOOP][NPROD * BURST_MAX * 2];
	atomic_uint fwd_next[NLOOP];
} g;

static int burst(int round, int id)
{
	return 1 + (round * 7 + id * 3 + round / 5) % BURST_MAX;
}

static void guard_h(void *arg)
{
	cf_loop_stop(arg);
}

static void flush_h(void *arg)
{
	struct lctx *l = arg;

	atomic_fetch_add(&g.delivered, l->queued);
	l->queued = 0;
}

/* M_MBOX: count; M_TIMER/M_UDP: queue, counted by a 0 ms timer as udp.c's
 * send queue does. */
static void mbox_h(struct cf_mbox_node *node, void *arg)
{
	struct lctx *l = arg;

	(void)node;
	if (g.mode == M_MBOX) {
		atomic_fetch_add(&g.delivered, 1);
		return;
	}
	if (l->queued++ == 0)
		cf_tmr_start(cf_loop_wheel(l->loop), &l->flush, 0, flush_h, l);
}

/* M_UDP: read at most RX_PER_WAKE datagrams, hand each to a loop's
 * mailbox by its first byte (like the hand-off by Call-ID). */
static void rx_h(int fd, int events, void *arg)
{
	unsigned char b[64];

	(void)events;
	(void)arg;
	for (int i = 0; i < RX_PER_WAKE; i++) {
		ssize_t n = recv(fd, b, sizeof(b), MSG_DONTWAIT);
		unsigned to, k;

		if (n <= 0)
			return;
		to = b[0] % NLOOP;
		k = atomic_fetch_add(&g.fwd_next[to], 1) %
		    (NPROD * BURST_MAX * 2);
		cf_mbox_send(g.l[to].mb, &g.fwd[to][k].node);
	}
}

static void *loop_thread(void *arg)
{
	struct lctx *l = arg;

	(void)cf_loop_run(l->loop);
	return NULL;
}

static void *producer(void *arg)
{
	int id = (int)(intptr_t)arg, sfd = -1;
	long want = 0;

	if (g.mode == M_UDP)
		sfd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	for (int r = 0; r < ROUNDS; r++) {
		struct timespec pause = {0, 20000};
		int waited = 0;

		pthread_barrier_wait(&g.bar);
		if (atomic_load(&g.lost))
			break;
		for (int i = 0; i < burst(r, id); i++) {
			if (g.mode == M_UDP) {
				unsigned char b = (unsigned char)(r + i + id);

				/* loopback: blocks rather than drops */
				(void)sendto(sfd, &b, 1, 0,
				             (struct sockaddr *)&g.rxaddr,
				             sizeof(g.rxaddr));
			} else {
				cf_mbox_send(g.l[(r + i + id) % NLOOP].mb,
				             &g.items[id][i].node);
			}
		}
		for (int p = 0; p < NPROD; p++)
			want += burst(r, p);
		pthread_barrier_wait(&g.bar);
		/* no traffic now: everything must arrive on its own */
		while (atomic_load(&g.delivered) < want) {
			if (waited++ >= QUIET_MS * 50) {
				atomic_store(&g.lost_round, r);
				atomic_store(&g.lost_want, want);
				atomic_store(&g.lost_got,
				             atomic_load(&g.delivered));
				atomic_store(&g.lost, true);
				break;
			}
			nanosleep(&pause, NULL);
		}
	}
	if (sfd >= 0)
		close(sfd);
	return NULL;
}

static void run(enum mode mode)
{
	pthread_t th[NPROD];
	socklen_t alen = sizeof(g.rxaddr);

	memset(&g, 0, sizeof(g));
	g.mode = mode;
	g.rxfd = -1;
	assert_int_equal(pthread_barrier_init(&g.bar, NULL, NPROD), 0);
	if (mode == M_UDP) {
		g.rxfd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
		                0);
		assert_true(g.rxfd >= 0);
		g.rxaddr.sin_family = AF_INET;
		g.rxaddr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		assert_int_equal(bind(g.rxfd, (struct sockaddr *)&g.rxaddr,
		                      sizeof(g.rxaddr)),
		                 0);
		assert_int_equal(getsockname(g.rxfd,
		                             (struct sockaddr *)&g.rxaddr,
		                             &alen),
		                 0);
	}
	for (int i = 0; i < NLOOP; i++) {
		struct lctx *l = &g.l[i];

		assert_int_equal(cf_loop_alloc(&l->loop), 0);
		assert_int_equal(cf_mbox_alloc(&l->mb, l->loop, mbox_h, l), 0);
		cf_tmr_init(&l->flush);
		cf_tmr_init(&l->guard);
		cf_tmr_start(cf_loop_wheel(l->loop), &l->guard, GUARD_MS,
		             guard_h, l->loop);
		if (mode == M_UDP)
			assert_int_equal(cf_loop_fd_listen(l->loop, g.rxfd,
			                                   CF_FD_READ |
			                                       CF_FD_EXCL,
			                                   rx_h, NULL),
			                 0);
		assert_int_equal(
		    pthread_create(&l->thread, NULL, loop_thread, l), 0);
	}
	for (int i = 0; i < NPROD; i++)
		assert_int_equal(pthread_create(&th[i], NULL, producer,
		                                (void *)(intptr_t)i),
		                 0);
	for (int i = 0; i < NPROD; i++)
		assert_int_equal(pthread_join(th[i], NULL), 0);
	for (int i = 0; i < NLOOP; i++) {
		cf_loop_stop(g.l[i].loop);
		assert_int_equal(pthread_join(g.l[i].thread, NULL), 0);
	}
	if (atomic_load(&g.lost))
		fprintf(stderr,
		        "lost wake-up (mode %d): round %ld: %ld of %ld "
		        "handled after %d ms without traffic\n",
		        (int)mode, atomic_load(&g.lost_round),
		        atomic_load(&g.lost_got), atomic_load(&g.lost_want),
		        (int)QUIET_MS);
	assert_false(atomic_load(&g.lost));
	for (int i = 0; i < NLOOP; i++) {
		cf_tmr_cancel(&g.l[i].flush);
		cf_tmr_cancel(&g.l[i].guard);
		if (mode == M_UDP)
			cf_loop_fd_close(g.l[i].loop, g.rxfd);
		g.l[i].mb = cf_mem_deref(g.l[i].mb);
		g.l[i].loop = cf_mem_deref(g.l[i].loop);
	}
	if (g.rxfd >= 0)
		close(g.rxfd);
	pthread_barrier_destroy(&g.bar);
}

/* Mailboxes alone: several producers, bursts, then silence. */
static void test_mbox_bursts(void **state)
{
	(void)state;
	run(M_MBOX);
}

/* A mailbox handler queueing work for a 0 ms timer (udp.c's send queue):
 * the timer fires on the next loop round, not at the next traffic. */
static void test_mbox_zero_timer(void **state)
{
	(void)state;
	run(M_TIMER);
}

/* The UDP path: one socket shared by two loops (CF_FD_EXCL, level-
 * triggered), a few datagrams read per event, each handed to a loop's
 * mailbox and counted by a 0 ms timer. */
static void test_udp_shared_handoff(void **state)
{
	(void)state;
	run(M_UDP);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    T(test_mbox_bursts),
	    T(test_mbox_zero_timer),
	    T(test_udp_shared_handoff),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
