#include "migrate.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "db.h"
#include "log.h"
#include "sig.h"
#include "wait.h"

struct applied {
	int64_t version;
	char *name;
	char *checksum;
	char *applied_at;
	char *duration_ms;
};

/* The history table as read: sorted by version. */
struct history {
	struct applied *rows;
	size_t n;
	bool table_missing;
	char *table;  /* "schema"."table", quoted */
	char *schema; /* "schema", quoted */
};

static void history_release(struct history *h)
{
	for (size_t i = 0; i < h->n; i++) {
		free(h->rows[i].name);
		free(h->rows[i].checksum);
		free(h->rows[i].applied_at);
		free(h->rows[i].duration_ms);
	}
	free(h->rows);
	h->rows = NULL;
	h->n = 0;
}

static enum status query_failure(const struct db_error *err, const char *what)
{
	const struct log_field fields[] = {
		{ "detail", err->detail[0] ? err->detail : NULL },
		{ "hint", err->hint[0] ? err->hint : NULL },
		{ "sqlstate", err->sqlstate[0] ? err->sqlstate : NULL },
		{ NULL, NULL },
	};

	if (err->interrupted || sig_caught())
		return ST_SIGNAL;
	log_event(LOG_ERROR, fields, "could not %s: %s%s%s%s", what, err->message,
		  err->sqlstate[0] ? " (SQLSTATE " : "", err->sqlstate, err->sqlstate[0] ? ")" : "");
	if (strcmp(err->sqlstate, "42501") == 0)
		return ST_PERMISSION;
	return err->connection_lost || !err->sqlstate[0] ? ST_UNAVAILABLE : ST_INTERNAL;
}

static enum status history_read(PGconn *conn, struct history *h)
{
	struct db_error err;
	char *sql = xasprintf("SELECT version, name, checksum, applied_at, duration_ms FROM %s "
			      "ORDER BY version", h->table);
	PGresult *res = db_query(conn, sql, 0, NULL, &err);
	enum status st = ST_OK;

	history_release(h);
	free(sql);
	h->table_missing = false;
	if (res && PQresultStatus(res) == PGRES_TUPLES_OK) {
		h->n = (size_t)PQntuples(res);
		h->rows = xcalloc(h->n, sizeof(*h->rows));
		for (size_t i = 0; i < h->n; i++) {
			struct applied *a = &h->rows[i];

			a->version = strtoll(PQgetvalue(res, (int)i, 0), NULL, 10);
			a->name = xstrdup(PQgetvalue(res, (int)i, 1));
			a->checksum = xstrdup(PQgetvalue(res, (int)i, 2));
			a->applied_at = xstrdup(PQgetvalue(res, (int)i, 3));
			a->duration_ms = xstrdup(PQgetvalue(res, (int)i, 4));
		}
	} else if (strcmp(err.sqlstate, "42P01") == 0 || strcmp(err.sqlstate, "3F000") == 0) {
		h->table_missing = true;
	} else {
		st = query_failure(&err, "read the migration history");
	}
	PQclear(res);
	return st;
}

