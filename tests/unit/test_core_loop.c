/* SPDX-License-Identifier: BSD-3-Clause */
/* test_core_loop.c - unit tests of the event loop and the mailbox. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/core.h"
#include "core/core_priv.h"
#include "testutil.h"

#define T(f)                                                                   \
	cmocka_unit_test_setup_teardown(f, cf_test_leak_setup,                 \
	                                cf_test_leak_teardown)

/* Every test loop is bounded: this timer stops it and flags a hang. */
enum { GUARD_MS = 20000 };
static struct cf_tmr guard;
static bool guard_fired;

static void guard_h(void *arg)
{
	guard_fired = true;
	cf_loop_stop(arg);
}

static void guard_start(struct cf_loop *loop)
{
	guard_fired = false;
	cf_tmr_init(&guard);
	cf_tmr_start(cf_loop_wheel(loop), &guard, GUARD_MS, guard_h, loop);
}

static void guard_end(void)
{
	cf_tmr_cancel(&guard);
	assert_false(guard_fired);
}

/* --------------------------------------------------------------- pipe */

struct pctx {
	struct cf_loop *loop;
	int calls;
	int events;
	char got;
};

static void pipe_h(int fd, int events, void *arg)
{
	struct pctx *c = arg;

	assert_ptr_equal(cf_loop_current(), c->loop);
	c->calls++;
	c->events = events;
	assert_int_equal(read(fd, &c->got, 1), 1);
	cf_loop_stop(c->loop);
}

static void test_loop_pipe(void **state)
{
	struct pctx c = {0};
	int p[2];

	(void)state;
	assert_int_equal(cf_loop_alloc(&c.loop), 0);
	assert_null(cf_loop_current());
	assert_int_equal(pipe2(p, O_NONBLOCK | O_CLOEXEC), 0);
	assert_int_equal(
	    cf_loop_fd_listen(c.loop, p[0], CF_FD_READ, pipe_h, &c), 0);
	assert_int_equal(write(p[1], "x", 1), 1);
	guard_start(c.loop);
	assert_int_equal(cf_loop_run(c.loop), 0);
	guard_end();
	assert_int_equal(c.calls, 1);
	assert_int_equal(c.events, CF_FD_READ);
	assert_int_equal(c.got, 'x');
	assert_null(cf_loop_current());

	/* bad arguments */
	assert_int_equal(cf_loop_fd_listen(c.loop, -1, CF_FD_READ, pipe_h, &c),
	                 EINVAL);
	assert_int_equal(cf_loop_fd_listen(c.loop, p[0], CF_FD_READ, NULL, &c),
	                 EINVAL);
	cf_loop_fd_close(c.loop, p[0]);
	cf_loop_fd_close(c.loop, p[0]); /* twice: no-op */
	cf_loop_fd_close(c.loop, 100000);
	close(p[0]);
	close(p[1]);
	c.loop = cf_mem_deref(c.loop);
}

/* A handler closes another fd with an event pending in the same round, and
 * reuses its number for a new fd: the stale event must not reach anyone. */
struct cctx {
	struct cf_loop *loop;
	int rd[2];
	int wr[2];
	int calls;
	int newp[2];
};

static void never_h(int fd, int events, void *arg)
{
	(void)fd;
	(void)events;
	(void)arg;
	fail_msg("stale event delivered to a reused fd");
}

static void close_other_h(int fd, int events, void *arg)
{
	struct cctx *c = arg;
	int other = fd == c->rd[0] ? c->rd[1] : c->rd[0];

	c->calls++;
	cf_loop_fd_close(c->loop, other);
	close(other);
	cf_loop_fd_close(c->loop, fd); /* and itself */
	close(fd);
	/* the lowest free numbers: the two just closed */
	assert_int_equal(pipe2(c->newp, O_NONBLOCK | O_CLOEXEC), 0);
	assert_int_equal(
	    cf_loop_fd_listen(c->loop, c->newp[0], CF_FD_READ, never_h, c), 0);
	assert_int_equal(
	    cf_loop_fd_listen(c->loop, c->newp[1], CF_FD_READ, never_h, c), 0);
	cf_loop_stop(c->loop);
}

