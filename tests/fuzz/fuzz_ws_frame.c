/* SPDX-License-Identifier: BSD-3-Clause */
/* fuzz_ws_frame.c - libFuzzer target: the WebSocket frame decoder and the
 * reassembly of fragments, walked like the transport walks a stream (the
 * first byte picks the role and the size limit). A decoded frame re-encodes
 * to the same header; a frame cut one byte short is incomplete. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "proto/ws/ws.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool ok)
{
	if (!ok)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	enum cf_ws_role role;
	struct cf_ws_msg m;
	uint64_t max;
	uint8_t *buf;
	size_t off = 1;

	if (size < 1)
		return 0;
	role = (data[0] & 1) ? CF_WS_CLIENT : CF_WS_SERVER;
	max = (data[0] & 2) ? 300 : CF_WS_FRAME_MAX;
	/* the transport unmasks in place: work on a copy */
	buf = malloc(size);
	if (!buf)
		return 0;
	memcpy(buf, data, size);
	cf_ws_msg_init(&m, 1000);

	for (int i = 0; i < 256 && off < size; i++) {
		struct cf_ws_frame f, f2;
		uint8_t hdr[CF_WS_HDR_MAX];
		size_t used = 0, used2, h;
		enum cf_ws_op op;
		struct cf_pl msg;
		bool done;
		int err = cf_ws_frame_decode(&f, buf + off, size - off, role,
		                             max, &used);

		if (err) {
			check(err == ENODATA || err == EBADMSG ||
			      err == EMSGSIZE);
			check(used == 0);
			break;
		}
		check(used == f.hlen + f.len && used <= size - off);
		check(f.len <= max);
		check(!cf_ws_op_control(f.op) ||
		      (f.fin && f.len <= CF_WS_CTRL_MAX));
		check(f.masked == (role == CF_WS_SERVER));
		/* one byte short: incomplete */
		check(cf_ws_frame_decode(&f2, buf + off, used - 1, role, max,
		                         &used2) == ENODATA);
		/* the header re-encodes identically (shortest lengths) */
		h = cf_ws_hdr_encode(hdr, f.fin, f.op, f.len,
		                     f.masked ? f.mask : NULL);
		check(h == f.hlen && !memcmp(hdr, buf + off, h));
		cf_ws_unmask(buf + off + f.hlen, (size_t)f.len, f.mask, 0);
		if (f.op == CF_WS_OP_CLOSE) {
			uint16_t code;
			struct cf_pl reason;

			(void)cf_ws_close_decode(buf + off + f.hlen,
			                         (size_t)f.len, &code, &reason);
		} else if (!cf_ws_op_control(f.op)) {
			err = cf_ws_msg_feed(&m, &f, buf + off + f.hlen, &done,
			                     &op, &msg);
			if (err == EBADMSG || err == EMSGSIZE) {
				cf_ws_msg_reset(&m);
			} else if (!err && done) {
				check(msg.l <= 1000);
				(void)cf_ws_utf8_valid((const uint8_t *)msg.p,
				                       msg.l);
				check(op == CF_WS_OP_TEXT ||
				      op == CF_WS_OP_BINARY);
			}
		}
		off += used;
	}
	cf_ws_msg_reset(&m);
	free(buf);
	return 0;
}
