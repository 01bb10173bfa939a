/* SPDX-License-Identifier: BSD-3-Clause */
/* fuzz_digest_chal.c - libFuzzer target: the client side of Digest
 * (digest_client.c). A challenge that decodes is answered; when its
 * values are plain printable text, the answer must decode as credentials
 * (the server's parser) and verify with the same password. */
#include "fuzz_util.h"
#include "proto/sip/digest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool plain(const struct cf_pl *pl, size_t max)
{
	if (pl->l > max)
		return false;
	for (size_t i = 0; i < pl->l; i++) {
		if (pl->p[i] < 0x20 || pl->p[i] > 0x7e || pl->p[i] == '\\' ||
		    pl->p[i] == '"')
			return false;
	}
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cf_pl pl = {(const char *)data, size};
	struct cf_digest_client cl = {"acct",   "s3cret",
	                              "INVITE", "sip:0049301234@192.0.2.1",
	                              "c0ffee", 1};
	struct cf_digest_chal_rx ch;
	struct cf_digest_cred cred;
	struct cf_mbuf *mb = NULL;
	char ha1[CF_DIGEST_HEX_SIZE];
	struct cf_pl user, pass, method, out;
	int err;

	if (cf_digest_chal_decode(&ch, &pl))
		return 0;
	fz_check(ch.realm.p && ch.nonce.p);
	if (cf_mbuf_alloc(&mb, 256))
		return 0;
	err = cf_digest_client_encode(mb, &ch, &cl);
	fz_check(err == 0 || err == EPROTO || err == EBADMSG || err == ENOMEM);
	if (!err && plain(&ch.realm, 200) && plain(&ch.nonce, 200) &&
	    (!ch.opaque.p || plain(&ch.opaque, 200))) {
		out = cf_mbuf_pl(mb);
		fz_check(cf_digest_cred_decode(&cred, &out) == 0);
		cf_pl_set_str(&user, cl.user);
		cf_pl_set_str(&pass, cl.password);
		cf_pl_set_str(&method, cl.method);
		fz_check(cf_digest_ha1(ch.alg, &user, &ch.realm, &pass, ha1) ==
		         0);
		fz_check(cf_digest_cred_verify(&cred, &method, ha1));
	}
	cf_mem_deref(mb);
	return 0;
}
