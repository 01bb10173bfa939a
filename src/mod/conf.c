/* SPDX-License-Identifier: BSD-3-Clause */
/* conf.c - confab.conf validated against the keys the daemon and the
 * modules declare, with --set overrides and defaults. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mod.h"

enum { MAX_ENTRIES = 1024, MAX_ITEM = 512 };

struct entry {
	const struct cf_mod_key *k;
	char *value;
	int line; /* 0 for --set */
};

struct cf_app_conf {
	struct entry *v; /* cf_mem block */
	size_t n;
};

static void conf_destroy(void *data)
{
	struct cf_app_conf *c = data;

	for (size_t i = 0; i < c->n; i++)
		cf_mem_deref(c->v[i].value);
	cf_mem_deref(c->v);
}

const struct cf_mod_key *cf_mod_key_find(const char *section, const char *key)
{
	for (const struct cf_mod_key *k = cf_app_keys; k->section; k++) {
		if (!strcasecmp(k->section, section) &&
		    !strcasecmp(k->key, key))
			return k;
	}
	for (size_t i = 0; cf_mods[i]; i++) {
		const struct cf_mod_key *k = cf_mods[i]->keys;

		for (; k && k->section; k++) {
			if (!strcasecmp(k->section, section) &&
			    !strcasecmp(k->key, key))
				return k;
		}
	}
	return NULL;
}

/* Split s on commas into trimmed items; calls h for each non-empty one. */
static bool items_apply(const char *s, cf_app_conf_val_h *h, void *arg)
{
	char item[MAX_ITEM];

	while (s && *s) {
		const char *comma = strchr(s, ',');
		size_t len = comma ? (size_t)(comma - s) : strlen(s);
		struct cf_pl pl = {s, len};

		cf_pl_trim(&pl);
		if (pl.l && !cf_pl_strcpy(&pl, item, sizeof(item)) &&
		    h(item, arg))
			return true;
		s = comma ? comma + 1 : NULL;
	}
	return false;
}

static bool token_ok(const char *s, const char *extra)
{
	if (!*s)
		return false;
	for (; *s; s++) {
		if (!isalnum((unsigned char)*s) && !strchr(extra, *s))
			return false;
	}
	return true;
}

struct check {
	const struct cf_mod_key *k;
	char *why;
	size_t whysize;
	int err;
};

static bool item_check(const char *value, void *arg)
{
	struct check *c = arg;
	struct cf_app_listen l[2];
	size_t n;

	switch (c->k->type) {
	case CF_MOD_KEY_LISTEN:
		if (cf_app_listen_decode(value, l, &n)) {
			snprintf(c->why, c->whysize,
			         "'%s' is not [udp:|tcp:|tls:|ws:|wss:]ADDRESS[:PORT]",
			         value);
			c->err = EINVAL;
		}
		break;
	case CF_MOD_KEY_HOST:
		if (!token_ok(value, "-.")) {
			snprintf(c->why, c->whysize, "'%s' is not a host name",
			         value);
			c->err = EINVAL;
		}
		break;
	default:
		break;
	}
	return c->err != 0;
}

