/* SPDX-License-Identifier: BSD-3-Clause */
/* stun.c - the STUN message codec (RFC 8489 §5, §14): decode in place,
 * address attributes, MESSAGE-INTEGRITY, FINGERPRINT, encode. */
#include <errno.h>
#include <string.h>
#include <netinet/in.h>

#include <openssl/evp.h>
#include <openssl/core_names.h>
#include <openssl/params.h>

#include "proto/stun/stun.h"

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

static void wr16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void wr32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static size_t pad4(size_t n)
{
	return (n + 3) & ~(size_t)3;
}

/* ------------------------------------------------------------- CRC-32 */

/* The reflected CRC-32 of ISO 3309 (polynomial 0xEDB88320), the one
 * FINGERPRINT uses (§14.7): entry i is the CRC of the byte i, shifted
 * eight times through the polynomial. */
/* clang-format off */
static const uint32_t crc_table[256] = {
	0x00000000u, 0x77073096u, 0xee0e612cu, 0x990951bau,
	0x076dc419u, 0x706af48fu, 0xe963a535u, 0x9e6495a3u,
	0x0edb8832u, 0x79dcb8a4u, 0xe0d5e91eu, 0x97d2d988u,
	0x09b64c2bu, 0x7eb17cbdu, 0xe7b82d07u, 0x90bf1d91u,
	0x1db71064u, 0x6ab020f2u, 0xf3b97148u, 0x84be41deu,
	0x1adad47du, 0x6ddde4ebu, 0xf4d4b551u, 0x83d385c7u,
	0x136c9856u, 0x646ba8c0u, 0xfd62f97au, 0x8a65c9ecu,
	0x14015c4fu, 0x63066cd9u, 0xfa0f3d63u, 0x8d080df5u,
	0x3b6e20c8u, 0x4c69105eu, 0xd56041e4u, 0xa2677172u,
	0x3c03e4d1u, 0x4b04d447u, 0xd20d85fdu, 0xa50ab56bu,
	0x35b5a8fau, 0x42b2986cu, 0xdbbbc9d6u, 0xacbcf940u,
	0x32d86ce3u, 0x45df5c75u, 0xdcd60dcfu, 0xabd13d59u,
	0x26d930acu, 0x51de003au, 0xc8d75180u, 0xbfd06116u,
	0x21b4f4b5u, 0x56b3c423u, 0xcfba9599u, 0xb8bda50fu,
	0x2802b89eu, 0x5f058808u, 0xc60cd9b2u, 0xb10be924u,
	0x2f6f7c87u, 0x58684c11u, 0xc1611dabu, 0xb6662d3du,
	0x76dc4190u, 0x01db7106u, 0x98d220bcu, 0xefd5102au,
	0x71b18589u, 0x06b6b51fu, 0x9fbfe4a5u, 0xe8b8d433u,
	0x7807c9a2u, 0x0f00f934u, 0x9609a88eu, 0xe10e9818u,
	0x7f6a0dbbu, 0x086d3d2du, 0x91646c97u, 0xe6635c01u,
	0x6b6b51f4u, 0x1c6c6162u, 0x856530d8u, 0xf262004eu,
	0x6c0695edu, 0x1b01a57bu, 0x8208f4c1u, 0xf50fc457u,
	0x65b0d9c6u, 0x12b7e950u, 0x8bbeb8eau, 0xfcb9887cu,
	0x62dd1ddfu, 0x15da2d49u, 0x8cd37cf3u, 0xfbd44c65u,
	0x4db26158u, 0x3ab551ceu, 0xa3bc0074u, 0xd4bb30e2u,
	0x4adfa541u, 0x3dd895d7u, 0xa4d1c46du, 0xd3d6f4fbu,
	0x4369e96au, 0x346ed9fcu, 0xad678846u, 0xda60b8d0u,
	0x44042d73u, 0x33031de5u, 0xaa0a4c5fu, 0xdd0d7cc9u,
	0x5005713cu, 0x270241aau, 0xbe0b1010u, 0xc90c2086u,
	0x5768b525u, 0x206f85b3u, 0xb966d409u, 0xce61e49fu,
	0x5edef90eu, 0x29d9c998u, 0xb0d09822u, 0xc7d7a8b4u,
	0x59b33d17u, 0x2eb40d81u, 0xb7bd5c3bu, 0xc0ba6cadu,
	0xedb88320u, 0x9abfb3b6u, 0x03b6e20cu, 0x74b1d29au,
	0xead54739u, 0x9dd277afu, 0x04db2615u, 0x73dc1683u,
	0xe3630b12u, 0x94643b84u, 0x0d6d6a3eu, 0x7a6a5aa8u,
	0xe40ecf0bu, 0x9309ff9du, 0x0a00ae27u, 0x7d079eb1u,
	0xf00f9344u, 0x8708a3d2u, 0x1e01f268u, 0x6906c2feu,
	0xf762575du, 0x806567cbu, 0x196c3671u, 0x6e6b06e7u,
	0xfed41b76u, 0x89d32be0u, 0x10da7a5au, 0x67dd4accu,
	0xf9b9df6fu, 0x8ebeeff9u, 0x17b7be43u, 0x60b08ed5u,
	0xd6d6a3e8u, 0xa1d1937eu, 0x38d8c2c4u, 0x4fdff252u,
	0xd1bb67f1u, 0xa6bc5767u, 0x3fb506ddu, 0x48b2364bu,
	0xd80d2bdau, 0xaf0a1b4cu, 0x36034af6u, 0x41047a60u,
	0xdf60efc3u, 0xa867df55u, 0x316e8eefu, 0x4669be79u,
	0xcb61b38cu, 0xbc66831au, 0x256fd2a0u, 0x5268e236u,
	0xcc0c7795u, 0xbb0b4703u, 0x220216b9u, 0x5505262fu,
	0xc5ba3bbeu, 0xb2bd0b28u, 0x2bb45a92u, 0x5cb36a04u,
	0xc2d7ffa7u, 0xb5d0cf31u, 0x2cd99e8bu, 0x5bdeae1du,
	0x9b64c2b0u, 0xec63f226u, 0x756aa39cu, 0x026d930au,
	0x9c0906a9u, 0xeb0e363fu, 0x72076785u, 0x05005713u,
	0x95bf4a82u, 0xe2b87a14u, 0x7bb12baeu, 0x0cb61b38u,
	0x92d28e9bu, 0xe5d5be0du, 0x7cdcefb7u, 0x0bdbdf21u,
	0x86d3d2d4u, 0xf1d4e242u, 0x68ddb3f8u, 0x1fda836eu,
	0x81be16cdu, 0xf6b9265bu, 0x6fb077e1u, 0x18b74777u,
	0x88085ae6u, 0xff0f6a70u, 0x66063bcau, 0x11010b5cu,
	0x8f659effu, 0xf862ae69u, 0x616bffd3u, 0x166ccf45u,
	0xa00ae278u, 0xd70dd2eeu, 0x4e048354u, 0x3903b3c2u,
	0xa7672661u, 0xd06016f7u, 0x4969474du, 0x3e6e77dbu,
	0xaed16a4au, 0xd9d65adcu, 0x40df0b66u, 0x37d83bf0u,
	0xa9bcae53u, 0xdebb9ec5u, 0x47b2cf7fu, 0x30b5ffe9u,
	0xbdbdf21cu, 0xcabac28au, 0x53b39330u, 0x24b4a3a6u,
	0xbad03605u, 0xcdd70693u, 0x54de5729u, 0x23d967bfu,
	0xb3667a2eu, 0xc4614ab8u, 0x5d681b02u, 0x2a6f2b94u,
	0xb40bbe37u, 0xc30c8ea1u, 0x5a05df1bu, 0x2d02ef8du,
};
/* clang-format on */

