/* SPDX-License-Identifier: BSD-3-Clause */
/* prov.c - provisioning control commands over the store: domain add, list
 * and remove; user add, passwd, remove, list, show and reload; store show;
 * location show from the store (issue 3). */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "prov.h"
#include "auth/auth.h"
#include "registrar/registrar.h"

/* ------------------------------------------------------------ helpers */

static int say(json_t *resp, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* One line for the operator; returns err. */
static int say(json_t *resp, int err, const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	json_object_set_new(resp, "error", json_string(buf));
	return err;
}

static void message(json_t *resp, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* The line confabctl prints on success (without --json). */
static void message(json_t *resp, const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	json_object_set_new(resp, "message", json_string(buf));
}

static const char *arg(const struct cf_mod_ctl_req *req, size_t i)
{
	return json_string_value(json_array_get(req->args, i));
}

static const char *opt(const struct cf_mod_ctl_req *req, const char *name)
{
	return json_string_value(json_object_get(req->opts, name));
}

/* Every option given must be one of allowed (NULL-terminated). */
static int opts_check(const struct cf_mod_ctl_req *req, json_t *resp,
                      const char *const *allowed)
{
	const char *key;
	json_t *v;

	json_object_foreach(req->opts, key, v)
	{
		size_t i;

		for (i = 0; allowed[i]; i++) {
			if (!strcmp(allowed[i], key))
				break;
		}
		if (!allowed[i])
			return say(resp, EINVAL, "unknown option --%s", key);
	}
	return 0;
}

static int store_get(struct cf_app *app, json_t *resp, struct cf_store **stp)
{
	*stp = cf_app_store(app);
	if (!*stp)
		return say(resp, EINVAL, "no store");
	return 0;
}

/* A store error that the command did not expect: one generic line. */
static int store_fail(json_t *resp, int err, const char *what)
{
	if (err == ETIMEDOUT)
		return say(resp, err,
		           "%s: the store is locked by another process "
		           "(try again)",
		           what);
	if (err == ENOMEM)
		return err;
	return say(resp, err, "%s: %s", what, strerror(err));
}

static const struct cf_auth_api *auth_api(struct cf_app *app)
{
	const struct cf_mod *m;

	if (!cf_app_online(app))
		return NULL;
	m = cf_mod_find("auth");
	return m ? m->api : NULL;
}

static void user_changed(struct cf_app *app, const char *user,
                         const char *domain)
{
	const struct cf_auth_api *api = auth_api(app);

	if (api && api->user_changed)
		api->user_changed(app, user, domain);
}

static void domain_changed(struct cf_app *app, const char *domain)
{
	const struct cf_auth_api *api = auth_api(app);

	if (api && api->domain_changed)
		api->domain_changed(app, domain);
}

static bool is_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9');
}

static bool is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
	       (c >= 'A' && c <= 'F');
}

bool cf_prov_domain_ok(const char *s)
{
	size_t n = s ? strlen(s) : 0;

	if (!n || n > CF_STORE_DOMAIN_MAX || s[0] == '.' || s[0] == '-' ||
	    s[n - 1] == '.' || s[n - 1] == '-')
		return false;
	for (size_t i = 0; i < n; i++) {
		if (!is_alnum(s[i]) && s[i] != '-' && s[i] != '.')
			return false;
		if (s[i] == '.' && s[i + 1] == '.')
			return false;
	}
	return true;
}

/* RFC 3261 §25.1 user = 1*( unreserved / escaped / user-unreserved ). */
static bool user_ok(const char *s, size_t n)
{
	if (!n || n > CF_STORE_USER_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '%') {
			if (i + 2 >= n || !is_hex(s[i + 1]) ||
			    !is_hex(s[i + 2]))
				return false;
			i += 2;
			continue;
		}
		if (!is_alnum(s[i]) && !strchr("-_.!~*'()&=+$,;?/", s[i]))
			return false;
	}
	return true;
}

static void lower(char *s)
{
	for (; *s; s++) {
		if (*s >= 'A' && *s <= 'Z')
			*s += 'a' - 'A';
	}
}

int cf_prov_aor_parse(const char *s, char *user, char *domain)
{
	const char *at;
	size_t ul, dl;

	if (!s || !user || !domain)
		return EINVAL;
	if (!strncasecmp(s, "sip:", 4))
		s += 4;
	at = strchr(s, '@');
	if (!at || strchr(at + 1, '@'))
		return EINVAL;
	ul = at - s;
	dl = strlen(at + 1);
	if (!user_ok(s, ul) || dl > CF_STORE_DOMAIN_MAX)
		return EINVAL;
	memcpy(user, s, ul);
	user[ul] = '\0';
	memcpy(domain, at + 1, dl + 1);
	if (!cf_prov_domain_ok(domain))
		return EINVAL;
	lower(domain);
	return 0;
}