static const struct applied *history_find(const struct history *h, int64_t version)
{
	size_t lo = 0, hi = h->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (h->rows[mid].version == version)
			return &h->rows[mid];
		if (h->rows[mid].version < version)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static bool in_list(const struct mig_list *list, int64_t version)
{
	for (size_t i = 0; i < list->n; i++)
		if (list->items[i].version == version)
			return true;
	return false;
}

/* Reads and hashes one file. Returns 0, or -1 after logging. */
static int file_checksum(const struct migration *m, char out[65])
{
	struct buf sql;
	int rc;

	buf_init(&sql);
	rc = mig_read(m, &sql);
	if (rc == 0)
		mig_checksum(sql.data, sql.len, out);
	buf_release(&sql);
	return rc;
}

/*
 * Compares the files with the history: an applied file whose checksum changed stops
 * everything. Counts what is pending; warns about applied versions without a file.
 */
static enum status history_check(const struct history *h, const struct mig_list *list,
				 size_t *pending)
{
	*pending = 0;
	for (size_t i = 0; i < list->n; i++) {
		const struct migration *m = &list->items[i];
		const struct applied *a = history_find(h, m->version);
		char sum[65];

		if (!a) {
			(*pending)++;
			continue;
		}
		if (file_checksum(m, sum) < 0)
			return ST_MIGRATION;
		if (strcmp(sum, a->checksum) != 0) {
			char *hint = xasprintf("restore the file as applied (\"%s\"), or put the change in "
					       "a new migration (applied checksum %s, file %s)", a->name,
					       a->checksum, sum);
			const struct log_field fields[] = { { "hint", hint }, { "file", m->path },
							    { NULL, NULL } };

			log_event(LOG_ERROR, fields, "checksum of applied migration \"%s\" has changed",
				  m->file);
			free(hint);
			return ST_MIGRATION;
		}
	}
	for (size_t i = 0; i < h->n; i++)
		if (!in_list(list, h->rows[i].version))
			log_warn("applied migration %" PRId64 " (\"%s\") has no file in the directory",
				 h->rows[i].version, h->rows[i].name);
	return ST_OK;
}

/* Names whoever holds the lock, so that a stuck deploy says who it waits for. */
static void log_lock_holder(PGconn *conn, const char *key)
{
	static const char sql[] =
		"SELECT a.pid, coalesce(a.application_name, ''), "
		"coalesce(host(a.client_addr), 'local socket'), a.state "
		"FROM pg_catalog.pg_locks l JOIN pg_catalog.pg_stat_activity a ON a.pid = l.pid "
		"WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1 "
		"AND l.classid::bigint = (($1::bigint >> 32) & 4294967295) "
		"AND l.objid::bigint = ($1::bigint & 4294967295)";
	const char *params[] = { key };
	struct db_error err;
	PGresult *res = db_query(conn, sql, 1, params, &err);

	if (res && PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) > 0)
		log_error("the migration lock is held by pid %s (application \"%s\", client %s, %s)",
			  PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1), PQgetvalue(res, 0, 2),
			  PQgetvalue(res, 0, 3));
	PQclear(res);
}

/*
 * Polls pg_try_advisory_lock instead of blocking in pg_advisory_lock: a session blocked
 * there keeps a snapshot open, which makes CREATE INDEX CONCURRENTLY in the holder wait
 * for it forever.
 */
static enum status lock_take(const struct config *cfg, PGconn *conn, const char *key)
{
	const char *params[] = { key };
	int64_t deadline = clock_ms() + cfg->lock_wait_ms;
	uint64_t rng = random_seed();

	for (int attempt = 1;; attempt++) {
		struct db_error err;
		PGresult *res = db_query(conn, "SELECT pg_catalog.pg_try_advisory_lock($1::bigint)", 1,
					 params, &err);
		bool got = res && PQresultStatus(res) == PGRES_TUPLES_OK &&
			   strcmp(PQgetvalue(res, 0, 0), "t") == 0;
		bool failed = !res || PQresultStatus(res) != PGRES_TUPLES_OK;

		PQclear(res);
		if (failed)
			return query_failure(&err, "take the migration lock");
		if (got)
			return ST_OK;
		if (attempt == 1)
			log_info("waiting for another pgboot to finish migrating");
		if (clock_ms() >= deadline) {
			log_error("could not take the migration lock within %s (migrate.lock_wait)",
				  cfg_get(cfg, CFG_MIGRATE_LOCK_WAIT));
			log_lock_holder(conn, key);
			return ST_UNAVAILABLE;
		}
		if (wait_sleep(wait_backoff(cfg->initial_delay_ms, cfg->max_delay_ms * 4, attempt,
					    &rng)) < 0)
			return ST_SIGNAL;
	}
}

static void lock_release(PGconn *conn, const char *key)
{
	const char *params[] = { key };
	struct db_error err;

	if (db_exec(conn, "SELECT pg_catalog.pg_advisory_unlock($1::bigint)", 1, params, &err) < 0)
		log_debug("could not release the migration lock: %s", err.message);
}

/*
 * Creates the history table, and its schema when missing, under the lock so replicas do
 * not race. The schema is looked up first: CREATE SCHEMA IF NOT EXISTS still needs the
 * CREATE privilege on the database, which production roles often lack.
 */
static enum status history_create(PGconn *conn, const struct config *cfg,
				  const struct history *h)
{
	const char *params[] = { cfg->table_schema };
	struct db_error err;
	enum status st = ST_OK;
	PGresult *res = db_query(conn, "SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = $1",
				 1, params, &err);
	bool have_schema = res && PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1;
	char *sql;

	if (!res || PQresultStatus(res) != PGRES_TUPLES_OK) {
		PQclear(res);
		return query_failure(&err, "look up the migration history schema");
	}
	PQclear(res);
	sql = xasprintf("%s%s%sCREATE TABLE IF NOT EXISTS %s ("
			"version bigint PRIMARY KEY, name text NOT NULL, checksum text NOT NULL, "
			"applied_at timestamptz NOT NULL DEFAULT now(), "
			"duration_ms bigint NOT NULL, applied_by text NOT NULL)",
			have_schema ? "" : "CREATE SCHEMA IF NOT EXISTS ", have_schema ? "" : h->schema,
			have_schema ? "" : "; ", h->table);
	if (db_exec(conn, sql, 0, NULL, &err) < 0)
		st = query_failure(&err, "create the migration history table");
	else
		log_info("created migration history table %s", h->table);
	free(sql);
	return st;
}

