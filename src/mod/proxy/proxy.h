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
/* Main thread, before the stack starts (or in a test). NULL removes it. */
void cf_proxy_failure_hook_set(cf_proxy_failure_h *h, void *arg);

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