uint32_t cf_stun_crc32(const uint8_t *p, size_t n)
{
	uint32_t c = 0xFFFFFFFFu;

	for (size_t i = 0; i < n; i++)
		c = crc_table[(c ^ p[i]) & 0xff] ^ (c >> 8);
	return c ^ 0xFFFFFFFFu;
}

/* ------------------------------------------------------------- decode */

bool cf_stun_is(const uint8_t *p, size_t n)
{
	return p && n >= CF_STUN_HDR_LEN && (p[0] & 0xC0) == 0 &&
	       rd32(p + 4) == CF_STUN_MAGIC && (rd16(p + 2) & 3) == 0;
}

/*
 * §5: type (2 zero bits, then method and class bits interleaved: M11..M7
 * C1 M6..M4 C0 M3..M0), length (attributes only, a multiple of 4), the
 * cookie, the transaction ID; then TLV attributes padded to 4 bytes
 * (§14: the padding's content is ignored, RFC 5769 vector 2.1 pads with
 * spaces). O(attributes), plus one CRC pass when FINGERPRINT is there.
 */
int cf_stun_decode(struct cf_stun_msg *m, const uint8_t *p, size_t n,
                   size_t *used)
{
	uint16_t type, mlen;
	size_t pos, end;

	if (!m || !p || !used)
		return EINVAL;
	memset(m, 0, sizeof(*m));
	*used = 0;
	if (n < CF_STUN_HDR_LEN) {
		if (n >= 1 && (p[0] & 0xC0))
			return EBADMSG;
		return ENODATA;
	}
	if (!cf_stun_is(p, n))
		return EBADMSG;
	type = rd16(p);
	mlen = rd16(p + 2);
	end = CF_STUN_HDR_LEN + (size_t)mlen;
	if (n < end) {
		*used = end;
		return ENODATA;
	}
	m->raw = p;
	m->len = end;
	m->method = (uint16_t)((type & 0x000F) | ((type & 0x00E0) >> 1) |
	                       ((type & 0x3E00) >> 2));
	m->cls = (enum cf_stun_class)(((type & 0x0010) >> 4) |
	                              ((type & 0x0100) >> 7));
	memcpy(m->tid, p + 8, CF_STUN_TID_LEN);

	for (pos = CF_STUN_HDR_LEN; pos < end;) {
		uint16_t at, al;
		struct cf_stun_attr *a;

		if (end - pos < 4)
			return EBADMSG;
		at = rd16(p + pos);
		al = rd16(p + pos + 2);
		if (end - pos - 4 < pad4(al))
			return EBADMSG;
		if (m->fingerprint)
			return EBADMSG; /* §14.7: FINGERPRINT comes last */
		if (at == CF_STUN_A_FINGERPRINT) {
			if (al != CF_STUN_FP_LEN ||
			    rd32(p + pos + 4) !=
			        (cf_stun_crc32(p, pos) ^ CF_STUN_FP_XOR))
				return EBADMSG;
			m->fingerprint = true;
		} else if (m->integrity &&
		           at != CF_STUN_A_MESSAGE_INTEGRITY_SHA256) {
			/* §14.5: ignored after MESSAGE-INTEGRITY */
			pos += 4 + pad4(al);
			continue;
		}
		if (m->attrc == CF_STUN_ATTR_MAX)
			return EBADMSG;
		a = &m->attrv[m->attrc++];
		a->type = at;
		a->val = p + pos + 4;
		a->len = al;
		a->off = pos;
		if (at == CF_STUN_A_MESSAGE_INTEGRITY && !m->integrity) {
			if (al != CF_STUN_MI_LEN)
				return EBADMSG;
			m->integrity = a;
		}
		pos += 4 + pad4(al);
	}
	*used = end;
	return 0;
}

