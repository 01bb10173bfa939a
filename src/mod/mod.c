/* SPDX-License-Identifier: BSD-3-Clause */
/* mod.c - the static module table and request dispatch: the rules every
 * request meets, then the modules in order, then the defaults. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "mod.h"
#include "auth/auth_mod.h"
#include "basic/basic.h"
#include "lua/lua.h"
#include "proxy/proxy.h"
#include "registrar/registrar.h"

/* Dispatch order: a request goes to each module until one takes it. */
const struct cf_mod *const cf_mods[] = {
    &cf_mod_auth,
    &cf_mod_registrar,
    &cf_mod_basic,
    &cf_mod_proxy,
    &cf_mod_lua, /* no requests: the proxy's hooks */
    NULL,
};

const struct cf_mod *cf_mod_find(const char *name)
{
	for (size_t i = 0; name && cf_mods[i]; i++) {
		if (!strcmp(cf_mods[i]->name, name))
			return cf_mods[i];
	}
	return NULL;
}

int cf_mod_reply(struct cf_sip_strans *st, uint16_t code, const char *hdrs)
{
	int err =
	    cf_sip_strans_reply(st, code, cf_sip_reason(code), hdrs, NULL);

	if (err == ENOMEM && code >= 200)
		(void)cf_sip_strans_reply(st, 500, cf_sip_reason(500), NULL,
		                          NULL);
	return err;
}

/* Answer, and log the one line this request deserves. */
static void answer(struct cf_sip_strans *st, const struct cf_sip_msg *msg,
                   const struct cf_sip_peer *peer, uint16_t code,
                   const char *hdrs)
{
	const char *reason = cf_sip_reason(code);
	char addr[64];
	int err;

	err = cf_mod_reply(st, code, hdrs);
	cf_log(err ? CF_LOG_WARN : CF_LOG_INFO, &msg->call_id,
	       "%.*s %.*s from %s %s: %u %s%s", (int)msg->method.l,
	       msg->method.p, (int)msg->ruri_pl.l, msg->ruri_pl.p,
	       cf_sip_tp_name(peer->tp),
	       cf_sa_print(&peer->addr, addr, sizeof(addr)), code, reason,
	       err ? " (not sent)" : "");
}

struct unsup {
	const struct cf_app *app;
	char *buf;
	size_t size;
	size_t len;
};

static bool unsup_val(const struct cf_sip_hdr *hdr, const struct cf_pl *val,
                      void *arg)
{
	struct unsup *u = arg;
	struct cf_pl tag = *val;
	int n;

	(void)hdr;
	cf_pl_trim(&tag);
	if (!tag.l || cf_app_ext_supported(u->app, &tag))
		return false;
	n = snprintf(u->buf + u->len, u->size - u->len, "%s%.*s",
	             u->len ? ", " : "", (int)tag.l, tag.p);
	if (n < 0 || (size_t)n >= u->size - u->len)
		return true; /* enough to tell the client */
	u->len += (size_t)n;
	return false;
}

size_t cf_mod_unsupported(const struct cf_app *app,
                          const struct cf_sip_msg *msg, enum cf_sip_hdr_id id,
                          char *buf, size_t size)
{
	struct unsup u = {.app = app, .buf = buf, .size = size};

	if (!size)
		return 0;
	buf[0] = '\0';
	cf_sip_msg_vals_apply(msg, id, unsup_val, &u);
	return u.len;
}

/* Offer a message without a transaction to the modules' stateless hook. */
static bool stateless_mods(struct cf_app *app, const struct cf_sip_msg *msg,
                           const struct cf_sip_peer *peer)
{
	for (size_t i = 0; cf_mods[i]; i++) {
		if (cf_mods[i]->stateless &&
		    cf_mods[i]->stateless(app, msg, peer))
			return true;
	}
	return false;
}

/* A request we answer as its UAS (REGISTER, requests to the server
 * itself), as opposed to one the proxy forwards, which it must not refuse
 * for its Require (RFC 3261 §16.3: only Proxy-Require concerns a proxy). */
static bool for_us(const struct cf_app *app, const struct cf_sip_msg *msg)
{
	if (cf_sip_msg_hdr(msg, CF_SIP_H_ROUTE))
		return false;
	if (msg->mid == CF_SIP_M_REGISTER)
		return true;
	return !cf_pl_isset(&msg->ruri.user) &&
	       cf_app_uri_is_local(app, &msg->ruri);
}

