/* SPDX-License-Identifier: BSD-3-Clause */
/* test_ws.c - the WebSocket frame codec (RFC 6455 §5: opcodes, lengths,
 * masking, fragmentation, control frames, limits, close) and the HTTP
 * upgrade parser and checks (RFC 6455 §4, RFC 7118 §4). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/http/http.h"
#include "proto/ws/ws.h"
#include "testutil.h"

static const uint8_t MASK[4] = {0x37, 0xfa, 0x21, 0x3d};

/* Encode a frame as a client would (masked) into mb. */
static void client_frame(struct cf_mbuf *mb, bool fin, enum cf_ws_op op,
                         const uint8_t *p, size_t n)
{
	assert_int_equal(cf_ws_frame_encode(mb, fin, op, p, n, MASK), 0);
}

/* ------------------------------------------------------------- frames */

static void t_rfc_examples(void **state)
{
	/* RFC 6455 §5.7 */
	static const uint8_t hello_unmasked[] = {0x81, 0x05, 0x48, 0x65,
	                                         0x6c, 0x6c, 0x6f};
	static const uint8_t hello_masked[] = {
	    0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58};
	uint8_t buf[sizeof(hello_masked)];
	struct cf_ws_frame f;
	struct cf_mbuf mb;
	size_t used;
	(void)state;

	assert_int_equal(cf_ws_frame_decode(&f, hello_unmasked,
	                                    sizeof(hello_unmasked),
	                                    CF_WS_CLIENT, 1000, &used),
	                 0);
	assert_true(f.fin);
	assert_int_equal(f.op, CF_WS_OP_TEXT);
	assert_false(f.masked);
	assert_int_equal(f.len, 5);
	assert_int_equal(used, sizeof(hello_unmasked));
	assert_memory_equal(f.payload, "Hello", 5);

	memcpy(buf, hello_masked, sizeof(buf));
	assert_int_equal(
	    cf_ws_frame_decode(&f, buf, sizeof(buf), CF_WS_SERVER, 1000, &used),
	    0);
	assert_true(f.masked);
	assert_int_equal(f.hlen, 6);
	cf_ws_unmask(buf + f.hlen, (size_t)f.len, f.mask, 0);
	assert_memory_equal(buf + f.hlen, "Hello", 5);

	/* our encoder produces the same bytes */
	cf_mbuf_init(&mb);
	client_frame(&mb, true, CF_WS_OP_TEXT, (const uint8_t *)"Hello", 5);
	assert_int_equal(mb.end, sizeof(hello_masked));
	assert_memory_equal(mb.buf, hello_masked, mb.end);
	mb.pos = mb.end = 0;
	assert_int_equal(cf_ws_frame_encode(&mb, true, CF_WS_OP_TEXT,
	                                    (const uint8_t *)"Hello", 5, NULL),
	                 0);
	assert_memory_equal(mb.buf, hello_unmasked, sizeof(hello_unmasked));
	cf_mbuf_reset(&mb);
}

static void t_opcodes(void **state)
{
	static const enum cf_ws_op ops[] = {
	    CF_WS_OP_CONT,  CF_WS_OP_TEXT, CF_WS_OP_BINARY,
	    CF_WS_OP_CLOSE, CF_WS_OP_PING, CF_WS_OP_PONG,
	};
	struct cf_mbuf mb;
	(void)state;

	cf_mbuf_init(&mb);
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		struct cf_ws_frame f;
		size_t used;

		mb.pos = mb.end = 0;
		client_frame(&mb, true, ops[i], (const uint8_t *)"ab", 2);
		assert_int_equal(cf_ws_frame_decode(&f, mb.buf, mb.end,
		                                    CF_WS_SERVER, 100, &used),
		                 0);
		assert_int_equal(f.op, ops[i]);
		assert_int_equal(cf_ws_op_control(f.op), ops[i] >= 8);
		assert_int_equal(used, mb.end);
		cf_ws_unmask(mb.buf + f.hlen, 2, f.mask, 0);
		assert_memory_equal(mb.buf + f.hlen, "ab", 2);
	}
	/* reserved opcodes 3-7 and 0xb-0xf: protocol error (1002) */
	for (unsigned op = 0; op < 16; op++) {
		uint8_t b[6] = {(uint8_t)(0x80 | op), 0x80, 1, 2, 3, 4};
		struct cf_ws_frame f;
		size_t used;
		int err = cf_ws_frame_decode(&f, b, sizeof(b), CF_WS_SERVER,
		                             100, &used);

		if ((op >= 3 && op <= 7) || op >= 0xb)
			assert_int_equal(err, EBADMSG);
		else
			assert_int_equal(err, 0);
	}
	cf_mbuf_reset(&mb);
}

