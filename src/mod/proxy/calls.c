/* SPDX-License-Identifier: BSD-3-Clause */
/* calls.c - call tracking in the proxy (issue 4 point 6): every INVITE
 * forwarded outside a dialog is a call, followed through its responses
 * (early, confirmed, terminated: src/sip/dialog.c keeps the caller's and
 * the callee's views of the dialog), its BYE or CANCEL; concurrent calls
 * are limited per user and in total; a call longer than
 * max_call_duration is ended by a BYE to each side; each call gives one
 * CDR (cdr.c writes it behind).
 *
 * Threads: every message of a Call-ID is handled by one worker (the stack
 * hands them by Call-ID), so a call's fields are touched by that worker
 * only; the table and the counters are shared under one mutex, held for
 * a lookup or an insert, never across I/O. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "mod/proxy/proxy_int.h"
#include "store/store.h"

enum {
	TICK_RINGING_MS = 250,  /* a call without a final looks this often */
	TICK_CALL_MS = 1000,    /* an answered one (max_call_duration) */
	TRYING_MAX_MS = 900000, /* no final after 15 min: given up */
	STOP_WAIT_MS = 3000,    /* stop waits this long for the calls */
	CANCEL_GRACE_MS = 5000, /* a 2xx crossing the CANCEL may come */
	AOR_MAX = 300,
};

enum call_state {
	CALL_TRYING = 0,
	CALL_EARLY,
	CALL_CONFIRMED,
	CALL_CANCELLED, /* 487 sent upstream; a crossing 2xx may revive it */
	CALL_ENDED,
};

struct call {
	struct cf_le le; /* in cs.calls; the table holds one reference */
	struct cf_app *app;
	enum call_state state;
	char uid[48];
	char *call_id;
	char *caller, *callee, *ruri, *contact;
	char *aor[2]; /* the users counted (caller, callee), or NULL */
	int64_t start_ms, answer_ms;
	int64_t end_ms; /* the 487 of a cancelled call, else 0 */
	uint16_t code;
	const struct cf_sip_msg *req; /* identity only: the proxy's INVITE */
	struct cf_sip_msg *invite;    /* a reference until answered */
	struct cf_sip_strans *st;     /* the INVITE's, until its final */
	struct cf_sip_peer in;        /* the caller's hop (conn ref) */
	struct cf_sip_txn_env *env;
	struct cf_sip_dialog *dcaller; /* the caller's view (UAC) */
	struct cf_sip_dialog *dcallee; /* the callee's view (UAS) */
	struct cf_tmr tick;
};

struct ucount {
	struct cf_le le;
	unsigned n;
	char aor[];
};

static struct {
	pthread_mutex_t mtx;
	struct cf_hash *calls; /* by Call-ID */
	struct cf_hash *users; /* struct ucount by AOR */
	unsigned total;
	uint32_t max_calls, max_per_user, max_duration_s;
	atomic_uint_fast64_t started, refused_user, refused_total, timed_out,
	    seq;
} cs = {.mtx = PTHREAD_MUTEX_INITIALIZER};

static int64_t wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ------------------------------------------------------------ config */

void proxy_calls_cfg(struct cf_app *app)
{
	const struct cf_app_conf *c = cf_app_conf(app);

	pthread_mutex_lock(&cs.mtx);
	cs.max_calls = cf_app_conf_u32(c, "proxy", "max_calls");
	cs.max_per_user = cf_app_conf_u32(c, "proxy", "max_calls_per_user");
	cs.max_duration_s = cf_app_conf_u32(c, "proxy", "max_call_duration");
	pthread_mutex_unlock(&cs.mtx);
}

int proxy_calls_init(struct cf_app *app)
{
	int err = 0;

	pthread_mutex_lock(&cs.mtx);
	if (!cs.calls)
		err = cf_hash_alloc(&cs.calls, 1024);
	if (!err && !cs.users)
		err = cf_hash_alloc(&cs.users, 256);
	cs.total = 0;
	pthread_mutex_unlock(&cs.mtx);
	if (err)
		return err;
	proxy_calls_cfg(app);
	return proxy_cdr_start(app);
}

