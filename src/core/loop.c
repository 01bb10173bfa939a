/* SPDX-License-Identifier: BSD-3-Clause */
/* loop.c - the epoll event loop, one per thread, with its timer wheel. */
#include <errno.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "core/core.h"
#include "core/core_priv.h"

/*
 * File descriptors are watched level-triggered. Their records live in an
 * array indexed by fd, and each epoll registration carries (generation, fd)
 * in its 64-bit cookie: closing an fd bumps its generation, so an event
 * already returned by epoll_wait for a record a handler closed (or closed
 * and reopened under the same number) during this dispatch round is
 * recognised as stale and dropped. Nothing is freed during dispatch, and
 * handlers are looked up afresh for every event, so a handler may close or
 * add any fd, including its own.
 *
 * Timers: the wheel is advanced to cf_clock_ms() before every wait (that
 * fires what is due and gives the wait timeout) and again after the wait
 * when fds are ready, so timers started by fd handlers count from the
 * present, not from before a long sleep.
 */

enum {
	LOOP_EVENTS = 64,      /* epoll_wait batch */
	LOOP_FD_MAX = 1 << 24, /* a named limit on fd numbers */
};

#define WAKE_COOKIE UINT64_MAX

struct fdrec {
	cf_fd_h *h;
	void *arg;
	int flags;
	uint32_t gen;
	bool active;
};

struct cf_loop {
	struct fdrec *fds;
	size_t nfds;
	struct cf_tmr_wheel *wheel;
	int epfd;
	int wakefd;
	atomic_bool stop;
};

static _Thread_local struct cf_loop *current;

uint64_t cf_clock_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

uint64_t cf_clock_wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void destructor(void *data)
{
	struct cf_loop *loop = data;

	if (loop->epfd >= 0)
		close(loop->epfd);
	if (loop->wakefd >= 0)
		close(loop->wakefd);
	loop->wheel = cf_mem_deref(loop->wheel);
	free(loop->fds);
}

/* A loop for the calling thread (or for a worker it will run on). The
 * caller owns the reference; free it only when cf_loop_run has returned.
 * ENOMEM, or EINVAL when the kernel refuses an epoll/eventfd (fd limit). */
int cf_loop_alloc(struct cf_loop **lp)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.u64 = WAKE_COOKIE};
	struct cf_loop *loop;
	int err;

	if (!lp)
		return EINVAL;
	loop = cf_mem_zalloc(sizeof(*loop), destructor);
	if (!loop)
		return ENOMEM;
	loop->epfd = -1;
	loop->wakefd = -1;
	atomic_init(&loop->stop, false);
	err = cf_tmr_wheel_alloc(&loop->wheel, cf_clock_ms());
	if (err)
		goto out;
	loop->epfd = epoll_create1(EPOLL_CLOEXEC);
	loop->wakefd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (loop->epfd < 0 || loop->wakefd < 0 ||
	    epoll_ctl(loop->epfd, EPOLL_CTL_ADD, loop->wakefd, &ev) < 0) {
		err = errno == ENOMEM ? ENOMEM : EINVAL;
		goto out;
	}
out:
	if (err)
		loop = cf_mem_deref(loop);
	else
		*lp = loop;
	return err;
}

static int grow(struct cf_loop *loop, int fd)
{
	size_t n = loop->nfds ? loop->nfds : 64;
	struct fdrec *f;

	while (n <= (size_t)fd)
		n *= 2;
	if (cf_mem_inject_fail())
		return ENOMEM;
	f = realloc(loop->fds, n * sizeof(*f));
	if (!f)
		return ENOMEM;
	memset(f + loop->nfds, 0, (n - loop->nfds) * sizeof(*f));
	loop->fds = f;
	loop->nfds = n;
	return 0;
}

static uint32_t epoll_flags(int flags)
{
	uint32_t ev = 0;

	if (flags & CF_FD_READ)
		ev |= EPOLLIN;
	if (flags & CF_FD_WRITE)
		ev |= EPOLLOUT;
	if (flags & CF_FD_EXCL)
		ev |= EPOLLEXCLUSIVE;
	return ev;
}

/* Add fd, or change its flags and handler. Called on the loop's thread (or
 * before the loop runs). EINVAL for a bad fd or an fd epoll refuses (a
 * regular file), ENOMEM. EPOLLEXCLUSIVE cannot be modified in place, so a
 * change involving CF_FD_EXCL re-registers the fd. */
