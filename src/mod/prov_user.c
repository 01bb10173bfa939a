/* SPDX-License-Identifier: BSD-3-Clause */
/* prov_user.c - confabctl user add, passwd, remove, list, show and reload,
 * and location show from the store (offline). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "prov_int.h"
#include "auth/auth.h"
#include "proxy/proxy.h"
#include "registrar/registrar.h"

/* -------------------------------------------------------------- users */

/* The checks every one-user command starts with: options, the store, the
 * AOR argument into user and domain, the password when pwp is set, and a
 * domain the store knows. Returns 0, or the error already said in resp. */
static int user_args(struct cf_app *app, const struct cf_mod_ctl_req *req,
                     json_t *resp, const char *const *allowed,
                     struct cf_store **stp, char *user, char *domain,
                     const char **pwp)
{
	int err;

	err = prov_opts_check(req, resp, allowed);
	if (!err)
		err = prov_store_get(app, resp, stp);
	if (!err)
		err = prov_aor_get(req, resp, user, domain);
	if (!err && pwp)
		err = prov_password_get(req, resp, pwp);
	if (!err)
		err = prov_domain_known(*stp, resp, domain);
	return err;
}

int cf_prov_user_add_h(struct cf_app *app, const struct cf_mod_ctl_req *req,
                       json_t *resp)
{
	static const char *const allowed[] = {"password", NULL};
	char user[CF_STORE_USER_MAX + 1], domain[CF_STORE_DOMAIN_MAX + 1];
	struct cf_store *st;
	const char *pw = NULL;
	int err;

	err = user_args(app, req, resp, allowed, &st, user, domain, &pw);
	if (err)
		return err;
	err = cf_store_subscriber_add(st, user, domain, pw);
	if (err == EALREADY)
		return prov_say(resp, err, "user %s@%s exists", user, domain);
	if (err == ENOENT)
		return prov_say(resp, err, "unknown domain '%s'", domain);
	if (err)
		return prov_store_fail(resp, err, "user add");
	prov_user_changed(app, user, domain);
	json_object_set_new(resp, "aor",
	                    json_sprintf("sip:%s@%s", user, domain));
	prov_message(resp, "user %s@%s added", user, domain);
	return 0;
}

int cf_prov_user_passwd_h(struct cf_app *app, const struct cf_mod_ctl_req *req,
                          json_t *resp)
{
	static const char *const allowed[] = {"password", NULL};
	char user[CF_STORE_USER_MAX + 1], domain[CF_STORE_DOMAIN_MAX + 1];
	struct cf_store *st;
	const char *pw = NULL;
	int err;

	err = user_args(app, req, resp, allowed, &st, user, domain, &pw);
	if (err)
		return err;
	err = cf_store_subscriber_passwd(st, user, domain, pw);
	if (err == ENOENT)
		return prov_say(resp, err, "unknown user %s@%s", user, domain);
	if (err)
		return prov_store_fail(resp, err, "user passwd");
	prov_user_changed(app, user, domain);
	json_object_set_new(resp, "aor",
	                    json_sprintf("sip:%s@%s", user, domain));
	prov_message(resp, "password of %s@%s changed", user, domain);
	return 0;
}

int cf_prov_user_remove_h(struct cf_app *app, const struct cf_mod_ctl_req *req,
                          json_t *resp)
{
	static const char *const allowed[] = {NULL};
	char user[CF_STORE_USER_MAX + 1], domain[CF_STORE_DOMAIN_MAX + 1];
	char aor[CF_STORE_USER_MAX + CF_STORE_DOMAIN_MAX + 8];
	struct cf_store *st;
	int err;

	err = user_args(app, req, resp, allowed, &st, user, domain, NULL);
	if (err)
		return err;
	err = cf_store_subscriber_remove(st, user, domain);
	if (err == ENOENT)
		return prov_say(resp, err, "unknown user %s@%s", user, domain);
	if (err)
		return prov_store_fail(resp, err, "user remove");
	snprintf(aor, sizeof(aor), "sip:%s@%s", user, domain);
	/* Offline, its stored bindings go too; online the registrar holds
	 * them in memory and they expire (auth refuses their refresh). */
	if (!cf_app_online(app))
		(void)cf_store_location_delete_aor(st, aor, NULL);
	prov_user_changed(app, user, domain);
	json_object_set_new(resp, "aor", json_string(aor));
	prov_message(resp, "user %s@%s removed", user, domain);
	return 0;
}

