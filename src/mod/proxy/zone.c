/* SPDX-License-Identifier: BSD-3-Clause */
/* zone.c - `confabctl dns zone DOMAIN`: the NAPTR, SRV and A/AAAA records
 * an operator publishes so that other domains find confab's listeners
 * (RFC 3263 §4; SIP+D2W / SIPS+D2W for WebSocket, RFC 7118). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "mod/proxy/proxy_int.h"

enum { ZONE_TTL = 3600, ADDR_MAX = 16 };

/* Per transport: the NAPTR service, the SRV name prefix, the order. */
static const struct {
	enum cf_sip_tp tp;
	const char *service, *srv;
} kinds[] = {
    {CF_SIP_TP_TLS, "SIPS+D2T", "_sips._tcp"},
    {CF_SIP_TP_TCP, "SIP+D2T", "_sip._tcp"},
    {CF_SIP_TP_UDP, "SIP+D2U", "_sip._udp"},
    {CF_SIP_TP_WSS, "SIPS+D2W", "_sips._ws"},
    {CF_SIP_TP_WS, "SIP+D2W", "_sip._ws"},
};

struct zone {
	enum cf_sip_tp tp[LISTEN_ZONE_MAX];
	struct cf_sa addr[LISTEN_ZONE_MAX];
	size_t n;
};

static void collect(enum cf_sip_tp tp, const struct cf_sa *addr, void *arg)
{
	struct zone *z = arg;

	if (z->n < LISTEN_ZONE_MAX) {
		z->tp[z->n] = tp;
		z->addr[z->n++] = *addr;
	}
}

static bool domain_ok(const char *d)
{
	size_t n = strlen(d);

	if (!n || n > 253 || d[0] == '.' || d[0] == '-')
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = d[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '-' || c == '.'))
			return false;
	}
	return true;
}

/*
 * Write the zone text for domain into b from the listeners in z: one
 * NAPTR per transport (TLS first), one SRV per listener port, and the
 * A/AAAA records of the host "sip.DOMAIN" (a wildcard listener gets a
 * comment: its public address is not known here). Pure.
 */
int proxy_zone_text(const char *domain, const enum cf_sip_tp *tpv,
                    const struct cf_sa *addrv, size_t n, char *b, size_t sz)
{
	struct cf_sa seen[ADDR_MAX];
	size_t ns = 0, len = 0, order = 10;
	char ab[64];
	int w;

#define OUT(...)                                                               \
	do {                                                                   \
		w = snprintf(b + len, sz - len, __VA_ARGS__);                  \
		if (w < 0 || (size_t)w >= sz - len)                            \
			return ENOMEM;                                         \
		len += (size_t)w;                                              \
	} while (0)

	if (!domain || !domain_ok(domain) || !b || !sz)
		return EINVAL;
	OUT("; RFC 3263 records for %s (confab's listeners); TTL %d\n", domain,
	    ZONE_TTL);
	for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
		for (size_t i = 0; i < n; i++) {
			if (tpv[i] != kinds[k].tp)
				continue;
			OUT("%s. %d IN NAPTR %zu 50 \"S\" \"%s\" \"\" %s.%s.\n",
			    domain, ZONE_TTL, order, kinds[k].service,
			    kinds[k].srv, domain);
			order += 10;
			break;
		}
	}
	for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
		for (size_t i = 0; i < n; i++) {
			bool dup = false;

			if (tpv[i] != kinds[k].tp)
				continue;
			for (size_t j = 0; j < i; j++)
				dup |= tpv[j] == tpv[i] &&
				       cf_sa_port(&addrv[j]) ==
				           cf_sa_port(&addrv[i]);
			if (dup)
				continue;
			OUT("%s.%s. %d IN SRV 10 50 %u sip.%s.\n", kinds[k].srv,
			    domain, ZONE_TTL, cf_sa_port(&addrv[i]), domain);
		}
	}
	for (size_t i = 0; i < n; i++) {
		bool dup = false;

		for (size_t j = 0; j < ns; j++)
			dup |= cf_sa_addr_eq(&seen[j], &addrv[i]);
		if (dup || ns >= ADDR_MAX)
			continue;
		seen[ns++] = addrv[i];
		cf_sa_ntop(&addrv[i], ab, sizeof(ab));
		if (!strcmp(ab, "0.0.0.0") || !strcmp(ab, "::"))
			OUT("; sip.%s. %d IN %s <public address: the listener "
			    "is on %s>\n",
			    domain, ZONE_TTL,
			    cf_sa_af(&addrv[i]) == AF_INET6 ? "AAAA" : "A", ab);
		else
			OUT("sip.%s. %d IN %s %s\n", domain, ZONE_TTL,
			    cf_sa_af(&addrv[i]) == AF_INET6 ? "AAAA" : "A", ab);
	}
#undef OUT
	return 0;
}

/* confabctl dns zone DOMAIN (the daemon's listeners). */
int proxy_zone_h(struct cf_app *app, const struct cf_mod_ctl_req *req,
                 json_t *resp)
{
	const char *domain = json_string_value(json_array_get(req->args, 0));
	struct cf_sip *sip = cf_app_sip(app);
	struct zone z = {0};
	char text[8192];
	int err;

	if (!sip) {
		json_object_set_new(resp, "error",
		                    json_string("the stack is not running"));
		return ENOENT;
	}
	cf_sip_listeners_apply(sip, collect, &z);
	err = proxy_zone_text(domain, z.tp, z.addr, z.n, text, sizeof(text));
	if (err) {
		json_object_set_new(resp, "error",
		                    json_string(err == EINVAL
		                                    ? "not a domain name"
		                                    : "too many listeners"));
		return err;
	}
	json_object_set_new(resp, "message", json_string(text));
	return 0;
}
