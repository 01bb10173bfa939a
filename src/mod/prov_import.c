/* SPDX-License-Identifier: BSD-3-Clause */
/* prov_import.c - `confabctl user import FILE.csv`: one `aor,password` per
 * line into the store in one transaction, errors named by file and line. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "prov.h"

enum { LINE_MAX_BYTES = 1024 };

struct reader {
	FILE *f;
	const char *name;
	size_t line;     /* 1-based number of the last line read */
	size_t row_line; /* line of the last row handed to the store */
	char buf[LINE_MAX_BYTES + 1];
	char user[CF_STORE_USER_MAX + 1];
	char domain[CF_STORE_DOMAIN_MAX + 1];
	char *why;
	size_t whysize;
	bool why_set;
};

static int bad(struct reader *r, int err, const char *fmt, const char *s)
{
	char msg[512];

	snprintf(msg, sizeof(msg), fmt, s);
	snprintf(r->why, r->whysize, "%s:%zu: %.500s", r->name, r->line, msg);
	r->why_set = true;
	return err;
}

/* Read one line (without its LF) into r->buf: 0, ENOENT at the end of
 * the file, EINVAL for a line too long or with a NUL byte, EIO. */
static int line_read(struct reader *r, size_t *lenp)
{
	bool nul = false;
	size_t n = 0;
	int c;

	/* bounded: LINE_MAX_BYTES characters at most */
	while ((c = getc_unlocked(r->f)) != EOF && c != '\n') {
		if (n == LINE_MAX_BYTES) {
			r->line++;
			return bad(r, EINVAL, "line longer than %s bytes",
			           "1024");
		}
		nul |= c == 0;
		r->buf[n++] = (char)c;
	}
	if (c == EOF && ferror(r->f)) {
		r->line++;
		return bad(r, EIO, "read error: %s", strerror(errno));
	}
	if (c == EOF && !n)
		return ENOENT;
	r->line++;
	r->buf[n] = '\0';
	if (nul)
		return bad(r, EINVAL, "%s", "NUL byte in the line");
	*lenp = n;
	return 0;
}

/* The store's import source: the next row, ENOENT at the end. */
static int next_row(struct cf_store_import_row *row, void *arg)
{
	struct reader *r = arg;

	/* bounded by the file: one line per pass */
	for (;;) {
		size_t n = 0;
		char *comma;
		int err;

		err = line_read(r, &n);
		if (err)
			return err;
		if (n && r->buf[n - 1] == '\r')
			r->buf[--n] = '\0';
		/* a UTF-8 byte order mark, as spreadsheets write it */
		if (r->line == 1 && n >= 3 &&
		    !strncmp(r->buf, "\xef\xbb\xbf", 3)) {
			memmove(r->buf, r->buf + 3, n - 2);
			n -= 3;
		}
		if (!n || r->buf[0] == '#')
			continue;
		if (r->line == 1 && !strcmp(r->buf, "aor,password"))
			continue;
		comma = strchr(r->buf, ',');
		if (!comma)
			return bad(r, EINVAL,
			           "expected aor,password, got '%.200s'",
			           r->buf);
		*comma = '\0';
		if (cf_prov_aor_parse(r->buf, r->user, r->domain))
			return bad(r, EINVAL,
			           "malformed AOR '%.200s': expected "
			           "user@domain or sip:user@domain",
			           r->buf);
		if (!comma[1])
			return bad(r, EINVAL, "empty password for %s", r->buf);
		if (strlen(comma + 1) > CF_STORE_PASSWORD_MAX)
			return bad(r, EINVAL, "password of %s too long",
			           r->buf);
		row->user = r->user;
		row->domain = r->domain;
		row->password = comma + 1;
		r->row_line = r->line;
		return 0;
	}
}

int cf_prov_import(struct cf_store *st, FILE *f, const char *name,
                   size_t *count, char *why, size_t whysize)
{
	struct reader *r;
	char aor[CF_STORE_USER_MAX + CF_STORE_DOMAIN_MAX + 2];
	size_t n = 0;
	int err;

	if (!st || !f || !name || !why || !whysize)
		return EINVAL;
	why[0] = '\0';
	r = calloc(1, sizeof(*r));
	if (!r)
		return ENOMEM;
	r->f = f;
	r->name = name;
	r->why = why;
	r->whysize = whysize;
	err = cf_store_subscriber_import(st, next_row, r, &n);
	if (err && !r->why_set) {
		/* the store refused the last row handed to it */
		snprintf(aor, sizeof(aor), "%s@%s", r->user, r->domain);
		r->line = r->row_line;
		switch (r->row_line ? err : 0) {
		case 0: /* before any row: the transaction did not begin */
			snprintf(why, whysize, "%s: %s; nothing imported", name,
			         err == ETIMEDOUT
			             ? "the store is locked by "
			               "another process (try again)"
			             : strerror(err));
			break;
		case EALREADY:
			(void)bad(r, err,
			          "user %s exists (in the store or "
			          "earlier in the file)",
			          aor);
			break;
		case ENOENT:
			(void)bad(r, err, "unknown domain '%s'", r->domain);
			break;
		case EINVAL:
			(void)bad(r, err, "invalid row for %s", aor);
			break;
		case ETIMEDOUT:
			snprintf(why, whysize,
			         "%s: the store is locked by another process "
			         "(try again); nothing imported",
			         name);
			break;
		default:
			snprintf(why, whysize,
			         "%s: import failed at line %zu: "
			         "%s; nothing imported",
			         name, r->row_line, strerror(err));
			break;
		}
	}
	if (!err && count)
		*count = n;
	free(r);
	return err;
}
