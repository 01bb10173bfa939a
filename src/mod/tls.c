/* SPDX-License-Identifier: BSD-3-Clause */
/* tls.c - the [tls] section applied to the stack (start, SIGHUP, `confabctl
 * tls reload`), with the self-signed certificate of the embedded defaults. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/ssl.h>

#include "mod.h"

enum { TLS_DOMAINS_MAX = 16, PATH_MAX_ = 1024 };

struct dcerts {
	struct cf_sip_tls_domain dv[TLS_DOMAINS_MAX];
	char buf[TLS_DOMAINS_MAX][3 * PATH_MAX_];
	size_t n;
	int err;
};

/* "DOMAIN:CERT:KEY": the domain ends at the first colon, the key starts
 * after the last (so a certificate path may hold a colon, a key path
 * may not). */
static bool dcert_item(const char *value, void *arg)
{
	struct dcerts *d = arg;
	char *s, *c1, *c2;

	if (d->n >= TLS_DOMAINS_MAX) {
		cf_log(CF_LOG_ERR, NULL,
		       "tls: more than %d domain_certificate values",
		       TLS_DOMAINS_MAX);
		d->err = EINVAL;
		return true;
	}
	s = d->buf[d->n];
	if ((size_t)snprintf(s, sizeof(d->buf[0]), "%s", value) >=
	    sizeof(d->buf[0])) {
		d->err = EINVAL;
		return true;
	}
	c1 = strchr(s, ':');
	c2 = strrchr(s, ':');
	if (!c1 || c1 == c2 || c1 == s || c2 == c1 + 1 || !c2[1]) {
		cf_log(CF_LOG_ERR, NULL,
		       "tls: domain_certificate '%s' is not DOMAIN:CERT:KEY",
		       value);
		d->err = EINVAL;
		return true;
	}
	*c1 = *c2 = '\0';
	d->dv[d->n].domain = s;
	d->dv[d->n].certificate = c1 + 1;
	d->dv[d->n].private_key = c2 + 1;
	d->n++;
	return false;
}

static bool tls_listener(const char *value, void *arg)
{
	struct cf_app_listen l[2];
	size_t n = 0;

	if (!cf_app_listen_decode(value, l, &n) && n == 1 &&
	    (l[0].tp == CF_SIP_TP_TLS || l[0].tp == CF_SIP_TP_WSS))
		*(bool *)arg = true;
	return *(bool *)arg;
}

int cf_app_tls_apply(struct cf_app *app)
{
	const struct cf_app_conf *c = cf_app_conf(app);
	struct cf_sip *sip = cf_app_sip(app);
	static struct dcerts d; /* main thread only */
	char cert[PATH_MAX_], key[PATH_MAX_], dir[PATH_MAX_];
	struct cf_sip_tls_cfg tc;
	const char *s;
	bool any = false, made = false;
	int err;

	if (!sip)
		return 0;
	cf_sip_tls_cfg_default(&tc);
	tc.certificate = cf_app_conf_str(c, "tls", "certificate");
	tc.private_key = cf_app_conf_str(c, "tls", "private_key");
	tc.ca_file = cf_app_conf_str(c, "tls", "ca_file");
	s = cf_app_conf_str(c, "tls", "verify_client");
	tc.verify_client = !s || !strcasecmp(s, "no") ? CF_SIP_TLS_VERIFY_NO
	                   : !strcasecmp(s, "optional")
	                       ? CF_SIP_TLS_VERIFY_OPTIONAL
	                       : CF_SIP_TLS_VERIFY_REQUIRE;
	tc.verify_server = cf_app_conf_bool(c, "tls", "verify_server");
	s = cf_app_conf_str(c, "tls", "min_version");
	tc.min_version =
	    s && !strcasecmp(s, "TLS1.3") ? TLS1_3_VERSION : TLS1_2_VERSION;
	s = cf_app_conf_str(c, "tls", "ciphers");
	if (s)
		tc.ciphers = s;
	tc.handshake_ms = cf_app_conf_u32(c, "tls", "handshake_timeout") * 1000;

	memset(&d, 0, sizeof(d));
	cf_app_conf_apply(c, "tls", "domain_certificate", dcert_item, &d);
	if (d.err)
		return d.err;
	tc.domains = d.dv;
	tc.ndomains = d.n;

	cf_app_conf_apply(c, "sip", "listen", tls_listener, &any);
	if (!tc.certificate && !tc.private_key && any) {
		snprintf(dir, sizeof(dir), "%s/tls",
		         cf_app_conf_str(c, "general", "data_dir"));
		err = cf_sip_tls_selfsigned(dir, cf_app_domain(app), cert,
		                            sizeof(cert), key, sizeof(key),
		                            &made);
		if (err) {
			cf_log(CF_LOG_ERR, NULL,
			       "tls: cannot make a self-signed certificate in "
			       "%s: %s",
			       dir, strerror(err));
			return err;
		}
		cf_log(CF_LOG_NOTICE, NULL,
		       "tls: %s self-signed certificate for %s: %s (key %s)",
		       made ? "made a" : "using the", cf_app_domain(app), cert,
		       key);
		tc.certificate = cert;
		tc.private_key = key;
	}
	err = cf_sip_tls_set(sip, &tc);
	if (err)
		cf_log(CF_LOG_ERR, NULL,
		       "tls: certificates not (re)loaded (%s): the ones in use "
		       "stay",
		       strerror(err));
	return err;
}
