/* SPDX-License-Identifier: BSD-3-Clause */
/* app.c - the application the modules run in: configuration, the stack,
 * our domains and addresses, the Allow set, and reload. */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "mod.h"
#include "auth/auth.h"

enum { MAX_DOMAINS = 16, MAX_ADDRS = 64, ALLOW_MAX = 160 };

struct cf_app {
	struct cf_app_conf *conf;
	struct cf_sip *sip;
	struct cf_store *store; /* one reference, or NULL */
	atomic_bool online;     /* modules initialised (cf_app_online) */
	char *domains[MAX_DOMAINS];
	size_t ndomains;
	struct cf_sa addrs[MAX_ADDRS];
	size_t naddrs;
	char allow[ALLOW_MAX];
	uint64_t started;
};

static void app_destroy(void *data)
{
	struct cf_app *app = data;

	for (size_t i = 0; i < app->ndomains; i++)
		cf_mem_deref(app->domains[i]);
	cf_mem_deref(app->store);
	cf_mem_deref(app->conf);
}

static bool domain_add(const char *value, void *arg)
{
	struct cf_app *app = arg;

	if (app->ndomains >= MAX_DOMAINS)
		return true;
	app->domains[app->ndomains] = cf_mem_strdup(value);
	if (!app->domains[app->ndomains])
		return true;
	app->ndomains++;
	return false;
}

/* RFC 3261 §20.5: the methods, in the order we like to print them. */
static void allow_build(struct cf_app *app)
{
	static const enum cf_sip_method order[] = {
	    CF_SIP_M_INVITE,  CF_SIP_M_ACK,       CF_SIP_M_CANCEL,
	    CF_SIP_M_BYE,     CF_SIP_M_OPTIONS,   CF_SIP_M_REGISTER,
	    CF_SIP_M_PRACK,   CF_SIP_M_SUBSCRIBE, CF_SIP_M_NOTIFY,
	    CF_SIP_M_PUBLISH, CF_SIP_M_INFO,      CF_SIP_M_REFER,
	    CF_SIP_M_MESSAGE, CF_SIP_M_UPDATE,
	};
	uint32_t methods = 0;
	size_t len = 0;

	for (size_t i = 0; cf_mods[i]; i++)
		methods |= cf_mods[i]->methods;
	app->allow[0] = '\0';
	for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		int n;

		if (!(methods & (1u << order[i])))
			continue;
		n = snprintf(app->allow + len, sizeof(app->allow) - len, "%s%s",
		             len ? ", " : "", cf_sip_method_name(order[i]));
		if (n < 0 || (size_t)n >= sizeof(app->allow) - len)
			break;
		len += n;
	}
}

int cf_app_alloc(struct cf_app **appp, struct cf_app_conf *conf)
{
	struct cf_app *app;
	int err = 0;

	if (!appp || !conf)
		return EINVAL;
	app = cf_mem_zalloc(sizeof(*app), app_destroy);
	if (!app)
		return ENOMEM;
	app->conf = cf_mem_ref(conf);
	app->started = cf_clock_wall_ms() / 1000;
	cf_app_conf_apply(conf, "general", "domain", domain_add, app);
	if (!app->ndomains) {
		err = ENOMEM;
		goto out;
	}
	allow_build(app);
out:
	if (err)
		cf_mem_deref(app);
	else
		*appp = app;
	return err;
}

void cf_app_set_sip(struct cf_app *app, struct cf_sip *sip)
{
	if (app)
		app->sip = sip;
}

struct cf_sip *cf_app_sip(const struct cf_app *app)
{
	return app ? app->sip : NULL;
}

void cf_app_set_store(struct cf_app *app, struct cf_store *st)
{
	struct cf_store *old;

	if (!app)
		return;
	old = app->store;
	app->store = st ? cf_mem_ref(st) : NULL;
	cf_mem_deref(old);
}

struct cf_store *cf_app_store(const struct cf_app *app)
{
	return app ? app->store : NULL;
}

bool cf_app_online(const struct cf_app *app)
{
	return app && atomic_load(&app->online);
}

void cf_app_set_online(struct cf_app *app, bool online)
{
	if (app)
		atomic_store(&app->online, online);
}

const struct cf_app_conf *cf_app_conf(const struct cf_app *app)
{
	return app ? app->conf : NULL;
}

uint64_t cf_app_started(const struct cf_app *app)
{
	return app ? app->started : 0;
}

const char *cf_app_domain(const struct cf_app *app)
{
	return app && app->ndomains ? app->domains[0] : "";
}

