/* SPDX-License-Identifier: BSD-3-Clause */
/* sock.c - socket setup shared by the UDP and stream transports: address
 * lengths and the bound address of a listener. */
#include <errno.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "sip/stack_priv.h"

socklen_t sock_sa_len(const struct cf_sa *sa)
{
	if (sa->len)
		return sa->len;
	return cf_sa_af(sa) == AF_INET6 ? sizeof(struct sockaddr_in6)
	                                : sizeof(struct sockaddr_in);
}

int sock_listener_bound(struct listener *l, int fd)
{
	struct cf_sa bound;

	memset(&bound, 0, sizeof(bound));
	bound.len = sizeof(bound.u.ss);
	if (getsockname(fd, &bound.u.sa, &bound.len))
		return errno;
	l->addr = bound;
	l->fd = fd;
	return 0;
}
