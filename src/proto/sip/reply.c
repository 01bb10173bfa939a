/* SPDX-License-Identifier: BSD-3-Clause */
/* reply.c - build a response to a decoded request (RFC 3261 §8.2.6). */
#include <errno.h>

#include "proto/sip/sip_int.h"

static int write_line(struct cf_mbuf *mb, const struct cf_pl *line)
{
	int err = cf_mbuf_write_pl(mb, line);

	if (!err && (!line->l || line->p[line->l - 1] != '\n'))
		err = cf_mbuf_write_mem(mb, "\r\n", 2);
	return err;
}

/* An inserted line that is a Via ("Via:" or "v:", any case, SP allowed). */
static bool edit_is_via(const struct cf_sip_edit *ed)
{
	size_t i = 0;

	if (ed->len >= 3 && mem_ci_eq(ed->data, "via", 3))
		i = 3;
	else if (ed->len >= 1 && lc(ed->data[0]) == 'v')
		i = 1;
	else
		return false;
	while (i < ed->len && is_ws(ed->data[i]))
		i++;
	return i < ed->len && ed->data[i] == ':';
}

/* The Via lines, honouring edits recorded on them: the transport rewrites
 * the top Via with received/rport (§18.2.1, RFC 3581 §4) that way. */
static int write_vias(struct cf_mbuf *mb, const struct cf_sip_msg *req)
{
	int err = 0;

	for (size_t i = 0; i < req->hdrc && !err; i++) {
		const struct cf_sip_hdr *h = &req->hdrv[i];
		size_t start = (size_t)(h->line.p - req->raw.p);
		bool del = false;

		if (h->id != CF_SIP_H_VIA)
			continue;
		for (struct cf_le *le = req->edits.head; le && !err;
		     le = le->next) {
			const struct cf_sip_edit *ed = le->data;
			if (ed->start != start)
				continue;
			if (ed->end == start + h->line.l && !ed->len)
				del = true;
			else if (ed->end == start && edit_is_via(ed))
				err = cf_mbuf_write_mem(mb, ed->data, ed->len);
		}
		if (!del && !err)
			err = write_line(mb, &h->line);
	}
	return err;
}

/*
 * Build a response to req into mb. Called by the transaction layer for
 * every locally generated response (100 Trying, 4xx for faults, ...).
 * Vias, From, To, Call-ID and CSeq are copied from the request as
 * received (a malformed one as it is: a 400 still reaches the sender);
 * to_tag is added to To when it has none. Returns 0, EINVAL (not a
 * request) or ENOMEM.
 */
int cf_sip_reply_encode(struct cf_mbuf *mb, const struct cf_sip_msg *req,
                        uint16_t code, const char *reason,
                        const struct cf_pl *to_tag, const char *hdrs,
                        const struct cf_pl *body)
{
	static const enum cf_sip_hdr_id ids[] = {
	    CF_SIP_H_FROM, CF_SIP_H_TO, CF_SIP_H_CALL_ID, CF_SIP_H_CSEQ};
	size_t blen = body ? body->l : 0;
	int err;

	if (!mb || !req || !req->req || code < 100 || code > 699)
		return EINVAL;

	err = cf_mbuf_printf(mb, "SIP/2.0 %u %s\r\n", code,
	                     reason ? reason : cf_sip_reason(code));
	if (!err)
		err = write_vias(mb, req);
	for (size_t i = 0; i < 4 && !err; i++) {
		const struct cf_sip_hdr *h = cf_sip_msg_hdr(req, ids[i]);
		if (!h)
			continue;
		if (ids[i] == CF_SIP_H_TO && cf_pl_isset(to_tag) &&
		    req->to.uri.all.l && !req->to.tag.l) {
			/* write_mem, not printf: a value may hold NUL */
			err = cf_mbuf_write_mem(mb, "To: ", 4);
			err |= cf_mbuf_write_pl(mb, &h->val);
			err |= cf_mbuf_write_mem(mb, ";tag=", 5);
			err |= cf_mbuf_write_pl(mb, to_tag);
			err |= cf_mbuf_write_mem(mb, "\r\n", 2);
			err = err ? ENOMEM : 0;
		} else {
			err = write_line(mb, &h->line);
		}
	}
	if (!err && hdrs)
		err = cf_mbuf_write_str(mb, hdrs);
	if (!err)
		err = cf_mbuf_printf(mb, "Content-Length: %zu\r\n\r\n", blen);
	if (!err && blen)
		err = cf_mbuf_write_mem(mb, body->p, blen);
	return err;
}