int cf_mod_key_check(const struct cf_mod_key *k, const char *value, char *why,
                     size_t whysize)
{
	struct check c = {k, why, whysize, 0};
	enum cf_log_level lvl;
	struct cf_pl pl;
	uint32_t u;

	if (!k || !value)
		return EINVAL;
	if (!*value) {
		snprintf(why, whysize, "empty value");
		return EINVAL;
	}

	switch (k->type) {
	case CF_MOD_KEY_STR:
		return 0;
	case CF_MOD_KEY_UINT:
		cf_pl_set_str(&pl, value);
		if (cf_pl_u32(&pl, &u)) {
			snprintf(why, whysize, "'%s' is not a number", value);
			return EINVAL;
		}
		if (u < k->min || u > k->max) {
			snprintf(why, whysize, "%u is out of range %u..%u", u,
			         k->min, k->max);
			return EINVAL;
		}
		return 0;
	case CF_MOD_KEY_BOOL:
		if (!strcasecmp(value, "yes") || !strcasecmp(value, "no") ||
		    !strcasecmp(value, "true") || !strcasecmp(value, "false") ||
		    !strcasecmp(value, "on") || !strcasecmp(value, "off") ||
		    !strcmp(value, "1") || !strcmp(value, "0"))
			return 0;
		snprintf(why, whysize, "'%s' is not yes or no", value);
		return EINVAL;
	case CF_MOD_KEY_LOGLEVEL:
		if (!cf_log_level_decode(value, &lvl))
			return 0;
		snprintf(why, whysize,
		         "'%s' is not debug, info, notice, warn or error",
		         value);
		return EINVAL;
	case CF_MOD_KEY_TOKEN:
		/* RFC 3261 §25.1 unreserved, the safe subset for a user */
		if (token_ok(value, "-_.!~*'+"))
			return 0;
		snprintf(why, whysize, "'%s' is not a SIP user name", value);
		return EINVAL;
	case CF_MOD_KEY_TLSVERIFY:
		if (!strcasecmp(value, "no") ||
		    !strcasecmp(value, "optional") ||
		    !strcasecmp(value, "require"))
			return 0;
		snprintf(why, whysize, "'%s' is not no, optional or require",
		         value);
		return EINVAL;
	case CF_MOD_KEY_TLSVERSION:
		if (!strcasecmp(value, "TLS1.2") ||
		    !strcasecmp(value, "TLS1.3"))
			return 0;
		snprintf(why, whysize, "'%s' is not TLS1.2 or TLS1.3", value);
		return EINVAL;
	case CF_MOD_KEY_LISTEN:
	case CF_MOD_KEY_HOST:
		if (!(k->flags & CF_MOD_KEY_LIST) && strchr(value, ',')) {
			snprintf(why, whysize, "takes one value");
			return EINVAL;
		}
		items_apply(value, item_check, &c);
		return c.err;
	}
	return EINVAL;
}

struct load {
	struct cf_app_conf *c;
	const char *name;
	const char *path; /* the file, or NULL */
	struct cf_mbuf *errs;
	const char *const *sets;
	size_t nsets;
	int err;
};

