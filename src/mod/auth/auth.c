/* SPDX-License-Identifier: BSD-3-Clause */
/* auth.c - the auth module: its configuration keys, init/stop/reload, the
 * gate every request meets first (deny list, bans, per-source rate
 * limit), and the API other modules call (auth.h). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>

#include "auth_int.h"

struct auth_settings auth_set;
struct auth_counters auth_cnt;

static const uint64_t *fake_now;

void cf_mod_auth_set_clock(const uint64_t *now_ms)
{
	fake_now = now_ms;
}

void cf_mod_auth_sweep(void)
{
	auth_guard_sweep();
}

uint64_t auth_wall_ms(void)
{
	return fake_now ? *fake_now : cf_clock_wall_ms();
}

uint64_t auth_mono_ms(void)
{
	return fake_now ? *fake_now : cf_clock_ms();
}

/* ------------------------------------------------------- algorithms */

unsigned auth_algs_pack(const enum cf_digest_alg *v, size_t n)
{
	unsigned p = n;

	for (size_t i = 0; i < n && i < CF_DIGEST_ALG_COUNT; i++)
		p |= (unsigned)v[i] << (4 + 4 * i);
	return p;
}

size_t auth_algs_unpack(unsigned p, enum cf_digest_alg *v)
{
	size_t n = p & 15;

	if (n > CF_DIGEST_ALG_COUNT)
		n = CF_DIGEST_ALG_COUNT;
	for (size_t i = 0; i < n; i++)
		v[i] = (p >> (4 + 4 * i)) & 15;
	return n;
}

struct algs_dec {
	enum cf_digest_alg v[CF_DIGEST_ALG_COUNT];
	size_t n;
	int err;
};

static bool alg_item(const char *s, void *arg)
{
	struct algs_dec *d = arg;
	struct cf_pl pl;
	enum cf_digest_alg a;
	bool sess;

	cf_pl_set_str(&pl, s);
	cf_pl_trim(&pl);
	if (!pl.l)
		return false;
	if (cf_digest_alg_decode(&pl, &a, &sess) || sess ||
	    d->n >= CF_DIGEST_ALG_COUNT) {
		d->err = EINVAL;
		return true;
	}
	for (size_t i = 0; i < d->n; i++) {
		if (d->v[i] == a) {
			d->err = EINVAL;
			return true;
		}
	}
	d->v[d->n++] = a;
	return false;
}

int auth_algs_decode(const char *s, unsigned *packed)
{
	struct algs_dec d = {.n = 0};
	char buf[CF_STORE_ALGS_MAX + 1];
	char *save = NULL, *tok;

	if (!s || strlen(s) >= sizeof(buf))
		return EINVAL;
	snprintf(buf, sizeof(buf), "%s", s);
	for (tok = strtok_r(buf, ",", &save); tok && !d.err;
	     tok = strtok_r(NULL, ",", &save))
		alg_item(tok, &d);
	if (d.err || !d.n)
		return EINVAL;
	*packed = auth_algs_pack(d.v, d.n);
	return 0;
}

/* ------------------------------------------------------- settings */

struct methods_dec {
	unsigned mask;
	const char *bad;
};

static bool method_item(const char *s, void *arg)
{
	struct methods_dec *d = arg;
	struct cf_pl pl;
	enum cf_sip_method m;

	cf_pl_set_str(&pl, s);
	m = cf_sip_method_decode(&pl);
	if (m == CF_SIP_M_OTHER) {
		d->bad = s;
		return true;
	}
	d->mask |= 1u << m;
	return false;
}

/* Read the live settings from conf; EINVAL (logged) when one is bad, and
 * then nothing is changed. */
