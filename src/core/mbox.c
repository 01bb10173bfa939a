/* SPDX-License-Identifier: BSD-3-Clause */
/* mbox.c - cross-thread mailbox: lock-free MPSC queue woken by an eventfd. */
#include <errno.h>
#include <stdatomic.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "core/core.h"

/*
 * The queue is Dmitry Vyukov's intrusive MPSC queue: a producer links its
 * node with one atomic exchange on `head` and one release store of the old
 * head's next pointer (wait-free); the consumer walks from `tail` with a
 * stub node. The public node's `next` is a plain pointer, so it is accessed
 * only with the __atomic builtins (the C11 memory model, understood by
 * ThreadSanitizer).
 *
 * Wakeups: `pending` counts messages sent but not yet consumed; it is
 * incremented before the push. Only the producer that raises it from 0
 * writes the eventfd; the consumer drains up to MBOX_BATCH messages per
 * wakeup and subtracts what it took. If anything is left (more messages, or
 * a producer between its increment and its push) it writes the eventfd
 * itself, so it comes back on the next loop round without starving fds.
 */

enum { MBOX_BATCH = 4096 };

struct cf_mbox {
	struct cf_mbox_node *_Atomic head; /* producers */
	char pad[64]; /* keep the consumer's fields off the producers' line */
	struct cf_mbox_node *tail; /* consumer */
	struct cf_mbox_node stub;
	atomic_size_t pending;
	struct cf_loop *loop;
	cf_mbox_h *h;
	void *arg;
	int fd;
};

static inline struct cf_mbox_node *next_load(struct cf_mbox_node *n)
{
	return __atomic_load_n(&n->next, __ATOMIC_ACQUIRE);
}

static void push(struct cf_mbox *mb, struct cf_mbox_node *n)
{
	struct cf_mbox_node *prev;

	__atomic_store_n(&n->next, NULL, __ATOMIC_RELAXED);
	prev = atomic_exchange_explicit(&mb->head, n, memory_order_acq_rel);
	__atomic_store_n(&prev->next, n, __ATOMIC_RELEASE);
}

/* Consumer only. NULL when empty or when a producer is mid-push. */
static struct cf_mbox_node *pop(struct cf_mbox *mb)
{
	struct cf_mbox_node *tail = mb->tail, *next = next_load(tail);

	if (tail == &mb->stub) {
		if (!next)
			return NULL;
		mb->tail = next;
		tail = next;
		next = next_load(next);
	}
	if (next) {
		mb->tail = next;
		return tail;
	}
	if (tail != atomic_load_explicit(&mb->head, memory_order_acquire))
		return NULL;
	push(mb, &mb->stub);
	next = next_load(tail);
	if (next) {
		mb->tail = next;
		return tail;
	}
	return NULL;
}

static void signal_fd(int fd)
{
	uint64_t one = 1;

	if (write(fd, &one, sizeof(one)) < 0) {
		/* EAGAIN: counter saturated, the consumer is awake anyway */
	}
}

static void on_wake(int fd, int events, void *arg)
{
	struct cf_mbox *mb = arg;
	struct cf_mbox_node *n;
	size_t taken = 0;
	uint64_t v;

	if (read(fd, &v, sizeof(v)) < 0) {
		/* EAGAIN: nothing to clear */
	}
	while (taken < MBOX_BATCH && (n = pop(mb))) {
		taken++;
		mb->h(n, mb->arg); /* n belongs to the handler now */
	}
	if (atomic_fetch_sub(&mb->pending, taken) != taken)
		signal_fd(mb->fd);
}

/* Hand what is left to the handler (its owner frees it), then unregister.
 * Destroy on the loop's thread, after the producers have stopped. */
static void destructor(void *data)
{
	struct cf_mbox *mb = data;
	struct cf_mbox_node *n;

	while ((n = pop(mb)))
		mb->h(n, mb->arg);
	if (mb->fd >= 0) {
		cf_loop_fd_close(mb->loop, mb->fd);
		close(mb->fd);
	}
	mb->loop = cf_mem_deref(mb->loop);
}

/* A mailbox delivering to h(node, arg) on loop's thread. Call on that
 * thread or before the loop runs; the caller owns the reference. ENOMEM,
 * EINVAL (eventfd refused). */
int cf_mbox_alloc(struct cf_mbox **mbp, struct cf_loop *loop, cf_mbox_h *h,
                  void *arg)
{
	struct cf_mbox *mb;
	int err;

	if (!mbp || !loop || !h)
		return EINVAL;
	mb = cf_mem_zalloc(sizeof(*mb), destructor);
	if (!mb)
		return ENOMEM;
	mb->stub.next = NULL;
	atomic_init(&mb->head, &mb->stub);
	mb->tail = &mb->stub;
	atomic_init(&mb->pending, 0);
	mb->loop = cf_mem_ref(loop);
	mb->h = h;
	mb->arg = arg;
	mb->fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (mb->fd < 0) {
		err = errno == ENOMEM ? ENOMEM : EINVAL;
		goto out;
	}
	err = cf_loop_fd_listen(loop, mb->fd, CF_FD_READ, on_wake, mb);
out:
	if (err)
		mb = cf_mem_deref(mb);
	else
		*mbp = mb;
	return err;
}

/* Any thread. Wait-free apart from the eventfd write, which only the sender
 * that makes the mailbox non-empty does. */
void cf_mbox_send(struct cf_mbox *mb, struct cf_mbox_node *node)
{
	bool first;

	if (!mb || !node)
		return;
	first = atomic_fetch_add(&mb->pending, 1) == 0;
	push(mb, node);
	if (first)
		signal_fd(mb->fd);
}