const struct cf_stun_attr *cf_stun_attr_get(const struct cf_stun_msg *m,
                                            uint16_t type)
{
	for (size_t i = 0; m && i < m->attrc; i++) {
		if (m->attrv[i].type == type)
			return &m->attrv[i];
	}
	return NULL;
}

uint16_t cf_stun_attr_unknown(const struct cf_stun_msg *m,
                              const uint16_t *known, size_t n)
{
	for (size_t i = 0; m && i < m->attrc; i++) {
		uint16_t t = m->attrv[i].type;
		bool ok = !cf_stun_attr_required(t);

		for (size_t k = 0; !ok && k < n; k++)
			ok = known[k] == t;
		if (!ok)
			return t;
	}
	return 0;
}

/* §14.1 / §14.2: reserved byte, family (1 IPv4, 2 IPv6), port, address;
 * the XOR variant XORs the port with the cookie's top 16 bits and the
 * address with the cookie (IPv4) or cookie + transaction ID (IPv6). */
int cf_stun_addr_decode(const struct cf_stun_msg *m,
                        const struct cf_stun_attr *a, struct cf_sa *sa)
{
	bool x;
	uint16_t port;
	uint8_t addr[16], key[16];

	if (!m || !a || !sa)
		return EINVAL;
	x = a->type == CF_STUN_A_XOR_MAPPED_ADDRESS;
	wr32(key, CF_STUN_MAGIC);
	memcpy(key + 4, m->tid, CF_STUN_TID_LEN);
	if (a->len < 4)
		return EBADMSG;
	port = rd16(a->val + 2);
	if (x)
		port ^= (uint16_t)(CF_STUN_MAGIC >> 16);
	memset(sa, 0, sizeof(*sa));
	if (a->val[1] == 1 && a->len == 8) {
		memcpy(addr, a->val + 4, 4);
		for (int i = 0; x && i < 4; i++)
			addr[i] ^= key[i];
		sa->u.in.sin_family = AF_INET;
		memcpy(&sa->u.in.sin_addr, addr, 4);
		sa->u.in.sin_port = htons(port);
		sa->len = sizeof(sa->u.in);
		return 0;
	}
	if (a->val[1] == 2 && a->len == 20) {
		memcpy(addr, a->val + 4, 16);
		for (int i = 0; x && i < 16; i++)
			addr[i] ^= key[i];
		sa->u.in6.sin6_family = AF_INET6;
		memcpy(&sa->u.in6.sin6_addr, addr, 16);
		sa->u.in6.sin6_port = htons(port);
		sa->len = sizeof(sa->u.in6);
		return 0;
	}
	return EBADMSG;
}

