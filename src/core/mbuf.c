/* SPDX-License-Identifier: BSD-3-Clause */
/* mbuf.c - growable byte buffers for encoding (capacity doubles). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "core/core_priv.h"

/*
 * The byte array is always plain malloc/realloc memory, whether the cf_mbuf
 * itself is refcounted (cf_mbuf_alloc) or embedded (cf_mbuf_init/reset).
 * Growth doubles the capacity, so n appends cost O(n) amortised.
 */

enum { MBUF_MIN = 64 };

static void destructor(void *data)
{
	cf_mbuf_reset(data);
}

/* Refcounted buffer with an initial capacity; the caller owns the one
 * reference. ENOMEM. */
int cf_mbuf_alloc(struct cf_mbuf **mbp, size_t size)
{
	struct cf_mbuf *mb;
	int err;

	if (!mbp)
		return EINVAL;
	mb = cf_mem_zalloc(sizeof(*mb), destructor);
	if (!mb)
		return ENOMEM;
	err = size ? cf_mbuf_resize(mb, size) : 0;
	if (err) {
		mb = cf_mem_deref(mb);
		goto out;
	}
	*mbp = mb;
out:
	return err;
}

void cf_mbuf_init(struct cf_mbuf *mb)
{
	if (mb)
		memset(mb, 0, sizeof(*mb));
}

/* Free the bytes and return to the empty state (the struct is kept). */
void cf_mbuf_reset(struct cf_mbuf *mb)
{
	if (!mb)
		return;
	free(mb->buf);
	memset(mb, 0, sizeof(*mb));
}

/* Set the capacity to exactly size (shrinking truncates end and pos). */
int cf_mbuf_resize(struct cf_mbuf *mb, size_t size)
{
	uint8_t *b;

	if (!mb)
		return EINVAL;
	if (!size) {
		cf_mbuf_reset(mb);
		return 0;
	}
	if (cf_mem_inject_fail())
		return ENOMEM;
	b = realloc(mb->buf, size);
	if (!b)
		return ENOMEM;
	mb->buf = b;
	mb->size = size;
	if (mb->end > size)
		mb->end = size;
	if (mb->pos > size)
		mb->pos = size;
	return 0;
}

/* Make room for n more bytes at pos. */
static int grow(struct cf_mbuf *mb, size_t n)
{
	size_t need, sz;

	if (n > SIZE_MAX - mb->pos)
		return ENOMEM;
	need = mb->pos + n;
	if (need <= mb->size)
		return 0;
	sz = mb->size ? mb->size : MBUF_MIN;
	while (sz < need)
		sz = sz > SIZE_MAX / 2 ? need : sz * 2;
	return cf_mbuf_resize(mb, sz);
}

int cf_mbuf_write_mem(struct cf_mbuf *mb, const void *p, size_t n)
{
	int err;

	if (!mb || (!p && n))
		return EINVAL;
	err = grow(mb, n);
	if (err)
		return err;
	if (n)
		memcpy(mb->buf + mb->pos, p, n);
	mb->pos += n;
	if (mb->pos > mb->end)
		mb->end = mb->pos;
	return 0;
}

int cf_mbuf_write_str(struct cf_mbuf *mb, const char *s)
{
	if (!s)
		return EINVAL;
	return cf_mbuf_write_mem(mb, s, strlen(s));
}

int cf_mbuf_write_pl(struct cf_mbuf *mb, const struct cf_pl *pl)
{
	if (!pl)
		return EINVAL;
	return cf_mbuf_write_mem(mb, pl->p, pl->p ? pl->l : 0);
}

int cf_mbuf_write_u8(struct cf_mbuf *mb, uint8_t v)
{
	return cf_mbuf_write_mem(mb, &v, 1);
}

/* Formats straight into the buffer: one vsnprintf pass when appending at
 * the end and the text fits, else a measuring pass first. The NUL that
 * vsnprintf writes is not part of the data, and a byte it overwrites inside
 * [0, end) is restored. */
int cf_mbuf_vprintf(struct cf_mbuf *mb, const char *fmt, va_list ap)
{
	va_list aq;
	size_t room;
	uint8_t saved = 0;
	int n, err;

	if (!mb || !fmt)
		return EINVAL;
	room = mb->size - mb->pos;
	if (mb->pos == mb->end && room) {
		va_copy(aq, ap);
		n = vsnprintf((char *)mb->buf + mb->pos, room, fmt, aq);
		va_end(aq);
		if (n < 0)
			return EINVAL;
		if ((size_t)n < room)
			goto out;
	} else {
		va_copy(aq, ap);
		n = vsnprintf(NULL, 0, fmt, aq);
		va_end(aq);
		if (n < 0)
			return EINVAL;
	}
	err = grow(mb, (size_t)n + 1);
	if (err)
		return err;
	if (mb->pos + (size_t)n < mb->end)
		saved = mb->buf[mb->pos + (size_t)n];
	va_copy(aq, ap);
	n = vsnprintf((char *)mb->buf + mb->pos, mb->size - mb->pos, fmt, aq);
	va_end(aq);
	if (n < 0)
		return EINVAL;
	if (mb->pos + (size_t)n < mb->end)
		mb->buf[mb->pos + (size_t)n] = saved;
out:
	mb->pos += (size_t)n;
	if (mb->pos > mb->end)
		mb->end = mb->pos;
	return 0;
}

int cf_mbuf_printf(struct cf_mbuf *mb, const char *fmt, ...)
{
	va_list ap;
	int err;

	va_start(ap, fmt);
	err = cf_mbuf_vprintf(mb, fmt, ap);
	va_end(ap);
	return err;
}
