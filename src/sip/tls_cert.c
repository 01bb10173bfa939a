/* SPDX-License-Identifier: BSD-3-Clause */
/* tls_cert.c - the self-signed certificate of the embedded defaults, made
 * at first start so that TLS works with zero setup. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "sip/sip.h"

enum { VALID_DAYS = 3650 };

static int ext_add(X509 *x, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *ext;
	int ok;

	X509V3_set_ctx_nodb(&ctx);
	X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	if (!ext)
		return EPROTO;
	ok = X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	return ok ? 0 : EPROTO;
}

/* A P-256 key and an X.509 v3 certificate for domain, signed by itself. */
static int make(EVP_PKEY **pkeyp, X509 **xp, const char *domain)
{
	EVP_PKEY *pkey = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	X509_NAME *name;
	unsigned char serial[16];
	BIGNUM *bn = NULL;
	char san[320];
	int err = EPROTO;

	if (!pkey || !x)
		goto out;
	if (RAND_bytes(serial, sizeof(serial)) != 1)
		goto out;
	serial[0] &= 0x7f; /* positive */
	bn = BN_bin2bn(serial, sizeof(serial), NULL);
	if (!bn || !BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)))
		goto out;
	if (!X509_set_version(x, 2) ||
	    !X509_gmtime_adj(X509_getm_notBefore(x), -3600) ||
	    !X509_time_adj_ex(X509_getm_notAfter(x), VALID_DAYS, 0, NULL) ||
	    !X509_set_pubkey(x, pkey))
		goto out;
	name = X509_get_subject_name(x);
	if (!X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8,
	                                (const unsigned char *)"confab", -1, -1,
	                                0) ||
	    !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
	                                (const unsigned char *)domain, -1, -1,
	                                0) ||
	    !X509_set_issuer_name(x, name))
		goto out;
	snprintf(san, sizeof(san), "DNS:%s,IP:127.0.0.1,IP:::1", domain);
	if (ext_add(x, NID_subject_alt_name, san) ||
	    ext_add(x, NID_basic_constraints, "critical,CA:FALSE") ||
	    ext_add(x, NID_key_usage, "critical,digitalSignature") ||
	    ext_add(x, NID_ext_key_usage, "serverAuth,clientAuth") ||
	    ext_add(x, NID_subject_key_identifier, "hash"))
		goto out;
	if (!X509_sign(x, pkey, EVP_sha256()))
		goto out;
	*pkeyp = pkey;
	*xp = x;
	pkey = NULL;
	x = NULL;
	err = 0;
out:
	BN_free(bn);
	EVP_PKEY_free(pkey);
	X509_free(x);
	return err;
}

/* Write a PEM file through a temporary name, mode 0600 (the key) or 0644,
 * renamed into place: a crash never leaves half a file. */
static int pem_write(const char *path, EVP_PKEY *pkey, X509 *x)
{
	char tmp[4096 + 8];
	FILE *f;
	int fd, ok, err = 0;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp))
		return EINVAL;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	          pkey ? 0600 : 0644);
	if (fd < 0)
		return errno;
	f = fdopen(fd, "w");
	if (!f) {
		err = errno;
		close(fd);
		goto out;
	}
	ok = pkey ? PEM_write_PrivateKey(f, pkey, NULL, NULL, 0, NULL, NULL)
	          : PEM_write_X509(f, x);
	if (fclose(f) || !ok) {
		err = ok ? errno : EPROTO;
		goto out;
	}
	if (rename(tmp, path))
		err = errno;
out:
	if (err)
		unlink(tmp);
	return err;
}

int cf_sip_tls_selfsigned(const char *dir, const char *domain, char *cert,
                          size_t certsize, char *key, size_t keysize,
                          bool *made)
{
	EVP_PKEY *pkey = NULL;
	X509 *x = NULL;
	int err;

	if (!dir || !domain || !*domain || !cert || !key)
		return EINVAL;
	if (made)
		*made = false;
	if ((size_t)snprintf(cert, certsize, "%s/%s.crt", dir, domain) >=
	        certsize ||
	    (size_t)snprintf(key, keysize, "%s/%s.key", dir, domain) >= keysize)
		return EINVAL;
	if (!access(cert, R_OK) && !access(key, R_OK))
		return 0;
	if (mkdir(dir, 0700) && errno != EEXIST)
		return errno;
	err = make(&pkey, &x, domain);
	if (err)
		goto out;
	/* the key first: a certificate without its key is never left */
	err = pem_write(key, pkey, NULL);
	if (!err)
		err = pem_write(cert, NULL, x);
	if (!err && made)
		*made = true;
out:
	EVP_PKEY_free(pkey);
	X509_free(x);
	return err;
}
