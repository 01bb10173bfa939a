/* SPDX-License-Identifier: BSD-3-Clause */
/* sip_int.h - private helpers of the SIP codec: character classes, LWS
 * skipping and small slice utilities shared by the decoder files. */
#ifndef CF_PROTO_SIP_INT_H
#define CF_PROTO_SIP_INT_H

#include <string.h>

#include "proto/sip/sip.h"

/* Character classes (RFC 3261 §25.1), one table lookup each. */
enum {
	CC_TOKEN = 1,  /* token */
	CC_ALNUM = 2,  /* alphanum */
	CC_UNRES = 4,  /* unreserved = alphanum / mark */
	CC_USER = 8,   /* userinfo: unreserved / escaped / user-unreserved /
	                * password chars / ':' */
	CC_HOST = 16,  /* hostname chars, liberal: alnum - . _ */
	CC_PARAM = 32, /* paramchar: param-unreserved / unreserved / % */
	CC_HDRC = 64,  /* URI header chars: hnv-unreserved / unreserved / % */
	CC_WORD = 128, /* word (Call-ID) */
};

extern const uint8_t cf_sip_cc[256];

static inline bool cc_is(uint8_t c, unsigned cls)
{
	return (cf_sip_cc[c] & cls) != 0;
}

static inline bool is_ws(char c)
{
	return c == ' ' || c == '\t';
}

static inline bool is_lws(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static inline char lc(char c)
{
	return (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c;
}

/* ASCII case-insensitive compare of n bytes: true when equal. */
static inline bool mem_ci_eq(const char *a, const char *b, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (lc(a[i]) != lc(b[i]))
			return false;
	}
	return true;
}

/* pl equals the literal s (case-insensitive); the length is checked first. */
static inline bool pl_ci_eq(const struct cf_pl *pl, const char *s, size_t n)
{
	return pl->l == n && mem_ci_eq(pl->p, s, n);
}
#define PL_CI_EQ(pl, lit) pl_ci_eq((pl), (lit), sizeof(lit) - 1)

/* Skip LWS (SP, HTAB and folded line ends) from p up to e. Values handed to
 * the decoders may still hold a CRLF followed by SP/HTAB (folding). */
static inline const char *skip_lws(const char *p, const char *e)
{
	while (p < e && is_lws(*p))
		p++;
	return p;
}

static inline const char *rskip_lws(const char *s, const char *e)
{
	while (e > s && is_lws(e[-1]))
		e--;
	return e;
}

static inline struct cf_pl pl_make(const char *s, const char *e)
{
	return (struct cf_pl){s, (size_t)(e - s)};
}

static inline struct cf_pl pl_trim_lws(const char *s, const char *e)
{
	s = skip_lws(s, e);
	e = rskip_lws(s, e);
	return pl_make(s, e);
}

/* Decimal parse of [s,e) into *v (no sign, no LWS); false on empty, a
 * non-digit or a value above max. Leading zeros allowed ("0068"). */
static inline bool dec_u64(const char *s, const char *e, uint64_t max,
                           uint64_t *v)
{
	uint64_t n = 0;

	if (s >= e)
		return false;
	for (; s < e; s++) {
		unsigned d = (unsigned)(uint8_t)*s - '0';
		if (d > 9)
			return false;
		if (n > (max - d) / 10)
			return false;
		n = n * 10 + d;
	}
	*v = n;
	return true;
}

/* Scan a quoted-string starting at p (on the opening DQUOTE). Returns the
 * position after the closing DQUOTE, or NULL when unterminated. quoted-pair
 * (backslash + any octet but CR/LF) is honoured (RFC 3261 §25.1). */
static inline const char *skip_quoted(const char *p, const char *e)
{
	for (p++; p < e; p++) {
		if (*p == '\\') {
			if (++p >= e || *p == '\r' || *p == '\n')
				return NULL;
		} else if (*p == '"') {
			return p + 1;
		}
	}
	return NULL;
}

/* Generic parameter list walker over ";a=b;c" (no leading ';'). LWS around
 * ';' and '=' is skipped; values may be tokens, quoted strings or bracketed
 * IPv6 references. Returns 0 and fills name/val (val unset for a flag),
 * ENOENT at the end, EBADMSG on a malformed list. *pos is the cursor. */
int cf_sip_param_next(const struct cf_pl *params, size_t *pos,
                      struct cf_pl *name, struct cf_pl *val);

/* Split the first comma-separated value of [p,e) respecting quotes and <>:
 * returns the end of that value (a ',' or e). */
const char *cf_sip_val_end(const char *p, const char *e);

/* Host [":" port] with IPv6 references; fills host (no brackets), v6, port.
 * Returns 0 or EBADMSG. */
int cf_sip_hostport_decode(const char *p, const char *e, struct cf_pl *host,
                           bool *v6, uint16_t *port);

/* Next physical line from p: returns the start of the following line and
 * sets *ce to the end of this line's content (before CR LF or a bare LF).
 * Without a line end the line runs to e. */
static inline const char *line_next(const char *p, const char *e,
                                    const char **ce)
{
	const char *nl = memchr(p, '\n', (size_t)(e - p));

	if (!nl) {
		*ce = e;
		return e;
	}
	*ce = (nl > p && nl[-1] == '\r') ? nl - 1 : nl;
	return nl + 1;
}

/* One logical header line starting at p (folded lines joined, RFC 3261
 * §7.3.1): returns the start of the next one; *ce = end of its content. */
static inline const char *hdr_next(const char *p, const char *e,
                                   const char **ce)
{
	const char *n = line_next(p, e, ce);

	while (n < e && is_ws(*n))
		n = line_next(n, e, ce);
	return n;
}

/* Where the header section of a message ends. */
struct cf_sip_head {
	size_t line1; /* start of the line after the start line, 0 if none */
	size_t hend;  /* start of the empty line (end of the last header) */
	size_t body;  /* first byte after the empty line */
	size_t nhdr;  /* header lines (folded lines count once) */
};

/* Scan data for the empty line ending the header section. Returns 0,
 * ENODATA (no empty line yet; hs->nhdr counts the lines seen, a partial
 * last one included) or EBADMSG (more than CF_SIP_HDR_MAX headers).
 * O(length), one memchr per line. */
int cf_sip_head_scan(const uint8_t *data, size_t len, struct cf_sip_head *hs);

/* An edit ("lump"): replace raw[start, end) with data[0, len). */
enum cf_sip_edit_kind {
	CF_SIP_EDIT_HDR = 0, /* header delete / insert */
	CF_SIP_EDIT_RURI,    /* Request-URI replacement */
	CF_SIP_EDIT_BODY,    /* body and its Content-Length */
};

struct cf_sip_edit {
	struct cf_le le;
	enum cf_sip_edit_kind kind;
	size_t start;
	size_t end;
	size_t len;
	char data[];
};

#endif
