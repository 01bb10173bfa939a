/* SPDX-License-Identifier: BSD-3-Clause */
/* registrar.c - the registrar module: its configuration keys, life cycle
 * (restore at init, write-behind thread, stop), the REGISTER hook, the
 * connection-closed observer and the control commands. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/rand.h>

#include "mod/registrar/reg_priv.h"

static const struct cf_mod_key keys[] = {
    {"registrar", "default_expires", CF_MOD_KEY_UINT, "3600",
     "Expiry of a binding when the REGISTER gives none", 1, 31536000,
     CF_MOD_KEY_LIVE},
    {"registrar", "min_expires", CF_MOD_KEY_UINT, "60",
     "Shorter non-zero expiries get 423 with Min-Expires", 1, 86400,
     CF_MOD_KEY_LIVE},
    {"registrar", "max_expires", CF_MOD_KEY_UINT, "86400",
     "Longer expiries are clamped to this", 1, 31536000, CF_MOD_KEY_LIVE},
    {"registrar", "max_contacts", CF_MOD_KEY_UINT, "10", "Bindings per AOR", 1,
     REG_CONTACTS_HARD_MAX, CF_MOD_KEY_LIVE},
    {"registrar", "max_contacts_policy", CF_MOD_KEY_TOKEN, "reject",
     "reject (403) or replace_oldest", 0, 0, CF_MOD_KEY_LIVE},
    {"registrar", "authenticate", CF_MOD_KEY_BOOL, "yes",
     "Ask the auth module to authenticate REGISTER", 0, 0, CF_MOD_KEY_LIVE},
    {"registrar", "outbound", CF_MOD_KEY_BOOL, "yes",
     "RFC 5626 flows for reg-id + +sip.instance", 0, 0, CF_MOD_KEY_LIVE},
    {"registrar", "gruu", CF_MOD_KEY_BOOL, "yes",
     "RFC 5627 GRUUs in the 200 when the UA supports gruu", 0, 0,
     CF_MOD_KEY_LIVE},
    {"registrar", "write_behind_ms", CF_MOD_KEY_UINT, "200",
     "Longest delay before a binding change is in the store", 10, 800, 0},
    {"registrar", "gruu_key", CF_MOD_KEY_STR, NULL,
     "Secret for temporary GRUUs (random per start when unset)", 0, 0, 0},
    {NULL},
};

/* The running state. Readers (workers, control commands, the observer)
 * hold the read lock for the length of a call; stop takes the write lock
 * to take it away. Writers are preferred so that stop is not starved. */
static struct {
	pthread_rwlock_t lock;
	pthread_once_t once;
	struct reg *r;
	_Atomic int64_t test_now;
	bool observing;
} g = {.once = PTHREAD_ONCE_INIT};

