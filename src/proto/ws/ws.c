/* SPDX-License-Identifier: BSD-3-Clause */
/* ws.c - WebSocket frames (RFC 6455 §5): decode with every check the RFC
 * makes of a server, encode, mask, close payloads, message reassembly. */
#include <errno.h>
#include <string.h>

#include "proto/ws/ws.h"

static bool op_known(unsigned op)
{
	switch (op) {
	case CF_WS_OP_CONT:
	case CF_WS_OP_TEXT:
	case CF_WS_OP_BINARY:
	case CF_WS_OP_CLOSE:
	case CF_WS_OP_PING:
	case CF_WS_OP_PONG:
		return true;
	default:
		return false; /* §5.2: reserved opcodes fail the connection */
	}
}

/* See ws.h. O(1) before the payload: a frame announcing 2^62 bytes is
 * refused from its first 10 bytes, nothing buffered. */
int cf_ws_frame_decode(struct cf_ws_frame *f, const uint8_t *p, size_t n,
                       enum cf_ws_role role, uint64_t max, size_t *consumed)
{
	size_t h = 2;
	uint64_t len;

	if (!f || !consumed || (!p && n))
		return EINVAL;
	*consumed = 0;
	if (n < 2)
		return ENODATA;
	memset(f, 0, sizeof(*f));
	f->fin = (p[0] & 0x80) != 0;
	f->op = (enum cf_ws_op)(p[0] & 0x0f);
	f->masked = (p[1] & 0x80) != 0;
	len = p[1] & 0x7f;

	/* §5.2: RSV1-3 MUST be 0 unless an extension says otherwise */
	if (p[0] & 0x70)
		return EBADMSG;
	if (!op_known(f->op))
		return EBADMSG;
	/* §5.5: control frames are not fragmented, payload <= 125 */
	if (cf_ws_op_control(f->op) && (!f->fin || len > CF_WS_CTRL_MAX))
		return EBADMSG;
	/* §5.1: client-to-server frames are masked, the others are not */
	if (f->masked != (role == CF_WS_SERVER))
		return EBADMSG;

	if (len == 126) {
		if (n < 4)
			return ENODATA;
		len = (uint64_t)p[2] << 8 | p[3];
		h = 4;
		if (len < 126)
			return EBADMSG; /* §5.2: the minimal number of bytes */
	} else if (len == 127) {
		if (n < 10)
			return ENODATA;
		if (p[2] & 0x80)
			return EBADMSG; /* §5.2: the most significant bit is 0
			                 */
		len = 0;
		for (int i = 2; i < 10; i++)
			len = len << 8 | p[i];
		h = 10;
		if (len <= 0xffff)
			return EBADMSG;
	}
	if (len > max)
		return EMSGSIZE;
	if (f->masked) {
		if (n < h + 4)
			return ENODATA;
		memcpy(f->mask, p + h, 4);
		h += 4;
	}
	f->hlen = h;
	f->len = len;
	if (n - h < len)
		return ENODATA;
	f->payload = p + h;
	*consumed = h + (size_t)len;
	return 0;
}

void cf_ws_unmask(uint8_t *p, size_t n, const uint8_t mask[4], uint64_t off)
{
	if (!p || !mask)
		return;
	for (size_t i = 0; i < n; i++)
		p[i] ^= mask[(off + i) & 3];
}

size_t cf_ws_hdr_encode(uint8_t *hdr, bool fin, enum cf_ws_op op, uint64_t len,
                        const uint8_t *mask)
{
	size_t h = 2;

	hdr[0] = (uint8_t)((fin ? 0x80 : 0) | (op & 0x0f));
	if (len < 126) {
		hdr[1] = (uint8_t)len;
	} else if (len <= 0xffff) {
		hdr[1] = 126;
		hdr[2] = (uint8_t)(len >> 8);
		hdr[3] = (uint8_t)len;
		h = 4;
	} else {
		hdr[1] = 127;
		for (int i = 0; i < 8; i++)
			hdr[2 + i] = (uint8_t)(len >> (56 - 8 * i));
		h = 10;
	}
	if (mask) {
		hdr[1] |= 0x80;
		memcpy(hdr + h, mask, 4);
		h += 4;
	}
	return h;
}

int cf_ws_frame_encode(struct cf_mbuf *mb, bool fin, enum cf_ws_op op,
                       const uint8_t *payload, size_t len, const uint8_t *mask)
{
	uint8_t hdr[CF_WS_HDR_MAX];
	size_t h, start;
	int err;

	if (!mb || (len && !payload))
		return EINVAL;
	if (cf_ws_op_control(op) && (!fin || len > CF_WS_CTRL_MAX))
		return EINVAL;
	h = cf_ws_hdr_encode(hdr, fin, op, len, mask);
	err = cf_mbuf_write_mem(mb, hdr, h);
	if (err)
		return err;
	start = mb->pos;
	if (len) {
		err = cf_mbuf_write_mem(mb, payload, len);
		if (err)
			return err;
	}
	if (mask)
		cf_ws_unmask(mb->buf + start, len, mask, 0);
	return 0;
}

