/* SPDX-License-Identifier: BSD-3-Clause */
/* conf.c - INI configuration (libinih) kept as ordered records. */
#include <errno.h>
#include <ini.h>
#include <stdio.h>
#include <string.h>

#include "core/core.h"

/*
 * Every `key = value` becomes one record (section, key, value, line) in file
 * order; duplicate keys are all kept (cf_conf_get answers with the last one,
 * cf_conf_apply shows every one). Names are compared byte for byte.
 *
 * libinih is driven through ini_parse_stream with our own line reader: it
 * counts lines (the library only reports them on error) and enforces the
 * library's line buffer size as a limit: a longer line is a syntax error at
 * that line rather than being silently split in two. A line continued with
 * leading whitespace (INI multi-line) becomes a record of its own for the
 * same key.
 */

struct rec {
	struct cf_le le;
	const char *section;
	const char *key;
	const char *value;
	int line;
	char data[];
};

struct cf_conf {
	struct cf_list recs;
};

struct parse {
	struct cf_conf *conf;
	FILE *f;          /* file input, or */
	const char *s;    /* string input */
	int line;         /* physical lines read so far */
	int toolong_line; /* first line over the limit, or 0 */
	int err;          /* ENOMEM from the handler */
};

static void destructor(void *data)
{
	struct cf_conf *conf = data;

	cf_list_flush(&conf->recs, true);
}

int cf_conf_alloc(struct cf_conf **confp)
{
	struct cf_conf *conf;

	if (!confp)
		return EINVAL;
	conf = cf_mem_zalloc(sizeof(*conf), destructor);
	if (!conf)
		return ENOMEM;
	cf_list_init(&conf->recs);
	*confp = conf;
	return 0;
}

/* fgets-like: one physical line, truncated (and flagged) when longer than
 * the library's buffer. */
static char *reader(char *str, int num, void *stream)
{
	struct parse *p = stream;
	int n = 0, c;
	bool cut = false;

	if (num < 2)
		return NULL;
	for (;;) {
		if (p->f) {
			c = fgetc(p->f);
		} else {
			c = *p->s ? (unsigned char)*p->s : EOF;
			if (c != EOF)
				p->s++;
		}
		if (c == EOF)
			break;
		if (n < num - 1)
			str[n++] = (char)c;
		else
			cut = true;
		if (c == '\n')
			break;
	}
	if (!n && !cut)
		return NULL;
	p->line++;
	if (cut && !p->toolong_line)
		p->toolong_line = p->line;
	str[n] = '\0';
	return str;
}

static int handler(void *user, const char *section, const char *name,
                   const char *value)
{
	struct parse *p = user;
	size_t ls = strlen(section), lk = strlen(name), lv = strlen(value);
	struct rec *r;
	char *d;

	if (!name[0])
		return 1; /* section header alone
		             (INI_CALL_HANDLER_ON_NEW_SECTION) */
	r = cf_mem_zalloc(sizeof(*r) + ls + lk + lv + 3, NULL);
	if (!r) {
		p->err = ENOMEM;
		return 0;
	}
	d = r->data;
	memcpy(d, section, ls + 1);
	r->section = d;
	d += ls + 1;
	memcpy(d, name, lk + 1);
	r->key = d;
	d += lk + 1;
	memcpy(d, value, lv + 1);
	r->value = d;
	r->line = p->line;
	cf_list_append(&p->conf->recs, &r->le, r);
	return 1;
}

static int parse(struct cf_conf **confp, struct parse *p, int *errline)
{
	int err, r;

	err = cf_conf_alloc(&p->conf);
	if (err)
		return err;
	r = ini_parse_stream(reader, p, handler, p);
	if (p->err) {
		err = p->err;
	} else if (r == -2) {
		err = ENOMEM;
	} else if (r != 0 || p->toolong_line) {
		err = EBADMSG;
		if (r <= 0 || (p->toolong_line && p->toolong_line < r))
			r = p->toolong_line;
		if (errline)
			*errline = r;
	}
	if (err)
		p->conf = cf_mem_deref(p->conf);
	else
		*confp = p->conf;
	return err;
}

/* Parse an INI file (confabd at start and on reload). The caller owns the
 * result. ENOENT (no such file), EINVAL (cannot be read), EBADMSG with
 * *errline the first bad line, ENOMEM. */
int cf_conf_load(struct cf_conf **confp, const char *path, int *errline)
{
	struct parse p = {0};
	int err;

	if (!confp || !path)
		return EINVAL;
	p.f = fopen(path, "r");
	if (!p.f)
		return errno == ENOENT ? ENOENT : EINVAL;
	err = parse(confp, &p, errline);
	fclose(p.f);
	return err;
}

/* Parse INI text (embedded defaults, tests). Errors as cf_conf_load. */
int cf_conf_load_str(struct cf_conf **confp, const char *text, int *errline)
{
	struct parse p = {0};

	if (!confp || !text)
		return EINVAL;
	p.s = text;
	return parse(confp, &p, errline);
}

/* O(records). */
const char *cf_conf_get(const struct cf_conf *conf, const char *section,
                        const char *key)
{
	struct cf_le *le;

	if (!conf || !section || !key)
		return NULL;
	for (le = conf->recs.tail; le; le = le->prev) {
		const struct rec *r = le->data;

		if (!strcmp(r->key, key) && !strcmp(r->section, section))
			return r->value;
	}
	return NULL;
}

void cf_conf_apply(const struct cf_conf *conf, cf_conf_apply_h *h, void *arg)
{
	struct cf_le *le;

	if (!conf || !h)
		return;
	for (le = conf->recs.head; le; le = le->next) {
		const struct rec *r = le->data;

		if (h(r->section, r->key, r->value, r->line, arg))
			return;
	}
}