static int aor_get(const struct cf_mod_ctl_req *req, json_t *resp, char *user,
                   char *domain)
{
	const char *s = arg(req, 0);

	if (cf_prov_aor_parse(s, user, domain))
		return say(resp, EINVAL,
		           "malformed AOR '%.300s': expected user@domain or "
		           "sip:user@domain",
		           s ? s : "");
	return 0;
}

/* The domain must exist: "unknown domain" otherwise. */
static int domain_known(struct cf_store *st, json_t *resp, const char *domain)
{
	int err = cf_store_domain_get(st, domain, NULL, NULL);

	if (err == ENOENT)
		return say(resp, ENOENT,
		           "unknown domain '%s' (see confabctl domain list)",
		           domain);
	if (err)
		return store_fail(resp, err, "domain");
	return 0;
}

static int password_get(const struct cf_mod_ctl_req *req, json_t *resp,
                        const char **pwp)
{
	const char *pw = opt(req, "password");

	if (!pw)
		return say(resp, EINVAL, "missing --password PW");
	if (!*pw)
		return say(resp, EINVAL, "empty password");
	if (strlen(pw) > CF_STORE_PASSWORD_MAX)
		return say(resp, EINVAL, "password longer than %d bytes",
		           CF_STORE_PASSWORD_MAX);
	*pwp = pw;
	return 0;
}

/* --------------------------------------------------------- store show */

int cf_prov_store_uri(const struct cf_app_conf *conf, char *buf, size_t size)
{
	const char *uri = cf_app_conf_str(conf, "store", "uri");
	const char *dir = cf_app_conf_str(conf, "general", "data_dir");
	char cwd[PATH_MAX];
	int n;

	if (uri)
		n = snprintf(buf, size, "%s", uri);
	else if (dir[0] != '/' && getcwd(cwd, sizeof(cwd)))
		n = snprintf(buf, size, "sqlite:%s/%s/confab.db", cwd, dir);
	else
		n = snprintf(buf, size, "sqlite:%s/confab.db", dir);
	if (n < 0 || (size_t)n >= size)
		return ENOMEM;
	return 0;
}

int cf_prov_store_show_h(struct cf_app *app, const struct cf_mod_ctl_req *req,
                         json_t *resp)
{
	struct cf_store *st;
	char uri[4096];
	unsigned v = 0;
	int err;

	(void)req;
	err = store_get(app, resp, &st);
	if (err)
		return err;
	err = cf_prov_store_uri(cf_app_conf(app), uri, sizeof(uri));
	if (err)
		return say(resp, err, "store uri too long");
	err = cf_store_version(st, &v);
	if (err)
		return store_fail(resp, err, "store");
	json_object_set_new(resp, "uri", json_string(uri));
	json_object_set_new(resp, "version", json_integer(v));
	json_object_set_new(resp, "online", json_boolean(cf_app_online(app)));
	message(resp, "%s, schema version %u", uri, v);
	return 0;
}

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

struct dom_copy {
	char realm[CF_STORE_REALM_MAX + 1];
	char algs[CF_STORE_ALGS_MAX + 1];
};

static bool dom_copy_h(const struct cf_store_domain *d, void *arg)
{
	struct dom_copy *c = arg;

	snprintf(c->realm, sizeof(c->realm), "%s", d->realm ? d->realm : "");
	snprintf(c->algs, sizeof(c->algs), "%s",
	         d->digest_algs ? d->digest_algs : "");
	return true;
}