/* Lengths at the 7/16/64-bit boundaries; every cut is incomplete. */
static void t_lengths(void **state)
{
	static const struct {
		size_t len, hlen;
	} t[] = {
	    {0, 2},     {125, 2},    {126, 4},    {127, 4},
	    {65535, 4}, {65536, 10}, {70000, 10},
	};
	uint8_t *payload = malloc(70000);
	struct cf_mbuf mb;
	(void)state;

	assert_non_null(payload);
	for (size_t i = 0; i < 70000; i++)
		payload[i] = (uint8_t)(i * 7);
	cf_mbuf_init(&mb);
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct cf_ws_frame f;
		size_t used;

		mb.pos = mb.end = 0;
		client_frame(&mb, true, CF_WS_OP_BINARY, payload, t[i].len);
		assert_int_equal(mb.end, t[i].hlen + 4 + t[i].len);
		assert_int_equal(cf_ws_frame_decode(&f, mb.buf, mb.end,
		                                    CF_WS_SERVER, 1 << 20,
		                                    &used),
		                 0);
		assert_int_equal(f.len, t[i].len);
		assert_int_equal(f.hlen, t[i].hlen + 4);
		cf_ws_unmask(mb.buf + f.hlen, t[i].len, f.mask, 0);
		if (t[i].len)
			assert_memory_equal(mb.buf + f.hlen, payload, t[i].len);
		/* a byte short, at every header position and at the end */
		for (size_t cut = 0, h = f.hlen; cut < h; cut++)
			assert_int_equal(cf_ws_frame_decode(&f, mb.buf, cut,
			                                    CF_WS_SERVER,
			                                    1 << 20, &used),
			                 ENODATA);
		assert_int_equal(cf_ws_frame_decode(&f, mb.buf, mb.end - 1,
		                                    CF_WS_SERVER, 1 << 20,
		                                    &used),
		                 ENODATA);
		/* unmasked copy for a client decoder */
		mb.pos = mb.end = 0;
		assert_int_equal(cf_ws_frame_encode(&mb, true, CF_WS_OP_BINARY,
		                                    payload, t[i].len, NULL),
		                 0);
		assert_int_equal(mb.end, t[i].hlen + t[i].len);
		assert_int_equal(cf_ws_frame_decode(&f, mb.buf, mb.end,
		                                    CF_WS_CLIENT, 1 << 20,
		                                    &used),
		                 0);
		assert_int_equal(f.len, t[i].len);
	}
	cf_mbuf_reset(&mb);
	free(payload);
}

static void t_length_rules(void **state)
{
	/* §5.2: the minimal number of bytes; the 64-bit MSB is 0 */
	uint8_t short16[] = {0x82, 0xfe, 0x00, 0x7d, 1, 2, 3, 4};
	uint8_t short64[] = {0x82, 0xff, 0,    0, 0, 0, 0,
	                     0,    0xff, 0xff, 1, 2, 3, 4};
	uint8_t msb[] = {0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4};
	uint8_t huge[] = {0x82, 0xff, 0x7f, 0xff, 0xff,
	                  0xff, 0xff, 0xff, 0xff, 0xff};
	struct cf_ws_frame f;
	size_t used;
	(void)state;

	assert_int_equal(cf_ws_frame_decode(&f, short16, sizeof(short16),
	                                    CF_WS_SERVER, 1 << 20, &used),
	                 EBADMSG);
	assert_int_equal(cf_ws_frame_decode(&f, short64, sizeof(short64),
	                                    CF_WS_SERVER, 1 << 20, &used),
	                 EBADMSG);
	assert_int_equal(cf_ws_frame_decode(&f, msb, sizeof(msb), CF_WS_SERVER,
	                                    1 << 20, &used),
	                 EBADMSG);
	/* 2^63-1 bytes announced: refused from the header alone */
	assert_int_equal(cf_ws_frame_decode(&f, huge, sizeof(huge),
	                                    CF_WS_SERVER, 1 << 20, &used),
	                 EMSGSIZE);
}

