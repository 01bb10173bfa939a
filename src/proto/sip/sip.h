/* SPDX-License-Identifier: BSD-3-Clause */
/* sip.h - the SIP message codec: decode (zero-copy, lazy), header values,
 * URIs, the stream framer and the encoder with recorded edits. No I/O. */
#ifndef CF_PROTO_SIP_H
#define CF_PROTO_SIP_H

#include "core/core.h"

/* Named limits (every size has one; tests sit at the limit and past it). */
enum {
	CF_SIP_MSG_MAX = 65535, /* whole message; larger -> 513 / close */
	CF_SIP_HDR_MAX = 256,	/* header lines in one message */
	CF_SIP_URI_MAX = 4096,	/* characters in one URI */
};

enum cf_sip_method {
	CF_SIP_M_OTHER = 0,
	CF_SIP_M_INVITE,
	CF_SIP_M_ACK,
	CF_SIP_M_BYE,
	CF_SIP_M_CANCEL,
	CF_SIP_M_OPTIONS,
	CF_SIP_M_REGISTER,
	CF_SIP_M_PRACK,
	CF_SIP_M_SUBSCRIBE,
	CF_SIP_M_NOTIFY,
	CF_SIP_M_PUBLISH,
	CF_SIP_M_INFO,
	CF_SIP_M_REFER,
	CF_SIP_M_MESSAGE,
	CF_SIP_M_UPDATE,
};

/* Header ids; compact forms map to the same id (i m v f t l k c e s o u r b
 * x y a j d). CF_SIP_H_OTHER for any header without an id. */
enum cf_sip_hdr_id {
	CF_SIP_H_OTHER = 0,
	CF_SIP_H_VIA,
	CF_SIP_H_CALL_ID,
	CF_SIP_H_CSEQ,
	CF_SIP_H_FROM,
	CF_SIP_H_TO,
	CF_SIP_H_MAX_FORWARDS,
	CF_SIP_H_CONTENT_LENGTH,
	CF_SIP_H_CONTENT_TYPE,
	CF_SIP_H_CONTACT,
	CF_SIP_H_ROUTE,
	CF_SIP_H_RECORD_ROUTE,
	CF_SIP_H_EXPIRES,
	CF_SIP_H_MIN_EXPIRES,
	CF_SIP_H_AUTHORIZATION,
	CF_SIP_H_PROXY_AUTHORIZATION,
	CF_SIP_H_WWW_AUTHENTICATE,
	CF_SIP_H_PROXY_AUTHENTICATE,
	CF_SIP_H_REQUIRE,
	CF_SIP_H_PROXY_REQUIRE,
	CF_SIP_H_SUPPORTED,
	CF_SIP_H_UNSUPPORTED,
	CF_SIP_H_ALLOW,
	CF_SIP_H_ACCEPT,
	CF_SIP_H_CONTENT_ENCODING,
	CF_SIP_H_EVENT,
	CF_SIP_H_SUBJECT,
	CF_SIP_H_REFER_TO,
	CF_SIP_H_REFERRED_BY,
	CF_SIP_H_SESSION_EXPIRES,
	CF_SIP_H_ACCEPT_CONTACT,
	CF_SIP_H_REJECT_CONTACT,
	CF_SIP_H_REQUEST_DISPOSITION,
	CF_SIP_H_IDENTITY,
	CF_SIP_H_DATE,
	CF_SIP_H_USER_AGENT,
	CF_SIP_H_SERVER,
	CF_SIP_H_PATH,
	CF_SIP_H_RSEQ,
	CF_SIP_H_RACK,
	CF_SIP_H_SUBSCRIPTION_STATE,
	CF_SIP_H_RETRY_AFTER,
	CF_SIP_H_WARNING,
	CF_SIP_H_TIMESTAMP,
	CF_SIP_H__COUNT,
};

/* One header line. `name` as received; `val` the value with leading and
 * trailing LWS removed (may contain folded CRLF SP); `line` the whole line
 * including its CRLF (for byte-exact re-emission). */
struct cf_sip_hdr {
	enum cf_sip_hdr_id id;
	struct cf_pl name;
	struct cf_pl val;
	struct cf_pl line;
};

enum cf_sip_scheme {
	CF_SIP_SCHEME_OTHER = 0,
	CF_SIP_SCHEME_SIP,
	CF_SIP_SCHEME_SIPS,
	CF_SIP_SCHEME_TEL,
};

/* A URI: slices into the message (or whatever buffer was decoded). For tel
 * URIs `user` is the number and `params` its parameters. `host` has no
 * brackets; host_v6 tells that it was an IPv6 reference. port 0 = absent.
 * `params` is the text after the first ';' up to '?' (without the ';'),
 * `headers` the text after '?'. */
struct cf_sip_uri {
	enum cf_sip_scheme scheme;
	struct cf_pl scheme_pl;
	struct cf_pl user;
	struct cf_pl password;
	struct cf_pl host;
	uint16_t port;
	bool host_v6;
	struct cf_pl params;
	struct cf_pl headers;
	struct cf_pl all;
};

