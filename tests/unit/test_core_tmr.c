/* SPDX-License-Identifier: BSD-3-Clause */
/* test_core_tmr.c - unit tests of the timer wheel, driven by a fake clock. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/core.h"
#include "core/core_priv.h"
#include "testutil.h"

#define T(f)                                                                   \
	cmocka_unit_test_setup_teardown(f, cf_test_leak_setup,                 \
	                                cf_test_leak_teardown)

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t rnd(void)
{
	uint64_t x = rng_state;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	rng_state = x;
	return x;
}

enum { NRAND = 4000 };

/* A test timer: what it expects and what happened. */
struct tt {
	struct cf_tmr t;
	struct cf_tmr_wheel *w;
	uint64_t want;  /* expected firing time */
	uint64_t order; /* global start order */
	int fired;
	int restarts; /* times the handler may still re-arm itself */
	bool running;
	bool lax; /* delay 0: may fire later than want */
};

static uint64_t order_ctr;
static uint64_t last_time, last_order;
static int total_fired;
static bool order_checked;

static void tt_start(struct cf_tmr_wheel *w, struct tt *x, uint64_t delay,
                     cf_tmr_h *h)
{
	x->w = w;
	x->want = cf_tmr_wheel_now(w) + delay;
	x->order = ++order_ctr;
	x->running = true;
	x->lax = delay == 0;
	cf_tmr_start(w, &x->t, delay, h, x);
}

static void check_fire(struct tt *x)
{
	uint64_t now = cf_tmr_wheel_now(x->w);

	assert_true(x->running);
	assert_false(cf_tmr_isrunning(&x->t));
	x->running = false;
	x->fired++;
	total_fired++;
	if (x->lax) {
		/* delay 0: due at once, fired at the next batch (a handler
		 * re-arming itself with 0 never loops), so only not early */
		assert_true(now >= x->want);
		return;
	}
	/* exactly at its time, and in (time, start order) order */
	assert_true(now == x->want);
	if (order_checked) {
		assert_true(now >= last_time);
		if (now == last_time)
			assert_true(x->order > last_order);
	}
	last_time = now;
	last_order = x->order;
}

static uint64_t rand_delay(void)
{
	switch (rnd() % 10) {
	case 0:
	case 1:
	case 2:
	case 3:
		return rnd() % 256;
	case 4:
	case 5:
	case 6:
		return 256 + rnd() % 65280;
	case 7:
	case 8:
		return 65536 + rnd() % (1 << 22);
	default:
		return (1 << 24) + rnd() % (1 << 26);
	}
}

static struct tt *rx;    /* the random test's timers */
static int rx_cancelled; /* cancelled or replaced while running */

static void random_h(void *arg)
{
	struct tt *x = arg;

	check_fire(x);
	if (rnd() % 8 == 0) {
		/* cancel another one, maybe due in this same batch */
		struct tt *y = &rx[rnd() % NRAND];

		if (y->running) {
			cf_tmr_cancel(&y->t);
			y->running = false;
			rx_cancelled++;
		}
	}
	if (x->restarts > 0 && rnd() % 3 == 0) {
		x->restarts--;
		/* restart from inside its own handler, sometimes with 0 */
		tt_start(x->w, x, rnd() % 4 ? rnd() % 2000 : 0, random_h);
	}
}