/* §14.8: 21 zero bits, class (3..6) in 3 bits, number (0..99), reason. */
int cf_stun_error_decode(const struct cf_stun_attr *a, uint16_t *code,
                         struct cf_pl *reason)
{
	unsigned cls, num;

	if (!a || !code || !reason)
		return EINVAL;
	if (a->len < 4 || a->len > 4 + CF_STUN_REASON_MAX)
		return EBADMSG;
	cls = a->val[2] & 7;
	num = a->val[3];
	if (cls < 3 || cls > 6 || num > 99)
		return EBADMSG;
	*code = (uint16_t)(cls * 100 + num);
	reason->p = (const char *)a->val + 4;
	reason->l = a->len - 4u;
	return 0;
}

/*
 * HMAC-SHA1 (§14.5) of the first off bytes of a message, its length field
 * taken as off + 24 - 20 (as if MESSAGE-INTEGRITY were the last
 * attribute). One copy of the 20-byte header, the input is not touched.
 * Cost: the MAC is fetched per call (about a microsecond; a TURN server
 * answering many requests should keep one fetched, like digest.c).
 */
static int integrity(const uint8_t *msg, size_t off, const uint8_t *key,
                     size_t keylen, uint8_t out[CF_STUN_MI_LEN])
{
	uint8_t hdr[CF_STUN_HDR_LEN];
	EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	EVP_MAC_CTX *c = mac ? EVP_MAC_CTX_new(mac) : NULL;
	OSSL_PARAM params[2];
	size_t outl = 0;
	int ok;

	memcpy(hdr, msg, CF_STUN_HDR_LEN);
	wr16(hdr + 2, (uint16_t)(off + 4 + CF_STUN_MI_LEN - CF_STUN_HDR_LEN));
	params[0] = OSSL_PARAM_construct_utf8_string("digest", "SHA1", 0);
	params[1] = OSSL_PARAM_construct_end();
	ok = c && EVP_MAC_init(c, key, keylen, params) == 1 &&
	     EVP_MAC_update(c, hdr, sizeof(hdr)) == 1 &&
	     EVP_MAC_update(c, msg + CF_STUN_HDR_LEN, off - CF_STUN_HDR_LEN) ==
	         1 &&
	     EVP_MAC_final(c, out, &outl, CF_STUN_MI_LEN) == 1 &&
	     outl == CF_STUN_MI_LEN;
	EVP_MAC_CTX_free(c);
	EVP_MAC_free(mac);
	return ok ? 0 : ENOMEM;
}