/* The frame size limit: at it, and one past it (1009), decided from the
 * header before any payload arrives. */
static void t_limit(void **state)
{
	uint8_t *payload = calloc(1, 1001);
	struct cf_ws_frame f;
	struct cf_mbuf mb;
	size_t used;
	(void)state;

	assert_non_null(payload);
	cf_mbuf_init(&mb);
	client_frame(&mb, true, CF_WS_OP_TEXT, payload, 1000);
	assert_int_equal(
	    cf_ws_frame_decode(&f, mb.buf, mb.end, CF_WS_SERVER, 1000, &used),
	    0);
	mb.pos = mb.end = 0;
	client_frame(&mb, true, CF_WS_OP_TEXT, payload, 1001);
	assert_int_equal(
	    cf_ws_frame_decode(&f, mb.buf, mb.end, CF_WS_SERVER, 1000, &used),
	    EMSGSIZE);
	/* header only (4 bytes of 16-bit length), no payload yet */
	assert_int_equal(
	    cf_ws_frame_decode(&f, mb.buf, 4, CF_WS_SERVER, 1000, &used),
	    EMSGSIZE);
	assert_int_equal(used, 0);
	cf_mbuf_reset(&mb);
	free(payload);
}

static void t_masking(void **state)
{
	struct cf_ws_frame f;
	struct cf_mbuf mb;
	uint8_t buf[16];
	size_t used;
	(void)state;

	/* §5.1: a server refuses unmasked frames, a client masked ones */
	cf_mbuf_init(&mb);
	assert_int_equal(cf_ws_frame_encode(&mb, true, CF_WS_OP_TEXT,
	                                    (const uint8_t *)"x", 1, NULL),
	                 0);
	assert_int_equal(
	    cf_ws_frame_decode(&f, mb.buf, mb.end, CF_WS_SERVER, 100, &used),
	    EBADMSG);
	mb.pos = mb.end = 0;
	client_frame(&mb, true, CF_WS_OP_TEXT, (const uint8_t *)"x", 1);
	assert_int_equal(
	    cf_ws_frame_decode(&f, mb.buf, mb.end, CF_WS_CLIENT, 100, &used),
	    EBADMSG);
	cf_mbuf_reset(&mb);

	/* unmasking in pieces gives the same bytes as in one go */
	memcpy(buf, "0123456789abcdef", 16);
	cf_ws_unmask(buf, 16, MASK, 0);
	cf_ws_unmask(buf, 5, MASK, 0);
	cf_ws_unmask(buf + 5, 11, MASK, 5);
	assert_memory_equal(buf, "0123456789abcdef", 16);
}

static void t_reserved_bits(void **state)
{
	(void)state;

	for (int bit = 4; bit < 7; bit++) {
		uint8_t b[7] = {
		    (uint8_t)(0x81 | 1 << bit), 0x81, 1, 2, 3, 4, 'x'};
		struct cf_ws_frame f;
		size_t used;

		assert_int_equal(cf_ws_frame_decode(&f, b, sizeof(b),
		                                    CF_WS_SERVER, 100, &used),
		                 EBADMSG);
	}
}

