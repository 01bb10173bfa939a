/* SPDX-License-Identifier: BSD-3-Clause */
/* sa.c - IPv4/IPv6 socket addresses: numeric parsing, printing, hashing. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "core/core.h"

enum {
	SA_ADDR_MAX = INET6_ADDRSTRLEN + 2, /* with brackets */
};

/* Numeric only (no DNS, no zone ids): EBADMSG when addr is not an IPv4
 * dotted quad or an IPv6 address (with or without brackets). */
int cf_sa_set_pl(struct cf_sa *sa, const struct cf_pl *addr, uint16_t port)
{
	char buf[SA_ADDR_MAX + 1];
	struct cf_pl a;
	bool bracket;

	if (!sa || !addr || !addr->p)
		return EINVAL;
	a = *addr;
	bracket = a.l >= 2 && a.p[0] == '[' && a.p[a.l - 1] == ']';
	if (bracket) {
		a.p++;
		a.l -= 2;
	}
	if (!a.l || a.l >= sizeof(buf))
		return EBADMSG;
	memcpy(buf, a.p, a.l);
	buf[a.l] = '\0';
	memset(sa, 0, sizeof(*sa));
	if (!cf_pl_chr(&a, ':')) {
		if (bracket || inet_pton(AF_INET, buf, &sa->u.in.sin_addr) != 1)
			return EBADMSG;
		sa->u.in.sin_family = AF_INET;
		sa->u.in.sin_port = htons(port);
		sa->len = sizeof(sa->u.in);
		return 0;
	}
	if (inet_pton(AF_INET6, buf, &sa->u.in6.sin6_addr) != 1)
		return EBADMSG;
	sa->u.in6.sin6_family = AF_INET6;
	sa->u.in6.sin6_port = htons(port);
	sa->len = sizeof(sa->u.in6);
	return 0;
}

int cf_sa_set_str(struct cf_sa *sa, const char *addr, uint16_t port)
{
	struct cf_pl pl;

	if (!addr)
		return EINVAL;
	cf_pl_set_str(&pl, addr);
	return cf_sa_set_pl(sa, &pl, port);
}

static int decode_port(const char *p, size_t n, uint16_t *port)
{
	struct cf_pl pl = {p, n};
	uint32_t v;

	if (cf_pl_u32(&pl, &v) || v > 65535)
		return EBADMSG;
	*port = (uint16_t)v;
	return 0;
}

/* "1.2.3.4", "1.2.3.4:5060", "::1", "[::1]", "[::1]:5060". EBADMSG. */
int cf_sa_decode(struct cf_sa *sa, const char *hostport)
{
	struct cf_pl host;
	const char *c, *end;
	uint16_t port = 0;
	size_t n;

	if (!sa || !hostport)
		return EINVAL;
	n = strlen(hostport);
	host.p = hostport;
	host.l = n;
	if (hostport[0] == '[') {
		end = memchr(hostport, ']', n);
		if (!end)
			return EBADMSG;
		host.l = (size_t)(end - hostport) + 1;
		if (end[1] == ':') {
			if (decode_port(end + 2, n - host.l - 1, &port))
				return EBADMSG;
		} else if (end[1] != '\0') {
			return EBADMSG;
		}
	} else {
		c = strchr(hostport, ':');
		if (c && !strchr(c + 1, ':')) {
			/* exactly one colon: IPv4 with a port */
			host.l = (size_t)(c - hostport);
			if (decode_port(c + 1, n - host.l - 1, &port))
				return EBADMSG;
		}
	}
	return cf_sa_set_pl(sa, &host, port);
}

int cf_sa_af(const struct cf_sa *sa)
{
	return sa ? sa->u.sa.sa_family : AF_UNSPEC;
}

uint16_t cf_sa_port(const struct cf_sa *sa)
{
	switch (cf_sa_af(sa)) {
	case AF_INET:
		return ntohs(sa->u.in.sin_port);
	case AF_INET6:
		return ntohs(sa->u.in6.sin6_port);
	default:
		return 0;
	}
}

void cf_sa_set_port(struct cf_sa *sa, uint16_t port)
{
	switch (cf_sa_af(sa)) {
	case AF_INET:
		sa->u.in.sin_port = htons(port);
		break;
	case AF_INET6:
		sa->u.in6.sin6_port = htons(port);
		break;
	default:
		break;
	}
}

/* An address family is set (any address, any port). */
bool cf_sa_isset(const struct cf_sa *sa)
{
	int af = cf_sa_af(sa);

	return af == AF_INET || af == AF_INET6;
}

/* "?" when sa is not set or buf too small for the address. */
const char *cf_sa_ntop(const struct cf_sa *sa, char *buf, size_t size)
{
	const void *a;

	if (!buf || !size)
		return buf;
	switch (cf_sa_af(sa)) {
	case AF_INET:
		a = &sa->u.in.sin_addr;
		break;
	case AF_INET6:
		a = &sa->u.in6.sin6_addr;
		break;
	default:
		a = NULL;
		break;
	}
	if (!a || !inet_ntop(cf_sa_af(sa), a, buf, (socklen_t)size))
		snprintf(buf, size, "?");
	return buf;
}

/* Host and port as a SIP Via/Contact writes them (RFC 3261 §25.1,
 * IPv6reference in brackets). Truncated to size. */
const char *cf_sa_print(const struct cf_sa *sa, char *buf, size_t size)
{
	char a[INET6_ADDRSTRLEN];

	if (!buf || !size)
		return buf;
	cf_sa_ntop(sa, a, sizeof(a));
	if (cf_sa_af(sa) == AF_INET6)
		snprintf(buf, size, "[%s]:%u", a, cf_sa_port(sa));
	else
		snprintf(buf, size, "%s:%u", a, cf_sa_port(sa));
	return buf;
}

bool cf_sa_addr_eq(const struct cf_sa *a, const struct cf_sa *b)
{
	if (!a || !b || cf_sa_af(a) != cf_sa_af(b))
		return false;
	switch (cf_sa_af(a)) {
	case AF_INET:
		return a->u.in.sin_addr.s_addr == b->u.in.sin_addr.s_addr;
	case AF_INET6:
		return !memcmp(&a->u.in6.sin6_addr, &b->u.in6.sin6_addr,
		               sizeof(a->u.in6.sin6_addr)) &&
		       a->u.in6.sin6_scope_id == b->u.in6.sin6_scope_id;
	default:
		return false;
	}
}

bool cf_sa_eq(const struct cf_sa *a, const struct cf_sa *b)
{
	return cf_sa_addr_eq(a, b) && cf_sa_port(a) == cf_sa_port(b);
}

/* FNV-1a over the address bytes (and the port when with_port). */
uint32_t cf_sa_hash(const struct cf_sa *sa, bool with_port)
{
	uint32_t h;
	uint16_t port;

	switch (cf_sa_af(sa)) {
	case AF_INET:
		h = cf_hash_mem(&sa->u.in.sin_addr, sizeof(sa->u.in.sin_addr));
		break;
	case AF_INET6:
		h = cf_hash_mem(&sa->u.in6.sin6_addr,
		                sizeof(sa->u.in6.sin6_addr));
		break;
	default:
		return 0;
	}
	if (with_port) {
		port = cf_sa_port(sa);
		h ^= port;
		h *= 16777619u;
		h ^= (uint32_t)port >> 8;
		h *= 16777619u;
	}
	return h;
}
