/* SPDX-License-Identifier: BSD-3-Clause */
/* resp.c - building and routing responses of the transaction layer:
 * cf_sip_reply_encode plus received/rport in the top Via (RFC 3261 §18.2.1,
 * RFC 3581 §4), the destination (§18.2.2), stateless fault answers. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "sip/sip_priv.h"

/* RFC 3261 §18.2.1 / RFC 3581 §4: received when the sent-by host is not the
 * source address, or always when rport was asked for. */
static bool need_received(const struct cf_sip_via *via, const struct cf_sa *src)
{
	struct cf_sa sa;

	if (via->rport)
		return true;
	if (cf_sa_set_pl(&sa, &via->host, 0))
		return true; /* a host name */

	return !cf_sa_addr_eq(&sa, src);
}

/* Decimal without printf (every response over UDP writes one). */
static const char *u16_print(uint16_t v, char *buf)
{
	char *p = buf + 6;

	*p = 0;
	do {
		*--p = (char)('0' + v % 10);
		v /= 10;
	} while (v);

	return p;
}

/* IPv4 by hand, IPv6 through inet_ntop (cf_sa_ntop). */
static const char *ip_print(const struct cf_sa *sa, char *buf, size_t size)
{
	const uint8_t *a;
	char num[8], *p = buf;
	int i;

	if (cf_sa_af(sa) != AF_INET || size < 16)
		return cf_sa_ntop(sa, buf, size);

	a = (const uint8_t *)&sa->u.in.sin_addr.s_addr;
	for (i = 0; i < 4; i++) {
		const char *d = u16_print(a[i], num);

		if (i)
			*p++ = '.';
		while (*d)
			*p++ = *d++;
	}
	*p = 0;

	return buf;
}

/* The top via-parm as the response carries it: the request's, with any
 * received/rport replaced by ours. */
static int via_print(struct cf_mbuf *mb, const struct cf_sip_via *via,
                     const struct cf_sa *src)
{
	struct cf_pl params = via->params, rest;
	const char *end = via->val.p + via->val.l;
	char ip[64];
	int err = 0;

	if (!cf_pl_isset(&params) || params.p < via->val.p ||
	    params.p + params.l > end) {
		err = cf_mbuf_write_pl(mb, &via->val);
		params = CF_PL_NULL;
	} else {
		/* sent-by without the ';' that opens the parameters */
		struct cf_pl head = {via->val.p,
		                     (size_t)(params.p - via->val.p)};
		while (head.l && head.p[head.l - 1] != ';')
			--head.l;
		if (head.l)
			--head.l;
		err = cf_mbuf_write_pl(mb, &head);
	}

	while (!err && params.l) {
		const char *semi = cf_pl_chr(&params, ';');
		struct cf_pl prm = {params.p, semi ? (size_t)(semi - params.p)
		                                   : params.l};
		struct cf_pl name = prm;
		const char *eq = cf_pl_chr(&prm, '=');

		if (eq)
			name.l = (size_t)(eq - prm.p);
		cf_pl_trim(&name);
		params.p += prm.l + (semi ? 1 : 0);
		params.l -= prm.l + (semi ? 1 : 0);

		if (!cf_pl_strcasecmp(&name, "rport") ||
		    !cf_pl_strcasecmp(&name, "received"))
			continue;
		err = cf_mbuf_write_u8(mb, ';');
		if (!err)
			err = cf_mbuf_write_pl(mb, &prm);
	}

	if (!err && cf_pl_isset(&via->params)) {
		rest.p = via->params.p + via->params.l;
		rest.l = rest.p < end ? (size_t)(end - rest.p) : 0;
		if (rest.l)
			err = cf_mbuf_write_pl(mb, &rest);
	}

	if (!err && need_received(via, src)) {
		err = cf_mbuf_write_str(mb, ";received=");
		if (!err)
			err = cf_mbuf_write_str(mb,
			                        ip_print(src, ip, sizeof(ip)));
	}
	if (!err && via->rport) {
		err = cf_mbuf_write_str(mb, ";rport=");
		if (!err)
			err = cf_mbuf_write_str(mb,
			                        u16_print(cf_sa_port(src), ip));
	}

	return err;
}

static const char *memfind(const char *hay, size_t hl, const struct cf_pl *n)
{
	size_t i;

	if (!n->l || n->l > hl)
		return NULL;
	for (i = 0; i + n->l <= hl; i++) {
		if (hay[i] == n->p[0] && !memcmp(hay + i, n->p, n->l))
			return hay + i;
	}

	return NULL;
}

/*
 * Encode a response to req (cf_sip_reply_encode, §8.2.6) into a new
 * refcounted buffer, with the top Via carrying received/rport for the
 * source address of peer (§18.2.1, RFC 3581 §4). The encoder copies the
 * Vias; we find the top via-parm in its output and splice ours in. O(n).
 */
