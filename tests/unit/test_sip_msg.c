/* SPDX-License-Identifier: BSD-3-Clause */
/* test_sip_msg.c - the SIP message codec: decoding, faults, limits, the
 * stream framer, edits and the encoder, responses, out-of-memory, and the
 * fuzz regression files. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>

#include "proto/sip/sip.h"
#include "vec_util.h"
#include "testutil.h"

#define PLEQ(pl, s)                                                            \
	do {                                                                   \
		struct cf_pl t_ = (pl);                                        \
		assert_true(pl_is(&t_, (s)));                                  \
	} while (0)

#define INVITE_HEAD                                                            \
	"INVITE sip:bob@biloxi.example.com SIP/2.0\r\n"                        \
	"Via: SIP/2.0/UDP "                                                    \
	"pc33.atlanta.example.com;branch=z9hG4bK776asdhds\r\n"                 \
	"Max-Forwards: 70\r\n"                                                 \
	"To: Bob <sip:bob@biloxi.example.com>\r\n"                             \
	"From: Alice <sip:alice@atlanta.example.com>;tag=1928301774\r\n"       \
	"Call-ID: a84b4c76e66710@pc33.atlanta.example.com\r\n"                 \
	"CSeq: 314159 INVITE\r\n"                                              \
	"Contact: <sip:alice@pc33.atlanta.example.com>\r\n"                    \
	"Content-Type: application/sdp\r\n"

static const char invite[] = INVITE_HEAD "Content-Length: 4\r\n"
                                         "\r\n"
                                         "v=0\n";

static struct cf_sip_msg *dec(const char *s, size_t len, enum cf_sip_framing f)
{
	struct cf_sip_msg *m = NULL;
	size_t used = 0;
	int err = cf_sip_msg_decode(&m, (const uint8_t *)s, len, f, &used);
	if (err)
		fprintf(stderr, "decode: %d\n", err);
	assert_int_equal(err, 0);
	assert_true(used <= len);
	return m;
}

static struct cf_sip_msg *decs(const char *s)
{
	return dec(s, strlen(s), CF_SIP_DATAGRAM);
}

static int dec_err(const char *s, size_t len, enum cf_sip_framing f)
{
	struct cf_sip_msg *m = NULL;
	int err = cf_sip_msg_decode(&m, (const uint8_t *)s, len, f, NULL);
	if (!err)
		cf_mem_deref(m);
	return err;
}

static void t_decode(void **state)
{
	struct cf_sip_msg *m;
	const struct cf_sip_hdr *h;
	size_t used = 0;
	char buf[sizeof(invite) + 16];
	(void)state;

	/* leading CRLFs are skipped (§7.5) and counted as consumed */
	snprintf(buf, sizeof(buf), "\r\n\r\n%sXYZ", invite);
	assert_int_equal(cf_sip_msg_decode(&m, (uint8_t *)buf, strlen(buf),
	                                   CF_SIP_STREAM, &used),
	                 0);
	assert_int_equal(used, 4 + strlen(invite));
	assert_true(m->req);
	PLEQ(m->method, "INVITE");
	assert_int_equal(m->mid, CF_SIP_M_INVITE);
	PLEQ(m->ruri_pl, "sip:bob@biloxi.example.com");
	PLEQ(m->ruri.user, "bob");
	PLEQ(m->version, "SIP/2.0");
	assert_int_equal(m->hdrc, 9);
	PLEQ(m->via.branch, "z9hG4bK776asdhds");
	PLEQ(m->via.host, "pc33.atlanta.example.com");
	PLEQ(m->call_id, "a84b4c76e66710@pc33.atlanta.example.com");
	assert_int_equal(m->cseq.num, 314159);
	assert_int_equal(m->cseq.mid, CF_SIP_M_INVITE);
	PLEQ(m->from.tag, "1928301774");
	PLEQ(m->from.dname, "Alice");
	assert_int_equal(m->to.tag.l, 0);
	assert_int_equal(m->max_forwards, 70);
	assert_int_equal(m->clen, 4);
	PLEQ(m->body, "v=0\n");
	PLEQ(m->raw, invite);
	assert_null(m->fault.reason);
	assert_true(m->respondable);

	h = cf_sip_msg_hdr(m, CF_SIP_H_CONTENT_TYPE);
	assert_non_null(h);
	PLEQ(h->name, "Content-Type");
	PLEQ(h->val, "application/sdp");
	PLEQ(h->line, "Content-Type: application/sdp\r\n");
	assert_ptr_equal(cf_sip_msg_hdr_name(m, "c"), h);
	assert_ptr_equal(cf_sip_msg_hdr_name(m, "CONTENT-type"), h);
	assert_null(cf_sip_msg_hdr(m, CF_SIP_H_ROUTE));
	assert_null(cf_sip_msg_hdr_name(m, "X-Nothing"));
	assert_int_equal(cf_sip_msg_hdr_count(m, CF_SIP_H_VIA), 1);
	cf_mem_deref(m);
}

