/* SPDX-License-Identifier: BSD-3-Clause */
/* digest.h - HTTP/SIP Digest maths, credentials parser, challenge encoder
 * and stateless nonces (RFC 2617, RFC 7616, RFC 8760, RFC 3261 §22).
 *
 * Pure code: no I/O, no clock (the caller passes the time), no allocation
 * (results go to caller buffers, parsed values are slices into the input).
 * Hashes and HMAC come from OpenSSL 3 (libcrypto); the three message
 * digests are fetched once per process and then only read. */
#ifndef CF_PROTO_SIP_DIGEST_H
#define CF_PROTO_SIP_DIGEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/core.h"

/* The digest algorithms (RFC 7616 §3.2, RFC 8760 §2). The values index
 * arrays (one HA1 per algorithm in the store). "-sess" is a flag beside it. */
enum cf_digest_alg {
	CF_DIGEST_MD5 = 0,
	CF_DIGEST_SHA256,
	CF_DIGEST_SHA512_256,
	CF_DIGEST_ALG_COUNT,
};

enum {
	/* Longest digest in lower-case hex (SHA-256, SHA-512/256: 64). */
	CF_DIGEST_HEX_MAX = 64,
	/* Size of a buffer for a hex digest and its NUL. */
	CF_DIGEST_HEX_SIZE = CF_DIGEST_HEX_MAX + 1,
	/* Length of a nonce made by cf_digest_nonce_make (base64url of
	 * 8 bytes time, 8 bytes salt, 16 bytes HMAC; no padding). */
	CF_DIGEST_NONCE_LEN = 43,
	CF_DIGEST_NONCE_SIZE = CF_DIGEST_NONCE_LEN + 1,
	/* Shortest server secret accepted for nonces (bytes). */
	CF_DIGEST_SECRET_MIN = 16,
};

/* Hex length of alg's digest: 32 for MD5, 64 otherwise; 0 if invalid. */
size_t cf_digest_hexlen(enum cf_digest_alg alg);

/* Name as written in the algorithm parameter: "MD5", "SHA-256",
 * "SHA-512-256", with "-sess" appended when sess. NULL if alg is invalid. */
const char *cf_digest_alg_name(enum cf_digest_alg alg, bool sess);

/* Decode an algorithm parameter value (case-insensitive, RFC 7616 §3.3).
 * Returns 0, or ENOENT for an algorithm we do not implement. An absent
 * parameter means MD5 (RFC 2617 §3.2.1): the caller decides that. */
int cf_digest_alg_decode(const struct cf_pl *pl, enum cf_digest_alg *alg,
                         bool *sess);

/*
 * The digest formulas (RFC 7616 §3.4.1-§3.4.3; RFC 8760 §2 for SIP, where
 * A2 = Method ":" digest-uri). Strings are hashed as given (UTF-8 bytes);
 * hex inputs and outputs are lower-case. `out` receives the NUL-terminated
 * hex digest and must hold CF_DIGEST_HEX_SIZE bytes.
 * All return 0, EINVAL (bad alg or NULL argument) or ENOMEM (OpenSSL).
 */
/* H(p[0] ":" p[1] ":" ... p[n-1]). */
int cf_digest_hash(enum cf_digest_alg alg, const struct cf_pl *p, size_t n,
                   char *out);
/* HA1 = H(username ":" realm ":" password). */
int cf_digest_ha1(enum cf_digest_alg alg, const struct cf_pl *user,
                  const struct cf_pl *realm, const struct cf_pl *password,
                  char *out);
/* -sess: HA1' = H(HA1 ":" nonce ":" cnonce) (RFC 7616 §3.4.2). */
int cf_digest_ha1_sess(enum cf_digest_alg alg, const char *ha1,
                       const struct cf_pl *nonce, const struct cf_pl *cnonce,
                       char *out);
/* HA2 = H(method ":" uri) (qop=auth or absent). */
int cf_digest_ha2(enum cf_digest_alg alg, const struct cf_pl *method,
                  const struct cf_pl *uri, char *out);
/* With qop: H(HA1 ":" nonce ":" nc ":" cnonce ":" qop ":" HA2).
 * Without qop (qop NULL or empty; RFC 2069): H(HA1 ":" nonce ":" HA2),
 * nc and cnonce are then ignored. */