void proxy_calls_stats(struct proxy_calls_stats *st)
{
	pthread_mutex_lock(&cs.mtx);
	st->active = cs.total;
	pthread_mutex_unlock(&cs.mtx);
	st->started = atomic_load(&cs.started);
	st->refused_user = atomic_load(&cs.refused_user);
	st->refused_total = atomic_load(&cs.refused_total);
	st->max_duration = atomic_load(&cs.timed_out);
}

/* ------------------------------------------------------------ counts */

static bool ucount_eq(struct cf_le *le, void *arg)
{
	return !strcmp(((struct ucount *)le->data)->aor, arg);
}

static struct ucount *ucount_find(const char *aor)
{
	if (!cs.users)
		return NULL;
	struct cf_le *le = cf_hash_lookup(
	    cs.users, cf_hash_mem_ci(aor, strlen(aor)), ucount_eq, (void *)aor);

	return le ? le->data : NULL;
}

/* "user@host" of a URI at one of our domains, lower-case host; false
 * when it is not one of our users. */
static bool user_aor(struct cf_app *app, const struct cf_sip_uri *u,
                     char *out, size_t size)
{
	if (!cf_pl_isset(&u->user) || !cf_app_uri_is_local(app, u))
		return false;
	if ((size_t)snprintf(out, size, "%.*s@%.*s", (int)u->user.l, u->user.p,
	                     (int)u->host.l, u->host.p) >= size)
		return false;
	for (char *p = strchr(out, '@'); p && *p; p++) {
		if (*p >= 'A' && *p <= 'Z')
			*p += 'a' - 'A';
	}
	return true;
}

/* cs.mtx held. */
static void ucount_drop(const char *aor)
{
	struct ucount *u = aor ? ucount_find(aor) : NULL;

	if (u && !--u->n) {
		cf_hash_unlink(&u->le);
		cf_mem_deref(u);
	}
}

/* ------------------------------------------------------------ CDRs */

static const char *disposition(uint16_t code)
{
	if (code >= 200 && code < 300)
		return "answered";
	if (code == 486 || code == 600 || code == 603)
		return "busy";
	if (code == 487)
		return "cancelled";
	if (code == 408 || code == 480)
		return "no_answer";
	return "failed";
}

static void cdr_write(const struct call *c, int64_t end_ms,
                      const char *disp, const char *ended_by)
{
	struct cf_store_cdr r = {0};

	r.uid = c->uid;
	r.call_id = c->call_id;
	r.caller = c->caller;
	r.callee = c->callee;
	r.ruri = c->ruri;
	r.contact = c->contact;
	r.start_ms = c->start_ms;
	r.answer_ms = c->answer_ms;
	r.end_ms = end_ms;
	r.duration_ms =
	    c->answer_ms && end_ms > c->answer_ms ? end_ms - c->answer_ms : 0;
	r.disposition = disp;
	r.code = c->code;
	r.ended_by = ended_by;
	proxy_cdr_queue(&r);
}

/* ------------------------------------------------------------ life */

static void call_destroy(void *data)
{
	struct call *c = data;

	cf_tmr_cancel(&c->tick);
	cf_mem_deref(c->call_id);
	cf_mem_deref(c->caller);
	cf_mem_deref(c->callee);
	cf_mem_deref(c->ruri);
	cf_mem_deref(c->contact);
	cf_mem_deref(c->aor[0]);
	cf_mem_deref(c->aor[1]);
	cf_mem_deref(c->invite);
	cf_mem_deref(c->st);
	cf_mem_deref(c->in.conn);
	cf_mem_deref(c->dcaller);
	cf_mem_deref(c->dcallee);
}

/* The end of a call: its CDR closed, its counts and its table entry
 * dropped. Worker of the call. */