static void errf(struct load *ld, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void errf(struct load *ld, int line, const char *fmt, ...)
{
	va_list ap;

	if (!ld->err)
		ld->err = EINVAL;
	if (!ld->errs)
		return;
	if (line > 0)
		cf_mbuf_printf(ld->errs, "%s:%d: ", ld->name, line);
	else
		cf_mbuf_printf(ld->errs, "%s: ", ld->name);
	va_start(ap, fmt);
	cf_mbuf_vprintf(ld->errs, fmt, ap);
	va_end(ap);
	cf_mbuf_write_str(ld->errs, "\n");
}

static int entry_add(struct cf_app_conf *c, const struct cf_mod_key *k,
                     const char *value, int line)
{
	struct entry *v;

	if (c->n >= MAX_ENTRIES)
		return EMSGSIZE;
	v = c->v ? cf_mem_realloc(c->v, (c->n + 1) * sizeof(*v))
	         : cf_mem_alloc(sizeof(*v), NULL);
	if (!v)
		return ENOMEM;
	c->v = v;
	v[c->n].value = cf_mem_strdup(value);
	if (!v[c->n].value)
		return ENOMEM;
	v[c->n].k = k;
	v[c->n].line = line;
	c->n++;
	return 0;
}

/* Is section.key given by a --set (those replace the file's values)? */
static bool set_overrides(const struct load *ld, const struct cf_mod_key *k)
{
	for (size_t i = 0; i < ld->nsets; i++) {
		const char *s = ld->sets[i];
		const char *dot = strchr(s, '.');
		const char *eq = strchr(s, '=');

		if (!dot || !eq || eq < dot)
			continue;
		if ((size_t)(dot - s) == strlen(k->section) &&
		    !strncasecmp(s, k->section, dot - s) &&
		    (size_t)(eq - dot - 1) == strlen(k->key) &&
		    !strncasecmp(dot + 1, k->key, eq - dot - 1))
			return true;
	}
	return false;
}

static int record(struct load *ld, const char *section, const char *key,
                  const char *value, int line)
{
	const struct cf_mod_key *k = cf_mod_key_find(section, key);
	char why[160];
	int err;

	if (!k) {
		errf(ld, line, "unknown key '%s' in [%s]", key, section);
		return 0;
	}
	if (cf_mod_key_check(k, value, why, sizeof(why))) {
		errf(ld, line, "bad value for %s in [%s]: %s", key, section,
		     why);
		return 0;
	}
	err = entry_add(ld->c, k, value, line);
	if (err)
		ld->err = err;
	return err;
}

static bool file_record(const char *section, const char *key, const char *value,
                        int line, void *arg)
{
	struct load *ld = arg;
	const struct cf_mod_key *k = cf_mod_key_find(section, key);

	if (k && set_overrides(ld, k))
		return false;
	return record(ld, section, key, value, line) == ENOMEM;
}

/* A module's conf_check found a problem at line (0: a --set). */
static void mod_err(int line, const char *msg, void *arg)
{
	struct load *ld = arg;

	ld->name = line > 0 && ld->path ? ld->path : "--set";
	errf(ld, line, "%s", msg);
}

int cf_app_conf_load(struct cf_app_conf **confp, const char *path,
                     const char *const *sets, size_t nsets,
                     struct cf_mbuf *errs)
{
	struct load ld = {.name = path ? path : "(defaults)",
	                  .path = path,
	                  .errs = errs,
	                  .sets = sets,
	                  .nsets = nsets};
	struct cf_conf *file = NULL;
	struct cf_app_conf *c;
	int err = 0, line = 0;

	if (!confp)
		return EINVAL;

	c = cf_mem_zalloc(sizeof(*c), conf_destroy);
	if (!c)
		return ENOMEM;
	ld.c = c;

	if (path) {
		FILE *f = fopen(path, "r");

		if (!f) {
			err = errno == ENOMEM ? ENOMEM : ENOENT;
			if (errs)
				cf_mbuf_printf(errs, "%s: cannot read: %s\n",
				               path, strerror(errno));
			goto out;
		}
		fclose(f);
		err = cf_conf_load(&file, path, &line);
		if (err == EBADMSG) {
			if (errs)
				cf_mbuf_printf(errs, "%s:%d: syntax error\n",
				               path, line);
			goto out;
		}
		if (err)
			goto out;
		cf_conf_apply(file, file_record, &ld);
	}

	ld.name = "--set";
	for (size_t i = 0; i < nsets && ld.err != ENOMEM; i++) {
		char sk[128];
		const char *s = sets[i];
		const char *dot = strchr(s, '.');
		const char *eq = strchr(s, '=');

		if (!dot || !eq || eq < dot || (size_t)(eq - s) >= sizeof(sk)) {
			errf(&ld, 0, "'%s' is not SECTION.KEY=VALUE", s);
			continue;
		}
		memcpy(sk, s, eq - s);
		sk[dot - s] = '\0';
		sk[eq - s] = '\0';
		record(&ld, sk, sk + (dot - s) + 1, eq + 1, 0);
	}
	/* what single keys cannot say: the modules' own checks */
	for (size_t i = 0; cf_mods[i] && ld.err != ENOMEM; i++) {
		if (cf_mods[i]->conf_check)
			(void)cf_mods[i]->conf_check(c, mod_err, &ld);
	}
	err = ld.err;

out:
	cf_mem_deref(file);
	if (err)
		cf_mem_deref(c);
	else
		*confp = c;
	return err;
}

static const struct entry *last(const struct cf_app_conf *c,
                                const char *section, const char *key)
{
	for (size_t i = c ? c->n : 0; i-- > 0;) {
		if (!strcasecmp(c->v[i].k->section, section) &&
		    !strcasecmp(c->v[i].k->key, key))
			return &c->v[i];
	}
	return NULL;
}

bool cf_app_conf_isset(const struct cf_app_conf *conf, const char *section,
                       const char *key)
{
	return last(conf, section, key) != NULL;
}

const char *cf_app_conf_str(const struct cf_app_conf *conf, const char *section,
                            const char *key)
{
	const struct entry *e = last(conf, section, key);
	const struct cf_mod_key *k;

	if (e)
		return e->value;
	k = cf_mod_key_find(section, key);
	return k ? k->def : NULL;
}

uint32_t cf_app_conf_u32(const struct cf_app_conf *conf, const char *section,
                         const char *key)
{
	const char *s = cf_app_conf_str(conf, section, key);
	struct cf_pl pl;
	uint32_t v = 0;

	if (s) {
		cf_pl_set_str(&pl, s);
		(void)cf_pl_u32(&pl, &v);
	}
	return v;
}

bool cf_app_conf_bool(const struct cf_app_conf *conf, const char *section,
                      const char *key)
{
	const char *s = cf_app_conf_str(conf, section, key);

	return s && (!strcasecmp(s, "yes") || !strcasecmp(s, "true") ||
	             !strcasecmp(s, "on") || !strcmp(s, "1"));
}

void cf_app_conf_apply(const struct cf_app_conf *conf, const char *section,
                       const char *key, cf_app_conf_val_h *h, void *arg)
{
	const struct cf_mod_key *k;
	bool any = false;

	for (size_t i = 0; conf && i < conf->n; i++) {
		const struct entry *e = &conf->v[i];

		if (strcasecmp(e->k->section, section) ||
		    strcasecmp(e->k->key, key))
			continue;
		any = true;
		if (items_apply(e->value, h, arg))
			return;
	}
	if (any)
		return;
	k = cf_mod_key_find(section, key);
	if (k && k->def)
		items_apply(k->def, h, arg);
}

void cf_app_conf_lines(const struct cf_app_conf *conf, const char *section,
                       const char *key, cf_app_conf_line_h *h, void *arg)
{
	for (size_t i = 0; conf && i < conf->n; i++) {
		const struct entry *e = &conf->v[i];

		if (strcasecmp(e->k->section, section) ||
		    strcasecmp(e->k->key, key))
			continue;
		if (h(e->value, e->line, arg))
			return;
	}
}

int cf_app_listen_decode(const char *s, struct cf_app_listen *out, size_t *n)
{
	struct cf_pl pl, tpl = CF_PL_NULL;
	enum cf_sip_tp tp = CF_SIP_TP_UDP;
	struct cf_sa sa;
	const char *colon;
	char host[128];
	bool both = true, explicit;
	int err;

	if (!s || !out || !n)
		return EINVAL;
	cf_pl_set_str(&pl, s);
	cf_pl_trim(&pl);

	/* "udp:" / "tcp:" / "tls:" / "ws:" / "wss:" prefix; an IPv6 address
	 * needs brackets with it */
	colon = cf_pl_chr(&pl, ':');
	if (colon && pl.p[0] != '[') {
		tpl.p = pl.p;
		tpl.l = colon - pl.p;
		if (!cf_pl_strcasecmp(&tpl, "udp") ||
		    !cf_pl_strcasecmp(&tpl, "tcp") ||
		    !cf_pl_strcasecmp(&tpl, "tls") ||
		    !cf_pl_strcasecmp(&tpl, "ws") ||
		    !cf_pl_strcasecmp(&tpl, "wss")) {
			tp = !cf_pl_strcasecmp(&tpl, "udp")   ? CF_SIP_TP_UDP
			     : !cf_pl_strcasecmp(&tpl, "tcp") ? CF_SIP_TP_TCP
			     : !cf_pl_strcasecmp(&tpl, "tls") ? CF_SIP_TP_TLS
			     : !cf_pl_strcasecmp(&tpl, "ws")  ? CF_SIP_TP_WS
			                                      : CF_SIP_TP_WSS;
			both = false;
			pl.p += tpl.l + 1;
			pl.l -= tpl.l + 1;
		}
	}
	if (!pl.l || cf_pl_strcpy(&pl, host, sizeof(host)))
		return EBADMSG;

	/* "[::1]:5060", "[::1]", "127.0.0.1:5060", "127.0.0.1", "::1" */
	err = cf_sa_decode(&sa, host);
	if (err)
		return EBADMSG;
	/* an explicit port 0 asks for an ephemeral port (tests) */
	colon = strrchr(host, ':');
	explicit = host[0] == '[' ? strstr(host, "]:") != NULL
	                          : colon && colon == strchr(host, ':');
	/* RFC 3261 §19.1.2; RFC 7118 has no default port: 8080 and 8443
	 * are what DESIGN.md gives ws and wss */
	if (!explicit)
		cf_sa_set_port(&sa, tp == CF_SIP_TP_TLS   ? 5061
		                    : tp == CF_SIP_TP_WS  ? 8080
		                    : tp == CF_SIP_TP_WSS ? 8443
		                                          : 5060);

	out[0].tp = tp;
	out[0].addr = sa;
	*n = 1;
	if (both) {
		out[0].tp = CF_SIP_TP_UDP;
		out[1].tp = CF_SIP_TP_TCP;
		out[1].addr = sa;
		*n = 2;
	}
	return 0;
}
