/* SPDX-License-Identifier: BSD-3-Clause */
/* sip.h - the SIP stack around the codec: transports, connections,
 * workers, and RFC 3261 §17 transactions (with RFC 6026). */
#ifndef CF_SIP_H
#define CF_SIP_H

#include "core/core.h"
#include "proto/sip/sip.h"

enum cf_sip_tp {
	CF_SIP_TP_UDP = 0,
	CF_SIP_TP_TCP,
	CF_SIP_TP_TLS,
	CF_SIP_TP_WS,
	CF_SIP_TP_WSS,
	CF_SIP_TP__COUNT,
};

/* "UDP", "TCP", ...; and back (EINVAL when unknown). */
const char *cf_sip_tp_name(enum cf_sip_tp tp);
int cf_sip_tp_decode(const struct cf_pl *name, enum cf_sip_tp *tp);
static inline bool cf_sip_tp_reliable(enum cf_sip_tp tp)
{
	return tp != CF_SIP_TP_UDP;
}

/* A stream connection (TCP or TLS; WS later). Refcounted; owned by the
 * worker that accepted or opened it; other workers send through it via that
 * worker's mailbox (cf_sip_send does that for you). */
struct cf_sip_conn;

/* Where a message came from / goes to. */
struct cf_sip_peer {
	enum cf_sip_tp tp;
	struct cf_sa addr;	   /* remote address and port */
	struct cf_sa local;	   /* our listener address */
	struct cf_sip_conn *conn;  /* stream it arrived on (a reference), or NULL */
};

/* Timer values (RFC 3261 §17, Table 4) and stack limits. */
struct cf_sip_cfg {
	uint32_t t1_ms;	     /* 500 */
	uint32_t t2_ms;	     /* 4000 */
	uint32_t t4_ms;	     /* 5000 */
	uint32_t timer_c_ms; /* 180000 (proxy, RFC 3261 §16.6 item 11) */
	uint32_t workers;    /* 0 = number of cores */
	size_t max_msg;	     /* CF_SIP_MSG_MAX */
	uint32_t tcp_idle_s; /* close idle streams after this; 0 = never */
	uint32_t tcp_max_per_ip; /* connections per source address */
	uint32_t tcp_max;	 /* connections in all */
	size_t ws_max_frame;	 /* WebSocket frame payload limit
				  * (CF_WS_FRAME_MAX); over it: close 1009 */
	uint32_t ws_handshake_s; /* the upgrade must be done within this */
};

void cf_sip_cfg_default(struct cf_sip_cfg *cfg);

/* --------------------------------------------------------- transactions */

struct cf_sip_strans; /* server transaction, refcounted */
struct cf_sip_ctrans; /* client transaction, refcounted */

/* Per-thread transaction environment: the wheel that drives its timers and
 * the function that puts bytes on the wire. Unit tests give a fake wheel
 * and a recording send, so every timer path runs without sleeping. */
typedef int(cf_sip_send_h)(const struct cf_sip_peer *peer,
			   const struct cf_pl *bytes, void *arg);

struct cf_sip_txn_env;

/* The same, naming the TLS server for a connection it opens (SNI, RFC
 * 5922). */
typedef int(cf_sip_send_host_h)(const struct cf_sip_peer *peer,
				const char *host, const struct cf_pl *bytes,
				void *arg);

int cf_sip_txn_env_alloc(struct cf_sip_txn_env **envp,
			 const struct cf_sip_cfg *cfg,
			 struct cf_tmr_wheel *wheel, cf_sip_send_h *send,
			 void *send_arg);
size_t cf_sip_txn_env_count(const struct cf_sip_txn_env *env);
/* Of those, the ones still pending: a server transaction that has not sent
 * its final response, a client one that has not received one. The rest
 * only absorb retransmissions (Timers J, I, K, D, H, L, M) and may be
 * dropped at shutdown. O(1). */
size_t cf_sip_txn_env_pending(const struct cf_sip_txn_env *env);