static void t_control_rules(void **state)
{
	uint8_t pl[126] = {0};
	struct cf_ws_frame f;
	struct cf_mbuf mb;
	size_t used;
	(void)state;

	cf_mbuf_init(&mb);
	/* 125 bytes: fine */
	client_frame(&mb, true, CF_WS_OP_PING, pl, 125);
	assert_int_equal(
	    cf_ws_frame_decode(&f, mb.buf, mb.end, CF_WS_SERVER, 1000, &used),
	    0);
	/* 126: the encoder refuses, a hand-made frame is a protocol error */
	assert_int_equal(
	    cf_ws_frame_encode(&mb, true, CF_WS_OP_PING, pl, 126, NULL),
	    EINVAL);
	mb.pos = mb.end = 0;
	client_frame(&mb, true, CF_WS_OP_BINARY, pl, 126);
	mb.buf[0] = 0x89; /* FIN + ping */
	assert_int_equal(
	    cf_ws_frame_decode(&f, mb.buf, mb.end, CF_WS_SERVER, 1000, &used),
	    EBADMSG);
	/* fragmented control frames */
	for (unsigned op = 8; op <= 10; op++) {
		uint8_t b[6] = {(uint8_t)op, 0x80, 1, 2, 3, 4};

		assert_int_equal(cf_ws_frame_decode(&f, b, sizeof(b),
		                                    CF_WS_SERVER, 1000, &used),
		                 EBADMSG);
		assert_int_equal(
		    cf_ws_frame_encode(&mb, false, op, NULL, 0, NULL), EINVAL);
	}
	cf_mbuf_reset(&mb);
}

static void t_close(void **state)
{
	char reason[200];
	struct cf_ws_frame f;
	struct cf_mbuf mb;
	struct cf_pl r;
	uint16_t code;
	size_t used;
	(void)state;

	cf_mbuf_init(&mb);
	assert_int_equal(cf_ws_close_encode(&mb, 1009, "too big", NULL), 0);
	assert_int_equal(mb.end, 2 + 2 + 7);
	assert_int_equal(
	    cf_ws_frame_decode(&f, mb.buf, mb.end, CF_WS_CLIENT, 1000, &used),
	    0);
	assert_int_equal(f.op, CF_WS_OP_CLOSE);
	assert_int_equal(
	    cf_ws_close_decode(f.payload, (size_t)f.len, &code, &r), 0);
	assert_int_equal(code, 1009);
	assert_int_equal(r.l, 7);
	assert_memory_equal(r.p, "too big", 7);

	/* empty: no status (1005, never on the wire) */
	mb.pos = mb.end = 0;
	assert_int_equal(cf_ws_close_encode(&mb, 0, NULL, NULL), 0);
	assert_int_equal(mb.end, 2);
	assert_int_equal(cf_ws_close_decode(mb.buf + 2, 0, &code, &r), 0);
	assert_int_equal(code, CF_WS_CLOSE_NO_STATUS);

	/* a reason is cut to fit 125 bytes */
	memset(reason, 'r', sizeof(reason) - 1);
	reason[sizeof(reason) - 1] = '\0';
	mb.pos = mb.end = 0;
	assert_int_equal(cf_ws_close_encode(&mb, 1000, reason, MASK), 0);
	assert_int_equal(
	    cf_ws_frame_decode(&f, mb.buf, mb.end, CF_WS_SERVER, 1000, &used),
	    0);
	assert_int_equal(f.len, 125);

	/* bad payloads: one byte, codes that may not be sent */
	{
		static const uint16_t bad[] = {0,    999,  1004, 1005,
		                               1006, 1015, 2999, 5000};
		static const uint16_t good[] = {1000, 1001, 1002, 1003,
		                                1007, 1011, 3000, 4999};
		uint8_t b[2];

		assert_int_equal(cf_ws_close_decode(b, 1, &code, &r), EBADMSG);
		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			b[0] = (uint8_t)(bad[i] >> 8);
			b[1] = (uint8_t)bad[i];
			assert_int_equal(cf_ws_close_decode(b, 2, &code, &r),
			                 EBADMSG);
		}
		for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
			b[0] = (uint8_t)(good[i] >> 8);
			b[1] = (uint8_t)good[i];
			assert_int_equal(cf_ws_close_decode(b, 2, &code, &r),
			                 0);
			assert_int_equal(code, good[i]);
		}
	}
	cf_mbuf_reset(&mb);
}