/* "dir/0003_x.sql:3:8: ERROR: message (SQLSTATE 42601)", with detail and hint lines. */
static enum status report_failure(const struct migration *m, const struct buf *sql,
				  const struct db_error *err)
{
	char where[64] = "", line_s[16], col_s[16];
	struct log_field fields[] = {
		{ "detail", err->detail[0] ? err->detail : NULL },
		{ "hint", err->hint[0] ? err->hint : NULL },
		{ "sqlstate", err->sqlstate[0] ? err->sqlstate : NULL },
		{ "file", m->path },
		{ "line", NULL },
		{ "column", NULL },
		{ NULL, NULL },
	};

	if (err->interrupted || sig_caught()) {
		log_error("migration \"%s\" was cancelled; its transaction was rolled back", m->path);
		return ST_SIGNAL;
	}
	if (err->connection_lost || !err->sqlstate[0]) {
		log_error("lost the connection while applying \"%s\": %s", m->path, err->message);
		return ST_UNAVAILABLE;
	}
	if (err->position > 0) {
		int line, col;

		mig_position(sql->data, sql->len, err->position, &line, &col);
		snprintf(where, sizeof(where), ":%d:%d", line, col);
		snprintf(line_s, sizeof(line_s), "%d", line);
		snprintf(col_s, sizeof(col_s), "%d", col);
		fields[4].value = line_s;
		fields[5].value = col_s;
	}
	log_event(LOG_ERROR, fields, "%s%s: ERROR: %s (SQLSTATE %s)", m->path, where, err->message,
		  err->sqlstate);
	return ST_MIGRATION;
}

static enum status record(PGconn *conn, const struct history *h, const struct migration *m,
			  const char *checksum, int64_t ms)
{
	char version[24], duration[24], host[256] = "";
	const char *params[] = { version, m->file, checksum, duration, host };
	char *sql = xasprintf("INSERT INTO %s (version, name, checksum, duration_ms, applied_by) "
			      "VALUES ($1, $2, $3, $4, session_user || coalesce('@' || nullif($5, ''), ''))",
			      h->table);
	struct db_error err;
	int rc;

	snprintf(version, sizeof(version), "%" PRId64, m->version);
	snprintf(duration, sizeof(duration), "%" PRId64, ms);
	/* A truncated name may lack its NUL; a failure leaves the buffer empty. */
	if (gethostname(host, sizeof(host) - 1) < 0)
		memset(host, 0, sizeof(host));
	rc = db_exec(conn, sql, 5, params, &err);
	free(sql);
	return rc < 0 ? query_failure(&err, "record the migration in the history") : ST_OK;
}

/* BEGIN; the file; its history row; COMMIT. Anything failing rolls all of it back. */
static enum status apply_one(PGconn *conn, const struct history *h, const struct migration *m,
			     const char *label)
{
	int64_t start = clock_ms();
	enum status st = ST_MIGRATION;
	struct db_error err;
	struct buf sql;
	char sum[65];

	buf_init(&sql);
	if (mig_read(m, &sql) < 0)
		goto out;
	mig_checksum(sql.data, sql.len, sum);
	log_info("applying %s %s", m->file, label);
	if (db_exec(conn, "BEGIN", 0, NULL, &err) < 0) {
		st = query_failure(&err, "begin a transaction");
		goto out;
	}
	if (db_exec(conn, sql.data, 0, NULL, &err) < 0) {
		st = report_failure(m, &sql, &err);
		goto rollback;
	}
	if (PQtransactionStatus(conn) != PQTRANS_INTRANS) {
		log_error("migration \"%s\" ended pgboot's transaction itself (COMMIT or ROLLBACK in "
			  "the file): its statements may be only partly applied", m->path);
		goto rollback;
	}
	st = record(conn, h, m, sum, clock_ms() - start);
	if (st != ST_OK)
		goto rollback;
	if (db_exec(conn, "COMMIT", 0, NULL, &err) < 0) {
		st = report_failure(m, &sql, &err);
		goto rollback;
	}
	log_info("applied %s in %" PRId64 "ms", m->file, clock_ms() - start);
	st = ST_OK;
	goto out;
rollback:
	if (PQstatus(conn) == CONNECTION_OK && PQtransactionStatus(conn) != PQTRANS_IDLE)
		db_exec(conn, "ROLLBACK", 0, NULL, &err);
out:
	buf_release(&sql);
	return st;
}

