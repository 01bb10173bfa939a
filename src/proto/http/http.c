/* SPDX-License-Identifier: BSD-3-Clause */
/* http.c - HTTP/1.1 request heads for the WebSocket upgrade (RFC 7230 §3,
 * RFC 6455 §4.2): a parser that allocates nothing, the handshake checks and
 * Sec-WebSocket-Accept (SHA-1 and base64 from libcrypto). */
#include <errno.h>
#include <string.h>
#include <openssl/evp.h>

#include "proto/http/http.h"

/* RFC 7230 §3.2.6 tchar. */
static bool tchar(uint8_t c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9'))
		return true;
	return c && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* A byte allowed in a header value or the request target: visible ASCII,
 * SP, HTAB, obs-text (RFC 7230 §3.2). */
static bool vchar(uint8_t c)
{
	return c == ' ' || c == '\t' || (c >= 0x21 && c != 0x7f);
}

/* The end of the line starting at off: *eol at its CR (or LF), *next
 * after its LF. ENODATA when there is no LF yet; EBADMSG for a CR not
 * followed by LF or a byte that no head line may hold. */
static int line(const uint8_t *p, size_t n, size_t off, size_t *eol,
                size_t *next)
{
	for (size_t i = off; i < n; i++) {
		if (p[i] == '\n') {
			*eol = i > off && p[i - 1] == '\r' ? i - 1 : i;
			*next = i + 1;
			return 0;
		}
		if (p[i] == '\r') {
			if (i + 1 < n && p[i + 1] != '\n')
				return EBADMSG;
			continue;
		}
		if (!vchar(p[i]))
			return EBADMSG;
	}
	return ENODATA;
}

static struct cf_pl slice(const uint8_t *p, size_t a, size_t b)
{
	return (struct cf_pl){(const char *)p + a, b - a};
}

/* method SP request-target SP HTTP-version (§3.1.1). */
static int request_line(struct cf_http_req *req, const uint8_t *p, size_t e)
{
	size_t i = 0, t;

	while (i < e && tchar(p[i]))
		i++;
	if (!i || i >= e || p[i] != ' ')
		return EBADMSG;
	req->method = slice(p, 0, i);
	t = ++i;
	while (i < e && p[i] != ' ')
		i++;
	if (i == t || i >= e)
		return EBADMSG;
	req->target = slice(p, t, i);
	req->version = slice(p, i + 1, e);
	if (req->version.l != 8 || memcmp(req->version.p, "HTTP/", 5) ||
	    req->version.p[5] < '0' || req->version.p[5] > '9' ||
	    req->version.p[6] != '.' || req->version.p[7] < '0' ||
	    req->version.p[7] > '9')
		return EBADMSG;
	return 0;
}

/* field-name ":" OWS field-value OWS (§3.2); no space before the colon
 * (§3.2.4: 400). */
static int header(struct cf_http_hdr *h, const uint8_t *p, size_t a, size_t e)
{
	size_t i = a;

	while (i < e && tchar(p[i]))
		i++;
	if (i == a || i >= e || p[i] != ':')
		return EBADMSG;
	h->name = slice(p, a, i);
	h->val = slice(p, i + 1, e);
	cf_pl_trim(&h->val);
	return 0;
}

/* Fail early on bytes that cannot begin a request: the method's first
 * bytes must be tchars up to a SP. */
static int prefix_check(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (p[i] == ' ')
			return i ? 0 : EBADMSG;
		if (!tchar(p[i]))
			return EBADMSG;
	}
	return 0;
}

int cf_http_req_decode(struct cf_http_req *req, const uint8_t *p, size_t n,
                       size_t *consumed)
{
	size_t off = 0, eol, next, lim = n;
	int err;

	if (!req || !consumed || (!p && n))
		return EINVAL;
	*consumed = 0;
	memset(req, 0, sizeof(*req));
	if (lim > CF_HTTP_HEAD_MAX)
		lim = CF_HTTP_HEAD_MAX;
	err = prefix_check(p, lim);
	if (err)
		return err;

	err = line(p, lim, 0, &eol, &next);
	if (err)
		goto incomplete;
	err = request_line(req, p, eol);
	if (err)
		return err;
	off = next;
	for (;;) {
		err = line(p, lim, off, &eol, &next);
		if (err)
			goto incomplete;
		if (eol == off) { /* the empty line */
			*consumed = next;
			return 0;
		}
		if (p[off] == ' ' || p[off] == '\t')
			return EBADMSG; /* §3.2.4: obs-fold refused */
		if (req->hdrc >= CF_HTTP_HDR_MAX)
			return EMSGSIZE;
		err = header(&req->hdrv[req->hdrc], p, off, eol);
		if (err)
			return err;
		req->hdrc++;
		off = next;
	}
incomplete:
	if (err == ENODATA && n >= CF_HTTP_HEAD_MAX)
		return EMSGSIZE;
	return err;
}

const struct cf_pl *cf_http_req_hdr(const struct cf_http_req *req,
                                    const char *name)
{
	if (!req || !name)
		return NULL;
	for (size_t i = 0; i < req->hdrc; i++) {
		if (!cf_pl_strcasecmp(&req->hdrv[i].name, name))
			return &req->hdrv[i].val;
	}
	return NULL;
}