static void t_response(void **state)
{
	struct cf_sip_msg *m;
	(void)state;

	m = decs("SIP/2.0 180 Ringing\r\n"
	         "v: SIP/2.0/UDP h;branch=z9hG4bKa\r\n"
	         "f: <sip:a@h>;tag=1\r\nt: <sip:b@h>;tag=2\r\n"
	         "i: x@y\r\nCSeq: 1 INVITE\r\nl: 0\r\n\r\n");
	assert_false(m->req);
	assert_int_equal(m->scode, 180);
	PLEQ(m->reason, "Ringing");
	PLEQ(m->to.tag, "2");
	assert_null(m->fault.reason);
	assert_false(m->respondable);
	cf_mem_deref(m);
}

struct collect {
	struct cf_pl v[8];
	size_t n, stop;
};

static bool collect_h(const struct cf_sip_hdr *hdr, const struct cf_pl *val,
                      void *arg)
{
	struct collect *c = arg;
	(void)hdr;
	if (c->n < 8)
		c->v[c->n] = *val;
	return ++c->n == c->stop;
}

static void t_fold_multi(void **state)
{
	struct collect c = {0};
	struct cf_sip_msg *m;
	const struct cf_sip_hdr *h;
	(void)state;

	m = decs("OPTIONS sip:h SIP/2.0\r\n"
	         "Via: SIP/2.0/UDP h;branch=z9hG4bK1\r\n"
	         "Route: <sip:a;lr>,\r\n  \"x, <y>\" <sip:b;lr>\r\n"
	         "Subject: one\r\n\ttwo\r\n"
	         "Route: <sip:c?h=1,2>\r\n"
	         "X-Empty:\r\n"
	         "Allow-Events: a, b\r\n"
	         "From: <sip:a@h>;tag=1\r\nTo: <sip:b@h>\r\n"
	         "Call-ID: x\r\nCSeq: 2 OPTIONS\r\nContent-Length: 0\r\n\r\n");
	assert_null(m->fault.reason);
	assert_int_equal(cf_sip_msg_hdr_count(m, CF_SIP_H_ROUTE), 2);
	assert_int_equal(
	    cf_sip_msg_vals_apply(m, CF_SIP_H_ROUTE, collect_h, &c), 0);
	assert_int_equal(c.n, 3);
	PLEQ(c.v[0], "<sip:a;lr>");
	PLEQ(c.v[1], "\"x, <y>\" <sip:b;lr>");
	PLEQ(c.v[2], "<sip:c?h=1,2>");
	memset(&c, 0, sizeof(c));
	c.stop = 2;
	cf_sip_msg_vals_apply(m, CF_SIP_H_ROUTE, collect_h, &c);
	assert_int_equal(c.n, 2);
	assert_int_equal(
	    cf_sip_msg_vals_apply(m, CF_SIP_H_CONTACT, collect_h, &c), ENOENT);
	h = cf_sip_msg_hdr(m, CF_SIP_H_SUBJECT);
	PLEQ(h->val, "one\r\n\ttwo");
	PLEQ(h->line, "Subject: one\r\n\ttwo\r\n");
	h = cf_sip_msg_hdr_name(m, "x-empty");
	assert_non_null(h);
	assert_int_equal(h->val.l, 0);
	assert_non_null(cf_sip_msg_hdr_name(m, "u"));
	assert_ptr_equal(cf_sip_msg_hdr_name(m, "u"),
	                 cf_sip_msg_hdr_name(m, "Allow-Events"));
	cf_mem_deref(m);
}

/* Replace the first occurrence of `from` in the INVITE by `to`. */
static char *mut(const char *from, const char *to)
{
	const char *p = strstr(invite, from);
	char *s;

	assert_non_null(p);
	s = malloc(sizeof(invite) + strlen(to));
	snprintf(s, sizeof(invite) + strlen(to), "%.*s%s%s", (int)(p - invite),
	         invite, to, p + strlen(from));
	return s;
}

