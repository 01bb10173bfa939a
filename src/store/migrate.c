/* SPDX-License-Identifier: BSD-3-Clause */
/* migrate.c - the SQLite schema, as numbered migrations applied in order at
 * open; the version reached is recorded in schema_version. A migration is
 * never edited once released: a change is a new migration. */
#include <errno.h>
#include <sqlite3.h>
#include <time.h>

#include "store/store_priv.h"

struct migration {
	unsigned version;
	const char *desc;
	const char *sql;
};

/* Later issues append their tables here (presence, messages, CDRs...). */
static const struct migration migrations[] = {
    {1, "domains and subscribers",
     "CREATE TABLE domains ("
     " id INTEGER PRIMARY KEY,"
     " name TEXT NOT NULL UNIQUE COLLATE NOCASE,"
     " realm TEXT NOT NULL,"
     " created INTEGER NOT NULL);"
     /* passwords are never stored: one HA1 per digest algorithm */
     "CREATE TABLE subscribers ("
     " id INTEGER PRIMARY KEY,"
     " domain_id INTEGER NOT NULL"
     "  REFERENCES domains(id) ON DELETE CASCADE,"
     " user TEXT NOT NULL,"
     " ha1_md5 TEXT NOT NULL,"
     " ha1_sha256 TEXT NOT NULL,"
     " ha1_sha512_256 TEXT NOT NULL,"
     " created INTEGER NOT NULL,"
     " updated INTEGER NOT NULL,"
     " UNIQUE (domain_id, user));"},
    {2, "location",
     "CREATE TABLE location ("
     " id INTEGER PRIMARY KEY,"
     " aor TEXT NOT NULL,"
     " contact TEXT NOT NULL,"
     " received TEXT,"
     " path TEXT,"
     " instance TEXT,"
     " reg_id INTEGER NOT NULL DEFAULT 0,"
     " expires INTEGER NOT NULL,"      /* wall clock, s since the epoch */
     " q INTEGER NOT NULL DEFAULT -1," /* x1000; -1 absent */
     " call_id TEXT NOT NULL,"
     " cseq INTEGER NOT NULL,"
     " flags INTEGER NOT NULL DEFAULT 0,"
     " user_agent TEXT,"
     " socket TEXT,"
     " node TEXT NOT NULL DEFAULT '',"
     " updated INTEGER NOT NULL,"
     " UNIQUE (aor, contact));"
     "CREATE INDEX location_expires ON location (expires);"},
    {3, "domains.digest_algs (per-domain digest algorithm order)",
     "ALTER TABLE domains ADD COLUMN digest_algs TEXT;"},
    {4, "forwards (per-user failure routes, issue 4)",
     "CREATE TABLE forwards ("
     " subscriber_id INTEGER PRIMARY KEY"
     "  REFERENCES subscribers(id) ON DELETE CASCADE,"
     " busy TEXT,"
     " noanswer TEXT,"
     " offline TEXT,"
     " unavailable TEXT,"
     " updated INTEGER NOT NULL);"},
    {5, "cdrs: call detail records (issue 4)",
     "CREATE TABLE cdrs ("
     " id INTEGER PRIMARY KEY,"
     " uid TEXT NOT NULL UNIQUE,"
     " call_id TEXT NOT NULL,"
     " caller TEXT, callee TEXT, ruri TEXT, contact TEXT,"
     " start_ms INTEGER NOT NULL,"
     " answer_ms INTEGER, end_ms INTEGER, duration_ms INTEGER,"
     " disposition TEXT NOT NULL,"
     " code INTEGER,"
     " ended_by TEXT,"
     " node TEXT NOT NULL DEFAULT '',"
     " updated INTEGER NOT NULL);"
     "CREATE INDEX cdrs_open ON cdrs(disposition) WHERE disposition = 'open';"},
};

#define NMIGRATIONS (sizeof(migrations) / sizeof(migrations[0]))