/* Handlers a service gives the transaction layer. */
struct cf_sip_txn_handlers {
	/* A new request (never a retransmission; never an ACK or CANCEL that
	 * matched a transaction). For requests other than ACK, st is a new
	 * server transaction (one reference held by the layer; take your own
	 * to keep it). For ACK not matching any transaction (ACK for a 2xx),
	 * st is NULL. */
	void (*request)(struct cf_sip_strans *st, const struct cf_sip_msg *msg,
			const struct cf_sip_peer *peer, void *arg);
	/* A CANCEL matched this INVITE server transaction (§9.2); the layer
	 * has already answered the CANCEL 200. The service should answer
	 * the INVITE 487 if it has not sent a final response. */
	void (*cancel)(struct cf_sip_strans *st, void *arg);
	/* A response that matched no client transaction. */
	void (*stray_response)(const struct cf_sip_msg *msg,
			       const struct cf_sip_peer *peer, void *arg);
	void *arg;
};

/*
 * Feed a received, decoded message. Matches it to a transaction (RFC 3261
 * §17.1.3/§17.2.3, RFC 2543 rules without the z9hG4bK cookie), absorbs
 * retransmissions (resending the last response), answers 100 Trying for
 * INVITE, answers CANCEL, or passes it up to the handlers.
 * Messages with msg->fault set are answered with the fault (requests) or
 * dropped (responses) here, and counted.
 */
void cf_sip_txn_recv(struct cf_sip_txn_env *env,
		     const struct cf_sip_txn_handlers *h,
		     struct cf_sip_msg *msg, const struct cf_sip_peer *peer);

/* Answer a server transaction. hdrs: extra header lines each ending CRLF,
 * or NULL. A To tag is added to every response but 100. Returns EALREADY
 * when a final response was already sent. */
int cf_sip_strans_reply(struct cf_sip_strans *st, uint16_t code,
			const char *reason, const char *hdrs,
			const struct cf_pl *body);
/* Answer a non-INVITE request with a final response and end its
 * transaction at once, as a stateless UAS would (RFC 3261 §8.2.7): no
 * Timer J, so a retransmission reaches the service again and is answered
 * again. For idempotent requests answered on the spot (OPTIONS pings),
 * where 32 s of state per request over UDP costs more than it saves.
 * EINVAL for INVITE or a provisional code; otherwise as above. */
int cf_sip_strans_reply_stateless(struct cf_sip_strans *st, uint16_t code,
				  const char *reason, const char *hdrs,
				  const struct cf_pl *body);
/* End a server transaction without any response (a silent drop: the auth
 * module's ban_action = drop). A retransmission is a new request. */
void cf_sip_strans_drop(struct cf_sip_strans *st);
const struct cf_sip_msg *cf_sip_strans_msg(const struct cf_sip_strans *st);
const struct cf_sip_peer *cf_sip_strans_peer(const struct cf_sip_strans *st);
bool cf_sip_strans_final_sent(const struct cf_sip_strans *st);
/* The status code of the last response sent (0: none yet). */
uint16_t cf_sip_strans_code(const struct cf_sip_strans *st);
/* Attach a service object and a destructor-time callback to a server
 * transaction (e.g. the ringing call of the test extension). */
void cf_sip_strans_set_arg(struct cf_sip_strans *st, void *arg);
void *cf_sip_strans_arg(const struct cf_sip_strans *st);

/* A proxy's response (RFC 3261 §16.7): the bytes of a received response,
 * our Via removed, sent as st's response (copied, retransmitted as ours).
 * After a 2xx on an INVITE transaction, further 2xx are sent as they come
 * (RFC 6026). EINVAL, EALREADY, ENOMEM or the send error. */
int cf_sip_strans_forward(struct cf_sip_strans *st, uint16_t code,
			  const struct cf_pl *bytes);
/* The environment the transaction runs in (NULL once the env is gone):
 * for a proxy that starts client transactions beside it. */
struct cf_sip_txn_env *cf_sip_strans_env(const struct cf_sip_strans *st);
/* The env whose cf_sip_txn_recv is running on this thread, or NULL: what a
 * handler that got no transaction (ACK for a 2xx, a stray response) uses
 * to send statelessly. */
