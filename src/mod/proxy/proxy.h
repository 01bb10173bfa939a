/* SPDX-License-Identifier: BSD-3-Clause */
/* proxy.h - the RFC 3261 §16 stateful proxy module and its extension
 * points (failure routes, issue 4 point 3, will plug in here). */
#ifndef CF_MOD_PROXY_H
#define CF_MOD_PROXY_H

#include "mod/mod.h"

extern const struct cf_mod cf_mod_proxy;

/* What the proxy knows when every branch of a request failed (§16.7 step
 * 6 chose `code`; resp is that response, or NULL when it was generated
 * here: 408 from a timeout, 480 with no binding...). */
struct cf_proxy_failure {
	const struct cf_sip_msg *req; /* the request as received */
	uint16_t code;
	const struct cf_sip_msg *resp;
	unsigned attempt; /* failure routes already taken for this request */
	/* the hook may set *reply to a code to answer with instead of the
	 * best final (a script error: 500); 0 leaves it */
	uint16_t *reply;
};

/*
 * The on_failure hook point: called on the worker, before the best final
 * goes upstream. Write a SIP URI to retry at into uri (NUL-terminated)
 * and return true to forward the request there (a new branch, same
 * transaction); false sends the final. Must not block. The proxy calls it
 * at most CF_PROXY_FAILURE_MAX times per request.
 */
enum { CF_PROXY_FAILURE_MAX = 3 };
typedef bool(cf_proxy_failure_h)(const struct cf_proxy_failure *f, char *uri,
                                 size_t size, void *arg);
/* Main thread (start, reload: the Lua module) or a test. NULL removes it. */
void cf_proxy_failure_hook_set(cf_proxy_failure_h *h, void *arg);

/*
 * The on_request hook point (Lua on_request, src/mod/lua): called on the
 * worker for every request the proxy forwards, after validation and
 * authentication, before the targets are looked up. The hook reads
 * msg/peer/user and decides by filling the out fields; leaving them all
 * zero routes the request as usual. Must not block.
 */
enum { CF_PROXY_FORK_MAX = 16, CF_PROXY_URI_MAX = 256 };
struct cf_proxy_request {
	const struct cf_sip_msg *msg;   /* as received */
	const struct cf_sip_peer *peer; /* where it came from */
	const char *user; /* authenticated "user@domain", or NULL */
	bool in_dialog;   /* a To tag */
	/* out: answer with code (>= 300) and reason ("" = the default) */
	uint16_t code;
	char reason[96];
	/* out: route this request instead (the script's edits applied and
	 * decoded again: new Request-URI, headers added or removed); one
	 * reference, which the proxy takes */
	struct cf_sip_msg *msg_new;
	/* out: fork to these URIs instead of routing: one of our users
	 * stands for their bindings, others need a numeric host */
	size_t ntargets;
	char targets[CF_PROXY_FORK_MAX][CF_PROXY_URI_MAX];
};
typedef void(cf_proxy_request_h)(struct cf_proxy_request *r, void *arg);
/* Main thread (start, reload) or a test; the workers see the change at
 * their next request. NULL removes it. */
void cf_proxy_request_hook_set(cf_proxy_request_h *h, void *arg);

/*
 * The on_reply hook point (Lua on_reply): called on the worker for each
 * response the proxy sends upstream from a branch (provisionals, 2xx, the
 * best final), our Via already removed. The hook may record edits on
 * resp (cf_sip_msg_edit_append / _del: headers added or removed); they
 * are applied when the response is encoded. req is the request the proxy
 * forwarded. Must not block.
 */
typedef void(cf_proxy_reply_h)(const struct cf_sip_msg *req,
                               struct cf_sip_msg *resp, void *arg);
/* As cf_proxy_request_hook_set. */
void cf_proxy_reply_hook_set(cf_proxy_reply_h *h, void *arg);

/* Main thread: (re)load the per-user failure routes (the store's
 * forwards) into the proxy's memory; at start and by confabctl user
 * forward online. 0, ENOMEM or the store's error (the old set stays). */
int cf_proxy_forwards_load(struct cf_app *app);

/* Counters, cumulative since start, all workers. */
struct cf_proxy_stats {
	uint64_t requests;   /* forwarded statefully */
	uint64_t branches;   /* client transactions started */
	uint64_t stateless;  /* ACK and responses forwarded statelessly */
	uint64_t challenged; /* 407 sent */
	uint64_t loops;      /* 482 */
	uint64_t hops;       /* 483 */
	uint64_t sips_refused; /* sips targets not sent over a plain hop */
	/* bad input (check.c) */
	uint64_t bad_route;         /* 400 Bad Route, 416 (a Route scheme) */
	uint64_t bad_contact;       /* INVITE without one usable Contact */
	uint64_t unknown_user;      /* 404 */
	uint64_t over_max_branches; /* forks cut at [proxy] max_branches */
};
void cf_proxy_stats(struct cf_proxy_stats *st);

#endif