static void call_end(struct call *c, const char *disp, const char *ended_by)
{
	if (c->state == CALL_ENDED)
		return;
	c->state = CALL_ENDED;
	cf_tmr_cancel(&c->tick);
	cdr_write(c, c->end_ms ? c->end_ms : wall_ms(), disp, ended_by);
	cf_log(CF_LOG_INFO, &(struct cf_pl){c->call_id, strlen(c->call_id)},
	       "proxy: call %s -> %s ended: %s (%u, %s)", c->caller,
	       c->callee, disp, c->code, ended_by ? ended_by : "-");
	pthread_mutex_lock(&cs.mtx);
	ucount_drop(c->aor[0]);
	ucount_drop(c->aor[1]);
	if (cs.total)
		cs.total--;
	cf_hash_unlink(&c->le);
	pthread_mutex_unlock(&cs.mtx);
	c->st = cf_mem_deref(c->st);
	c->invite = cf_mem_deref(c->invite);
	cf_mem_deref(c); /* the table's reference */
}

static void tick(void *arg);

static void tick_start(struct call *c, uint32_t ms)
{
	if (c->env)
		cf_tmr_start(cf_sip_txn_env_wheel(c->env), &c->tick, ms, tick,
		             c);
}

/* The INVITE's final went upstream: answered, or the end of the call. */
static void call_final(struct call *c, uint16_t code)
{
	if (c->state == CALL_ENDED || c->state == CALL_CONFIRMED ||
	    c->state == CALL_CANCELLED)
		return;
	c->code = code;
	if (code >= 200 && code < 300) {
		c->state = CALL_CONFIRMED;
		c->st = cf_mem_deref(c->st);
		/* the dialog views hold what the call needs from now on */
		c->req = NULL;
		c->invite = cf_mem_deref(c->invite);
		if (!c->answer_ms) {
			c->answer_ms = wall_ms();
			cdr_write(c, 0, "open", NULL);
		}
		tick_start(c, TICK_CALL_MS);
		return;
	}
	if (code == 487 && !proxy_stopping() && c->invite) {
		/* the caller's CANCEL: its CDR now; the call waits a moment
		 * for a 2xx that crossed the CANCEL (proxy_calls_late), not
		 * counted for its users any more */
		c->state = CALL_CANCELLED;
		c->end_ms = wall_ms();
		c->req = NULL;
		c->st = cf_mem_deref(c->st);
		cdr_write(c, c->end_ms, "cancelled", "caller");
		pthread_mutex_lock(&cs.mtx);
		ucount_drop(c->aor[0]);
		ucount_drop(c->aor[1]);
		pthread_mutex_unlock(&cs.mtx);
		c->aor[0] = cf_mem_deref(c->aor[0]);
		c->aor[1] = cf_mem_deref(c->aor[1]);
		tick_start(c, TICK_RINGING_MS);
		return;
	}
	call_end(c, disposition(code),
	         proxy_stopping() ? "shutdown"
	         : code == 487    ? "caller"
	                          : "callee");
}

/* ------------------------------------------------------------ BYE */

static void bye_resp(struct cf_sip_ctrans *ct, const struct cf_sip_msg *msg,
                     uint16_t code, void *arg)
{
	(void)ct;
	(void)arg;
	if (code >= 200)
		cf_log(CF_LOG_INFO, msg ? &msg->call_id : NULL,
		       "proxy: our BYE (max_call_duration) answered %u",
		       code);
}

static bool route_ours(const struct cf_sip_uri *u, void *arg)
{
	return !cf_pl_isset(&u->user) && cf_app_uri_is_local(arg, u);
}

/* A BYE on the dialog view d (the side it speaks for), to its far end:
 * the route set after our entries, else the target; `direct` (the
 * caller's hop) when nothing is left in the route set. */
