/* SPDX-License-Identifier: BSD-3-Clause */
/* pl.c - slices (pointer, length) into someone else's bytes. */
#include <errno.h>
#include <string.h>
#include <strings.h>

#include "core/core.h"

static inline int lc(int c)
{
	return (c >= 'A' && c <= 'Z') ? c + ('a' - 'A') : c;
}

void cf_pl_set_str(struct cf_pl *pl, const char *s)
{
	if (!pl)
		return;
	pl->p = s;
	pl->l = s ? strlen(s) : 0;
}

int cf_pl_strcmp(const struct cf_pl *pl, const char *s)
{
	struct cf_pl b;

	cf_pl_set_str(&b, s);
	return cf_pl_cmp(pl, &b);
}

int cf_pl_strcasecmp(const struct cf_pl *pl, const char *s)
{
	struct cf_pl b;

	cf_pl_set_str(&b, s);
	return cf_pl_casecmp(pl, &b);
}

/* Ordering: bytes first, then length (a prefix sorts first). Two unset
 * slices are equal; NULL arguments compare unequal to anything. */
int cf_pl_cmp(const struct cf_pl *a, const struct cf_pl *b)
{
	size_t n;
	int r;

	if (!a || !b)
		return a == b ? 0 : (a ? 1 : -1);
	n = a->l < b->l ? a->l : b->l;
	if (n) {
		r = memcmp(a->p, b->p, n);
		if (r)
			return r;
	}
	return a->l == b->l ? 0 : (a->l < b->l ? -1 : 1);
}

/* ASCII-only case folding, as SIP tokens are compared (RFC 3261 §7.3.1). */
int cf_pl_casecmp(const struct cf_pl *a, const struct cf_pl *b)
{
	size_t i, n;

	if (!a || !b)
		return a == b ? 0 : (a ? 1 : -1);
	n = a->l < b->l ? a->l : b->l;
	for (i = 0; i < n; i++) {
		int x = lc((unsigned char)a->p[i]);
		int y = lc((unsigned char)b->p[i]);

		if (x != y)
			return x - y;
	}
	return a->l == b->l ? 0 : (a->l < b->l ? -1 : 1);
}

static int decode_u(const struct cf_pl *pl, uint64_t max, uint64_t *v)
{
	uint64_t x = 0;
	size_t i;

	if (!pl || !v)
		return EINVAL;
	if (!pl->p || !pl->l)
		return EBADMSG;
	for (i = 0; i < pl->l; i++) {
		unsigned d = (unsigned char)pl->p[i] - '0';

		if (d > 9)
			return EBADMSG;
		if (x > (max - d) / 10)
			return EBADMSG; /* overflow of the target type */
		x = x * 10 + d;
	}
	*v = x;
	return 0;
}

int cf_pl_u32(const struct cf_pl *pl, uint32_t *v)
{
	uint64_t x;
	int err;

	if (!v)
		return EINVAL;
	err = decode_u(pl, UINT32_MAX, &x);
	if (!err)
		*v = (uint32_t)x;
	return err;
}

int cf_pl_u64(const struct cf_pl *pl, uint64_t *v)
{
	return decode_u(pl, UINT64_MAX, v);
}

static inline bool isws(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

void cf_pl_trim(struct cf_pl *pl)
{
	if (!pl || !pl->p)
		return;
	while (pl->l && isws(pl->p[0])) {
		pl->p++;
		pl->l--;
	}
	while (pl->l && isws(pl->p[pl->l - 1]))
		pl->l--;
}

const char *cf_pl_chr(const struct cf_pl *pl, char c)
{
	if (!pl || !pl->p || !pl->l)
		return NULL;
	return memchr(pl->p, c, pl->l);
}

/* Copies as much as fits and NUL-terminates; ENOMEM when truncated. */
int cf_pl_strcpy(const struct cf_pl *pl, char *buf, size_t size)
{
	size_t n;

	if (!buf || !size)
		return EINVAL;
	n = (pl && pl->p) ? pl->l : 0;
	if (n >= size) {
		memcpy(buf, pl->p, size - 1);
		buf[size - 1] = '\0';
		return ENOMEM;
	}
	if (n)
		memcpy(buf, pl->p, n);
	buf[n] = '\0';
	return 0;
}

char *cf_pl_dup(const struct cf_pl *pl)
{
	size_t n;
	char *d;

	if (!pl)
		return NULL;
	n = pl->p ? pl->l : 0;
	d = cf_mem_alloc(n + 1, NULL);
	if (!d)
		return NULL;
	if (n)
		memcpy(d, pl->p, n);
	d[n] = '\0';
	return d;
}