struct cf_sip_txn_env *cf_sip_txn_env_current(void);
struct cf_tmr_wheel *cf_sip_txn_env_wheel(const struct cf_sip_txn_env *env);
const struct cf_sip_cfg *cf_sip_txn_env_cfg(const struct cf_sip_txn_env *env);
/* Send bytes statelessly through the env's send function (RFC 3261 §16.11:
 * a proxy's stateless forwarding). EINVAL or the send error. */
int cf_sip_txn_env_send(struct cf_sip_txn_env *env,
			const struct cf_sip_peer *peer,
			const struct cf_pl *bytes);

/* Client transaction: the layer owns one reference until it terminates.
 * resp is called for every response (provisional and final) and once with
 * msg NULL and code 408 on Timer B/F, or 503 on a transport error. */
typedef void(cf_sip_resp_h)(struct cf_sip_ctrans *ct,
			    const struct cf_sip_msg *msg, uint16_t code,
			    void *arg);
/* Send request bytes (which must carry a top Via whose branch is unique and
 * starts with z9hG4bK) to peer. For INVITE, a non-2xx final is ACKed by the
 * layer (§17.1.1.3). */
int cf_sip_ctrans_start(struct cf_sip_ctrans **ctp, struct cf_sip_txn_env *env,
			const struct cf_sip_msg *req,
			const struct cf_sip_peer *peer, cf_sip_resp_h *resp,
			void *arg);
/* As cf_sip_ctrans_start; a TLS connection it opens (for the request, its
 * CANCEL or ACK) names tls_host: SNI and, with verify_server, the
 * certificate check (RFC 5922). NULL: none. */
int cf_sip_ctrans_start_host(struct cf_sip_ctrans **ctp,
			     struct cf_sip_txn_env *env,
			     const struct cf_sip_msg *req,
			     const struct cf_sip_peer *peer,
			     const char *tls_host, cf_sip_resp_h *resp,
			     void *arg);
/* The env's send with a server name (the stack's workers set it): used by
 * client transactions started with a tls_host. */
void cf_sip_txn_env_send_host_set(struct cf_sip_txn_env *env,
				  cf_sip_send_host_h *h);
/* An outgoing connection to addr over tp (opened for TLS server name
 * host, or NULL) failed before it was up: the env's client transactions
 * still waiting for a first response that were sent that way end with a
 * transport error (503 to their TU, RFC 3261 §17.1.4) now instead of at
 * Timer B/F. The stack calls it on the env's thread. O(transactions). */
void cf_sip_txn_env_transport_failed(struct cf_sip_txn_env *env,
				     enum cf_sip_tp tp,
				     const struct cf_sa *addr,
				     const char *host);
/* Change the TU handler (and its arg) of a client transaction: a proxy
 * whose context ends before its branches do (resp NULL: responses are
 * ignored). */
void cf_sip_ctrans_set_resp(struct cf_sip_ctrans *ct, cf_sip_resp_h *resp,
			    void *arg);
/* Send a CANCEL for a pending INVITE client transaction (§9.1). */
int cf_sip_ctrans_cancel(struct cf_sip_ctrans *ct);

/* Counters of the transaction layer (cumulative, per env; summed by the
 * stack for `confabctl status`). */
struct cf_sip_txn_stats {
	uint64_t requests;
	uint64_t responses;
	uint64_t retransmissions_absorbed;
	uint64_t bad_requests;	/* answered with a fault */
	uint64_t bad_responses; /* dropped */
	uint64_t timeouts;
};
void cf_sip_txn_env_stats(const struct cf_sip_txn_env *env,
			  struct cf_sip_txn_stats *st);

/* ------------------------------------------------------------ the stack */

/* The running stack: listeners, N worker threads each with a loop, a wheel
 * and a transaction environment. A UDP socket is shared by every worker
 * (EPOLLEXCLUSIVE + recvmmsg); each message is then handed, by a hash of its
 * Call-ID, to the worker that owns that call's transactions. */
struct cf_sip;

int cf_sip_alloc(struct cf_sip **sipp, const struct cf_sip_cfg *cfg,
		 const struct cf_sip_txn_handlers *h);
/* Add a listener (before cf_sip_start). */
int cf_sip_listen(struct cf_sip *sip, enum cf_sip_tp tp,
		  const struct cf_sa *addr);