/* Feed a frame (as the transport does: decode, unmask, feed). */
static int feed(struct cf_ws_msg *m, struct cf_mbuf *mb, bool fin,
                enum cf_ws_op op, const char *s, bool *done, enum cf_ws_op *mop,
                struct cf_pl *msg)
{
	struct cf_ws_frame f;
	size_t used;
	int err;

	mb->pos = mb->end = 0;
	client_frame(mb, fin, op, (const uint8_t *)s, strlen(s));
	err =
	    cf_ws_frame_decode(&f, mb->buf, mb->end, CF_WS_SERVER, 1000, &used);
	if (err)
		return err;
	cf_ws_unmask(mb->buf + f.hlen, (size_t)f.len, f.mask, 0);
	return cf_ws_msg_feed(m, &f, mb->buf + f.hlen, done, mop, msg);
}

static void t_fragments(void **state)
{
	struct cf_ws_msg m;
	struct cf_mbuf mb;
	enum cf_ws_op op;
	struct cf_pl msg;
	bool done;
	(void)state;

	cf_mbuf_init(&mb);
	cf_ws_msg_init(&m, 10);

	/* unfragmented: the frame's own payload, no copy */
	assert_int_equal(
	    feed(&m, &mb, true, CF_WS_OP_BINARY, "abc", &done, &op, &msg), 0);
	assert_true(done);
	assert_int_equal(op, CF_WS_OP_BINARY);
	assert_int_equal(msg.l, 3);
	assert_ptr_equal(msg.p, (const char *)mb.buf + 6);

	/* §5.4 example: "Hel" + "lo", a ping may come between */
	assert_int_equal(
	    feed(&m, &mb, false, CF_WS_OP_TEXT, "Hel", &done, &op, &msg), 0);
	assert_false(done);
	assert_int_equal(
	    feed(&m, &mb, false, CF_WS_OP_CONT, "", &done, &op, &msg), 0);
	assert_false(done);
	assert_int_equal(
	    feed(&m, &mb, true, CF_WS_OP_CONT, "lo", &done, &op, &msg), 0);
	assert_true(done);
	assert_int_equal(op, CF_WS_OP_TEXT);
	assert_int_equal(msg.l, 5);
	assert_memory_equal(msg.p, "Hello", 5);

	/* a continuation with nothing to continue; a new message inside one */
	assert_int_equal(
	    feed(&m, &mb, true, CF_WS_OP_CONT, "x", &done, &op, &msg), EBADMSG);
	assert_int_equal(
	    feed(&m, &mb, false, CF_WS_OP_TEXT, "a", &done, &op, &msg), 0);
	assert_int_equal(
	    feed(&m, &mb, true, CF_WS_OP_TEXT, "b", &done, &op, &msg), EBADMSG);
	cf_ws_msg_reset(&m);

	/* the message limit (10): at it, and past it across fragments */
	assert_int_equal(
	    feed(&m, &mb, false, CF_WS_OP_TEXT, "01234", &done, &op, &msg), 0);
	assert_int_equal(
	    feed(&m, &mb, true, CF_WS_OP_CONT, "56789", &done, &op, &msg), 0);
	assert_true(done);
	assert_int_equal(msg.l, 10);
	assert_int_equal(
	    feed(&m, &mb, false, CF_WS_OP_TEXT, "01234", &done, &op, &msg), 0);
	assert_int_equal(
	    feed(&m, &mb, true, CF_WS_OP_CONT, "567890", &done, &op, &msg),
	    EMSGSIZE);
	cf_ws_msg_reset(&m);
	assert_int_equal(
	    feed(&m, &mb, true, CF_WS_OP_TEXT, "0123456789a", &done, &op, &msg),
	    EMSGSIZE);
	cf_ws_msg_reset(&m);
	cf_mbuf_reset(&mb);
}