/* confabctl user forward AOR [--busy URI] [--noanswer URI] [--offline
 * URI] [--unavailable URI] | --clear: the subscriber's failure routes
 * (issue 4 point 3), replaced as a whole; online the proxy reloads its
 * copy. */
int cf_prov_user_forward_h(struct cf_app *app, const struct cf_mod_ctl_req *req,
                           json_t *resp)
{
	static const char *const allowed[] = {
	    "busy", "noanswer", "offline", "unavailable", "clear", NULL};
	static const char *const names[CF_STORE_FWD_N] = {
	    "busy", "noanswer", "offline", "unavailable"};
	char user[CF_STORE_USER_MAX + 1], domain[CF_STORE_DOMAIN_MAX + 1];
	struct cf_store_forward f = {0};
	struct cf_store *st;
	bool any = false, clear;
	json_t *obj;
	int err;

	err = user_args(app, req, resp, allowed, &st, user, domain, NULL);
	if (err)
		return err;
	clear = prov_opt(req, "clear") != NULL;
	for (int i = 0; i < CF_STORE_FWD_N; i++) {
		f.uri[i] = prov_opt(req, names[i]);
		any = any || f.uri[i];
	}
	if (clear == any)
		return prov_say(resp, EINVAL,
		                "give --clear, or one or more of --busy, "
		                "--noanswer, --offline, --unavailable URI");
	f.user = user;
	f.domain = domain;
	err = cf_store_forward_set(st, &f);
	if (err == ENOENT)
		return prov_say(resp, err, "unknown user %s@%s", user, domain);
	if (err == EINVAL)
		return prov_say(resp, err,
		                "not a SIP URI (sip: or sips:, at most %d "
		                "characters, no spaces or <>\")",
		                CF_STORE_FWD_URI_MAX);
	if (err)
		return prov_store_fail(resp, err, "user forward");
	if (cf_app_online(app) && cf_mod_find("proxy"))
		(void)cf_proxy_forwards_load(app);
	json_object_set_new(resp, "aor",
	                    json_sprintf("sip:%s@%s", user, domain));
	obj = json_object();
	for (int i = 0; obj && i < CF_STORE_FWD_N; i++) {
		if (f.uri[i])
			json_object_set_new(obj, names[i],
			                    json_string(f.uri[i]));
	}
	if (obj)
		json_object_set_new(resp, "forward", obj);
	prov_message(resp,
	             clear ? "user %s@%s: forwards cleared"
	                   : "user %s@%s: forwards set",
	             user, domain);
	return 0;
}

struct user_list {
	json_t *arr;
	int err;
};

static bool user_list_h(const struct cf_store_subscriber *s, void *arg)
{
	struct user_list *l = arg;
	json_t *v = json_sprintf("%s@%s", s->user, s->domain);

	if (!v || json_array_append_new(l->arr, v)) {
		l->err = ENOMEM;
		return true;
	}
	return false;
}

int cf_prov_user_list_h(struct cf_app *app, const struct cf_mod_ctl_req *req,
                        json_t *resp)
{
	static const char *const allowed[] = {NULL};
	char domain[CF_STORE_DOMAIN_MAX + 1] = "";
	struct user_list l = {json_array(), 0};
	const char *s = prov_arg(req, 0);
	struct cf_store *st;
	int err;

	if (!l.arr)
		return ENOMEM;
	err = prov_opts_check(req, resp, allowed);
	if (!err)
		err = prov_store_get(app, resp, &st);
	if (!err && s) {
		if (!cf_prov_domain_ok(s)) {
			err = prov_say(resp, EINVAL,
			               "malformed domain '%.300s'", s);
		} else {
			snprintf(domain, sizeof(domain), "%s", s);
			prov_lower(domain);
			err = prov_domain_known(st, resp, domain);
		}
	}
	if (!err) {
		err = cf_store_subscriber_list(st, *domain ? domain : NULL,
		                               user_list_h, &l);
		if (!err)
			err = l.err;
		if (err)
			err = prov_store_fail(resp, err, "user list");
	}
	if (err) {
		json_decref(l.arr);
		return err;
	}
	json_object_set_new(resp, "count",
	                    json_integer(json_array_size(l.arr)));
	json_object_set_new(resp, "users", l.arr);
	return 0;
}

