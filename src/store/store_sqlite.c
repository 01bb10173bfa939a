/* SPDX-License-Identifier: BSD-3-Clause */
/* store_sqlite.c - the SQLite backend of the store: WAL journal,
 * synchronous=NORMAL (or FULL), busy timeout, prepared statements made once
 * and reused. */
#include <errno.h>
#include <sqlite3.h>
#include <string.h>

#include "store/store_priv.h"

/* Every statement the backend runs, prepared on first use and kept. */
enum stmt_id {
	S_BEGIN,
	S_COMMIT,
	S_ROLLBACK,
	S_VERSION,
	S_DOMAIN_ADD,
	S_DOMAIN_SET_ALGS,
	S_DOMAIN_REMOVE,
	S_DOMAIN_GET,
	S_DOMAIN_LIST,
	S_SUB_ADD,
	S_SUB_UPDATE,
	S_SUB_REMOVE,
	S_FWD_SET,
	S_FWD_DEL,
	S_FWD_LIST,
	S_SUB_GET,
	S_SUB_LIST,
	S_SUB_LIST_DOMAIN,
	S_LOC_UPSERT,
	S_LOC_DELETE,
	S_LOC_DELETE_AOR,
	S_LOC_LIST,
	S_LOC_LIST_AOR,
	S_LOC_EXPIRED,
	S_CDR_PUT,
	S_CDR_LIST,
	S_CDR_INTERRUPT,
	S_COUNT,
};

#define LOC_COLS                                                               \
	"aor, contact, received, path, instance, reg_id, expires, q, "         \
	"call_id, cseq, flags, user_agent, socket, node"
#define SUB_COLS                                                               \
	"s.user, d.name, s.ha1_md5, s.ha1_sha256, s.ha1_sha512_256, "          \
	"s.created, s.updated"

