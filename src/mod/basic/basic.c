/* SPDX-License-Identifier: BSD-3-Clause */
/* basic.c - the first service: OPTIONS addressed to the server (RFC 3261
 * §11) and an INVITE test extension that rings until CANCEL or timeout. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "basic.h"

enum {
	EXT_MAX = 64,
	TICK_MS = 250,       /* a ringing call looks at `stopping` this often */
	STOP_WAIT_MS = 2000, /* stop() waits this long for rings to end */
};

/* Live settings: written by init/reload (main thread), read by workers
 * under the mutex when an INVITE arrives (a copy of a few bytes). */
struct settings {
	char ext[EXT_MAX];
	uint32_t timeout_ms;
};

static struct {
	pthread_mutex_t mtx;
	struct settings s;
	atomic_bool stopping;
	atomic_size_t calls;
	struct cf_tmr_wheel *test_wheel;
} basic = {.mtx = PTHREAD_MUTEX_INITIALIZER};

/* A call ringing on the test extension. It lives on the worker that owns
 * its transaction: the timer runs on that worker's wheel, and CANCEL for
 * the same Call-ID arrives there too, so nothing here needs a lock. */
struct ring {
	struct cf_mod_txn mt; /* first: the dispatcher finds us by it */
	struct cf_app *app;
	struct cf_sip_strans *st; /* a reference */
	struct cf_tmr tmr;
	uint64_t deadline; /* on the wheel's clock */
};

void cf_mod_basic_set_wheel(struct cf_tmr_wheel *wheel)
{
	basic.test_wheel = wheel;
}

static struct cf_tmr_wheel *wheel_get(void)
{
	struct cf_loop *loop;

	if (basic.test_wheel)
		return basic.test_wheel;
	loop = cf_loop_current();
	return loop ? cf_loop_wheel(loop) : NULL;
}

static void settings_read(struct cf_app *app)
{
	const struct cf_app_conf *conf = cf_app_conf(app);
	struct settings s = {0};
	const char *ext = cf_app_conf_str(conf, "test", "ring_extension");

	snprintf(s.ext, sizeof(s.ext), "%s", ext ? ext : "ring");
	s.timeout_ms = cf_app_conf_u32(conf, "test", "ring_timeout") * 1000;
	pthread_mutex_lock(&basic.mtx);
	basic.s = s;
	pthread_mutex_unlock(&basic.mtx);
}

static void ring_destroy(void *data)
{
	struct ring *r = data;

	cf_tmr_cancel(&r->tmr);
	cf_mem_deref(r->st);
}

/* Send the final response and let go of everything. */
static void ring_end(struct ring *r, uint16_t code, const char *hdrs,
                     const char *why)
{
	const struct cf_sip_msg *msg = cf_sip_strans_msg(r->st);
	int err;

	cf_tmr_cancel(&r->tmr);
	err = cf_mod_reply(r->st, code, hdrs);
	cf_log(CF_LOG_INFO, msg ? &msg->call_id : NULL,
	       "test extension: %s: %u %s%s", why, code, cf_sip_reason(code),
	       err == EALREADY ? " (already answered)" : "");
	cf_sip_strans_set_arg(r->st, NULL);
	atomic_fetch_sub(&basic.calls, 1);
	cf_mem_deref(r);
}

static void ring_tick(void *arg)
{
	struct ring *r = arg;
	struct cf_tmr_wheel *w = r->tmr.wheel;
	uint64_t now = cf_tmr_wheel_now(w);

	if (atomic_load(&basic.stopping)) {
		ring_end(r, 503, "Retry-After: 5\r\n", "shutting down");
		return;
	}
	if (now >= r->deadline) {
		ring_end(r, 480, NULL, "no answer");
		return;
	}
	cf_tmr_start(w, &r->tmr,
	             r->deadline - now < TICK_MS ? r->deadline - now : TICK_MS,
	             ring_tick, r);
}

static void ring_start(struct cf_app *app, struct cf_sip_strans *st,
                       const struct cf_sip_msg *msg, uint32_t timeout_ms)
{
	struct cf_tmr_wheel *w = wheel_get();
	struct ring *r;
	int err;

	if (!w || atomic_load(&basic.stopping)) {
		(void)cf_mod_reply(st, 503, "Retry-After: 5\r\n");
		cf_log(CF_LOG_INFO, &msg->call_id,
		       "test extension: not ringing: 503 %s",
		       w ? "shutting down" : "no timer wheel");
		return;
	}
	r = cf_mem_zalloc(sizeof(*r), ring_destroy);
	if (!r) {
		(void)cf_mod_reply(st, 500, NULL);
		cf_log(CF_LOG_WARN, &msg->call_id,
		       "test extension: out of memory: 500");
		return;
	}
	r->mt.mod = &cf_mod_basic;
	r->app = app;
	r->st = cf_mem_ref(st);
	cf_tmr_init(&r->tmr);
	r->deadline = cf_tmr_wheel_now(w) + timeout_ms;

	err = cf_sip_strans_reply(st, 180, "Ringing", NULL, NULL);
	if (err) {
		/* nothing to hold on to: answer and forget */
		(void)cf_mod_reply(st, 500, NULL);
		cf_log(CF_LOG_WARN, &msg->call_id,
		       "test extension: 180 not sent (%s): 500", strerror(err));
		cf_mem_deref(r);
		return;
	}
	atomic_fetch_add(&basic.calls, 1);
	cf_sip_strans_set_arg(st, r);
	cf_tmr_start(w, &r->tmr, timeout_ms < TICK_MS ? timeout_ms : TICK_MS,
	             ring_tick, r);
	cf_log(CF_LOG_INFO, &msg->call_id,
	       "test extension: %.*s ringing for up to %u s",
	       (int)msg->ruri_pl.l, msg->ruri_pl.p, timeout_ms / 1000);
}

