/* SPDX-License-Identifier: BSD-3-Clause */
/* vec_util.h - test helpers: read a vector file, compare slices. */
#ifndef CF_TEST_VEC_UTIL_H
#define CF_TEST_VEC_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"

/* The vectors dir: CF_VECTORS_DIR (set by meson) or ./tests/vectors. */
static inline const char *vec_dir(void)
{
	const char *d = getenv("CF_VECTORS_DIR");
	return d ? d : "tests/vectors";
}

/* Read a whole file into a malloc'd buffer (plain malloc: not counted by
 * cf_mem_blocks), with one spare byte. NULL if missing. */
static inline uint8_t *vec_read_path(const char *path, size_t *len)
{
	uint8_t *buf = NULL;
	FILE *f;
	long n;

	f = fopen(path, "rb");
	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) || (n = ftell(f)) < 0 ||
	    fseek(f, 0, SEEK_SET))
		goto out;
	buf = malloc((size_t)n + 1);
	if (!buf)
		goto out;
	if (fread(buf, 1, (size_t)n, f) != (size_t)n) {
		free(buf);
		buf = NULL;
		goto out;
	}
	*len = (size_t)n;
out:
	fclose(f);
	return buf;
}

/* Read <vectors dir>/sub/name. */
static inline uint8_t *vec_read(const char *sub, const char *name, size_t *len)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s/%s/%s", vec_dir(), sub, name);
	return vec_read_path(path, len);
}

static inline bool pl_is(const struct cf_pl *pl, const char *s)
{
	size_t n = strlen(s);
	bool ok = pl->l == n && (!n || !memcmp(pl->p, s, n));
	if (!ok)
		fprintf(stderr, "  slice \"%.*s\" != \"%s\"\n", (int)pl->l,
		        pl->p ? pl->p : "", s);
	return ok;
}

#endif