static void t_faults(void **state)
{
	static const struct {
		const char *from, *to;
		uint16_t code;
		const char *reason;
		bool respondable;
	} t[] = {
	    {"Call-ID: a84b4c76e66710@pc33.atlanta.example.com\r\n", "", 400,
	     "Missing Call-ID", true},
	    {"CSeq: 314159 INVITE\r\n", "CSeq: 1 INVITE\r\ni: dup\r\n", 400,
	     "Duplicate Call-ID header", true},
	    {"CSeq: 314159 INVITE", "CSeq: 4294967296 INVITE", 400, "Bad CSeq",
	     true},
	    {"CSeq: 314159 INVITE", "CSeq: INVITE", 400, "Bad CSeq", true},
	    {"CSeq: 314159 INVITE", "CSeq: 1 BYE", 400, "CSeq method mismatch",
	     true},
	    {"CSeq: 314159 INVITE\r\n", "", 400, "Missing CSeq", true},
	    {"sip:bob@biloxi.example.com SIP", "sip:bob@biloxi:x SIP", 400,
	     "Bad Request-URI", true},
	    {"SIP/2.0\r\nVia", "SIP/3.0\r\nVia", 505, "Version Not Supported",
	     true},
	    {"Content-Length: 4", "Content-Length: 5", 400,
	     "Bad Content-Length", true},
	    {"Content-Length: 4", "Content-Length: four", 400,
	     "Bad Content-Length", true},
	    {"Content-Length: 4\r\n", "Content-Length: 4\r\nl: 3\r\n", 400,
	     "Conflicting Content-Length", true},
	    {"SIP/2.0/UDP pc33", "SIP/2.0/UDP ;pc33", 400, "Bad Via", true},
	    {"From: Alice <", "From: Alice, Bob <", 400,
	     "Malformed From header", true},
	    {"To: Bob <sip:bob@biloxi.example.com>",
	     "To: <sip:a@b>\r\nTo: <sip:a@b>", 400, "Duplicate To header",
	     true},
	    {"Max-Forwards: 70", "Max-Forwards: 256", 400, "Bad Max-Forwards",
	     true},
	    {"Max-Forwards: 70", "Max-Forwards: -1", 400, "Bad Max-Forwards",
	     true},
	    {"Max-Forwards: 70\r\n", "Max-Forwards: 70\r\nBroken\r\n", 400,
	     "Malformed header line", true},
	    {"Via: SIP/2.0/UDP "
	     "pc33.atlanta.example.com;branch=z9hG4bK776asdhds\r\n",
	     "", 400, "Missing Via", false},
	};
	(void)state;

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		char *s = mut(t[i].from, t[i].to);
		struct cf_sip_msg *m = decs(s);

		if (!m->fault.reason || strcmp(m->fault.reason, t[i].reason))
			fprintf(stderr, "case %zu: %s\n", i,
			        m->fault.reason ? m->fault.reason : "none");
		assert_non_null(m->fault.reason);
		assert_string_equal(m->fault.reason, t[i].reason);
		assert_int_equal(m->fault.code, t[i].code);
		assert_int_equal(m->respondable, t[i].respondable);
		cf_mem_deref(m);
		free(s);
	}
}

static void t_response_faults(void **state)
{
	static const char *const bad[] = {
	    "SIP/2.0 99 Low\r\n",    "SIP/2.0 700 High\r\n",
	    "SIP/2.0 2000 Long\r\n", "SIP/2.0 20x No\r\n",
	    "SIP/3.0 200 OK\r\n",    "SIP/2.0\r\n"};
	static const char rest[] = "Via: SIP/2.0/UDP h;branch=z9hG4bKa\r\n"
	                           "From: <sip:a@h>;tag=1\r\nTo: <sip:b@h>\r\n"
	                           "Call-ID: x\r\nCSeq: 1 INVITE\r\n\r\n";
	(void)state;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char s[512];
		struct cf_sip_msg *m;

		snprintf(s, sizeof(s), "%s%s", bad[i], rest);
		m = decs(s);
		assert_false(m->req);
		assert_non_null(m->fault.reason);
		assert_int_equal(m->fault.code, 0); /* drop */
		assert_false(m->respondable);
		cf_mem_deref(m);
	}
}

static void t_garbage(void **state)
{
	static const char *const bad[] = {"\r\n\r\n",
	                                  "hello\r\n\r\n",
	                                  "INVITE\r\n\r\n",
	                                  "INVITE sip:a@b SIP/2.0",
	                                  "INVITE sip:a@b\r\n\r\n",
	                                  "<html>\r\n\r\n",
	                                  " INVITE sip:a SIP/2.0\r\n\r\n"};
	(void)state;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(
		    dec_err(bad[i], strlen(bad[i]), CF_SIP_DATAGRAM), EBADMSG);
	assert_int_equal(dec_err("", 0, CF_SIP_DATAGRAM), EBADMSG);
	assert_int_equal(dec_err("", 0, CF_SIP_STREAM), ENODATA);
	assert_int_equal(dec_err(invite, 20, CF_SIP_STREAM), ENODATA);
	assert_int_equal(cf_sip_msg_decode(NULL, NULL, 0, 0, NULL), EINVAL);
}