static const char *const stmt_sql[S_COUNT] = {
    [S_BEGIN] = "BEGIN IMMEDIATE",
    [S_COMMIT] = "COMMIT",
    [S_ROLLBACK] = "ROLLBACK",
    [S_VERSION] = "SELECT COALESCE(MAX(version), 0) FROM schema_version",
    [S_DOMAIN_ADD] = "INSERT INTO domains (name, realm, digest_algs, "
                     "created) VALUES (?1, ?2, ?3, ?4)",
    [S_DOMAIN_SET_ALGS] = "UPDATE domains SET digest_algs = ?2 "
                          "WHERE name = ?1",
    [S_DOMAIN_REMOVE] = "DELETE FROM domains WHERE name = ?1",
    [S_DOMAIN_GET] = "SELECT name, realm, digest_algs FROM domains "
                     "WHERE name = ?1",
    [S_DOMAIN_LIST] = "SELECT name, realm, digest_algs FROM domains "
                      "ORDER BY name",
    /* one statement: an unknown domain inserts nothing (ENOENT) */
    [S_SUB_ADD] = "INSERT INTO subscribers (domain_id, user, ha1_md5, "
                  "ha1_sha256, ha1_sha512_256, created, updated) "
                  "SELECT id, ?2, ?3, ?4, ?5, ?6, ?7 FROM domains "
                  "WHERE name = ?1",
    [S_SUB_UPDATE] = "UPDATE subscribers SET ha1_md5 = ?3, "
                     "ha1_sha256 = ?4, ha1_sha512_256 = ?5, updated = ?7 "
                     "WHERE user = ?2 AND domain_id = "
                     "(SELECT id FROM domains WHERE name = ?1)",
    [S_SUB_REMOVE] = "DELETE FROM subscribers WHERE user = ?2 AND "
                     "domain_id = (SELECT id FROM domains WHERE name = ?1)",
    [S_FWD_SET] = "INSERT OR REPLACE INTO forwards (subscriber_id, busy, "
                  "noanswer, offline, unavailable, updated) SELECT s.id, "
                  "?3, ?4, ?5, ?6, ?7 FROM subscribers s JOIN domains d ON "
                  "d.id = s.domain_id WHERE d.name = ?1 AND s.user = ?2",
    [S_FWD_DEL] = "DELETE FROM forwards WHERE subscriber_id = (SELECT s.id "
                  "FROM subscribers s JOIN domains d ON d.id = s.domain_id "
                  "WHERE d.name = ?1 AND s.user = ?2)",
    [S_FWD_LIST] = "SELECT s.user, d.name, f.busy, f.noanswer, f.offline, "
                   "f.unavailable FROM forwards f JOIN subscribers s ON "
                   "s.id = f.subscriber_id JOIN domains d ON "
                   "d.id = s.domain_id ORDER BY d.name, s.user",
    [S_SUB_GET] = "SELECT " SUB_COLS " FROM subscribers s JOIN domains d "
                  "ON d.id = s.domain_id WHERE d.name = ?1 AND s.user = ?2",
    [S_SUB_LIST] = "SELECT " SUB_COLS " FROM subscribers s JOIN domains d "
                   "ON d.id = s.domain_id ORDER BY d.name, s.user",
    [S_SUB_LIST_DOMAIN] = "SELECT " SUB_COLS " FROM subscribers s "
                          "JOIN domains d ON d.id = s.domain_id "
                          "WHERE d.name = ?1 ORDER BY s.user",
    [S_LOC_UPSERT] =
        "INSERT INTO location (" LOC_COLS ", updated) VALUES "
        "(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, "
        "?15) ON CONFLICT (aor, contact) DO UPDATE SET "
        "received = excluded.received, path = excluded.path, "
        "instance = excluded.instance, reg_id = excluded.reg_id, "
        "expires = excluded.expires, q = excluded.q, "
        "call_id = excluded.call_id, cseq = excluded.cseq, "
        "flags = excluded.flags, user_agent = excluded.user_agent, "
        "socket = excluded.socket, node = excluded.node, "
        "updated = excluded.updated",
    [S_LOC_DELETE] = "DELETE FROM location WHERE aor = ?1 AND "
                     "contact = ?2",
    [S_LOC_DELETE_AOR] = "DELETE FROM location WHERE aor = ?1",
    [S_LOC_LIST] = "SELECT " LOC_COLS " FROM location "
                   "ORDER BY aor, contact",
    [S_LOC_LIST_AOR] = "SELECT " LOC_COLS " FROM location WHERE aor = ?1 "
                       "ORDER BY contact",
    [S_LOC_EXPIRED] = "DELETE FROM location WHERE expires <= ?1",
    [S_CDR_PUT] =
        "INSERT INTO cdrs (uid, call_id, caller, callee, ruri, contact, "
        "start_ms, answer_ms, end_ms, duration_ms, disposition, code, "
        "ended_by, updated) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, "
        "?10, ?11, ?12, ?13, ?14) ON CONFLICT (uid) DO UPDATE SET "
        "contact = excluded.contact, answer_ms = excluded.answer_ms, "
        "end_ms = excluded.end_ms, duration_ms = excluded.duration_ms, "
        "disposition = excluded.disposition, code = excluded.code, "
        "ended_by = excluded.ended_by, updated = excluded.updated",
    /* the last ?1 rows (-1: all), oldest first */
    [S_CDR_LIST] =
        "SELECT * FROM (SELECT id, uid, call_id, caller, callee, ruri, "
        "contact, start_ms, answer_ms, end_ms, duration_ms, disposition, "
        "code, ended_by FROM cdrs ORDER BY id DESC LIMIT ?1) ORDER BY id",
    [S_CDR_INTERRUPT] =
        "UPDATE cdrs SET disposition = 'interrupted', end_ms = ?1, "
        "duration_ms = CASE WHEN answer_ms > 0 AND ?1 > answer_ms THEN "
        "?1 - answer_ms ELSE 0 END, ended_by = 'restart', updated = ?2 "
        "WHERE disposition = 'open'",
};

struct sq {
	sqlite3 *db;
	sqlite3_stmt *stmt[S_COUNT];
};

