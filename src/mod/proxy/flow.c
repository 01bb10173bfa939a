/* SPDX-License-Identifier: BSD-3-Clause */
/* flow.c - flow tokens in our Record-Route (RFC 5626 §5.3 in spirit, as
 * Kamailio's outbound module does): a stream connection a UA opened to us
 * (TCP, TLS) is named in the Record-Route entry of its side, so that the
 * requests of the dialog towards it go back over that connection rather
 * than to its Contact, where a UA behind NAT, or one with no TLS server
 * certificate, cannot be reached. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <netinet/in.h>

#include "mod/proxy/proxy_int.h"

#define FLOW_PREFIX "cf-"

/* "cf-" + 8 (IPv4) or 32 (IPv6) hex digits of the address, "-", 4 of the
 * port: the user part of the entry. The address is the connection's
 * remote one, which is how the connection table finds it again. */
int proxy_flow_encode(const struct cf_sa *sa, char *buf, size_t size)
{
	static const char hex[] = "0123456789abcdef";
	const uint8_t *a;
	size_t al, o = 0;

	if (cf_sa_af(sa) == AF_INET) {
		a = (const uint8_t *)&sa->u.in.sin_addr;
		al = 4;
	} else if (cf_sa_af(sa) == AF_INET6) {
		a = (const uint8_t *)&sa->u.in6.sin6_addr;
		al = 16;
	} else {
		return EINVAL;
	}
	if (size < strlen(FLOW_PREFIX) + 2 * al + 6)
		return ENOMEM;
	o = (size_t)snprintf(buf, size, FLOW_PREFIX);
	for (size_t i = 0; i < al; i++) {
		buf[o++] = hex[a[i] >> 4];
		buf[o++] = hex[a[i] & 15];
	}
	snprintf(buf + o, size - o, "-%04x", cf_sa_port(sa));
	return 0;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* The address of a flow token (a Route entry's user part). 0, EBADMSG
 * (not one of ours, or malformed). */
int proxy_flow_decode(const struct cf_pl *user, struct cf_sa *sa)
{
	size_t pre = strlen(FLOW_PREFIX), al, i;
	uint8_t a[16];
	unsigned port = 0;
	const char *p;

	if (!user || user->l < pre || strncmp(user->p, FLOW_PREFIX, pre))
		return EBADMSG;
	if (user->l == pre + 8 + 5)
		al = 4;
	else if (user->l == pre + 32 + 5)
		al = 16;
	else
		return EBADMSG;
	p = user->p + pre;
	for (i = 0; i < al; i++) {
		int h = hexval(p[2 * i]), l = hexval(p[2 * i + 1]);

		if (h < 0 || l < 0)
			return EBADMSG;
		a[i] = (uint8_t)(h << 4 | l);
	}
	p += 2 * al;
	if (*p != '-')
		return EBADMSG;
	for (i = 1; i <= 4; i++) {
		int v = hexval(p[i]);

		if (v < 0)
			return EBADMSG;
		port = port << 4 | (unsigned)v;
	}
	if (!port)
		return EBADMSG;
	memset(sa, 0, sizeof(*sa));
	if (al == 4) {
		sa->u.in.sin_family = AF_INET;
		memcpy(&sa->u.in.sin_addr, a, 4);
		sa->u.in.sin_port = htons((uint16_t)port);
		sa->len = sizeof(sa->u.in);
	} else {
		sa->u.in6.sin6_family = AF_INET6;
		memcpy(&sa->u.in6.sin6_addr, a, 16);
		sa->u.in6.sin6_port = htons((uint16_t)port);
		sa->len = sizeof(sa->u.in6);
	}
	return 0;
}

/* Is this side a flow a UA opened (a TCP or TLS connection it holds)? */
bool proxy_flow_side(enum cf_sip_tp tp, const struct cf_sip_conn *conn)
{
	return (tp == CF_SIP_TP_TCP || tp == CF_SIP_TP_TLS) && conn &&
	       !cf_sip_conn_closed(conn);
}
