/* SPDX-License-Identifier: BSD-3-Clause */
/* auth_int.h - what the files of the auth module share: live settings,
 * counters, the credentials cache (creds.c) and protection (guard.c). */
#ifndef CF_MOD_AUTH_INT_H
#define CF_MOD_AUTH_INT_H

#include <stdatomic.h>

#include "auth.h"
#include "auth_mod.h"

enum {
	AUTH_STRIPES = 64, /* lock stripes of each table (a power of two) */
	AUTH_SECRET_MAX = 64,
	AUTH_CIDR_MAX = 64,   /* entries of [security] allow / deny each */
	AUTH_AGENTS_MAX = 16, /* [auth] md5_only_agents */
	AUTH_AGENT_LEN = 63,
};

enum auth_unknown {
	AUTH_UNKNOWN_CHALLENGE = 0, /* like a wrong password (default) */
	AUTH_UNKNOWN_403,
	AUTH_UNKNOWN_404,
};

/* Counters shown by `confabctl security show` (relaxed atomics). */
struct auth_counters {
	atomic_uint_fast64_t requests;       /* seen by the gate */
	atomic_uint_fast64_t allowed;        /* allow list: not limited */
	atomic_uint_fast64_t denied;         /* deny list */
	atomic_uint_fast64_t rate_limited;   /* over the rate: a ban began */
	atomic_uint_fast64_t banned_refused; /* refused while banned */
	atomic_uint_fast64_t untracked;      /* source table full: let by */
	atomic_uint_fast64_t challenges;     /* 401/407 sent */
	atomic_uint_fast64_t stale;          /* of which stale=true */
	atomic_uint_fast64_t auth_ok;
	atomic_uint_fast64_t auth_failed;       /* wrong response */
	atomic_uint_fast64_t unknown_user;      /* credentials, no such user */
	atomic_uint_fast64_t bad_nonce;         /* not ours / altered */
	atomic_uint_fast64_t replays;           /* nonce-count not increasing */
	atomic_uint_fast64_t bad_credentials;   /* 400 */
	atomic_uint_fast64_t identity_mismatch; /* 403 */
	atomic_uint_fast64_t uri_mismatch;      /* logged, accepted */
	atomic_uint_fast64_t lockouts;          /* source lockouts begun */
	atomic_uint_fast64_t user_lockouts;     /* user lockouts begun */
	atomic_uint_fast64_t locked_refused;    /* refused while locked */
};

/* Settings read by workers: each an atomic scalar, written by init and
 * reload on the main thread. */
struct auth_settings {
	atomic_uint methods;    /* bit 1 << enum cf_sip_method */
	atomic_uint algs;       /* packed order: see auth_algs_* */
	atomic_uint nonce_life; /* s */
	atomic_bool check_identity;
	atomic_int unknown_user; /* enum auth_unknown */
	atomic_uint rate;        /* requests/s per source; 0: no limit */
	atomic_uint burst;
	atomic_uint ban_time; /* s */
	atomic_bool ban_drop; /* drop instead of 503 */
	atomic_uint fail_max; /* per source; 0: off */
	atomic_uint user_fail_max;
	atomic_uint fail_window;  /* s */
	atomic_uint lockout_time; /* s */
	atomic_uint lockout_code; /* 403 or 503 */
};

extern struct auth_settings auth_set;
extern struct auth_counters auth_cnt;

#define AUTH_INC(f)                                                            \
	atomic_fetch_add_explicit(&auth_cnt.f, 1, memory_order_relaxed)
#define AUTH_GET(f) atomic_load_explicit(&auth_set.f, memory_order_relaxed)

/* The module's clocks: wall ms (nonces) and monotonic ms (protection);
 * both read the fake clock when a test set one. */
uint64_t auth_wall_ms(void);
uint64_t auth_mono_ms(void);

/* Algorithm orders packed into an unsigned: count in bits 0-3, the i-th
 * algorithm in bits 4+4i. */
unsigned auth_algs_pack(const enum cf_digest_alg *v, size_t n);
size_t auth_algs_unpack(unsigned packed, enum cf_digest_alg *v);
/* "SHA-256,MD5" (names of cf_digest_alg_name, no -sess; blanks ignored)
 * to a packed order. EINVAL for an unknown or repeated name or none. */
int auth_algs_decode(const char *s, unsigned *packed);

/* ------------------------------------------- check.c: digest, nonces */

/* Main thread, at init: the nonce secret (CF_DIGEST_SECRET_MIN ..
 * AUTH_SECRET_MAX bytes), the nonce-count slots (rounded up to a power
 * of two, at least 1024) and the first salt. EINVAL, ENOMEM. */