int cf_sip_txn_reply_build(struct cf_mbuf **mbp, struct cf_sip_txn_env *env,
                           const struct cf_sip_msg *req,
                           const struct cf_sip_peer *peer, uint16_t code,
                           const char *reason, const char *tag,
                           const char *hdrs, const struct cf_pl *body)
{
	struct cf_mbuf *tmp = &env->tmp, *via = &env->via;
	struct cf_mbuf *mb = NULL;
	struct cf_pl tagpl = CF_PL_NULL, out;
	const char *crlf, *at;
	int err;

	/* the env's scratch buffers: no allocation once they have grown */
	tmp->pos = tmp->end = 0;
	via->pos = via->end = 0;
	if (tag)
		cf_pl_set_str(&tagpl, tag);

	err = cf_sip_reply_encode(tmp, req, code, reason, tag ? &tagpl : NULL,
	                          hdrs, body);
	if (err)
		goto out;
	err = via_print(via, &req->via, &peer->addr);
	if (err)
		goto out;

	out = cf_mbuf_pl(tmp);
	crlf = memfind(out.p, out.l, &CF_PL("\r\n"));
	at = crlf ? memfind(crlf, out.l - (size_t)(crlf - out.p), &req->via.val)
	          : NULL;

	err = cf_mbuf_alloc(&mb, out.l + via->end);
	if (err)
		goto out;
	if (at) {
		size_t off = (size_t)(at - out.p);
		err = cf_mbuf_write_mem(mb, out.p, off);
		if (!err)
			err = cf_mbuf_write_mem(mb, via->buf, via->end);
		if (!err)
			err = cf_mbuf_write_mem(mb, at + req->via.val.l,
			                        out.l - off - req->via.val.l);
	} else {
		err = cf_mbuf_write_pl(mb, &out);
	}

out:
	if (err)
		mb = cf_mem_deref(mb);
	*mbp = mb;
	return err;
}

/*
 * RFC 3261 §18.2.2 with RFC 3581: over a stream, the connection the request
 * came on (or, when none, a new one to the source address at the sent-by
 * port); over UDP, the source address and, with rport, the source port,
 * else the sent-by port (5060 by default). maddr is not honoured (out of
 * scope: multicast), so the response goes to the source address.
 */
void cf_sip_txn_resp_dst(struct cf_sip_peer *dst, const struct cf_sip_msg *req,
                         const struct cf_sip_peer *src)
{
	uint16_t port = req->via.port ? req->via.port : 5060;

	*dst = *src;
	if (cf_sip_tp_reliable(src->tp)) {
		if (!src->conn)
			cf_sa_set_port(&dst->addr, port);
		return;
	}
	dst->conn = NULL;
	if (!req->via.rport)
		cf_sa_set_port(&dst->addr, port);
}

/*
 * §18.2.2: "If the connection is no longer open, the server SHOULD open a
 * connection to the IP address in the received parameter, if present,
 * using the port in the sent-by value, or the default port for that
 * transport". The received parameter we add is the request's source
 * address, which dst holds already, so no RFC 3263 §5 lookup of a sent-by
 * name is ever needed: only the port changes (the source port was the
 * client's ephemeral one). WebSocket clients are never connected to (RFC
 * 7118 §5).
 */
bool cf_sip_txn_resp_reconnect(struct cf_sip_peer *dst,
                               const struct cf_sip_msg *req)
{
	uint16_t port;

	if (!dst->conn ||
	    (dst->tp != CF_SIP_TP_TCP && dst->tp != CF_SIP_TP_TLS))
		return false;
	port = req->via.port ? req->via.port
	                     : (dst->tp == CF_SIP_TP_TLS ? 5061 : 5060);
	dst->conn = NULL; /* borrowed: the transaction's peer holds it */
	cf_sa_set_port(&dst->addr, port);
	return true;
}

/* 64-bit FNV-1a over pl, then a separator (so that "ab"+"c" and "a"+"bc"
 * differ). */
static uint64_t fnv_pl(uint64_t h, const struct cf_pl *pl)
{
	for (size_t i = 0; pl->p && i < pl->l; i++) {
		h ^= (uint8_t)pl->p[i];
		h *= 0x100000001b3ULL;
	}
	h ^= 0xff;
	return h * 0x100000001b3ULL;
}

/* See sip_priv.h. §8.2.7: a stateless UAS generates "the same tag for the
 * same request consistently" (Kamailio's sl module hashes the request the
 * same way); the seed keeps it unguessable (§19.3). Hex: 64 bits. */
void cf_sip_txn_stateless_tag(const struct cf_sip_txn_env *env,
                              const struct cf_sip_msg *req,
                              char tag[CF_SIP_TAG_LEN + 1])
{
	static const char hex[] = "0123456789abcdef";
	uint64_t h = 0xcbf29ce484222325ULL;
	struct cf_pl pl;
	char num[16];

	cf_pl_set_str(&pl, env->seed);
	h = fnv_pl(h, &pl);
	h = fnv_pl(h, &req->call_id);
	h = fnv_pl(h, &req->from.tag);
	h = fnv_pl(h, &req->via.branch);
	h = fnv_pl(h, &req->method);
	snprintf(num, sizeof(num), "%u", req->cseq.num);
	cf_pl_set_str(&pl, num);
	h = fnv_pl(h, &pl);
	for (int i = CF_SIP_TAG_LEN - 1; i >= 0; i--) {
		tag[i] = hex[h & 0xf];
		h >>= 4;
	}
	tag[CF_SIP_TAG_LEN] = '\0';
}

int cf_sip_txn_reply_stateless(struct cf_sip_txn_env *env,
                               const struct cf_sip_msg *req,
                               const struct cf_sip_peer *peer, uint16_t code,
                               const char *reason)
{
	char tag[CF_SIP_TAG_LEN + 1];
	struct cf_sip_peer dst;
	struct cf_mbuf *mb;
	struct cf_pl bytes;
	int err;

	cf_sip_txn_stateless_tag(env, req, tag);
	err = cf_sip_txn_reply_build(&mb, env, req, peer, code, reason, tag,
	                             NULL, NULL);
	if (err)
		return err;

	cf_sip_txn_resp_dst(&dst, req, peer);
	bytes = cf_mbuf_pl(mb);
	err = cf_sip_txn_send(env, &dst, &bytes);
	cf_mem_deref(mb);

	return err;
}
