/* SPDX-License-Identifier: BSD-3-Clause */
/* gruu.c - temporary GRUUs (RFC 5627 §3.2): an opaque user part that only
 * we can map back to (AOR, instance): AES-256-GCM over "aor\ninstance"
 * with a random nonce, base64url-encoded. */
#include <errno.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "mod/registrar/reg_priv.h"

enum {
	IV_LEN = 12,
	TAG_LEN = 16,
	BLOB_MAX = 768,
};

#define TG_PREFIX "tgr-"

static const char b64u[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static size_t b64u_encode(char *out, const uint8_t *in, size_t n)
{
	size_t o = 0;
	uint32_t v;

	for (size_t i = 0; i < n; i += 3) {
		v = (uint32_t)in[i] << 16;
		if (i + 1 < n)
			v |= (uint32_t)in[i + 1] << 8;
		if (i + 2 < n)
			v |= in[i + 2];
		out[o++] = b64u[(v >> 18) & 63];
		out[o++] = b64u[(v >> 12) & 63];
		if (i + 1 < n)
			out[o++] = b64u[(v >> 6) & 63];
		if (i + 2 < n)
			out[o++] = b64u[v & 63];
	}
	return o;
}

static int b64u_val(char c)
{
	const char *p = c ? strchr(b64u, c) : NULL;

	return p ? (int)(p - b64u) : -1;
}

/* Returns the decoded length, or 0 on a bad character/length. */
static size_t b64u_decode(uint8_t *out, size_t size, const char *in, size_t n)
{
	size_t o = 0;
	uint32_t v = 0;
	int bits = 0;

	if (n % 4 == 1)
		return 0;
	for (size_t i = 0; i < n; i++) {
		int x = b64u_val(in[i]);

		if (x < 0)
			return 0;
		v = (v << 6) | (uint32_t)x;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (o >= size)
				return 0;
			out[o++] = (uint8_t)(v >> bits);
		}
	}
	return o;
}

int reg_gruu_temp(struct reg *r, char *buf, size_t size, const char *aor,
                  const struct cf_pl *instance)
{
	uint8_t pt[BLOB_MAX], blob[BLOB_MAX + IV_LEN + TAG_LEN];
	size_t al = strlen(aor), n;
	EVP_CIPHER_CTX *ctx;
	int len, err = ENOMEM;

	if (!instance || al + 1 + instance->l > BLOB_MAX)
		return EINVAL;
	n = al + 1 + instance->l;
	if (size < sizeof(TG_PREFIX) + ((n + IV_LEN + TAG_LEN + 2) / 3) * 4)
		return EINVAL;
	memcpy(pt, aor, al);
	pt[al] = '\n';
	memcpy(pt + al + 1, instance->p, instance->l);
	if (RAND_bytes(blob, IV_LEN) != 1)
		return ENOMEM;
	ctx = EVP_CIPHER_CTX_new();
	if (!ctx)
		return ENOMEM;
	if (EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, r->gruu_key,
	                       blob) != 1 ||
	    EVP_EncryptUpdate(ctx, blob + IV_LEN, &len, pt, (int)n) != 1 ||
	    EVP_EncryptFinal_ex(ctx, blob + IV_LEN + len, &len) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, TAG_LEN,
	                        blob + IV_LEN + n) != 1)
		goto out;
	memcpy(buf, TG_PREFIX, sizeof(TG_PREFIX) - 1);
	n = b64u_encode(buf + sizeof(TG_PREFIX) - 1, blob,
	                IV_LEN + n + TAG_LEN);
	buf[sizeof(TG_PREFIX) - 1 + n] = '\0';
	err = 0;
out:
	EVP_CIPHER_CTX_free(ctx);
	return err;
}

int reg_gruu_temp_decode(struct reg *r, const struct cf_pl *user, char *aor,
                         size_t aor_size, char *inst, size_t inst_size)
{
	uint8_t blob[BLOB_MAX + IV_LEN + TAG_LEN], pt[BLOB_MAX];
	const size_t pl = sizeof(TG_PREFIX) - 1;
	EVP_CIPHER_CTX *ctx;
	const uint8_t *nl;
	size_t n, ct;
	int len, err = ENOENT;

	if (!user || user->l <= pl || strncmp(user->p, TG_PREFIX, pl))
		return ENOENT;
	n = b64u_decode(blob, sizeof(blob), user->p + pl, user->l - pl);
	if (n <= IV_LEN + TAG_LEN)
		return ENOENT;
	ct = n - IV_LEN - TAG_LEN;
	ctx = EVP_CIPHER_CTX_new();
	if (!ctx)
		return ENOMEM;
	if (EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, r->gruu_key,
	                       blob) != 1 ||
	    EVP_DecryptUpdate(ctx, pt, &len, blob + IV_LEN, (int)ct) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, TAG_LEN,
	                        blob + IV_LEN + ct) != 1 ||
	    EVP_DecryptFinal_ex(ctx, pt + len, &len) != 1)
		goto out; /* tampered with, or another key */
	nl = memchr(pt, '\n', ct);
	if (!nl || (size_t)(nl - pt) + 1 > aor_size ||
	    ct - (size_t)(nl - pt) > inst_size)
		goto out;
	memcpy(aor, pt, (size_t)(nl - pt));
	aor[nl - pt] = '\0';
	memcpy(inst, nl + 1, ct - (size_t)(nl - pt) - 1);
	inst[ct - (size_t)(nl - pt) - 1] = '\0';
	err = 0;
out:
	EVP_CIPHER_CTX_free(ctx);
	return err;
}
