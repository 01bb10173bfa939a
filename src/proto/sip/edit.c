/* SPDX-License-Identifier: BSD-3-Clause */
/* edit.c - edits ("lumps") recorded against a decoded message and the
 * encoder that applies them; the received bytes are never touched. */
#include <errno.h>
#include <stdio.h>

#include "proto/sip/sip_int.h"

/* Offset of the end of the header section (where the empty line starts,
 * or the end of the last header when the datagram had none). */
static size_t head_end(const struct cf_sip_msg *msg)
{
	const char *nl;

	if (msg->hdrc) {
		const struct cf_pl *l = &msg->hdrv[msg->hdrc - 1].line;
		return (size_t)(l->p + l->l - msg->raw.p);
	}
	nl = memchr(msg->raw.p, '\n', msg->raw.l);
	return nl ? (size_t)(nl + 1 - msg->raw.p) : msg->raw.l;
}

static bool is_insert(const struct cf_sip_edit *ed)
{
	return ed->start == ed->end;
}

/* Keep the list sorted by start; at one start, inserts come before a
 * replacement and otherwise keep the order they were recorded in. O(n). */
static void edit_link(struct cf_sip_msg *msg, struct cf_sip_edit *ed)
{
	struct cf_le *le;

	for (le = msg->edits.tail; le; le = le->prev) {
		const struct cf_sip_edit *x = le->data;
		if (x->start < ed->start ||
		    (x->start == ed->start && (!is_insert(ed) || is_insert(x))))
			break;
	}
	if (le)
		cf_list_insert_after(&msg->edits, le, &ed->le, ed);
	else
		cf_list_prepend(&msg->edits, &ed->le, ed);
}

static struct cf_sip_edit *edit_alloc(enum cf_sip_edit_kind kind, size_t start,
                                      size_t end, size_t len)
{
	struct cf_sip_edit *ed = cf_mem_alloc(sizeof(*ed) + len + 1, NULL);

	if (!ed)
		return NULL;
	memset(ed, 0, sizeof(*ed));
	ed->kind = kind;
	ed->start = start;
	ed->end = end;
	ed->len = len;
	return ed;
}

static int edit_add_mem(struct cf_sip_msg *msg, enum cf_sip_edit_kind kind,
                        size_t start, size_t end, const char *p, size_t len)
{
	struct cf_sip_edit *ed = edit_alloc(kind, start, end, len);

	if (!ed)
		return ENOMEM;
	if (len)
		memcpy(ed->data, p, len);
	edit_link(msg, ed);
	return 0;
}

static bool hdr_of(const struct cf_sip_msg *msg, const struct cf_sip_hdr *hdr)
{
	return hdr >= msg->hdrv && hdr < msg->hdrv + msg->hdrc;
}

int cf_sip_msg_edit_del(struct cf_sip_msg *msg, const struct cf_sip_hdr *hdr)
{
	size_t start;

	if (!msg || !hdr || !hdr_of(msg, hdr))
		return EINVAL;
	start = (size_t)(hdr->line.p - msg->raw.p);
	return edit_add_mem(msg, CF_SIP_EDIT_HDR, start, start + hdr->line.l,
	                    NULL, 0);
}

/* Format "fmt" + CRLF into a new insert edit at pos. */
static int edit_vadd(struct cf_sip_msg *msg, size_t pos, const char *fmt,
                     va_list ap)
{
	struct cf_sip_edit *ed;
	bool nl = true;
	va_list aq;
	int n;

	va_copy(aq, ap);
	n = vsnprintf(NULL, 0, fmt, aq);
	va_end(aq);
	if (n < 0)
		return EINVAL;
	/* after a last header line that had no line end (datagram) */
	if (pos && pos == msg->raw.l && msg->raw.p[pos - 1] != '\n')
		nl = false;
	ed = edit_alloc(CF_SIP_EDIT_HDR, pos, pos, (size_t)n + (nl ? 2 : 4));
	if (!ed)
		return ENOMEM;
	if (nl) {
		vsnprintf(ed->data, (size_t)n + 1, fmt, ap);
		memcpy(ed->data + n, "\r\n", 2);
	} else {
		memcpy(ed->data, "\r\n", 2);
		vsnprintf(ed->data + 2, (size_t)n + 1, fmt, ap);
		memcpy(ed->data + 2 + n, "\r\n", 2);
	}
	edit_link(msg, ed);
	return 0;
}