unsigned cf_store_sqlite_migrations_latest(void)
{
	return migrations[NMIGRATIONS - 1].version;
}

static int current(sqlite3 *db, unsigned *v)
{
	sqlite3_stmt *s = NULL;
	int rc;

	rc = sqlite3_prepare_v2(db,
	                        "SELECT COALESCE(MAX(version), 0) "
	                        "FROM schema_version",
	                        -1, &s, NULL);
	if (rc == SQLITE_OK) {
		rc = sqlite3_step(s);
		if (rc == SQLITE_ROW) {
			*v = (unsigned)sqlite3_column_int64(s, 0);
			rc = SQLITE_OK;
		}
	}
	sqlite3_finalize(s);
	return rc;
}

static int record(sqlite3 *db, const struct migration *m)
{
	sqlite3_stmt *s = NULL;
	int rc;

	rc = sqlite3_prepare_v2(db,
	                        "INSERT INTO schema_version "
	                        "(version, description, applied) "
	                        "VALUES (?1, ?2, ?3)",
	                        -1, &s, NULL);
	if (rc == SQLITE_OK) {
		sqlite3_bind_int64(s, 1, m->version);
		sqlite3_bind_text(s, 2, m->desc, -1, SQLITE_STATIC);
		sqlite3_bind_int64(s, 3, (sqlite3_int64)time(NULL));
		rc = sqlite3_step(s);
		if (rc == SQLITE_DONE)
			rc = SQLITE_OK;
	}
	sqlite3_finalize(s);
	return rc;
}

int cf_store_sqlite_migrate(sqlite3 *db, unsigned target, unsigned *version)
{
	unsigned latest = cf_store_sqlite_migrations_latest(), cur = 0;
	int rc, err = 0;

	if (!db || !version || target > latest)
		return EINVAL;
	rc = sqlite3_exec(db,
	                  "CREATE TABLE IF NOT EXISTS schema_version ("
	                  " version INTEGER PRIMARY KEY,"
	                  " description TEXT NOT NULL,"
	                  " applied INTEGER NOT NULL)",
	                  NULL, NULL, NULL);
	if (rc != SQLITE_OK)
		return cf_store_sqlite_err(db, rc, "schema_version");

	/* One transaction per migration, the version re-read under the write
	 * lock: two processes opening at once apply each migration once. */
	for (size_t i = 0; i < NMIGRATIONS; i++) {
		const struct migration *m = &migrations[i];

		rc = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
		if (rc != SQLITE_OK)
			return cf_store_sqlite_err(db, rc, "migrate: begin");
		rc = current(db, &cur);
		if (rc != SQLITE_OK) {
			err = cf_store_sqlite_err(db, rc, "migrate: version");
			goto out;
		}
		if (cur > latest) {
			cf_log(CF_LOG_ERR, NULL,
			       "store: database schema version %u is newer "
			       "than this program's %u",
			       cur, latest);
			err = EPROTO;
			goto out;
		}
		if (m->version <= cur || m->version > target) {
			rc = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
			if (rc != SQLITE_OK)
				return cf_store_sqlite_err(db, rc, "commit");
			continue;
		}
		rc = sqlite3_exec(db, m->sql, NULL, NULL, NULL);
		if (rc == SQLITE_OK)
			rc = record(db, m);
		if (rc != SQLITE_OK) {
			cf_log(CF_LOG_ERR, NULL,
			       "store: migration %u (%s) failed: %s",
			       m->version, m->desc, sqlite3_errmsg(db));
			err = (rc & 0xff) == SQLITE_BUSY ? ETIMEDOUT : EIO;
			goto out;
		}
		rc = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
		if (rc != SQLITE_OK)
			return cf_store_sqlite_err(db, rc, "migrate: commit");
		cf_log(CF_LOG_NOTICE, NULL,
		       "store: schema version %u -> %u (%s)", cur, m->version,
		       m->desc);
		cur = m->version;
	}
	*version = cur;
	return 0;
out:
	sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	return err;
}