static void g_init(void)
{
	pthread_rwlockattr_t a;

	pthread_rwlockattr_init(&a);
	pthread_rwlockattr_setkind_np(
	    &a, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(&g.lock, &a);
	pthread_rwlockattr_destroy(&a);
}

/* Re-entrant on one thread: a reply sent under the read lock may close a
 * stream, whose observer comes back here (a second rdlock would wait
 * behind a waiting writer for ever). */
static _Thread_local unsigned held;

struct reg *reg_get(void)
{
	if (held) {
		held++;
		return g.r;
	}
	pthread_once(&g.once, g_init);
	pthread_rwlock_rdlock(&g.lock);
	if (g.r) {
		held = 1;
		return g.r;
	}
	pthread_rwlock_unlock(&g.lock);
	return NULL;
}

void reg_put(void)
{
	if (held && !--held)
		pthread_rwlock_unlock(&g.lock);
}

int64_t reg_now(void)
{
	int64_t t = atomic_load(&g.test_now);

	return t ? t : (int64_t)(cf_clock_wall_ms() / 1000);
}

void cf_registrar_test_clock(int64_t now_s)
{
	atomic_store(&g.test_now, now_s);
}

static int cfg_read(struct reg_cfg *c, const struct cf_app_conf *conf)
{
	const char *pol =
	    cf_app_conf_str(conf, "registrar", "max_contacts_policy");

	c->default_expires =
	    cf_app_conf_u32(conf, "registrar", "default_expires");
	c->min_expires = cf_app_conf_u32(conf, "registrar", "min_expires");
	c->max_expires = cf_app_conf_u32(conf, "registrar", "max_expires");
	c->max_contacts = cf_app_conf_u32(conf, "registrar", "max_contacts");
	c->authenticate = cf_app_conf_bool(conf, "registrar", "authenticate");
	c->outbound = cf_app_conf_bool(conf, "registrar", "outbound");
	c->gruu = cf_app_conf_bool(conf, "registrar", "gruu");
	c->write_behind_ms =
	    cf_app_conf_u32(conf, "registrar", "write_behind_ms");
	if (!pol || !strcmp(pol, "reject"))
		c->replace_oldest = false;
	else if (!strcmp(pol, "replace_oldest"))
		c->replace_oldest = true;
	else {
		cf_log(CF_LOG_ERR, NULL,
		       "registrar: max_contacts_policy must be reject or "
		       "replace_oldest, not '%s'",
		       pol);
		return EINVAL;
	}
	if (c->min_expires > c->max_expires) {
		cf_log(CF_LOG_ERR, NULL,
		       "registrar: min_expires %u is over max_expires %u",
		       c->min_expires, c->max_expires);
		return EINVAL;
	}
	if (c->default_expires < c->min_expires)
		c->default_expires = c->min_expires;
	if (c->default_expires > c->max_expires)
		c->default_expires = c->max_expires;
	return 0;
}

static void observe_h(struct cf_sip_conn *conn, void *arg)
{
	(void)arg;
	cf_registrar_conn_closed(conn);
}

static void reg_free(struct reg *r)
{
	if (!r)
		return;
	reg_wb_stop(r->wb);
	r->wb = NULL;
	reg_loc_close(r);
	pthread_mutex_destroy(&r->cfg_mtx);
	cf_mem_deref(r);
}

static int reg_init(struct cf_app *app)
{
	const char *key =
	    cf_app_conf_str(cf_app_conf(app), "registrar", "gruu_key");
	struct cf_store *st = cf_app_store(app);
	struct cf_sip *sip = cf_app_sip(app);
	struct reg *r;
	int err;

	pthread_once(&g.once, g_init);
	r = cf_mem_zalloc(sizeof(*r), NULL);
	if (!r)
		return ENOMEM;
	r->app = app;
	pthread_mutex_init(&r->cfg_mtx, NULL);
	err = cfg_read(&r->cfg, cf_app_conf(app));
	if (err) {
		pthread_mutex_destroy(&r->cfg_mtx);
		cf_mem_deref(r);
		return err;
	}
	err = reg_loc_init(r);
	if (err)
		goto out;
	if (key) {
		/* a fixed key keeps temporary GRUUs valid across restarts */
		unsigned char md[REG_GRUU_KEY] = {0};
		size_t kl = strlen(key);

		for (size_t i = 0; i < kl; i++)
			md[i % REG_GRUU_KEY] ^=
			    (unsigned char)key[i] +
			    (unsigned char)(i / REG_GRUU_KEY);
		memcpy(r->gruu_key, md, sizeof(md));
	} else if (RAND_bytes(r->gruu_key, sizeof(r->gruu_key)) != 1) {
		err = ENOMEM;
		goto out;
	}
	if (st) {
		err = reg_wb_restore(r, st);
		if (!err)
			err =
			    reg_wb_alloc(&r->wb, r, st, r->cfg.write_behind_ms);
		if (err)
			goto out;
	} else {
		cf_log(CF_LOG_NOTICE, NULL,
		       "registrar: no store: bindings live in memory only");
	}
	if (sip && !g.observing) {
		err = cf_sip_conn_observe(sip, observe_h, NULL);
		if (err == EALREADY)
			err = 0;
		if (err)
			goto out;
		g.observing = true;
	}
	if (r->cfg.authenticate && !cf_mod_find("auth"))
		cf_log(CF_LOG_WARN, NULL,
		       "registrar: no auth module: REGISTER is not "
		       "authenticated");
out:
	if (err) {
		reg_free(r);
		return err;
	}
	pthread_rwlock_wrlock(&g.lock);
	if (g.r) {
		pthread_rwlock_unlock(&g.lock);
		reg_free(r);
		return EALREADY;
	}
	g.r = r;
	pthread_rwlock_unlock(&g.lock);
	return 0;
}

static void reg_stop(struct cf_app *app)
{
	struct reg *r;

	(void)app;
	pthread_once(&g.once, g_init);
	pthread_rwlock_wrlock(&g.lock);
	r = g.r;
	g.r = NULL;
	pthread_rwlock_unlock(&g.lock);
	/* the write-behind writes what is queued before it ends */
	reg_free(r);
}

static void reg_reload(struct cf_app *app)
{
	struct reg_cfg c;
	struct reg *r;

	if (cfg_read(&c, cf_app_conf(app)))
		return;
	r = reg_get();
	if (!r)
		return;
	/* write_behind_ms needs a restart; the rest are plain words that
	 * workers read once per REGISTER */
	pthread_mutex_lock(&r->cfg_mtx);
	c.write_behind_ms = r->cfg.write_behind_ms;
	r->cfg = c;
	pthread_mutex_unlock(&r->cfg_mtx);
	reg_put();
}

static bool reg_request(struct cf_app *app, struct cf_sip_strans *st,
                        const struct cf_sip_msg *msg,
                        const struct cf_sip_peer *peer)
{
	struct reg *r;
	bool done;

	if (msg->mid != CF_SIP_M_REGISTER)
		return false;
	/* §10.3 step 1: a REGISTER for another domain is not ours (the
	 * proxy forwards it; until then the default answers 404) */
	if (!cf_app_uri_is_local(app, &msg->ruri))
		return false;
	r = reg_get();
	if (!r)
		return false;
	done = reg_register(r, app, st, msg, peer);
	reg_put();
	return done;
}

int cf_registrar_flush(void)
{
	struct reg *r = reg_get();
	int err;

	if (!r)
		return ENOENT;
	err = reg_wb_flush(r->wb);
	reg_put();
	return err;
}

#define CTR(f) (uint64_t) atomic_load(&r->ctr.f)

void cf_registrar_stats(struct cf_registrar_stats *st)
{
	struct reg *r;

	if (!st)
		return;
	memset(st, 0, sizeof(*st));
	r = reg_get();
	if (!r)
		return;
	st->registrations = CTR(registrations);
	st->refreshes = CTR(refreshes);
	st->removals = CTR(removals);
	st->expired = CTR(expired);
	st->flows_failed = CTR(flows_failed);
	st->replaced = CTR(replaced);
	st->rejected = CTR(rejected);
	st->contacts = CTR(contacts);
	st->aors = CTR(aors);
	st->wb_queued = CTR(wb_queued);
	st->wb_written = CTR(wb_written);
	st->wb_errors = CTR(wb_errors);
	reg_put();
}

/* ------------------------------------------------------------- control */

/* confabctl location show [AOR] */
static int location_show_h(struct cf_app *app, const struct cf_mod_ctl_req *req,
                           json_t *resp)
{
	const char *aor = json_array_size(req->args)
	                      ? json_string_value(json_array_get(req->args, 0))
	                      : NULL;
	json_t *arr = json_array();
	struct reg *r;
	int err;

	(void)app;
	if (!arr)
		return ENOMEM;
	r = reg_get();
	if (!r) {
		json_decref(arr);
		json_object_set_new(
		    resp, "error", json_string("the registrar is not running"));
		return ENOENT;
	}
	err = reg_loc_json(r, aor, arr);
	reg_put();
	if (err == EINVAL) {
		json_object_set_new(resp, "error",
		                    json_string("malformed AOR (want "
		                                "sip:user@domain)"));
	}
	if (err) {
		json_decref(arr);
		return err;
	}
	json_object_set_new(resp, "bindings", arr);
	return 0;
}

/* confabctl location stats */
static int location_stats_h(struct cf_app *app,
                            const struct cf_mod_ctl_req *req, json_t *resp)
{
	struct cf_registrar_stats s;
	json_t *o = json_object();

	(void)app;
	(void)req;
	if (!o)
		return ENOMEM;
	cf_registrar_stats(&s);
#define J(f) json_object_set_new(o, #f, json_integer((json_int_t)s.f))
	J(registrations);
	J(refreshes);
	J(removals);
	J(expired);
	J(flows_failed);
	J(replaced);
	J(rejected);
	J(contacts);
	J(aors);
	J(wb_queued);
	J(wb_written);
	J(wb_errors);
#undef J
	json_object_set_new(resp, "registrar", o);
	return 0;
}

static const struct cf_mod_cmd cmds[] = {
    {"location", "show", 0, 1, location_show_h, "[AOR]",
     "registered contacts (of one AOR, or all), as JSON"},
    {"location", "stats", 0, 0, location_stats_h, "",
     "registrar counters: registrations, refreshes, removals, expired..."},
    {NULL},
};

const struct cf_mod cf_mod_registrar = {
    .name = "registrar",
    .doc = "REGISTER (RFC 3261 §10.3), Path, outbound, GRUU; the location "
           "service",
    .keys = keys,
    .cmds = cmds,
    .methods = 1u << CF_SIP_M_REGISTER,
    .init = reg_init,
    .stop = reg_stop,
    .reload = reg_reload,
    .request = reg_request,
};
