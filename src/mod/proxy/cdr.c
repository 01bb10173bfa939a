/* SPDX-License-Identifier: BSD-3-Clause */
/* cdr.c - call detail records (issue 4 point 6): the write-behind thread
 * that puts the records calls.c queues into the store (workers never
 * touch SQLite: queueing takes a mutex for a pointer swap), the restart
 * rule (records left "open" by a confabd that died are closed as
 * interrupted at the next start, before any new call), and `confabctl cdr
 * list|export`, online through the daemon or offline on the store. */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "mod/proxy/proxy_int.h"
#include "store/store.h"

enum {
	WB_INTERVAL_MS = 200, /* a record is written within this */
	FLUSH_WAIT_MS = 10000,
	RETRIES = 3,
	QUEUE_MAX = 200000, /* records waiting; beyond: dropped, counted */
	LIST_DEFAULT = 20,
	STR_MAX = 1024, /* each text field is cut at this */
};

/* One queued record: a copy of the strings, owned. */
struct rec {
	struct rec *next;
	struct cf_le le;  /* in the batch's table by uid */
	bool superseded;  /* a later record of the same call is in the batch */
	struct cf_store_cdr c;
	char *s[7]; /* uid call_id caller callee ruri contact ended_by */
};

static struct {
	pthread_mutex_t mtx;
	pthread_cond_t cond, done;
	pthread_t thread;
	bool started, stop;
	struct cf_store *st; /* a reference */
	struct rec *head, **tail;
	size_t n;
	uint64_t flush_req, flush_done;
	unsigned failures;
	atomic_uint_fast64_t written, errors;
} wb = {.mtx = PTHREAD_MUTEX_INITIALIZER,
        .cond = PTHREAD_COND_INITIALIZER,
        .done = PTHREAD_COND_INITIALIZER};

static int64_t wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void rec_free(struct rec *r)
{
	for (size_t i = 0; i < sizeof(r->s) / sizeof(r->s[0]); i++)
		cf_mem_deref(r->s[i]);
	cf_mem_deref(r);
}

static void recs_free(struct rec *r)
{
	while (r) {
		struct rec *next = r->next;

		rec_free(r);
		r = next;
	}
}

static char *dup_cut(const char *s)
{
	struct cf_pl pl;

	if (!s)
		return NULL;
	cf_pl_set_str(&pl, s);
	if (pl.l > STR_MAX)
		pl.l = STR_MAX;
	return cf_pl_dup(&pl);
}

/* Worker thread: copy and queue; never blocks on the store. */
void proxy_cdr_queue(const struct cf_store_cdr *c)
{
	const char *src[7] = {c->uid,  c->call_id, c->caller,  c->callee,
	                      c->ruri, c->contact, c->ended_by};
	struct rec *r;

	if (!wb.st)
		return;
	r = cf_mem_zalloc(sizeof(*r), NULL);
	for (size_t i = 0; r && i < 7; i++) {
		r->s[i] = dup_cut(src[i]);
		if (src[i] && !r->s[i]) {
			rec_free(r);
			r = NULL;
		}
	}
	if (!r) {
		atomic_fetch_add(&wb.errors, 1);
		cf_log(CF_LOG_ERR, NULL,
		       "proxy: out of memory: a CDR of call %s not queued",
		       c->call_id);
		return;
	}
	r->c = *c;
	r->c.uid = r->s[0];
	r->c.call_id = r->s[1];
	r->c.caller = r->s[2];
	r->c.callee = r->s[3];
	r->c.ruri = r->s[4];
	r->c.contact = r->s[5];
	r->c.ended_by = r->s[6];
	pthread_mutex_lock(&wb.mtx);
	if (wb.n >= QUEUE_MAX) {
		pthread_mutex_unlock(&wb.mtx);
		atomic_fetch_add(&wb.errors, 1);
		cf_log(CF_LOG_ERR, NULL,
		       "proxy: CDR queue full (%d: the store is too slow): a "
		       "CDR of call %s dropped",
		       QUEUE_MAX, c->call_id);
		rec_free(r);
		return;
	}
	*wb.tail = r;
	wb.tail = &r->next;
	if (!wb.n++)
		pthread_cond_signal(&wb.cond);
	pthread_mutex_unlock(&wb.mtx);
}

static bool uid_eq(struct cf_le *le, void *arg)
{
	return !strcmp(((struct rec *)le->data)->c.uid, arg);
}

