/* SPDX-License-Identifier: BSD-3-Clause */
/* wb.c - the registrar's write-behind: a thread of its own (never a worker)
 * takes binding changes from a queue and writes them to the store in one
 * transaction per batch, at most write_behind_ms after they were queued;
 * once a second it also sweeps expired bindings. And the restore at start. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "mod/registrar/reg_priv.h"

enum {
	SWEEP_MS = 1000,
	FLUSH_WAIT_MS = 30000, /* cf_registrar_flush gives up after this */
	RETRIES = 3,           /* a failed batch is tried again this often */
};

struct rec {
	struct rec *next;
	enum reg_wb_op op;
	struct reg_binding *b; /* a reference */
};

struct reg_wb {
	struct reg *r;
	struct cf_store *st; /* a reference */
	pthread_t thread;
	bool started;
	pthread_mutex_t mtx;
	pthread_cond_t cond; /* work queued, flush asked, stop */
	pthread_cond_t done; /* a batch was written */
	struct rec *head;
	struct rec **tail;
	size_t n;
	bool stop;
	uint64_t flush_req, flush_done;
	int last_err;
	unsigned failures; /* consecutive failed batches */
	uint32_t interval_ms;
};

static void abstime(struct timespec *ts, uint64_t ms)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += (time_t)(ms / 1000);
	ts->tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

void reg_wb_queue(struct reg_wb *wb, enum reg_wb_op op, struct reg_binding *b)
{
	struct rec *rc;

	if (!wb->st)
		return; /* no store: the thread only sweeps */
	rc = cf_mem_alloc(sizeof(*rc), NULL);
	if (!rc) {
		reg_ctr_add(&wb->r->ctr.wb_errors, 1);
		cf_log(CF_LOG_ERR, NULL,
		       "registrar: out of memory: a change of %s not queued "
		       "for the store",
		       b->aor->name);
		return;
	}
	rc->next = NULL;
	rc->op = op;
	rc->b = cf_mem_ref(b);
	pthread_mutex_lock(&wb->mtx);
	*wb->tail = rc;
	wb->tail = &rc->next;
	if (!wb->n++)
		pthread_cond_signal(&wb->cond);
	pthread_mutex_unlock(&wb->mtx);
	reg_ctr_add(&wb->r->ctr.wb_queued, 1);
}

static int write_one(struct cf_store *st, const struct rec *rc)
{
	const struct reg_binding *b = rc->b;
	char received[96], sock[96];
	struct cf_store_binding sb = {0};
	struct cf_pl s;
	int err;

	s = reg_str(b, RS_CONTACT);
	if (rc->op == WB_DELETE) {
		err = cf_store_location_delete(st, b->aor->name, s.p);
		return err == ENOENT ? 0 : err;
	}
	reg_addr_print(&b->src, received, sizeof(received));
	reg_addr_print(&b->local, sock, sizeof(sock));
	sb.aor = b->aor->name;
	sb.contact = s.p;
	sb.received = received;
	sb.path = reg_str(b, RS_PATH).p;
	sb.instance = reg_str(b, RS_INSTANCE).p;
	sb.reg_id = b->reg_id;
	sb.expires = b->expires;
	sb.q = b->q;
	sb.call_id = reg_str(b, RS_CALL_ID).p;
	sb.cseq = b->cseq;
	sb.flags = b->flags;
	sb.user_agent = reg_str(b, RS_UA).p;
	sb.socket = sock;
	sb.node = "";
	return cf_store_location_upsert(st, &sb);
}

static void recs_free(struct rec *list)
{
	while (list) {
		struct rec *next = list->next;

		cf_mem_deref(list->b);
		cf_mem_deref(list);
		list = next;
	}
}

/* One batch, one transaction. A failed batch (the database locked by
 * another process past the busy timeout, a full disk) goes back to the
 * head of the queue and is tried again at the next round, RETRIES times;
 * then it is dropped and logged. */