/* WebSocket listeners: the Origin allow-list (comma-separated exact
 * origins, "https://example.com"; NULL or "" = any; RFC 6455 §10.2). A
 * handshake with another Origin is answered 403; one without Origin (not
 * a browser) passes. Copied. Before cf_sip_start. EINVAL, ENOMEM. */
int cf_sip_ws_origins_set(struct cf_sip *sip, const char *origins);
/* Start the workers; returns once they run. */
int cf_sip_start(struct cf_sip *sip);
/* Graceful stop: stop accepting, let pending transactions (no final
 * response yet) finish or time out (bounded by max_wait_ms), then join the
 * workers. Answered ones waiting out Timer J etc. are not waited for. */
void cf_sip_stop(struct cf_sip *sip, uint32_t max_wait_ms);

/* Send bytes to a peer from any thread; over streams through the owning
 * worker. Reuses peer->conn, or an open connection to the address, or
 * opens one. */
int cf_sip_send(struct cf_sip *sip, const struct cf_sip_peer *peer,
		const struct cf_pl *bytes);

/* Observe stream connections closing (RFC 5626 flow failure: the registrar
 * drops the outbound bindings whose flow it was). h runs on the thread that
 * owned the connection (a worker, or the main thread during cf_sip_stop),
 * once per connection, after it left the connection table; it must not
 * block. Register before cf_sip_start (main thread). Returns 0, EINVAL,
 * EALREADY (this h and arg are observing already), ENOMEM (table full:
 * CF_SIP_CONN_OBSERVERS). */
enum { CF_SIP_CONN_OBSERVERS = 4 };
typedef void(cf_sip_conn_close_h)(struct cf_sip_conn *conn, void *arg);
int cf_sip_conn_observe(struct cf_sip *sip, cf_sip_conn_close_h *h,
			void *arg);
/* Has this connection closed (any thread)? A holder of a reference that
 * links it somewhere after the observers ran checks this afterwards. */
bool cf_sip_conn_closed(const struct cf_sip_conn *conn);

/* Counters for `confabctl status` and the logs. */
struct cf_sip_stats {
	uint64_t rx_msgs;
	uint64_t tx_msgs;
	uint64_t rx_bytes;
	uint64_t parse_errors;	/* dropped: not even a start line */
	uint64_t oversize;	/* 513 / closed */
	uint64_t stream_garbage; /* streams closed for garbage */
	uint64_t conns_open;
	uint64_t conns_refused; /* over the per-address or total limit */
	uint64_t keepalive_pongs;
	/* WebSocket (RFC 6455, RFC 7118); each bad case closes its
	 * connection only */
	uint64_t ws_upgrades;	     /* 101 sent */
	uint64_t ws_refused;	     /* upgrade answered 400/403/405/426/431,
				      * or no upgrade in time */
	uint64_t ws_protocol_errors; /* closed 1002 (unmasked, reserved bits,
				      * bad control frame...) or 1007 (not a
				      * SIP message) */
	uint64_t ws_oversize;	     /* closed 1009 (frame or message) */
	uint64_t ws_pongs;	     /* pings answered */
	uint64_t tls_handshakes;	 /* completed, both directions */
	uint64_t tls_handshake_failures; /* garbage, refused, timed out */
	/* STUN on the SIP UDP port (RFC 5626 §4.4.2 keep-alives) */
	uint64_t stun_bindings; /* Binding requests answered */
	uint64_t stun_errors;	/* STUN datagrams dropped (bad, not a
				 * request) or answered 420 */
	struct cf_sip_txn_stats txn;
};
void cf_sip_stats(const struct cf_sip *sip, struct cf_sip_stats *st);
/* ------------------------------------------------------------------ TLS */

enum cf_sip_tls_verify {
	CF_SIP_TLS_VERIFY_NO = 0,   /* no certificate asked for */
	CF_SIP_TLS_VERIFY_OPTIONAL, /* asked for, checked when given */
	CF_SIP_TLS_VERIFY_REQUIRE,  /* handshake fails without a good one */
};