static void history_init(PGconn *conn, const struct config *cfg, struct history *h)
{
	char *table = db_quote_ident(conn, cfg->table_name);

	memset(h, 0, sizeof(*h));
	h->schema = db_quote_ident(conn, cfg->table_schema);
	h->table = xasprintf("%s.%s", h->schema, table);
	free(table);
}

static void history_free(struct history *h)
{
	history_release(h);
	free(h->table);
	free(h->schema);
}

/* Under the lock: the history again (another runner may have applied some), then the rest. */
static enum status apply_locked(PGconn *conn, const struct config *cfg, struct history *h,
				const struct mig_list *list, size_t *applied)
{
	size_t pending, done = 0;
	enum status st = history_read(conn, h);

	if (st == ST_OK && h->table_missing)
		st = history_create(conn, cfg, h);
	if (st == ST_OK)
		st = history_check(h, list, &pending);
	for (size_t i = 0; st == ST_OK && i < list->n; i++) {
		const struct migration *m = &list->items[i];
		char label[48];

		if (history_find(h, m->version))
			continue;
		if (h->n && m->version < h->rows[h->n - 1].version)
			log_warn("migration %s is older than the newest applied one (%" PRId64 ")",
				 m->file, h->rows[h->n - 1].version);
		snprintf(label, sizeof(label), "[%zu/%zu]", done + 1, pending);
		st = apply_one(conn, h, m, label);
		if (st == ST_OK)
			done++;
	}
	*applied = done;
	return st;
}

enum status mig_apply(const struct config *cfg, PGconn *conn, const struct mig_list *list)
{
	int64_t start = clock_ms();
	char key[24], elapsed[32];
	struct history h;
	size_t pending = 0, applied = 0;
	enum status st;

	history_init(conn, cfg, &h);
	st = history_read(conn, &h);
	if (st == ST_OK)
		st = history_check(&h, list, &pending);
	if (st != ST_OK || pending == 0) {
		if (st == ST_OK)
			log_info("no pending migrations (%zu applied)", h.n);
		goto out;
	}
	snprintf(key, sizeof(key), "%" PRId64, sha256_int64(h.table));
	st = lock_take(cfg, conn, key);
	if (st != ST_OK)
		goto out;
	st = apply_locked(conn, cfg, &h, list, &applied);
	lock_release(conn, key);
	format_seconds(clock_ms() - start, elapsed, sizeof(elapsed));
	if (st == ST_OK && applied == 0)
		log_info("no pending migrations: another runner applied them");
	else if (st == ST_OK)
		log_info("applied %zu migration%s in %s", applied, applied == 1 ? "" : "s", elapsed);
out:
	history_free(&h);
	return st;
}

enum status mig_status(const struct config *cfg, PGconn *conn, const struct mig_list *list)
{
	struct history h = { 0 };
	size_t pending = 0, changed = 0;
	enum status st = ST_OK;

	if (conn) {
		history_init(conn, cfg, &h);
		st = history_read(conn, &h);
	}
	for (size_t i = 0; st == ST_OK && i < list->n; i++) {
		const struct migration *m = &list->items[i];
		const struct applied *a = history_find(&h, m->version);
		char sum[65];

		if (!a) {
			pending++;
			printf("pending %s\n", m->file);
		} else if (file_checksum(m, sum) < 0) {
			st = ST_MIGRATION;
		} else {
			changed += strcmp(sum, a->checksum) != 0;
			printf("%s %s %s %sms\n", strcmp(sum, a->checksum) ? "changed" : "applied",
			       m->file, a->applied_at, a->duration_ms);
		}
	}
	for (size_t i = 0; st == ST_OK && i < h.n; i++)
		if (!in_list(list, h.rows[i].version))
			printf("missing %s %s (no file)\n", h.rows[i].name, h.rows[i].applied_at);
	fflush(stdout);
	if (st == ST_OK)
		log_info("%zu applied, %zu pending, %zu changed", h.n, pending, changed);
	history_free(&h);
	return st;
}