static int write_batch(struct reg_wb *wb, struct rec *list, size_t n)
{
	struct rec **tail;
	int err;

	err = cf_store_txn_begin(wb->st);
	for (struct rec *rc = list; rc && !err; rc = rc->next) {
		err = write_one(wb->st, rc);
		if (err == EINVAL) {
			/* one bad row must not lose the batch */
			cf_log(CF_LOG_WARN, NULL,
			       "registrar: binding of %s not stored: invalid",
			       rc->b->aor->name);
			err = 0;
		}
	}
	if (!err)
		err = cf_store_txn_commit(wb->st);
	if (!err) {
		wb->failures = 0;
		reg_ctr_add(&wb->r->ctr.wb_written, (int64_t)n);
		reg_ctr_add(&wb->r->ctr.wb_queued, -(int64_t)n);
		recs_free(list);
		return 0;
	}
	(void)cf_store_txn_rollback(wb->st);
	reg_ctr_add(&wb->r->ctr.wb_errors, 1);
	if (++wb->failures > RETRIES) {
		cf_log(CF_LOG_ERR, NULL,
		       "registrar: %zu binding changes not stored: %s", n,
		       strerror(err));
		wb->failures = 0;
		reg_ctr_add(&wb->r->ctr.wb_queued, -(int64_t)n);
		recs_free(list);
		return err;
	}
	cf_log(CF_LOG_WARN, NULL,
	       "registrar: %zu binding changes not stored yet (%s): retrying",
	       n, strerror(err));
	for (tail = &list; *tail; tail = &(*tail)->next)
		;
	pthread_mutex_lock(&wb->mtx);
	*tail = wb->head;
	if (!wb->head)
		wb->tail = tail;
	wb->head = list;
	wb->n += n;
	pthread_mutex_unlock(&wb->mtx);
	return err;
}

static void *wb_main(void *arg)
{
	struct reg_wb *wb = arg;
	uint64_t next_sweep = cf_clock_ms() + SWEEP_MS;
	uint64_t first_ms = 0; /* when the oldest queued change came */

	cf_log_set_thread("regwb");
	pthread_mutex_lock(&wb->mtx);
	for (;;) {
		uint64_t now = cf_clock_ms(), wait = next_sweep - now;
		bool flush = wb->flush_req > wb->flush_done;
		struct timespec ts;
		struct rec *list;
		uint64_t req;
		size_t n;
		int err = 0;

		if (now >= next_sweep)
			wait = 0;
		if (wb->n && !first_ms)
			first_ms = now;
		if (wb->n && now - first_ms >= wb->interval_ms)
			flush = true;
		else if (wb->n && first_ms + wb->interval_ms - now < wait)
			wait = first_ms + wb->interval_ms - now;
		if (wb->stop)
			flush = true;
		if (!flush && wait) {
			abstime(&ts, wait);
			pthread_cond_timedwait(&wb->cond, &wb->mtx, &ts);
			continue;
		}
		list = wb->head;
		n = wb->n;
		wb->head = NULL;
		wb->tail = &wb->head;
		wb->n = 0;
		req = wb->flush_req;
		first_ms = 0;
		pthread_mutex_unlock(&wb->mtx);

		if (list)
			err = write_batch(wb, list, n);
		if (cf_clock_ms() >= next_sweep || wb->stop) {
			int64_t t = reg_now();

			(void)reg_loc_sweep(wb->r, t);
			if (wb->st &&
			    cf_store_location_delete_expired(wb->st, t, NULL))
				reg_ctr_add(&wb->r->ctr.wb_errors, 1);
			next_sweep = cf_clock_ms() + SWEEP_MS;
		}

		pthread_mutex_lock(&wb->mtx);
		wb->last_err = err;
		wb->flush_done = req;
		pthread_cond_broadcast(&wb->done);
		if (wb->stop && !wb->n)
			break;
	}
	pthread_mutex_unlock(&wb->mtx);
	return NULL;
}

int reg_wb_flush(struct reg_wb *wb)
{
	struct timespec ts;
	uint64_t my;
	int err;

	if (!wb)
		return 0;
	abstime(&ts, FLUSH_WAIT_MS);
	pthread_mutex_lock(&wb->mtx);
	my = ++wb->flush_req;
	pthread_cond_signal(&wb->cond);
	while (wb->flush_done < my) {
		if (pthread_cond_timedwait(&wb->done, &wb->mtx, &ts))
			break;
	}
	err = wb->flush_done >= my ? wb->last_err : ETIMEDOUT;
	pthread_mutex_unlock(&wb->mtx);
	return err;
}

