/* SPDX-License-Identifier: BSD-3-Clause */
/* proxy_int.h - private parts of the proxy module: settings, targets, the
 * proxy transaction (one server transaction, its client branches). */
#ifndef CF_PROXY_INT_H
#define CF_PROXY_INT_H

#include "mod/auth/auth.h"
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
	bool flow; /* hop is a binding's connection, the one its REGISTER
	            * came on (its Record-Route entry names it, flow.h) */
	int q;                  /* q x 1000 (1000 when absent) */
	uint16_t fwd;           /* a failure route: the cause (the code
	                         * that failed; 408 for no_answer_timeout) */
	uint8_t fwd_why;        /* enum proxy_fwd */
	char *fwd_uri; /* the failure route as given, when uri is one of its
	                * bindings (History-Info, Diversion); NULL: uri */
	bool resolve; /* a failure route to a host name: RFC 3263 when its
	               * turn comes, its servers tried in order (fwd.c) */
	struct proxy_trunk *trunk; /* a trunk's branch (dial plan): its
	                            * credentials answer a 401/407
	                            * (reference), or NULL */
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
/* The binding a GRUU designates: 1 and *t (proxy_targets_free), or 0. */
size_t proxy_gruu_target(const struct cf_sip_uri *u, struct proxy_target *t);
/* PROXY_FWD_HI and/or PROXY_FWD_DIV: the headers a forward gets. */
unsigned proxy_forward_headers(void);
/* The failure hook (proxy.h); NULL when none. */
cf_proxy_failure_h *proxy_failure_hook(void **argp);
/* The reply hook (proxy.h); NULL when none. */
cf_proxy_reply_h *proxy_reply_hook(void **argp);
/* Shutdown: true once stop() began; every proxy transaction ends itself
 * (503) at its next tick. live: proxy transactions in existence. */
bool proxy_stopping(void);
void proxy_live(int delta);
/* Counters (atomic). */
void proxy_stat_stateless(void);
void proxy_stat_branch(void);
void proxy_stat_request(void);

/* Copy the location service's bindings into targets (proxy.c;
 * cf_reg_contact_h). */
struct cf_reg_contact;
struct proxy_collect {
	struct proxy_target *tv;
	size_t n, max;
	size_t dropped; /* bindings over max (the lowest q) */
	bool nomem;
};
bool proxy_collect_h(const struct cf_reg_contact *c, void *arg);

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
	struct cf_pl own_cfack; /* our entry's cfack parameter (trunk.c:
	                         * an ACK whose CSeq the trunk leg
	                         * renumbered), unset when none */
	/* the UA's flow our second entry names (flow.h) */
	bool flow_set;
	struct cf_sip_peer flow;
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
/* The next hop is a strict router (no lr): §16.6 item 6 applies. */
bool proxy_next_strict(const struct proxy_routes *r);

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
	const char *rr_param;     /* ";name=value" for our Record-Route
	                           * entries (trunk.c), or NULL */
	enum cf_sip_tp in_tp, out_tp;
	struct cf_sa in_local, out_local;
	/* the peer of a side that is a UA's flow (its entry names it,
	 * flow.h), unset for a side that is none */
	struct cf_sa in_addr, out_addr;
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

/* retarget.c */
/* The targets of the failure route to uri appended to *tvp (*tcp): a
 * user of ours through the location service, else the URI itself. 0, or
 * the final to answer instead: 404, 480, 503, 500. */
uint16_t proxy_retarget(struct cf_app *app, const char *uri, uint16_t cause,
                        enum proxy_fwd why, struct proxy_target **tvp,
                        size_t *tcp);

/* trunk.c */
/* A trunk of [proxy] trunk (refcounted, shared by its targets). */
struct proxy_trunk;
/* cf_mod.conf_check: the trunks and the dial plan make sense. */
int proxy_trunk_conf_check(const struct cf_app_conf *conf,
                           cf_mod_conf_err_h *err, void *arg);
/* Main thread: (re)load / drop the trunks and the dial plan. */
int proxy_trunks_load(const struct cf_app_conf *conf);
void proxy_trunks_clear(void);
/* The dial plan's target for the Request-URI's user part: 0 (*tvp: one
 * target), ENOENT (no rule matches; or, with authenticate, the caller is
 * not one of our users), ENOMEM. */
int proxy_trunk_route(struct cf_app *app, const struct cf_sip_msg *msg,
                      bool authenticate, struct proxy_target **tvp);
/* The header line answering the trunk's 401/407 with its credentials:
 * 0, ENOENT (none, or no challenge we can answer), ENOMEM. */
int proxy_trunk_auth(const struct proxy_trunk *t, const struct cf_sip_msg *resp,
                     const char *method, const char *ruri, char *line,
                     size_t size);
const char *proxy_trunk_name(const struct proxy_trunk *t);
/* RFC 3261 §22.2 on the trunk leg: the CSeq of msg set to num (recorded
 * edit), 0 or ENOMEM. */
int proxy_cseq_set(struct cf_sip_msg *msg, uint32_t num);
/* The Record-Route parameter of a resubmitted INVITE (";cfack=N.HASH":
 * the caller's CSeq and From tag) into buf, so that the stateless ACK of
 * its 2xx can be renumbered (proxy_trunk_ack). */
