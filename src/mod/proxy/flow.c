/* SPDX-License-Identifier: BSD-3-Clause */
/* flow.c - flow tokens in Record-Route user parts for sides that are a
 * UA's stream connection: TCP, TLS, WS, WSS (see flow.h). */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "mod/proxy/flow.h"

#define FLOW_PREFIX "cfw_"
enum { KEY_LEN = 32, MAC_HEX = 16 };

static uint8_t key[KEY_LEN];
static bool key_ok;
static pthread_once_t key_once = PTHREAD_ONCE_INIT;

static void key_init(void)
{
	key_ok = RAND_bytes(key, sizeof(key)) == 1;
}

bool proxy_flow_needed(enum cf_sip_tp tp)
{
	return tp == CF_SIP_TP_WS || tp == CF_SIP_TP_WSS;
}

bool proxy_flow_stream(enum cf_sip_tp tp)
{
	return tp == CF_SIP_TP_TCP || tp == CF_SIP_TP_TLS ||
	       proxy_flow_needed(tp);
}

bool proxy_flow_in(enum cf_sip_tp tp)
{
	return proxy_flow_stream(tp);
}

bool proxy_flow_out(const struct cf_sip_peer *hop, bool binding)
{
	return hop && (proxy_flow_needed(hop->tp) ||
	               (binding && proxy_flow_stream(hop->tp)));
}

/* The token's name of a stream transport, or NULL. */
static const char *tp_name(enum cf_sip_tp tp)
{
	switch (tp) {
	case CF_SIP_TP_TCP:
		return "tcp";
	case CF_SIP_TP_TLS:
		return "tls";
	case CF_SIP_TP_WS:
		return "ws";
	case CF_SIP_TP_WSS:
		return "wss";
	default:
		return NULL;
	}
}

/* 16 hex digits of HMAC-SHA-256(key, s[0..n)). */
static int mac(const char *s, size_t n, char out[MAC_HEX + 1])
{
	uint8_t md[EVP_MAX_MD_SIZE];
	unsigned int mdl = 0;

	(void)pthread_once(&key_once, key_init);
	if (!key_ok || !HMAC(EVP_sha256(), key, sizeof(key),
	                     (const uint8_t *)s, n, md, &mdl) ||
	    mdl < MAC_HEX / 2)
		return EIO;
	for (int i = 0; i < MAC_HEX / 2; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
	return 0;
}

/* "cfw_ws_127.0.0.1_43210", "cfw_tls_..." (':' of an IPv6 address as '-', which a SIP
 * user part allows). */
static int body(enum cf_sip_tp tp, const struct cf_sa *addr, char *buf,
                size_t size)
{
	const char *tn = tp_name(tp);
	char ip[64];
	int n;

	if (!tn || !cf_sa_isset(addr) || !cf_sa_ntop(addr, ip, sizeof(ip)))
		return -1;
	for (char *p = ip; *p; p++)
		if (*p == ':')
			*p = '-';
	n = snprintf(buf, size, FLOW_PREFIX "%s_%s_%u", tn, ip,
	             (unsigned)cf_sa_port(addr));
	return n > 0 && (size_t)n < size ? n : -1;
}

int proxy_flow_user(enum cf_sip_tp tp, const struct cf_sa *addr, char *buf,
                    size_t size)
{
	char m[MAC_HEX + 1];
	int n;

	if (!proxy_flow_stream(tp))
		return EPROTO;
	if (!addr || !buf || size < PROXY_FLOW_USER_MAX)
		return EINVAL;
	n = body(tp, addr, buf, size - MAC_HEX - 1);
	if (n < 0 || mac(buf, (size_t)n, m))
		return EINVAL;
	snprintf(buf + n, size - (size_t)n, "_%s", m);
	return 0;
}

int proxy_flow_hop(const struct cf_pl *user, struct cf_sip_peer *hop)
{
	char s[PROXY_FLOW_USER_MAX], chk[PROXY_FLOW_USER_MAX], m[MAC_HEX + 1];
	char *tp, *ip, *port, *sig, *end;
	unsigned long pn;

	if (!user || !hop || user->l < strlen(FLOW_PREFIX) ||
	    strncmp(user->p, FLOW_PREFIX, strlen(FLOW_PREFIX)))
		return ENOENT;
	if (user->l >= sizeof(s))
		return EBADMSG;
	memcpy(s, user->p, user->l);
	s[user->l] = '\0';
	tp = s + strlen(FLOW_PREFIX);
	ip = strchr(tp, '_');
	port = ip ? strchr(ip + 1, '_') : NULL;
	sig = port ? strchr(port + 1, '_') : NULL;
	if (!sig || strchr(sig + 1, '_') || strlen(sig + 1) != MAC_HEX)
		return EBADMSG;
	*ip++ = '\0';
	*port++ = '\0';
	*sig++ = '\0';
	memset(hop, 0, sizeof(*hop));
	if (!strcmp(tp, "tcp"))
		hop->tp = CF_SIP_TP_TCP;
	else if (!strcmp(tp, "tls"))
		hop->tp = CF_SIP_TP_TLS;
	else if (!strcmp(tp, "ws"))
		hop->tp = CF_SIP_TP_WS;
	else if (!strcmp(tp, "wss"))
		hop->tp = CF_SIP_TP_WSS;
	else
		return EBADMSG;
	for (char *p = ip; *p; p++)
		if (*p == '-')
			*p = ':';
	pn = strtoul(port, &end, 10);
	if (*end || !*port || pn == 0 || pn > 65535 ||
	    cf_sa_set_str(&hop->addr, ip, (uint16_t)pn))
		return EBADMSG;
	/* the token is checked as we would have written it */
	if (body(hop->tp, &hop->addr, chk, sizeof(chk) - MAC_HEX - 1) < 0 ||
	    mac(chk, strlen(chk), m) ||
	    CRYPTO_memcmp(m, sig, MAC_HEX))
		return EBADMSG;
	return 0;
}