int cf_stun_integrity_check(const struct cf_stun_msg *m, const uint8_t *key,
                            size_t keylen)
{
	uint8_t mac[CF_STUN_MI_LEN];
	int err;

	if (!m || (!key && keylen))
		return EINVAL;
	if (!m->integrity)
		return ENOENT;
	err = integrity(m->raw, m->integrity->off, key, keylen, mac);
	if (err)
		return err;
	return memcmp(mac, m->integrity->val, CF_STUN_MI_LEN) ? EBADMSG : 0;
}

/* ------------------------------------------------------------- encode */

int cf_stun_enc_start(struct cf_stun_enc *e, uint8_t *buf, size_t size,
                      uint16_t method, enum cf_stun_class cls,
                      const uint8_t tid[CF_STUN_TID_LEN])
{
	uint16_t type;

	if (!e || !buf || !tid || method > 0xFFF)
		return EINVAL;
	e->buf = buf;
	e->size = size < CF_STUN_MSG_MAX ? size : CF_STUN_MSG_MAX;
	e->len = 0;
	if (e->size < CF_STUN_HDR_LEN)
		return ENOMEM;
	type = (uint16_t)((method & 0x000F) | ((method & 0x0070) << 1) |
	                  ((method & 0x0F80) << 2) | ((cls & 1) << 4) |
	                  ((cls & 2) << 7));
	wr16(buf, type);
	wr16(buf + 2, 0);
	wr32(buf + 4, CF_STUN_MAGIC);
	memcpy(buf + 8, tid, CF_STUN_TID_LEN);
	e->len = CF_STUN_HDR_LEN;
	return 0;
}

int cf_stun_enc_attr(struct cf_stun_enc *e, uint16_t type, const void *val,
                     size_t len)
{
	size_t need;

	if (!e || !e->buf || (!val && len) || len > 0xFFFF)
		return EINVAL;
	need = 4 + pad4(len);
	if (e->size - e->len < need)
		return ENOMEM;
	wr16(e->buf + e->len, type);
	wr16(e->buf + e->len + 2, (uint16_t)len);
	if (len)
		memcpy(e->buf + e->len + 4, val, len);
	memset(e->buf + e->len + 4 + len, 0, pad4(len) - len);
	e->len += need;
	wr16(e->buf + 2, (uint16_t)(e->len - CF_STUN_HDR_LEN));
	return 0;
}

