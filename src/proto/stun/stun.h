/* SPDX-License-Identifier: BSD-3-Clause */
/* stun.h - the STUN message codec (RFC 8489): header and attributes
 * decoded in place, XOR-MAPPED-ADDRESS, MESSAGE-INTEGRITY (HMAC-SHA1) and
 * FINGERPRINT (CRC-32), an encoder into a caller's buffer. No I/O, no
 * allocation, no globals. */
#ifndef CF_PROTO_STUN_H
#define CF_PROTO_STUN_H

#include "core/core.h"

/* Named limits and sizes. */
enum {
	CF_STUN_HDR_LEN = 20,  /* §5: type, length, cookie, transaction */
	CF_STUN_TID_LEN = 12,  /* 96-bit transaction ID */
	CF_STUN_ATTR_MAX = 32, /* attributes indexed per message; more:
	                        * EBADMSG */
	CF_STUN_MSG_MAX = 65535 + CF_STUN_HDR_LEN, /* the 16-bit length */
	CF_STUN_MI_LEN = 20,      /* MESSAGE-INTEGRITY: HMAC-SHA1 */
	CF_STUN_FP_LEN = 4,       /* FINGERPRINT: CRC-32 */
	CF_STUN_REASON_MAX = 763, /* ERROR-CODE reason phrase (§14.8) */
};

#define CF_STUN_MAGIC  0x2112A442u
#define CF_STUN_FP_XOR 0x5354554eu /* "STUN" (§14.7) */

/* §5: the class bits of the message type. */
enum cf_stun_class {
	CF_STUN_REQUEST = 0,
	CF_STUN_INDICATION = 1,
	CF_STUN_SUCCESS = 2,
	CF_STUN_ERROR = 3,
};

enum cf_stun_method {
	CF_STUN_BINDING = 0x001, /* §18.2 */
};

/* Attribute types (§18.3; RFC 8445 and RFC 8656 ones a TURN server and
 * ICE agents meet). Below 0x8000: comprehension-required. */
enum cf_stun_attr_type {
	CF_STUN_A_MAPPED_ADDRESS = 0x0001,
	CF_STUN_A_USERNAME = 0x0006,
	CF_STUN_A_MESSAGE_INTEGRITY = 0x0008,
	CF_STUN_A_ERROR_CODE = 0x0009,
	CF_STUN_A_UNKNOWN_ATTRIBUTES = 0x000A,
	CF_STUN_A_REALM = 0x0014,
	CF_STUN_A_NONCE = 0x0015,
	CF_STUN_A_MESSAGE_INTEGRITY_SHA256 = 0x001C,
	CF_STUN_A_PASSWORD_ALGORITHM = 0x001D,
	CF_STUN_A_USERHASH = 0x001E,
	CF_STUN_A_XOR_MAPPED_ADDRESS = 0x0020,
	CF_STUN_A_PRIORITY = 0x0024,
	CF_STUN_A_USE_CANDIDATE = 0x0025,
	CF_STUN_A_PASSWORD_ALGORITHMS = 0x8002,
	CF_STUN_A_ALTERNATE_DOMAIN = 0x8003,
	CF_STUN_A_SOFTWARE = 0x8022,
	CF_STUN_A_ALTERNATE_SERVER = 0x8023,
	CF_STUN_A_FINGERPRINT = 0x8028,
	CF_STUN_A_ICE_CONTROLLED = 0x8029,
	CF_STUN_A_ICE_CONTROLLING = 0x802A,
};

static inline bool cf_stun_attr_required(uint16_t type)
{
	return type < 0x8000;
}

/* One attribute: its type and value, a slice into the message. */
struct cf_stun_attr {
	uint16_t type;
	const uint8_t *val;
	uint16_t len; /* value length, padding excluded */
	size_t off;   /* offset of its 4-byte header in the message */
};

/* A decoded message: slices into the caller's buffer, which must outlive
 * it. */
struct cf_stun_msg {
	const uint8_t *raw;
	size_t len; /* header + attributes */
	uint16_t method;
	enum cf_stun_class cls;
	uint8_t tid[CF_STUN_TID_LEN];
	struct cf_stun_attr attrv[CF_STUN_ATTR_MAX];
	size_t attrc;
	/* attributes after MESSAGE-INTEGRITY other than FINGERPRINT and
	 * MESSAGE-INTEGRITY-SHA256 are ignored (§14.5): not indexed */
	const struct cf_stun_attr *integrity;
	bool fingerprint; /* present, and it was checked right */
};