static int settings_read(const struct cf_app_conf *conf)
{
	struct methods_dec md = {0};
	struct algs_dec ad = {.n = 0};
	const char *uu = cf_app_conf_str(conf, "auth", "unknown_user");
	const char *ba = cf_app_conf_str(conf, "security", "ban_action");
	uint32_t lc = cf_app_conf_u32(conf, "security", "lockout_response");
	uint32_t burst, rate;
	int unknown;

	cf_app_conf_apply(conf, "auth", "methods", method_item, &md);
	if (md.bad) {
		cf_log(CF_LOG_ERR, NULL, "[auth] methods: unknown method '%s'",
		       md.bad);
		return EINVAL;
	}
	cf_app_conf_apply(conf, "auth", "algorithms", alg_item, &ad);
	if (ad.err || !ad.n) {
		cf_log(CF_LOG_ERR, NULL,
		       "[auth] algorithms: a list of MD5, SHA-256, "
		       "SHA-512-256, each once");
		return EINVAL;
	}
	if (!uu || !strcasecmp(uu, "challenge"))
		unknown = AUTH_UNKNOWN_CHALLENGE;
	else if (!strcmp(uu, "403"))
		unknown = AUTH_UNKNOWN_403;
	else if (!strcmp(uu, "404"))
		unknown = AUTH_UNKNOWN_404;
	else {
		cf_log(CF_LOG_ERR, NULL,
		       "[auth] unknown_user: challenge, 403 or 404");
		return EINVAL;
	}
	if (ba && strcasecmp(ba, "reply") && strcasecmp(ba, "drop")) {
		cf_log(CF_LOG_ERR, NULL,
		       "[security] ban_action: reply or drop");
		return EINVAL;
	}
	if (lc != 403 && lc != 503) {
		cf_log(CF_LOG_ERR, NULL,
		       "[security] lockout_response: 403 or "
		       "503");
		return EINVAL;
	}

	/* ACK and CANCEL are never challenged (RFC 3261 §22.1) */
	md.mask &= ~(1u << CF_SIP_M_ACK | 1u << CF_SIP_M_CANCEL);
	atomic_store(&auth_set.methods, md.mask);
	atomic_store(&auth_set.algs, auth_algs_pack(ad.v, ad.n));
	atomic_store(&auth_set.nonce_life,
	             cf_app_conf_u32(conf, "auth", "nonce_lifetime"));
	atomic_store(&auth_set.check_identity,
	             cf_app_conf_bool(conf, "auth", "check_identity"));
	atomic_store(&auth_set.unknown_user, unknown);
	/* burst 0: one second's worth of the rate */
	burst = cf_app_conf_u32(conf, "security", "burst");
	rate = cf_app_conf_u32(conf, "security", "rate");
	atomic_store(&auth_set.rate, rate);
	atomic_store(&auth_set.burst, burst ? burst : rate ? rate : 1);
	atomic_store(&auth_set.ban_time,
	             cf_app_conf_u32(conf, "security", "ban_time"));
	atomic_store(&auth_set.ban_drop, ba && !strcasecmp(ba, "drop"));
	atomic_store(&auth_set.fail_max,
	             cf_app_conf_u32(conf, "security", "fail_max"));
	atomic_store(&auth_set.user_fail_max,
	             cf_app_conf_u32(conf, "security", "user_fail_max"));
	atomic_store(&auth_set.fail_window,
	             cf_app_conf_u32(conf, "security", "fail_window"));
	atomic_store(&auth_set.lockout_time,
	             cf_app_conf_u32(conf, "security", "lockout_time"));
	atomic_store(&auth_set.lockout_code, lc);
	return 0;
}

struct cidr_ctx {
	bool deny;
	int err;
};

static bool cidr_item(const char *s, void *arg)
{
	struct cidr_ctx *c = arg;

	c->err = auth_guard_cidr_add(s, c->deny);
	if (c->err)
		cf_log(CF_LOG_ERR, NULL,
		       "[security] %s: '%s' is not ADDRESS[/BITS] (or more "
		       "than %u entries)",
		       c->deny ? "deny" : "allow", s, AUTH_CIDR_MAX);
	return c->err != 0;
}

struct agents_ctx {
	char v[AUTH_AGENTS_MAX][AUTH_AGENT_LEN + 1];
	const char *p[AUTH_AGENTS_MAX];
	size_t n;
	bool bad;
};

