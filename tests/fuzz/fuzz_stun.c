/* SPDX-License-Identifier: BSD-3-Clause */
/* fuzz_stun.c - libFuzzer target: the STUN decoder (src/proto/stun) as the
 * SIP port's responder and a TURN server use it: decode, every address
 * and error attribute, the integrity check, and the Binding success for
 * a request, which must decode again with a good FINGERPRINT. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>

#include "proto/stun/stun.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool ok)
{
	if (!ok)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cf_stun_msg m, r;
	uint8_t out[512];
	struct cf_sa sa;
	size_t used = 0, len;
	int err = cf_stun_decode(&m, data, size, &used);

	if (err) {
		check(err == ENODATA || err == EBADMSG);
		return 0;
	}
	check(used >= CF_STUN_HDR_LEN && used <= size && used % 4 == 0);
	check(cf_stun_is(data, size));
	for (size_t i = 0; i < m.attrc; i++) {
		const struct cf_stun_attr *a = &m.attrv[i];
		uint16_t code;
		struct cf_pl why;

		check(a->off + 4 + a->len <= used);
		if (a->type == CF_STUN_A_XOR_MAPPED_ADDRESS ||
		    a->type == CF_STUN_A_MAPPED_ADDRESS)
			(void)cf_stun_addr_decode(&m, a, &sa);
		if (a->type == CF_STUN_A_ERROR_CODE &&
		    !cf_stun_error_decode(a, &code, &why))
			check(code >= 300 && code <= 699);
	}
	err = cf_stun_integrity_check(&m, (const uint8_t *)"key", 3);
	check(err == 0 || err == ENOENT || err == EBADMSG);
	(void)cf_stun_attr_unknown(&m, NULL, 0);

	if (m.method == CF_STUN_BINDING && m.cls == CF_STUN_REQUEST) {
		memset(&sa, 0, sizeof(sa));
		sa.u.in.sin_family = AF_INET;
		sa.u.in.sin_port = htons(5060);
		sa.len = sizeof(sa.u.in);
		check(!cf_stun_binding_success(out, sizeof(out), &len, &m, &sa,
		                               "fuzz"));
		check(!cf_stun_decode(&r, out, len, &used) && r.fingerprint &&
		      !memcmp(r.tid, m.tid, CF_STUN_TID_LEN));
	}
	return 0;
}