int auth_nonce_init(const uint8_t *secret, size_t len, uint32_t slots,
                    uint64_t salt0);
void auth_nonce_close(void);
/* Main thread, at init: the User-Agent substrings offered MD5 alone.
 * EINVAL: too many or too long. */
int auth_agents_set(const char *const *v, size_t n);
size_t auth_nonce_slots(void);
/* Answer what the module refuses or challenges: a non-INVITE request
 * statelessly (cf_sip_strans_reply_stateless: no 32 s of Timer J state per
 * challenge or per refused request of a flood; a retransmission is simply
 * answered again, with a fresh nonce), an INVITE through its transaction
 * (the ACK of the non-2xx must be absorbed). A bare 500 when the response
 * cannot be built. reason NULL: the default phrase. */
int auth_reply(struct cf_sip_strans *st, const struct cf_sip_msg *msg,
               uint16_t code, const char *reason, const char *hdrs);
/* The api's check (auth.h). */
enum cf_auth_verdict auth_check(struct cf_app *app, struct cf_sip_strans *st,
                                const struct cf_sip_msg *msg,
                                const struct cf_sip_peer *peer,
                                const char *domain, bool proxy,
                                struct cf_auth_id *id);

/* ------------------------------------------------- creds.c: the cache */

int auth_creds_init(void);
void auth_creds_close(void);
/* Main thread: read every domain and subscriber of the store. */
int auth_creds_load(struct cf_store *st);
int auth_creds_user_put(
    const char *user, const char *domain,
    const char ha1[CF_DIGEST_ALG_COUNT][CF_DIGEST_HEX_SIZE]);
void auth_creds_user_del(const char *user, const char *domain);
/* Copy the HA1 of alg for user@domain into ha1 (CF_DIGEST_HEX_SIZE);
 * false when the user is unknown. ha1 may be NULL (existence). */
bool auth_creds_user_get(const struct cf_pl *user, const struct cf_pl *domain,
                         enum cf_digest_alg alg, char *ha1);
/* algs NULL/"": the configured order. */
int auth_creds_domain_put(const char *name, const char *realm,
                          const char *algs);
/* Remove the domain and the cached users of it. */
void auth_creds_domain_del(const char *name);
/* The realm (into realm[CF_STORE_REALM_MAX + 1]) and packed algorithm
 * order (0: the configured one) of a cached domain; false if unknown.
 * Both outputs may be NULL. */
bool auth_creds_domain_get(const struct cf_pl *name, char *realm,
                           unsigned *algs);
size_t auth_creds_users(void);
size_t auth_creds_domains(void);

/* ----------------------------------------------- guard.c: protection */

struct cf_sa;

enum auth_gate {
	AUTH_GATE_PASS = 0,
	AUTH_GATE_ALLOWED, /* allow list: pass, never limited */
	AUTH_GATE_DENIED,  /* deny list */
	AUTH_GATE_BANNED,  /* banned (now or before); *retry_s set */
};

int auth_guard_init(uint32_t max_sources);
void auth_guard_close(void);
/* Parse one CIDR ("10.0.0.0/8", "::1", "2001:db8::/32") into the allow
 * (deny false) or deny list. Main thread, at init. EINVAL, ENOMEM. */
int auth_guard_cidr_add(const char *cidr, bool deny);
void auth_guard_cidr_clear(void);
bool auth_guard_allowed(const struct cf_sa *a);
/* Worker: the per-source gate (deny, ban, token bucket). */
enum auth_gate auth_guard_request(const struct cf_sa *a, uint32_t *retry_s);
/* Is the source or the user locked out? *retry_s: seconds left. user may
 * be NULL (source only). */
bool auth_guard_locked(const struct cf_sa *a, const struct cf_pl *user,
                       const struct cf_pl *domain, uint32_t *retry_s);
/* Count a failed authentication; true when it began a lockout (of the
 * source or the user), *retry_s then set. */
bool auth_guard_fail(const struct cf_sa *a, const struct cf_pl *user,
                     const struct cf_pl *domain, uint32_t *retry_s);
/* A success: the user's failure count starts again. */
void auth_guard_user_ok(const struct cf_pl *user, const struct cf_pl *domain);
/* Control: ban for secs (0: until removed); lift a ban and a lockout. */
int auth_guard_ban_add(const struct cf_sa *a, uint32_t secs);
int auth_guard_ban_remove(const struct cf_sa *a);
/* Append {"address","until","left","reason"} objects for every banned or
 * locked source, and locked users. */
void auth_guard_list(json_t *bans, json_t *users);
void auth_guard_stats(json_t *o);
/* Drop idle entries now (tests; workers do it as they go). */
void auth_guard_sweep(void);

#endif