/* RFC 3261 §11.2: what a UAS tells about itself. */
static void options_answer(struct cf_app *app, struct cf_sip_strans *st,
                           const struct cf_sip_msg *msg)
{
	char hdrs[384];
	int err;

	snprintf(hdrs, sizeof(hdrs),
	         "Allow: %s\r\n"
	         "Accept: application/sdp\r\n"
	         "Accept-Encoding: identity\r\n"
	         "Accept-Language: en\r\n"
	         "Supported: \r\n"
	         "Server: confab/" CF_VERSION "\r\n",
	         cf_app_allow(app));
	err = cf_mod_reply(st, 200, hdrs);
	cf_log(err ? CF_LOG_WARN : CF_LOG_DEBUG, &msg->call_id,
	       "OPTIONS %.*s: 200 OK%s", (int)msg->ruri_pl.l, msg->ruri_pl.p,
	       err ? " (not sent)" : "");
}

static bool basic_request(struct cf_app *app, struct cf_sip_strans *st,
                          const struct cf_sip_msg *msg,
                          const struct cf_sip_peer *peer)
{
	const struct cf_sip_uri *u = &msg->ruri;
	struct settings s;

	(void)peer;
	/* in-dialog requests are not ours: no dialogs here (481 follows) */
	if (cf_pl_isset(&msg->to.tag))
		return false;
	if (u->scheme != CF_SIP_SCHEME_SIP && u->scheme != CF_SIP_SCHEME_SIPS)
		return false;

	switch (msg->mid) {
	case CF_SIP_M_OPTIONS:
		/* addressed to the server itself: no user part (§11). We
		 * are its UAS, so Max-Forwards 0 does not matter here. */
		if (cf_pl_isset(&u->user) || !cf_app_uri_is_local(app, u))
			return false;
		options_answer(app, st, msg);
		return true;
	case CF_SIP_M_INVITE:
		pthread_mutex_lock(&basic.mtx);
		s = basic.s;
		pthread_mutex_unlock(&basic.mtx);
		if (cf_pl_strcmp(&u->user, s.ext) ||
		    !cf_app_uri_is_local(app, u))
			return false;
		ring_start(app, st, msg, s.timeout_ms);
		return true;
	default:
		return false;
	}
}

static void basic_cancel(struct cf_app *app, struct cf_sip_strans *st)
{
	struct ring *r = cf_sip_strans_arg(st);

	(void)app;
	if (r)
		ring_end(r, 487, NULL, "cancelled");
}

static int basic_init(struct cf_app *app)
{
	atomic_store(&basic.stopping, false);
	settings_read(app);
	return 0;
}

static void basic_reload(struct cf_app *app)
{
	settings_read(app);
}

/* Main thread, before the stack stops: the rings see `stopping` at their
 * next tick (TICK_MS) on their own workers and answer 503. */
static void basic_stop(struct cf_app *app)
{
	struct timespec ts = {0, 10 * 1000000L};
	size_t n;

	(void)app;
	atomic_store(&basic.stopping, true);
	for (int i = 0; i < STOP_WAIT_MS / 10; i++) {
		if (!atomic_load(&basic.calls))
			break;
		nanosleep(&ts, NULL);
	}
	n = atomic_load(&basic.calls);
	if (n)
		cf_log(CF_LOG_WARN, NULL,
		       "test extension: %zu calls still ringing at stop", n);
}

static size_t ringing(void)
{
	return atomic_load(&basic.calls);
}

static const struct cf_mod_basic_api api = {
    .ringing = ringing,
};

static const struct cf_mod_key keys[] = {
    {"test", "ring_extension", CF_MOD_KEY_TOKEN, "ring",
     "user part of the test extension: an INVITE to sip:EXT@DOMAIN (or at "
     "one of our addresses) rings until CANCEL (487) or ring_timeout "
     "(480)",
     0, 0, CF_MOD_KEY_LIVE},
    {"test", "ring_timeout", CF_MOD_KEY_UINT, "60",
     "seconds the test extension rings before 480", 1, 3600, CF_MOD_KEY_LIVE},
    {NULL},
};

static int ringing_h(struct cf_app *app, const struct cf_mod_ctl_req *req,
                     json_t *resp)
{
	(void)app;
	(void)req;
	json_object_set_new(resp, "ringing", json_integer(ringing()));
	return 0;
}

static const struct cf_mod_cmd cmds[] = {
    {"test", "calls", 0, 0, ringing_h, "",
     "calls ringing on the test extension now"},
    {NULL},
};

const struct cf_mod cf_mod_basic = {
    .name = "basic",
    .doc = "OPTIONS to the server and the ringing test extension",
    .keys = keys,
    .cmds = cmds,
    .methods = 1u << CF_SIP_M_INVITE | 1u << CF_SIP_M_ACK |
               1u << CF_SIP_M_CANCEL | 1u << CF_SIP_M_OPTIONS,
    .init = basic_init,
    .reload = basic_reload,
    .stop = basic_stop,
    .request = basic_request,
    .cancel = basic_cancel,
    .api = &api,
};