static bool agent_item(const char *s, void *arg)
{
	struct agents_ctx *a = arg;

	if (!strcasecmp(s, "none"))
		return false;
	if (a->n >= AUTH_AGENTS_MAX || strlen(s) > AUTH_AGENT_LEN) {
		a->bad = true;
		return true;
	}
	snprintf(a->v[a->n], sizeof(a->v[a->n]), "%s", s);
	a->p[a->n] = a->v[a->n];
	a->n++;
	return false;
}

static bool config_domain(const char *s, void *arg)
{
	int *err = arg;

	*err = auth_creds_domain_put(s, NULL, NULL);
	return *err != 0;
}

/*
 * Workers may still call in while the main thread stops the module (the
 * stack stops after the modules): every worker entry point counts itself
 * in `inflight` and backs off when `stopping` is set; stop sets it, waits
 * for the calls under way to leave, and only then frees the tables.
 * Before init, `stopping` is true: nothing is touched until it is ready.
 */
enum { STOP_WAIT_MS = 2000 };

static struct {
	atomic_bool stopping;
	atomic_uint inflight;
} live = {.stopping = true};

static bool enter(void)
{
	atomic_fetch_add(&live.inflight, 1);
	if (!atomic_load(&live.stopping))
		return true;
	atomic_fetch_sub(&live.inflight, 1);
	return false;
}

static void leave(void)
{
	atomic_fetch_sub(&live.inflight, 1);
}

/* Stop the workers' calls and free the tables (false: a call is stuck
 * inside, the tables are kept). */
static bool release(void)
{
	struct timespec ts = {0, 1000000L};
	int i;

	/* Once inflight reads 0 after `stopping` is set, every call that got
	 * in before has left; a later increment is a caller backing off
	 * (it saw `stopping`), which touches nothing. */
	atomic_store(&live.stopping, true);
	for (i = 0; i < STOP_WAIT_MS; i++) {
		if (!atomic_load(&live.inflight))
			break;
		nanosleep(&ts, NULL);
	}
	if (i == STOP_WAIT_MS) {
		/* leak rather than pull the floor from under a worker */
		cf_log(CF_LOG_WARN, NULL,
		       "auth: calls still running after %u ms at stop: tables "
		       "kept",
		       STOP_WAIT_MS);
		return false;
	}
	auth_guard_close();
	auth_creds_close();
	auth_nonce_close();
	return true;
}

static void auth_stop(struct cf_app *app)
{
	(void)app;
	if (release())
		cf_mod_auth_set_clock(NULL);
}

static int auth_init(struct cf_app *app)
{
	const struct cf_app_conf *conf = cf_app_conf(app);
	const char *secret = cf_app_conf_str(conf, "auth", "secret");
	uint8_t rnd[32];
	uint64_t salt0 = 0;
	struct cidr_ctx cc = {false, 0};
	int err;

	if (!release()) /* a second init (tests): start afresh */
		return EBUSY;
	memset(&auth_cnt, 0, sizeof(auth_cnt));

	err = settings_read(conf);
	if (err)
		return err;
	if (getrandom(&salt0, sizeof(salt0), 0) != sizeof(salt0) ||
	    getrandom(rnd, sizeof(rnd), 0) != sizeof(rnd)) {
		cf_log(CF_LOG_ERR, NULL, "auth: no random bytes: %s",
		       strerror(errno));
		return EIO;
	}
	if (secret && (strlen(secret) < CF_DIGEST_SECRET_MIN ||
	               strlen(secret) > AUTH_SECRET_MAX)) {
		cf_log(CF_LOG_ERR, NULL, "[auth] secret: %u to %u characters",
		       CF_DIGEST_SECRET_MIN, AUTH_SECRET_MAX);
		return EINVAL;
	}
	err =
	    secret
	        ? auth_nonce_init((const uint8_t *)secret, strlen(secret),
	                          cf_app_conf_u32(conf, "auth", "nonce_slots"),
	                          salt0)
	        : auth_nonce_init(rnd, sizeof(rnd),
	                          cf_app_conf_u32(conf, "auth", "nonce_slots"),
	                          salt0);
	memset(rnd, 0, sizeof(rnd));
	if (err)
		goto out;

	{
		struct agents_ctx ac = {.n = 0};

		cf_app_conf_apply(conf, "auth", "md5_only_agents", agent_item,
		                  &ac);
		if (ac.bad || auth_agents_set(ac.p, ac.n)) {
			cf_log(CF_LOG_ERR, NULL,
			       "[auth] md5_only_agents: at most %u, of %u "
			       "characters each",
			       AUTH_AGENTS_MAX, AUTH_AGENT_LEN);
			err = EINVAL;
			goto out;
		}
	}

	err = auth_creds_init();
	if (err)
		goto out;
	cf_app_conf_apply(conf, "general", "domain", config_domain, &err);
	if (err)
		goto out;
	err = auth_creds_load(cf_app_store(app));
	if (err) {
		cf_log(CF_LOG_ERR, NULL, "auth: loading the credentials: %s",
		       strerror(err));
		goto out;
	}

	err = auth_guard_init(cf_app_conf_u32(conf, "security", "max_sources"));
	if (err)
		goto out;
	cf_app_conf_apply(conf, "security", "allow", cidr_item, &cc);
	cc.deny = true;
	if (!cc.err)
		cf_app_conf_apply(conf, "security", "deny", cidr_item, &cc);
	err = cc.err ? EINVAL : 0;
out:
	if (err)
		(void)release();
	else
		atomic_store(&live.stopping, false);
	return err;
}

