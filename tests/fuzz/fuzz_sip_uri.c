/* SPDX-License-Identifier: BSD-3-Clause */
/* fuzz_sip_uri.c - libFuzzer target: URI, name-addr and Via decoders; a
 * decoded URI printed and decoded again compares equal. */
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cf_pl pl = {(const char *)data, size}, v;
	struct cf_sip_uri u, u2;
	struct cf_sip_addr a;
	struct cf_sip_via via;

	if (!cf_sip_uri_decode(&u, &pl)) {
		struct cf_mbuf *mb = NULL;
		fz_check(cf_sip_uri_cmp(&u, &u) == 0);
		(void)cf_sip_param_get(&u.params, "transport", &v);
		if (!cf_mbuf_alloc(&mb, 64)) {
			struct cf_pl out;
			fz_check(cf_sip_uri_print(mb, &u) == 0);
			out = cf_mbuf_pl(mb);
			fz_check(cf_sip_uri_decode(&u2, &out) == 0);
			fz_check(cf_sip_uri_cmp(&u, &u2) == 0);
			cf_mem_deref(mb);
		}
	}
	if (!cf_sip_addr_decode(&a, &pl))
		(void)cf_sip_param_get(&a.params, "tag", &v);
	if (!cf_sip_via_decode(&via, &pl))
		(void)cf_sip_param_get(&via.params, "branch", &v);
	(void)cf_sip_param_exists(&pl, "lr");
	return 0;
}
