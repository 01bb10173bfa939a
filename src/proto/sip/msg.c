/* SPDX-License-Identifier: BSD-3-Clause */
/* msg.c - decode a SIP message (RFC 3261 §7): split the start line and the
 * headers once, index them by id, decode eagerly only what every message
 * needs, and record the first semantic fault. */
#include <errno.h>

#include "proto/sip/sip_int.h"

static void msg_destroy(void *data)
{
	struct cf_sip_msg *msg = data;

	cf_list_flush(&msg->edits, true);
}

static inline void fault(struct cf_sip_msg *msg, uint16_t code,
                         const char *reason)
{
	if (!msg->fault.reason) {
		msg->fault.code = code;
		msg->fault.reason = reason;
	}
}

/* Status-Line = SIP-Version SP Status-Code SP Reason-Phrase (§7.2). A
 * faulty response is never answered: its fault code is set to 0 later. */
static void status_line(struct cf_sip_msg *msg, const char *p, const char *e)
{
	const char *sp = memchr(p, ' ', (size_t)(e - p)), *c;
	uint64_t code;

	msg->req = false;
	if (!sp) {
		msg->version = pl_make(p, e);
		fault(msg, 0, "Bad Status-Line");
		return;
	}
	msg->version = pl_make(p, sp);
	if (!PL_CI_EQ(&msg->version, "SIP/2.0"))
		fault(msg, 0, "Version Not Supported");
	c = ++sp;
	while (sp < e && *sp >= '0' && *sp <= '9')
		sp++;
	if (sp - c != 3 || (sp < e && *sp != ' ') ||
	    !dec_u64(c, sp, 999, &code) || code < 100 || code > 699) {
		fault(msg, 0, "Bad Status-Code");
		return;
	}
	msg->scode = (uint16_t)code;
	msg->reason = sp < e ? pl_make(sp + 1, e) : pl_make(e, e);
}

/* Request-Line = Method SP Request-URI SP SIP-Version (§7.1), with exactly
 * one SP between the elements: extra SP (RFC 4475 §3.1.2.9 lwsstart), SP
 * at the end (§3.1.2.10 trws) and LWS inside the URI (§3.1.2.8 lwsruri)
 * are refused with 400, the strict choice (docs/parser-verdicts.md).
 * EBADMSG when this is not a request line at all. */
static int request_line(struct cf_sip_msg *msg, const char *p, const char *e)
{
	const char *s = p, *sp2;
	int err;

	msg->req = true;
	while (p < e && cc_is((uint8_t)*p, CC_TOKEN))
		p++;
	if (p == s || p == e || *p != ' ')
		return EBADMSG;
	msg->method = pl_make(s, p);
	msg->mid = cf_sip_method_decode(&msg->method);

	sp2 = e;
	while (sp2 > p && sp2[-1] != ' ')
		sp2--;
	sp2--;
	if (sp2 == p)
		return EBADMSG; /* "METHOD something": no version */
	msg->version = pl_make(sp2 + 1, e);
	msg->ruri_pl = pl_make(p + 1, sp2);

	if (!msg->version.l) {
		fault(msg, 400, "Bad Request-Line");
		return 0;
	}
	if (!PL_CI_EQ(&msg->version, "SIP/2.0")) {
		if (msg->version.l > 4 && mem_ci_eq(msg->version.p, "SIP/", 4))
			fault(msg, 505, "Version Not Supported");
		else
			fault(msg, 400, "Bad Request-Line");
		return 0;
	}
	if (msg->ruri_pl.l > CF_SIP_URI_MAX) {
		fault(msg, 414, "Request-URI Too Long");
		return 0;
	}
	err = cf_sip_uri_decode(&msg->ruri, &msg->ruri_pl);
	/* headers are not allowed in a Request-URI (§19.1.5, RFC 4475
	 * §3.1.2.11 escruri): refuse rather than forward them. */
	if (err || msg->ruri.headers.l)
		fault(msg, 400, "Bad Request-URI");
	return 0;
}

/* callid = word [ "@" word ] (§25.1) */
static bool callid_ok(const struct cf_pl *v)
{
	bool at = false;

	if (!v->l)
		return false;
	for (size_t i = 0; i < v->l; i++) {
		uint8_t c = (uint8_t)v->p[i];
		if (c == '@' && !at && i && i + 1 < v->l)
			at = true;
		else if (!cc_is(c, CC_WORD))
			return false;
	}
	return true;
}