/* Each record is a whole snapshot of its call: of several records of one
 * call in a batch (INVITE, answer and end within 200 ms), only the last
 * is written, in the place of the first (a new row keeps the order of the
 * calls' starts). O(n). */
static void supersede(struct rec *list, size_t n)
{
	struct cf_hash *h = NULL;

	if (n < 2 || cf_hash_alloc(&h, (uint32_t)n))
		return;
	for (struct rec *r = list; r; r = r->next) {
		uint32_t key = cf_hash_mem(r->c.uid, strlen(r->c.uid));
		struct cf_le *le =
		    cf_hash_lookup(h, key, uid_eq, (void *)r->c.uid);

		if (le) {
			struct rec *first = le->data;
			struct cf_store_cdr c = first->c;
			char *s[7];

			memcpy(s, first->s, sizeof(s));
			first->c = r->c;
			memcpy(first->s, r->s, sizeof(s));
			r->c = c;
			memcpy(r->s, s, sizeof(s));
			r->superseded = true;
			continue;
		}
		cf_hash_append(h, key, &r->le, r);
	}
	cf_hash_flush(h, false);
	cf_mem_deref(h);
}

/* One batch in one transaction; a failed batch is tried again RETRIES
 * times, then dropped and logged (as the registrar's write-behind). */
static int write_batch(struct rec *list, size_t n)
{
	struct rec **tail;
	int err;

	supersede(list, n);
	err = cf_store_txn_begin(wb.st);
	for (struct rec *r = list; r && !err; r = r->next) {
		if (r->superseded)
			continue;
		err = cf_store_cdr_put(wb.st, &r->c);
		if (err == EINVAL) {
			cf_log(CF_LOG_WARN, NULL,
			       "proxy: CDR of call %s not stored: invalid",
			       r->c.call_id ? r->c.call_id : "?");
			err = 0;
		}
	}
	if (!err)
		err = cf_store_txn_commit(wb.st);
	if (!err) {
		wb.failures = 0;
		atomic_fetch_add(&wb.written, n);
		recs_free(list);
		return 0;
	}
	(void)cf_store_txn_rollback(wb.st);
	atomic_fetch_add(&wb.errors, 1);
	if (++wb.failures > RETRIES) {
		cf_log(CF_LOG_ERR, NULL, "proxy: %zu CDR writes lost: %s", n,
		       strerror(err));
		wb.failures = 0;
		recs_free(list);
		return err;
	}
	cf_log(CF_LOG_WARN, NULL, "proxy: %zu CDR writes not stored yet (%s)",
	       n, strerror(err));
	for (tail = &list; *tail; tail = &(*tail)->next)
		;
	pthread_mutex_lock(&wb.mtx);
	*tail = wb.head;
	if (!wb.head)
		wb.tail = tail;
	wb.head = list;
	wb.n += n;
	pthread_mutex_unlock(&wb.mtx);
	return err;
}

static void *wb_main(void *arg)
{
	(void)arg;
	cf_log_set_thread("cdrwb");
	pthread_mutex_lock(&wb.mtx);
	for (;;) {
		struct rec *list;
		uint64_t req;
		size_t n;

		if (!wb.n && !wb.stop && wb.flush_req == wb.flush_done) {
			pthread_cond_wait(&wb.cond, &wb.mtx);
			continue;
		}
		if (wb.n && !wb.stop && wb.flush_req == wb.flush_done) {
			/* gather for a moment: one transaction for many */
			pthread_mutex_unlock(&wb.mtx);
			nanosleep(&(struct timespec){0, WB_INTERVAL_MS *
			                                    1000000L},
			          NULL);
			pthread_mutex_lock(&wb.mtx);
		}
		list = wb.head;
		n = wb.n;
		wb.head = NULL;
		wb.tail = &wb.head;
		wb.n = 0;
		req = wb.flush_req;
		pthread_mutex_unlock(&wb.mtx);
		if (list)
			(void)write_batch(list, n);
		pthread_mutex_lock(&wb.mtx);
		wb.flush_done = req;
		pthread_cond_broadcast(&wb.done);
		if (wb.stop && !wb.n)
			break;
	}
	pthread_mutex_unlock(&wb.mtx);
	return NULL;
}

/* Main thread, proxy init: close what a dead confabd left open, then
 * start the writer. Without a store (unit tests), CDRs are not kept. */
