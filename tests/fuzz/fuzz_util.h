/* SPDX-License-Identifier: BSD-3-Clause */
/* fuzz_util.h - shared checks of the fuzz targets: walk every lazy helper
 * over a decoded message so the fuzzer reaches them. */
#ifndef CF_FUZZ_UTIL_H
#define CF_FUZZ_UTIL_H

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "proto/sip/sip.h"

static inline void fz_check(bool ok)
{
	if (!ok)
		abort();
}

static bool fz_val(const struct cf_sip_hdr *hdr, const struct cf_pl *val,
                   void *arg)
{
	struct cf_sip_addr a;
	struct cf_sip_via v;
	struct cf_pl pv;
	(void)arg;

	switch (hdr->id) {
	case CF_SIP_H_VIA:
		if (!cf_sip_via_decode(&v, val))
			(void)cf_sip_param_get(&v.params, "branch", &pv);
		break;
	case CF_SIP_H_CONTACT:
	case CF_SIP_H_ROUTE:
	case CF_SIP_H_RECORD_ROUTE:
	case CF_SIP_H_FROM:
	case CF_SIP_H_TO:
	case CF_SIP_H_REFER_TO:
		if (!cf_sip_addr_decode(&a, val)) {
			(void)cf_sip_param_get(&a.params, "expires", &pv);
			(void)cf_sip_param_get(&a.uri.params, "lr", &pv);
			fz_check(cf_sip_uri_cmp(&a.uri, &a.uri) == 0);
		}
		break;
	default:
		(void)cf_sip_param_get(val, "x", &pv);
		break;
	}
	return false;
}

/* Touch everything lazy, re-encode (byte for byte), edit and re-encode,
 * build a reply. Aborts on a broken invariant. */
static inline void fz_msg_walk(struct cf_sip_msg *m)
{
	struct cf_mbuf *mb = NULL;
	struct cf_pl body = CF_PL("v=0\r\n");
	struct cf_pl ruri = CF_PL("sip:a@b"), tag = CF_PL("t");

	for (int id = 0; id < CF_SIP_H__COUNT; id++)
		(void)cf_sip_msg_vals_apply(m, id, fz_val, NULL);
	(void)cf_sip_msg_hdr_name(m, "u");
	(void)cf_sip_msg_hdr_name(m, "X-Foo");

	if (cf_mbuf_alloc(&mb, 256))
		return;
	fz_check(cf_sip_msg_encode(mb, m) == 0);
	fz_check(mb->end == m->raw.l && !memcmp(mb->buf, m->raw.p, mb->end));

	if (m->hdrc) {
		(void)cf_sip_msg_edit_del(m, &m->hdrv[m->hdrc / 2]);
		(void)cf_sip_msg_edit_add(m, &m->hdrv[0], "Via: SIP/2.0/UDP x");
	}
	(void)cf_sip_msg_edit_add(m, NULL, "Record-Route: <sip:p;lr>");
	(void)cf_sip_msg_edit_append(m, "X-A: %d", 1);
	(void)cf_sip_msg_edit_body(m, &body);
	if (m->req)
		(void)cf_sip_msg_edit_ruri(m, &ruri);
	mb->end = mb->pos = 0;
	fz_check(cf_sip_msg_encode(mb, m) == 0);
	if (m->respondable) {
		mb->end = mb->pos = 0;
		fz_check(cf_sip_reply_encode(mb, m, 400, m->fault.reason, &tag,
		                             NULL, &body) == 0);
	}
	cf_sip_msg_edit_clear(m);
	cf_mem_deref(mb);
}

#endif
