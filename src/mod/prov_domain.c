/* SPDX-License-Identifier: BSD-3-Clause */
/* prov_domain.c - confabctl domain add, list and remove (issue 3: several
 * domains, each with its own realm and digest algorithm order). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "prov_int.h"

/* ------------------------------------------------------------ domains */

static bool realm_ok(const char *s)
{
	size_t n = strlen(s);

	if (!n || n > CF_STORE_REALM_MAX)
		return false;
	for (; *s; s++) {
		if ((unsigned char)*s < 0x20 || *s == 0x7f || *s == '"' ||
		    *s == '\\')
			return false;
	}
	return true;
}

static bool conf_has(const char *value, void *arg)
{
	const char **name = arg;

	if (*name && !strcasecmp(value, *name))
		*name = NULL; /* found */
	return *name == NULL;
}

/* Is domain one of the configuration's [general] domain? */
static bool domain_in_conf(struct cf_app *app, const char *domain)
{
	const char *name = domain;

	cf_app_conf_apply(cf_app_conf(app), "general", "domain", conf_has,
	                  &name);
	return name == NULL;
}

/* The checks domain set and remove start with: options, the store, and
 * a well-formed domain argument, copied lower-cased into name. Returns 0,
 * or the error already said in resp. */
static int domain_args(struct cf_app *app, const struct cf_mod_ctl_req *req,
                       json_t *resp, const char *const *allowed,
                       struct cf_store **stp, char *name)
{
	const char *s = prov_arg(req, 0);
	int err;

	err = prov_opts_check(req, resp, allowed);
	if (!err)
		err = prov_store_get(app, resp, stp);
	if (err)
		return err;
	if (!cf_prov_domain_ok(s))
		return prov_say(resp, EINVAL, "malformed domain '%.300s'",
		                s ? s : "");
	snprintf(name, CF_STORE_DOMAIN_MAX + 1, "%s", s);
	prov_lower(name);
	return 0;
}

int cf_prov_domain_add_h(struct cf_app *app, const struct cf_mod_ctl_req *req,
                         json_t *resp)
{
	static const char *const allowed[] = {"realm", "digest-algs", NULL};
	struct cf_store_domain d = {0};
	char name[CF_STORE_DOMAIN_MAX + 1];
	struct prov_dom c;
	const char *s = prov_arg(req, 0);
	struct cf_store *st;
	int err;

	err = prov_opts_check(req, resp, allowed);
	if (!err)
		err = prov_store_get(app, resp, &st);
	if (err)
		return err;
	if (!cf_prov_domain_ok(s))
		return prov_say(
		    resp, EINVAL,
		    "malformed domain '%.300s': a host name (letters, "
		    "digits, '-' and '.')",
		    s ? s : "");
	memset(&c, 0, sizeof(c));
	snprintf(name, sizeof(name), "%s", s);
	prov_lower(name);
	d.name = name;
	d.realm = prov_opt(req, "realm");
	d.digest_algs = prov_opt(req, "digest-algs");
	if (d.realm && !realm_ok(d.realm))
		return prov_say(
		    resp, EINVAL,
		    "bad --realm: 1..%d printable characters, no '\"' "
		    "or '\\'",
		    CF_STORE_REALM_MAX);
	if (d.digest_algs && !*d.digest_algs)
		d.digest_algs = NULL;
	err = cf_store_domain_add(st, &d);
	if (err == EALREADY)
		return prov_say(resp, err, "domain %s exists", name);
	if (err == EINVAL && d.digest_algs)
		return prov_say(
		    resp, err,
		    "bad --digest-algs '%.100s': a comma list of MD5, "
		    "SHA-256, SHA-512-256, each once",
		    d.digest_algs);
	if (err)
		return prov_store_fail(resp, err, "domain add");
	(void)cf_store_domain_get(st, name, prov_dom_copy_h, &c);
	prov_domain_changed(app, name);
	json_object_set_new(resp, "domain", json_string(name));
	json_object_set_new(resp, "realm", json_string(c.realm));
	json_object_set_new(resp, "digest_algs", json_string(c.algs));
	prov_message(resp, "domain %s added (realm %s%s%s)", name, c.realm,
	             *c.algs ? ", digest " : "", c.algs);
	return 0;
}