static int bye_send(struct call *c, struct cf_sip_dialog *d,
                    const struct cf_sip_peer *direct)
{
	struct cf_sip_ctrans *ct = NULL;
	struct cf_sip_msg *msg = NULL;
	struct cf_mbuf *mb = NULL;
	struct cf_sip_peer hop = {0};
	struct cf_sip_uri u;
	char addr[64], via[160], branch[17];
	size_t used;
	int err = 0;

	if (!d->nroutes && direct) {
		hop = *direct;
	} else {
		err = cf_sip_dialog_next_hop(d, &u);
		if (!err)
			err = proxy_uri_hop(&u, &hop);
	}
	if (err)
		return err;
	proxy_local_addr(hop.tp, cf_sa_af(&hop.addr), &c->in.local,
	                 &hop.local);
	cf_sip_rand_token(branch, sizeof(branch) - 1);
	snprintf(via, sizeof(via), "SIP/2.0/%s %s;branch=z9hG4bKcb%s%s",
	         cf_sip_tp_name(hop.tp),
	         cf_sa_print(&hop.local, addr, sizeof(addr)), branch,
	         hop.tp == CF_SIP_TP_UDP ? ";rport" : "");
	err = cf_mbuf_alloc(&mb, 512);
	if (!err)
		err = cf_sip_dialog_request_encode(
		    mb, d, CF_SIP_M_BYE, via,
		    "Reason: SIP;cause=200;text=\"Maximum call duration\"\r\n",
		    NULL);
	if (!err)
		err = cf_sip_msg_decode(&msg, mb->buf, mb->end, CF_SIP_DATAGRAM,
		                        &used);
	if (!err)
		err = cf_sip_ctrans_start(&ct, c->env, msg, &hop, bye_resp,
		                          NULL);
	cf_mem_deref(ct);
	cf_mem_deref(msg);
	cf_mem_deref(mb);
	return err;
}

/* max_call_duration reached: BYE to the callee (as the caller) and to
 * the caller (as the callee). */
static void call_timeout(struct call *c)
{
	int e1 = EINVAL, e2 = EINVAL;

	atomic_fetch_add(&cs.timed_out, 1);
	if (c->dcaller)
		e1 = bye_send(c, c->dcaller, NULL);
	if (c->dcallee)
		e2 = bye_send(c, c->dcallee, &c->in);
	cf_log(CF_LOG_NOTICE, &(struct cf_pl){c->call_id, strlen(c->call_id)},
	       "proxy: call %s -> %s: max_call_duration reached, BYE sent "
	       "(callee: %s, caller: %s)",
	       c->caller, c->callee, e1 ? strerror(e1) : "ok",
	       e2 ? strerror(e2) : "ok");
	call_end(c, "answered", "max_duration");
}

static void tick(void *arg)
{
	struct call *c = arg;
	uint32_t maxd;
	int64_t now = wall_ms();

	if (proxy_stopping() && c->state == CALL_CONFIRMED) {
		call_end(c, "interrupted", "shutdown");
		return;
	}
	if (c->state == CALL_CANCELLED) {
		if (proxy_stopping() || now - c->end_ms >= CANCEL_GRACE_MS)
			call_end(c, "cancelled", "caller");
		else
			tick_start(c, TICK_RINGING_MS);
		return;
	}
	/* one not answered yet ends with the 503 its proxy transaction
	 * sends at its next tick */
	if (c->state == CALL_TRYING || c->state == CALL_EARLY) {
		/* a final the proxy transaction never saw (480, 404 of
		 * proxy.c, a DNS failure...) */
		uint16_t code = cf_sip_strans_code(c->st);

		if (code >= 200) {
			call_final(c, code);
			return;
		}
		if (now - c->start_ms > TRYING_MAX_MS) {
			call_end(c, "failed", "timeout");
			return;
		}
		tick_start(c, TICK_RINGING_MS);
		return;
	}
	pthread_mutex_lock(&cs.mtx);
	maxd = cs.max_duration_s;
	pthread_mutex_unlock(&cs.mtx);
	if (maxd && c->answer_ms && now - c->answer_ms >= (int64_t)maxd * 1000) {
		call_timeout(c);
		return;
	}
	tick_start(c, TICK_CALL_MS);
}

/* ------------------------------------------------------------ lookup */

static bool by_req(struct cf_le *le, void *arg)
{
	return ((struct call *)le->data)->req == arg;
}

static struct call *find_req(const struct cf_sip_msg *req)
{
	struct cf_le *le;

	pthread_mutex_lock(&cs.mtx);
	le = cs.calls ? cf_hash_lookup(cs.calls,
	                               cf_hash_mem(req->call_id.p,
	                                           req->call_id.l),
	                               by_req, (void *)req)
	              : NULL;
	pthread_mutex_unlock(&cs.mtx);
	return le ? le->data : NULL;
}

