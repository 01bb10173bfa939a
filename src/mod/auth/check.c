/* SPDX-License-Identifier: BSD-3-Clause */
/* check.c - digest authentication of a request (RFC 3261 §22, RFC 7616,
 * RFC 8760): challenges with one header per algorithm, stateless nonces,
 * nonce-count replay refusal, the identity rule, failure counting. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth_int.h"

/*
 * Nonce-count tracking without a table that grows with the load: the salt
 * of every nonce we make is a counter s, and slot s mod N of a fixed array
 * holds (generation s / N, highest nc seen) in one 64-bit atomic word. A
 * challenge resets its slot; a verified response must carry the slot's
 * generation (else the slot went to a newer nonce: stale=true, the client
 * answers a fresh challenge) and an nc above the one seen (else replay).
 * No lock: a compare-and-swap per authenticated request.
 */
static struct {
	_Atomic uint64_t *slots;
	unsigned shift; /* log2 N */
	_Atomic uint64_t next;
	uint8_t secret[AUTH_SECRET_MAX];
	size_t secret_len;
} nc;

int auth_nonce_init(const uint8_t *secret, size_t len, uint32_t slots,
                    uint64_t salt0)
{
	unsigned shift = 10;

	auth_nonce_close();
	if (!secret || len < CF_DIGEST_SECRET_MIN || len > AUTH_SECRET_MAX)
		return EINVAL;
	while (shift < 31 && (1u << shift) < slots)
		shift++;
	nc.slots = calloc((size_t)1 << shift, sizeof(*nc.slots));
	if (!nc.slots)
		return ENOMEM;
	nc.shift = shift;
	memcpy(nc.secret, secret, len);
	nc.secret_len = len;
	atomic_store(&nc.next, salt0);
	return 0;
}

void auth_nonce_close(void)
{
	free(nc.slots);
	nc.slots = NULL;
	memset(nc.secret, 0, sizeof(nc.secret));
	nc.secret_len = 0;
}

size_t auth_nonce_slots(void)
{
	return nc.slots ? (size_t)1 << nc.shift : 0;
}

static int nonce_make(const char *realm, char *out)
{
	uint64_t s =
	    atomic_fetch_add_explicit(&nc.next, 1, memory_order_relaxed);
	uint64_t mask = ((uint64_t)1 << nc.shift) - 1;
	struct cf_pl r;

	cf_pl_set_str(&r, realm);
	atomic_store_explicit(&nc.slots[s & mask], (s >> nc.shift) << 32,
	                      memory_order_relaxed);
	return cf_digest_nonce_make(nc.secret, nc.secret_len, &r,
	                            auth_wall_ms() / 1000, s, out);
}

