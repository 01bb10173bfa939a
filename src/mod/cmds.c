/* SPDX-License-Identifier: BSD-3-Clause */
/* cmds.c - the daemon's own control commands (status; version, help and
 * config check run in confabctl itself). Modules add theirs. */
#include <errno.h>
#include <unistd.h>

#include "mod.h"
#include "prov.h"
#include "proxy/proxy.h"
#include "registrar/registrar.h"

static void listener_add(enum cf_sip_tp tp, const struct cf_sa *addr, void *arg)
{
	char buf[80], line[96];

	snprintf(line, sizeof(line), "%s %s", cf_sip_tp_name(tp),
	         cf_sa_print(addr, buf, sizeof(buf)));
	for (char *p = line; *p && *p != ' '; p++) /* "udp", as in the logs */
		if (*p >= 'A' && *p <= 'Z')
			*p += 'a' - 'A';
	json_array_append_new(arg, json_string(line));
}

#define COUNTER(o, s, f) json_object_set_new(o, #f, json_integer((s).f))

static int status_h(struct cf_app *app, const struct cf_mod_ctl_req *req,
                    json_t *resp)
{
	const struct cf_app_conf *conf = cf_app_conf(app);
	struct cf_sip *sip = cf_app_sip(app);
	json_t *ls = json_array(), *cs = json_object();
	struct cf_sip_stats st = {0};
	uint32_t workers;
	long ncpu;

	(void)req;
	if (!ls || !cs) {
		json_decref(ls);
		json_decref(cs);
		return ENOMEM;
	}
	workers = cf_app_conf_u32(conf, "general", "workers");
	ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	if (!workers)
		workers = ncpu > 0 ? (uint32_t)ncpu : 1;

	if (sip) {
		cf_sip_listeners_apply(sip, listener_add, ls);
		cf_sip_stats(sip, &st);
	}
	COUNTER(cs, st, rx_msgs);
	COUNTER(cs, st, tx_msgs);
	COUNTER(cs, st, rx_bytes);
	COUNTER(cs, st, parse_errors);
	COUNTER(cs, st, oversize);
	COUNTER(cs, st, stream_garbage);
	COUNTER(cs, st, conns_open);
	COUNTER(cs, st, conns_refused);
	COUNTER(cs, st, keepalive_pongs);
	COUNTER(cs, st, ws_upgrades);
	COUNTER(cs, st, ws_refused);
	COUNTER(cs, st, ws_protocol_errors);
	COUNTER(cs, st, ws_oversize);
	COUNTER(cs, st, ws_pongs);
	COUNTER(cs, st, tls_handshakes);
	COUNTER(cs, st, tls_handshake_failures);
	COUNTER(cs, st, stun_bindings);
	COUNTER(cs, st, stun_errors);
	COUNTER(cs, st.txn, requests);
	COUNTER(cs, st.txn, responses);
	COUNTER(cs, st.txn, retransmissions_absorbed);
	COUNTER(cs, st.txn, bad_requests);
	COUNTER(cs, st.txn, bad_responses);
	COUNTER(cs, st.txn, timeouts);

	json_object_set_new(resp, "version", json_string(CF_VERSION));
	json_object_set_new(resp, "pid", json_integer(getpid()));
	json_object_set_new(
	    resp, "uptime",
	    json_integer(cf_clock_wall_ms() / 1000 - cf_app_started(app)));
	json_object_set_new(resp, "workers", json_integer(workers));
	json_object_set_new(resp, "domain", json_string(cf_app_domain(app)));
	json_object_set_new(resp, "listeners", ls);
	json_object_set_new(resp, "counters", cs);
	{
		struct cf_registrar_stats rs;
		json_t *ro = json_object();

		cf_registrar_stats(&rs);
		COUNTER(ro, rs, contacts);
		COUNTER(ro, rs, aors);
		COUNTER(ro, rs, registrations);
		COUNTER(ro, rs, refreshes);
		COUNTER(ro, rs, removals);
		COUNTER(ro, rs, expired);
		json_object_set_new(resp, "registrar", ro);
	}
	{
		struct cf_proxy_stats ps;
		json_t *po = json_object();

		cf_proxy_stats(&ps);
		COUNTER(po, ps, requests);
		COUNTER(po, ps, branches);
		COUNTER(po, ps, stateless);
		COUNTER(po, ps, challenged);
		COUNTER(po, ps, loops);
		COUNTER(po, ps, hops);
		COUNTER(po, ps, bad_route);
		COUNTER(po, ps, bad_contact);
		COUNTER(po, ps, unknown_user);
		COUNTER(po, ps, over_max_branches);
		COUNTER(po, ps, sips_refused);
		json_object_set_new(resp, "proxy", po);
	}
	return 0;
}