/* One certificate chosen by SNI (RFC 6066 §3) for a served domain. */
struct cf_sip_tls_domain {
	const char *domain;
	const char *certificate; /* PEM chain file */
	const char *private_key; /* PEM key file */
};

/* TLS settings (the [tls] section). Strings are read during the call
 * only. NULL certificate: no server side (TLS listeners cannot start). */
struct cf_sip_tls_cfg {
	const char *certificate; /* default certificate chain (PEM) */
	const char *private_key;
	const char *ca_file; /* verifies clients and servers; NULL: the
	                      * system's store for servers, none for clients */
	enum cf_sip_tls_verify verify_client;
	bool verify_server;	 /* outgoing: check the server's certificate */
	int min_version;	 /* TLS1_2_VERSION or TLS1_3_VERSION */
	const char *ciphers;	 /* TLS 1.2 cipher list (OpenSSL syntax) */
	uint32_t handshake_ms;	 /* handshake timeout; 0: 10000 */
	const struct cf_sip_tls_domain *domains; /* SNI choices */
	size_t ndomains;
};

void cf_sip_tls_cfg_default(struct cf_sip_tls_cfg *cfg);

/*
 * Build the TLS contexts from cfg and swap them in for connections made
 * from now on (at start, on SIGHUP, on `confabctl tls reload`); connections
 * already established keep the contexts they began with (refcounted), so
 * nothing is dropped. Any thread. On error the contexts in use are kept and
 * one line naming the file and OpenSSL's reason is logged. Errors: EINVAL
 * (a file that cannot be read or a key that does not match its
 * certificate, a bad cipher list or version), ENOMEM.
 */
int cf_sip_tls_set(struct cf_sip *sip, const struct cf_sip_tls_cfg *cfg);

/*
 * The self-signed certificate of the embedded defaults: DIR/DOMAIN.crt and
 * DIR/DOMAIN.key (DIR created 0700), made when missing (P-256 key,
 * subjectAltName DNS:DOMAIN, IP:127.0.0.1, IP:::1, valid 10 years) and
 * reused otherwise. The paths are written to cert and key. made: true when
 * it was just made. Errors: EINVAL (names too long), ENOMEM, EPROTO
 * (OpenSSL), or the errno of mkdir/open.
 */
int cf_sip_tls_selfsigned(const char *dir, const char *domain, char *cert,
			  size_t certsize, char *key, size_t keysize,
			  bool *made);

/* Send over TLS to peer (peer->tp CF_SIP_TP_TLS) naming the server: host
 * is sent as SNI and, with verify_server, checked against the
 * certificate (else the address is). host NULL: as cf_sip_send. */
int cf_sip_send_host(struct cf_sip *sip, const struct cf_sip_peer *peer,
		     const char *host, const struct cf_pl *bytes);

/* Listener addresses, for the start-up banner: "udp 127.0.0.1:5060". */
typedef void(cf_sip_listener_h)(enum cf_sip_tp tp, const struct cf_sa *addr,
				void *arg);
void cf_sip_listeners_apply(const struct cf_sip *sip, cf_sip_listener_h *h,
			    void *arg);

/* ------------------------------------------- RFC 3263 server location */

/* One place to send a request to (RFC 3263 §4): transport and address. */
struct cf_sip_target {
	enum cf_sip_tp tp;
	struct cf_sa addr;
};

enum { CF_SIP_TARGETS_MAX = 16 };

/* Called on the thread that asked, once: err 0 with n >= 1 targets in the
 * order to try them (§4.3), ENOENT (nothing found), ETIMEDOUT, EPROTO (a
 * transport we do not serve), ECANCELED (the resolver is being closed:
 * release arg and do nothing else). tv is valid during the call only. */
typedef void(cf_sip_resolve_h)(int err, const struct cf_sip_target *tv,
			       size_t n, void *arg);

/* The DNS server for every resolver made or used afterwards: "addr:port"
 * ("127.0.0.1:5353", "[::1]:53"), or NULL / "" / "system" for the
 * system's (/etc/resolv.conf). Any thread. EINVAL for a malformed one. */
int cf_sip_resolve_server_set(const char *server);