int proxy_cdr_start(struct cf_app *app)
{
	struct cf_store *st = cf_app_store(app);
	size_t n = 0;
	int err;

	if (wb.started || !st)
		return 0;
	err = cf_store_cdr_interrupt(st, wall_ms(), &n);
	if (err)
		cf_log(CF_LOG_ERR, NULL,
		       "proxy: open CDRs not closed at start: %s",
		       strerror(err));
	else if (n)
		cf_log(CF_LOG_NOTICE, NULL,
		       "proxy: %zu CDRs of calls open when confabd stopped "
		       "closed as interrupted",
		       n);
	/* a handle of our own: the registrar's write-behind groups its
	 * writes in transactions on the shared one */
	err = cf_store_reopen(&wb.st, st);
	if (err) {
		cf_log(CF_LOG_ERR, NULL,
		       "proxy: the store cannot be opened for CDRs (%s): "
		       "none will be written",
		       strerror(err));
		return 0;
	}
	wb.head = NULL;
	wb.tail = &wb.head;
	wb.n = 0;
	wb.stop = false;
	wb.flush_req = wb.flush_done = 0;
	err = pthread_create(&wb.thread, NULL, wb_main, NULL);
	if (err) {
		wb.st = cf_mem_deref(wb.st);
		return err;
	}
	wb.started = true;
	return 0;
}

/* Wait until what was queued before the call is in the store. */
int proxy_cdr_flush(void)
{
	struct timespec ts;
	uint64_t want;
	int err = 0;

	if (!wb.started)
		return 0;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += FLUSH_WAIT_MS / 1000;
	pthread_mutex_lock(&wb.mtx);
	want = ++wb.flush_req;
	pthread_cond_signal(&wb.cond);
	while (wb.flush_done < want && !err)
		err = pthread_cond_timedwait(&wb.done, &wb.mtx, &ts);
	pthread_mutex_unlock(&wb.mtx);
	return err;
}

/* Main thread, proxy stop (after the calls ended): write the rest. */
void proxy_cdr_stop(void)
{
	if (!wb.started)
		return;
	pthread_mutex_lock(&wb.mtx);
	wb.stop = true;
	pthread_cond_signal(&wb.cond);
	pthread_mutex_unlock(&wb.mtx);
	pthread_join(wb.thread, NULL);
	wb.started = false;
	recs_free(wb.head);
	wb.head = NULL;
	wb.tail = &wb.head;
	wb.n = 0;
	wb.st = cf_mem_deref(wb.st);
}

void proxy_cdr_stats(uint64_t *written, uint64_t *errors)
{
	*written = atomic_load(&wb.written);
	*errors = atomic_load(&wb.errors);
}

/* ------------------------------------------------------- confabctl */

static void when(int64_t ms, char *b, size_t size)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	size_t l;

	if (!ms || !gmtime_r(&t, &tm)) {
		b[0] = 0;
		return;
	}
	l = strftime(b, size, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(b + l, size - l, ".%03dZ", (int)(ms % 1000));
}

struct listing {
	json_t *arr;
	struct cf_mbuf *mb;
	bool csv;
	int err;
};

/* A CSV field (RFC 4180): quoted when it holds a comma, quote or line
 * break, quotes doubled. */
static int csv_field(struct cf_mbuf *mb, const char *s, bool last)
{
	int err = 0;

	s = s ? s : "";
	if (strpbrk(s, ",\"\r\n")) {
		err = cf_mbuf_write_u8(mb, '"');
		for (; !err && *s; s++) {
			if (*s == '"')
				err = cf_mbuf_write_u8(mb, '"');
			if (!err)
				err = cf_mbuf_write_u8(mb, (uint8_t)*s);
		}
		if (!err)
			err = cf_mbuf_write_u8(mb, '"');
	} else {
		err = cf_mbuf_write_str(mb, s);
	}
	if (!err)
		err = cf_mbuf_write_str(mb, last ? "\n" : ",");
	return err;
}

static const char CSV_HEAD[] =
    "id,call_id,caller,callee,request_uri,contact,start,answer,end,"
    "duration,disposition,code,ended_by\n";

