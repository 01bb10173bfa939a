/* SPDX-License-Identifier: BSD-3-Clause */
/* stun_udp.c - STUN Binding requests on the SIP UDP port: the keep-alive
 * of RFC 5626 §4.4.2 (a UA behind NAT learns its mapped address and keeps
 * its flow open), answered with the codec of src/proto/stun. */
#include <errno.h>
#include <string.h>

#include "proto/stun/stun.h"
#include "sip/stack_priv.h"

/* Comprehension-required attributes a Binding request may carry that we
 * can ignore here: credentials (we serve keep-alives without
 * authentication, RFC 5626 §4.4.2 asks for none) and ICE's. */
static const uint16_t known[] = {
    CF_STUN_A_USERNAME, CF_STUN_A_MESSAGE_INTEGRITY,
    CF_STUN_A_REALM,    CF_STUN_A_NONCE,
    CF_STUN_A_USERHASH, CF_STUN_A_MESSAGE_INTEGRITY_SHA256,
    CF_STUN_A_PRIORITY, CF_STUN_A_USE_CANDIDATE,
};

/*
 * RFC 5626 §4.4.2 / RFC 7983: a datagram whose first two bits are zero and
 * that carries the magic cookie is STUN, never SIP (a SIP message starts
 * with a letter). A Binding request gets its success response (XOR-MAPPED-
 * ADDRESS of the source, FINGERPRINT) from the same socket; one with an
 * unknown comprehension-required attribute gets 420 (RFC 8489 §6.3.1.1);
 * anything else STUN (indications, responses, a bad FINGERPRINT,
 * malformed) is dropped. Each is counted, and bad ones logged at debug
 * (no Call-ID: STUN has none). O(attributes) plus one CRC-32 pass.
 */
bool udp_stun(struct worker *w, const struct cf_sip_peer *peer,
              const uint8_t *p, size_t n)
{
	uint8_t out[128];
	struct cf_stun_msg m;
	struct cf_stun_enc e;
	struct cf_pl bytes;
	char a[64];
	size_t used, len = 0;
	uint16_t unk;
	int err;

	if (!cf_stun_is(p, n))
		return false;
	err = cf_stun_decode(&m, p, n, &used);
	if (!err && used != n)
		err = EBADMSG; /* §6: one message per datagram */
	if (err || m.cls != CF_STUN_REQUEST || m.method != CF_STUN_BINDING) {
		ctr_add(&w->st.stun_errors, 1);
		cf_log(CF_LOG_DEBUG, NULL, "stun: %s from %s dropped",
		       err ? "malformed message" : "not a Binding request",
		       cf_sa_print(&peer->addr, a, sizeof(a)));
		return true;
	}
	unk = cf_stun_attr_unknown(&m, known, sizeof(known) / sizeof(*known));
	if (unk) {
		uint8_t ua[2] = {(uint8_t)(unk >> 8), (uint8_t)unk};

		err = cf_stun_enc_start(&e, out, sizeof(out), CF_STUN_BINDING,
		                        CF_STUN_ERROR, m.tid);
		if (!err)
			err = cf_stun_enc_error(&e, 420, "Unknown Attribute");
		if (!err)
			err = cf_stun_enc_attr(&e, CF_STUN_A_UNKNOWN_ATTRIBUTES,
			                       ua, sizeof(ua));
		if (!err)
			err = cf_stun_enc_fingerprint(&e);
		len = e.len;
		ctr_add(&w->st.stun_errors, 1);
		cf_log(CF_LOG_DEBUG, NULL,
		       "stun: Binding request from %s with attribute 0x%04x: "
		       "420",
		       cf_sa_print(&peer->addr, a, sizeof(a)), unk);
	} else {
		err = cf_stun_binding_success(out, sizeof(out), &len, &m,
		                              &peer->addr, "confab");
		if (!err)
			ctr_add(&w->st.stun_bindings, 1);
	}
	if (!err) {
		bytes.p = (const char *)out;
		bytes.l = len;
		(void)udp_send(w->sip, w, peer, &bytes);
	}
	return true;
}