int cf_digest_response(enum cf_digest_alg alg, const char *ha1,
                       const struct cf_pl *nonce, const struct cf_pl *nc,
                       const struct cf_pl *cnonce, const struct cf_pl *qop,
                       const char *ha2, char *out);
/* userhash = H(username ":" realm) (RFC 7616 §3.4.4). */
int cf_digest_userhash(enum cf_digest_alg alg, const struct cf_pl *user,
                       const struct cf_pl *realm, char *out);

/* ----------------------------------------------------------- credentials */

/*
 * A parsed Authorization / Proxy-Authorization value (RFC 3261 §25.1
 * `credentials`, RFC 7616 §3.4). Every slice points into the parsed bytes;
 * a quoted value is given without its quotes and with its quoted-pairs
 * still escaped (see cf_digest_unescape). Absent parameters are unset.
 */
struct cf_digest_cred {
	struct cf_pl username;
	struct cf_pl username_star; /* RFC 7616 username* (raw ext-value) */
	struct cf_pl realm;
	struct cf_pl nonce;
	struct cf_pl uri;
	struct cf_pl response;
	struct cf_pl algorithm;
	struct cf_pl cnonce;
	struct cf_pl opaque;
	struct cf_pl qop;
	struct cf_pl nc;
	struct cf_pl userhash;
	/* Decoded from the slices above: */
	enum cf_digest_alg alg; /* MD5 when algorithm is absent */
	bool sess;
	bool alg_known;     /* false: algorithm names one we do not do */
	bool userhash_true; /* userhash=true: username is H(user:realm) */
	uint32_t nc_val;    /* nc as a number, 0 when absent */
};

/* Parse "Digest username=..., realm=..., ..." (scheme case-insensitive;
 * LWS, including folded lines, allowed around '=' and ','). Unknown
 * parameters are skipped (auth-param extensions). Called by the registrar
 * and the proxy for each Authorization / Proxy-Authorization header.
 * Returns 0, or EBADMSG when: the scheme is not Digest; a quoted string is
 * unterminated; a parameter is repeated; username (or username*), realm,
 * nonce, uri or response is missing; both username and username* are
 * present; qop is present without nc and cnonce; nc is not 8 hex digits.
 * An unknown algorithm is not an error: cred->alg_known is false, and the
 * caller answers with a fresh challenge. */
int cf_digest_cred_decode(struct cf_digest_cred *cred, const struct cf_pl *pl);

/* Remove the quoted-pair escapes of a quoted value. When `in` has no
 * backslash, *out = *in and nothing is copied; otherwise the bytes are
 * copied unescaped into buf. Returns 0 or ENOMEM (buf too small). */
int cf_digest_unescape(const struct cf_pl *in, char *buf, size_t size,
                       struct cf_pl *out);

/* Check a credential's response given the stored HA1 (hex, for cred->alg)
 * and the request method (RFC 3261 §22.4, RFC 7616 §3.4): HA2 is computed
 * over the digest uri the client sent (cred->uri), as clients and SIPp sign
 * it; comparing that uri with the Request-URI is the caller's business.
 * Handles -sess and RFC 2069 (no qop). qop other than "auth" (auth-int)
 * or an unknown algorithm never verifies. The comparison is constant-time.
 * Returns true when the response matches. Nonce freshness and nonce-count
 * replay are checked separately (cf_digest_nonce_check and the caller). */
bool cf_digest_cred_verify(const struct cf_digest_cred *cred,
                           const struct cf_pl *method, const char *ha1);

/* ------------------------------------------------------------ challenge */

/* One WWW-Authenticate / Proxy-Authenticate challenge (RFC 7616 §3.3). */
struct cf_digest_chal {
	const char *realm;  /* required; quoted and escaped on output */
	const char *nonce;  /* required */
	const char *opaque; /* optional (NULL: omitted) */
	enum cf_digest_alg alg;
	bool sess;
	bool qop_auth; /* qop="auth" */
	bool stale;    /* stale=true: the nonce expired, the password was OK */
	bool userhash; /* userhash=true offered */
};