static const char *const level_names[] = {"debug", "info", "notice", "warn",
                                          "error"};

/* The level lasts until the next reload (SIGHUP re-applies the file's). */
static int log_level_h(struct cf_app *app, const struct cf_mod_ctl_req *req,
                       json_t *resp)
{
	const char *s = json_string_value(json_array_get(req->args, 0));
	enum cf_log_level lvl;

	(void)app;
	if (s) {
		if (cf_log_level_decode(s, &lvl)) {
			json_object_set_new(
			    resp, "error",
			    json_string("level must be debug, info, "
			                "notice, warn or error"));
			return EINVAL;
		}
		cf_log_set_level(lvl);
		cf_log(CF_LOG_NOTICE, NULL, "log level %s (control)", s);
	}
	lvl = cf_log_get_level();
	json_object_set_new(
	    resp, "level",
	    json_string(lvl <= CF_LOG_ERR ? level_names[lvl] : "?"));
	return 0;
}

/* Re-read the [tls] files of the running configuration (not the rest of
 * the file: SIGHUP does that): new connections get them, established
 * ones keep theirs. */
static int tls_reload_h(struct cf_app *app, const struct cf_mod_ctl_req *req,
                        json_t *resp)
{
	int err;

	(void)req;
	if (!cf_app_sip(app)) {
		json_object_set_new(
		    resp, "error", json_string("the SIP stack is not running"));
		return EINVAL;
	}
	err = cf_app_tls_apply(app);
	if (err) {
		json_object_set_new(
		    resp, "error",
		    json_string("certificates not reloaded (see the daemon's "
		                "log); the ones in use stay"));
		return err;
	}
	cf_log(CF_LOG_NOTICE, NULL, "tls: certificates reloaded (control)");
	json_object_set_new(resp, "reloaded", json_true());
	return 0;
}

/* h NULL: confabctl runs these without the daemon. */
const struct cf_mod_cmd cf_app_cmds[] = {
    {"status", "", 0, 0, status_h, "",
     "version, uptime, listeners and counters of the running daemon"},
    {"log", "level", 0, 1, log_level_h, "[LEVEL]",
     "show or set the log level (until the next reload)"},
    {"domain", "add", 1, 1, cf_prov_domain_add_h,
     "NAME [--realm R] [--digest-algs LIST]",
     "serve a SIP domain (realm = NAME unless given; LIST e.g. "
     "SHA-256,MD5)"},
    {"domain", "list", 0, 0, cf_prov_domain_list_h, "",
     "the served domains, their realms and digest algorithms"},
    {"domain", "set", 1, 1, cf_prov_domain_set_h,
     "NAME --digest-algs LIST|default",
     "change the order of the digest challenges of a domain"},
    {"domain", "remove", 1, 1, cf_prov_domain_remove_h, "NAME",
     "stop serving a domain and remove its users"},
    {"user", "add", 1, 1, cf_prov_user_add_h, "AOR --password PW",
     "add a subscriber (AOR = user@domain or sip:user@domain)"},
    {"user", "passwd", 1, 1, cf_prov_user_passwd_h, "AOR --password PW",
     "change a subscriber's password"},
    {"user", "remove", 1, 1, cf_prov_user_remove_h, "AOR",
     "remove a subscriber"},
    {"user", "forward", 1, 1, cf_prov_user_forward_h,
     "AOR [--busy URI] [--noanswer URI] [--offline URI] "
     "[--unavailable URI] | --clear",
     "set a subscriber's failure routes (those not given are removed)"},
    {"user", "list", 0, 1, cf_prov_user_list_h, "[DOMAIN]",
     "the subscribers (of one domain)"},
    {"user", "show", 1, 1, cf_prov_user_show_h, "AOR",
     "a subscriber and its current bindings"},
    {"user", "import", 1, 1, NULL, "FILE.csv",
     "add the subscribers of a CSV file (aor,password a line), all or "
     "none"},
    {"user", "reload", 0, 0, cf_prov_user_reload_h, "",
     "reload the daemon's credentials cache from the store"},
    {"store", "show", 0, 0, cf_prov_store_show_h, "",
     "the store's URI and schema version"},
    {"tls", "reload", 0, 0, tls_reload_h, "",
     "reload the TLS certificates and keys (established connections keep "
     "theirs)"},
    {"version", "", 0, 0, NULL, "", "print confabctl's version"},
    {"help", "", 0, 1, NULL, "[NOUN]", "list the commands"},
    {"config", "check", 0, 0, NULL, "",
     "validate the configuration file (--config FILE)"},
    {NULL},
};