int cf_sip_msg_edit_add(struct cf_sip_msg *msg, const struct cf_sip_hdr *hdr,
                        const char *fmt, ...)
{
	size_t pos;
	va_list ap;
	int err;

	if (!msg || !fmt || (hdr && !hdr_of(msg, hdr)))
		return EINVAL;
	if (hdr)
		pos = (size_t)(hdr->line.p - msg->raw.p);
	else if (msg->hdrc)
		pos = (size_t)(msg->hdrv[0].line.p - msg->raw.p);
	else
		pos = head_end(msg);
	va_start(ap, fmt);
	err = edit_vadd(msg, pos, fmt, ap);
	va_end(ap);
	return err;
}

int cf_sip_msg_edit_append(struct cf_sip_msg *msg, const char *fmt, ...)
{
	va_list ap;
	int err;

	if (!msg || !fmt)
		return EINVAL;
	va_start(ap, fmt);
	err = edit_vadd(msg, head_end(msg), fmt, ap);
	va_end(ap);
	return err;
}

/* Drop earlier edits of this kind: the last replacement wins. */
static void edit_drop(struct cf_sip_msg *msg, enum cf_sip_edit_kind kind)
{
	struct cf_le *le = msg->edits.head;

	while (le) {
		struct cf_le *next = le->next;
		struct cf_sip_edit *ed = le->data;
		if (ed->kind == kind) {
			cf_list_unlink(le);
			cf_mem_deref(ed);
		}
		le = next;
	}
}

int cf_sip_msg_edit_ruri(struct cf_sip_msg *msg, const struct cf_pl *uri)
{
	size_t start;

	if (!msg || !msg->req || !uri || !uri->p || !uri->l)
		return EINVAL;
	edit_drop(msg, CF_SIP_EDIT_RURI);
	start = (size_t)(msg->ruri_pl.p - msg->raw.p);
	return edit_add_mem(msg, CF_SIP_EDIT_RURI, start,
	                    start + msg->ruri_pl.l, uri->p, uri->l);
}

/* Replace the body and every Content-Length value; add a Content-Length
 * when there was none (§20.14: always send it on streams). */
int cf_sip_msg_edit_body(struct cf_sip_msg *msg, const struct cf_pl *body)
{
	size_t blen = body ? body->l : 0, start;
	char num[24];
	bool found = false;
	int n, err;

	if (!msg)
		return EINVAL;
	edit_drop(msg, CF_SIP_EDIT_BODY);
	n = snprintf(num, sizeof(num), "%zu", blen);

	for (size_t i = 0; i < msg->hdrc; i++) {
		const struct cf_sip_hdr *h = &msg->hdrv[i];
		if (h->id != CF_SIP_H_CONTENT_LENGTH)
			continue;
		found = true;
		start = (size_t)(h->val.p - msg->raw.p);
		err = edit_add_mem(msg, CF_SIP_EDIT_BODY, start,
		                   start + h->val.l, num, (size_t)n);
		if (err)
			goto out;
	}
	if (!found) {
		char line[48];
		int m =
		    snprintf(line, sizeof(line), "Content-Length: %s\r\n", num);
		start = head_end(msg);
		err = edit_add_mem(msg, CF_SIP_EDIT_BODY, start, start, line,
		                   (size_t)m);
		if (err)
			goto out;
	}
	start = (size_t)(msg->body.p - msg->raw.p);
	err = edit_add_mem(msg, CF_SIP_EDIT_BODY, start, msg->raw.l,
	                   body ? body->p : NULL, blen);
out:
	if (err)
		edit_drop(msg, CF_SIP_EDIT_BODY);
	return err;
}

void cf_sip_msg_edit_clear(struct cf_sip_msg *msg)
{
	if (msg)
		cf_list_flush(&msg->edits, true);
}

/*
 * Write msg with its edits applied: raw bytes between edits are copied as
 * they are, so untouched headers come out byte for byte. Called by the
 * proxy core when forwarding. O(message + edits). 0 or ENOMEM.
 */
int cf_sip_msg_encode(struct cf_mbuf *mb, const struct cf_sip_msg *msg)
{
	size_t cur = 0;
	int err;

	if (!mb || !msg)
		return EINVAL;
	for (struct cf_le *le = msg->edits.head; le; le = le->next) {
		const struct cf_sip_edit *ed = le->data;

		if (ed->start < cur || ed->end > msg->raw.l)
			continue; /* overlaps an earlier edit */
		err = cf_mbuf_write_mem(mb, msg->raw.p + cur, ed->start - cur);
		if (!err && ed->len)
			err = cf_mbuf_write_mem(mb, ed->data, ed->len);
		if (err)
			return err;
		cur = ed->end;
	}
	return cf_mbuf_write_mem(mb, msg->raw.p + cur, msg->raw.l - cur);
}
