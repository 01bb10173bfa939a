/* SPDX-License-Identifier: BSD-3-Clause */
/* tls.c - the TLS transport (OpenSSL 3): contexts built from the [tls]
 * settings and swapped on reload, SNI, and the TLS side of a stream
 * connection (non-blocking handshake, read and write). Framing, limits,
 * keep-alive and idle timeouts are TCP's (tcp.c, conn.c). */
#include <errno.h>
#include <limits.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <arpa/inet.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "sip/stack_priv.h"

enum { HANDSHAKE_MS_DEFAULT = 10000 };

/* Mozilla's "intermediate" TLS 1.2 list: forward secrecy and AEAD only.
 * TLS 1.3 suites are OpenSSL's defaults (all modern). */
static const char default_ciphers[] =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

struct sni {
	char *domain;
	SSL_CTX *ctx;
};

/* The contexts of one configuration: refcounted (cf_mem); the stack holds
 * one reference for new connections, each connection one for its life
 * (the SNI callback reads the domain table during the handshake). */
struct tls_ctx {
	SSL_CTX *srv; /* NULL: no certificate, no TLS server */
	SSL_CTX *cli;
	struct sni *dv;
	size_t nd;
	uint32_t handshake_ms;
	bool verify_server;
};

void cf_sip_tls_cfg_default(struct cf_sip_tls_cfg *cfg)
{
	if (!cfg)
		return;
	memset(cfg, 0, sizeof(*cfg));
	cfg->verify_client = CF_SIP_TLS_VERIFY_NO;
	cfg->verify_server = true;
	cfg->min_version = TLS1_2_VERSION;
	cfg->ciphers = default_ciphers;
	cfg->handshake_ms = HANDSHAKE_MS_DEFAULT;
}

/* OpenSSL's last reason, for the one log line a failure gets. */
static const char *ossl_reason(char *buf, size_t size)
{
	unsigned long e = ERR_peek_last_error();

	if (!e)
		return "no OpenSSL reason";
	ERR_error_string_n(e, buf, size);
	return buf;
}

static void ctx_destructor(void *data)
{
	struct tls_ctx *t = data;

	SSL_CTX_free(t->srv);
	SSL_CTX_free(t->cli);
	for (size_t i = 0; i < t->nd; i++) {
		SSL_CTX_free(t->dv[i].ctx);
		cf_mem_deref(t->dv[i].domain);
	}
	cf_mem_deref(t->dv);
}

/* What every context shares: TLS 1.2 minimum (RFC 8996 retires 1.0 and
 * 1.1), the cipher list, no renegotiation or compression, partial writes
 * from a moving buffer (conn.c retries from its queue), and buffers
 * released while idle (memory per idle connection). */
static int ctx_common(SSL_CTX *c, const struct cf_sip_tls_cfg *cfg)
{
	int minv = cfg->min_version ? cfg->min_version : TLS1_2_VERSION;

	if (minv < TLS1_2_VERSION)
		minv = TLS1_2_VERSION;
	if (!SSL_CTX_set_min_proto_version(c, minv))
		return EINVAL;
	if (!SSL_CTX_set_cipher_list(c, cfg->ciphers ? cfg->ciphers
	                                             : default_ciphers))
		return EINVAL;
	SSL_CTX_set_options(c, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION |
	                           SSL_OP_CIPHER_SERVER_PREFERENCE);
	SSL_CTX_set_mode(c, SSL_MODE_ENABLE_PARTIAL_WRITE |
	                        SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
	                        SSL_MODE_RELEASE_BUFFERS);
	return 0;
}

/* Certificate chain and key, checked to match; logs which file failed. */
static int ctx_cert(SSL_CTX *c, const char *cert, const char *key)
{
	char why[256];

	if (access(cert, R_OK) || access(key, R_OK)) {
		cf_log(CF_LOG_ERR, NULL, "tls: %s: %s",
		       access(cert, R_OK) ? cert : key, strerror(errno));
		return EINVAL;
	}
	if (SSL_CTX_use_certificate_chain_file(c, cert) != 1) {
		cf_log(CF_LOG_ERR, NULL, "tls: certificate %s: %s", cert,
		       ossl_reason(why, sizeof(why)));
		return EINVAL;
	}
	if (SSL_CTX_use_PrivateKey_file(c, key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(c) != 1) {
		cf_log(CF_LOG_ERR, NULL, "tls: private key %s: %s", key,
		       ossl_reason(why, sizeof(why)));
		return EINVAL;
	}
	return 0;
}

/* RFC 6066 §3: the name the client asked for picks the domain's
 * certificate; an unknown or absent name keeps the default one. */
static int sni_h(SSL *ssl, int *alert, void *arg)
{
	struct tls_ctx *t = arg;
	const char *name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);

	(void)alert;
	if (!name)
		return SSL_TLSEXT_ERR_OK;
	for (size_t i = 0; i < t->nd; i++) {
		if (!strcasecmp(name, t->dv[i].domain)) {
			SSL_set_SSL_CTX(ssl, t->dv[i].ctx);
			break;
		}
	}
	return SSL_TLSEXT_ERR_OK;
}

