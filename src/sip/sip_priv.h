/* SPDX-License-Identifier: BSD-3-Clause */
/* sip_priv.h - private parts of src/sip: the transaction environment and the
 * server/client transaction objects shared by txn.c, strans.c, ctrans.c. */
#ifndef CF_SIP_PRIV_H
#define CF_SIP_PRIV_H

#include "sip/sip.h"

/* RFC 3261 §8.1.1.7: branches of RFC 3261 elements start with this. */
#define CF_SIP_BRANCH_COOKIE "z9hG4bK"

enum {
	CF_SIP_TAG_LEN = 16,       /* To tag we generate (cf_sip_rand_token) */
	CF_SIP_TIMER_D_MS = 32000, /* RFC 3261 §17.1.1.2: at least 32 s */
	/* Buckets per table. Over UDP a non-INVITE server transaction lives
	 * 64*T1 = 32 s after its answer: at 50,000 requests/s a worker holds
	 * 1.6 M of them, so chains stay short only with many buckets
	 * (24 bytes each: 1.5 MB per worker for the server table). */
	CF_SIP_ST_BUCKETS = 1 << 16,
	CF_SIP_CT_BUCKETS = 1 << 14,
	CF_SIP_KEYS_MAX = 96, /* branch, sent-by host, method of a slim txn */
};

/* Per-thread transaction environment (one per worker, one per unit test). */
struct cf_sip_txn_env {
	struct cf_sip_cfg cfg;
	struct cf_tmr_wheel *wheel; /* not owned */
	cf_sip_send_h *send;
	cf_sip_send_host_h *send_host; /* or NULL: send, no name */
	void *send_arg;
	struct cf_hash *st_ht; /* server transactions (table ref each) */
	struct cf_hash *ct_ht; /* client transactions (table ref each) */
	struct cf_list dead;   /* terminated, deref'ed by the reaper */
	struct cf_tmr reaper;  /* 0 ms timer that empties `dead` */
	struct cf_sip_txn_stats stats;
	size_t pending; /* transactions without a final response yet */
	char seed[CF_SIP_TAG_LEN + 1]; /* random, for stateless To tags */
	struct cf_mbuf tmp;            /* scratch for building responses */
	struct cf_mbuf via;
};

/* RFC 3261 §17.2.1 / §17.2.2 with RFC 6026 §8. */
enum cf_sip_sstate {
	CF_SIP_SS_TRYING = 0, /* non-INVITE only */
	CF_SIP_SS_PROCEEDING,
	CF_SIP_SS_ACCEPTED, /* INVITE after 2xx (RFC 6026) */
	CF_SIP_SS_COMPLETED,
	CF_SIP_SS_CONFIRMED, /* INVITE after ACK */
	CF_SIP_SS_TERMINATED,
};

struct cf_sip_strans {
	struct cf_le le;            /* in env->st_ht, then env->dead */
	struct cf_sip_txn_env *env; /* NULL once the env is gone */
	struct cf_sip_msg *req;     /* the request that created it (ref);
	                             * NULL once slim (see strans.c) */
	/* RFC 3261 matching keys (§17.2.3): slices into req, or into keys[]
	 * once slim */
	enum cf_sip_method mid;
	struct cf_pl method;
	struct cf_pl branch;
	struct cf_pl host;
	uint16_t port;
	char keys[CF_SIP_KEYS_MAX];
	struct cf_sip_peer peer; /* where it came from (conn ref) */
	struct cf_sip_peer dst;  /* where responses go (§18.2.2) */
	enum cf_sip_sstate state;
	bool invite;
	bool rfc3261;   /* branch has the magic cookie */
	bool cancelled; /* a CANCEL matched it */
	bool pending;   /* counted in env->pending: no final sent yet */
	uint32_t key;
	struct cf_mbuf *resp; /* last response sent (ref) */
	uint16_t code;        /* its status code */
	char tag[CF_SIP_TAG_LEN + 1];
	struct cf_tmr tmr_g; /* G: response retransmission */
	struct cf_tmr tmr;   /* H, I, J, L */
	uint64_t g_ms;
	void *arg;
};

/* RFC 3261 §17.1.1 / §17.1.2 with RFC 6026 §7. */
enum cf_sip_cstate {
	CF_SIP_CS_CALLING = 0, /* INVITE; "Trying" for non-INVITE */
	CF_SIP_CS_PROCEEDING,
	CF_SIP_CS_ACCEPTED, /* INVITE after 2xx (RFC 6026) */
	CF_SIP_CS_COMPLETED,
	CF_SIP_CS_TERMINATED,
};

