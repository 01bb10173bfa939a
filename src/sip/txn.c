/* SPDX-License-Identifier: BSD-3-Clause */
/* txn.c - the transaction environment: tables, dispatch of received
 * messages to server/client transactions (RFC 3261 §17), fault answers. */
#include <errno.h>
#include <string.h>

#include "sip/sip_priv.h"

/*
 * Design. One environment per worker thread; the stack hands every message
 * of a Call-ID to the same worker, so an INVITE, its CANCEL, its ACK and
 * the responses to our requests meet their transaction without locks.
 *
 * Two hash tables (server, client), each holding one reference per live
 * transaction. Server transactions are keyed by the top Via branch when it
 * carries the z9hG4bK cookie (compared with the sent-by and the method
 * class, §17.2.3), else by Call-ID and CSeq number (RFC 2543 rules, which
 * an INVITE, its ACK and its CANCEL share). Client transactions are keyed
 * by branch (§17.1.3). Lookup is O(bucket).
 *
 * Every timer is embedded in its transaction and driven by the worker's
 * wheel, so unit tests run every timer path on a fake clock. A transaction
 * that terminates (often inside its own timer handler) leaves its table and
 * its reference goes to `dead`, dropped by a 0 ms reaper timer on the next
 * wheel tick: an object is never freed inside its own callback chain.
 */

uint32_t cf_sip_txn_branch_key(const struct cf_pl *branch)
{
	return cf_hash_mix32(cf_hash_mem(branch->p, branch->l));
}

/* RFC 2543 requests (no cookie) are keyed by Call-ID and CSeq number, which
 * an INVITE, its ACK and its CANCEL share (§17.2.3). */
uint32_t cf_sip_txn_2543_key(const struct cf_sip_msg *msg)
{
	return cf_hash_mix32(cf_hash_mem(msg->call_id.p, msg->call_id.l) ^
	                     msg->cseq.num);
}

bool cf_sip_txn_has_cookie(const struct cf_pl *branch)
{
	const size_t n = sizeof(CF_SIP_BRANCH_COOKIE) - 1;

	return branch->p && branch->l > n &&
	       !memcmp(branch->p, CF_SIP_BRANCH_COOKIE, n);
}

void cf_sip_txn_env_send_host_set(struct cf_sip_txn_env *env,
                                  cf_sip_send_host_h *h)
{
	if (env)
		env->send_host = h;
}

int cf_sip_txn_send(struct cf_sip_txn_env *env, const struct cf_sip_peer *peer,
                    const struct cf_pl *bytes)
{
	if (!env || !env->send)
		return EINVAL;

	return env->send(peer, bytes, env->send_arg);
}

static void reaper(void *arg)
{
	struct cf_sip_txn_env *env = arg;

	/* Each deref may run a destructor; none of them touches `dead`. */
	cf_list_flush(&env->dead, true);
}

void cf_sip_txn_bury(struct cf_sip_txn_env *env, struct cf_le *le, void *obj)
{
	cf_list_append(&env->dead, le, obj);
	if (!cf_tmr_isrunning(&env->reaper))
		cf_tmr_start(env->wheel, &env->reaper, 0, reaper, env);
}

static bool st_detach(struct cf_le *le, void *arg)
{
	(void)arg;
	cf_sip_strans_detach(le->data);
	return false;
}

static bool ct_detach(struct cf_le *le, void *arg)
{
	(void)arg;
	cf_sip_ctrans_detach(le->data);
	return false;
}

static void env_destroy(void *data)
{
	struct cf_sip_txn_env *env = data;

	/* Transactions still referenced by a service outlive the env: they
	 * are cut loose (env NULL, timers stopped) and answer EINVAL. */
	if (env->st_ht) {
		cf_hash_apply(env->st_ht, st_detach, NULL);
		cf_hash_flush(env->st_ht, true);
	}
	if (env->ct_ht) {
		cf_hash_apply(env->ct_ht, ct_detach, NULL);
		cf_hash_flush(env->ct_ht, true);
	}
	cf_tmr_cancel(&env->reaper);
	cf_list_flush(&env->dead, true);
	cf_mem_deref(env->st_ht);
	cf_mem_deref(env->ct_ht);
	cf_mbuf_reset(&env->tmp);
	cf_mbuf_reset(&env->via);
}

/*
 * Create the transaction environment of one worker thread. wheel (not
 * owned; must outlive the env) drives every timer; send puts bytes on the
 * wire. cfg gives T1/T2/T4 (0 = RFC 3261 default). The caller owns the
 * returned reference; dropping it terminates every transaction.
 * Returns EINVAL or ENOMEM.
 */