/* name-addr / addr-spec (From, To, Contact, Route, Record-Route...). */
struct cf_sip_addr {
	struct cf_pl dname;  /* display name, quotes removed, escapes kept */
	struct cf_sip_uri uri;
	struct cf_pl params; /* header parameters after the URI (no ';') */
	struct cf_pl tag;    /* the tag param, if any */
	bool wildcard;	     /* Contact: * */
};

struct cf_sip_via {
	struct cf_pl proto;     /* "SIP/2.0" */
	struct cf_pl transport; /* "UDP", "TCP", ... */
	struct cf_pl host;      /* no brackets */
	uint16_t port;		/* 0 = absent */
	bool host_v6;
	struct cf_pl params;	/* all parameters (no leading ';') */
	struct cf_pl branch;
	struct cf_pl received;	/* brackets removed if any */
	struct cf_pl maddr;
	struct cf_pl ttl;
	struct cf_pl rport_val; /* value of rport= when given */
	bool rport;		/* rport present (with or without value) */
	struct cf_pl val;	/* the whole via-parm */
};

struct cf_sip_cseq {
	uint32_t num;
	struct cf_pl method;
	enum cf_sip_method mid;
};

/* Why a message was refused: the response to send (0 = none, drop) and its
 * reason phrase naming the fault ("Bad CSeq", "Missing Call-ID" ...). */
struct cf_sip_fault {
	uint16_t code;
	const char *reason;
};

/*
 * A decoded message: one refcounted block holding this struct, the header
 * index and a copy of the bytes. Slices point into `raw`.
 *
 * Decoded eagerly: start line, header boundaries and ids, the top Via,
 * Call-ID, CSeq, From/To (URI and tag), Max-Forwards, Content-Length, the
 * body. Anything else on demand through the helpers below.
 */
struct cf_sip_msg {
	struct cf_pl raw;
	bool req;

	/* request line */
	struct cf_pl method;
	enum cf_sip_method mid;
	struct cf_pl ruri_pl;
	struct cf_sip_uri ruri;

	/* status line */
	uint16_t scode;
	struct cf_pl reason;

	struct cf_pl version;

	/* header index, in order of appearance */
	struct cf_sip_hdr *hdrv;
	size_t hdrc;

	/* eager values; absent ones are unset slices / -1 */
	struct cf_sip_via via;
	struct cf_pl call_id;
	struct cf_sip_cseq cseq;
	struct cf_sip_addr from;
	struct cf_sip_addr to;
	int32_t max_forwards; /* -1 when absent */
	int64_t clen;	      /* -1 when absent */
	struct cf_pl body;

	/* The first fault found by decode's validation; code 0 when none.
	 * Requests with a fault are answered with it if respondable. */
	struct cf_sip_fault fault;
	/* A request with a Via line: cf_sip_reply_encode can answer it (it
	 * copies whatever Via/From/To/Call-ID/CSeq lines exist, RFC 4475
	 * §3.3.1). When the top Via did not decode (via.host unset), send
	 * the response to the source address and port. */
	bool respondable;

	/* edits recorded for the encoder (see cf_sip_msg_edit_*) */
	struct cf_list edits;
};

enum cf_sip_framing {
	CF_SIP_DATAGRAM = 0, /* UDP: body = rest of datagram if no C-L */
	CF_SIP_STREAM,	     /* TCP/TLS: Content-Length is mandatory */
};

/*
 * Decode one message from data[0..len). The bytes are copied into the new
 * message; the caller keeps its buffer. On 0, *msgp holds the message (one
 * reference for the caller) and *consumed the bytes it used (for streams,
 * the next message starts there). Semantic faults (bad CSeq, missing
 * headers, bad Content-Length, ...) do not fail the decode: they are put in
 * msg->fault so the caller can answer them.
 *
 * Returns EBADMSG when not even a start line and header section could be
 * split (nothing to answer), ENODATA when a stream holds an incomplete
 * message, EMSGSIZE when the message is over CF_SIP_MSG_MAX (513 on UDP,
 * close on TCP), ENOMEM. Verdicts per RFC 4475/5118 message:
 * docs/parser-verdicts.md.
 */
int cf_sip_msg_decode(struct cf_sip_msg **msgp, const uint8_t *data,
		      size_t len, enum cf_sip_framing framing,
		      size_t *consumed);

/*
 * Stream framer for TCP/TLS: looks at buffered bytes and says how long the
 * first message is, without decoding it. Leading CRLFs are keep-alives:
 * "\r\n\r\n" is a ping (*keepalive = CF_SIP_KA_PING, answer "\r\n"), a lone
 * "\r\n" a pong; both are consumed.
 * Returns 0 (*msglen set, or *keepalive set with *msglen = bytes to drop),
 * ENODATA (need more bytes), EBADMSG (garbage: close the connection) or
 * EMSGSIZE (a message over max bytes: close).
 */