static const char b64url[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* The salt (bytes 8..15) of a nonce that cf_digest_nonce_check passed. */
static uint64_t nonce_salt(const struct cf_pl *nonce)
{
	uint8_t raw[18];
	uint64_t s = 0;

	for (size_t i = 0, o = 0; i + 4 <= 24; i += 4) {
		uint32_t v = 0;

		for (size_t k = 0; k < 4; k++) {
			const char *x = memchr(b64url, nonce->p[i + k], 64);

			v = v << 6 | (x ? (uint32_t)(x - b64url) : 0);
		}
		raw[o++] = v >> 16;
		raw[o++] = v >> 8;
		raw[o++] = v;
	}
	for (size_t i = 8; i < 16; i++)
		s = s << 8 | raw[i];
	return s;
}

enum nc_verdict { NC_OK, NC_REPLAY, NC_GONE };

static enum nc_verdict nonce_use(const struct cf_pl *nonce, uint32_t count)
{
	uint64_t s = nonce_salt(nonce);
	uint64_t mask = ((uint64_t)1 << nc.shift) - 1;
	_Atomic uint64_t *slot = &nc.slots[s & mask];
	uint64_t gen = (s >> nc.shift) & 0xffffffffu;
	uint64_t cur = atomic_load_explicit(slot, memory_order_relaxed);

	for (int i = 0; i < 16; i++) {
		if (cur >> 32 != gen)
			return NC_GONE;
		if (count <= (uint32_t)cur)
			return NC_REPLAY;
		if (atomic_compare_exchange_weak(slot, &cur, gen << 32 | count))
			return NC_OK;
	}
	return NC_REPLAY; /* contended: the other use won */
}

/* ------------------------------------------------------ MD5-only agents */

/*
 * Clients that fail on a challenge as soon as ONE of its headers names an
 * algorithm other than MD5: libre 1.x (Debian's baresip 1.0) answers the
 * whole 401 with ENOSYS, whatever the order; later libre versions do the
 * same for SHA-512-256. They are recognised by a User-Agent substring
 * ([auth] md5_only_agents) and offered MD5 alone. Set at init (main
 * thread, before the workers), then only read.
 */
static struct {
	char v[AUTH_AGENTS_MAX][AUTH_AGENT_LEN + 1];
	size_t n;
} agents;

int auth_agents_set(const char *const *v, size_t n)
{
	agents.n = 0;
	for (size_t i = 0; i < n; i++) {
		if (agents.n >= AUTH_AGENTS_MAX || !*v[i] ||
		    strlen(v[i]) > AUTH_AGENT_LEN)
			return EINVAL;
		snprintf(agents.v[agents.n++], AUTH_AGENT_LEN + 1, "%s", v[i]);
	}
	return 0;
}

static bool pl_contains_ci(const struct cf_pl *hay, const char *needle)
{
	size_t n = strlen(needle);

	for (size_t i = 0; n && i + n <= hay->l; i++) {
		if (!strncasecmp(hay->p + i, needle, n))
			return true;
	}
	return false;
}

static bool md5_only(const struct cf_sip_msg *msg,
                     const enum cf_digest_alg *algs, size_t nalgs)
{
	const struct cf_sip_hdr *ua;
	bool md5 = false;

	if (!agents.n || nalgs < 2)
		return false;
	for (size_t i = 0; i < nalgs; i++)
		md5 |= algs[i] == CF_DIGEST_MD5;
	if (!md5)
		return false;
	ua = cf_sip_msg_hdr(msg, CF_SIP_H_USER_AGENT);
	for (size_t i = 0; ua && i < agents.n; i++) {
		if (pl_contains_ci(&ua->val, agents.v[i]))
			return true;
	}
	return false;
}

/* ------------------------------------------------------------ answers */

struct ctx {
	struct cf_app *app;
	struct cf_sip_strans *st;
	const struct cf_sip_msg *msg;
	const struct cf_sip_peer *peer;
	struct cf_pl domain;
	char realm[CF_STORE_REALM_MAX + 1];
	enum cf_digest_alg algs[CF_DIGEST_ALG_COUNT];
	size_t nalgs;
	bool proxy;
};

static void logline(const struct ctx *c, enum cf_log_level lvl, unsigned code,
                    const char *why)
{
	char addr[64];

	cf_log(lvl, &c->msg->call_id, "%.*s %.*s from %s %s: %u %s",
	       (int)c->msg->method.l, c->msg->method.p, (int)c->msg->ruri_pl.l,
	       c->msg->ruri_pl.p, cf_sip_tp_name(c->peer->tp),
	       cf_sa_print(&c->peer->addr, addr, sizeof(addr)), code, why);
}

/* See auth_int.h. */
int auth_reply(struct cf_sip_strans *st, const struct cf_sip_msg *msg,
               uint16_t code, const char *reason, const char *hdrs)
{
	bool invite = msg->mid == CF_SIP_M_INVITE;
	int err;

	if (!reason)
		reason = cf_sip_reason(code);
	err = invite
	          ? cf_sip_strans_reply(st, code, reason, hdrs, NULL)
	          : cf_sip_strans_reply_stateless(st, code, reason, hdrs, NULL);
	if (err == ENOMEM)
		(void)(invite ? cf_sip_strans_reply(st, 500, cf_sip_reason(500),
		                                    NULL, NULL)
		              : cf_sip_strans_reply_stateless(
		                    st, 500, cf_sip_reason(500), NULL, NULL));
	return err;
}

static enum cf_auth_verdict reply(const struct ctx *c, uint16_t code,
                                  const char *reason, const char *hdrs,
                                  enum cf_log_level lvl, const char *why)
{
	(void)auth_reply(c->st, c->msg, code, reason, hdrs);
	logline(c, lvl, code, why);
	return CF_AUTH_ANSWERED;
}

static enum cf_auth_verdict challenge(const struct ctx *c, bool stale,
                                      const char *why)
{
	char nonce[CF_DIGEST_NONCE_SIZE];
	struct cf_mbuf mb;
	const char *name =
	    c->proxy ? "Proxy-Authenticate: " : "WWW-Authenticate: ";
	int err;

	cf_mbuf_init(&mb);
	err = nonce_make(c->realm, nonce);
	for (size_t i = 0; !err && i < c->nalgs; i++) {
		struct cf_digest_chal ch = {
		    .realm = c->realm,
		    .nonce = nonce,
		    .alg = c->algs[i],
		    .qop_auth = true,
		    .stale = stale,
		};

		err = cf_mbuf_write_str(&mb, name);
		err = err ? err : cf_digest_chal_encode(&mb, &ch);
		err = err ? err : cf_mbuf_write_str(&mb, "\r\n");
	}
	err = err ? err : cf_mbuf_write_u8(&mb, 0);
	if (err) {
		cf_mbuf_reset(&mb);
		return reply(c, 500, NULL, NULL, CF_LOG_WARN,
		             "challenge not built");
	}
	AUTH_INC(challenges);
	if (stale)
		AUTH_INC(stale);
	reply(c, c->proxy ? 407 : 401, NULL, (const char *)mb.buf, CF_LOG_DEBUG,
	      why);
	cf_mbuf_reset(&mb);
	return CF_AUTH_ANSWERED;
}

static enum cf_auth_verdict locked(const struct ctx *c, uint32_t retry_s)
{
	char hdr[48];

	if (AUTH_GET(lockout_code) == 503) {
		snprintf(hdr, sizeof(hdr), "Retry-After: %u\r\n", retry_s);
		return reply(c, 503, NULL, hdr, CF_LOG_INFO,
		             "locked out (failed authentications)");
	}
	return reply(c, 403, "Too many failed authentications", NULL,
	             CF_LOG_INFO, "locked out (failed authentications)");
}

/* A failed authentication: counted; a lockout it begins is answered. */
static enum cf_auth_verdict failed(const struct ctx *c,
                                   const struct cf_pl *user, const char *why)
{
	uint32_t retry = 0;

	if (auth_guard_fail(&c->peer->addr, user, &c->domain, &retry))
		return locked(c, retry);
	return challenge(c, false, why);
}

/* ------------------------------------------------------- credentials */

struct pick {
	const char *realm;
	struct cf_digest_cred cred;
	bool found, bad;
};

static bool pick_h(const struct cf_sip_hdr *hdr, void *arg)
{
	struct pick *p = arg;
	struct cf_digest_cred cred;
	char rbuf[CF_STORE_REALM_MAX + 1];
	struct cf_pl realm;

	if (cf_digest_cred_decode(&cred, &hdr->val)) {
		p->bad = true;
		return false;
	}
	if (cf_digest_unescape(&cred.realm, rbuf, sizeof(rbuf), &realm) ||
	    cf_pl_strcmp(&realm, p->realm))
		return false; /* for another realm (§22.4) */
	p->cred = cred;
	p->found = true;
	return true;
}

/* §22.4: the credentials whose realm is ours, among all the headers. */
static void pick(const struct cf_sip_msg *msg, bool proxy, struct pick *p)
{
	enum cf_sip_hdr_id id =
	    proxy ? CF_SIP_H_PROXY_AUTHORIZATION : CF_SIP_H_AUTHORIZATION;

	for (size_t i = 0; i < msg->hdrc; i++) {
		if (msg->hdrv[i].id == id && pick_h(&msg->hdrv[i], p))
			return;
	}
}

static bool alg_offered(const struct ctx *c, enum cf_digest_alg a)
{
	for (size_t i = 0; i < c->nalgs; i++) {
		if (c->algs[i] == a)
			return true;
	}
	return false;
}

static void uri_compare(const struct ctx *c, const struct cf_pl *uri)
{
	struct cf_sip_uri u;
	char addr[64];

	if (!cf_sip_uri_decode(&u, uri) && !cf_sip_uri_cmp(&u, &c->msg->ruri))
		return;
	AUTH_INC(uri_mismatch);
	cf_log(CF_LOG_INFO, &c->msg->call_id,
	       "auth: digest uri %.*s differs from the Request-URI %.*s "
	       "(from %s): accepted",
	       (int)uri->l, uri->p, (int)c->msg->ruri_pl.l, c->msg->ruri_pl.p,
	       cf_sa_print(&c->peer->addr, addr, sizeof(addr)));
}

static enum cf_auth_verdict unknown_user(const struct ctx *c,
                                         const struct cf_pl *user)
{
	AUTH_INC(unknown_user);
	switch (AUTH_GET(unknown_user)) {
	case AUTH_UNKNOWN_403:
		(void)auth_guard_fail(&c->peer->addr, NULL, NULL,
		                      &(uint32_t){0});
		return reply(c, 403, NULL, NULL, CF_LOG_INFO, "unknown user");
	case AUTH_UNKNOWN_404:
		(void)auth_guard_fail(&c->peer->addr, NULL, NULL,
		                      &(uint32_t){0});
		return reply(c, 404, "User unknown", NULL, CF_LOG_INFO,
		             "unknown user");
	default:
		/* exactly what a wrong password gets: no user enumeration */
		return failed(c, user, "unknown user");
	}
}

enum cf_auth_verdict auth_check(struct cf_app *app, struct cf_sip_strans *st,
                                const struct cf_sip_msg *msg,
                                const struct cf_sip_peer *peer,
                                const char *domain, bool proxy,
                                struct cf_auth_id *id)
{
	struct ctx c = {app, st, msg, peer, .proxy = proxy};
	struct pick p = {0};
	char ubuf[CF_STORE_USER_MAX + 1], ha1[CF_DIGEST_HEX_SIZE];
	struct cf_pl user, method;
	enum cf_digest_nonce_verdict nv;
	uint32_t retry = 0;
	unsigned algs = 0;

	if (!st || !msg || !peer || !id)
		return CF_AUTH_ANSWERED; /* a caller bug: nothing we can do */
	if (!nc.slots) { /* the module is not initialised: never pass */
		(void)auth_reply(st, msg, 500, NULL, NULL);
		return CF_AUTH_ANSWERED;
	}
	if (!domain || !*domain)
		domain = cf_app_domain(app);
	cf_pl_set_str(&c.domain, domain);
	if (!auth_creds_domain_get(&c.domain, c.realm, &algs))
		snprintf(c.realm, sizeof(c.realm), "%s", domain);
	c.nalgs = auth_algs_unpack(algs ? algs : AUTH_GET(algs), c.algs);
	if (md5_only(msg, c.algs, c.nalgs)) {
		c.algs[0] = CF_DIGEST_MD5;
		c.nalgs = 1;
	}

	if (auth_guard_locked(&peer->addr, NULL, NULL, &retry))
		return locked(&c, retry);

	p.realm = c.realm;
	pick(msg, proxy, &p);
	if (!p.found) {
		if (p.bad) {
			AUTH_INC(bad_credentials);
			return reply(&c, 400, "Bad credentials", NULL,
			             CF_LOG_INFO, "malformed credentials");
		}
		return challenge(&c, false, "no credentials");
	}

	/* what we did not offer: a fresh challenge */
	if (!p.cred.alg_known || p.cred.sess || p.cred.userhash_true ||
	    !cf_pl_isset(&p.cred.username) || !alg_offered(&c, p.cred.alg) ||
	    (cf_pl_isset(&p.cred.qop) && cf_pl_strcasecmp(&p.cred.qop, "auth")))
		return challenge(&c, false, "credentials not as offered");
	if (cf_digest_unescape(&p.cred.username, ubuf, sizeof(ubuf), &user) ||
	    !user.l)
		return challenge(&c, false, "user name too long");

	nv = cf_digest_nonce_check(
	    nc.secret, nc.secret_len, &(struct cf_pl){c.realm, strlen(c.realm)},
	    &p.cred.nonce, auth_wall_ms() / 1000, AUTH_GET(nonce_life), NULL);
	if (nv == CF_DIGEST_NONCE_BAD) {
		AUTH_INC(bad_nonce);
		return challenge(&c, false, "nonce not ours");
	}

	if (auth_guard_locked(NULL, &user, &c.domain, &retry))
		return locked(&c, retry);
	if (!auth_creds_user_get(&user, &c.domain, p.cred.alg, ha1))
		return unknown_user(&c, &user);

	method = msg->method;
	if (!cf_digest_cred_verify(&p.cred, &method, ha1)) {
		AUTH_INC(auth_failed);
		return failed(&c, &user, "wrong credentials");
	}
	if (nv == CF_DIGEST_NONCE_STALE)
		return challenge(&c, true, "nonce expired");
	switch (nonce_use(&p.cred.nonce,
	                  cf_pl_isset(&p.cred.qop) ? p.cred.nc_val : 1)) {
	case NC_GONE:
		return challenge(&c, true, "nonce superseded");
	case NC_REPLAY:
		AUTH_INC(replays);
		return challenge(&c, false, "nonce-count replayed");
	case NC_OK:
		break;
	}
	uri_compare(&c, &p.cred.uri);

	if (AUTH_GET(check_identity) &&
	    (cf_pl_cmp(&msg->from.uri.user, &user) ||
	     (msg->mid == CF_SIP_M_REGISTER &&
	      cf_pl_cmp(&msg->to.uri.user, &user)))) {
		AUTH_INC(identity_mismatch);
		return reply(&c, 403, "Identity mismatch", NULL, CF_LOG_INFO,
		             "identity mismatch");
	}

	auth_guard_user_ok(&user, &c.domain);
	AUTH_INC(auth_ok);
	memcpy(id->user, user.p, user.l);
	id->user[user.l] = '\0';
	snprintf(id->domain, sizeof(id->domain), "%s", domain);
	return CF_AUTH_PASS;
}