static void wb_destroy(void *data)
{
	struct reg_wb *wb = data;

	while (wb->head) {
		struct rec *rc = wb->head;

		wb->head = rc->next;
		cf_mem_deref(rc->b);
		cf_mem_deref(rc);
	}
	pthread_mutex_destroy(&wb->mtx);
	pthread_cond_destroy(&wb->cond);
	pthread_cond_destroy(&wb->done);
	cf_mem_deref(wb->st);
}

int reg_wb_alloc(struct reg_wb **wbp, struct reg *r, struct cf_store *st,
                 uint32_t interval_ms)
{
	pthread_condattr_t ca;
	struct reg_wb *wb;
	int err;

	wb = cf_mem_zalloc(sizeof(*wb), wb_destroy);
	if (!wb)
		return ENOMEM;
	wb->r = r;
	wb->st = cf_mem_ref(st);
	wb->tail = &wb->head;
	wb->interval_ms = interval_ms;
	pthread_mutex_init(&wb->mtx, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&wb->cond, &ca);
	pthread_cond_init(&wb->done, &ca);
	pthread_condattr_destroy(&ca);
	err = pthread_create(&wb->thread, NULL, wb_main, wb);
	if (err) {
		cf_mem_deref(wb);
		return err;
	}
	wb->started = true;
	*wbp = wb;
	return 0;
}

/* Write what is queued, stop the thread, free. */
void reg_wb_stop(struct reg_wb *wb)
{
	if (!wb)
		return;
	if (wb->started) {
		pthread_mutex_lock(&wb->mtx);
		wb->stop = true;
		pthread_cond_signal(&wb->cond);
		pthread_mutex_unlock(&wb->mtx);
		pthread_join(wb->thread, NULL);
	}
	cf_mem_deref(wb);
}

/* ------------------------------------------------------------ restore */

struct restore {
	struct reg *r;
	size_t n, bad;
	int err;
};

static bool restore_h(const struct cf_store_binding *sb, void *arg)
{
	struct restore *rs = arg;
	struct reg *r = rs->r;
	struct cf_pl strs[RS__COUNT] = {0};
	struct reg_binding *b;
	struct reg_aor *a;
	size_t al = strlen(sb->aor);
	uint32_t hash = reg_hash(sb->aor, al);

	cf_pl_set_str(&strs[RS_CONTACT], sb->contact);
	cf_pl_set_str(&strs[RS_CALL_ID], sb->call_id);
	if (sb->path)
		cf_pl_set_str(&strs[RS_PATH], sb->path);
	if (sb->instance)
		cf_pl_set_str(&strs[RS_INSTANCE], sb->instance);
	if (sb->user_agent)
		cf_pl_set_str(&strs[RS_UA], sb->user_agent);

	pthread_mutex_lock(reg_lock(r, hash));
	a = reg_aor_get(r, sb->aor, al, hash);
	b = a ? reg_binding_alloc(a, strs) : NULL;
	if (b) {
		b->expires = sb->expires;
		b->cseq = sb->cseq;
		b->reg_id = sb->reg_id;
		b->q = (int16_t)sb->q;
		/* the flow's connection is gone with the old process: the
		 * binding stays, reachable by address */
		b->flags = (uint16_t)sb->flags;
		b->seq = atomic_fetch_add(&r->seq, 1) + 1;
		(void)reg_addr_decode(&b->src, sb->received);
		(void)reg_addr_decode(&b->local, sb->socket);
		reg_binding_link(r, a, b);
		rs->n++;
	} else if (a) {
		reg_aor_gc(r, a);
	}
	pthread_mutex_unlock(reg_lock(r, hash));
	if (!b) {
		rs->err = ENOMEM;
		return true;
	}
	return false;
}

int reg_wb_restore(struct reg *r, struct cf_store *st)
{
	struct restore rs = {.r = r};
	size_t expired = 0;
	int err;

	err = cf_store_location_delete_expired(st, reg_now(), &expired);
	if (!err)
		err = cf_store_location_load(st, restore_h, &rs);
	if (!err)
		err = rs.err;
	cf_log(err ? CF_LOG_ERR : CF_LOG_INFO, NULL,
	       "registrar: %zu bindings restored from the store, %zu expired "
	       "ones deleted%s%s",
	       rs.n, expired, err ? ": " : "", err ? strerror(err) : "");
	return err;
}
