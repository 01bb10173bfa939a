/* SPDX-License-Identifier: BSD-3-Clause */
/* proxy_int.h - private parts of the proxy module: settings, targets, the
 * proxy transaction (one server transaction, its client branches). */
#ifndef CF_PROXY_INT_H
#define CF_PROXY_INT_H

#include "mod/proxy/proxy.h"

enum {
	PROXY_BRANCHES_HARD_MAX = 32, /* [proxy] max_branches ceiling */
	PROXY_HASH_LEN = 16,          /* hex digits of the loop hash */
	PROXY_TICK_MS = 250,          /* a transaction looks at stopping */
	PROXY_STOP_WAIT_MS = 2000,    /* stop() waits this long for them */
};

/* Settings, read at init and on SIGHUP (workers read a copy). */
struct proxy_cfg {
	uint32_t no_answer_ms; /* 0: none */
	uint32_t max_branches;
	bool record_route;
	bool authenticate;
};

/* Where a request goes: the Request-URI to put in it, the Route headers
 * to add (a Path), and the next hop (a flow, or resolved from the first
 * Route or the URI). */
struct proxy_target {
	char *uri;              /* new Request-URI, or NULL: unchanged */
	char *path;             /* Path values "<...>, <...>" or NULL */
	struct cf_sip_peer hop; /* hop.conn: a reference, or NULL */
	bool has_hop;           /* an outbound flow / GRUU: hop is set */
	int q;                  /* q x 1000 (1000 when absent) */
	uint16_t fwd;           /* a failure route: the cause (the code
	                         * that failed; 408 for no_answer_timeout) */
	uint8_t fwd_why;        /* enum proxy_fwd */
	/* one server of an RFC 3263 list (each its own q, in order): the
	 * next is tried on a 503, a timeout or a transport error only */
	bool failover;
};

/* Failure routes (issue 4 point 3): why a request is forwarded. */
enum proxy_fwd {
	PROXY_FWD_BUSY = 0,    /* 486, 600 */
	PROXY_FWD_NOANSWER,    /* no_answer_timeout, 408, 480 of branches */
	PROXY_FWD_OFFLINE,     /* no binding: 480 of ours */
	PROXY_FWD_UNAVAILABLE, /* 5xx */
	PROXY_FWD_N,
};
enum {
	PROXY_FWD_HI = 1,  /* History-Info (RFC 7044) */
	PROXY_FWD_DIV = 2, /* Diversion (RFC 5806) */
};

/* One proxy transaction (RFC 3261 §16: the response context). Lives on
 * the worker that owns the Call-ID, from the request until the final
 * response is sent upstream; the branches' client transactions then go
 * on without it. */
struct proxy_txn;

/* proxy.c */
void proxy_cfg_get(struct proxy_cfg *cfg);
/* Our address for a transport and family: a listener, or `fallback` with
 * its port when none fits (unit tests with no stack). */
void proxy_local_addr(enum cf_sip_tp tp, int af, const struct cf_sa *fallback,
                      struct cf_sa *out);
/* The failure route for `why` into uri: the user's own (store) first,
 * else the configured one; false when none. user/domain may be NULL. */
bool proxy_forward_uri(const struct cf_pl *user, const struct cf_pl *domain,
                       enum proxy_fwd why, char *uri, size_t size);
/* PROXY_FWD_HI and/or PROXY_FWD_DIV: the headers a forward gets. */
unsigned proxy_forward_headers(void);
/* The failure hook (proxy.h); NULL when none. */
cf_proxy_failure_h *proxy_failure_hook(void **argp);
/* Shutdown: true once stop() began; every proxy transaction ends itself
 * (503) at its next tick. live: proxy transactions in existence. */
bool proxy_stopping(void);
void proxy_live(int delta);
/* Counters (atomic). */
void proxy_stat_stateless(void);
void proxy_stat_branch(void);
void proxy_stat_request(void);

/* forward.c */
bool proxy_user_forward(const struct cf_pl *user, const struct cf_pl *domain,
                        enum proxy_fwd why, char *uri, size_t size);
void proxy_forwards_clear(void);

/* route.c */
/* The Route set of a request as the proxy sees it (§16.4). Slices into
 * the message. */
struct proxy_routes {
	const struct cf_sip_hdr *own_hdr[2]; /* our leading values' lines */
	size_t nown;
	bool own_lr;
	/* the transport of our second Route entry (a double Record-Route:
	 * the side the request goes out on), when it names one */
	bool own_tp_set;
	enum cf_sip_tp own_tp;
	bool has_next; /* a value after ours: the next hop */
	struct cf_sip_uri next;
	const struct cf_sip_hdr *next_hdr;
	struct cf_pl next_val;
	size_t next_idx;
	size_t count;           /* values in all */
	struct cf_sip_uri last; /* the last value (strict routers) */
	const struct cf_sip_hdr *last_hdr;
	struct cf_pl last_val;
	size_t last_idx;
	bool bad;
};
int proxy_routes_decode(struct cf_app *app, const struct cf_sip_msg *msg,
                        struct proxy_routes *r);

