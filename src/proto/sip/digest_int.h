/* SPDX-License-Identifier: BSD-3-Clause */
/* digest_int.h - private to the Digest code: the auth-param list walker
 * (RFC 7235 §2.1, RFC 3261 §25.1) that both decoders use, the server's
 * credentials (digest.c) and the client's challenges (digest_client.c). */
#ifndef CF_PROTO_SIP_DIGEST_INT_H
#define CF_PROTO_SIP_DIGEST_INT_H

#include "proto/sip/digest.h"

/* LWS as the Digest decoders read it: SP, HTAB, CR, LF. */
static inline bool cf_authp_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* One auth-param: its name and its value, a token or the body of a
 * quoted-string (between the quotes, quoted-pairs kept as sent). A
 * non-zero return stops the walk and is what cf_authp_decode returns. */
typedef int(cf_authp_h)(const struct cf_pl *name, const struct cf_pl *val,
                        void *arg);

/* How strictly a list is read. */
enum cf_authp_mode {
	/* credentials a client sends us: no empty list elements (a trailing
	 * comma), no control characters but LWS in a quoted-string and no
	 * escaped CR or LF */
	CF_AUTHP_STRICT,
	/* challenges a server sends us: an empty list and a trailing comma
	 * pass, and so do any character and any quoted-pair in a
	 * quoted-string */
	CF_AUTHP_LAX,
};

/* Walk `scheme 1*LWS name=(token|quoted-string) *(, name=...)`: the
 * scheme must equal `scheme` (case-insensitive), then h is called for each
 * parameter in order. EBADMSG on a grammar error; h's error when it stops
 * the walk; 0 when the list is done. */
int cf_authp_decode(const struct cf_pl *pl, const char *scheme,
                    enum cf_authp_mode mode, cf_authp_h *h, void *arg);

#endif