/*
 * Could p start a STUN message (§6: the first two bits zero, the magic
 * cookie, a length that is a multiple of 4)? The demultiplexing test of
 * RFC 7983 and RFC 5626 §4.4.2 (SIP's first byte is a letter, so never
 * below 0x40). n >= CF_STUN_HDR_LEN, else false. O(1).
 */
bool cf_stun_is(const uint8_t *p, size_t n);

/*
 * Decode one message from p. 0; ENODATA when fewer than the header or the
 * length it announces are there (*used: the bytes needed, when known);
 * EBADMSG when it is not STUN, an attribute runs past the end, a
 * FINGERPRINT is not last or does not match, or there are more than
 * CF_STUN_ATTR_MAX attributes. *used: the message's length on success.
 * Nothing is allocated; m slices into p.
 */
int cf_stun_decode(struct cf_stun_msg *m, const uint8_t *p, size_t n,
                   size_t *used);

/* The first attribute of type (NULL: none). O(attributes). */
const struct cf_stun_attr *cf_stun_attr_get(const struct cf_stun_msg *m,
                                            uint16_t type);

/* The first comprehension-required attribute type not in known (n of
 * them), or 0 when there is none (§6.3: a request with one gets 420). */
uint16_t cf_stun_attr_unknown(const struct cf_stun_msg *m,
                              const uint16_t *known, size_t n);

/* An address attribute: XOR-MAPPED-ADDRESS (§14.2, unXORed with the
 * cookie and transaction ID) or MAPPED-ADDRESS / ALTERNATE-SERVER (§14.1).
 * 0, EBADMSG (bad family or length). */
int cf_stun_addr_decode(const struct cf_stun_msg *m,
                        const struct cf_stun_attr *a, struct cf_sa *sa);

/* ERROR-CODE (§14.8): the code (300..699) and reason. 0 or EBADMSG. */
int cf_stun_error_decode(const struct cf_stun_attr *a, uint16_t *code,
                         struct cf_pl *reason);

/* MESSAGE-INTEGRITY of m checked with key (§9.1.3: HMAC-SHA1 over the
 * message up to the attribute, its length field covering it). 0, ENOENT
 * (no such attribute), EBADMSG (it does not match), ENOMEM. */
int cf_stun_integrity_check(const struct cf_stun_msg *m, const uint8_t *key,
                            size_t keylen);

/* CRC-32 (ISO 3309 / ITU-T V.42, as zlib's) of p; FINGERPRINT is it XOR
 * CF_STUN_FP_XOR. O(n), a 1 KB table. */
uint32_t cf_stun_crc32(const uint8_t *p, size_t n);

/* ------------------------------------------------------------ encoder */

/* An encoder writing into the caller's buffer; every call returns 0 or
 * ENOMEM (the buffer is too small: nothing more is written). */
struct cf_stun_enc {
	uint8_t *buf;
	size_t size;
	size_t len;
};

/* The header: method, class, transaction ID (copied). */
int cf_stun_enc_start(struct cf_stun_enc *e, uint8_t *buf, size_t size,
                      uint16_t method, enum cf_stun_class cls,
                      const uint8_t tid[CF_STUN_TID_LEN]);
/* One attribute, padded to 4 bytes with zeros. */
int cf_stun_enc_attr(struct cf_stun_enc *e, uint16_t type, const void *val,
                     size_t len);
/* XOR-MAPPED-ADDRESS (or MAPPED-ADDRESS when type says so) of sa. */
int cf_stun_enc_addr(struct cf_stun_enc *e, uint16_t type,
                     const struct cf_sa *sa);
/* ERROR-CODE: code 300..699 and a reason (truncated at its limit). */
int cf_stun_enc_error(struct cf_stun_enc *e, uint16_t code, const char *reason);
/* MESSAGE-INTEGRITY with key (HMAC-SHA1), then FINGERPRINT: the last two
 * calls, in this order, when both are wanted. */
int cf_stun_enc_integrity(struct cf_stun_enc *e, const uint8_t *key,
                          size_t keylen);
int cf_stun_enc_fingerprint(struct cf_stun_enc *e);

/*
 * The Binding success response to req (a Binding request) for a client
 * seen at src: XOR-MAPPED-ADDRESS, SOFTWARE when given, FINGERPRINT. Into
 * buf; *len its length. 0, EINVAL (req is not a Binding request), ENOMEM.
 */
int cf_stun_binding_success(uint8_t *buf, size_t size, size_t *len,
                            const struct cf_stun_msg *req,
                            const struct cf_sa *src, const char *software);

#endif
