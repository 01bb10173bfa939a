/* SPDX-License-Identifier: BSD-3-Clause */
/* fuzz_sip_frame.c - libFuzzer target: the stream framer. What it frames,
 * the decoder takes in stream mode with the same length; a frame cut one
 * byte short is incomplete. */
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t off = 0;

	/* walk the buffer like the TCP transport does */
	for (int i = 0; i < 64 && off < size; i++) {
		enum cf_sip_ka ka;
		size_t ml = 0, used = 0, ml2;
		struct cf_sip_msg *m = NULL;
		int err = cf_sip_frame(data + off, size - off, 4096, &ml, &ka);

		if (err)
			break;
		fz_check(ml > 0 && ml <= size - off);
		if (ka == CF_SIP_KA_NONE) {
			fz_check(cf_sip_frame(data + off, ml - 1, 4096, &ml2,
			                      &ka) == ENODATA);
			err = cf_sip_msg_decode(&m, data + off, ml,
			                        CF_SIP_STREAM, &used);
			fz_check(err == 0 || err == ENOMEM);
			if (!err) {
				fz_check(used == ml);
				fz_msg_walk(m);
				cf_mem_deref(m);
			}
		}
		off += ml;
	}
	return 0;
}