static void random_run(uint64_t seed, uint64_t now)
{
	struct cf_tmr_wheel *w = NULL;
	struct tt *x;
	uint64_t next, minwant;
	int i, iter, expect_fired = 0;
	size_t running;

	rng_state = seed;
	x = calloc(NRAND, sizeof(*x));
	assert_non_null(x);
	rx = x;
	rx_cancelled = 0;
	assert_int_equal(cf_tmr_wheel_alloc(&w, now), 0);
	order_ctr = last_order = 0;
	last_time = now;
	total_fired = 0;
	order_checked = true;
	for (i = 0; i < NRAND; i++) {
		cf_tmr_init(&x[i].t);
		x[i].restarts = 2;
		tt_start(w, &x[i], rand_delay(), random_h);
	}
	assert_int_equal(cf_tmr_wheel_count(w), NRAND);

	for (iter = 0; iter < 2000000 && cf_tmr_wheel_count(w); iter++) {
		/* the wheel's answer never oversleeps the earliest timer */
		next = cf_tmr_wheel_next(w);
		assert_true(next != UINT64_MAX);
		{
			minwant = UINT64_MAX;
			running = 0;
			for (i = 0; i < NRAND; i++) {
				if (!x[i].running)
					continue;
				running++;
				assert_true(cf_tmr_isrunning(&x[i].t));
				if (x[i].want < minwant)
					minwant = x[i].want;
			}
			assert_int_equal(running, cf_tmr_wheel_count(w));
			/* (a delay-0 timer re-armed by a delay-0 handler may be
			 * overdue: then the answer is 0) */
			if (minwant < now)
				assert_true(next == 0);
			else
				assert_true(now + next <= minwant);
		}
		/* from outside: cancel or restart a random timer */
		if (rnd() % 16 == 0) {
			struct tt *y = &x[rnd() % NRAND];

			if (y->running && rnd() % 2) {
				cf_tmr_cancel(&y->t);
				y->running = false;
				rx_cancelled++;
			} else {
				if (y->running)
					rx_cancelled++; /* replaced */
				tt_start(w, y, rand_delay(), random_h);
			}
			continue;
		}
		/* like the loop: sleep until next, or a random shorter or
		 * longer time (several timers fire in one advance) */
		switch (rnd() % 4) {
		case 0:
			now += rnd() % (next + 1);
			break;
		case 1:
			now += next + rnd() % 3000;
			break;
		default:
			now += next;
			break;
		}
		cf_tmr_wheel_advance(w, now);
		assert_true(cf_tmr_wheel_now(w) == now);
	}
	assert_int_equal(cf_tmr_wheel_count(w), 0);
	for (i = 0; i < NRAND; i++) {
		assert_false(x[i].running);
		expect_fired += x[i].fired;
	}
	assert_int_equal(total_fired, expect_fired);
	/* every start either fired or was cancelled/replaced */
	assert_int_equal((uint64_t)total_fired + (uint64_t)rx_cancelled,
	                 order_ctr);
	assert_true(total_fired > NRAND / 2);
	w = cf_mem_deref(w);
	free(x);
}

/* Thousands of random timers over all levels, cancelled and restarted from
 * outside and from handlers, against a clock moving like a loop's: each
 * fires once, exactly at its time, in (time, start) order; next() never
 * oversleeps. Start times: arbitrary, aligned, just before a level-3
 * boundary. */
static void test_tmr_random(void **state)
{
	(void)state;
	random_run(0x9e3779b97f4a7c15ULL, 987654321);
	random_run(12345, 0);
	random_run(777, (1ULL << 32) - 3);
}

static void plain_h(void *arg)
{
	check_fire(arg);
}

static void test_tmr_levels(void **state)
{
	static const uint64_t delays[] =
	    {
	        1,        2,        255,           256,      300,
	        65535,    65536,    70000,         16777215, 16777216,
	        18000000, 86400000, 5184000000ULL, /* 60 days: the horizon */
	    };
	enum { N = sizeof(delays) / sizeof(delays[0]) };
	struct cf_tmr_wheel *w = NULL;
	struct tt x[N];
	uint64_t t0 = 5000003, now, next;
	int i, wakeups = 0, round;

	(void)state;
	for (round = 0; round < 2; round++) {
		memset(x, 0, sizeof(x));
		assert_int_equal(cf_tmr_wheel_alloc(&w, t0), 0);
		order_checked = true;
		last_time = t0;
		for (i = 0; i < N; i++)
			tt_start(w, &x[i], delays[i], plain_h);
		for (i = 0; i < N; i++)
			assert_true(cf_tmr_left(&x[i].t) == delays[i]);
		assert_true(cf_tmr_wheel_next(w) == 1);
		now = t0;
		if (round == 0) {
			/* the loop's way: sleep exactly what next() says */
			while (cf_tmr_wheel_count(w) && wakeups < 100000) {
				next = cf_tmr_wheel_next(w);
				now += next;
				cf_tmr_wheel_advance(w, now);
				wakeups++;
			}
			/* few wakeups: one per timer plus the cascades */
			assert_true(wakeups < 200);
		} else {
			/* one jump over everything: all fire, in order,
			 * each seeing its own time as now */
			cf_tmr_wheel_advance(w, t0 + 6000000000ULL);
		}
		for (i = 0; i < N; i++)
			assert_int_equal(x[i].fired, 1);
		assert_int_equal(cf_tmr_wheel_count(w), 0);
		assert_true(cf_tmr_wheel_next(w) == UINT64_MAX);
		w = cf_mem_deref(w);
	}
}