static bool list_h(const struct cf_store_cdr *c, void *arg)
{
	struct listing *l = arg;
	char start[40], answer[40], end[40], dur[32], id[24], code[8];
	json_t *o;

	when(c->start_ms, start, sizeof(start));
	when(c->answer_ms, answer, sizeof(answer));
	when(c->end_ms, end, sizeof(end));
	snprintf(dur, sizeof(dur), "%" PRId64 ".%03d", c->duration_ms / 1000,
	         (int)(c->duration_ms % 1000));
	snprintf(id, sizeof(id), "%" PRId64, c->id);
	snprintf(code, sizeof(code), "%d", c->code);
	if (l->csv) {
		const char *f[] = {id,          c->call_id, c->caller,
		                   c->callee,   c->ruri,    c->contact,
		                   start,       answer,     end,
		                   dur,         c->disposition, code,
		                   c->ended_by};
		size_t nf = sizeof(f) / sizeof(f[0]);

		for (size_t i = 0; !l->err && i < nf; i++)
			l->err = csv_field(l->mb, f[i], i + 1 == nf);
		return l->err != 0;
	}
	o = json_pack("{sI ss ss ss ss ss ss ss ss sf ss si ss}", "id",
	              (json_int_t)c->id, "call_id", c->call_id ? c->call_id : "",
	              "caller", c->caller ? c->caller : "", "callee",
	              c->callee ? c->callee : "", "request_uri",
	              c->ruri ? c->ruri : "", "contact",
	              c->contact ? c->contact : "", "start", start, "answer",
	              answer, "end", end, "duration",
	              (double)c->duration_ms / 1000.0, "disposition",
	              c->disposition ? c->disposition : "", "code", c->code,
	              "ended_by", c->ended_by ? c->ended_by : "");
	if (!o || json_array_append_new(l->arr, o)) {
		l->err = ENOMEM;
		return true;
	}
	l->err = cf_mbuf_printf(
	    l->mb, "%-5s %-24s %-10s %3s %8ss  %s -> %s  %s\n", id, start,
	    c->disposition ? c->disposition : "", code, dur,
	    c->caller ? c->caller : "", c->callee ? c->callee : "",
	    c->call_id ? c->call_id : "");
	return l->err != 0;
}

static int say(json_t *resp, int err, const char *msg)
{
	json_object_set_new(resp, "error", json_string(msg));
	return err;
}

static int run_list(struct cf_app *app, const struct cf_mod_ctl_req *req,
                    json_t *resp, bool csv)
{
	struct cf_store *st = cf_app_store(app);
	struct listing l = {0};
	const char *key;
	uint32_t limit = csv ? 0 : LIST_DEFAULT;
	json_t *v;
	int err;

	json_object_foreach(req->opts, key, v)
	{
		if (!csv && !strcmp(key, "limit")) {
			struct cf_pl pl;

			cf_pl_set_str(&pl, json_string_value(v)
			                       ? json_string_value(v)
			                       : "");
			if (cf_pl_u32(&pl, &limit))
				return say(resp, EINVAL,
				           "--limit N: a number (0: all)");
		} else if (!(csv && !strcmp(key, "csv"))) {
			char b[128];

			snprintf(b, sizeof(b), "unknown option --%s", key);
			return say(resp, EINVAL, b);
		}
	}
	if (!st)
		return say(resp, ENOENT, "no store");
	if (cf_app_online(app))
		(void)proxy_cdr_flush(); /* what was queued is listed too */
	l.csv = csv;
	l.arr = json_array();
	err = cf_mbuf_alloc(&l.mb, 4096);
	if (!l.arr || err) {
		json_decref(l.arr);
		cf_mem_deref(l.mb);
		return ENOMEM;
	}
	if (csv)
		err = cf_mbuf_write_str(l.mb, CSV_HEAD);
	if (!err)
		err = cf_store_cdr_list(st, limit, list_h, &l);
	if (!err)
		err = l.err;
	if (!err && l.mb->end && l.mb->buf[l.mb->end - 1] == '\n')
		l.mb->end--; /* printed with a line end of its own */
	if (!err && !csv && !l.mb->end)
		err = cf_mbuf_write_str(l.mb, "no CDRs");
	if (!err) {
		json_object_set_new(resp, "message",
		                    json_stringn((const char *)l.mb->buf,
		                                 l.mb->end));
		if (!csv)
			json_object_set_new(resp, "cdrs", l.arr);
		else
			json_decref(l.arr);
	} else {
		json_decref(l.arr);
		say(resp, err, "cannot read the CDRs");
	}
	cf_mem_deref(l.mb);
	return err;
}

/* confabctl cdr list [--limit N] */
int proxy_cdr_list_h(struct cf_app *app, const struct cf_mod_ctl_req *req,
                     json_t *resp)
{
	return run_list(app, req, resp, false);
}

/* confabctl cdr export [--csv] */
int proxy_cdr_export_h(struct cf_app *app, const struct cf_mod_ctl_req *req,
                       json_t *resp)
{
	return run_list(app, req, resp, true);
}