/* A bare-LF message and one without the empty line (datagram only). */
static void t_lf(void **state)
{
	struct cf_sip_msg *m;
	(void)state;

	m = decs("OPTIONS sip:h SIP/2.0\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\n"
	         "From: <sip:a@h>;tag=1\nTo: <sip:b@h>\nCall-ID: x\n"
	         "CSeq: 2 OPTIONS\nContent-Length: 2\n\nab");
	assert_null(m->fault.reason);
	PLEQ(m->body, "ab");
	PLEQ(m->call_id, "x");
	cf_mem_deref(m);

	m = decs(
	    "OPTIONS sip:h SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n"
	    "From: <sip:a@h>;tag=1\r\nTo: <sip:b@h>\r\nCall-ID: x\r\n"
	    "CSeq: 2 OPTIONS\r\nl: 0\r\n");
	assert_null(m->fault.reason);
	assert_int_equal(m->hdrc, 6);
	assert_int_equal(m->body.l, 0);
	cf_mem_deref(m);
}

/* A message of exactly n bytes: the INVITE head and a padded body. */
static char *sized(size_t n, size_t *lenp)
{
	char head[1024];
	char *s;
	int hl;
	size_t bl;

	hl = snprintf(head, sizeof(head),
	              INVITE_HEAD "Content-Length: %05zu\r\n\r\n", (size_t)0);
	bl = n - (size_t)hl;
	hl = snprintf(head, sizeof(head),
	              INVITE_HEAD "Content-Length: %05zu\r\n\r\n", bl);
	s = malloc(n);
	memcpy(s, head, (size_t)hl);
	memset(s + hl, 'x', bl);
	*lenp = n;
	return s;
}

/* CF_SIP_MSG_MAX at the limit and one past it, datagram and stream. */
static void t_limit_msg(void **state)
{
	struct cf_sip_msg *m;
	enum cf_sip_ka ka;
	size_t len, ml;
	char *s;
	(void)state;

	s = sized(CF_SIP_MSG_MAX, &len);
	m = dec(s, len, CF_SIP_DATAGRAM);
	assert_null(m->fault.reason);
	assert_int_equal(m->raw.l, CF_SIP_MSG_MAX);
	cf_mem_deref(m);
	m = dec(s, len, CF_SIP_STREAM);
	assert_int_equal(m->raw.l, CF_SIP_MSG_MAX);
	cf_mem_deref(m);
	assert_int_equal(
	    cf_sip_frame((uint8_t *)s, len, CF_SIP_MSG_MAX, &ml, &ka), 0);
	assert_int_equal(ml, CF_SIP_MSG_MAX);
	free(s);

	s = sized(CF_SIP_MSG_MAX + 1, &len);
	assert_int_equal(dec_err(s, len, CF_SIP_DATAGRAM), EMSGSIZE);
	assert_int_equal(dec_err(s, len, CF_SIP_STREAM), EMSGSIZE);
	/* the framer says so as soon as the header is in */
	assert_int_equal(
	    cf_sip_frame((uint8_t *)s, 1000, CF_SIP_MSG_MAX, &ml, &ka),
	    EMSGSIZE);
	free(s);
}

/* CF_SIP_HDR_MAX header lines: at the limit and one past it. */
static void t_limit_hdr(void **state)
{
	size_t cap = 64 * CF_SIP_HDR_MAX, n = 0;
	char *s = malloc(cap);
	struct cf_sip_msg *m;
	(void)state;

	n += (size_t)snprintf(s, cap, "%s", INVITE_HEAD);
	for (int i = 8; i < CF_SIP_HDR_MAX - 1; i++)
		n += (size_t)snprintf(s + n, cap - n, "X-H%d: %d\r\n", i, i);
	n += (size_t)snprintf(s + n, cap - n, "l: 0\r\n\r\n");
	m = dec(s, n, CF_SIP_DATAGRAM);
	assert_int_equal(m->hdrc, CF_SIP_HDR_MAX);
	assert_null(m->fault.reason);
	cf_mem_deref(m);

	n -= 2;
	n += (size_t)snprintf(s + n, cap - n, "X-One-More: 1\r\n\r\n");
	assert_int_equal(dec_err(s, n, CF_SIP_DATAGRAM), EBADMSG);
	assert_int_equal(dec_err(s, n, CF_SIP_STREAM), EBADMSG);
	free(s);
}