static void on_request(struct cf_sip_strans *st, const struct cf_sip_msg *msg,
                       const struct cf_sip_peer *peer, void *arg)
{
	struct cf_app *app = arg;
	char hdrs[320];

	/* §17.2.3: an ACK for a 2xx goes to the dialog: the proxy forwards
	 * it (§16.11); no dialog of our own yet */
	if (!st) {
		if (stateless_mods(app, msg, peer))
			return;
		cf_log(CF_LOG_DEBUG, &msg->call_id,
		       "ACK matching no transaction dropped");
		return;
	}

	/* §8.2.1 method inspection comes before everything else */
	if (msg->mid == CF_SIP_M_OTHER) {
		snprintf(hdrs, sizeof(hdrs), "Allow: %s\r\n",
		         cf_app_allow(app));
		answer(st, msg, peer, 501, hdrs);
		return;
	}

	/* §8.2.2.1: a scheme we do not understand */
	if (msg->ruri.scheme == CF_SIP_SCHEME_OTHER) {
		answer(st, msg, peer, 416, NULL);
		return;
	}

	/* §8.2.2.3: every option tag in Require must be ours. A proxy does
	 * not look at Require (§16.3 uses Proxy-Require); when the proxy
	 * module arrives this check moves to the requests we serve as UAS. */
	if (cf_sip_msg_hdr(msg, CF_SIP_H_REQUIRE) &&
	    msg->mid != CF_SIP_M_CANCEL && for_us(app, msg)) {
		char tags[256];

		if (cf_mod_unsupported(app, msg, CF_SIP_H_REQUIRE, tags,
		                       sizeof(tags))) {
			snprintf(hdrs, sizeof(hdrs), "Unsupported: %s\r\n",
			         tags);
			answer(st, msg, peer, 420, hdrs);
			return;
		}
	}

	for (size_t i = 0; cf_mods[i]; i++) {
		if (cf_mods[i]->request &&
		    cf_mods[i]->request(app, st, msg, peer))
			return;
	}

	/* §12.2.2: in a dialog we do not know */
	if (cf_pl_isset(&msg->to.tag)) {
		answer(st, msg, peer, 481, NULL);
		return;
	}
	/* §16.3 step 3: we would have to forward it, and may not */
	if (msg->max_forwards == 0) {
		answer(st, msg, peer, 483, NULL);
		return;
	}
	/* Nobody here yet: the registrar and proxy issues fill this in */
	answer(st, msg, peer, 404, NULL);
}

static void on_cancel(struct cf_sip_strans *st, void *arg)
{
	const struct cf_mod_txn *t = cf_sip_strans_arg(st);

	if (t && t->mod && t->mod->cancel)
		t->mod->cancel(arg, st);
}

static void on_stray(const struct cf_sip_msg *msg,
                     const struct cf_sip_peer *peer, void *arg)
{
	char addr[64];

	if (stateless_mods(arg, msg, peer))
		return;
	cf_log(CF_LOG_DEBUG, &msg->call_id,
	       "response %u from %s matches no transaction: dropped",
	       msg->scode, cf_sa_print(&peer->addr, addr, sizeof(addr)));
}

void cf_mod_handlers(struct cf_sip_txn_handlers *h, struct cf_app *app)
{
	if (!h)
		return;
	memset(h, 0, sizeof(*h));
	h->request = on_request;
	h->cancel = on_cancel;
	h->stray_response = on_stray;
	h->arg = app;
}

int cf_mod_init_all(struct cf_app *app)
{
	for (size_t i = 0; cf_mods[i]; i++) {
		int err = cf_mods[i]->init ? cf_mods[i]->init(app) : 0;

		if (err)
			return err;
	}
	cf_app_set_online(app, true);
	return 0;
}

int cf_mod_start_all(struct cf_app *app)
{
	for (size_t i = 0; cf_mods[i]; i++) {
		int err = cf_mods[i]->start ? cf_mods[i]->start(app) : 0;

		if (err)
			return err;
	}
	return 0;
}

/* Reverse order: later modules may use earlier ones' APIs. */
void cf_mod_stop_all(struct cf_app *app)
{
	size_t n = 0;

	cf_app_set_online(app, false);
	while (cf_mods[n])
		n++;
	while (n-- > 0) {
		if (cf_mods[n]->stop)
			cf_mods[n]->stop(app);
	}
}

void cf_mod_reload_all(struct cf_app *app)
{
	for (size_t i = 0; cf_mods[i]; i++) {
		if (cf_mods[i]->reload)
			cf_mods[i]->reload(app);
	}
}

static int table_find(const struct cf_mod_cmd *t, const char *noun,
                      const char *verb, const struct cf_mod_cmd **cmdp)
{
	int err = ENOENT;

	for (; t && t->noun; t++) {
		if (strcmp(t->noun, noun))
			continue;
		if (!strcmp(t->verb, verb)) {
			*cmdp = t;
			return 0;
		}
		err = EPROTO;
	}
	return err;
}

int cf_mod_cmd_find(const struct cf_mod_cmd **cmdp, const char *noun,
                    const char *verb)
{
	int err, res = ENOENT;

	if (!cmdp || !noun)
		return EINVAL;
	if (!verb)
		verb = "";
	err = table_find(cf_app_cmds, noun, verb, cmdp);
	if (!err)
		return 0;
	if (err == EPROTO)
		res = EPROTO;
	for (size_t i = 0; cf_mods[i]; i++) {
		err = table_find(cf_mods[i]->cmds, noun, verb, cmdp);
		if (!err)
			return 0;
		if (err == EPROTO)
			res = EPROTO;
	}
	return res;
}

void cf_mod_cmd_apply(cf_mod_cmd_h *h, void *arg)
{
	for (const struct cf_mod_cmd *c = cf_app_cmds; c->noun; c++)
		h(c, arg);
	for (size_t i = 0; cf_mods[i]; i++) {
		for (const struct cf_mod_cmd *c = cf_mods[i]->cmds;
		     c && c->noun; c++)
			h(c, arg);
	}
}