/* What one forwarded copy gets (§16.6). */
struct proxy_edit {
	const struct proxy_routes *routes;
	bool strict;              /* drop the last Route (it is the R-URI) */
	const struct cf_pl *ruri; /* new Request-URI, or NULL */
	const char *path;         /* Route values to add first, or NULL */
	const char *hash;         /* loop hash (branch) */
	unsigned idx;             /* branch index */
	bool rr;                  /* Record-Route */
	bool sips;                /* sips Record-Route (RFC 5630) */
	enum cf_sip_tp in_tp, out_tp;
	struct cf_sa in_local, out_local;
};
int proxy_req_edits(struct cf_sip_msg *msg, const struct proxy_edit *e);

/* RFC 3263 is issue 5: a numeric host only. 0, ENOENT (a name: not
 * resolvable on a worker), EPROTO (scheme or transport not served). */
int proxy_uri_hop(const struct cf_sip_uri *u, struct cf_sip_peer *hop);
/* The hop for the Request-URI of a request routed by our own double
 * Record-Route: the transport of our second entry when the URI names
 * none (a TCP caller's Contact often has no transport parameter). */
int proxy_ruri_hop(const struct proxy_routes *r, const struct cf_sip_uri *u,
                   struct cf_sip_peer *hop);
/* The next hop of one target: its flow or server, the first Path value,
 * the next Route, else its (or the received) Request-URI. */
int proxy_target_hop(const struct proxy_routes *r, const struct cf_sip_msg *req,
                     const struct proxy_target *t, struct cf_sip_peer *hop);
/* The loop-detection hash (§16.3 item 4, §16.6 item 8) as hex. */
void proxy_loop_hash(const struct cf_sip_msg *msg,
                     char out[PROXY_HASH_LEN + 1]);
/* Is there a Via with our branch prefix and this hash? */
bool proxy_loop_found(const struct cf_sip_msg *msg, const char *hash);
/* Forward a response by its second Via after checking that the top one
 * is ours (§16.11 stateless; RFC 6026 2xx retransmissions). */
void proxy_resp_stateless(struct cf_sip_txn_env *env,
                          const struct cf_sip_msg *msg);
/* Forward an ACK for a 2xx statelessly to its next hop; false when it is
 * not ours to forward. */
bool proxy_req_stateless(struct cf_app *app, struct cf_sip_txn_env *env,
                         const struct cf_sip_msg *msg,
                         const struct cf_sip_peer *peer);

/* fwd.c */
/* Take a request over: forward it to targets (one group per distinct q,
 * highest first, when serial). Answers st in every case. */
void proxy_txn_start(struct cf_app *app, struct cf_sip_strans *st,
                     const struct cf_sip_msg *msg,
                     const struct cf_sip_peer *peer,
                     struct proxy_target *targets, size_t n,
                     const struct proxy_routes *routes, bool strict, bool rr);
void proxy_txn_cancel(struct cf_app *app, struct cf_sip_strans *st);
void proxy_targets_free(struct proxy_target *t, size_t n);
extern const struct cf_mod cf_mod_proxy;

/* sips.c (RFC 5630, RFC 3261 §26.2: sips only over TLS hops) */
/* Is this a request for a sips URI: its Request-URI, or the next Route
 * after ours? */
bool proxy_sips_req(const struct cf_sip_msg *msg, const struct proxy_routes *r);
/* True (logged with the Call-ID, counted) when msg is a sips request and
 * hop is plain (UDP, TCP, WS): it must not be sent there. */
bool proxy_sips_refused(const struct cf_sip_msg *msg,
                        const struct proxy_routes *r,
                        const struct cf_sip_peer *hop);
/* Drop the targets whose hop is plain from a sips request's target set
 * (order kept, the dropped ones freed): the count left. 0: none left, and
 * st was answered 480. Other requests: n unchanged. */
size_t proxy_sips_targets(struct cf_sip_strans *st,
                          const struct cf_sip_msg *msg,
                          const struct proxy_routes *r, struct proxy_target *tv,
                          size_t n);
/* A branch's edits for a sips request: sips Record-Route, and the
 * incoming side named by our TLS listener when the request came over a
 * plain hop (the caller's side of the dialog is TLS from now on). */
void proxy_sips_edit(const struct cf_sip_msg *msg, const struct proxy_routes *r,
                     struct proxy_edit *e);
uint64_t proxy_sips_refused_count(void);
/* RFC 5922 §4: the domain a new TLS connection for target t must find in
 * the server's certificate (and sends as SNI): the host of the URI its
 * hop came from, unless an IP literal. True when buf holds one. */
bool proxy_tls_host(const struct proxy_routes *r, const struct cf_sip_msg *req,
                    const struct proxy_target *t, char *buf, size_t size);

/* zone.c */
enum { LISTEN_ZONE_MAX = 32 };
/* The RFC 3263 records (NAPTR, SRV, A/AAAA) for domain and the listeners
 * given, as zone-file text in b: 0, EINVAL (not a domain name), ENOMEM
 * (b too small). */
int proxy_zone_text(const char *domain, const enum cf_sip_tp *tpv,
                    const struct cf_sa *addrv, size_t n, char *b, size_t sz);
/* confabctl dns zone DOMAIN */
int proxy_zone_h(struct cf_app *app, const struct cf_mod_ctl_req *req,
                 json_t *resp);

#endif
