/* SPDX-License-Identifier: BSD-3-Clause */
/* http.h - HTTP/1.1 request heads (RFC 7230 §3) as far as the WebSocket
 * opening handshake needs them (RFC 6455 §4.2), and Sec-WebSocket-Accept.
 * No I/O; the parser allocates nothing. */
#ifndef CF_PROTO_HTTP_H
#define CF_PROTO_HTTP_H

#include "core/core.h"

/* Named limits. */
enum {
	CF_HTTP_HEAD_MAX = 8192,    /* request line + headers + empty line */
	CF_HTTP_HDR_MAX = 64,       /* header lines */
	CF_HTTP_WS_ACCEPT_LEN = 28, /* base64 of a SHA-1 digest */
	CF_HTTP_WS_VERSION = 13,    /* RFC 6455 §4.1 */
};

struct cf_http_hdr {
	struct cf_pl name;
	struct cf_pl val; /* trimmed */
};

/* A request head: slices into the decoder's input. */
struct cf_http_req {
	struct cf_pl method;
	struct cf_pl target;
	struct cf_pl version; /* "HTTP/1.1" */
	struct cf_http_hdr hdrv[CF_HTTP_HDR_MAX];
	size_t hdrc;
};

/*
 * Decode the request head at p[0..n): request line, header lines (names
 * are tokens, no space before the colon, no obsolete line folding; lines
 * end in CRLF or LF, RFC 7230 §3.5), up to the empty line. A body is not
 * read (an upgrade request has none). Garbage is refused as soon as it is
 * seen, before the head is complete: bytes that cannot start a request
 * line (a WebSocket frame sent before the upgrade, TLS, binary) fail at
 * once.
 * Returns 0 (*consumed = head length), ENODATA (incomplete, under
 * CF_HTTP_HEAD_MAX), EBADMSG (malformed: answer 400) or EMSGSIZE (the head
 * is over CF_HTTP_HEAD_MAX bytes or CF_HTTP_HDR_MAX lines: answer 431).
 */
int cf_http_req_decode(struct cf_http_req *req, const uint8_t *p, size_t n,
                       size_t *consumed);

/* The first header with this name (case-insensitive), or NULL. O(hdrc). */
const struct cf_pl *cf_http_req_hdr(const struct cf_http_req *req,
                                    const char *name);

/* Is token one of the comma-separated values of every header with this
 * name (case-insensitive; RFC 7230 §7 lists)? */
bool cf_http_req_has_token(const struct cf_http_req *req, const char *name,
                           const char *token);

/*
 * Sec-WebSocket-Accept for a Sec-WebSocket-Key (RFC 6455 §4.2.2 item 5.4):
 * base64(SHA-1(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")), written
 * NUL-terminated into out (CF_HTTP_WS_ACCEPT_LEN + 1 bytes).
 * EINVAL, or EPROTO when libcrypto fails.
 */
int cf_http_ws_accept(const struct cf_pl *key,
                      char out[CF_HTTP_WS_ACCEPT_LEN + 1]);

/* What the opening handshake asks for, once checked. */
struct cf_http_ws_upgrade {
	struct cf_pl key;    /* Sec-WebSocket-Key */
	struct cf_pl origin; /* Origin, or unset */
	uint16_t status;     /* 101, or the refusal: 400, 403, 405, 426 */
	const char *reason;  /* what was wrong (for the log and the body) */
};

/*
 * Check a decoded request as a WebSocket opening handshake (RFC 6455
 * §4.2.1) for subprotocol subproto (RFC 7118 §4: "sip"): GET, HTTP/1.1,
 * Host, Upgrade: websocket, Connection: Upgrade, a 16-byte
 * Sec-WebSocket-Key, Sec-WebSocket-Version 13 (else 426, §4.4),
 * Sec-WebSocket-Protocol listing subproto, and Origin in origins (a
 * comma-separated allow-list of exact origins, case-insensitive; NULL or
 * empty = any; a request without Origin, from a non-browser client, passes).
 * Fills *up; returns 0 when up->status is 101, EPROTO when refused.
 */
int cf_http_ws_upgrade_check(const struct cf_http_req *req,
                             const char *subproto, const char *origins,
                             struct cf_http_ws_upgrade *up);

#endif
