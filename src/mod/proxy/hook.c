/* SPDX-License-Identifier: BSD-3-Clause */
/* hook.c - the proxy's request and reply hook points (proxy.h): what a
 * routing script (src/mod/lua) decided, turned into an answer, fork
 * targets or an edited request. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "mod/proxy/proxy_int.h"

/* Set on the main thread before the stack runs (or by a test); read on
 * the workers for every request: the mutex is uncontended. */
static struct {
	pthread_mutex_t mtx;
	cf_proxy_request_h *req_h;
	void *req_arg;
	cf_proxy_reply_h *rep_h;
	void *rep_arg;
} hk = {.mtx = PTHREAD_MUTEX_INITIALIZER};

void cf_proxy_request_hook_set(cf_proxy_request_h *h, void *arg)
{
	pthread_mutex_lock(&hk.mtx);
	hk.req_h = h;
	hk.req_arg = arg;
	pthread_mutex_unlock(&hk.mtx);
}

void cf_proxy_reply_hook_set(cf_proxy_reply_h *h, void *arg)
{
	pthread_mutex_lock(&hk.mtx);
	hk.rep_h = h;
	hk.rep_arg = arg;
	pthread_mutex_unlock(&hk.mtx);
}

cf_proxy_reply_h *proxy_reply_hook(void **argp)
{
	cf_proxy_reply_h *h;

	pthread_mutex_lock(&hk.mtx);
	h = hk.rep_h;
	*argp = hk.rep_arg;
	pthread_mutex_unlock(&hk.mtx);
	return h;
}

/* The fork targets, at most PROXY_BRANCHES_HARD_MAX: a URI of one of our
 * users stands for their bindings (as if it were the Request-URI), any
 * other URI is one branch with its own next hop (a numeric host, as for
 * failure routes: a name would need RFC 3263 per target). A target that
 * gives nothing is logged and left out. *nomem on a copy that failed. */
static size_t fork_targets(struct cf_app *app, const struct cf_sip_msg *msg,
                           const struct cf_proxy_request *r,
                           struct proxy_target *tv, bool *nomem)
{
	size_t n = 0;

	for (size_t i = 0; i < r->ntargets && i < CF_PROXY_FORK_MAX; i++) {
		const char *uri = r->targets[i];
		struct proxy_target *t = &tv[n];
		struct cf_sip_uri u;
		struct cf_pl pl;

		if (n >= PROXY_BRANCHES_HARD_MAX)
			break;
		cf_pl_set_str(&pl, uri);
		if (cf_sip_uri_decode(&u, &pl))
			continue; /* checked by the hook already */
		if (cf_pl_isset(&u.user) && cf_app_uri_is_local(app, &u)) {
			char aor[CF_PROXY_URI_MAX + 8];
			size_t got;

			snprintf(aor, sizeof(aor), "sip:%.*s@%.*s",
			         (int)u.user.l, u.user.p, (int)u.host.l,
			         u.host.p);
			cf_pl_set_str(&pl, aor);
			got = proxy_aor_targets(
			    &pl, t, PROXY_BRANCHES_HARD_MAX - n, nomem);
			if (!got)
				cf_log(CF_LOG_INFO, &msg->call_id,
				       "proxy: hook fork target %s: no binding",
				       uri);
			n += got;
			if (*nomem)
				break;
			continue;
		}
		memset(t, 0, sizeof(*t));
		t->uri = cf_mem_strdup(uri);
		if (!t->uri) {
			*nomem = true;
			break;
		}
		cf_pl_set_str(&pl, t->uri);
		if (cf_sip_uri_decode(&u, &pl) || proxy_uri_hop(&u, &t->hop)) {
			cf_log(CF_LOG_NOTICE, &msg->call_id,
			       "proxy: hook fork target %s: no next hop "
			       "(a numeric host or one of our users is needed)",
			       uri);
			t->uri = cf_mem_deref(t->uri);
			continue;
		}
		t->has_hop = true;
		t->q = 1000;
		n++;
	}
	return n;
}

/* A fork that gave no target: 480 (nobody to ring), or 500. */
static void answer_fork_none(struct cf_sip_strans *st,
                             const struct cf_sip_msg *msg, bool nomem)
{
	(void)cf_mod_reply(st, nomem ? 500 : 480, NULL);
	cf_log(CF_LOG_NOTICE, &msg->call_id,
	       "proxy: hook fork: no target could be used: %u",
	       nomem ? 500 : 480);
}

bool proxy_hook_request(struct cf_app *app, struct cf_sip_strans *st,
                        const struct cf_sip_msg *msg,
                        const struct cf_sip_peer *peer,
                        const struct cf_auth_id *id,
                        struct cf_sip_msg **msg_newp, struct proxy_target **tvp,
                        size_t *np)
{
	struct cf_proxy_request *r;
	cf_proxy_request_h *h;
	char user[CF_STORE_USER_MAX + CF_STORE_DOMAIN_MAX + 2];
	void *arg;
	bool answered = true;

	pthread_mutex_lock(&hk.mtx);
	h = hk.req_h;
	arg = hk.req_arg;
	pthread_mutex_unlock(&hk.mtx);
	if (!h)
		return false;

	/* 4 KB of targets: not on the worker's stack */
	r = cf_mem_zalloc(sizeof(*r), NULL);
	if (!r) {
		(void)cf_mod_reply(st, 500, NULL);
		return true;
	}
	r->msg = msg;
	r->peer = peer;
	if (id) {
		snprintf(user, sizeof(user), "%s@%s", id->user, id->domain);
		r->user = user;
	}
	r->in_dialog = cf_pl_isset(&msg->to.tag);
	h(r, arg);

	if (r->code >= 300 && r->code <= 699) {
		const char *reason =
		    r->reason[0] ? r->reason : cf_sip_reason(r->code);

		if (cf_sip_strans_reply(st, r->code, reason, NULL, NULL))
			(void)cf_mod_reply(st, 500, NULL);
		cf_log(CF_LOG_INFO, &msg->call_id,
		       "proxy: %.*s %.*s: %u %s "
		       "(on_request)",
		       (int)msg->method.l, msg->method.p, (int)msg->ruri_pl.l,
		       msg->ruri_pl.p, r->code, reason);
		goto out;
	}
	if (r->ntargets) {
		struct proxy_target *tv =
		    cf_mem_zalloc(PROXY_BRANCHES_HARD_MAX * sizeof(*tv), NULL);
		bool nomem = !tv;
		size_t n = tv ? fork_targets(app, msg, r, tv, &nomem) : 0;

		if (!n || nomem) {
			proxy_targets_free(tv, n);
			cf_mem_deref(tv);
			answer_fork_none(st, msg, nomem);
			goto out;
		}
		/* all in parallel: one q group (a binding's own q would
		 * split the fork into serial groups) */
		for (size_t i = 0; i < n; i++)
			tv[i].q = 1000;
		*tvp = tv;
		*np = n;
		cf_log(CF_LOG_INFO, &msg->call_id,
		       "proxy: hook fork to %zu targets, first %s", n,
		       tv[0].uri);
	}
	/* with or without a fork: the edits go with it */
	*msg_newp = r->msg_new;
	r->msg_new = NULL;
	answered = false;
out:
	cf_mem_deref(r->msg_new);
	cf_mem_deref(r);
	return answered;
}
