/* SPDX-License-Identifier: BSD-3-Clause */
/* ws.h - the WebSocket frame codec (RFC 6455 §5): decode, encode, unmask,
 * close frames and the reassembly of fragmented messages. No I/O. */
#ifndef CF_PROTO_WS_H
#define CF_PROTO_WS_H

#include "core/core.h"

/* Named limits (every size has one; tests sit at the limit and past it). */
enum {
	CF_WS_FRAME_MAX = 65536, /* default payload limit of one frame */
	CF_WS_CTRL_MAX = 125,    /* control frame payload (§5.5) */
	CF_WS_HDR_MAX = 14,      /* 2 + 8 (64-bit length) + 4 (mask) */
	CF_WS_REASON_MAX = 123,  /* close reason: 125 - 2 bytes of code */
};

/* §5.2 opcodes. */
enum cf_ws_op {
	CF_WS_OP_CONT = 0x0,
	CF_WS_OP_TEXT = 0x1,
	CF_WS_OP_BINARY = 0x2,
	CF_WS_OP_CLOSE = 0x8,
	CF_WS_OP_PING = 0x9,
	CF_WS_OP_PONG = 0xa,
};

/* §7.4.1 close codes we send or understand. */
enum cf_ws_close {
	CF_WS_CLOSE_NORMAL = 1000,
	CF_WS_CLOSE_GOING_AWAY = 1001,
	CF_WS_CLOSE_PROTOCOL = 1002,
	CF_WS_CLOSE_UNSUPPORTED = 1003,
	CF_WS_CLOSE_NO_STATUS = 1005, /* never sent: "no code in the frame" */
	CF_WS_CLOSE_INVALID = 1007,
	CF_WS_CLOSE_POLICY = 1008,
	CF_WS_CLOSE_TOO_BIG = 1009,
	CF_WS_CLOSE_INTERNAL = 1011,
};

/* Which end decodes: a server requires masked frames (§5.1: "a server
 * MUST close the connection upon receiving a frame that is not masked"),
 * a client requires unmasked ones. */
enum cf_ws_role {
	CF_WS_SERVER = 0,
	CF_WS_CLIENT,
};

static inline bool cf_ws_op_control(enum cf_ws_op op)
{
	return (op & 0x8) != 0;
}

/* One decoded frame header. payload points into the decoder's input and
 * is still masked (cf_ws_unmask). */
struct cf_ws_frame {
	bool fin;
	enum cf_ws_op op;
	bool masked;
	uint8_t mask[4];
	size_t hlen;  /* header bytes */
	uint64_t len; /* payload bytes */
	const uint8_t *payload;
};

/*
 * Decode the frame at p[0..n). Allocates nothing. Checks, as soon as the
 * header is there (before the payload arrives): reserved bits RSV1-3 zero
 * (no extension is negotiated), a known opcode, control frames not
 * fragmented and at most CF_WS_CTRL_MAX bytes (§5.5), the 64-bit length's
 * top bit clear and lengths in their shortest form (§5.2), masking as the
 * role requires, and len <= max (the frame size limit).
 * Returns 0 (*f set, *consumed = header + payload), ENODATA (feed more
 * bytes; *consumed 0), EBADMSG (protocol error: close 1002) or EMSGSIZE
 * (over max: close 1009).
 */
int cf_ws_frame_decode(struct cf_ws_frame *f, const uint8_t *p, size_t n,
                       enum cf_ws_role role, uint64_t max, size_t *consumed);

/* XOR p[0..n) with mask, in place; off is the payload offset of p[0]
 * (so a payload may be unmasked in pieces). */
void cf_ws_unmask(uint8_t *p, size_t n, const uint8_t mask[4], uint64_t off);

/*
 * Write a frame header for a payload of len bytes into hdr (at least
 * CF_WS_HDR_MAX bytes); mask NULL for an unmasked (server) frame. Returns
 * the header length. The payload follows it, masked by the caller when
 * mask is set (cf_ws_unmask masks too).
 */
size_t cf_ws_hdr_encode(uint8_t *hdr, bool fin, enum cf_ws_op op, uint64_t len,
                        const uint8_t *mask);

/* Append a whole frame (header + payload, masked when mask is set) to mb.
 * EINVAL for a control frame over CF_WS_CTRL_MAX or fragmented; ENOMEM. */
int cf_ws_frame_encode(struct cf_mbuf *mb, bool fin, enum cf_ws_op op,
                       const uint8_t *payload, size_t len, const uint8_t *mask);

/* Append a close frame with code (0: no code, empty payload) and a reason
 * (NULL or up to CF_WS_REASON_MAX bytes, cut there). §5.5.1. */
int cf_ws_close_encode(struct cf_mbuf *mb, uint16_t code, const char *reason,
                       const uint8_t *mask);

/*
 * Read an (unmasked) close payload: *code CF_WS_CLOSE_NO_STATUS when
 * empty, *reason the rest. EBADMSG for a 1-byte payload or a code that may
 * not be on the wire (§7.4: only 1000-1003, 1007-1014 as registered with
 * IANA, and 3000-4999 are accepted; 1004-1006 and 1015 never).
 */
int cf_ws_close_decode(const uint8_t *p, size_t n, uint16_t *code,
                       struct cf_pl *reason);

/* Is p[0..n) well-formed UTF-8 (RFC 3629: shortest forms only, no
 * surrogates, nothing past U+10FFFF)? A text message that is not must fail
 * the connection with 1007 (RFC 6455 §8.1). O(n). */
bool cf_ws_utf8_valid(const uint8_t *p, size_t n);

/*
 * Reassembly of a fragmented message (§5.4): data frames in, whole
 * messages out. The caller feeds each decoded, unmasked data frame;
 * control frames are handled by the caller between fragments and never
 * fed. Embedded in its owner; the buffer grows up to max.
 */
struct cf_ws_msg {
	struct cf_mbuf buf;
	enum cf_ws_op op; /* of the message being assembled, or CONT */
	bool active;
	size_t max;
};

void cf_ws_msg_init(struct cf_ws_msg *m, size_t max);
void cf_ws_msg_reset(struct cf_ws_msg *m);
/*
 * Feed one data frame (op TEXT/BINARY/CONT, payload unmasked). Returns 0
 * with *done set when the message is complete (*op its opcode, *msg its
 * bytes: the frame's own payload when it was unfragmented, else the
 * buffer's; valid until the next call), 0 with *done false when more
 * fragments are expected, EBADMSG for a continuation without a start or a
 * new message inside a fragmented one (§5.4: close 1002), EMSGSIZE when
 * the message grows over max (close 1009), ENOMEM.
 */
int cf_ws_msg_feed(struct cf_ws_msg *m, const struct cf_ws_frame *f,
                   const uint8_t *payload, bool *done, enum cf_ws_op *op,
                   struct cf_pl *msg);

#endif