static SSL_CTX *srv_new(const struct cf_sip_tls_cfg *cfg, const char *cert,
                        const char *key)
{
	static const unsigned char sid[] = "confab";
	SSL_CTX *c = SSL_CTX_new(TLS_server_method());
	char why[256];
	int mode = SSL_VERIFY_NONE;

	if (!c)
		return NULL;
	if (ctx_common(c, cfg) || ctx_cert(c, cert, key))
		goto fail;
	SSL_CTX_set_session_id_context(c, sid, sizeof(sid) - 1);
	if (cfg->verify_client != CF_SIP_TLS_VERIFY_NO) {
		mode = SSL_VERIFY_PEER;
		if (cfg->verify_client == CF_SIP_TLS_VERIFY_REQUIRE)
			mode |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
		if (cfg->ca_file) {
			STACK_OF(X509_NAME) * names;

			if (SSL_CTX_load_verify_locations(c, cfg->ca_file,
			                                  NULL) != 1) {
				cf_log(CF_LOG_ERR, NULL, "tls: ca_file %s: %s",
				       cfg->ca_file,
				       ossl_reason(why, sizeof(why)));
				goto fail;
			}
			names = SSL_load_client_CA_file(cfg->ca_file);
			if (names)
				SSL_CTX_set_client_CA_list(c, names);
		}
	}
	SSL_CTX_set_verify(c, mode, NULL);
	return c;
fail:
	SSL_CTX_free(c);
	return NULL;
}

static SSL_CTX *cli_new(const struct cf_sip_tls_cfg *cfg)
{
	SSL_CTX *c = SSL_CTX_new(TLS_client_method());
	char why[256];

	if (!c)
		return NULL;
	if (ctx_common(c, cfg))
		goto fail;
	/* our certificate doubles as the client's (peer nodes, trunks that
	 * verify us) */
	if (cfg->certificate && cfg->private_key &&
	    ctx_cert(c, cfg->certificate, cfg->private_key))
		goto fail;
	if (cfg->verify_server) {
		if (cfg->ca_file) {
			if (SSL_CTX_load_verify_locations(c, cfg->ca_file,
			                                  NULL) != 1) {
				cf_log(CF_LOG_ERR, NULL, "tls: ca_file %s: %s",
				       cfg->ca_file,
				       ossl_reason(why, sizeof(why)));
				goto fail;
			}
		} else {
			(void)SSL_CTX_set_default_verify_paths(c);
		}
		SSL_CTX_set_verify(c, SSL_VERIFY_PEER, NULL);
	}
	return c;
fail:
	SSL_CTX_free(c);
	return NULL;
}

static int ctx_build(struct tls_ctx **tp, const struct cf_sip_tls_cfg *cfg)
{
	struct tls_ctx *t = cf_mem_zalloc(sizeof(*t), ctx_destructor);
	int err = 0;

	if (!t)
		return ENOMEM;
	t->handshake_ms =
	    cfg->handshake_ms ? cfg->handshake_ms : HANDSHAKE_MS_DEFAULT;
	t->verify_server = cfg->verify_server;
	if ((!cfg->certificate) != (!cfg->private_key)) {
		cf_log(CF_LOG_ERR, NULL,
		       "tls: certificate and private_key go together");
		err = EINVAL;
		goto out;
	}
	t->cli = cli_new(cfg);
	if (!t->cli) {
		err = EINVAL;
		goto out;
	}
	if (cfg->certificate) {
		t->srv = srv_new(cfg, cfg->certificate, cfg->private_key);
		if (!t->srv) {
			err = EINVAL;
			goto out;
		}
	}
	if (cfg->ndomains) {
		t->dv = cf_mem_zalloc(cfg->ndomains * sizeof(*t->dv), NULL);
		if (!t->dv) {
			err = ENOMEM;
			goto out;
		}
	}
	for (size_t i = 0; i < cfg->ndomains; i++) {
		const struct cf_sip_tls_domain *d = &cfg->domains[i];

		t->dv[i].domain = cf_mem_strdup(d->domain);
		t->dv[i].ctx = srv_new(cfg, d->certificate, d->private_key);
		t->nd++;
		if (!t->dv[i].domain || !t->dv[i].ctx) {
			err = t->dv[i].domain ? EINVAL : ENOMEM;
			goto out;
		}
	}
	if (t->srv) {
		SSL_CTX_set_tlsext_servername_callback(t->srv, sni_h);
		SSL_CTX_set_tlsext_servername_arg(t->srv, t);
	}
out:
	if (err)
		t = cf_mem_deref(t);
	*tp = t;
	return err;
}