struct dlg_find {
	const struct cf_sip_msg *msg;
	bool from_caller;
};

static bool by_dialog(struct cf_le *le, void *arg)
{
	struct call *c = le->data;
	struct dlg_find *f = arg;

	if (!c->dcaller)
		return false;
	/* the caller's view: local = caller */
	if (!cf_pl_strcmp(&f->msg->from.tag, c->dcaller->local_tag) &&
	    !cf_pl_strcmp(&f->msg->to.tag, c->dcaller->remote_tag)) {
		f->from_caller = true;
		return true;
	}
	if (!cf_pl_strcmp(&f->msg->from.tag, c->dcaller->remote_tag) &&
	    !cf_pl_strcmp(&f->msg->to.tag, c->dcaller->local_tag)) {
		f->from_caller = false;
		return true;
	}
	return false;
}

/* ------------------------------------------------------------ hooks */

bool proxy_calls_invite(struct cf_app *app, struct cf_sip_strans *st,
                        const struct cf_sip_msg *msg,
                        const struct cf_sip_peer *peer)
{
	char aor[2][AOR_MAX];
	bool have[2];
	const char *why = NULL;
	uint16_t code = 0;
	struct call *c;
	uint32_t key = cf_hash_mem(msg->call_id.p, msg->call_id.l);

	if (proxy_stopping())
		return false; /* its proxy transaction answers 503 */
	have[0] = user_aor(app, &msg->from.uri, aor[0], sizeof(aor[0]));
	have[1] = user_aor(app, &msg->ruri, aor[1], sizeof(aor[1]));
	if (have[0] && have[1] && !strcmp(aor[0], aor[1]))
		have[1] = false; /* a user calling himself counts once */

	c = cf_mem_zalloc(sizeof(*c), call_destroy);
	if (!c)
		return false; /* not tracked; the call goes on */
	c->app = app;
	c->req = msg;
	c->start_ms = wall_ms();
	snprintf(c->uid, sizeof(c->uid), "%llx-%x-%llx",
	         (unsigned long long)c->start_ms, (unsigned)getpid(),
	         (unsigned long long)atomic_fetch_add(&cs.seq, 1));
	c->call_id = cf_pl_dup(&msg->call_id);
	c->caller = cf_pl_dup(&msg->from.uri.all);
	c->callee = cf_pl_dup(&msg->to.uri.all);
	/* as received: msg may be the on_request hook's edit */
	c->ruri = cf_pl_dup(cf_sip_strans_msg(st)
	                        ? &cf_sip_strans_msg(st)->ruri_pl
	                        : &msg->ruri_pl);
	for (int i = 0; i < 2; i++) {
		if (have[i])
			c->aor[i] = cf_mem_strdup(aor[i]);
	}
	c->env = cf_sip_strans_env(st);
	cf_tmr_init(&c->tick);
	if (!c->call_id || !c->caller || !c->callee || !c->ruri ||
	    (have[0] && !c->aor[0]) || (have[1] && !c->aor[1]) || !c->env) {
		cf_mem_deref(c);
		return false;
	}

	pthread_mutex_lock(&cs.mtx);
	if (!cs.calls || !cs.users) {
		/* stopped (a request in the stack's last moments) */
		pthread_mutex_unlock(&cs.mtx);
		cf_mem_deref(c);
		return false;
	}
	if (cs.max_calls && cs.total >= cs.max_calls) {
		code = 503;
		why = "Too Many Calls";
	}
	for (int i = 0; !code && i < 2; i++) {
		struct ucount *u = c->aor[i] ? ucount_find(c->aor[i]) : NULL;

		if (u && cs.max_per_user && u->n >= cs.max_per_user) {
			code = 486;
			why = "Busy Here (Call Limit)";
		}
	}
	for (int i = 0; !code && i < 2; i++) {
		struct ucount *u;
		size_t l;

		if (!c->aor[i])
			continue;
		u = ucount_find(c->aor[i]);
		if (u) {
			u->n++;
			continue;
		}
		l = strlen(c->aor[i]);
		u = cf_mem_zalloc(sizeof(*u) + l + 1, NULL);
		if (!u) {
			c->aor[i] = cf_mem_deref(c->aor[i]);
			continue;
		}
		memcpy(u->aor, c->aor[i], l + 1);
		u->n = 1;
		cf_hash_append(cs.users, cf_hash_mem_ci(u->aor, l), &u->le, u);
	}
	if (!code) {
		cs.total++;
		cf_hash_append(cs.calls, key, &c->le, c);
	}
	pthread_mutex_unlock(&cs.mtx);

	if (code) {
		/* refused: still an attempt, with its CDR */
		atomic_fetch_add(code == 503 ? &cs.refused_total
		                             : &cs.refused_user,
		                 1);
		(void)cf_sip_strans_reply(st, code, why,
		                          code == 503 ? "Retry-After: 10\r\n"
		                                      : NULL,
		                          NULL);
		cf_log(CF_LOG_NOTICE, &msg->call_id,
		       "proxy: INVITE %s -> %.*s refused %u %s (%llu so far)",
		       c->caller, (int)msg->ruri_pl.l, msg->ruri_pl.p, code,
		       why,
		       (unsigned long long)atomic_load(
		           code == 503 ? &cs.refused_total : &cs.refused_user));
		c->code = code;
		cdr_write(c, wall_ms(), disposition(code), "limit");
		cf_mem_deref(c);
		return true;
	}
	atomic_fetch_add(&cs.started, 1);
	c->st = cf_mem_ref(st);
	c->invite = cf_mem_ref((void *)msg);
	c->in = *peer;
	c->in.conn = cf_mem_ref(peer->conn);
	cdr_write(c, 0, "open", NULL);
	tick_start(c, TICK_RINGING_MS);
	return false;
}