struct cf_sip_ctrans {
	struct cf_le le;
	struct cf_sip_txn_env *env;
	struct cf_sip_msg *req;  /* the request as sent (ref) */
	struct cf_sip_peer peer; /* conn ref */
	char *host;              /* TLS server name (RFC 5922), or NULL */
	enum cf_sip_cstate state;
	bool invite;
	bool cancel_pending; /* CANCEL asked before any provisional */
	bool cancel_sent;
	bool pending; /* counted in env->pending: no final received yet */
	uint32_t key;
	struct cf_tmr tmr_a; /* A / E: request retransmission */
	struct cf_tmr tmr;   /* B, D, F, K, M */
	uint64_t a_ms;
	struct cf_mbuf *ack; /* ACK for a non-2xx final (ref) */
	cf_sip_resp_h *resph;
	void *arg;
};

/* txn.c */
uint32_t cf_sip_txn_branch_key(const struct cf_pl *branch);
uint32_t cf_sip_txn_2543_key(const struct cf_sip_msg *msg);
bool cf_sip_txn_has_cookie(const struct cf_pl *branch);
/* Put bytes on the wire through the env's send callback. */
int cf_sip_txn_send(struct cf_sip_txn_env *env, const struct cf_sip_peer *peer,
                    const struct cf_pl *bytes);
/* Queue an object for deref on the next wheel tick (never free inside its
 * own callback chain). le must be unlinked. */
void cf_sip_txn_bury(struct cf_sip_txn_env *env, struct cf_le *le, void *obj);
/* Count a transaction in env->pending (on true) or stop counting it (on
 * false); *flag is the transaction's own `pending`, so that each one is
 * counted once whatever path ends it. env may be NULL (detached). */
static inline void cf_sip_txn_pending_set(struct cf_sip_txn_env *env,
                                          bool *flag, bool on)
{
	if (*flag == on)
		return;
	*flag = on;
	if (!env)
		return;
	if (on)
		env->pending++;
	else
		env->pending--;
}

/* strans.c */
struct cf_sip_strans *cf_sip_strans_find(struct cf_sip_txn_env *env,
                                         const struct cf_sip_msg *msg,
                                         bool for_cancel);
void cf_sip_strans_recv(struct cf_sip_txn_env *env,
                        const struct cf_sip_txn_handlers *h,
                        struct cf_sip_msg *msg, const struct cf_sip_peer *peer);
void cf_sip_strans_detach(struct cf_sip_strans *st);
/* resp.c */
/* Encode a response to req into a new refcounted buffer, the top Via with
 * received/rport for peer's source address (§18.2.1, RFC 3581). tag: the
 * To tag to add, or NULL. ENOMEM, or the encoder's error. */
int cf_sip_txn_reply_build(struct cf_mbuf **mbp, struct cf_sip_txn_env *env,
                           const struct cf_sip_msg *req,
                           const struct cf_sip_peer *peer, uint16_t code,
                           const char *reason, const char *tag,
                           const char *hdrs, const struct cf_pl *body);
/* Where the responses to req go (§18.2.2, RFC 3581). */
void cf_sip_txn_resp_dst(struct cf_sip_peer *dst, const struct cf_sip_msg *req,
                         const struct cf_sip_peer *src);
/* §18.2.2: the response's inbound TCP/TLS connection has closed: dst
 * becomes a new connection's address (the request's source address, the
 * port of its Via sent-by or the transport's default). False when that
 * does not apply (UDP, WebSocket, no connection to replace). */
bool cf_sip_txn_resp_reconnect(struct cf_sip_peer *dst,
                               const struct cf_sip_msg *req);
/* The To tag of a stateless response (§8.2.7): the same for the same
 * request (retransmissions included) while env lives, a hash of its
 * Call-ID, From tag, CSeq, top Via branch and env's random seed. */
void cf_sip_txn_stateless_tag(const struct cf_sip_txn_env *env,
                              const struct cf_sip_msg *req,
                              char tag[CF_SIP_TAG_LEN + 1]);
/* Stateless response (faults): §18.2.2 destination, received/rport. */
int cf_sip_txn_reply_stateless(struct cf_sip_txn_env *env,
                               const struct cf_sip_msg *req,
                               const struct cf_sip_peer *peer, uint16_t code,
                               const char *reason);

/* ctrans.c */
void cf_sip_ctrans_recv(struct cf_sip_txn_env *env,
                        const struct cf_sip_txn_handlers *h,
                        struct cf_sip_msg *msg, const struct cf_sip_peer *peer);
void cf_sip_ctrans_detach(struct cf_sip_ctrans *ct);
/* Build the ACK for a non-2xx final (§17.1.1.3) / a CANCEL (§9.1) for req. */
int cf_sip_ack_encode(struct cf_mbuf *mb, const struct cf_sip_msg *req,
                      const struct cf_sip_msg *resp);
int cf_sip_cancel_encode(struct cf_mbuf *mb, const struct cf_sip_msg *req);

#endif