int cf_loop_fd_listen(struct cf_loop *loop, int fd, int flags, cf_fd_h *h,
                      void *arg)
{
	struct epoll_event ev;
	struct fdrec *r;
	int err = 0, op;

	if (!loop || fd < 0 || fd >= LOOP_FD_MAX || !h)
		return EINVAL;
	if ((size_t)fd >= loop->nfds) {
		err = grow(loop, fd);
		if (err)
			goto out;
	}
	r = &loop->fds[fd];
	op = EPOLL_CTL_ADD;
	if (r->active) {
		if ((r->flags | flags) & CF_FD_EXCL)
			epoll_ctl(loop->epfd, EPOLL_CTL_DEL, fd, NULL);
		else
			op = EPOLL_CTL_MOD;
	}
	memset(&ev, 0, sizeof(ev));
	ev.events = epoll_flags(flags);
	ev.data.u64 = ((uint64_t)r->gen << 32) | (uint32_t)fd;
	if (epoll_ctl(loop->epfd, op, fd, &ev) < 0) {
		err = errno == ENOMEM ? ENOMEM : EINVAL;
		r->active = false;
		r->gen++;
		goto out;
	}
	r->h = h;
	r->arg = arg;
	r->flags = flags;
	r->active = true;
out:
	return err;
}

/* Stop watching fd; the caller closes it. Safe from any handler of this
 * loop, for any fd; a no-op for an fd not watched. */
void cf_loop_fd_close(struct cf_loop *loop, int fd)
{
	struct fdrec *r;

	if (!loop || fd < 0 || (size_t)fd >= loop->nfds)
		return;
	r = &loop->fds[fd];
	if (!r->active)
		return;
	epoll_ctl(loop->epfd, EPOLL_CTL_DEL, fd, NULL);
	r->active = false;
	r->h = NULL;
	r->arg = NULL;
	r->gen++;
}

static void dispatch(struct cf_loop *loop, const struct epoll_event *ev)
{
	uint64_t cookie = ev->data.u64;
	int fd = (int)(uint32_t)cookie;
	struct fdrec *r;
	int events = 0;

	if (cookie == WAKE_COOKIE) {
		uint64_t v;

		if (read(loop->wakefd, &v, sizeof(v)) < 0) {
			/* EAGAIN: another thread's stop raced us; harmless */
		}
		return;
	}
	if ((size_t)fd >= loop->nfds)
		return;
	r = &loop->fds[fd];
	if (!r->active || r->gen != (uint32_t)(cookie >> 32))
		return; /* closed (and maybe reopened) during this round */
	if (ev->events & EPOLLIN)
		events |= CF_FD_READ;
	if (ev->events & EPOLLOUT)
		events |= CF_FD_WRITE;
	if (ev->events & (EPOLLERR | EPOLLHUP))
		events |= CF_FD_ERR;
	r->h(fd, events, r->arg);
}

/* Runs until cf_loop_stop (a stop requested before the call makes it return
 * after one round). Returns 0, or EINVAL if epoll_wait fails. */
int cf_loop_run(struct cf_loop *loop)
{
	struct epoll_event evs[LOOP_EVENTS];
	struct cf_loop *prev;
	int err = 0, n, i;

	if (!loop)
		return EINVAL;
	prev = current;
	current = loop;
	cf_mem_ref(loop);
	for (;;) {
		uint64_t next;
		int timeout;

		cf_tmr_wheel_advance(loop->wheel, cf_clock_ms());
		if (atomic_load(&loop->stop))
			break;
		next = cf_tmr_wheel_next(loop->wheel);
		if (next == UINT64_MAX)
			timeout = -1;
		else
			timeout = next > INT_MAX ? INT_MAX : (int)next;
		n = epoll_wait(loop->epfd, evs, LOOP_EVENTS, timeout);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			err = EINVAL;
			break;
		}
		if (n > 0)
			cf_tmr_wheel_advance(loop->wheel, cf_clock_ms());
		for (i = 0; i < n; i++)
			dispatch(loop, &evs[i]);
	}
	atomic_store(&loop->stop, false);
	current = prev;
	cf_mem_deref(loop);
	return err;
}

/* Any thread, any time: sets the flag and wakes the loop's eventfd. */
void cf_loop_stop(struct cf_loop *loop)
{
	uint64_t one = 1;

	if (!loop)
		return;
	atomic_store(&loop->stop, true);
	if (write(loop->wakefd, &one, sizeof(one)) < 0) {
		/* EAGAIN: the counter is saturated, the loop is awake anyway */
	}
}

struct cf_tmr_wheel *cf_loop_wheel(struct cf_loop *loop)
{
	return loop ? loop->wheel : NULL;
}

struct cf_loop *cf_loop_current(void)
{
	return current;
}