void proxy_calls_refused(struct cf_app *app, struct cf_sip_strans *st,
                         const struct cf_sip_msg *msg)
{
	uint16_t code = cf_sip_strans_code(st);
	struct call c = {0};

	(void)app;
	if (msg->mid != CF_SIP_M_INVITE || cf_pl_isset(&msg->to.tag) ||
	    code < 300)
		return;
	c.start_ms = wall_ms();
	snprintf(c.uid, sizeof(c.uid), "%llx-%x-%llx",
	         (unsigned long long)c.start_ms, (unsigned)getpid(),
	         (unsigned long long)atomic_fetch_add(&cs.seq, 1));
	c.call_id = cf_pl_dup(&msg->call_id);
	c.caller = cf_pl_dup(&msg->from.uri.all);
	c.callee = cf_pl_dup(&msg->to.uri.all);
	c.ruri = cf_pl_dup(&msg->ruri_pl);
	c.code = code;
	if (c.call_id && c.caller && c.callee && c.ruri)
		cdr_write(&c, c.start_ms, disposition(code), "callee");
	else
		cf_log(CF_LOG_ERR, &msg->call_id,
		       "proxy: out of memory: no CDR for the refused INVITE");
	cf_mem_deref(c.call_id);
	cf_mem_deref(c.caller);
	cf_mem_deref(c.callee);
	cf_mem_deref(c.ruri);
}

static void call_answered(struct call *c, const struct cf_sip_msg *req,
                          const struct cf_sip_msg *resp, uint16_t code);

void proxy_calls_resp(const struct cf_sip_msg *req,
                      const struct cf_sip_msg *resp, uint16_t code)
{
	struct call *c;

	if (!req || !resp || code <= 100 || code >= 300 ||
	    req->mid != CF_SIP_M_INVITE || !cf_pl_isset(&resp->to.tag))
		return;
	c = find_req(req);
	if (!c || c->state == CALL_ENDED || c->state == CALL_CONFIRMED ||
	    c->dcaller)
		return;
	if (code < 200) {
		c->state = CALL_EARLY;
		return;
	}
	call_answered(c, req, resp, code);
}