/* RFC 3629 well-formedness, at each boundary. */
static void t_utf8(void **state)
{
	static const struct {
		const char *s;
		bool ok;
	} t[] = {
	    {"", true},
	    {"plain ASCII", true},
	    {"caf\xc3\xa9", true},       /* U+00E9 */
	    {"\xe2\x82\xac", true},      /* U+20AC */
	    {"\xf0\x9f\x93\x9e", true},  /* U+1F4DE */
	    {"\xf4\x8f\xbf\xbf", true},  /* U+10FFFF */
	    {"\xed\x9f\xbf", true},      /* U+D7FF */
	    {"\xee\x80\x80", true},      /* U+E000 */
	    {"caf\xe9", false},          /* Latin-1 */
	    {"\xc0\xaf", false},         /* overlong '/' */
	    {"\xc1\xbf", false},         /* overlong */
	    {"\xe0\x9f\xbf", false},     /* overlong 3-byte */
	    {"\xf0\x8f\xbf\xbf", false}, /* overlong 4-byte */
	    {"\xed\xa0\x80", false},     /* U+D800 surrogate */
	    {"\xf4\x90\x80\x80", false}, /* U+110000 */
	    {"\xf5\x80\x80\x80", false},
	    {"\xe2\x82", false}, /* truncated */
	    {"\x80", false},     /* lone continuation */
	    {"\xc3\x28", false}, /* bad continuation */
	    {"\xff", false},
	};
	(void)state;

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		assert_int_equal(
		    cf_ws_utf8_valid((const uint8_t *)t[i].s, strlen(t[i].s)),
		    t[i].ok);
	assert_true(cf_ws_utf8_valid(NULL, 0));
}

/* --------------------------------------------------------------- http */

#define UPGRADE_HEAD                                                           \
	"GET /chat HTTP/1.1\r\n"                                               \
	"Host: server.example.com\r\n"                                         \
	"Upgrade: websocket\r\n"                                               \
	"Connection: keep-alive, Upgrade\r\n"                                  \
	"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"                      \
	"Origin: http://example.com\r\n"                                       \
	"Sec-WebSocket-Protocol: chat, sip\r\n"                                \
	"Sec-WebSocket-Version: 13\r\n"

static int decode_str(struct cf_http_req *req, const char *s, size_t *used)
{
	return cf_http_req_decode(req, (const uint8_t *)s, strlen(s), used);
}