static void auth_reload(struct cf_app *app)
{
	if (settings_read(cf_app_conf(app)))
		cf_log(CF_LOG_WARN, NULL,
		       "reload: [auth]/[security] settings kept as they were");
}

/* ------------------------------------------------------------- gate */

/* Every request, first of all modules (cheap: one striped lock). True
 * when it was answered or dropped. */
static bool auth_request(struct cf_app *app, struct cf_sip_strans *st,
                         const struct cf_sip_msg *msg,
                         const struct cf_sip_peer *peer)
{
	uint32_t retry = 0;
	char hdr[48], addr[64];

	enum auth_gate v;

	(void)app;
	if (!enter())
		return false; /* stopping: the stack answers 503 shortly */
	AUTH_INC(requests);
	v = auth_guard_request(&peer->addr, &retry);
	leave();
	switch (v) {
	case AUTH_GATE_PASS:
		return false;
	case AUTH_GATE_ALLOWED:
		AUTH_INC(allowed);
		return false;
	case AUTH_GATE_DENIED:
		AUTH_INC(denied);
		if (AUTH_GET(ban_drop)) {
			cf_sip_strans_drop(st);
			return true;
		}
		(void)auth_reply(st, msg, 403, NULL, NULL);
		cf_log(CF_LOG_DEBUG, &msg->call_id, "%s: deny list: 403",
		       cf_sa_print(&peer->addr, addr, sizeof(addr)));
		return true;
	case AUTH_GATE_BANNED:
		if (AUTH_GET(ban_drop)) {
			cf_sip_strans_drop(st);
			return true;
		}
		snprintf(hdr, sizeof(hdr), "Retry-After: %u\r\n", retry);
		(void)auth_reply(st, msg, 503, NULL, hdr);
		cf_log(CF_LOG_DEBUG, &msg->call_id, "%s: banned: 503",
		       cf_sa_print(&peer->addr, addr, sizeof(addr)));
		return true;
	}
	return false;
}

/* -------------------------------------------------------------- API */

static bool method_needs_auth(struct cf_app *app, enum cf_sip_method m)
{
	(void)app;
	return (unsigned)m < 32 && (AUTH_GET(methods) & 1u << m);
}

static bool user_exists(struct cf_app *app, const struct cf_pl *user,
                        const struct cf_pl *domain)
{
	bool found;

	(void)app;
	if (!enter())
		return false;
	found = auth_creds_user_get(user, domain, CF_DIGEST_MD5, NULL);
	leave();
	return found;
}

static bool domain_exists(struct cf_app *app, const struct cf_pl *domain)
{
	bool found;

	(void)app;
	if (!enter())
		return false;
	found = auth_creds_domain_get(domain, NULL, NULL);
	leave();
	return found;
}