/* Is tok one of the comma-separated items of list (case-insensitive)? */
static bool list_has(const struct cf_pl *list, const struct cf_pl *tok)
{
	const char *p = list->p, *e = list->p + list->l;

	while (p < e) {
		const char *c = memchr(p, ',', (size_t)(e - p));
		struct cf_pl item = {p, (size_t)((c ? c : e) - p)};

		cf_pl_trim(&item);
		if (!cf_pl_casecmp(&item, tok))
			return true;
		p = c ? c + 1 : e;
	}
	return false;
}

bool cf_http_req_has_token(const struct cf_http_req *req, const char *name,
                           const char *token)
{
	struct cf_pl tok;

	if (!req || !name || !token)
		return false;
	cf_pl_set_str(&tok, token);
	for (size_t i = 0; i < req->hdrc; i++) {
		if (!cf_pl_strcasecmp(&req->hdrv[i].name, name) &&
		    list_has(&req->hdrv[i].val, &tok))
			return true;
	}
	return false;
}

int cf_http_ws_accept(const struct cf_pl *key,
                      char out[CF_HTTP_WS_ACCEPT_LEN + 1])
{
	static const char guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	EVP_MD_CTX *ctx;
	int ok;

	if (!key || !key->p || !out)
		return EINVAL;
	ctx = EVP_MD_CTX_new();
	if (!ctx)
		return ENOMEM;
	ok = EVP_DigestInit_ex(ctx, EVP_sha1(), NULL) &&
	     EVP_DigestUpdate(ctx, key->p, key->l) &&
	     EVP_DigestUpdate(ctx, guid, sizeof(guid) - 1) &&
	     EVP_DigestFinal_ex(ctx, md, &mdlen) && mdlen == 20;
	EVP_MD_CTX_free(ctx);
	if (!ok)
		return EPROTO;
	/* 20 bytes -> 28 characters and a NUL */
	if (EVP_EncodeBlock((unsigned char *)out, md, 20) !=
	    CF_HTTP_WS_ACCEPT_LEN)
		return EPROTO;
	return 0;
}

/* §4.1: a base64-encoded 16-byte value: 22 characters and "==". */
static bool key_valid(const struct cf_pl *k)
{
	static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	                          "abcdefghijklmnopqrstuvwxyz0123456789+/";

	if (k->l != 24 || k->p[22] != '=' || k->p[23] != '=')
		return false;
	for (size_t i = 0; i < 22; i++) {
		if (!strchr(b64, k->p[i]) || !k->p[i])
			return false;
	}
	return true;
}

static int refuse(struct cf_http_ws_upgrade *up, uint16_t status,
                  const char *reason)
{
	up->status = status;
	up->reason = reason;
	return EPROTO;
}

static bool origin_allowed(const struct cf_pl *origin, const char *origins)
{
	struct cf_pl list;

	if (!origins || !*origins || !cf_pl_isset(origin))
		return true;
	cf_pl_set_str(&list, origins);
	return list_has(&list, origin);
}

int cf_http_ws_upgrade_check(const struct cf_http_req *req,
                             const char *subproto, const char *origins,
                             struct cf_http_ws_upgrade *up)
{
	const struct cf_pl *v;
	uint32_t ver;

	if (!req || !subproto || !up)
		return EINVAL;
	memset(up, 0, sizeof(*up));
	/* plain HTTP (a browser visiting the port): 400, whatever method */
	if (!cf_http_req_has_token(req, "Upgrade", "websocket"))
		return refuse(up, 400, "not a WebSocket upgrade");
	if (cf_pl_strcmp(&req->method, "GET"))
		return refuse(up, 405, "not GET");
	if (req->version.l != 8 || req->version.p[5] < '1' ||
	    !cf_pl_strcmp(&req->version, "HTTP/1.0"))
		return refuse(up, 400, "HTTP/1.1 needed");
	if (!cf_http_req_hdr(req, "Host"))
		return refuse(up, 400, "no Host");
	if (!cf_http_req_has_token(req, "Connection", "Upgrade"))
		return refuse(up, 400, "no Connection: Upgrade");
	v = cf_http_req_hdr(req, "Sec-WebSocket-Version");
	if (!v || cf_pl_u32(v, &ver) || ver != CF_HTTP_WS_VERSION)
		return refuse(up, 426, "Sec-WebSocket-Version not 13");
	v = cf_http_req_hdr(req, "Sec-WebSocket-Key");
	if (!v || !key_valid(v))
		return refuse(up, 400, "bad Sec-WebSocket-Key");
	up->key = *v;
	if (!cf_http_req_has_token(req, "Sec-WebSocket-Protocol", subproto))
		return refuse(up, 400, "subprotocol missing");
	v = cf_http_req_hdr(req, "Origin");
	if (v)
		up->origin = *v;
	if (!origin_allowed(&up->origin, origins))
		return refuse(up, 403, "Origin not allowed");
	up->status = 101;
	up->reason = "Switching Protocols";
	return 0;
}