int cf_ws_close_encode(struct cf_mbuf *mb, uint16_t code, const char *reason,
                       const uint8_t *mask)
{
	uint8_t pl[2 + CF_WS_REASON_MAX];
	size_t n = 0;

	if (code) {
		pl[0] = (uint8_t)(code >> 8);
		pl[1] = (uint8_t)code;
		n = 2;
		if (reason) {
			size_t r = strlen(reason);

			if (r > CF_WS_REASON_MAX)
				r = CF_WS_REASON_MAX;
			memcpy(pl + 2, reason, r);
			n += r;
		}
	}
	return cf_ws_frame_encode(mb, true, CF_WS_OP_CLOSE, pl, n, mask);
}

/* §7.4.1/§7.4.2 and the IANA registry: codes a peer may send. */
static bool close_code_valid(uint16_t c)
{
	if (c >= 3000 && c <= 4999)
		return true;
	if (c >= 1000 && c <= 1003)
		return true;
	return c >= 1007 && c <= 1014;
}

int cf_ws_close_decode(const uint8_t *p, size_t n, uint16_t *code,
                       struct cf_pl *reason)
{
	if (!code || !reason || (!p && n))
		return EINVAL;
	*reason = CF_PL_NULL;
	if (n == 0) {
		*code = CF_WS_CLOSE_NO_STATUS;
		return 0;
	}
	if (n == 1)
		return EBADMSG;
	*code = (uint16_t)(p[0] << 8 | p[1]);
	if (!close_code_valid(*code))
		return EBADMSG;
	reason->p = (const char *)p + 2;
	reason->l = n - 2;
	return 0;
}

/* RFC 3629 §4: the second byte's range depends on the first byte (that is
 * what excludes overlong forms, surrogates and values past U+10FFFF). */
bool cf_ws_utf8_valid(const uint8_t *p, size_t n)
{
	size_t i = 0;

	if (!p)
		return n == 0;
	while (i < n) {
		uint8_t c = p[i], lo = 0x80, hi = 0xbf;
		size_t len;

		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			len = 2;
		} else if (c >= 0xe0 && c <= 0xef) {
			len = 3;
			if (c == 0xe0)
				lo = 0xa0; /* overlong */
			else if (c == 0xed)
				hi = 0x9f; /* surrogates */
		} else if (c >= 0xf0 && c <= 0xf4) {
			len = 4;
			if (c == 0xf0)
				lo = 0x90; /* overlong */
			else if (c == 0xf4)
				hi = 0x8f; /* past U+10FFFF */
		} else {
			return false;
		}
		if (n - i < len || p[i + 1] < lo || p[i + 1] > hi)
			return false;
		for (size_t k = 2; k < len; k++) {
			if (p[i + k] < 0x80 || p[i + k] > 0xbf)
				return false;
		}
		i += len;
	}
	return true;
}

void cf_ws_msg_init(struct cf_ws_msg *m, size_t max)
{
	memset(m, 0, sizeof(*m));
	cf_mbuf_init(&m->buf);
	m->max = max;
}

void cf_ws_msg_reset(struct cf_ws_msg *m)
{
	cf_mbuf_reset(&m->buf);
	m->active = false;
	m->op = CF_WS_OP_CONT;
}

/* See ws.h. An unfragmented message is not copied; a fragmented one is
 * copied once into the buffer (O(message size)). */
int cf_ws_msg_feed(struct cf_ws_msg *m, const struct cf_ws_frame *f,
                   const uint8_t *payload, bool *done, enum cf_ws_op *op,
                   struct cf_pl *msg)
{
	int err;

	if (!m || !f || !done || !op || !msg || cf_ws_op_control(f->op) ||
	    (f->len && !payload))
		return EINVAL;
	*done = false;
	if (f->op == CF_WS_OP_CONT) {
		if (!m->active)
			return EBADMSG; /* §5.4: nothing to continue */
	} else {
		if (m->active)
			return EBADMSG; /* §5.4: a new message inside one */
		if (f->len > m->max)
			return EMSGSIZE;
		if (f->fin) {
			*done = true;
			*op = f->op;
			msg->p = (const char *)payload;
			msg->l = (size_t)f->len;
			return 0;
		}
		m->active = true;
		m->op = f->op;
		m->buf.pos = m->buf.end = 0;
	}
	if (f->len > m->max - m->buf.end)
		return EMSGSIZE;
	err = cf_mbuf_write_mem(&m->buf, payload, (size_t)f->len);
	if (err)
		return err;
	if (!f->fin)
		return 0;
	*done = true;
	*op = m->op;
	*msg = cf_mbuf_pl(&m->buf);
	m->active = false;
	return 0;
}