int cf_sip_tls_set(struct cf_sip *sip, const struct cf_sip_tls_cfg *cfg)
{
	struct tls_ctx *t, *old;
	int err;

	if (!sip || !cfg)
		return EINVAL;
	ERR_clear_error();
	err = ctx_build(&t, cfg);
	ERR_clear_error();
	if (err)
		return err;
	pthread_mutex_lock(&sip->tls_mtx);
	old = sip->tls;
	sip->tls = t;
	pthread_mutex_unlock(&sip->tls_mtx);
	cf_mem_deref(old);
	return 0;
}

/* At the stack's destruction. */
void tls_ctx_release(struct cf_sip *sip)
{
	sip->tls = cf_mem_deref(sip->tls);
}

bool tls_server_ready(struct cf_sip *sip)
{
	bool ok;

	pthread_mutex_lock(&sip->tls_mtx);
	ok = sip->tls && sip->tls->srv;
	pthread_mutex_unlock(&sip->tls_mtx);
	return ok;
}

/* --------------------------------------------------------- connections */

/*
 * Give a new stream its TLS session from the current contexts (owner
 * thread, right after conn_alloc): server side for an accepted connection,
 * client side for one we open (host: SNI and the name verified, or NULL:
 * the address is verified). Arms the handshake timeout. Errors: ENOENT (no
 * context for that side), ENOMEM; the caller closes the connection.
 */
int tls_conn_setup(struct cf_sip_conn *conn, const char *host)
{
	struct cf_sip *sip = conn->sip;
	struct tls_ctx *t;
	SSL_CTX *c;
	SSL *ssl;
	struct in6_addr a6;
	char ip[INET6_ADDRSTRLEN];

	pthread_mutex_lock(&sip->tls_mtx);
	t = sip->tls ? cf_mem_ref(sip->tls) : NULL;
	pthread_mutex_unlock(&sip->tls_mtx);
	if (!t)
		return ENOENT;
	c = conn->accepted ? t->srv : t->cli;
	ssl = c ? SSL_new(c) : NULL;
	if (!ssl || !SSL_set_fd(ssl, conn->fd)) {
		SSL_free(ssl);
		cf_mem_deref(t);
		return c ? ENOMEM : ENOENT;
	}
	if (conn->accepted) {
		SSL_set_accept_state(ssl);
	} else {
		SSL_set_connect_state(ssl);
		/* RFC 6066 §3: no IP literals in SNI */
		if (host && *host && inet_pton(AF_INET, host, &a6) != 1 &&
		    inet_pton(AF_INET6, host, &a6) != 1) {
			(void)SSL_set_tlsext_host_name(ssl, host);
			if (t->verify_server)
				(void)SSL_set1_host(ssl, host);
		} else if (t->verify_server) {
			cf_sa_ntop(&conn->addr, ip, sizeof(ip));
			(void)X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl),
			                                    ip);
		}
	}
	conn->ssl = ssl;
	conn->tctx = t;
	conn_idle_arm(conn);
	return 0;
}

uint32_t tls_handshake_ms(const struct cf_sip_conn *conn)
{
	return conn->tctx ? conn->tctx->handshake_ms : HANDSHAKE_MS_DEFAULT;
}

/* Owner thread, from conn_close (or the stop's release after the join):
 * a close_notify when the session is up (best effort: never waits), then
 * the session and the contexts' reference go. */
void tls_conn_free(struct cf_sip_conn *conn)
{
	if (conn->ssl) {
		/* OpenSSL writes with write(2), not send(MSG_NOSIGNAL): only
		 * on a worker, whose thread blocks every signal, may a peer
		 * that has gone raise SIGPIPE harmlessly; at the stop's
		 * release (the caller's thread) no close_notify is sent */
		if (conn->hs_done && conn->fd >= 0 &&
		    worker_current(conn->sip) == conn->owner) {
			ERR_clear_error();
			(void)SSL_shutdown(conn->ssl);
		}
		SSL_free(conn->ssl);
		ERR_clear_error();
	}
	conn->ssl = NULL;
	conn->tctx = cf_mem_deref(conn->tctx);
}