/* The API's check: never on tables being freed. */
static enum cf_auth_verdict check(struct cf_app *app, struct cf_sip_strans *st,
                                  const struct cf_sip_msg *msg,
                                  const struct cf_sip_peer *peer,
                                  const char *domain, bool proxy,
                                  struct cf_auth_id *id)
{
	enum cf_auth_verdict v;

	if (!enter()) {
		if (st && msg)
			(void)auth_reply(st, msg, 503, NULL,
			                 "Retry-After: 5\r\n");
		return CF_AUTH_ANSWERED;
	}
	v = auth_check(app, st, msg, peer, domain, proxy, id);
	leave();
	return v;
}

static void user_changed(struct cf_app *app, const char *user,
                         const char *domain)
{
	struct cf_store *st = cf_app_store(app);
	struct cf_store_subscriber sub;
	int err;

	if (!st || !user || !domain)
		return;
	err = cf_store_subscriber_get(st, user, domain, &sub);
	if (!err)
		err = auth_creds_user_put(user, domain, sub.ha1);
	else if (err == ENOENT) {
		auth_creds_user_del(user, domain);
		err = 0;
	}
	if (err)
		cf_log(CF_LOG_WARN, NULL, "auth: refreshing %s@%s: %s", user,
		       domain, strerror(err));
}

static bool domain_put(const struct cf_store_domain *d, void *arg)
{
	int *err = arg;

	*err = auth_creds_domain_put(d->name, d->realm, d->digest_algs);
	return true;
}

static void domain_changed(struct cf_app *app, const char *domain)
{
	struct cf_store *st = cf_app_store(app);
	int err, herr = 0;

	if (!st || !domain)
		return;
	err = cf_store_domain_get(st, domain, domain_put, &herr);
	if (err == ENOENT) {
		auth_creds_domain_del(domain);
		return;
	}
	err = err ? err : herr;
	if (err)
		cf_log(CF_LOG_WARN, NULL, "auth: refreshing domain %s: %s",
		       domain, strerror(err));
}

/* confabctl user import: re-read every domain and subscriber (puts over
 * what is cached; the import only adds). Main thread. */
static int creds_reload(struct cf_app *app)
{
	struct cf_store *st = cf_app_store(app);

	return st ? auth_creds_load(st) : EINVAL;
}

static const struct cf_auth_api api = {
    .check = check,
    .method_needs_auth = method_needs_auth,
    .user_exists = user_exists,
    .domain_exists = domain_exists,
    .user_changed = user_changed,
    .domain_changed = domain_changed,
    .reload = creds_reload,
};

/* ---------------------------------------------------------- control */