/* CSeq = 1*DIGIT LWS Method (§20.16); the number fits 32 bits (RFC 4475
 * §3.1.2.4 scalar02). Leading zeros are fine (§3.1.1.1 wsinv). */
static int cseq_decode(struct cf_sip_cseq *cs, const struct cf_pl *v)
{
	const char *p = v->p, *e = v->p + v->l, *d = p, *m;
	uint64_t n;

	while (p < e && *p >= '0' && *p <= '9')
		p++;
	if (!dec_u64(d, p, UINT32_MAX, &n) || p == e || !is_lws(*p))
		return EBADMSG;
	m = p = skip_lws(p, e);
	while (p < e && cc_is((uint8_t)*p, CC_TOKEN))
		p++;
	if (p == m || p != e)
		return EBADMSG;
	cs->num = (uint32_t)n;
	cs->method = pl_make(m, e);
	cs->mid = cf_sip_method_decode(&cs->method);
	return 0;
}

struct seen {
	bool via, callid, cseq, from, to, mf;
};

/* Eager decoding of the few headers every message needs (STYLE.md). */
static void hdr_eager(struct cf_sip_msg *msg, struct cf_sip_hdr *h,
                      struct seen *seen)
{
	uint64_t n;

	switch (h->id) {
	case CF_SIP_H_VIA:
		if (seen->via)
			break;
		seen->via = true;
		if (cf_sip_via_decode(&msg->via, &h->val)) {
			memset(&msg->via, 0, sizeof(msg->via));
			fault(msg, 400, "Bad Via");
		}
		break;
	case CF_SIP_H_CALL_ID:
		if (seen->callid) {
			fault(msg, 400, "Duplicate Call-ID header");
			break;
		}
		seen->callid = true;
		msg->call_id = h->val;
		if (!callid_ok(&h->val))
			fault(msg, 400, "Bad Call-ID");
		break;
	case CF_SIP_H_CSEQ:
		if (seen->cseq) {
			fault(msg, 400, "Duplicate CSeq header");
			break;
		}
		seen->cseq = true;
		if (cseq_decode(&msg->cseq, &h->val))
			fault(msg, 400, "Bad CSeq");
		break;
	case CF_SIP_H_FROM:
		if (seen->from) {
			fault(msg, 400, "Duplicate From header");
			break;
		}
		seen->from = true;
		if (cf_sip_addr_decode(&msg->from, &h->val) ||
		    msg->from.wildcard)
			fault(msg, 400, "Malformed From header");
		break;
	case CF_SIP_H_TO:
		if (seen->to) {
			fault(msg, 400, "Duplicate To header");
			break;
		}
		seen->to = true;
		if (cf_sip_addr_decode(&msg->to, &h->val) || msg->to.wildcard)
			fault(msg, 400, "Malformed To header");
		break;
	case CF_SIP_H_MAX_FORWARDS:
		if (seen->mf) {
			fault(msg, 400, "Duplicate Max-Forwards header");
			break;
		}
		seen->mf = true;
		/* 1*DIGIT, at most 255 (§20.22, RFC 4475 §3.1.2.4) */
		if (!dec_u64(h->val.p, h->val.p + h->val.l, 255, &n))
			fault(msg, 400, "Bad Max-Forwards");
		else
			msg->max_forwards = (int32_t)n;
		break;
	case CF_SIP_H_CONTENT_LENGTH:
		if (!dec_u64(h->val.p, h->val.p + h->val.l, UINT32_MAX, &n))
			fault(msg, 400, "Bad Content-Length");
		else if (msg->clen >= 0 && (uint64_t)msg->clen != n)
			fault(msg, 400, "Conflicting Content-Length");
		else
			msg->clen = (int64_t)n;
		break;
	default:
		break;
	}
}

/* A header line: name *(SP/HTAB) ":" value. Returns false if malformed. */
static bool hdr_split(struct cf_sip_hdr *h, const char *p, const char *ce,
                      const char *n)
{
	const char *q = p;

	h->line = pl_make(p, n);
	while (q < ce && cc_is((uint8_t)*q, CC_TOKEN))
		q++;
	h->name = pl_make(p, q);
	while (q < ce && is_ws(*q))
		q++;
	if (!h->name.l || q == ce || *q != ':') {
		h->id = CF_SIP_H_OTHER;
		h->val = pl_make(q, q);
		return false;
	}
	h->id = cf_sip_hdr_id_decode(&h->name);
	h->val = pl_trim_lws(q + 1, ce);
	return true;
}