static void t_http_good(void **state)
{
	const char *s = UPGRADE_HEAD "\r\n";
	struct cf_http_ws_upgrade up;
	struct cf_http_req req;
	char acc[CF_HTTP_WS_ACCEPT_LEN + 1];
	size_t used;
	(void)state;

	assert_int_equal(decode_str(&req, s, &used), 0);
	assert_int_equal(used, strlen(s));
	assert_int_equal(cf_pl_strcmp(&req.method, "GET"), 0);
	assert_int_equal(cf_pl_strcmp(&req.target, "/chat"), 0);
	assert_int_equal(cf_pl_strcmp(&req.version, "HTTP/1.1"), 0);
	assert_int_equal(req.hdrc, 7);
	/* names are case-insensitive */
	assert_non_null(cf_http_req_hdr(&req, "sec-websocket-key"));
	assert_true(cf_http_req_has_token(&req, "CONNECTION", "upgrade"));
	assert_false(cf_http_req_has_token(&req, "Connection", "close"));

	assert_int_equal(cf_http_ws_upgrade_check(&req, "sip", NULL, &up), 0);
	assert_int_equal(up.status, 101);
	assert_int_equal(cf_pl_strcmp(&up.origin, "http://example.com"), 0);
	/* RFC 6455 §1.3 */
	assert_int_equal(cf_http_ws_accept(&up.key, acc), 0);
	assert_string_equal(acc, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");

	/* every cut is incomplete; bytes after the head are not consumed */
	for (size_t cut = 1; cut < strlen(s); cut++)
		assert_int_equal(
		    cf_http_req_decode(&req, (const uint8_t *)s, cut, &used),
		    ENODATA);
	{
		char more[1024];

		snprintf(more, sizeof(more), "%s\x81\x85", s);
		assert_int_equal(decode_str(&req, more, &used), 0);
		assert_int_equal(used, strlen(s));
	}
	/* bare LF line ends (RFC 7230 §3.5) */
	assert_int_equal(decode_str(&req,
	                            "GET / HTTP/1.1\nHost: a\nUpgrade: "
	                            "websocket\n\n",
	                            &used),
	                 0);
	assert_int_equal(req.hdrc, 2);
}

/* Replace the line starting with `name:` in the good head by `line`
 * (NULL: drop it). */
static void head_with(char *out, size_t size, const char *name,
                      const char *line)
{
	const char *s = UPGRADE_HEAD, *p = strstr(s, name), *e;
	int n;

	assert_non_null(p);
	e = strstr(p, "\r\n") + 2;
	n = snprintf(out, size, "%.*s%s%s\r\n", (int)(p - s), s,
	             line ? line : "", e);
	assert_true(n > 0 && (size_t)n < size);
}

static void t_http_checks(void **state)
{
	static const struct {
		const char *name, *line;
		uint16_t status;
	} t[] = {
	    {"Upgrade:", NULL, 400},
	    {"Upgrade:", "Upgrade: h2c\r\n", 400},
	    {"Connection:", NULL, 400},
	    {"Connection:", "Connection: keep-alive\r\n", 400},
	    {"Host:", NULL, 400},
	    {"Sec-WebSocket-Key:", NULL, 400},
	    {"Sec-WebSocket-Key:", "Sec-WebSocket-Key: short==\r\n", 400},
	    {"Sec-WebSocket-Version:", NULL, 426},
	    {"Sec-WebSocket-Version:", "Sec-WebSocket-Version: 8\r\n", 426},
	    {"Sec-WebSocket-Protocol:", NULL, 400},
	    {"Sec-WebSocket-Protocol:", "Sec-WebSocket-Protocol: sips\r\n",
	     400},
	    {"Sec-WebSocket-Protocol:", "sec-websocket-protocol: SIP\r\n", 101},
	    {"Origin:", NULL, 101},
	    {"GET /chat", "POST /chat HTTP/1.1\r\n", 405},
	    {"GET /chat", "GET /chat HTTP/1.0\r\n", 400},
	};
	struct cf_http_ws_upgrade up;
	struct cf_http_req req;
	char head[2048];
	size_t used;
	(void)state;

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		head_with(head, sizeof(head), t[i].name, t[i].line);
		assert_int_equal(decode_str(&req, head, &used), 0);
		assert_int_equal(
		    cf_http_ws_upgrade_check(&req, "sip", NULL, &up),
		    t[i].status == 101 ? 0 : EPROTO);
		assert_int_equal(up.status, t[i].status);
		assert_non_null(up.reason);
	}

	/* plain HTTP: a browser visiting the port */
	assert_int_equal(
	    decode_str(&req, "GET / HTTP/1.1\r\nHost: x\r\n\r\n", &used), 0);
	assert_int_equal(cf_http_ws_upgrade_check(&req, "sip", NULL, &up),
	                 EPROTO);
	assert_int_equal(up.status, 400);

	/* the Origin allow-list */
	head_with(head, sizeof(head),
	          "Sec-WebSocket-Protocol:", "Sec-WebSocket-Protocol: sip\r\n");
	assert_int_equal(decode_str(&req, head, &used), 0);
	assert_int_equal(
	    cf_http_ws_upgrade_check(&req, "sip",
	                             "https://a.test, http://example.com", &up),
	    0);
	assert_int_equal(cf_http_ws_upgrade_check(&req, "sip", "", &up), 0);
	assert_int_equal(
	    cf_http_ws_upgrade_check(&req, "sip", "https://a.test", &up),
	    EPROTO);
	assert_int_equal(up.status, 403);
}