struct dom_list {
	struct cf_app *app;
	json_t *arr;
	int err;
};

static bool dom_list_h(const struct cf_store_domain *d, void *arg)
{
	struct dom_list *l = arg;
	json_t *o = json_pack("{s:s, s:s, s:s, s:b}", "name", d->name, "realm",
	                      d->realm ? d->realm : "", "digest_algs",
	                      d->digest_algs ? d->digest_algs : "", "config",
	                      domain_in_conf(l->app, d->name));

	if (!o || json_array_append_new(l->arr, o)) {
		l->err = ENOMEM;
		return true;
	}
	return false;
}

int cf_prov_domain_list_h(struct cf_app *app, const struct cf_mod_ctl_req *req,
                          json_t *resp)
{
	static const char *const allowed[] = {NULL};
	struct dom_list l = {app, json_array(), 0};
	struct cf_store *st;
	int err;

	if (!l.arr)
		return ENOMEM;
	err = prov_opts_check(req, resp, allowed);
	if (!err)
		err = prov_store_get(app, resp, &st);
	if (!err)
		err = cf_store_domain_list(st, dom_list_h, &l);
	if (!err)
		err = l.err;
	if (err) {
		json_decref(l.arr);
		return err == EINVAL
		           ? err
		           : prov_store_fail(resp, err, "domain list");
	}
	json_object_set_new(resp, "domains", l.arr);
	return 0;
}

int cf_prov_domain_set_h(struct cf_app *app, const struct cf_mod_ctl_req *req,
                         json_t *resp)
{
	static const char *const allowed[] = {"digest-algs", NULL};
	char name[CF_STORE_DOMAIN_MAX + 1];
	const char *algs = prov_opt(req, "digest-algs");
	struct prov_dom c;
	struct cf_store *st;
	int err;

	err = domain_args(app, req, resp, allowed, &st, name);
	if (err)
		return err;
	if (!algs)
		return prov_say(resp, EINVAL,
		                "missing --digest-algs LIST (\"default\": the "
		                "[auth] algorithms order)");
	if (!strcasecmp(algs, "default"))
		algs = NULL;
	err = prov_domain_known(st, resp, name);
	if (err)
		return err;
	err = cf_store_domain_set_algs(st, name, algs);
	if (err == EINVAL)
		return prov_say(resp, err,
		                "bad --digest-algs '%.100s': a comma list of "
		                "MD5, SHA-256, SHA-512-256, each once, or "
		                "default",
		                algs ? algs : "");
	if (err == ENOENT)
		return prov_say(resp, err, "unknown domain '%s'", name);
	if (err)
		return prov_store_fail(resp, err, "domain set");
	memset(&c, 0, sizeof(c));
	(void)cf_store_domain_get(st, name, prov_dom_copy_h, &c);
	prov_domain_changed(app, name);
	json_object_set_new(resp, "domain", json_string(name));
	json_object_set_new(resp, "digest_algs", json_string(c.algs));
	prov_message(resp, "domain %s: digest %s", name,
	             *c.algs ? c.algs : "default");
	return 0;
}

int cf_prov_domain_remove_h(struct cf_app *app,
                            const struct cf_mod_ctl_req *req, json_t *resp)
{
	static const char *const allowed[] = {NULL};
	char name[CF_STORE_DOMAIN_MAX + 1];
	struct cf_store *st;
	size_t users = 0;
	int err;

	err = domain_args(app, req, resp, allowed, &st, name);
	if (err)
		return err;
	err = prov_domain_known(st, resp, name);
	if (err)
		return err;
	if (domain_in_conf(app, name))
		return prov_say(resp, EPERM,
		                "domain %s is in [general] domain of the "
		                "configuration: remove it there first",
		                name);
	err = cf_store_subscriber_list(st, name, prov_count_h, &users);
	if (!err)
		err = cf_store_domain_remove(st, name);
	if (err == ENOENT)
		return prov_say(resp, err, "unknown domain '%s'", name);
	if (err)
		return prov_store_fail(resp, err, "domain remove");
	prov_domain_changed(app, name);
	json_object_set_new(resp, "domain", json_string(name));
	json_object_set_new(resp, "users_removed", json_integer(users));
	prov_message(resp, "domain %s removed with its %zu user%s", name, users,
	             users == 1 ? "" : "s");
	return 0;
}