/* One binding as JSON; expires as seconds left (0 when past). */
static json_t *binding_json(const struct cf_store_binding *b, int64_t now)
{
	json_t *o = json_object();

	if (!o)
		return NULL;
	json_object_set_new(o, "aor", json_string(b->aor));
	json_object_set_new(o, "contact", json_string(b->contact));
	json_object_set_new(
	    o, "expires",
	    json_integer(b->expires > now ? b->expires - now : 0));
	if (b->q >= 0) /* as the registrar writes it: "0.500" */
		json_object_set_new(
		    o, "q", json_sprintf("%d.%03d", b->q / 1000, b->q % 1000));
	if (b->received && *b->received)
		json_object_set_new(o, "received", json_string(b->received));
	if (b->path && *b->path)
		json_object_set_new(o, "path", json_string(b->path));
	if (b->instance && *b->instance)
		json_object_set_new(o, "instance", json_string(b->instance));
	if (b->reg_id)
		json_object_set_new(o, "reg_id", json_integer(b->reg_id));
	if (b->user_agent && *b->user_agent)
		json_object_set_new(o, "user_agent",
		                    json_string(b->user_agent));
	if (b->call_id && *b->call_id)
		json_object_set_new(o, "call_id", json_string(b->call_id));
	json_object_set_new(o, "cseq", json_integer(b->cseq));
	return o;
}

struct bind_list {
	json_t *arr;
	int64_t now;
	int err;
};

static bool bind_list_h(const struct cf_store_binding *b, void *arg)
{
	struct bind_list *l = arg;
	json_t *o;

	if (b->expires <= l->now)
		return false; /* expired, not yet swept */
	o = binding_json(b, l->now);
	if (!o || json_array_append_new(l->arr, o)) {
		l->err = ENOMEM;
		return true;
	}
	return false;
}

/* The bindings of aor (NULL: all) from the store's location table. */
static int bindings_store(struct cf_store *st, const char *aor, json_t **arrp)
{
	struct bind_list l = {json_array(),
	                      (int64_t)(cf_clock_wall_ms() / 1000), 0};
	int err;

	if (!l.arr)
		return ENOMEM;
	if (aor)
		err = cf_store_location_list(st, aor, bind_list_h, &l);
	else
		err = cf_store_location_load(st, bind_list_h, &l);
	if (!err)
		err = l.err;
	if (err) {
		json_decref(l.arr);
		return err;
	}
	*arrp = l.arr;
	return 0;
}

struct sub_copy {
	int64_t created, updated;
	bool has[CF_DIGEST_ALG_COUNT];
};

int cf_prov_user_show_h(struct cf_app *app, const struct cf_mod_ctl_req *req,
                        json_t *resp)
{
	static const char *const allowed[] = {NULL};
	char user[CF_STORE_USER_MAX + 1], domain[CF_STORE_DOMAIN_MAX + 1];
	char aor[CF_STORE_USER_MAX + CF_STORE_DOMAIN_MAX + 8];
	struct cf_store_subscriber sub;
	struct prov_dom c;
	json_t *algs, *binds = NULL;
	struct cf_store *st;
	int err;

	err = user_args(app, req, resp, allowed, &st, user, domain, NULL);
	if (err)
		return err;
	memset(&sub, 0, sizeof(sub));
	memset(&c, 0, sizeof(c));
	err = cf_store_subscriber_get(st, user, domain, &sub);
	if (err == ENOENT)
		return prov_say(resp, err, "unknown user %s@%s", user, domain);
	if (err)
		return prov_store_fail(resp, err, "user show");
	(void)cf_store_domain_get(st, domain, prov_dom_copy_h, &c);
	snprintf(aor, sizeof(aor), "sip:%s@%s", user, domain);

	algs = json_array();
	for (int i = 0; algs && i < CF_DIGEST_ALG_COUNT; i++) {
		if (sub.ha1[i][0])
			json_array_append_new(
			    algs, json_string(cf_digest_alg_name(i, false)));
	}
	err = cf_prov_bindings(app, aor, &binds);
	if (err || !algs) {
		json_decref(algs);
		return err ? prov_store_fail(resp, err, "bindings") : ENOMEM;
	}
	json_object_set_new(resp, "aor", json_string(aor));
	json_object_set_new(resp, "user", json_string(user));
	json_object_set_new(resp, "domain", json_string(domain));
	json_object_set_new(resp, "realm", json_string(c.realm));
	json_object_set_new(resp, "algorithms", algs);
	json_object_set_new(resp, "created", json_integer(sub.created));
	json_object_set_new(resp, "updated", json_integer(sub.updated));
	json_object_set_new(resp, "bindings", binds);
	json_object_set_new(
	    resp, "bindings_from",
	    json_string(cf_app_online(app) && cf_mod_find("registrar")
	                    ? "registrar"
	                    : "store"));
	return 0;
}