static void test_tmr_next_exact(void **state)
{
	struct cf_tmr_wheel *w = NULL;
	struct tt a = {0}, b = {0};
	uint64_t n;

	(void)state;
	order_checked = false;
	assert_int_equal(cf_tmr_wheel_alloc(&w, 1000), 0);
	assert_true(cf_tmr_wheel_next(w) == UINT64_MAX);
	tt_start(w, &a, 100, plain_h);
	assert_true(cf_tmr_wheel_next(w) == 100);
	cf_tmr_wheel_advance(w, 1040);
	assert_true(cf_tmr_wheel_next(w) == 60);
	assert_true(cf_tmr_left(&a.t) == 60);
	cf_tmr_wheel_advance(w, 1099);
	assert_int_equal(a.fired, 0);
	assert_true(cf_tmr_wheel_next(w) == 1);
	cf_tmr_wheel_advance(w, 1100);
	assert_int_equal(a.fired, 1);
	assert_true(cf_tmr_left(&a.t) == 0);
	/* far timer: a lower bound, never beyond the expiry */
	tt_start(w, &b, 70000, plain_h);
	n = cf_tmr_wheel_next(w);
	assert_true(n > 0 && n <= 70000);
	cf_tmr_cancel(&b.t);
	/* the current level-1 slot holds a timer a whole round ahead, the
	 * next slot one due sooner: the answer is the sooner one's cascade */
	cf_tmr_wheel_advance(w, 65546);
	tt_start(w, &b, 65526, plain_h); /* level 1, current slot */
	tt_start(w, &a, 300, plain_h);   /* level 1, next slot */
	n = cf_tmr_wheel_next(w);
	assert_true(n == 65792 - 65546); /* the next slot's cascade */
	cf_tmr_wheel_advance(w, 65546 + 300);
	assert_int_equal(a.fired, 2);
	assert_true(cf_tmr_wheel_next(w) <= 65526 - 300);
	cf_tmr_cancel(&b.t);
	tt_start(w, &b, 70000, plain_h);
	/* the clock going backwards stands still */
	cf_tmr_wheel_advance(w, 50);
	assert_true(cf_tmr_wheel_now(w) == 65846);
	/* delay 0: due now, fires at the next advance even without time */
	tt_start(w, &a, 0, plain_h);
	assert_true(cf_tmr_wheel_next(w) == 0);
	cf_tmr_wheel_advance(w, 65846);
	assert_int_equal(a.fired, 3);
	cf_tmr_cancel(&b.t);
	assert_int_equal(cf_tmr_wheel_count(w), 0);
	w = cf_mem_deref(w);
}

static void test_tmr_cancel(void **state)
{
	struct cf_tmr_wheel *w = NULL;
	struct tt x[200];
	int i;

	(void)state;
	memset(x, 0, sizeof(x));
	order_checked = false;
	assert_int_equal(cf_tmr_wheel_alloc(&w, 0), 0);
	cf_tmr_cancel(&x[0].t); /* never started: no-op */
	for (i = 0; i < 200; i++)
		tt_start(w, &x[i], (uint64_t)(i * 997) % 100000, plain_h);
	for (i = 0; i < 200; i += 2) {
		cf_tmr_cancel(&x[i].t);
		cf_tmr_cancel(&x[i].t); /* twice: no-op */
		assert_false(cf_tmr_isrunning(&x[i].t));
		assert_true(cf_tmr_left(&x[i].t) == 0);
		x[i].running = false;
	}
	assert_int_equal(cf_tmr_wheel_count(w), 100);
	cf_tmr_wheel_advance(w, 200000);
	for (i = 0; i < 200; i++)
		assert_int_equal(x[i].fired, i % 2);
	assert_int_equal(cf_tmr_wheel_count(w), 0);
	/* restart of a running timer moves it */
	tt_start(w, &x[0], 10, plain_h);
	tt_start(w, &x[0], 500, plain_h);
	assert_int_equal(cf_tmr_wheel_count(w), 1);
	cf_tmr_wheel_advance(w, 200010);
	assert_int_equal(x[0].fired, 0);
	cf_tmr_wheel_advance(w, 200500);
	assert_int_equal(x[0].fired, 1);
	/* a wheel freed with timers running leaves them stopped */
	tt_start(w, &x[1], 10, plain_h);
	tt_start(w, &x[2], 100000, plain_h);
	w = cf_mem_deref(w);
	assert_false(cf_tmr_isrunning(&x[1].t));
	cf_tmr_cancel(&x[2].t);
	cf_mem_fail_after(1);
	assert_int_equal(cf_tmr_wheel_alloc(&w, 0), ENOMEM);
}