/*
 * Locate the servers for uri (RFC 3263 §4): a numeric host needs no lookup
 * (h is called before this returns); an explicit port gives A/AAAA only;
 * else NAPTR (SIP+D2U, SIP+D2T, SIPS+D2T, SIP+D2W, SIPS+D2W), then SRV
 * (_sip._udp, _sip._tcp, _sips._tcp when no NAPTR) in priority order with
 * the RFC 2782 weighted choice, then A/AAAA of each SRV target; when no
 * SRV either, A/AAAA of the host on 5060 (5061 for sips). A transport
 * parameter restricts the transports; sips: allows TLS only. Answers are
 * cached for their TTL. Asynchronous, on the calling thread's loop
 * (cf_loop_current(): a worker); one c-ares channel per thread. Returns 0
 * (h will be called exactly once), or EINVAL / ENOMEM / EPROTO / ENOTSUP
 * (no loop on this thread) and h is not called.
 */
int cf_sip_resolve(const struct cf_sip_uri *uri, cf_sip_resolve_h *h,
		   void *arg);
/* Close this thread's resolver (workers, when their loop ended): pending
 * lookups get ECANCELED. Safe when none exists. */
void cf_sip_resolve_close(void);

/* One SRV record (RFC 2782) for cf_sip_srv_order. */
struct cf_sip_srv {
	uint16_t prio, weight, port;
	uint32_t ttl;
	char host[256];
};
typedef uint32_t(cf_sip_rand_h)(void *arg);
/* Sort v into the order to try (RFC 2782): ascending priority; within a
 * priority, a weighted random choice repeated (running sum of weights,
 * zero weights first, a random number in [0, sum]). rnd gives the random
 * numbers (tests: a fixed sequence). Pure. */
void cf_sip_srv_order(struct cf_sip_srv *v, size_t n, cf_sip_rand_h *rnd,
		      void *arg);

/* The TTL cache: key -> targets, expiring on a given clock (ms). */
struct cf_sip_rcache;
int cf_sip_rcache_alloc(struct cf_sip_rcache **cp, size_t max);
/* Store (replacing); ttl 0 stores nothing. */
void cf_sip_rcache_put(struct cf_sip_rcache *c, const char *key,
		       const struct cf_sip_target *tv, size_t n,
		       uint32_t ttl_s, uint64_t now_ms);
/* Targets (up to max) for key, not expired at now_ms; 0 when none. */
size_t cf_sip_rcache_get(struct cf_sip_rcache *c, const char *key,
			 uint64_t now_ms, struct cf_sip_target *tv,
			 size_t max);

/* -------------------------------------------------------------- dialogs */

/*
 * RFC 3261 §12 dialogs (src/sip/dialog.c), seen from one side: a UAC or
 * UAS view holds the dialog ID (Call-ID, local and remote tags), the
 * local and remote URIs, the remote target, the route set and the CSeq
 * numbers, and walks early -> confirmed -> terminated. A proxy observes a
 * call as two views (the caller's UAC view and the callee's UAS view),
 * feeding each the messages it sends (_sent) and receives (_recv); a
 * presence subscription is one view. No I/O, no timers, no locks: the
 * owner (one worker) drives it.
 */
enum cf_sip_dlg_state {
	CF_SIP_DLG_EARLY = 1, /* 1xx with a To tag */
	CF_SIP_DLG_CONFIRMED, /* 2xx */
	CF_SIP_DLG_TERMINATED,
};
enum cf_sip_dlg_role {
	CF_SIP_DLG_UAC = 0,
	CF_SIP_DLG_UAS,
};
/* Read-only for users; refcounted (cf_mem_deref frees). */
struct cf_sip_dialog {
	enum cf_sip_dlg_state state;
	enum cf_sip_dlg_role role;
	char *call_id;
	char *local_tag, *remote_tag;
	char *local_uri, *remote_uri; /* URIs of From / To (UAC) */
	char *target;                 /* remote target: the peer's Contact */
	char **routes;                /* route set: "<uri;lr>" values */
	size_t nroutes;
	uint32_t local_cseq;  /* the last CSeq sent; 0 before any */
	uint32_t remote_cseq; /* the last CSeq received (remote_set) */
	bool remote_set;
	enum cf_sip_method method; /* the request that made it */
	uint16_t code;             /* the last final to that request */
};
/* A UAC's dialog from the request as sent (INVITE, SUBSCRIBE...) and a
 * 101-299 response with a To tag: route set from the response's
 * Record-Route, reversed; remote target from its Contact (a 2xx without
 * one: EBADMSG). 0, EINVAL (not such a response), EBADMSG, ENOMEM. */