void proxy_trunk_rr_param(const struct cf_sip_msg *req, char *buf, size_t size);
/* A stateless ACK routed by an entry of ours with cfack: when it is the
 * caller's ACK of that INVITE, its CSeq is raised by one. 0 or ENOMEM. */
int proxy_trunk_ack(struct cf_sip_msg *msg, const struct proxy_routes *r);

/* The bindings of aor as targets appended to tv (at most max); *nomem
 * when one could not be copied. Worker thread. */
size_t proxy_aor_targets(const struct cf_pl *aor, struct proxy_target *tv,
                         size_t max, bool *nomem);

/* hook.c */
/* Run the on_request hook (proxy.h) on a request about to be routed.
 * Returns true when st was answered (the hook's reply, or 500). Else
 * *msg_newp may hold an edited request to route instead (a reference for
 * the caller), or *tvp and *np the fork targets (ownership to the caller). */
bool proxy_hook_request(struct cf_app *app, struct cf_sip_strans *st,
                        const struct cf_sip_msg *msg,
                        const struct cf_sip_peer *peer,
                        const struct cf_auth_id *id,
                        struct cf_sip_msg **msg_newp,
                        struct proxy_target **tvp, size_t *np);

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

/* check.c: bad input (issue 4 point 7), each refusal counted */
enum proxy_bad {
	PROXY_BAD_ROUTE = 0,    /* a Route value that does not parse: 400 */
	PROXY_BAD_ROUTE_SCHEME, /* a Route value not sip:/sips: 416 */
	PROXY_BAD_CONTACT,      /* INVITE without one usable Contact: 400 */
	PROXY_BAD_USER,         /* a user of ours we do not know: 404 */
	PROXY_BAD_BRANCHES,     /* bindings over [proxy] max_branches */
	PROXY_BAD_N,
};
/* Answer st code/reason (NULL: the default phrase), log it at notice
 * with the Call-ID, count it. */
void proxy_refuse(struct cf_sip_strans *st, const struct cf_sip_msg *msg,
                  enum proxy_bad why, uint16_t code, const char *reason);
/* What is wrong with msg (r: its Route set), with the code and reason
 * to answer; PROXY_BAD_N when nothing is. Pure: no answer, no count. */
enum proxy_bad proxy_check_msg(const struct cf_sip_msg *msg,
                               const struct proxy_routes *r, uint16_t *code,
                               const char **reason);
/* The checks before forwarding (Route schemes, an INVITE's Contact):
 * true when st was answered (proxy_refuse). */
bool proxy_check(struct cf_app *app, struct cf_sip_strans *st,
                 const struct cf_sip_msg *msg, const struct proxy_routes *r);
/* A fork cut at max_branches: logged with the Call-ID and counted. */
void proxy_branches_over(const struct cf_sip_msg *msg, size_t tried,
                         size_t dropped);
void proxy_bad_count(enum proxy_bad why);
uint64_t proxy_bad_get(enum proxy_bad why);

/* calls.c: call tracking (issue 4 point 6) */
int proxy_calls_init(struct cf_app *app);
void proxy_calls_cfg(struct cf_app *app); /* SIGHUP */
void proxy_calls_stop(struct cf_app *app);
/* An INVITE outside a dialog, authenticated, about to be forwarded: a new
 * call. True when it was refused here (486/503 over a limit: answered). */
bool proxy_calls_invite(struct cf_app *app, struct cf_sip_strans *st,
                        const struct cf_sip_msg *msg,
                        const struct cf_sip_peer *peer);
/* An INVITE outside a dialog answered before it became a call, by the
 * on_request hook (a 403 of a script, its 500): its CDR, written once. */
void proxy_calls_refused(struct cf_app *app, struct cf_sip_strans *st,
                         const struct cf_sip_msg *msg);
/* A response of a branch of the proxy transaction of req. */
void proxy_calls_resp(const struct cf_sip_msg *req,
                      const struct cf_sip_msg *resp, uint16_t code);
/* A 2xx passed upstream after the context ended (fwd.c late_resp): one
 * that crossed the caller's CANCEL answers the cancelled call. */
void proxy_calls_late(const struct cf_sip_msg *resp, uint16_t code);
/* The proxy transaction of req sent its final upstream (on st). */
void proxy_calls_final(const struct cf_sip_msg *req, struct cf_sip_strans *st);
/* An in-dialog request passing through (BYE ends a call). */
void proxy_calls_request(struct cf_app *app, const struct cf_sip_msg *msg);
struct proxy_calls_stats {
	uint64_t active, started, refused_user, refused_total, max_duration;
};
void proxy_calls_stats(struct proxy_calls_stats *st);
int proxy_calls_stats_h(struct cf_app *app, const struct cf_mod_ctl_req *req,
                        json_t *resp);

/* cdr.c: CDRs written behind, confabctl cdr */
struct cf_store_cdr;
int proxy_cdr_start(struct cf_app *app);
void proxy_cdr_queue(const struct cf_store_cdr *c);
int proxy_cdr_flush(void);
void proxy_cdr_stop(void);
void proxy_cdr_stats(uint64_t *written, uint64_t *errors);
int proxy_cdr_list_h(struct cf_app *app, const struct cf_mod_ctl_req *req,
                     json_t *resp);
int proxy_cdr_export_h(struct cf_app *app, const struct cf_mod_ctl_req *req,
                       json_t *resp);

#endif