enum cf_sip_ka {
	CF_SIP_KA_NONE = 0,
	CF_SIP_KA_PING,
	CF_SIP_KA_PONG,
};
int cf_sip_frame(const uint8_t *data, size_t len, size_t max, size_t *msglen,
		 enum cf_sip_ka *keepalive);

/* Header access. O(number of headers). */
const struct cf_sip_hdr *cf_sip_msg_hdr(const struct cf_sip_msg *msg,
					enum cf_sip_hdr_id id);
/* By name (case-insensitive, compact forms honoured), for CF_SIP_H_OTHER. */
const struct cf_sip_hdr *cf_sip_msg_hdr_name(const struct cf_sip_msg *msg,
					     const char *name);
size_t cf_sip_msg_hdr_count(const struct cf_sip_msg *msg,
			    enum cf_sip_hdr_id id);
/* Each comma-separated value of every header with this id, in order
 * (quotes and <> respected). Stops when the handler returns true. */
typedef bool(cf_sip_val_h)(const struct cf_sip_hdr *hdr,
			   const struct cf_pl *val, void *arg);
int cf_sip_msg_vals_apply(const struct cf_sip_msg *msg, enum cf_sip_hdr_id id,
			  cf_sip_val_h *h, void *arg);

/* Header id for a name (full or compact), CF_SIP_H_OTHER if unknown. */
enum cf_sip_hdr_id cf_sip_hdr_id_decode(const struct cf_pl *name);
const char *cf_sip_hdr_name(enum cf_sip_hdr_id id);
enum cf_sip_method cf_sip_method_decode(const struct cf_pl *m);
const char *cf_sip_method_name(enum cf_sip_method m);
/* Default reason phrase for a status code ("Not Found"), never NULL. */
const char *cf_sip_reason(uint16_t code);

/* Value decoders: 0 or EBADMSG. Slices point into pl's bytes. */
int cf_sip_uri_decode(struct cf_sip_uri *uri, const struct cf_pl *pl);
int cf_sip_addr_decode(struct cf_sip_addr *addr, const struct cf_pl *pl);
int cf_sip_via_decode(struct cf_sip_via *via, const struct cf_pl *pl);
/* ;name[=value] lists: ENOENT if absent; val unset for a flag param. */
int cf_sip_param_get(const struct cf_pl *params, const char *name,
		     struct cf_pl *val);
bool cf_sip_param_exists(const struct cf_pl *params, const char *name);
/* RFC 3261 §19.1.4 URI comparison: 0 when equal. */
int cf_sip_uri_cmp(const struct cf_sip_uri *a, const struct cf_sip_uri *b);
int cf_sip_uri_print(struct cf_mbuf *mb, const struct cf_sip_uri *uri);

/* ------------------------------------------------------------ encoder */

/*
 * Edits ("lumps") recorded against a decoded message and applied when it is
 * encoded: the received bytes are never touched; unchanged headers are
 * re-emitted byte for byte. Each call returns 0 or ENOMEM.
 */
/* Remove a header line (hdr points into msg->hdrv). */
int cf_sip_msg_edit_del(struct cf_sip_msg *msg, const struct cf_sip_hdr *hdr);
/* Insert a full header line "Name: value" (CRLF added) before hdr, or
 * before the first header when hdr is NULL (e.g. a new top Via or
 * Record-Route). */
int cf_sip_msg_edit_add(struct cf_sip_msg *msg, const struct cf_sip_hdr *hdr,
			const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Append a header line at the end of the header section. */
int cf_sip_msg_edit_append(struct cf_sip_msg *msg, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Replace the Request-URI. */
int cf_sip_msg_edit_ruri(struct cf_sip_msg *msg, const struct cf_pl *uri);
/* Replace the body (Content-Length is rewritten to match). */
int cf_sip_msg_edit_body(struct cf_sip_msg *msg, const struct cf_pl *body);
/* Drop all recorded edits. */
void cf_sip_msg_edit_clear(struct cf_sip_msg *msg);

/* Write msg with its edits applied. With no edits the output equals the
 * received bytes (msg->raw). */
int cf_sip_msg_encode(struct cf_mbuf *mb, const struct cf_sip_msg *msg);

/*
 * Build a response to req (RFC 3261 §8.2.6): status line, all Vias,
 * From, To (with to_tag added when To has none and to_tag is set),
 * Call-ID, CSeq, then the extra header lines `hdrs` (each ending CRLF, may
 * be NULL), Content-Length and the body (may be NULL).
 */
int cf_sip_reply_encode(struct cf_mbuf *mb, const struct cf_sip_msg *req,
			uint16_t code, const char *reason,
			const struct cf_pl *to_tag, const char *hdrs,
			const struct cf_pl *body);

/* A random token (alphanumeric) of n chars into buf[n+1]: tags, branches. */
void cf_sip_rand_token(char *buf, size_t n);

#endif