/* Append the challenge value ("Digest realm=..., nonce=..., ...", no header
 * name, no CRLF) to mb. The registrar writes one header per algorithm it
 * offers. Returns 0, EINVAL (missing realm/nonce, bad alg) or ENOMEM. */
int cf_digest_chal_encode(struct cf_mbuf *mb, const struct cf_digest_chal *c);

/* ------------------------------------------------- client (digest_client.c) */

/*
 * A received WWW-Authenticate / Proxy-Authenticate challenge (RFC 7616
 * §3.3), as a client sees it: slices into the parsed bytes, quoted values
 * without their quotes, escapes kept.
 */
struct cf_digest_chal_rx {
	struct cf_pl realm;
	struct cf_pl nonce;
	struct cf_pl opaque;    /* unset when absent */
	struct cf_pl algorithm; /* unset when absent (MD5) */
	struct cf_pl qop;       /* the qop-options list, unset when absent */
	enum cf_digest_alg alg;
	bool sess;
	bool alg_known; /* false: an algorithm we do not implement */
	bool qop_auth;  /* "auth" is among the qop options */
	bool stale;
};

/* Parse "Digest realm=..., nonce=..., ..." (unknown parameters skipped).
 * Called by the proxy for a trunk's 401/407. 0, EINVAL, or EBADMSG (not
 * Digest, unterminated quote, a repeated parameter, no realm or nonce). */
int cf_digest_chal_decode(struct cf_digest_chal_rx *ch, const struct cf_pl *pl);

/* Who answers a challenge, and for which request. */
struct cf_digest_client {
	const char *user;
	const char *password;
	const char *method; /* of the request resent */
	const char *uri;    /* its Request-URI: the digest-uri */
	const char *cnonce; /* the caller's random token (no quote) */
	uint32_t nc;        /* nonce count, 0 counts as 1 */
};

/* Append the credentials answering ch ("Digest username=..., response=...",
 * no header name) to mb: RFC 7616 §3.4 with qop=auth when offered (cnonce
 * and nc then), RFC 2069 otherwise; MD5, SHA-256, SHA-512-256 and -sess.
 * 0, EINVAL, EPROTO (an algorithm or a qop we cannot answer, -sess
 * without qop), EBADMSG (a realm or nonce too long), ENOMEM. */
int cf_digest_client_encode(struct cf_mbuf *mb,
                            const struct cf_digest_chal_rx *ch,
                            const struct cf_digest_client *cl);

/* ---------------------------------------------------------------- nonces */

/*
 * Stateless nonces: nonce = base64url(T || S || HMAC-SHA256(secret,
 * T || S || realm)[0..15]), T the issue time (seconds since the epoch,
 * 64-bit big-endian), S a salt of the caller's choice (random, or a counter)
 * so that two challenges in the same second differ: nonce-count replay
 * tracking keys on the nonce. Nodes sharing the secret accept each other's
 * nonces. The server keeps no state until a nonce is used.
 */
enum cf_digest_nonce_verdict {
	CF_DIGEST_NONCE_OK = 0,
	CF_DIGEST_NONCE_STALE, /* genuine but older than max_age: stale=true */
	CF_DIGEST_NONCE_BAD,   /* not ours, altered, or for another realm */
};

/* Make a nonce for realm at time now. out must hold CF_DIGEST_NONCE_SIZE.
 * Returns 0, EINVAL (secret shorter than CF_DIGEST_SECRET_MIN) or ENOMEM. */
int cf_digest_nonce_make(const uint8_t *secret, size_t secret_len,
                         const struct cf_pl *realm, uint64_t now, uint64_t salt,
                         char *out);

/* Verify a nonce received at time now. A nonce issued more than max_age
 * seconds ago is STALE; one from more than 5 s in the future is BAD (clock
 * skew between nodes is tolerated up to that). *issued (may be NULL) gets
 * the issue time of an OK or STALE nonce. The MAC is compared in constant
 * time. */
enum cf_digest_nonce_verdict
cf_digest_nonce_check(const uint8_t *secret, size_t secret_len,
                      const struct cf_pl *realm, const struct cf_pl *nonce,
                      uint64_t now, uint64_t max_age, uint64_t *issued);

#endif