/* CF_SIP_URI_MAX for the Request-URI: 414 one past it. */
static void t_limit_ruri(void **state)
{
	size_t cap = CF_SIP_URI_MAX + 1024;
	char *s = malloc(cap), *u = malloc(CF_SIP_URI_MAX + 2);
	struct cf_sip_msg *m;
	(void)state;

	for (int extra = 0; extra < 2; extra++) {
		size_t ul = CF_SIP_URI_MAX + (size_t)extra;
		memcpy(u, "sip:", 4);
		memset(u + 4, 'h', ul - 4);
		u[ul] = 0;
		snprintf(
		    s, cap,
		    "OPTIONS %s SIP/2.0\r\nVia: SIP/2.0/UDP "
		    "h;branch=z9hG4bK1\r\n"
		    "From: <sip:a@h>;tag=1\r\nTo: <sip:b@h>\r\nCall-ID: x\r\n"
		    "CSeq: 2 OPTIONS\r\nl: 0\r\n\r\n",
		    u);
		m = decs(s);
		if (!extra) {
			assert_null(m->fault.reason);
			assert_int_equal(m->ruri.host.l, ul - 4);
		} else {
			assert_int_equal(m->fault.code, 414);
			assert_true(m->respondable);
		}
		cf_mem_deref(m);
	}
	free(u);
	free(s);
}

static struct cf_sip_msg *reenc(const struct cf_sip_msg *m, char **out)
{
	struct cf_mbuf *mb = NULL;
	struct cf_sip_msg *r;

	assert_int_equal(cf_mbuf_alloc(&mb, 64), 0);
	assert_int_equal(cf_sip_msg_encode(mb, m), 0);
	r = dec((const char *)mb->buf, mb->end, CF_SIP_STREAM);
	assert_int_equal(r->raw.l, mb->end);
	if (out) {
		*out = malloc(mb->end + 1);
		memcpy(*out, mb->buf, mb->end);
		(*out)[mb->end] = 0;
	}
	cf_mem_deref(mb);
	return r;
}

static void t_edits(void **state)
{
	struct cf_sip_msg *m = decs(invite), *r;
	struct cf_pl body = CF_PL("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\n");
	struct cf_pl ruri = CF_PL("sip:bob@192.0.2.4:5070;transport=udp");
	char *out;
	(void)state;

	/* no edits: same bytes */
	r = reenc(m, &out);
	assert_string_equal(out, invite);
	free(out);
	cf_mem_deref(r);

	assert_int_equal(cf_sip_msg_edit_add(m, NULL,
	                                     "Via: SIP/2.0/UDP proxy;branch=%s",
	                                     "z9hG4bKp1"),
	                 0);
	assert_int_equal(
	    cf_sip_msg_edit_add(m, cf_sip_msg_hdr(m, CF_SIP_H_CALL_ID),
	                        "Record-Route: <sip:proxy;lr>"),
	    0);
	assert_int_equal(
	    cf_sip_msg_edit_del(m, cf_sip_msg_hdr(m, CF_SIP_H_CONTACT)), 0);
	/* deleting twice is harmless */
	assert_int_equal(
	    cf_sip_msg_edit_del(m, cf_sip_msg_hdr(m, CF_SIP_H_CONTACT)), 0);
	assert_int_equal(
	    cf_sip_msg_edit_del(m, cf_sip_msg_hdr(m, CF_SIP_H_MAX_FORWARDS)),
	    0);
	assert_int_equal(
	    cf_sip_msg_edit_add(m, cf_sip_msg_hdr(m, CF_SIP_H_MAX_FORWARDS),
	                        "Max-Forwards: %d", 69),
	    0);
	assert_int_equal(cf_sip_msg_edit_append(m, "X-Appended: %s", "yes"), 0);
	assert_int_equal(cf_sip_msg_edit_ruri(m, &ruri), 0);
	assert_int_equal(cf_sip_msg_edit_body(m, &body), 0);

	r = reenc(m, &out);
	assert_null(r->fault.reason);
	PLEQ(r->ruri_pl, "sip:bob@192.0.2.4:5070;transport=udp");
	PLEQ(r->via.branch, "z9hG4bKp1");
	PLEQ(r->via.host, "proxy");
	assert_int_equal(cf_sip_msg_hdr_count(r, CF_SIP_H_VIA), 2);
	assert_int_equal(r->max_forwards, 69);
	assert_null(cf_sip_msg_hdr(r, CF_SIP_H_CONTACT));
	assert_non_null(cf_sip_msg_hdr_name(r, "X-Appended"));
	PLEQ(r->hdrv[r->hdrc - 1].name, "X-Appended");
	assert_int_equal(r->clen, (int64_t)body.l);
	assert_int_equal(cf_pl_cmp(&r->body, &body), 0);
	PLEQ(cf_sip_msg_hdr(r, CF_SIP_H_RECORD_ROUTE)->val, "<sip:proxy;lr>");
	/* Record-Route went right before Call-ID */
	for (size_t i = 0; i < r->hdrc; i++) {
		if (r->hdrv[i].id == CF_SIP_H_CALL_ID)
			assert_int_equal(r->hdrv[i - 1].id,
			                 CF_SIP_H_RECORD_ROUTE);
	}
	assert_non_null(strstr(out, "\r\nFrom: Alice <sip:alice@atlanta.example"
	                            ".com>;tag=1928301774\r\n"));
	free(out);
	cf_mem_deref(r);

	/* a second body replaces the first; clearing restores the input */
	body = (struct cf_pl)CF_PL("");
	assert_int_equal(cf_sip_msg_edit_body(m, &body), 0);
	r = reenc(m, NULL);
	assert_int_equal(r->clen, 0);
	assert_int_equal(r->body.l, 0);
	cf_mem_deref(r);
	cf_sip_msg_edit_clear(m);
	r = reenc(m, &out);
	assert_string_equal(out, invite);
	free(out);
	cf_mem_deref(r);
	assert_int_equal(cf_sip_msg_edit_del(m, NULL), EINVAL);
	cf_mem_deref(m);

	/* body edit without a Content-Length header adds one */
	m = decs(
	    "OPTIONS sip:h SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n"
	    "From: <sip:a@h>;tag=1\r\nTo: <sip:b@h>\r\nCall-ID: x\r\n"
	    "CSeq: 2 OPTIONS\r\n\r\n");
	body = (struct cf_pl)CF_PL("hello");
	assert_int_equal(cf_sip_msg_edit_body(m, &body), 0);
	r = reenc(m, NULL);
	assert_int_equal(r->clen, 5);
	PLEQ(r->body, "hello");
	cf_mem_deref(r);
	cf_mem_deref(m);
}