/* Handlers acting on timers while the wheel fires. */
static char firelog[256];
static struct tt hx[4];

static void log_fire(struct tt *x)
{
	size_t l = strlen(firelog);

	snprintf(firelog + l, sizeof(firelog) - l, "%c@%llu ",
	         (char)('a' + (x - hx)),
	         (unsigned long long)cf_tmr_wheel_now(x->w));
}

static void self_restart_h(void *arg)
{
	struct tt *x = arg;

	log_fire(x);
	if (x->restarts-- > 0)
		tt_start(x->w, x, 10, self_restart_h);
}

static void cancel_sibling_h(void *arg)
{
	struct tt *x = arg;

	log_fire(x);
	cf_tmr_cancel(&hx[1].t); /* due in this same tick, in this batch */
	cf_tmr_cancel(&x->t);    /* itself: not running, no-op */
	/* delay 0: fires at this tick, before the next tick's timers */
	tt_start(x->w, &hx[3], 0, self_restart_h);
}

static void zero_self_h(void *arg)
{
	struct tt *x = arg;

	x->fired++;
	tt_start(x->w, x, 0, zero_self_h);
}

static void test_tmr_handlers(void **state)
{
	struct cf_tmr_wheel *w = NULL;
	int i;

	(void)state;
	memset(hx, 0, sizeof(hx));
	firelog[0] = '\0';
	assert_int_equal(cf_tmr_wheel_alloc(&w, 0), 0);
	hx[0].restarts = 3;
	tt_start(w, &hx[0], 10, self_restart_h);
	cf_tmr_wheel_advance(w, 1000);
	assert_string_equal(firelog, "a@10 a@20 a@30 a@40 ");
	assert_int_equal(cf_tmr_wheel_count(w), 0);

	firelog[0] = '\0';
	tt_start(w, &hx[0], 5, cancel_sibling_h);
	tt_start(w, &hx[1], 5, self_restart_h);
	tt_start(w, &hx[2], 6, self_restart_h);
	cf_tmr_wheel_advance(w, 2000);
	assert_string_equal(firelog, "a@1005 d@1005 c@1006 ");

	/* a handler re-arming itself with 0 fires once per advance */
	memset(&hx[0], 0, sizeof(hx[0]));
	tt_start(w, &hx[0], 0, zero_self_h);
	for (i = 1; i <= 5; i++) {
		cf_tmr_wheel_advance(w, 2000);
		assert_int_equal(hx[0].fired, i);
	}
	cf_tmr_cancel(&hx[0].t);
	w = cf_mem_deref(w);
}

/* Equal expiries fire in start order, whichever level each started in. */
static void test_tmr_equal_order(void **state)
{
	struct cf_tmr_wheel *w = NULL;

	(void)state;
	memset(hx, 0, sizeof(hx));
	firelog[0] = '\0';
	assert_int_equal(cf_tmr_wheel_alloc(&w, 0), 0);
	tt_start(w, &hx[0], 70000, self_restart_h); /* level 2 */
	cf_tmr_wheel_advance(w, 60000);
	tt_start(w, &hx[1], 10000, self_restart_h); /* level 1 */
	cf_tmr_wheel_advance(w, 69900);
	tt_start(w, &hx[2], 100, self_restart_h); /* level 0 */
	tt_start(w, &hx[3], 100, self_restart_h);
	cf_tmr_wheel_advance(w, 80000);
	assert_string_equal(firelog, "a@70000 b@70000 c@70000 d@70000 ");
	w = cf_mem_deref(w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    T(test_tmr_random), T(test_tmr_levels),   T(test_tmr_next_exact),
	    T(test_tmr_cancel), T(test_tmr_handlers), T(test_tmr_equal_order),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