static void t_http_bad(void **state)
{
	static const char *const bad[] = {
	    "\x81\x85\x37\xfa\x21\x3d\x7f", /* a frame before the upgrade */
	    "\x16\x03\x01\x02\x00",         /* a TLS ClientHello */
	    " GET / HTTP/1.1\r\n",
	    "GET  / HTTP/1.1\r\n\r\n",
	    "GET / HTTP/1.1 \r\n\r\n",
	    "GET / SIP/2.0\r\n\r\n",
	    "GET / HTTP/1.1\r\nHost : x\r\n\r\n",      /* space before colon */
	    "GET / HTTP/1.1\r\nHost: x\r\n y\r\n\r\n", /* obs-fold */
	    "GET / HTTP/1.1\r\n: x\r\n\r\n",
	    "GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n",
	    "GET / HTTP/1.1\r\nHost: a\x01\r\n\r\n",
	};
	struct cf_http_req req;
	size_t used;
	(void)state;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(decode_str(&req, bad[i], &used), EBADMSG);
	/* garbage is refused at its first byte, not after 8 KB */
	assert_int_equal(
	    cf_http_req_decode(&req, (const uint8_t *)"\x81", 1, &used),
	    EBADMSG);
}

/* The head limit (8192 bytes) and the header count limit (64): at each,
 * and one past. */
static void t_http_limits(void **state)
{
	static char buf[CF_HTTP_HEAD_MAX + 64];
	struct cf_http_req req;
	size_t used, n;
	(void)state;

	/* "GET / HTTP/1.1\r\nX: aaaa...\r\n\r\n" of exactly HEAD_MAX */
	n = (size_t)sprintf(buf, "GET / HTTP/1.1\r\nX: ");
	memset(buf + n, 'a', CF_HTTP_HEAD_MAX - n - 4);
	memcpy(buf + CF_HTTP_HEAD_MAX - 4, "\r\n\r\n", 4);
	assert_int_equal(
	    cf_http_req_decode(&req, (uint8_t *)buf, CF_HTTP_HEAD_MAX, &used),
	    0);
	assert_int_equal(used, CF_HTTP_HEAD_MAX);
	/* one byte more */
	memset(buf + n, 'a', CF_HTTP_HEAD_MAX - n - 3);
	memcpy(buf + CF_HTTP_HEAD_MAX - 3, "\r\n\r\n", 4);
	assert_int_equal(cf_http_req_decode(&req, (uint8_t *)buf,
	                                    CF_HTTP_HEAD_MAX + 1, &used),
	                 EMSGSIZE);
	/* incomplete at the limit: it cannot fit any more */
	assert_int_equal(
	    cf_http_req_decode(&req, (uint8_t *)buf, CF_HTTP_HEAD_MAX, &used),
	    EMSGSIZE);
	assert_int_equal(cf_http_req_decode(&req, (uint8_t *)buf,
	                                    CF_HTTP_HEAD_MAX - 1, &used),
	                 ENODATA);

	for (int extra = 0; extra < 2; extra++) {
		n = (size_t)sprintf(buf, "GET / HTTP/1.1\r\n");
		for (int i = 0; i < CF_HTTP_HDR_MAX + extra; i++)
			n += (size_t)sprintf(buf + n, "H%d: v\r\n", i);
		n += (size_t)sprintf(buf + n, "\r\n");
		assert_int_equal(
		    cf_http_req_decode(&req, (uint8_t *)buf, n, &used),
		    extra ? EMSGSIZE : 0);
		if (!extra)
			assert_int_equal(req.hdrc, CF_HTTP_HDR_MAX);
	}
}

#define T(f)                                                                   \
	cmocka_unit_test_setup_teardown(f, cf_test_leak_setup,                 \
	                                cf_test_leak_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
	    T(t_rfc_examples),  T(t_opcodes),       T(t_lengths),
	    T(t_length_rules),  T(t_limit),         T(t_masking),
	    T(t_reserved_bits), T(t_control_rules), T(t_close),
	    T(t_fragments),     T(t_utf8),          T(t_http_good),
	    T(t_http_checks),   T(t_http_bad),      T(t_http_limits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