/* A 2xx that crossed the caller's CANCEL, passed upstream after the 487
 * (fwd.c late_resp, RFC 6026): the cancelled call was answered after all.
 * Its CDR becomes that of an answered call (same record). */
static bool by_cancelled(struct cf_le *le, void *arg)
{
	const struct call *c = le->data;
	const struct cf_sip_msg *resp = arg;

	return c->state == CALL_CANCELLED && c->invite &&
	       !cf_pl_cmp(&c->invite->from.tag, &resp->from.tag) &&
	       c->invite->cseq.num == resp->cseq.num;
}

void proxy_calls_late(const struct cf_sip_msg *resp, uint16_t code)
{
	struct cf_le *le;
	struct call *c;

	if (!resp || code < 200 || code >= 300 ||
	    resp->cseq.mid != CF_SIP_M_INVITE || !cf_pl_isset(&resp->to.tag))
		return;
	pthread_mutex_lock(&cs.mtx);
	le = cs.calls ? cf_hash_lookup(cs.calls,
	                               cf_hash_mem(resp->call_id.p,
	                                           resp->call_id.l),
	                               by_cancelled, (void *)resp)
	              : NULL;
	pthread_mutex_unlock(&cs.mtx);
	if (!le)
		return;
	c = le->data;
	cf_log(CF_LOG_INFO, &resp->call_id,
	       "proxy: call %s -> %s: a %u crossed the CANCEL: answered",
	       c->caller, c->callee, code);
	c->end_ms = 0;
	c->state = CALL_EARLY;
	call_answered(c, c->invite, resp, code);
	call_final(c, code);
}

/* The first 2xx: the dialog the call is, seen from both ends; the 2xx's
 * Record-Route is the whole route set. */
static void call_answered(struct call *c, const struct cf_sip_msg *req,
                          const struct cf_sip_msg *resp, uint16_t code)
{
	struct cf_sip_dialog *a = NULL, *b = NULL;
	int err;

	c->answer_ms = wall_ms();
	c->code = code;
	err = cf_sip_dialog_uac_alloc(&a, c->invite, resp);
	if (!err)
		err = cf_sip_dialog_uas_alloc(&b, c->invite, &resp->to.tag,
		                              code);
	if (!err)
		err = cf_sip_dialog_routes_set(b, resp);
	if (err) {
		cf_log(CF_LOG_NOTICE, &req->call_id,
		       "proxy: %u: no dialog kept (%s): no BYE at "
		       "max_call_duration",
		       code, strerror(err));
		cf_mem_deref(a);
		cf_mem_deref(b);
		a = b = NULL;
	} else {
		(void)cf_sip_dialog_routes_after(a, route_ours, c->app);
		(void)cf_sip_dialog_routes_after(b, route_ours, c->app);
	}
	c->dcaller = a;
	c->dcallee = b;
	cf_mem_deref(c->contact);
	c->contact = a ? cf_mem_strdup(a->target) : NULL;
	cdr_write(c, 0, "open", NULL);
}

void proxy_calls_final(const struct cf_sip_msg *req, struct cf_sip_strans *st)
{
	struct call *c;

	if (!req || req->mid != CF_SIP_M_INVITE)
		return;
	c = find_req(req);
	if (c)
		call_final(c, cf_sip_strans_code(st));
}

void proxy_calls_request(struct cf_app *app, const struct cf_sip_msg *msg)
{
	struct dlg_find f = {msg, false};
	struct call *c;
	struct cf_le *le;

	(void)app;
	if (!cf_pl_isset(&msg->to.tag) || msg->mid == CF_SIP_M_ACK ||
	    msg->mid == CF_SIP_M_CANCEL)
		return;
	pthread_mutex_lock(&cs.mtx);
	le = cs.calls ? cf_hash_lookup(cs.calls,
	                               cf_hash_mem(msg->call_id.p,
	                                           msg->call_id.l),
	                               by_dialog, &f)
	              : NULL;
	pthread_mutex_unlock(&cs.mtx);
	if (!le)
		return;
	c = le->data;
	if (f.from_caller) {
		(void)cf_sip_dialog_sent(c->dcaller, msg);
		(void)cf_sip_dialog_recv(c->dcallee, msg);
	} else {
		(void)cf_sip_dialog_sent(c->dcallee, msg);
		(void)cf_sip_dialog_recv(c->dcaller, msg);
	}
	if (msg->mid == CF_SIP_M_BYE && c->state == CALL_CONFIRMED)
		call_end(c, "answered", f.from_caller ? "caller" : "callee");
}