static void t_reply(void **state)
{
	struct cf_sip_msg *m, *r;
	struct cf_mbuf *mb = NULL;
	struct cf_pl tag = CF_PL("as83kd9bs");
	struct cf_pl body = CF_PL("hi");
	const char *p;
	(void)state;

	m = decs(
	    "INVITE sip:b@h SIP/2.0\r\n"
	    "Via: SIP/2.0/UDP a;branch=z9hG4bK1\r\n"
	    "Record-Route: <sip:p;lr>\r\n"
	    "v: SIP/2.0/TCP b;branch=z9hG4bK2,SIP/2.0/UDP c\r\n"
	    "To: <sip:b@h>\r\nFrom: <sip:a@h>;tag=1\r\nCall-ID: x\r\n"
	    "CSeq: 5 INVITE\r\nMax-Forwards: 7\r\nContent-Length: 0\r\n\r\n");
	assert_int_equal(cf_mbuf_alloc(&mb, 64), 0);
	assert_int_equal(cf_sip_reply_encode(mb, m, 486, NULL, &tag,
	                                     "Retry-After: 5\r\n", &body),
	                 0);
	r = dec((const char *)mb->buf, mb->end, CF_SIP_STREAM);
	assert_int_equal(r->scode, 486);
	PLEQ(r->reason, "Busy Here");
	PLEQ(r->to.tag, "as83kd9bs");
	PLEQ(r->from.tag, "1");
	assert_int_equal(r->cseq.num, 5);
	PLEQ(r->body, "hi");
	assert_null(cf_sip_msg_hdr(r, CF_SIP_H_RECORD_ROUTE));
	assert_non_null(cf_sip_msg_hdr(r, CF_SIP_H_RETRY_AFTER));
	/* §8.2.6.2: Vias in order, first the From/To/Call-ID/CSeq after */
	assert_int_equal(r->hdrv[0].id, CF_SIP_H_VIA);
	assert_int_equal(r->hdrv[1].id, CF_SIP_H_VIA);
	assert_int_equal(r->hdrv[2].id, CF_SIP_H_FROM);
	assert_int_equal(r->hdrv[3].id, CF_SIP_H_TO);
	assert_int_equal(r->hdrv[4].id, CF_SIP_H_CALL_ID);
	assert_int_equal(r->hdrv[5].id, CF_SIP_H_CSEQ);
	p = strstr((const char *)mb->buf,
	           "v: SIP/2.0/TCP b;branch=z9hG4bK2,SIP/2.0/UDP c\r\n");
	assert_non_null(p);
	cf_mem_deref(r);

	/* the transport's rewrite of the top Via (received, rport) shows */
	assert_int_equal(
	    cf_sip_msg_edit_del(m, cf_sip_msg_hdr(m, CF_SIP_H_VIA)), 0);
	assert_int_equal(
	    cf_sip_msg_edit_add(m, cf_sip_msg_hdr(m, CF_SIP_H_VIA),
	                        "Via: SIP/2.0/UDP a;branch=z9hG4bK1;"
	                        "received=192.0.2.1;rport=5062"),
	    0);
	mb->end = mb->pos = 0;
	assert_int_equal(
	    cf_sip_reply_encode(mb, m, 100, "Trying", NULL, NULL, NULL), 0);
	r = dec((const char *)mb->buf, mb->end, CF_SIP_STREAM);
	PLEQ(r->via.received, "192.0.2.1");
	PLEQ(r->via.rport_val, "5062");
	assert_int_equal(cf_sip_msg_hdr_count(r, CF_SIP_H_VIA), 2);
	assert_int_equal(r->to.tag.l, 0);
	cf_mem_deref(r);

	/* not for responses, not for codes outside 100..699 */
	assert_int_equal(cf_sip_reply_encode(mb, m, 99, NULL, NULL, NULL, NULL),
	                 EINVAL);
	cf_mem_deref(m);
	m = decs("SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP h\r\n\r\n");
	assert_int_equal(
	    cf_sip_reply_encode(mb, m, 200, NULL, NULL, NULL, NULL), EINVAL);
	cf_mem_deref(m);
	cf_mem_deref(mb);
}

