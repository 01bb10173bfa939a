/* SPDX-License-Identifier: BSD-3-Clause */
/* prov.c - what the provisioning commands share (options, errors, AOR and
 * domain checks, cache refresh through the auth API) and store show. */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "prov_int.h"
#include "auth/auth.h"

/* ------------------------------------------------------------ helpers */

/* One line for the operator; returns err. */
int prov_say(json_t *resp, int err, const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	json_object_set_new(resp, "error", json_string(buf));
	return err;
}

/* The line confabctl prints on success (without --json). */
void prov_message(json_t *resp, const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	json_object_set_new(resp, "message", json_string(buf));
}

const char *prov_arg(const struct cf_mod_ctl_req *req, size_t i)
{
	return json_string_value(json_array_get(req->args, i));
}

const char *prov_opt(const struct cf_mod_ctl_req *req, const char *name)
{
	return json_string_value(json_object_get(req->opts, name));
}

/* Every option given must be one of allowed (NULL-terminated). */
int prov_opts_check(const struct cf_mod_ctl_req *req, json_t *resp,
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
			return prov_say(resp, EINVAL, "unknown option --%s",
			                key);
	}
	return 0;
}

int prov_store_get(struct cf_app *app, json_t *resp, struct cf_store **stp)
{
	*stp = cf_app_store(app);
	if (!*stp)
		return prov_say(resp, EINVAL, "no store");
	return 0;
}

/* A store error that the command did not expect: one generic line. */
int prov_store_fail(json_t *resp, int err, const char *what)
{
	if (err == ETIMEDOUT)
		return prov_say(resp, err,
		                "%s: the store is locked by another process "
		                "(try again)",
		                what);
	if (err == ENOMEM)
		return err;
	return prov_say(resp, err, "%s: %s", what, strerror(err));
}

const struct cf_auth_api *prov_auth_api(struct cf_app *app)
{
	const struct cf_mod *m;

	if (!cf_app_online(app))
		return NULL;
	m = cf_mod_find("auth");
	return m ? m->api : NULL;
}

void prov_user_changed(struct cf_app *app, const char *user, const char *domain)
{
	const struct cf_auth_api *api = prov_auth_api(app);

	if (api && api->user_changed)
		api->user_changed(app, user, domain);
}

void prov_domain_changed(struct cf_app *app, const char *domain)
{
	const struct cf_auth_api *api = prov_auth_api(app);

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

void prov_lower(char *s)
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
	prov_lower(domain);
	return 0;
}

int prov_aor_get(const struct cf_mod_ctl_req *req, json_t *resp, char *user,
                 char *domain)
{
	const char *s = prov_arg(req, 0);

	if (cf_prov_aor_parse(s, user, domain))
		return prov_say(
		    resp, EINVAL,
		    "malformed AOR '%.300s': expected user@domain or "
		    "sip:user@domain",
		    s ? s : "");
	return 0;
}

/* The domain must exist: "unknown domain" otherwise. */
int prov_domain_known(struct cf_store *st, json_t *resp, const char *domain)
{
	int err = cf_store_domain_get(st, domain, NULL, NULL);

	if (err == ENOENT)
		return prov_say(
		    resp, ENOENT,
		    "unknown domain '%s' (see confabctl domain list)", domain);
	if (err)
		return prov_store_fail(resp, err, "domain");
	return 0;
}

int prov_password_get(const struct cf_mod_ctl_req *req, json_t *resp,
                      const char **pwp)
{
	const char *pw = prov_opt(req, "password");

	if (!pw)
		return prov_say(resp, EINVAL, "missing --password PW");
	if (!*pw)
		return prov_say(resp, EINVAL, "empty password");
	if (strlen(pw) > CF_STORE_PASSWORD_MAX)
		return prov_say(resp, EINVAL, "password longer than %d bytes",
		                CF_STORE_PASSWORD_MAX);
	*pwp = pw;
	return 0;
}

bool prov_dom_copy_h(const struct cf_store_domain *d, void *arg)
{
	struct prov_dom *c = arg;

	snprintf(c->realm, sizeof(c->realm), "%s", d->realm ? d->realm : "");
	snprintf(c->algs, sizeof(c->algs), "%s",
	         d->digest_algs ? d->digest_algs : "");
	return true;
}

bool prov_count_h(const struct cf_store_subscriber *s, void *arg)
{
	(void)s;
	(*(size_t *)arg)++;
	return false;
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
	err = prov_store_get(app, resp, &st);
	if (err)
		return err;
	err = cf_prov_store_uri(cf_app_conf(app), uri, sizeof(uri));
	if (err)
		return prov_say(resp, err, "store uri too long");
	err = cf_store_version(st, &v);
	if (err)
		return prov_store_fail(resp, err, "store");
	json_object_set_new(resp, "uri", json_string(uri));
	json_object_set_new(resp, "version", json_integer(v));
	json_object_set_new(resp, "online", json_boolean(cf_app_online(app)));
	prov_message(resp, "%s, schema version %u", uri, v);
	return 0;
}