int cf_stun_enc_addr(struct cf_stun_enc *e, uint16_t type,
                     const struct cf_sa *sa)
{
	bool x = type == CF_STUN_A_XOR_MAPPED_ADDRESS;
	uint8_t v[20], key[16];
	uint16_t port;
	size_t alen;

	if (!e || !e->buf || !sa)
		return EINVAL;
	wr32(key, CF_STUN_MAGIC);
	memcpy(key + 4, e->buf + 8, CF_STUN_TID_LEN);
	port = cf_sa_port(sa);
	if (x)
		port ^= (uint16_t)(CF_STUN_MAGIC >> 16);
	v[0] = 0;
	wr16(v + 2, port);
	if (cf_sa_af(sa) == AF_INET) {
		v[1] = 1;
		memcpy(v + 4, &sa->u.in.sin_addr, 4);
		alen = 4;
	} else if (cf_sa_af(sa) == AF_INET6) {
		v[1] = 2;
		memcpy(v + 4, &sa->u.in6.sin6_addr, 16);
		alen = 16;
	} else {
		return EINVAL;
	}
	for (size_t i = 0; x && i < alen; i++)
		v[4 + i] ^= key[i];
	return cf_stun_enc_attr(e, type, v, 4 + alen);
}

int cf_stun_enc_error(struct cf_stun_enc *e, uint16_t code, const char *reason)
{
	uint8_t v[4 + CF_STUN_REASON_MAX];
	size_t rl = reason ? strlen(reason) : 0;

	if (code < 300 || code > 699)
		return EINVAL;
	if (rl > CF_STUN_REASON_MAX)
		rl = CF_STUN_REASON_MAX;
	v[0] = v[1] = 0;
	v[2] = (uint8_t)(code / 100);
	v[3] = (uint8_t)(code % 100);
	if (rl)
		memcpy(v + 4, reason, rl);
	return cf_stun_enc_attr(e, CF_STUN_A_ERROR_CODE, v, 4 + rl);
}

int cf_stun_enc_integrity(struct cf_stun_enc *e, const uint8_t *key,
                          size_t keylen)
{
	uint8_t mac[CF_STUN_MI_LEN];
	size_t off;
	int err;

	if (!e || !e->buf || (!key && keylen))
		return EINVAL;
	if (e->size - e->len < 4 + CF_STUN_MI_LEN)
		return ENOMEM;
	off = e->len;
	err = integrity(e->buf, off, key, keylen, mac);
	if (!err)
		err = cf_stun_enc_attr(e, CF_STUN_A_MESSAGE_INTEGRITY, mac,
		                       sizeof(mac));
	return err;
}

int cf_stun_enc_fingerprint(struct cf_stun_enc *e)
{
	uint8_t v[4];

	if (!e || !e->buf)
		return EINVAL;
	if (e->size - e->len < 4 + CF_STUN_FP_LEN)
		return ENOMEM;
	/* the length field must already count the FINGERPRINT (§14.7) */
	wr16(e->buf + 2, (uint16_t)(e->len + 8 - CF_STUN_HDR_LEN));
	wr32(v, cf_stun_crc32(e->buf, e->len) ^ CF_STUN_FP_XOR);
	return cf_stun_enc_attr(e, CF_STUN_A_FINGERPRINT, v, sizeof(v));
}

int cf_stun_binding_success(uint8_t *buf, size_t size, size_t *len,
                            const struct cf_stun_msg *req,
                            const struct cf_sa *src, const char *software)
{
	struct cf_stun_enc e;
	int err;

	if (!len || !req || !src || req->method != CF_STUN_BINDING ||
	    req->cls != CF_STUN_REQUEST)
		return EINVAL;
	err = cf_stun_enc_start(&e, buf, size, CF_STUN_BINDING, CF_STUN_SUCCESS,
	                        req->tid);
	if (!err)
		err = cf_stun_enc_addr(&e, CF_STUN_A_XOR_MAPPED_ADDRESS, src);
	if (!err && software)
		err = cf_stun_enc_attr(&e, CF_STUN_A_SOFTWARE, software,
		                       strlen(software));
	if (!err)
		err = cf_stun_enc_fingerprint(&e);
	*len = err ? 0 : e.len;
	return err;
}