static int frame(const char *s, size_t len, size_t max, size_t *ml,
                 enum cf_sip_ka *ka)
{
	return cf_sip_frame((const uint8_t *)s, len, max, ml, ka);
}

static void t_frame(void **state)
{
	size_t il = strlen(invite), ml = 0, len;
	char *s = malloc(3 * il + 16);
	enum cf_sip_ka ka;
	(void)state;

	/* pipelined: INVITE, ping, INVITE, pong */
	len = (size_t)sprintf(s, "%s\r\n\r\n%s\r\nI", invite, invite);
	assert_int_equal(frame(s, len, CF_SIP_MSG_MAX, &ml, &ka), 0);
	assert_int_equal(ka, CF_SIP_KA_NONE);
	assert_int_equal(ml, il);
	assert_int_equal(frame(s + il, len - il, CF_SIP_MSG_MAX, &ml, &ka), 0);
	assert_int_equal(ka, CF_SIP_KA_PING);
	assert_int_equal(ml, 4);
	assert_int_equal(
	    frame(s + il + 4, len - il - 4, CF_SIP_MSG_MAX, &ml, &ka), 0);
	assert_int_equal(ml, il);
	assert_int_equal(frame(s + 2 * il + 4, 3, CF_SIP_MSG_MAX, &ml, &ka), 0);
	assert_int_equal(ka, CF_SIP_KA_PONG);
	assert_int_equal(ml, 2);
	/* a lone CRLF may be half a ping */
	assert_int_equal(frame("\r\n", 2, 100, &ml, &ka), ENODATA);
	assert_int_equal(frame("\r\n\r", 3, 100, &ml, &ka), ENODATA);
	assert_int_equal(frame("\r", 1, 100, &ml, &ka), ENODATA);

	/* split anywhere: ENODATA until the last byte */
	for (size_t n = 0; n < il; n++)
		assert_int_equal(frame(invite, n, CF_SIP_MSG_MAX, &ml, &ka),
		                 ENODATA);
	assert_int_equal(frame(invite, il, CF_SIP_MSG_MAX, &ml, &ka), 0);

	/* garbage */
	assert_int_equal(frame("\n\n", 2, 100, &ml, &ka), EBADMSG);
	assert_int_equal(frame("\r\n\rX", 4, 100, &ml, &ka), EBADMSG);
	assert_int_equal(frame("<html>", 6, 100, &ml, &ka), EBADMSG);
	assert_int_equal(frame("\x16\x03\x01", 3, 100, &ml, &ka), EBADMSG);
	assert_int_equal(frame("INVITE\r\n", 8, 100, &ml, &ka), EBADMSG);
	assert_int_equal(frame(" INVITE", 7, 100, &ml, &ka), EBADMSG);
	/* over max: header not complete within max bytes, or C-L too big */
	assert_int_equal(frame(invite, il - 10, 64, &ml, &ka), EMSGSIZE);
	assert_int_equal(frame(invite, il, il - 1, &ml, &ka), EMSGSIZE);
	assert_int_equal(frame(invite, il, il, &ml, &ka), 0);

	/* Content-Length missing, negative, conflicting; equal twice is OK */
	free(s);
	s = mut("Content-Length: 4\r\n", "");
	assert_int_equal(frame(s, strlen(s), CF_SIP_MSG_MAX, &ml, &ka),
	                 EBADMSG);
	free(s);
	s = mut("Content-Length: 4", "Content-Length: -4");
	assert_int_equal(frame(s, strlen(s), CF_SIP_MSG_MAX, &ml, &ka),
	                 EBADMSG);
	free(s);
	s = mut("Content-Length: 4\r\n", "Content-Length: 4\r\nl: 3\r\n");
	assert_int_equal(frame(s, strlen(s), CF_SIP_MSG_MAX, &ml, &ka),
	                 EBADMSG);
	free(s);
	s = mut("Content-Length: 4\r\n", "Content-Length: 4\r\nl:\r\n 4\r\n");
	assert_int_equal(frame(s, strlen(s), CF_SIP_MSG_MAX, &ml, &ka), 0);
	assert_int_equal(ml, strlen(s));
	free(s);
	assert_int_equal(frame(NULL, 0, 10, &ml, &ka), ENODATA);
	assert_int_equal(frame(invite, il, 10, NULL, &ka), EINVAL);
}