int cf_prov_bindings(struct cf_app *app, const char *aor, json_t **arrp)
{
	struct cf_store *st = cf_app_store(app);
	json_t *arr;
	int err;

	/* online the registrar's memory is the truth (the store lags by
	 * the write-behind interval) */
	if (cf_app_online(app) && cf_mod_find("registrar")) {
		arr = json_array();
		if (!arr)
			return ENOMEM;
		err = cf_registrar_bindings_json(aor, arr);
		if (err) {
			json_decref(arr);
			return err;
		}
		*arrp = arr;
		return 0;
	}
	if (!st)
		return EINVAL;
	return bindings_store(st, aor, arrp);
}

/* Online, after a bulk change (user import): refresh the auth cache. */
struct name_pair {
	char **v;
	size_t n, cap;
	int err;
};

static bool pair_h(const struct cf_store_subscriber *s, void *arg)
{
	struct name_pair *p = arg;
	char **v;

	if (p->n == p->cap) {
		size_t cap = p->cap ? p->cap * 2 : 1024;

		v = realloc(p->v, cap * sizeof(*v));
		if (!v) {
			p->err = ENOMEM;
			return true;
		}
		p->v = v;
		p->cap = cap;
	}
	if (asprintf(&p->v[p->n], "%s@%s", s->user, s->domain) < 0) {
		p->err = ENOMEM;
		return true;
	}
	p->n++;
	return false;
}

int cf_prov_user_reload_h(struct cf_app *app, const struct cf_mod_ctl_req *req,
                          json_t *resp)
{
	const struct cf_auth_api *api = prov_auth_api(app);
	struct name_pair p = {0};
	struct cf_store *st;
	size_t users = 0;
	int err;

	(void)req;
	err = prov_store_get(app, resp, &st);
	if (err)
		return err;
	if (!cf_app_online(app))
		return prov_say(resp, EINVAL,
		                "confabd is not running: nothing to reload");
	if (api && api->reload) {
		err = api->reload(app);
		if (err)
			return prov_store_fail(resp, err, "reload");
		err = cf_store_subscriber_list(st, NULL, prov_count_h, &users);
	} else if (api && api->user_changed) {
		/* one by one, outside the store's handler (no re-entry) */
		err = cf_store_subscriber_list(st, NULL, pair_h, &p);
		if (!err)
			err = p.err;
		for (size_t i = 0; !err && i < p.n; i++) {
			char *at = strchr(p.v[i], '@');

			*at = '\0';
			api->user_changed(app, p.v[i], at + 1);
		}
		users = p.n;
	} else {
		err = cf_store_subscriber_list(st, NULL, prov_count_h, &users);
	}
	for (size_t i = 0; i < p.n; i++)
		free(p.v[i]);
	free(p.v);
	if (err)
		return prov_store_fail(resp, err, "reload");
	json_object_set_new(resp, "users", json_integer(users));
	prov_message(resp, "credentials reloaded: %zu users", users);
	return 0;
}

/* ----------------------------------------------------------- location */

int cf_prov_location_show_h(struct cf_app *app,
                            const struct cf_mod_ctl_req *req, json_t *resp)
{
	static const char *const allowed[] = {NULL};
	char user[CF_STORE_USER_MAX + 1], domain[CF_STORE_DOMAIN_MAX + 1];
	char aor[CF_STORE_USER_MAX + CF_STORE_DOMAIN_MAX + 8];
	json_t *binds = NULL;
	struct cf_store *st;
	int err;

	err = prov_opts_check(req, resp, allowed);
	if (!err)
		err = prov_store_get(app, resp, &st);
	if (!err && prov_arg(req, 0))
		err = prov_aor_get(req, resp, user, domain);
	if (err)
		return err;
	if (prov_arg(req, 0))
		snprintf(aor, sizeof(aor), "sip:%s@%s", user, domain);
	err = bindings_store(st, prov_arg(req, 0) ? aor : NULL, &binds);
	if (err)
		return prov_store_fail(resp, err, "location show");
	json_object_set_new(resp, "count",
	                    json_integer(json_array_size(binds)));
	json_object_set_new(resp, "bindings", binds);
	return 0;
}