/* A failed handshake: counted and logged once with the peer's address,
 * that connection closed. */
void tls_fail(struct worker *w, struct cf_sip_conn *conn, const char *why)
{
	char abuf[64];

	ctr_add(&w->st.tls_handshake_failures, 1);
	cf_log(CF_LOG_NOTICE, NULL, "tls: handshake %s %s failed: %s",
	       conn->accepted ? "from" : "to",
	       cf_sa_print(&conn->addr, abuf, sizeof(abuf)), why);
	conn_close(conn, NULL);
}

/*
 * One step of the handshake (owner thread, on any event of the socket).
 * 0: done (counted; the idle timeout replaces the handshake timeout);
 * EAGAIN: waiting for the socket (rd_want_write says which way); EPROTO:
 * failed, the connection is closed.
 */
int tls_handshake(struct worker *w, struct cf_sip_conn *conn)
{
	char why[256];
	int r, e;

	ERR_clear_error();
	r = SSL_do_handshake(conn->ssl);
	if (r == 1) {
		conn->hs_done = true;
		conn->rd_want_write = false;
		ctr_add(&w->st.tls_handshakes, 1);
		conn_idle_arm(conn);
		return 0;
	}
	e = SSL_get_error(conn->ssl, r);
	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
		conn->rd_want_write = e == SSL_ERROR_WANT_WRITE;
		return EAGAIN;
	}
	if (e == SSL_ERROR_SYSCALL && !ERR_peek_last_error())
		snprintf(why, sizeof(why), "%s",
		         errno ? strerror(errno) : "closed by peer");
	else if (SSL_get_verify_result(conn->ssl) != X509_V_OK)
		snprintf(why, sizeof(why), "certificate: %s",
		         X509_verify_cert_error_string(
		             SSL_get_verify_result(conn->ssl)));
	else
		ossl_reason(why, sizeof(why));
	ERR_clear_error();
	tls_fail(w, conn, why);
	return EPROTO;
}

/* SSL_read as recv: bytes, 0 at the peer's close, -1 with errno EAGAIN
 * (rd_want_write says which way), EPROTO (a bad record) or the socket's
 * errno. */
ssize_t tls_read(struct cf_sip_conn *conn, uint8_t *p, size_t n)
{
	int r, e;

	ERR_clear_error();
	r = SSL_read(conn->ssl, p, n > INT_MAX ? INT_MAX : (int)n);
	if (r > 0) {
		conn->rd_want_write = false;
		return r;
	}
	e = SSL_get_error(conn->ssl, r);
	switch (e) {
	case SSL_ERROR_WANT_READ:
	case SSL_ERROR_WANT_WRITE:
		conn->rd_want_write = e == SSL_ERROR_WANT_WRITE;
		errno = EAGAIN;
		return -1;
	case SSL_ERROR_ZERO_RETURN:
		return 0;
	case SSL_ERROR_SYSCALL:
		if (!ERR_peek_last_error()) {
			if (!errno)
				return 0; /* EOF without close_notify */
			return -1;
		}
		/* fall through */
	default:
		ERR_clear_error();
		errno = EPROTO;
		return -1;
	}
}

/* SSL_write as send: bytes taken (partial writes on), or -1 with errno
 * EAGAIN (retry from the queue with the same bytes first: the moving
 * buffer mode allows the queue's address) or EPIPE. */
ssize_t tls_write(struct cf_sip_conn *conn, const uint8_t *p, size_t n)
{
	int r, e;

	ERR_clear_error();
	r = SSL_write(conn->ssl, p, n > INT_MAX ? INT_MAX : (int)n);
	if (r > 0) {
		conn->wr_want_write = false;
		return r;
	}
	e = SSL_get_error(conn->ssl, r);
	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
		conn->wr_want_write = e == SSL_ERROR_WANT_WRITE;
		errno = EAGAIN;
		return -1;
	}
	ERR_clear_error();
	errno = EPIPE;
	return -1;
}

/* Decrypted bytes (or a whole record) wait inside the session: the socket
 * will not wake us for them. */
bool tls_pending(const struct cf_sip_conn *conn)
{
	return conn->ssl &&
	       (SSL_pending(conn->ssl) > 0 || SSL_has_pending(conn->ssl));
}