/* Out of memory on each allocation: an error, never a leak or a crash. */
static void t_oom(void **state)
{
	struct cf_sip_msg *m = NULL;
	struct cf_mbuf *mb = NULL;
	struct cf_pl body = CF_PL("x");
	(void)state;

	cf_mem_fail_after(1);
	assert_int_equal(cf_sip_msg_decode(&m, (const uint8_t *)invite,
	                                   strlen(invite), CF_SIP_DATAGRAM,
	                                   NULL),
	                 ENOMEM);
	cf_mem_fail_after(0);
	m = decs(invite);
	for (long n = 1; n <= 4; n++) {
		cf_mem_fail_after(n);
		(void)cf_sip_msg_edit_body(m, &body);
		(void)cf_sip_msg_edit_append(m, "X: y");
		cf_mem_fail_after(0);
	}
	cf_mem_fail_after(1);
	assert_int_equal(cf_sip_msg_edit_add(m, NULL, "X: %d", 1), ENOMEM);
	cf_mem_fail_after(0);
	assert_int_equal(cf_mbuf_alloc(&mb, 16), 0);
	assert_int_equal(cf_sip_msg_encode(mb, m), 0);
	cf_mem_deref(mb);
	cf_mem_deref(m);
}

/* Every file under tests/fuzz/regress/<target>/ (crashers found by the
 * fuzzers, fixed) goes through the decoders again. */
static void t_fuzz_regress(void **state)
{
	static const char *const targets[] = {"fuzz_sip_msg", "fuzz_sip_uri",
	                                      "fuzz_sip_frame"};
	const char *root = getenv("CF_FUZZ_DIR");
	size_t files = 0;
	(void)state;

	if (!root)
		root = "tests/fuzz";
	for (size_t t = 0; t < 3; t++) {
		char dir[2048];
		struct dirent *de;
		DIR *d;

		snprintf(dir, sizeof(dir), "%s/regress/%s", root, targets[t]);
		d = opendir(dir);
		if (!d)
			continue;
		while ((de = readdir(d))) {
			struct cf_sip_msg *m = NULL;
			struct cf_sip_uri u;
			enum cf_sip_ka ka;
			size_t len = 0, ml;
			uint8_t *buf;
			struct cf_pl pl;

			char path[4096];

			if (de->d_name[0] == '.')
				continue;
			snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
			buf = vec_read_path(path, &len);
			if (!buf)
				continue;
			files++;
			pl.p = (const char *)buf;
			pl.l = len;
			(void)cf_sip_uri_decode(&u, &pl);
			(void)cf_sip_frame(buf, len, CF_SIP_MSG_MAX, &ml, &ka);
			for (int f = 0; f < 2; f++) {
				if (cf_sip_msg_decode(&m, buf, len, f, &ml))
					continue;
				struct cf_mbuf *mb = NULL;
				assert_int_equal(cf_mbuf_alloc(&mb, 64), 0);
				assert_int_equal(cf_sip_msg_encode(mb, m), 0);
				cf_mem_deref(mb);
				m = cf_mem_deref(m);
			}
			free(buf);
		}
		closedir(d);
	}
	fprintf(stderr, "fuzz regression files: %zu\n", files);
}

#define T(f)                                                                   \
	cmocka_unit_test_setup_teardown(f, cf_test_leak_setup,                 \
	                                cf_test_leak_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
	    T(t_decode),
	    T(t_response),
	    T(t_fold_multi),
	    T(t_faults),
	    T(t_response_faults),
	    T(t_garbage),
	    T(t_lf),
	    T(t_limit_msg),
	    T(t_limit_hdr),
	    T(t_limit_ruri),
	    T(t_edits),
	    T(t_reply),
	    T(t_frame),
	    T(t_oom),
	    T(t_fuzz_regress),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