static bool contact_bad(const struct cf_sip_hdr *hdr, const struct cf_pl *val,
                        void *arg)
{
	struct cf_sip_addr a;
	bool *bad = arg;

	(void)hdr;
	if (cf_sip_addr_decode(&a, val) || (a.wildcard && val->l != 1)) {
		*bad = true;
		return true;
	}
	return false;
}

/* Parse the copy in buf[0..len) whose header section hs describes. */
static int parse(struct cf_sip_msg *msg, const char *buf, size_t len,
                 const struct cf_sip_head *hs, enum cf_sip_framing framing,
                 size_t nmax)
{
	const char *s = buf, *p, *e, *ce, *hend = buf + hs->hend;
	struct seen seen = {0};
	size_t avail;
	int err;

	/* start line */
	p = line_next(s, hend, &ce);
	if (ce - s >= 4 && mem_ci_eq(s, "SIP/", 4))
		status_line(msg, s, ce);
	else if ((err = request_line(msg, s, ce)))
		return err;

	/* a folded start line is not SIP */
	while (p < hend && is_ws(*p)) {
		fault(msg, 400, "Bad Request-Line");
		p = line_next(p, hend, &ce);
	}

	/* headers, in order, each split once */
	while (p < hend && msg->hdrc < nmax) {
		struct cf_sip_hdr *h = &msg->hdrv[msg->hdrc++];
		const char *n = hdr_next(p, hend, &ce);

		if (!hdr_split(h, p, ce, n))
			fault(msg, 400, "Malformed header line");
		else
			hdr_eager(msg, h, &seen);
		p = n;
	}

	if (!seen.via)
		fault(msg, 400, "Missing Via");
	if (!seen.callid)
		fault(msg, 400, "Missing Call-ID");
	if (!seen.cseq)
		fault(msg, 400, "Missing CSeq");
	if (!seen.from)
		fault(msg, 400, "Missing From header");
	if (!seen.to)
		fault(msg, 400, "Missing To header");
	if (msg->req && seen.cseq && msg->cseq.method.l &&
	    (msg->cseq.method.l != msg->method.l ||
	     memcmp(msg->cseq.method.p, msg->method.p, msg->method.l)))
		fault(msg, 400, "CSeq method mismatch");

	/* A registrar stores Contacts: refuse malformed ones now (RFC 4475
	 * §3.1.2.13 regbadct). Other methods decode Contact on demand. */
	if (msg->req && msg->mid == CF_SIP_M_REGISTER) {
		bool bad = false;
		cf_sip_msg_vals_apply(msg, CF_SIP_H_CONTACT, contact_bad, &bad);
		if (bad)
			fault(msg, 400, "Malformed Contact header");
	}

	/* body: RFC 3261 §18.3. Datagram: no Content-Length means the rest
	 * of the datagram (RFC 4475 §3.4.1 inv2543); octets beyond it are
	 * ignored (§3.1.1.8 dblreq); more than is there is a 400 (§3.1.2.2
	 * clerr). The stream framer has checked the stream case. */
	e = buf + len;
	p = buf + hs->body;
	avail = (size_t)(e - p);
	if (msg->clen < 0) {
		if (framing == CF_SIP_STREAM)
			fault(msg, 400, "Missing Content-Length");
		msg->body = pl_make(p, e);
	} else if ((uint64_t)msg->clen > avail) {
		fault(msg, 400, "Bad Content-Length");
		msg->body = pl_make(p, e);
	} else {
		msg->body = pl_make(p, p + msg->clen);
	}
	msg->raw = pl_make(buf, msg->body.p + msg->body.l);

	msg->respondable = msg->req && seen.via;
	if (!msg->req && msg->fault.reason)
		msg->fault.code = 0; /* a faulty response is dropped */
	return 0;
}

/*
 * Decode one message. Called by the transports for every datagram and for
 * every message the stream framer delimits. One allocation: the struct,
 * the header index and a copy of the bytes; everything else is a slice.
 * Cost: one memchr pass to find lines, one pass to split headers and the
 * eager decoding of the top Via, Call-ID, CSeq, From, To, Max-Forwards and
 * Content-Length. Besides the errors in sip.h, EMSGSIZE for a message
 * over CF_SIP_MSG_MAX (answer 513 on UDP, close on TCP).
 */