int cf_sip_dialog_uac_alloc(struct cf_sip_dialog **dp,
                            const struct cf_sip_msg *req,
                            const struct cf_sip_msg *resp);
/* A UAS's dialog from the request received and the To tag it answers
 * with (a 101-299 code): route set from the request's Record-Route in
 * order, remote target from its Contact. 0, EINVAL, EBADMSG (no
 * Contact), ENOMEM. */
int cf_sip_dialog_uas_alloc(struct cf_sip_dialog **dp,
                            const struct cf_sip_msg *req,
                            const struct cf_pl *local_tag, uint16_t code);
/* Does this request, received by the dialog's owner, belong to it (Call-ID,
 * To tag = local, From tag = remote)? */
bool cf_sip_dialog_match(const struct cf_sip_dialog *d,
                         const struct cf_sip_msg *req);
/*
 * A message the owner received from the remote side. Requests: ENOENT
 * when not this dialog's, EPROTO when the CSeq is lower than the last one
 * (§12.2.2: answer 500); a target refresh (re-INVITE, UPDATE, SUBSCRIBE,
 * NOTIFY with Contact) changes the remote target; BYE terminates.
 * Responses to the owner's requests: a 2xx to the dialog's INVITE
 * confirms an early dialog (the UAC's route set and target are taken from
 * it, §12.1.2), a non-2xx final to it terminates an early one; 481 or 408
 * to an in-dialog request terminates (§12.2.1.2). 0 or ENOMEM.
 */
int cf_sip_dialog_recv(struct cf_sip_dialog *d, const struct cf_sip_msg *msg);
/* A message the owner sent: a request raises local_cseq (BYE
 * terminates); a final response to the dialog's INVITE confirms (2xx) or
 * terminates (>= 300) an early dialog. 0 or ENOMEM. */
int cf_sip_dialog_sent(struct cf_sip_dialog *d, const struct cf_sip_msg *msg);
/* Write a request within the dialog (§12.2.1.1): Request-URI and Route
 * from the route set and remote target (strict routers too), From/To with
 * the tags, Call-ID, CSeq (local_cseq + 1, kept; ACK reuses local_cseq),
 * Max-Forwards 70, via (a whole Via value: "SIP/2.0/UDP host:port;branch=
 * z9hG4bK..."), hdrs (lines ending CRLF, or NULL), the body (or NULL).
 * 0, EINVAL (terminated dialog), ENOMEM. */
int cf_sip_dialog_request_encode(struct cf_mbuf *mb, struct cf_sip_dialog *d,
                                 enum cf_sip_method m, const char *via,
                                 const char *hdrs, const struct cf_pl *body);
/* Where such a request goes first: the first Route, else the target.
 * Slices into d. 0, EBADMSG. */
int cf_sip_dialog_next_hop(const struct cf_sip_dialog *d,
                           struct cf_sip_uri *uri);
/* Replace the route set with msg's Record-Route (reversed for a UAC
 * view): a proxy observing a call takes both views' from the 2xx, whose
 * Record-Route is complete. 0, EBADMSG, ENOMEM. */
int cf_sip_dialog_routes_set(struct cf_sip_dialog *d,
                             const struct cf_sip_msg *msg);
/* A proxy speaking for one side drops the route entries up to and with
 * its own (the first run of entries `ours` accepts); the rest lead on to
 * the far side. Returns how many were dropped (0: none of ours). */
typedef bool(cf_sip_dialog_route_h)(const struct cf_sip_uri *uri, void *arg);
size_t cf_sip_dialog_routes_after(struct cf_sip_dialog *d,
                                  cf_sip_dialog_route_h *ours, void *arg);
const char *cf_sip_dialog_state_name(enum cf_sip_dlg_state s);

#endif