const char *cf_app_allow(const struct cf_app *app)
{
	return app ? app->allow : "";
}

bool cf_app_ext_supported(const struct cf_app *app, const struct cf_pl *tag)
{
	/* the registrar's: Path (RFC 3327), outbound (RFC 5626), GRUU
	 * (RFC 5627) */
	static const char *const tags[] = {"path", "outbound", "gruu"};

	(void)app;
	for (size_t i = 0; tag && i < sizeof(tags) / sizeof(tags[0]); i++) {
		if (!cf_pl_strcasecmp(tag, tags[i]))
			return true;
	}
	return false;
}

int cf_app_addr_add(struct cf_app *app, const struct cf_sa *addr)
{
	if (!app || !addr)
		return EINVAL;
	for (size_t i = 0; i < app->naddrs; i++) {
		if (cf_sa_eq(&app->addrs[i], addr))
			return 0;
	}
	if (app->naddrs >= MAX_ADDRS)
		return ENOMEM;
	app->addrs[app->naddrs++] = *addr;
	return 0;
}

/* O(domains + addresses): a handful each. */
bool cf_app_uri_is_local(const struct cf_app *app, const struct cf_sip_uri *u)
{
	struct cf_sa sa;

	if (!app || !u || !cf_pl_isset(&u->host))
		return false;

	if (!cf_sa_set_pl(&sa, &u->host, u->port)) {
		for (size_t i = 0; i < app->naddrs; i++) {
			if (!cf_sa_addr_eq(&sa, &app->addrs[i]))
				continue;
			/* no port: whatever port we listen on */
			if (!u->port || u->port == cf_sa_port(&app->addrs[i]))
				return true;
		}
		return false;
	}
	for (size_t i = 0; i < app->ndomains; i++) {
		if (!cf_pl_strcasecmp(&u->host, app->domains[i]))
			return true;
	}
	/* the store's domains (confabctl domain add), from the auth cache */
	if (cf_app_online(app)) {
		const struct cf_mod *auth = cf_mod_find("auth");
		const struct cf_auth_api *api = auth ? auth->api : NULL;

		if (api && api->domain_exists)
			return api->domain_exists((struct cf_app *)app,
			                          &u->host);
	}
	return false;
}

/* All values of a key joined with ", " (for reload comparisons). */
struct join {
	char *buf;
	size_t size, len;
};

static bool join_item(const char *value, void *arg)
{
	struct join *j = arg;
	int n = snprintf(j->buf + j->len, j->size - j->len, "%s%s",
	                 j->len ? ", " : "", value);

	if (n > 0 && (size_t)n < j->size - j->len)
		j->len += n;
	return false;
}

static void joined(const struct cf_app_conf *c, const struct cf_mod_key *k,
                   char *buf, size_t size)
{
	struct join j = {buf, size, 0};

	buf[0] = '\0';
	cf_app_conf_apply(c, k->section, k->key, join_item, &j);
}

static void key_compare(struct cf_app *app, const struct cf_app_conf *old,
                        const struct cf_mod_key *k)
{
	char a[512], b[512];

	joined(old, k, a, sizeof(a));
	joined(app->conf, k, b, sizeof(b));
	if (!strcmp(a, b))
		return;
	if (k->flags & CF_MOD_KEY_LIVE)
		cf_log(CF_LOG_NOTICE, NULL, "reload: [%s] %s = %s", k->section,
		       k->key, b);
	else
		cf_log(CF_LOG_WARN, NULL,
		       "reload: [%s] %s changed; it takes effect at the "
		       "next restart",
		       k->section, k->key);
}

void cf_app_reload(struct cf_app *app, struct cf_app_conf *conf)
{
	struct cf_app_conf *old;
	enum cf_log_level lvl;

	if (!app || !conf)
		return;
	old = app->conf;
	app->conf = cf_mem_ref(conf);

	for (const struct cf_mod_key *k = cf_app_keys; k->section; k++)
		key_compare(app, old, k);
	for (size_t i = 0; cf_mods[i]; i++) {
		for (const struct cf_mod_key *k = cf_mods[i]->keys;
		     k && k->section; k++)
			key_compare(app, old, k);
	}
	cf_mem_deref(old);

	if (!cf_log_level_decode(cf_app_conf_str(conf, "general", "log_level"),
	                         &lvl))
		cf_log_set_level(lvl);
	/* the [tls] keys are live: new certificates for new connections */
	(void)cf_app_tls_apply(app);
	cf_mod_reload_all(app);
}