int cf_sip_msg_decode(struct cf_sip_msg **msgp, const uint8_t *data, size_t len,
                      enum cf_sip_framing framing, size_t *consumed)
{
	struct cf_sip_head hs;
	struct cf_sip_msg *msg;
	size_t off = 0, mlen;
	char *buf;
	int err;

	if (!msgp || (!data && len))
		return EINVAL;

	/* §7.5: CRLFs before the start line are ignored */
	while (off < len && (data[off] == '\r' || data[off] == '\n'))
		off++;
	if (off == len)
		return framing == CF_SIP_STREAM ? ENODATA : EBADMSG;
	data += off;
	mlen = len - off;

	if (framing == CF_SIP_STREAM) {
		enum cf_sip_ka ka;
		err = cf_sip_frame(data, mlen, CF_SIP_MSG_MAX, &mlen, &ka);
		if (err)
			return err;
	} else if (mlen > CF_SIP_MSG_MAX) {
		return EMSGSIZE;
	}

	err = cf_sip_head_scan(data, mlen, &hs);
	if (err == ENODATA && framing == CF_SIP_DATAGRAM && hs.line1) {
		/* a datagram whose header section is not closed by an empty
		 * line (RFC 4475 baddn): the datagram ends it */
		hs.hend = hs.body = mlen;
	} else if (err) {
		return err == ENODATA ? EBADMSG : err;
	}

	msg = cf_mem_alloc(sizeof(*msg) + hs.nhdr * sizeof(struct cf_sip_hdr) +
	                       mlen,
	                   msg_destroy);
	if (!msg)
		return ENOMEM;
	memset(msg, 0, sizeof(*msg));
	cf_list_init(&msg->edits);
	msg->hdrv = (struct cf_sip_hdr *)(void *)(msg + 1);
	buf = (char *)(msg->hdrv + hs.nhdr);
	memcpy(buf, data, mlen);
	msg->max_forwards = -1;
	msg->clen = -1;

	err = parse(msg, buf, mlen, &hs, framing, hs.nhdr);
	if (err) {
		cf_mem_deref(msg);
		return err;
	}
	if (consumed)
		*consumed = off + msg->raw.l;
	*msgp = msg;
	return 0;
}

const struct cf_sip_hdr *cf_sip_msg_hdr(const struct cf_sip_msg *msg,
                                        enum cf_sip_hdr_id id)
{
	if (!msg)
		return NULL;
	for (size_t i = 0; i < msg->hdrc; i++) {
		if (msg->hdrv[i].id == id)
			return &msg->hdrv[i];
	}
	return NULL;
}

size_t cf_sip_msg_hdr_count(const struct cf_sip_msg *msg, enum cf_sip_hdr_id id)
{
	size_t n = 0;

	if (!msg)
		return 0;
	for (size_t i = 0; i < msg->hdrc; i++)
		n += msg->hdrv[i].id == id;
	return n;
}

/* Names without an id that still have a compact form (RFC 3265). */
static bool name_match(const struct cf_pl *hn, const char *name, size_t nl)
{
	if (hn->l == nl && mem_ci_eq(hn->p, name, nl))
		return true;
	if (nl == 12 && mem_ci_eq(name, "Allow-Events", 12))
		return hn->l == 1 && lc(hn->p[0]) == 'u';
	if (nl == 1 && lc(name[0]) == 'u')
		return hn->l == 12 && mem_ci_eq(hn->p, "Allow-Events", 12);
	return false;
}

const struct cf_sip_hdr *cf_sip_msg_hdr_name(const struct cf_sip_msg *msg,
                                             const char *name)
{
	enum cf_sip_hdr_id id;
	struct cf_pl npl;

	if (!msg || !name)
		return NULL;
	cf_pl_set_str(&npl, name);
	id = cf_sip_hdr_id_decode(&npl);
	if (id != CF_SIP_H_OTHER)
		return cf_sip_msg_hdr(msg, id);
	for (size_t i = 0; i < msg->hdrc; i++) {
		const struct cf_sip_hdr *h = &msg->hdrv[i];
		if (h->id == CF_SIP_H_OTHER &&
		    name_match(&h->name, npl.p, npl.l))
			return h;
	}
	return NULL;
}