int cf_store_sqlite_err(sqlite3 *db, int rc, const char *what)
{
	switch (rc) {
	case SQLITE_OK:
	case SQLITE_DONE:
	case SQLITE_ROW:
		return 0;
	case SQLITE_CONSTRAINT_UNIQUE:
	case SQLITE_CONSTRAINT_PRIMARYKEY:
		return EALREADY;
	case SQLITE_CONSTRAINT_FOREIGNKEY:
		return ENOENT;
	case SQLITE_CONSTRAINT_NOTNULL:
	case SQLITE_CONSTRAINT_CHECK:
		return EINVAL;
	case SQLITE_NOMEM:
		return ENOMEM;
	default:
		break;
	}
	cf_log(CF_LOG_ERR, NULL, "store: sqlite: %s: %s", what,
	       db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
	if ((rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED)
		return ETIMEDOUT;
	return EIO;
}

/* The statement id, reset and unbound, ready to bind: 0 or an error. */
static int stmt(struct cf_store *st, enum stmt_id id, sqlite3_stmt **sp)
{
	struct sq *sq = st->be;
	int rc;

	if (!sq->stmt[id]) {
		rc = sqlite3_prepare_v3(sq->db, stmt_sql[id], -1,
		                        SQLITE_PREPARE_PERSISTENT,
		                        &sq->stmt[id], NULL);
		if (rc != SQLITE_OK)
			return cf_store_sqlite_err(sq->db, rc, stmt_sql[id]);
	}
	*sp = sq->stmt[id];
	return 0;
}

static void done(sqlite3_stmt *s)
{
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
}

static void bind_str(sqlite3_stmt *s, int i, const char *v)
{
	if (v)
		sqlite3_bind_text(s, i, v, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(s, i);
}

/* Step a statement that returns no rows; *changes (may be NULL) gets the
 * rows it changed. Resets the statement. */
static int run(struct cf_store *st, sqlite3_stmt *s, size_t *changes)
{
	struct sq *sq = st->be;
	int rc = sqlite3_step(s);
	int err = rc == SQLITE_DONE
	              ? 0
	              : cf_store_sqlite_err(sq->db, rc, sqlite3_sql(s));

	if (!err && changes)
		*changes = (size_t)sqlite3_changes64(sq->db);
	done(s);
	return err;
}

static const char *col_str(sqlite3_stmt *s, int i)
{
	return (const char *)sqlite3_column_text(s, i);
}

/* ------------------------------------------------------------ open/close */

static int pragma(sqlite3 *db, const char *sql, const char *want)
{
	sqlite3_stmt *s = NULL;
	int rc, err = 0;

	rc = sqlite3_prepare_v2(db, sql, -1, &s, NULL);
	if (rc != SQLITE_OK)
		return cf_store_sqlite_err(db, rc, sql);
	rc = sqlite3_step(s);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		err = cf_store_sqlite_err(db, rc, sql);
	else if (want && rc == SQLITE_ROW) {
		const char *got = col_str(s, 0);

		/* an in-memory database keeps journal_mode=memory */
		if (got && strcmp(got, want) && strcmp(got, "memory")) {
			cf_log(CF_LOG_ERR, NULL, "store: %s gave %s", sql, got);
			err = EIO;
		}
	}
	sqlite3_finalize(s);
	return err;
}

static void sq_close(struct cf_store *st)
{
	struct sq *sq = st->be;

	if (!sq)
		return;
	for (int i = 0; i < S_COUNT; i++)
		sqlite3_finalize(sq->stmt[i]);
	/* the last connection to close checkpoints and removes the WAL */
	sqlite3_close(sq->db);
	st->be = cf_mem_deref(sq);
}

static int sq_open(struct cf_store *st, const char *path,
                   const struct cf_store_cfg *cfg)
{
	unsigned version = 0;
	struct sq *sq;
	int rc, err;

	sq = cf_mem_zalloc(sizeof(*sq), NULL);
	if (!sq)
		return ENOMEM;
	st->be = sq;
	rc = sqlite3_open_v2(path, &sq->db,
	                     SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
	                         SQLITE_OPEN_NOMUTEX,
	                     NULL);
	if (rc != SQLITE_OK) {
		cf_log(CF_LOG_ERR, NULL, "store: cannot open %s: %s", path,
		       sq->db ? sqlite3_errmsg(sq->db) : sqlite3_errstr(rc));
		err = rc == SQLITE_NOMEM ? ENOMEM : EIO;
		goto out;
	}
	sqlite3_extended_result_codes(sq->db, 1);
	sqlite3_busy_timeout(
	    sq->db, cfg->busy_timeout_ms ? (int)cfg->busy_timeout_ms : 5000);
	/* WAL: readers never block the writer; a commit appends to the WAL.
	 * NORMAL: no fsync per commit, only at checkpoints (docs/store.md). */
	err = pragma(sq->db, "PRAGMA journal_mode = WAL", "wal");
	if (!err)
		err = pragma(sq->db,
		             cfg->sync_full ? "PRAGMA synchronous = FULL"
		                            : "PRAGMA synchronous = NORMAL",
		             NULL);
	if (!err)
		err = pragma(sq->db, "PRAGMA foreign_keys = ON", NULL);
	if (!err)
		err = cf_store_sqlite_migrate(
		    sq->db, cf_store_sqlite_migrations_latest(), &version);
out:
	if (err)
		sq_close(st);
	return err;
}

static int sq_version(struct cf_store *st, unsigned *version)
{
	sqlite3_stmt *s = NULL;
	int rc, err = stmt(st, S_VERSION, &s);

	if (err)
		return err;
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		*version = (unsigned)sqlite3_column_int64(s, 0);
	else
		err = cf_store_sqlite_err(((struct sq *)st->be)->db, rc,
		                          "version");
	done(s);
	return err;
}

static int sq_txn(struct cf_store *st, enum cf_store_txn_op op)
{
	static const enum stmt_id ids[] = {
	    [CF_STORE_TXN_BEGIN] = S_BEGIN,
	    [CF_STORE_TXN_COMMIT] = S_COMMIT,
	    [CF_STORE_TXN_ROLLBACK] = S_ROLLBACK,
	};
	sqlite3_stmt *s = NULL;
	int err = stmt(st, ids[op], &s);

	return err ? err : run(st, s, NULL);
}

/* --------------------------------------------------------------- domains */

static int sq_domain_add(struct cf_store *st, const struct cf_store_domain *d,
                         int64_t now)
{
	sqlite3_stmt *s = NULL;
	int err = stmt(st, S_DOMAIN_ADD, &s);

	if (err)
		return err;
	bind_str(s, 1, d->name);
	bind_str(s, 2, d->realm);
	bind_str(s, 3, d->digest_algs);
	sqlite3_bind_int64(s, 4, now);
	return run(st, s, NULL);
}

static int sq_domain_set_algs(struct cf_store *st, const char *name,
                              const char *algs)
{
	size_t n = 0;
	sqlite3_stmt *s = NULL;
	int err = stmt(st, S_DOMAIN_SET_ALGS, &s);

	if (err)
		return err;
	bind_str(s, 1, name);
	bind_str(s, 2, algs);
	err = run(st, s, &n);
	return err ? err : n ? 0 : ENOENT;
}

static int sq_domain_remove(struct cf_store *st, const char *name)
{
	size_t n = 0;
	sqlite3_stmt *s = NULL;
	int err = stmt(st, S_DOMAIN_REMOVE, &s);

	if (err)
		return err;
	bind_str(s, 1, name);
	err = run(st, s, &n);
	return err ? err : n ? 0 : ENOENT;
}

/* Step s, calling h on each row until it returns true; ENOENT if none and
 * need_one. Resets s. */
static int domain_rows(struct cf_store *st, sqlite3_stmt *s,
                       cf_store_domain_h *h, void *arg, bool need_one)
{
	size_t rows = 0;
	int rc, err = 0;

	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct cf_store_domain d = {
		    .name = col_str(s, 0),
		    .realm = col_str(s, 1),
		    .digest_algs = col_str(s, 2),
		};

		rows++;
		if (h && h(&d, arg))
			break;
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		err = cf_store_sqlite_err(((struct sq *)st->be)->db, rc,
		                          "domains");
	done(s);
	return err ? err : (need_one && !rows) ? ENOENT : 0;
}

static int sq_domain_get(struct cf_store *st, const char *name,
                         cf_store_domain_h *h, void *arg)
{
	sqlite3_stmt *s = NULL;
	int err = stmt(st, S_DOMAIN_GET, &s);

	if (err)
		return err;
	bind_str(s, 1, name);
	return domain_rows(st, s, h, arg, true);
}

static int sq_domain_list(struct cf_store *st, cf_store_domain_h *h, void *arg)
{
	sqlite3_stmt *s = NULL;
	int err = stmt(st, S_DOMAIN_LIST, &s);

	return err ? err : domain_rows(st, s, h, arg, false);
}

/* ----------------------------------------------------------- subscribers */

static void bind_sub(sqlite3_stmt *s, const struct cf_store_subscriber *sub)
{
	bind_str(s, 1, sub->domain);
	bind_str(s, 2, sub->user);
	bind_str(s, 3, sub->ha1[CF_DIGEST_MD5]);
	bind_str(s, 4, sub->ha1[CF_DIGEST_SHA256]);
	bind_str(s, 5, sub->ha1[CF_DIGEST_SHA512_256]);
	sqlite3_bind_int64(s, 6, sub->created);
	sqlite3_bind_int64(s, 7, sub->updated);
}

static int sq_sub_add(struct cf_store *st,
                      const struct cf_store_subscriber *sub)
{
	size_t n = 0;
	sqlite3_stmt *s = NULL;
	int err = stmt(st, S_SUB_ADD, &s);

	if (err)
		return err;
	bind_sub(s, sub);
	err = run(st, s, &n);
	return err ? err : n ? 0 : ENOENT;
}

static int sq_sub_update(struct cf_store *st,
                         const struct cf_store_subscriber *sub)
{
	size_t n = 0;
	sqlite3_stmt *s = NULL;
	int err = stmt(st, S_SUB_UPDATE, &s);

	if (err)
		return err;
	bind_sub(s, sub);
	err = run(st, s, &n);
	return err ? err : n ? 0 : ENOENT;
}

static int sq_sub_remove(struct cf_store *st, const char *user,
                         const char *domain)
{
	size_t n = 0;
	sqlite3_stmt *s = NULL;
	int err = stmt(st, S_SUB_REMOVE, &s);

	if (err)
		return err;
	bind_str(s, 1, domain);
	bind_str(s, 2, user);
	err = run(st, s, &n);
	return err ? err : n ? 0 : ENOENT;
}

/* Copy the row of SUB_COLS into *sub (strings point into the row). */
static void sub_row(sqlite3_stmt *s, struct cf_store_subscriber *sub)
{
	sub->user = col_str(s, 0);
	sub->domain = col_str(s, 1);
	for (int a = 0; a < CF_DIGEST_ALG_COUNT; a++) {
		const char *h = col_str(s, 2 + a);
		size_t n = h ? strlen(h) : 0;

		if (n > CF_DIGEST_HEX_MAX)
			n = 0; /* not an HA1: never matches */
		memcpy(sub->ha1[a], h ? h : "", n);
		sub->ha1[a][n] = '\0';
	}
	sub->created = sqlite3_column_int64(s, 5);
	sub->updated = sqlite3_column_int64(s, 6);
}

static int sq_sub_get(struct cf_store *st, struct cf_store_subscriber *sub)
{
	const char *user = sub->user, *domain = sub->domain;
	sqlite3_stmt *s = NULL;
	int rc, err = stmt(st, S_SUB_GET, &s);

	if (err)
		return err;
	bind_str(s, 1, domain);
	bind_str(s, 2, user);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		sub_row(s, sub);
	else if (rc == SQLITE_DONE)
		err = ENOENT;
	else
		err = cf_store_sqlite_err(((struct sq *)st->be)->db, rc,
		                          "subscriber get");
	done(s);
	sub->user = user; /* the row's strings die with the reset */
	sub->domain = domain;
	return err;
}

static int sq_sub_list(struct cf_store *st, const char *domain,
                       cf_store_subscriber_h *h, void *arg)
{
	sqlite3_stmt *s = NULL;
	int rc, err = stmt(st, domain ? S_SUB_LIST_DOMAIN : S_SUB_LIST, &s);

	if (err)
		return err;
	if (domain)
		bind_str(s, 1, domain);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct cf_store_subscriber sub;

		sub_row(s, &sub);
		if (h && h(&sub, arg))
			break;
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		err = cf_store_sqlite_err(((struct sq *)st->be)->db, rc,
		                          "subscriber list");
	done(s);
	return err;
}

/* -------------------------------------------------------------- forwards */

static int sq_fwd_set(struct cf_store *st, const struct cf_store_forward *f,
                      int64_t now)
{
	bool clear = true;
	sqlite3_stmt *s = NULL;
	size_t n = 0;
	int err;

	for (int i = 0; i < CF_STORE_FWD_N; i++)
		clear = clear && !f->uri[i];
	if (clear) {
		struct cf_store_subscriber sub = {.user = f->user,
		                                  .domain = f->domain};

		/* unknown user: ENOENT even when there is nothing to clear */
		err = sq_sub_get(st, &sub);
		if (err)
			return err;
		err = stmt(st, S_FWD_DEL, &s);
		if (err)
			return err;
		bind_str(s, 1, f->domain);
		bind_str(s, 2, f->user);
		return run(st, s, &n);
	}
	err = stmt(st, S_FWD_SET, &s);
	if (err)
		return err;
	bind_str(s, 1, f->domain);
	bind_str(s, 2, f->user);
	for (int i = 0; i < CF_STORE_FWD_N; i++)
		bind_str(s, 3 + i, f->uri[i]);
	sqlite3_bind_int64(s, 7, now);
	err = run(st, s, &n);
	return err ? err : n ? 0 : ENOENT;
}

static int sq_fwd_list(struct cf_store *st, cf_store_forward_h *h, void *arg)
{
	sqlite3_stmt *s = NULL;
	int rc, err = stmt(st, S_FWD_LIST, &s);

	if (err)
		return err;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct cf_store_forward f;

		f.user = col_str(s, 0);
		f.domain = col_str(s, 1);
		for (int i = 0; i < CF_STORE_FWD_N; i++)
			f.uri[i] = col_str(s, 2 + i);
		if (h && h(&f, arg))
			break;
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		err = cf_store_sqlite_err(((struct sq *)st->be)->db, rc,
		                          "forward list");
	done(s);
	return err;
}

/* -------------------------------------------------------------- location */

static int sq_loc_upsert(struct cf_store *st, const struct cf_store_binding *b,
                         int64_t now)
{
	sqlite3_stmt *s = NULL;
	int err = stmt(st, S_LOC_UPSERT, &s);

	if (err)
		return err;
	bind_str(s, 1, b->aor);
	bind_str(s, 2, b->contact);
	bind_str(s, 3, b->received);
	bind_str(s, 4, b->path);
	bind_str(s, 5, b->instance);
	sqlite3_bind_int64(s, 6, b->reg_id);
	sqlite3_bind_int64(s, 7, b->expires);
	sqlite3_bind_int64(s, 8, b->q);
	bind_str(s, 9, b->call_id);
	sqlite3_bind_int64(s, 10, b->cseq);
	sqlite3_bind_int64(s, 11, b->flags);
	bind_str(s, 12, b->user_agent);
	bind_str(s, 13, b->socket);
	bind_str(s, 14, b->node);
	sqlite3_bind_int64(s, 15, now);
	return run(st, s, NULL);
}

static int sq_loc_delete(struct cf_store *st, const char *aor,
                         const char *contact)
{
	size_t n = 0;
	sqlite3_stmt *s = NULL;
	int err = stmt(st, S_LOC_DELETE, &s);

	if (err)
		return err;
	bind_str(s, 1, aor);
	bind_str(s, 2, contact);
	err = run(st, s, &n);
	return err ? err : n ? 0 : ENOENT;
}

static int sq_loc_delete_aor(struct cf_store *st, const char *aor,
                             size_t *count)
{
	sqlite3_stmt *s = NULL;
	int err = stmt(st, S_LOC_DELETE_AOR, &s);

	if (err)
		return err;
	bind_str(s, 1, aor);
	return run(st, s, count);
}

static int sq_loc_list(struct cf_store *st, const char *aor,
                       cf_store_binding_h *h, void *arg)
{
	sqlite3_stmt *s = NULL;
	int rc, err = stmt(st, aor ? S_LOC_LIST_AOR : S_LOC_LIST, &s);

	if (err)
		return err;
	if (aor)
		bind_str(s, 1, aor);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct cf_store_binding b = {
		    .aor = col_str(s, 0),
		    .contact = col_str(s, 1),
		    .received = col_str(s, 2),
		    .path = col_str(s, 3),
		    .instance = col_str(s, 4),
		    .reg_id = (uint32_t)sqlite3_column_int64(s, 5),
		    .expires = sqlite3_column_int64(s, 6),
		    .q = sqlite3_column_int(s, 7),
		    .call_id = col_str(s, 8),
		    .cseq = (uint32_t)sqlite3_column_int64(s, 9),
		    .flags = (uint32_t)sqlite3_column_int64(s, 10),
		    .user_agent = col_str(s, 11),
		    .socket = col_str(s, 12),
		    .node = col_str(s, 13),
		};

		if (h && h(&b, arg))
			break;
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		err = cf_store_sqlite_err(((struct sq *)st->be)->db, rc,
		                          "location list");
	done(s);
	return err;
}

static int sq_loc_expired(struct cf_store *st, int64_t now, size_t *count)
{
	sqlite3_stmt *s = NULL;
	int err = stmt(st, S_LOC_EXPIRED, &s);

	if (err)
		return err;
	sqlite3_bind_int64(s, 1, now);
	return run(st, s, count);
}

/* ------------------------------------------------------------------ CDRs */

static void bind_ms(sqlite3_stmt *s, int i, int64_t v)
{
	if (v)
		sqlite3_bind_int64(s, i, v);
	else
		sqlite3_bind_null(s, i);
}

static int sq_cdr_put(struct cf_store *st, const struct cf_store_cdr *c,
                      int64_t now)
{
	sqlite3_stmt *s = NULL;
	size_t n = 0;
	int err = stmt(st, S_CDR_PUT, &s);

	if (err)
		return err;
	bind_str(s, 1, c->uid);
	bind_str(s, 2, c->call_id);
	bind_str(s, 3, c->caller);
	bind_str(s, 4, c->callee);
	bind_str(s, 5, c->ruri);
	bind_str(s, 6, c->contact);
	sqlite3_bind_int64(s, 7, c->start_ms);
	bind_ms(s, 8, c->answer_ms);
	bind_ms(s, 9, c->end_ms);
	sqlite3_bind_int64(s, 10, c->duration_ms);
	bind_str(s, 11, c->disposition);
	sqlite3_bind_int64(s, 12, c->code);
	bind_str(s, 13, c->ended_by);
	sqlite3_bind_int64(s, 14, now);
	return run(st, s, &n);
}

static int sq_cdr_list(struct cf_store *st, size_t limit, cf_store_cdr_h *h,
                       void *arg)
{
	sqlite3_stmt *s = NULL;
	int rc, err = stmt(st, S_CDR_LIST, &s);

	if (err)
		return err;
	sqlite3_bind_int64(s, 1, limit ? (sqlite3_int64)limit : -1);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct cf_store_cdr c;

		c.id = sqlite3_column_int64(s, 0);
		c.uid = col_str(s, 1);
		c.call_id = col_str(s, 2);
		c.caller = col_str(s, 3);
		c.callee = col_str(s, 4);
		c.ruri = col_str(s, 5);
		c.contact = col_str(s, 6);
		c.start_ms = sqlite3_column_int64(s, 7);
		c.answer_ms = sqlite3_column_int64(s, 8);
		c.end_ms = sqlite3_column_int64(s, 9);
		c.duration_ms = sqlite3_column_int64(s, 10);
		c.disposition = col_str(s, 11);
		c.code = (int)sqlite3_column_int64(s, 12);
		c.ended_by = col_str(s, 13);
		if (h && h(&c, arg))
			break;
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		err = cf_store_sqlite_err(((struct sq *)st->be)->db, rc,
		                          "cdr list");
	done(s);
	return err;
}

static int sq_cdr_interrupt(struct cf_store *st, int64_t now_ms,
                            size_t *count)
{
	sqlite3_stmt *s = NULL;
	int err = stmt(st, S_CDR_INTERRUPT, &s);

	if (err)
		return err;
	sqlite3_bind_int64(s, 1, now_ms);
	sqlite3_bind_int64(s, 2, now_ms / 1000);
	return run(st, s, count);
}

const struct cf_store_ops cf_store_sqlite_ops = {
    .name = "sqlite",
    .version_latest = cf_store_sqlite_migrations_latest,
    .open = sq_open,
    .close = sq_close,
    .version = sq_version,
    .txn = sq_txn,
    .domain_add = sq_domain_add,
    .domain_set_algs = sq_domain_set_algs,
    .domain_remove = sq_domain_remove,
    .domain_get = sq_domain_get,
    .domain_list = sq_domain_list,
    .subscriber_add = sq_sub_add,
    .subscriber_update = sq_sub_update,
    .subscriber_remove = sq_sub_remove,
    .subscriber_get = sq_sub_get,
    .subscriber_list = sq_sub_list,
    .forward_set = sq_fwd_set,
    .forward_list = sq_fwd_list,
    .location_upsert = sq_loc_upsert,
    .location_delete = sq_loc_delete,
    .location_delete_aor = sq_loc_delete_aor,
    .location_list = sq_loc_list,
    .location_delete_expired = sq_loc_expired,
    .cdr_put = sq_cdr_put,
    .cdr_list = sq_cdr_list,
    .cdr_interrupt = sq_cdr_interrupt,
};
