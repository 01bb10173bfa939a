/* SPDX-License-Identifier: BSD-3-Clause */
/* fuzz_flow.c - libFuzzer target: the flow tokens of Record-Route user
 * parts (src/mod/proxy/flow.c). Any input read as a token is refused
 * (ENOENT, EBADMSG) or accepted with a stream transport and a set
 * address; a token written for an address made of the input's bytes
 * reads back as that address, and with its last digit changed is
 * refused. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "mod/proxy/flow.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool ok)
{
	if (!ok)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char user[PROXY_FLOW_USER_MAX];
	struct cf_sip_peer hop, back;
	struct cf_pl pl = {(const char *)data, size};
	enum cf_sip_tp tp;
	struct cf_sa a;
	int err;

	err = proxy_flow_hop(&pl, &hop);
	check(err == 0 || err == ENOENT || err == EBADMSG);
	if (!err)
		check(proxy_flow_stream(hop.tp) && cf_sa_isset(&hop.addr));

	/* a token for an address made of the input */
	if (size < 7)
		return 0;
	{
		static const enum cf_sip_tp tps[] = {
		    CF_SIP_TP_WS, CF_SIP_TP_WSS, CF_SIP_TP_TCP, CF_SIP_TP_TLS};

		tp = tps[(data[0] & 1) | (data[0] >> 2 & 2)];
	}
	memset(&a, 0, sizeof(a));
	if (data[0] & 2) {
		uint8_t b[16];

		memcpy(b, data + 1, size >= 19 ? 16 : 4);
		a.u.in6.sin6_family = AF_INET6;
		if (size >= 19)
			memcpy(&a.u.in6.sin6_addr, b, 16);
		a.len = sizeof(a.u.in6);
	} else {
		a.u.in.sin_family = AF_INET;
		memcpy(&a.u.in.sin_addr, data + 1, 4);
		a.len = sizeof(a.u.in);
	}
	cf_sa_set_port(&a, (uint16_t)(data[5] << 8 | data[6]));
	err = proxy_flow_user(tp, &a, user, sizeof(user));
	if (cf_sa_port(&a) == 0) {
		/* port 0 is written but never read back */
		return 0;
	}
	check(err == 0);
	cf_pl_set_str(&pl, user);
	check(proxy_flow_hop(&pl, &back) == 0 && back.tp == tp &&
	      cf_sa_eq(&back.addr, &a));
	user[strlen(user) - 1] ^= 1; /* a hex digit stays one, another MAC */
	check(proxy_flow_hop(&pl, &back) == EBADMSG);
	return 0;
}