static void test_loop_close_in_handler(void **state)
{
	struct cctx c = {0};
	int a[2], b[2];

	(void)state;
	assert_int_equal(cf_loop_alloc(&c.loop), 0);
	assert_int_equal(pipe2(a, O_NONBLOCK | O_CLOEXEC), 0);
	assert_int_equal(pipe2(b, O_NONBLOCK | O_CLOEXEC), 0);
	c.rd[0] = a[0];
	c.rd[1] = b[0];
	assert_int_equal(
	    cf_loop_fd_listen(c.loop, a[0], CF_FD_READ, close_other_h, &c), 0);
	assert_int_equal(
	    cf_loop_fd_listen(c.loop, b[0], CF_FD_READ, close_other_h, &c), 0);
	assert_int_equal(write(a[1], "x", 1), 1);
	assert_int_equal(write(b[1], "y", 1), 1);
	guard_start(c.loop);
	assert_int_equal(cf_loop_run(c.loop), 0);
	guard_end();
	assert_int_equal(c.calls, 1);
	cf_loop_fd_close(c.loop, c.newp[0]);
	cf_loop_fd_close(c.loop, c.newp[1]);
	close(c.newp[0]);
	close(c.newp[1]);
	close(a[1]);
	close(b[1]);
	c.loop = cf_mem_deref(c.loop);
}

static void flags_h(int fd, int events, void *arg)
{
	struct pctx *c = arg;

	(void)fd;
	c->calls++;
	c->events = events;
	cf_loop_stop(c->loop);
}

static void test_loop_write_err(void **state)
{
	struct pctx c = {0};
	int p[2];

	(void)state;
	assert_int_equal(cf_loop_alloc(&c.loop), 0);
	assert_int_equal(pipe2(p, O_NONBLOCK | O_CLOEXEC), 0);
	guard_start(c.loop);
	assert_int_equal(
	    cf_loop_fd_listen(c.loop, p[1], CF_FD_WRITE, flags_h, &c), 0);
	assert_int_equal(cf_loop_run(c.loop), 0);
	assert_int_equal(c.events, CF_FD_WRITE);
	/* change to read interest: a write end is never readable, but
	 * closing the read end reports an error */
	assert_int_equal(
	    cf_loop_fd_listen(c.loop, p[1], CF_FD_READ, flags_h, &c), 0);
	close(p[0]);
	assert_int_equal(cf_loop_run(c.loop), 0);
	guard_end();
	assert_int_equal(c.calls, 2);
	assert_true(c.events & CF_FD_ERR);
	cf_loop_fd_close(c.loop, p[1]);
	close(p[1]);
	c.loop = cf_mem_deref(c.loop);
}

/* A UDP socket shared with CF_FD_EXCL (EPOLLEXCLUSIVE), on loopback. */
static void udp_h(int fd, int events, void *arg)
{
	struct pctx *c = arg;
	char buf[16];

	c->calls++;
	c->events = events;
	assert_int_equal(recv(fd, buf, sizeof(buf), 0), 5);
	c->got = buf[0];
	cf_loop_stop(c->loop);
}

