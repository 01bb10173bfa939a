/* SPDX-License-Identifier: BSD-3-Clause */
/* frame.c - where SIP messages end on a byte stream (RFC 3261 §18.3,
 * keep-alives RFC 5626 §3.5.1), and the header section scan shared with
 * the decoder. Allocates nothing, reads nothing past len. */
#include <errno.h>

#include "proto/sip/sip_int.h"

int cf_sip_head_scan(const uint8_t *data, size_t len, struct cf_sip_head *hs)
{
	const char *s = (const char *)data, *p = s, *e = s + len;
	bool first = true;

	memset(hs, 0, sizeof(*hs));
	while (p < e) {
		const char *ce, *n = line_next(p, e, &ce);

		if (!first && ce == p && n > ce) { /* complete empty line */
			hs->hend = (size_t)(p - s);
			hs->body = (size_t)(n - s);
			return 0;
		}
		if (!first && !is_ws(*p) && ++hs->nhdr > CF_SIP_HDR_MAX)
			return EBADMSG;
		if (first && n > ce)
			hs->line1 = (size_t)(n - s);
		first = false;
		p = n;
	}
	return ENODATA;
}

/* The first line must look like a start line: "SIP/" for a status line,
 * or a method token, SP, and (once the line is complete) a second SP, as
 * the decoder wants (msg.c request_line). Anything else on a stream is
 * garbage. [p, e) is the line so far; complete tells if it ended. */
static int start_check(const char *p, const char *e, bool complete)
{
	const char *s = p;

	if (e - p >= 4 && !memcmp(p, "SIP/", 4))
		return 0;
	if (e - p < 4 && !memcmp(p, "SIP/", (size_t)(e - p)) && !complete)
		return ENODATA;
	while (p < e && cc_is((uint8_t)*p, CC_TOKEN))
		p++;
	if (p == e)
		return (complete || e - s > 64) ? EBADMSG : ENODATA;
	if (*p != ' ' || p == s)
		return EBADMSG;
	if (complete && !memchr(p + 1, ' ', (size_t)(e - p - 1)))
		return EBADMSG;
	return 0;
}

/* Content-Length of a stream message: exactly one value, or several equal
 * ones; missing, negative or conflicting is EBADMSG (RFC 4475 §3.1.2.3,
 * §3.3.9: framing cannot be recovered, close). */
static int stream_clen(const char *s, const struct cf_sip_head *hs, size_t max,
                       uint64_t *clen)
{
	const char *p = s + hs->line1, *e = s + hs->hend;
	bool found = false;

	while (p < e) {
		const char *ce, *n = hdr_next(p, e, &ce), *q = p;
		struct cf_pl name;
		uint64_t v;

		while (q < ce && cc_is((uint8_t)*q, CC_TOKEN))
			q++;
		name = pl_make(p, q);
		while (q < ce && is_ws(*q)) /* as msg.c hdr_split does */
			q++;
		if (q < ce && *q == ':' &&
		    cf_sip_hdr_id_decode(&name) == CF_SIP_H_CONTENT_LENGTH) {
			struct cf_pl val = pl_trim_lws(q + 1, ce);
			if (!dec_u64(val.p, val.p + val.l, UINT32_MAX, &v))
				return EBADMSG;
			if (found && v != *clen)
				return EBADMSG;
			found = true;
			*clen = v;
		}
		p = n;
	}
	(void)max;
	return found ? 0 : EBADMSG;
}

/*
 * Called by the TCP/TLS transport on its receive buffer each time bytes
 * arrive; the transport keeps the resume point (it calls again from
 * data + *msglen). Cost: one pass over the header section.
 */
int cf_sip_frame(const uint8_t *data, size_t len, size_t max, size_t *msglen,
                 enum cf_sip_ka *keepalive)
{
	const char *s = (const char *)data;
	struct cf_sip_head hs;
	uint64_t clen = 0;
	const char *ce;
	int err;

	if (!msglen || !keepalive || (!data && len))
		return EINVAL;
	*msglen = 0;
	*keepalive = CF_SIP_KA_NONE;
	if (!len)
		return ENODATA;

	/* RFC 5626 §3.5.1: CRLFCRLF is a ping, a single CRLF a pong. A lone
	 * CRLF may be the first half of a ping: wait for one more byte. */
	if (s[0] == '\r' || s[0] == '\n') {
		if (s[0] != '\r' || (len >= 2 && s[1] != '\n'))
			return EBADMSG;
		if (len < 3 || (len == 3 && s[2] == '\r'))
			return ENODATA;
		if (s[2] == '\r') {
			if (s[3] != '\n')
				return EBADMSG;
			*keepalive = CF_SIP_KA_PING;
			*msglen = 4;
			return 0;
		}
		*keepalive = CF_SIP_KA_PONG;
		*msglen = 2;
		return 0;
	}

	line_next(s, s + len, &ce);
	err = start_check(s, ce, ce < s + len);
	if (err)
		return (err == ENODATA && len > max) ? EMSGSIZE : err;

	err = cf_sip_head_scan(data, len, &hs);
	if (err == ENODATA)
		return len > max ? EMSGSIZE : ENODATA;
	if (err)
		return err;
	if (hs.body > max)
		return EMSGSIZE;

	err = stream_clen(s, &hs, max, &clen);
	if (err)
		return err;
	if (clen > max - hs.body)
		return EMSGSIZE;
	if (len < hs.body + clen)
		return ENODATA;
	*msglen = hs.body + (size_t)clen;
	return 0;
}