int cf_prov_domain_add_h(struct cf_app *app, const struct cf_mod_ctl_req *req,
                         json_t *resp)
{
	static const char *const allowed[] = {"realm", "digest-algs", NULL};
	struct cf_store_domain d = {0};
	char name[CF_STORE_DOMAIN_MAX + 1];
	struct dom_copy c;
	const char *s = arg(req, 0);
	struct cf_store *st;
	int err;

	err = opts_check(req, resp, allowed);
	if (!err)
		err = store_get(app, resp, &st);
	if (err)
		return err;
	if (!cf_prov_domain_ok(s))
		return say(resp, EINVAL,
		           "malformed domain '%.300s': a host name (letters, "
		           "digits, '-' and '.')",
		           s ? s : "");
	memset(&c, 0, sizeof(c));
	snprintf(name, sizeof(name), "%s", s);
	lower(name);
	d.name = name;
	d.realm = opt(req, "realm");
	d.digest_algs = opt(req, "digest-algs");
	if (d.realm && !realm_ok(d.realm))
		return say(resp, EINVAL,
		           "bad --realm: 1..%d printable characters, no '\"' "
		           "or '\\'",
		           CF_STORE_REALM_MAX);
	if (d.digest_algs && !*d.digest_algs)
		d.digest_algs = NULL;
	err = cf_store_domain_add(st, &d);
	if (err == EALREADY)
		return say(resp, err, "domain %s exists", name);
	if (err == EINVAL && d.digest_algs)
		return say(resp, err,
		           "bad --digest-algs '%.100s': a comma list of MD5, "
		           "SHA-256, SHA-512-256, each once",
		           d.digest_algs);
	if (err)
		return store_fail(resp, err, "domain add");
	(void)cf_store_domain_get(st, name, dom_copy_h, &c);
	domain_changed(app, name);
	json_object_set_new(resp, "domain", json_string(name));
	json_object_set_new(resp, "realm", json_string(c.realm));
	json_object_set_new(resp, "digest_algs", json_string(c.algs));
	message(resp, "domain %s added (realm %s%s%s)", name, c.realm,
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
	err = opts_check(req, resp, allowed);
	if (!err)
		err = store_get(app, resp, &st);
	if (!err)
		err = cf_store_domain_list(st, dom_list_h, &l);
	if (!err)
		err = l.err;
	if (err) {
		json_decref(l.arr);
		return err == EINVAL ? err
		                     : store_fail(resp, err, "domain list");
	}
	json_object_set_new(resp, "domains", l.arr);
	return 0;
}

static bool count_h(const struct cf_store_subscriber *s, void *arg)
{
	(void)s;
	(*(size_t *)arg)++;
	return false;
}

int cf_prov_domain_remove_h(struct cf_app *app,
                            const struct cf_mod_ctl_req *req, json_t *resp)
{
	static const char *const allowed[] = {NULL};
	char name[CF_STORE_DOMAIN_MAX + 1];
	const char *s = arg(req, 0);
	struct cf_store *st;
	size_t users = 0;
	int err;

	err = opts_check(req, resp, allowed);
	if (!err)
		err = store_get(app, resp, &st);
	if (err)
		return err;
	if (!cf_prov_domain_ok(s))
		return say(resp, EINVAL, "malformed domain '%.300s'",
		           s ? s : "");
	snprintf(name, sizeof(name), "%s", s);
	lower(name);
	err = domain_known(st, resp, name);
	if (err)
		return err;
	if (domain_in_conf(app, name))
		return say(resp, EPERM,
		           "domain %s is in [general] domain of the "
		           "configuration: remove it there first",
		           name);
	err = cf_store_subscriber_list(st, name, count_h, &users);
	if (!err)
		err = cf_store_domain_remove(st, name);
	if (err == ENOENT)
		return say(resp, err, "unknown domain '%s'", name);
	if (err)
		return store_fail(resp, err, "domain remove");
	domain_changed(app, name);
	json_object_set_new(resp, "domain", json_string(name));
	json_object_set_new(resp, "users_removed", json_integer(users));
	message(resp, "domain %s removed with its %zu user%s", name, users,
	        users == 1 ? "" : "s");
	return 0;
}

/* -------------------------------------------------------------- users */

int cf_prov_user_add_h(struct cf_app *app, const struct cf_mod_ctl_req *req,
                       json_t *resp)
{
	static const char *const allowed[] = {"password", NULL};
	char user[CF_STORE_USER_MAX + 1], domain[CF_STORE_DOMAIN_MAX + 1];
	struct cf_store *st;
	const char *pw = NULL;
	int err;

	err = opts_check(req, resp, allowed);
	if (!err)
		err = store_get(app, resp, &st);
	if (!err)
		err = aor_get(req, resp, user, domain);
	if (!err)
		err = password_get(req, resp, &pw);
	if (!err)
		err = domain_known(st, resp, domain);
	if (err)
		return err;
	err = cf_store_subscriber_add(st, user, domain, pw);
	if (err == EALREADY)
		return say(resp, err, "user %s@%s exists", user, domain);
	if (err == ENOENT)
		return say(resp, err, "unknown domain '%s'", domain);
	if (err)
		return store_fail(resp, err, "user add");
	user_changed(app, user, domain);
	json_object_set_new(resp, "aor",
	                    json_sprintf("sip:%s@%s", user, domain));
	message(resp, "user %s@%s added", user, domain);
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

	err = opts_check(req, resp, allowed);
	if (!err)
		err = store_get(app, resp, &st);
	if (!err)
		err = aor_get(req, resp, user, domain);
	if (!err)
		err = password_get(req, resp, &pw);
	if (!err)
		err = domain_known(st, resp, domain);
	if (err)
		return err;
	err = cf_store_subscriber_passwd(st, user, domain, pw);
	if (err == ENOENT)
		return say(resp, err, "unknown user %s@%s", user, domain);
	if (err)
		return store_fail(resp, err, "user passwd");
	user_changed(app, user, domain);
	json_object_set_new(resp, "aor",
	                    json_sprintf("sip:%s@%s", user, domain));
	message(resp, "password of %s@%s changed", user, domain);
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

	err = opts_check(req, resp, allowed);
	if (!err)
		err = store_get(app, resp, &st);
	if (!err)
		err = aor_get(req, resp, user, domain);
	if (!err)
		err = domain_known(st, resp, domain);
	if (err)
		return err;
	err = cf_store_subscriber_remove(st, user, domain);
	if (err == ENOENT)
		return say(resp, err, "unknown user %s@%s", user, domain);
	if (err)
		return store_fail(resp, err, "user remove");
	snprintf(aor, sizeof(aor), "sip:%s@%s", user, domain);
	/* Offline, its stored bindings go too; online the registrar holds
	 * them in memory and they expire (auth refuses their refresh). */
	if (!cf_app_online(app))
		(void)cf_store_location_delete_aor(st, aor, NULL);
	user_changed(app, user, domain);
	json_object_set_new(resp, "aor", json_string(aor));
	message(resp, "user %s@%s removed", user, domain);
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
	const char *s = arg(req, 0);
	struct cf_store *st;
	int err;

	if (!l.arr)
		return ENOMEM;
	err = opts_check(req, resp, allowed);
	if (!err)
		err = store_get(app, resp, &st);
	if (!err && s) {
		if (!cf_prov_domain_ok(s)) {
			err = say(resp, EINVAL, "malformed domain '%.300s'", s);
		} else {
			snprintf(domain, sizeof(domain), "%s", s);
			lower(domain);
			err = domain_known(st, resp, domain);
		}
	}
	if (!err) {
		err = cf_store_subscriber_list(st, *domain ? domain : NULL,
		                               user_list_h, &l);
		if (!err)
			err = l.err;
		if (err)
			err = store_fail(resp, err, "user list");
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
	if (b->q >= 0)
		json_object_set_new(o, "q", json_real(b->q / 1000.0));
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
	struct dom_copy c;
	json_t *algs, *binds = NULL;
	struct cf_store *st;
	int err;

	err = opts_check(req, resp, allowed);
	if (!err)
		err = store_get(app, resp, &st);
	if (!err)
		err = aor_get(req, resp, user, domain);
	if (!err)
		err = domain_known(st, resp, domain);
	if (err)
		return err;
	memset(&sub, 0, sizeof(sub));
	memset(&c, 0, sizeof(c));
	err = cf_store_subscriber_get(st, user, domain, &sub);
	if (err == ENOENT)
		return say(resp, err, "unknown user %s@%s", user, domain);
	if (err)
		return store_fail(resp, err, "user show");
	(void)cf_store_domain_get(st, domain, dom_copy_h, &c);
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
		return err ? store_fail(resp, err, "bindings") : ENOMEM;
	}
	json_object_set_new(resp, "aor", json_string(aor));
	json_object_set_new(resp, "user", json_string(user));
	json_object_set_new(resp, "domain", json_string(domain));
	json_object_set_new(resp, "realm", json_string(c.realm));
	json_object_set_new(resp, "algorithms", algs);
	json_object_set_new(resp, "created", json_integer(sub.created));
	json_object_set_new(resp, "updated", json_integer(sub.updated));
	json_object_set_new(resp, "bindings", binds);
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
	const struct cf_auth_api *api = auth_api(app);
	struct name_pair p = {0};
	struct cf_store *st;
	size_t users = 0;
	int err;

	(void)req;
	err = store_get(app, resp, &st);
	if (err)
		return err;
	if (!cf_app_online(app))
		return say(resp, EINVAL,
		           "confabd is not running: nothing to reload");
	if (api && api->reload) {
		err = api->reload(app);
		if (err)
			return store_fail(resp, err, "reload");
		err = cf_store_subscriber_list(st, NULL, count_h, &users);
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
		err = cf_store_subscriber_list(st, NULL, count_h, &users);
	}
	for (size_t i = 0; i < p.n; i++)
		free(p.v[i]);
	free(p.v);
	if (err)
		return store_fail(resp, err, "reload");
	json_object_set_new(resp, "users", json_integer(users));
	message(resp, "credentials reloaded: %zu users", users);
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

	err = opts_check(req, resp, allowed);
	if (!err)
		err = store_get(app, resp, &st);
	if (!err && arg(req, 0))
		err = aor_get(req, resp, user, domain);
	if (err)
		return err;
	if (arg(req, 0))
		snprintf(aor, sizeof(aor), "sip:%s@%s", user, domain);
	err = bindings_store(st, arg(req, 0) ? aor : NULL, &binds);
	if (err)
		return store_fail(resp, err, "location show");
	json_object_set_new(resp, "count",
	                    json_integer(json_array_size(binds)));
	json_object_set_new(resp, "bindings", binds);
	return 0;
}