#define CNT(o, f)                                                              \
	json_object_set_new(o, #f, json_integer(atomic_load(&auth_cnt.f)))

static int security_show_h(struct cf_app *app, const struct cf_mod_ctl_req *req,
                           json_t *resp)
{
	json_t *c = json_object(), *bans = json_array(), *users = json_array();
	json_t *s = json_object();

	(void)app;
	(void)req;
	if (!c || !bans || !users || !s) {
		json_decref(c);
		json_decref(bans);
		json_decref(users);
		json_decref(s);
		return ENOMEM;
	}
	CNT(c, requests);
	CNT(c, allowed);
	CNT(c, denied);
	CNT(c, rate_limited);
	CNT(c, banned_refused);
	CNT(c, untracked);
	CNT(c, challenges);
	CNT(c, stale);
	CNT(c, auth_ok);
	CNT(c, auth_failed);
	CNT(c, unknown_user);
	CNT(c, bad_nonce);
	CNT(c, replays);
	CNT(c, bad_credentials);
	CNT(c, identity_mismatch);
	CNT(c, uri_mismatch);
	CNT(c, lockouts);
	CNT(c, user_lockouts);
	CNT(c, locked_refused);
	json_object_set_new(resp, "counters", c);

	auth_guard_list(bans, users);
	json_object_set_new(resp, "bans", bans);
	json_object_set_new(resp, "locked_users", users);
	auth_guard_stats(s);
	json_object_set_new(s, "cached_domains",
	                    json_integer(auth_creds_domains()));
	json_object_set_new(s, "cached_users",
	                    json_integer(auth_creds_users()));
	json_object_set_new(s, "nonce_slots", json_integer(auth_nonce_slots()));
	json_object_set_new(s, "rate", json_integer(AUTH_GET(rate)));
	json_object_set_new(s, "burst", json_integer(AUTH_GET(burst)));
	json_object_set_new(s, "fail_max", json_integer(AUTH_GET(fail_max)));
	json_object_set_new(s, "user_fail_max",
	                    json_integer(AUTH_GET(user_fail_max)));
	json_object_set_new(resp, "state", s);
	return 0;
}

static int ban_list_h(struct cf_app *app, const struct cf_mod_ctl_req *req,
                      json_t *resp)
{
	json_t *bans = json_array();

	(void)app;
	(void)req;
	if (!bans)
		return ENOMEM;
	auth_guard_list(bans, NULL);
	json_object_set_new(resp, "bans", bans);
	return 0;
}

static int addr_arg(const struct cf_mod_ctl_req *req, json_t *resp,
                    struct cf_sa *sa)
{
	const char *s = json_string_value(json_array_get(req->args, 0));

	if (!s || cf_sa_set_str(sa, s, 0)) {
		json_object_set_new(
		    resp, "error",
		    json_string("ADDRESS must be a numeric IPv4 or IPv6 "
		                "address"));
		return EINVAL;
	}
	return 0;
}

static int ban_add_h(struct cf_app *app, const struct cf_mod_ctl_req *req,
                     json_t *resp)
{
	const char *t = json_string_value(json_object_get(req->opts, "time"));
	uint32_t secs = AUTH_GET(ban_time);
	struct cf_sa sa;
	char buf[64];
	int err;

	(void)app;
	err = addr_arg(req, resp, &sa);
	if (err)
		return err;
	if (t) {
		struct cf_pl pl;

		cf_pl_set_str(&pl, t);
		if (cf_pl_u32(&pl, &secs)) {
			json_object_set_new(
			    resp, "error",
			    json_string("--time takes seconds (0: until "
			                "removed)"));
			return EINVAL;
		}
	}
	err = auth_guard_ban_add(&sa, secs);
	if (err)
		return err;
	cf_log(CF_LOG_NOTICE, NULL, "security: %s banned by control (%s)",
	       cf_sa_ntop(&sa, buf, sizeof(buf)),
	       secs ? "timed" : "until removed");
	json_object_set_new(resp, "address", json_string(buf));
	json_object_set_new(resp, "time", json_integer(secs));
	return 0;
}

static int ban_remove_h(struct cf_app *app, const struct cf_mod_ctl_req *req,
                        json_t *resp)
{
	struct cf_sa sa;
	char buf[64];
	int err;

	(void)app;
	err = addr_arg(req, resp, &sa);
	if (err)
		return err;
	err = auth_guard_ban_remove(&sa);
	if (err == ENOENT) {
		json_object_set_new(resp, "error",
		                    json_string("that address is not banned"));
		return err;
	}
	if (!err)
		cf_log(CF_LOG_NOTICE, NULL, "security: %s unbanned by control",
		       cf_sa_ntop(&sa, buf, sizeof(buf)));
	return err;
}

static const struct cf_mod_cmd cmds[] = {
    {"security", "show", 0, 0, security_show_h, "",
     "authentication and protection counters, bans and lockouts"},
    {"ban", "list", 0, 0, ban_list_h, "",
     "banned and locked-out source addresses with the seconds left"},
    {"ban", "add", 1, 1, ban_add_h, "ADDRESS [--time SECONDS]",
     "ban a source address ([security] ban_time, or --time; 0: until "
     "removed)"},
    {"ban", "remove", 1, 1, ban_remove_h, "ADDRESS",
     "lift the ban or lockout of a source address"},
    {NULL},
};

/* ------------------------------------------------------- descriptor */

static const struct cf_mod_key keys[] = {
    {"auth", "methods", CF_MOD_KEY_STR,
     "REGISTER, INVITE, MESSAGE, SUBSCRIBE, PUBLISH, REFER",
     "methods that must authenticate (out of dialog; ACK and CANCEL never)", 0,
     0, CF_MOD_KEY_LIST | CF_MOD_KEY_LIVE},
    {"auth", "algorithms", CF_MOD_KEY_STR, "MD5, SHA-256, SHA-512-256",
     "digest algorithms offered, one challenge header each, in this order "
     "(a domain's digest_algs overrides it)",
     0, 0, CF_MOD_KEY_LIST | CF_MOD_KEY_LIVE},
    {"auth", "md5_only_agents", CF_MOD_KEY_STR, "baresip, JsSIP",
     "User-Agent substrings (any case) of clients offered MD5 alone: they "
     "fail on any other algorithm's challenge",
     0, 0, CF_MOD_KEY_LIST},
    {"auth", "secret", CF_MOD_KEY_STR, NULL,
     "nonce secret, 16 to 64 characters (default: random at start)", 0, 0, 0},
    {"auth", "nonce_lifetime", CF_MOD_KEY_UINT, "300",
     "seconds a nonce is good for; older: stale=true", 1, 86400,
     CF_MOD_KEY_LIVE},
    {"auth", "nonce_slots", CF_MOD_KEY_UINT, "1048576",
     "nonce-count slots (8 bytes each; a power of two)", 1024, 67108864, 0},
    {"auth", "check_identity", CF_MOD_KEY_BOOL, "yes",
     "authenticated user must equal the From user (and To for REGISTER)", 0, 0,
     CF_MOD_KEY_LIVE},
    {"auth", "unknown_user", CF_MOD_KEY_STR, "challenge",
     "answer to credentials of an unknown user: challenge, 403 or 404", 0, 0,
     CF_MOD_KEY_LIVE},
    {"security", "rate", CF_MOD_KEY_UINT, "500",
     "requests per second from one source address; 0: no limit", 0, 1000000,
     CF_MOD_KEY_LIVE},
    {"security", "burst", CF_MOD_KEY_UINT, "0",
     "requests a source may send at once (the bucket size); 0: = rate", 0,
     1000000, CF_MOD_KEY_LIVE},
    {"security", "ban_time", CF_MOD_KEY_UINT, "60",
     "seconds a source over the rate is banned", 1, 86400, CF_MOD_KEY_LIVE},
    {"security", "ban_action", CF_MOD_KEY_STR, "reply",
     "banned and denied sources: reply (503/403) or drop", 0, 0,
     CF_MOD_KEY_LIVE},
    {"security", "fail_max", CF_MOD_KEY_UINT, "10",
     "failed authentications from one source before a lockout; 0: off", 0,
     1000000, CF_MOD_KEY_LIVE},
    {"security", "user_fail_max", CF_MOD_KEY_UINT, "20",
     "failed authentications of one user before a lockout; 0: off", 0, 1000000,
     CF_MOD_KEY_LIVE},
    {"security", "fail_window", CF_MOD_KEY_UINT, "60",
     "seconds over which failures are counted", 1, 86400, CF_MOD_KEY_LIVE},
    {"security", "lockout_time", CF_MOD_KEY_UINT, "300",
     "seconds a lockout lasts", 1, 86400, CF_MOD_KEY_LIVE},
    {"security", "lockout_response", CF_MOD_KEY_UINT, "403",
     "answer while locked out: 403 or 503 (with Retry-After)", 403, 503,
     CF_MOD_KEY_LIVE},
    {"security", "allow", CF_MOD_KEY_STR, NULL,
     "source addresses never limited (ADDRESS[/BITS], list)", 0, 0,
     CF_MOD_KEY_LIST},
    {"security", "deny", CF_MOD_KEY_STR, NULL,
     "source addresses always refused (ADDRESS[/BITS], list)", 0, 0,
     CF_MOD_KEY_LIST},
    {"security", "max_sources", CF_MOD_KEY_UINT, "100000",
     "source addresses (and users) tracked at most", 64, 10000000, 0},
    {NULL},
};

const struct cf_mod cf_mod_auth = {
    .name = "auth",
    .doc = "digest authentication, failed-auth lockout, rate limits, bans",
    .keys = keys,
    .cmds = cmds,
    .init = auth_init,
    .stop = auth_stop,
    .reload = auth_reload,
    .request = auth_request,
    .api = &api,
};
