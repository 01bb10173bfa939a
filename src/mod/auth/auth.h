/* SPDX-License-Identifier: BSD-3-Clause */
/* auth.h - the auth module's API for other modules: digest authentication
 * of requests (RFC 3261 §22, RFC 7616, RFC 8760), the credentials cache,
 * and protection (failed-auth lockout, per-source rate limit, bans). */
#ifndef CF_MOD_AUTH_H
#define CF_MOD_AUTH_H

#include "mod/mod.h"
#include "store/store.h"

/* Who a request was authenticated as. */
struct cf_auth_id {
	char user[CF_STORE_USER_MAX + 1];
	char domain[CF_STORE_DOMAIN_MAX + 1];
};

enum cf_auth_verdict {
	CF_AUTH_PASS = 0, /* authenticated; id filled */
	CF_AUTH_ANSWERED, /* a response was sent on st (401/407 challenge,
	                   * 403 identity mismatch or lockout, 503 with
	                   * Retry-After, 400 bad credentials); stop here */
};

/* Found with cf_mod_find("auth")->api. */
struct cf_auth_api {
	/*
	 * Worker thread. Authenticate msg for `domain` (its realm): verify
	 * the Authorization (or, when proxy, Proxy-Authorization) credentials
	 * against the cached HA1s, refuse replayed nonce-counts and stale
	 * nonces (stale=true), check the identity rule (authenticated user
	 * must equal the From user, and for REGISTER the To user, unless
	 * configured otherwise), count failures per source and per user.
	 * Challenges carry one header per algorithm in the domain's order.
	 * Never blocks on the store.
	 */
	enum cf_auth_verdict (*check)(struct cf_app *app,
	                              struct cf_sip_strans *st,
	                              const struct cf_sip_msg *msg,
	                              const struct cf_sip_peer *peer,
	                              const char *domain, bool proxy,
	                              struct cf_auth_id *id);
	/* Does this method need authentication (configuration)? */
	bool (*method_needs_auth)(struct cf_app *app, enum cf_sip_method m);
	/* Is user@domain a known subscriber / a served domain (cache)? Any
	 * thread. */
	bool (*user_exists)(struct cf_app *app, const struct cf_pl *user,
	                    const struct cf_pl *domain);
	bool (*domain_exists)(struct cf_app *app, const struct cf_pl *domain);
	/* Main thread, after a provisioning change in the store: refresh the
	 * cache entry of user@domain (removed when the store has none). */
	void (*user_changed)(struct cf_app *app, const char *user,
	                     const char *domain);
	/* Main thread: a domain was added or removed in the store. */
	void (*domain_changed)(struct cf_app *app, const char *domain);
	/* Main thread, after a bulk change (confabctl user import: 100,000
	 * rows at once): re-read every domain and subscriber from the store
	 * (cf_app_store). 0 or an errno. NULL: `user reload` falls back to
	 * user_changed for every subscriber. Added by the ctl branch. */
	int (*reload)(struct cf_app *app);
};

#endif