static bool first_h(struct cf_le *le, void *arg)
{
	(void)le;
	(void)arg;
	return true;
}

/* Main thread, proxy_stop (stopping is set): each call ends itself at
 * its next tick on its worker (CDR interrupted); wait for them, bounded.
 * Without a stack (unit tests) or after the wait, the rest are ended
 * here: no worker touches them any more. Then the CDRs are written out. */
void proxy_calls_stop(struct cf_app *app)
{
	struct timespec ts = {0, 10 * 1000 * 1000};
	unsigned left = 0;

	for (int i = 0; cf_app_sip(app) && i < STOP_WAIT_MS / 10; i++) {
		pthread_mutex_lock(&cs.mtx);
		left = cs.total;
		pthread_mutex_unlock(&cs.mtx);
		if (!left)
			break;
		nanosleep(&ts, NULL);
	}
	if (left)
		cf_log(CF_LOG_WARN, NULL,
		       "proxy: %u calls still open at stop: ended here", left);
	for (size_t n = 0; n < 10000000; n++) {
		struct cf_le *le;
		struct call *c = NULL;

		pthread_mutex_lock(&cs.mtx);
		le = cs.calls ? cf_hash_apply(cs.calls, first_h, NULL) : NULL;
		if (le)
			c = cf_mem_ref(le->data);
		pthread_mutex_unlock(&cs.mtx);
		if (!c)
			break;
		if (c->state == CALL_CANCELLED)
			call_end(c, "cancelled", "caller");
		else
			call_end(c, c->state == CALL_CONFIRMED ? "interrupted"
			                                       : disposition(503),
			         "shutdown");
		cf_mem_deref(c);
	}
	proxy_cdr_stop();
	pthread_mutex_lock(&cs.mtx);
	cs.calls = cf_mem_deref(cs.calls);
	if (cs.users)
		cf_hash_flush(cs.users, true);
	cs.users = cf_mem_deref(cs.users);
	cs.total = 0;
	pthread_mutex_unlock(&cs.mtx);
}

/* confabctl call stats: the call counters (main thread). */
int proxy_calls_stats_h(struct cf_app *app, const struct cf_mod_ctl_req *req,
                        json_t *resp)
{
	struct proxy_calls_stats st;
	uint64_t written, errors;
	char b[512];

	(void)app;
	(void)req;
	proxy_calls_stats(&st);
	proxy_cdr_stats(&written, &errors);
	json_object_set_new(resp, "active", json_integer((json_int_t)st.active));
	json_object_set_new(resp, "started",
	                    json_integer((json_int_t)st.started));
	json_object_set_new(resp, "refused_user",
	                    json_integer((json_int_t)st.refused_user));
	json_object_set_new(resp, "refused_total",
	                    json_integer((json_int_t)st.refused_total));
	json_object_set_new(resp, "max_duration",
	                    json_integer((json_int_t)st.max_duration));
	json_object_set_new(resp, "cdr_writes",
	                    json_integer((json_int_t)written));
	json_object_set_new(resp, "cdr_errors",
	                    json_integer((json_int_t)errors));
	snprintf(b, sizeof(b),
	         "calls: %llu active, %llu started; refused: %llu over "
	         "max_calls_per_user (486), %llu over max_calls (503); %llu "
	         "ended at max_call_duration\nCDR writes: %llu, errors %llu",
	         (unsigned long long)st.active,
	         (unsigned long long)st.started,
	         (unsigned long long)st.refused_user,
	         (unsigned long long)st.refused_total,
	         (unsigned long long)st.max_duration,
	         (unsigned long long)written, (unsigned long long)errors);
	json_object_set_new(resp, "message", json_string(b));
	return 0;
}
