/* SPDX-License-Identifier: BSD-3-Clause */
/* fuzz_sip_msg.c - libFuzzer target: cf_sip_msg_decode (datagram and
 * stream) and every lazy helper, the encoder and the reply builder. */
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	for (int f = 0; f < 2; f++) {
		struct cf_sip_msg *m = NULL;
		size_t used = 0;

		if (cf_sip_msg_decode(&m, data, size, f, &used))
			continue;
		fz_check(used <= size && m->raw.l <= size);
		fz_check(m->hdrc <= CF_SIP_HDR_MAX);
		if (m->fault.reason == NULL)
			fz_check(m->fault.code == 0);
		fz_msg_walk(m);
		cf_mem_deref(m);
	}
	return 0;
}