int cf_sip_txn_env_alloc(struct cf_sip_txn_env **envp,
                         const struct cf_sip_cfg *cfg,
                         struct cf_tmr_wheel *wheel, cf_sip_send_h *send,
                         void *send_arg)
{
	struct cf_sip_txn_env *env;
	int err = 0;

	if (!envp || !wheel || !send)
		return EINVAL;

	env = cf_mem_zalloc(sizeof(*env), env_destroy);
	if (!env)
		return ENOMEM;

	if (cfg)
		env->cfg = *cfg;
	if (!env->cfg.t1_ms)
		env->cfg.t1_ms = 500;
	if (!env->cfg.t2_ms)
		env->cfg.t2_ms = 4000;
	if (!env->cfg.t4_ms)
		env->cfg.t4_ms = 5000;
	env->wheel = wheel;
	env->send = send;
	env->send_arg = send_arg;
	cf_list_init(&env->dead);
	cf_mbuf_init(&env->tmp);
	cf_mbuf_init(&env->via);
	cf_tmr_init(&env->reaper);
	cf_sip_rand_token(env->seed, CF_SIP_TAG_LEN);

	err = cf_hash_alloc(&env->st_ht, CF_SIP_ST_BUCKETS);
	if (err)
		goto out;
	err = cf_hash_alloc(&env->ct_ht, CF_SIP_CT_BUCKETS);
	if (err)
		goto out;

out:
	if (err)
		env = cf_mem_deref(env);
	*envp = env;
	return err;
}

/* Live (non-terminated) transactions, server and client. O(1). */
size_t cf_sip_txn_env_count(const struct cf_sip_txn_env *env)
{
	if (!env)
		return 0;

	return cf_hash_count(env->st_ht) + cf_hash_count(env->ct_ht);
}

/* Transactions still waiting for their final response: server ones that
 * have not sent it, client ones that have not received it (or timed out).
 * The others only wait out Timer J/I/K/D/H/L/M to absorb retransmissions.
 * cf_sip_stop waits on this (published by each worker). O(1). */
size_t cf_sip_txn_env_pending(const struct cf_sip_txn_env *env)
{
	return env ? env->pending : 0;
}

void cf_sip_txn_env_stats(const struct cf_sip_txn_env *env,
                          struct cf_sip_txn_stats *st)
{
	if (!env || !st)
		return;

	*st = env->stats;
}

/* The env whose cf_sip_txn_recv runs on this thread (handlers that get no
 * transaction, such as an ACK for a 2xx or a stray response, find it here). */
static _Thread_local struct cf_sip_txn_env *cur_env;

static void txn_recv(struct cf_sip_txn_env *env,
                     const struct cf_sip_txn_handlers *h,
                     struct cf_sip_msg *msg, const struct cf_sip_peer *peer);

/* A message decode flagged (RFC 3261 §8.2, §16.3 checks done in the
 * parser): requests are answered statelessly with the fault when a response
 * can be routed (never ACK, §17.1.1.3), responses dropped. One log line. */
static void recv_fault(struct cf_sip_txn_env *env, struct cf_sip_msg *msg,
                       const struct cf_sip_peer *peer)
{
	const char *reason = msg->fault.reason ? msg->fault.reason
	                                       : cf_sip_reason(msg->fault.code);
	int err;

	if (!msg->req) {
		++env->stats.bad_responses;
		cf_log(CF_LOG_NOTICE, &msg->call_id, "response dropped: %s",
		       reason);
		return;
	}

	++env->stats.bad_requests;
	if (!msg->respondable || !msg->fault.code || msg->mid == CF_SIP_M_ACK) {
		cf_log(CF_LOG_NOTICE, &msg->call_id, "request dropped: %s",
		       reason);
		return;
	}

	err =
	    cf_sip_txn_reply_stateless(env, msg, peer, msg->fault.code, reason);
	cf_log(CF_LOG_NOTICE, &msg->call_id, "request refused: %u %s%s",
	       msg->fault.code, reason, err ? " (not sent)" : "");
}

/*
 * Entry point for every decoded message of this worker (called by the
 * transport/stack, and by unit tests directly). msg stays owned by the
 * caller; transactions take their own references. See sip.h.
 */
void cf_sip_txn_recv(struct cf_sip_txn_env *env,
                     const struct cf_sip_txn_handlers *h,
                     struct cf_sip_msg *msg, const struct cf_sip_peer *peer)
{
	struct cf_sip_txn_env *prev = cur_env;

	if (!env || !h || !msg || !peer)
		return;

	cur_env = env;
	txn_recv(env, h, msg, peer);
	cur_env = prev;
}

struct cf_sip_txn_env *cf_sip_txn_env_current(void)
{
	return cur_env;
}

struct cf_tmr_wheel *cf_sip_txn_env_wheel(const struct cf_sip_txn_env *env)
{
	return env ? env->wheel : NULL;
}

const struct cf_sip_cfg *cf_sip_txn_env_cfg(const struct cf_sip_txn_env *env)
{
	return env ? &env->cfg : NULL;
}

int cf_sip_txn_env_send(struct cf_sip_txn_env *env,
                        const struct cf_sip_peer *peer,
                        const struct cf_pl *bytes)
{
	if (!env || !peer || !bytes)
		return EINVAL;
	return cf_sip_txn_send(env, peer, bytes);
}

static void txn_recv(struct cf_sip_txn_env *env,
                     const struct cf_sip_txn_handlers *h,
                     struct cf_sip_msg *msg, const struct cf_sip_peer *peer)
{

	if (msg->fault.code || msg->fault.reason) {
		recv_fault(env, msg, peer);
		return;
	}

	if (msg->req) {
		++env->stats.requests;
		cf_sip_strans_recv(env, h, msg, peer);
	} else {
		++env->stats.responses;
		cf_sip_ctrans_recv(env, h, msg, peer);
	}
}