static void test_loop_udp_excl(void **state)
{
	struct sockaddr_in sin = {.sin_family = AF_INET};
	socklen_t len = sizeof(sin);
	struct pctx c = {0};
	int s;

	(void)state;
	assert_int_equal(cf_loop_alloc(&c.loop), 0);
	s = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	assert_true(s >= 0);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(s, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(getsockname(s, (struct sockaddr *)&sin, &len), 0);
	assert_int_equal(
	    cf_loop_fd_listen(c.loop, s, CF_FD_READ | CF_FD_EXCL, udp_h, &c),
	    0);
	/* changing an exclusive registration re-registers it */
	assert_int_equal(
	    cf_loop_fd_listen(c.loop, s, CF_FD_READ | CF_FD_EXCL, udp_h, &c),
	    0);
	assert_int_equal(
	    sendto(s, "hello", 5, 0, (struct sockaddr *)&sin, sizeof(sin)), 5);
	guard_start(c.loop);
	assert_int_equal(cf_loop_run(c.loop), 0);
	assert_int_equal(c.calls, 1);
	assert_int_equal(c.got, 'h');
	/* and back to a plain registration */
	assert_int_equal(cf_loop_fd_listen(c.loop, s, CF_FD_READ, udp_h, &c),
	                 0);
	assert_int_equal(
	    sendto(s, "world", 5, 0, (struct sockaddr *)&sin, sizeof(sin)), 5);
	assert_int_equal(cf_loop_run(c.loop), 0);
	guard_end();
	assert_int_equal(c.calls, 2);
	assert_int_equal(c.got, 'w');
	cf_loop_fd_close(c.loop, s);
	close(s);
	c.loop = cf_mem_deref(c.loop);
}

/* -------------------------------------------------------------- timer */

struct tctx {
	struct cf_loop *loop;
	struct cf_tmr t;
	uint64_t start, fired_at;
	int n;
};

static void real_tmr_h(void *arg)
{
	struct tctx *c = arg;

	c->fired_at = cf_clock_ms();
	if (++c->n < 3) {
		cf_tmr_start(cf_loop_wheel(c->loop), &c->t, 10, real_tmr_h, c);
		return;
	}
	cf_loop_stop(c->loop);
}

static void test_loop_timer(void **state)
{
	struct tctx c = {0};

	(void)state;
	assert_int_equal(cf_loop_alloc(&c.loop), 0);
	cf_tmr_init(&c.t);
	/* Delays count from the wheel's now, which outside cf_loop_run is
	 * the time of its last advance (here cf_loop_alloc), not from
	 * cf_clock_ms() now: start from the wheel's clock. */
	c.start = cf_tmr_wheel_now(cf_loop_wheel(c.loop));
	assert_true(c.start <= cf_clock_ms());
	cf_tmr_start(cf_loop_wheel(c.loop), &c.t, 20, real_tmr_h, &c);
	guard_start(c.loop);
	assert_int_equal(cf_loop_run(c.loop), 0);
	guard_end();
	assert_int_equal(c.n, 3);
	/* never early: 20 + 10 + 10 ms at least (the wheel only reaches a
	 * tick once cf_clock_ms() has) */
	assert_true(c.fired_at - c.start >= 40);
	assert_true(cf_clock_wall_ms() > 1700000000000ULL);
	c.loop = cf_mem_deref(c.loop);
}

/* ------------------------------------------------------------ stopper */

static void *stopper(void *arg)
{
	struct timespec ts = {0, 20 * 1000 * 1000};

	nanosleep(&ts, NULL);
	cf_loop_stop(arg);
	return NULL;
}

static void test_loop_stop_thread(void **state)
{
	struct cf_loop *loop = NULL;
	pthread_t th;

	(void)state;
	assert_int_equal(cf_loop_alloc(&loop), 0);
	guard_start(loop);
	assert_int_equal(pthread_create(&th, NULL, stopper, loop), 0);
	assert_int_equal(cf_loop_run(loop), 0);
	assert_int_equal(pthread_join(th, NULL), 0);
	guard_end();
	/* a stop before run: one round, then return */
	cf_loop_stop(loop);
	assert_int_equal(cf_loop_run(loop), 0);
	loop = cf_mem_deref(loop);
}

static void test_loop_oom(void **state)
{
	struct cf_loop *loop = NULL;
	long i;
	int err = ENOMEM;

	(void)state;
	for (i = 1; i < 10 && err; i++) {
		cf_mem_fail_after(i);
		err = cf_loop_alloc(&loop);
		cf_mem_fail_after(0);
		if (err) {
			assert_int_equal(err, ENOMEM);
			assert_null(loop);
		}
	}
	assert_int_equal(err, 0);
	assert_true(i > 2);
	loop = cf_mem_deref(loop);
}

/* --------------------------------------------------------------- mbox */

enum {
	PRODUCERS = 2,
	PER_PRODUCER = 100000,
};

struct msg {
	struct cf_mbox_node node;
	int producer;
	int seq;
};

struct mctx {
	struct cf_loop *loop;
	struct cf_mbox *mb;
	struct msg *msgs;
	int next_seq[PRODUCERS];
	long delivered;
	long dup_or_reorder;
	int producer_id[PRODUCERS];
};

static struct mctx mc;

static void mbox_h(struct cf_mbox_node *node, void *arg)
{
	struct mctx *c = arg;
	struct msg *m = CF_CONTAINER_OF(node, struct msg, node);

	assert_ptr_equal(cf_loop_current(), c->loop);
	/* per producer FIFO; exactly once */
	if (m->seq != c->next_seq[m->producer])
		c->dup_or_reorder++;
	c->next_seq[m->producer] = m->seq + 1;
	if (++c->delivered == (long)PRODUCERS * PER_PRODUCER)
		cf_loop_stop(c->loop);
}

static void *producer(void *arg)
{
	int id = *(int *)arg, i;

	for (i = 0; i < PER_PRODUCER; i++) {
		struct msg *m = &mc.msgs[id * PER_PRODUCER + i];

		m->producer = id;
		m->seq = i;
		cf_mbox_send(mc.mb, &m->node);
		if (i % 10000 == 0)
			sched_yield();
	}
	return NULL;
}

static void test_mbox_threads(void **state)
{
	pthread_t th[PRODUCERS];
	int i;

	(void)state;
	memset(&mc, 0, sizeof(mc));
	mc.msgs = calloc((size_t)PRODUCERS * PER_PRODUCER, sizeof(*mc.msgs));
	assert_non_null(mc.msgs);
	assert_int_equal(cf_loop_alloc(&mc.loop), 0);
	assert_int_equal(cf_mbox_alloc(&mc.mb, mc.loop, mbox_h, &mc), 0);
	guard_start(mc.loop);
	for (i = 0; i < PRODUCERS; i++) {
		mc.producer_id[i] = i;
		assert_int_equal(
		    pthread_create(&th[i], NULL, producer, &mc.producer_id[i]),
		    0);
	}
	assert_int_equal(cf_loop_run(mc.loop), 0);
	for (i = 0; i < PRODUCERS; i++)
		assert_int_equal(pthread_join(th[i], NULL), 0);
	guard_end();
	assert_int_equal(mc.delivered, (long)PRODUCERS * PER_PRODUCER);
	assert_int_equal(mc.dup_or_reorder, 0);
	for (i = 0; i < PRODUCERS; i++)
		assert_int_equal(mc.next_seq[i], PER_PRODUCER);
	mc.mb = cf_mem_deref(mc.mb);
	mc.loop = cf_mem_deref(mc.loop);
	free(mc.msgs);
}

/* Messages sent on the loop's own thread, and ones still queued when the
 * mailbox goes, reach the handler (whose owner frees them). */
static int freed;

static void free_h(struct cf_mbox_node *node, void *arg)
{
	struct cf_loop *loop = arg;

	freed++;
	cf_mem_deref(CF_CONTAINER_OF(node, struct msg, node));
	if (freed == 3)
		cf_loop_stop(loop);
}

static void test_mbox_same_thread(void **state)
{
	struct cf_loop *loop = NULL;
	struct cf_mbox *mb = NULL;
	struct msg *m;
	long i;
	int err = ENOMEM;

	(void)state;
	freed = 0;
	assert_int_equal(cf_loop_alloc(&loop), 0);
	for (i = 1; i < 10 && err; i++) {
		cf_mem_fail_after(i);
		err = cf_mbox_alloc(&mb, loop, free_h, loop);
		cf_mem_fail_after(0);
		if (err) {
			assert_int_equal(err, ENOMEM);
			assert_null(mb);
		}
	}
	assert_int_equal(err, 0);
	for (i = 0; i < 3; i++) {
		m = cf_mem_zalloc(sizeof(*m), NULL);
		assert_non_null(m);
		cf_mbox_send(mb, &m->node);
	}
	guard_start(loop);
	assert_int_equal(cf_loop_run(loop), 0);
	guard_end();
	assert_int_equal(freed, 3);
	for (i = 0; i < 2; i++) {
		m = cf_mem_zalloc(sizeof(*m), NULL);
		assert_non_null(m);
		cf_mbox_send(mb, &m->node);
	}
	mb = cf_mem_deref(mb);
	assert_int_equal(freed, 5);
	assert_int_equal(cf_mbox_alloc(&mb, NULL, free_h, NULL), EINVAL);
	loop = cf_mem_deref(loop);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    T(test_loop_pipe),        T(test_loop_close_in_handler),
	    T(test_loop_write_err),   T(test_loop_udp_excl),
	    T(test_loop_timer),       T(test_loop_stop_thread),
	    T(test_loop_oom),         T(test_mbox_threads),
	    T(test_mbox_same_thread),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
