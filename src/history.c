#include "history.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "db.h"
#include "log.h"

void history_init(struct history *h, PGconn *conn, const struct config *cfg)
{
	char *table = db_quote_ident(conn, cfg->table_name);
	char *progress_name = xasprintf("%s_progress", cfg->table_name);
	char *progress = db_quote_ident(conn, progress_name);

	memset(h, 0, sizeof(*h));
	h->schema_name = xstrdup(cfg->table_schema);
	h->schema = db_quote_ident(conn, cfg->table_schema);
	h->table = xasprintf("%s.%s", h->schema, table);
	h->progress = xasprintf("%s.%s", h->schema, progress);
	free(table);
	free(progress_name);
	free(progress);
}

static void rows_release(struct history *h)
{
	for (size_t i = 0; i < h->n; i++) {
		free(h->rows[i].version);
		free(h->rows[i].name);
		free(h->rows[i].checksum);
		free(h->rows[i].applied_at);
		free(h->rows[i].duration_ms);
	}
	free(h->rows);
	h->rows = NULL;
	h->n = 0;
}

void history_release(struct history *h)
{
	rows_release(h);
	free(h->schema_name);
	free(h->schema);
	free(h->table);
	free(h->progress);
	memset(h, 0, sizeof(*h));
}

/* The type of bigint, as PQftype reports it (pg_type.h's INT8OID; libpq does not export it). */
#define INT8OID 20

static bool is_version(const char *key)
{
	return key && *key >= '0' && *key <= '9';
}

/* A key as read: versions in canonical form (a text column may hold "0001" or "1.0"). */
static char *read_key(const char *value)
{
	char *canon = is_version(value) ? mig_version_canon(value, strlen(value)) : NULL;

	return canon ? canon : xstrdup(value);
}

static int by_key(const void *x, const void *y)
{
	const struct history_row *a = x, *b = y;

	return mig_version_cmp(a->version, b->version);
}

enum status history_read(struct history *h, PGconn *conn)
{
	struct db_error err;
	char *sql = xasprintf("SELECT version, name, checksum, applied_at, duration_ms FROM %s",
			      h->table);
	PGresult *res = db_query(conn, sql, 0, NULL, &err);
	enum status st = ST_OK;

	rows_release(h);
	free(sql);
	h->table_missing = false;
	if (res && PQresultStatus(res) == PGRES_TUPLES_OK) {
		h->version_bigint = PQftype(res, 0) == INT8OID;
		h->n = (size_t)PQntuples(res);
		h->rows = xcalloc(h->n + 1, sizeof(*h->rows));
		for (size_t i = 0; i < h->n; i++) {
			struct history_row *a = &h->rows[i];

			a->version = read_key(PQgetvalue(res, (int)i, 0));
			a->name = xstrdup(PQgetvalue(res, (int)i, 1));
			a->checksum = xstrdup(PQgetvalue(res, (int)i, 2));
			a->applied_at = xstrdup(PQgetvalue(res, (int)i, 3));
			a->duration_ms = xstrdup(PQgetvalue(res, (int)i, 4));
		}
	} else if (db_is(&err, SQLSTATE_UNDEFINED_TABLE) || db_is(&err, SQLSTATE_UNDEFINED_SCHEMA)) {
		h->table_missing = true;
	} else {
		st = db_report(&err, "read the migration history");
	}
	PQclear(res);
	if (h->n)
		qsort(h->rows, h->n, sizeof(*h->rows), by_key);
	return st;
}

const struct history_row *history_find(const struct history *h, const char *version)
{
	size_t lo = 0, hi = h->n;

	while (version && lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = mig_version_cmp(h->rows[mid].version, version);

		if (c == 0)
			return &h->rows[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

const struct history_row *history_applied(const struct history *h, const struct migration *m)
{
	const struct history_row *a = history_find(h, mig_history_key(m));

	return a && !(m->version == NULL && a->stale) ? a : NULL;
}

const struct history_row *history_newest(const struct history *h)
{
	for (size_t i = h->n; i > 0; i--)
		if (is_version(h->rows[i - 1].version))
			return &h->rows[i - 1];
	return NULL;
}

/* Whether key is a whole number that fits in a bigint. */
static bool fits_bigint(const char *key)
{
	size_t n = strspn(key, "0123456789");

	return n > 0 && key[n] == '\0' &&
	       (n < 19 || (n == 19 && strcmp(key, "9223372036854775807") <= 0));
}

bool history_fits(const struct history *h, const struct migration *m)
{
	const char *key = mig_history_key(m);
	char *hint;

	if (!h->version_bigint || fits_bigint(key))
		return true;
	hint = xasprintf("an earlier pgboot made that table; to record such versions, run "
			 "ALTER TABLE %s ALTER COLUMN version TYPE text (and on %s)", h->table,
			 h->progress);
	{
		const struct log_field fields[] = { { "hint", hint }, { NULL, NULL } };

		log_event(LOG_ERROR, fields, "migration \"%s\": version \"%s\" cannot be recorded in "
			  "%s, whose version column is bigint", m->file, key, h->table);
	}
	free(hint);
	return false;
}

enum status history_create(const struct history *h, PGconn *conn)
{
	const char *params[] = { h->schema_name };
	struct db_error err;
	enum status st = ST_OK;
	PGresult *res = db_query(conn, "SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = $1",
				 1, params, &err);
	bool have_schema = res && PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1;
	char *sql;

	if (!res || PQresultStatus(res) != PGRES_TUPLES_OK) {
		PQclear(res);
		return db_report(&err, "look up the migration history schema");
	}
	PQclear(res);
	sql = xasprintf("%s%s%sCREATE TABLE IF NOT EXISTS %s ("
			"version text PRIMARY KEY, name text NOT NULL, checksum text NOT NULL, "
			"applied_at timestamptz NOT NULL DEFAULT now(), "
			"duration_ms bigint NOT NULL, applied_by text NOT NULL)",
			have_schema ? "" : "CREATE SCHEMA IF NOT EXISTS ", have_schema ? "" : h->schema,
			have_schema ? "" : "; ", h->table);
	if (db_exec(conn, sql, 0, NULL, &err) < 0)
		st = db_report(&err, "create the migration history table");
	else
		log_info("created migration history table %s", h->table);
	free(sql);
	return st;
}

int history_matches(const struct history_row *a, const struct migration *m, char sum[65])
{
	if (mig_file_checksum(m, sum) < 0)
		return -1;
	return strcmp(sum, a->checksum) == 0;
}

static void log_out_of_order(const struct migration *m, const struct history_row *newest)
{
	const struct log_field fields[] = {
		{ "hint", "give it a version above the newest, or set migrate.out_of_order "
			  "= allow to apply it anyway" },
		{ NULL, NULL },
	};

	log_event(LOG_ERROR, fields, "migration \"%s\" is older than the newest applied "
		  "one, \"%s\" (version %s)", m->file, newest->name, newest->version);
}

static void log_changed(const struct migration *m, const struct history_row *a, const char *sum)
{
	char *hint = xasprintf("restore the file as applied (\"%s\"), or put the change in "
			       "a new migration (applied checksum %s, file %s)", a->name,
			       a->checksum, sum);
	const struct log_field fields[] = { { "hint", hint }, { "file", m->path }, { NULL, NULL } };

	log_event(LOG_ERROR, fields, "checksum of applied migration \"%s\" has changed", m->file);
	free(hint);
}

enum status history_check(struct history *h, const struct config *cfg,
			  const struct mig_list *list, size_t *pending, bool warn)
{
	const struct history_row *newest = history_newest(h);

	*pending = 0;
	for (size_t i = 0; i < h->n; i++)
		h->rows[i].listed = false;
	for (size_t i = 0; i < list->n; i++) {
		const struct migration *m = &list->items[i];
		struct history_row *a = (struct history_row *)history_find(h, mig_history_key(m));
		char sum[65];
		int same;

		if (a)
			a->listed = true;

		if (!a && newest && m->version && mig_version_cmp(m->version, newest->version) < 0 &&
		    !cfg->out_of_order) {
			log_out_of_order(m, newest);
			return ST_MIGRATION;
		}
		if (!a && !history_fits(h, m))
			return ST_MIGRATION;
		if (!a) {
			(*pending)++;
			continue;
		}
		if ((same = history_matches(a, m, sum)) < 0)
			return ST_MIGRATION;
		a->stale = !same && !m->version;
		*pending += a->stale;
		if (!same && m->version) {
			log_changed(m, a, sum);
			return ST_MIGRATION;
		}
	}
	for (size_t i = 0; warn && i < h->n; i++)
		/* NOLINTNEXTLINE(clang-analyzer-core.NullDereference): rows holds n entries */
		if (!h->rows[i].listed)
			log_warn("applied migration %s (\"%s\") has no file in the directory",
				 h->rows[i].version, h->rows[i].name);
	return ST_OK;
}

enum status history_has(const struct history *h, PGconn *conn, const char *version,
			const char *checksum, bool *found)
{
	const char *params[] = { version, checksum };
	char *sql = xasprintf("SELECT 1 FROM %s WHERE version = $1%s", h->table,
			      checksum ? " AND checksum = $2" : "");
	struct db_error err;
	PGresult *res;
	enum status st = ST_OK;

	res = db_query(conn, sql, checksum ? 2 : 1, params, &err);
	if (!res || PQresultStatus(res) != PGRES_TUPLES_OK)
		st = db_report(&err, "read the migration history");
	else
		*found = PQntuples(res) > 0;
	PQclear(res);
	free(sql);
	return st;
}

void history_insert_init(struct history_insert *ins, const struct history *h,
			 const struct migration *m, const char *checksum, int64_t duration_ms)
{
	/* Without a duration, the server's: the time since the transaction began. */
	/* A repeatable file (no version) replaces its row: its key is its file name. */
	ins->sql = xasprintf("INSERT INTO %s (version, name, checksum, duration_ms, applied_by) "
			     "VALUES ($1, $2, $3, coalesce($4::bigint, (extract(epoch FROM "
			     "clock_timestamp() - now()) * 1000)::bigint), session_user || "
			     "coalesce('@' || nullif($5, ''), ''))%s", h->table, m->version ? "" :
			     " ON CONFLICT (version) DO UPDATE SET checksum = excluded.checksum, "
			     "applied_at = now(), duration_ms = excluded.duration_ms, "
			     "applied_by = excluded.applied_by");
	snprintf(ins->duration, sizeof(ins->duration), "%" PRId64, duration_ms);
	/* A truncated name may lack its NUL; a failure leaves the buffer empty. */
	memset(ins->host, 0, sizeof(ins->host));
	if (gethostname(ins->host, sizeof(ins->host) - 1) < 0)
		memset(ins->host, 0, sizeof(ins->host));
	ins->params[0] = mig_history_key(m);
	ins->params[1] = m->file;
	ins->params[2] = checksum;
	ins->params[3] = duration_ms < 0 ? NULL : ins->duration;
	ins->params[4] = ins->host;
}

void history_insert_release(struct history_insert *ins)
{
	free(ins->sql);
	ins->sql = NULL;
}

char *history_absent_guard(const struct history *h)
{
	return xasprintf("SELECT 1 / (count(*) = 0)::int FROM %s WHERE version = $1", h->table);
}

enum status history_record(const struct history *h, PGconn *conn, const struct migration *m,
			   const char *checksum, int64_t duration_ms)
{
	struct history_insert ins;
	struct db_error err;
	int rc;

	history_insert_init(&ins, h, m, checksum, duration_ms);
	rc = db_exec(conn, ins.sql, 5, ins.params, &err);
	history_insert_release(&ins);
	return rc < 0 ? db_report(&err, "record the migration in the history") : ST_OK;
}

/* Runs sql with version as $1 (and extra as $2 when not NULL); what names it in errors. */
static enum status exec_version(PGconn *conn, const char *sql, const char *version,
				const char *extra, const char *what)
{
	const char *params[] = { version, extra };
	struct db_error err;

	if (db_exec(conn, sql, extra ? 2 : 1, params, &err) < 0)
		return db_report(&err, what);
	return ST_OK;
}

enum status history_remove(const struct history *h, PGconn *conn, const char *version)
{
	char *sql = xasprintf("DELETE FROM %s WHERE version = $1", h->table);
	enum status st = exec_version(conn, sql, version, NULL,
				      "record the migration in the history");

	free(sql);
	return st;
}

enum status history_baseline(const struct history *h, PGconn *conn, const struct migration *m)
{
	char sum[65];
	const char *params[] = { mig_history_key(m), m->file, sum };
	char *sql;
	struct db_error err;
	int rc;

	if (!history_fits(h, m) || mig_file_checksum(m, sum) < 0)
		return ST_MIGRATION;
	sql = xasprintf("INSERT INTO %s (version, name, checksum, duration_ms, applied_by) "
			"VALUES ($1, $2, $3, 0, session_user || ' (baseline)')", h->table);
	rc = db_exec(conn, sql, 3, params, &err);
	free(sql);
	if (rc < 0)
		return db_report(&err, "record the baseline");
	log_info("recorded %s as applied (baseline: not run)", m->file);
	return ST_OK;
}

enum status history_adopt(const struct history *h, PGconn *conn, const struct migration *m,
			  const char *checksum, const char *applied_at, const char *tool)
{
	const char *params[] = { mig_history_key(m), m->file, checksum, applied_at, tool };
	char *sql;
	struct db_error err;
	int rc;

	if (!history_fits(h, m))
		return ST_MIGRATION;
	sql = xasprintf("INSERT INTO %s (version, name, checksum, applied_at, duration_ms, applied_by) "
			"VALUES ($1, $2, $3, coalesce($4::timestamptz, now()), 0, "
			"$5 || ' (adopted by ' || session_user || ')')", h->table);
	rc = db_exec(conn, sql, 5, params, &err);
	free(sql);
	return rc < 0 ? db_report(&err, "record an adopted migration") : ST_OK;
}

enum status history_repair(const struct history *h, PGconn *conn, const struct migration *m)
{
	const struct history_row *a = history_find(h, mig_history_key(m));
	char sum[65];
	char *sql;
	enum status st;

	if (!a || mig_file_checksum(m, sum) < 0)
		return ST_MIGRATION;
	sql = xasprintf("UPDATE %s SET checksum = $2 WHERE version = $1", h->table);
	st = exec_version(conn, sql, a->version, sum, "re-record the checksum");
	free(sql);
	if (st == ST_OK)
		log_warn("re-recorded the checksum of %s, edited after it was applied: %s -> %s (the "
			 "edit itself was not run)", m->file, a->checksum, sum);
	return st;
}

void progress_release(struct progress *pr)
{
	free(pr->sums);
	pr->sums = NULL;
	pr->n = 0;
}

static enum status progress_create(const struct history *h, PGconn *conn)
{
	/* Quietly: "already exists, skipping" is not news to anyone. */
	char *sql = xasprintf("SET client_min_messages = warning; "
			      "CREATE TABLE IF NOT EXISTS %s (version text NOT NULL, "
			      "statement integer NOT NULL, checksum text NOT NULL, "
			      "applied_at timestamptz NOT NULL DEFAULT now(), "
			      "PRIMARY KEY (version, statement)); RESET client_min_messages",
			      h->progress);
	struct db_error err;
	int rc = db_exec(conn, sql, 0, NULL, &err);

	free(sql);
	return rc < 0 ? db_report(&err, "create the migration progress table") : ST_OK;
}

enum status history_progress_read(const struct history *h, PGconn *conn, const char *version,
				  struct progress *pr)
{
	const char *params[] = { version };
	struct db_error err;
	enum status st;
	PGresult *res;
	char *sql;

	memset(pr, 0, sizeof(*pr));
	if ((st = progress_create(h, conn)) != ST_OK)
		return st;
	sql = xasprintf("SELECT checksum FROM %s WHERE version = $1 ORDER BY statement", h->progress);
	res = db_query(conn, sql, 1, params, &err);
	free(sql);
	if (!res || PQresultStatus(res) != PGRES_TUPLES_OK) {
		PQclear(res);
		return db_report(&err, "read the migration progress");
	}
	pr->n = (size_t)PQntuples(res);
	pr->sums = xcalloc(pr->n + 1, sizeof(*pr->sums));
	for (size_t i = 0; i < pr->n; i++)
		snprintf(pr->sums[i], sizeof(pr->sums[i]), "%s", PQgetvalue(res, (int)i, 0));
	PQclear(res);
	return ST_OK;
}

enum status history_progress_add(const struct history *h, PGconn *conn, const char *version,
				 size_t index, const char *sum)
{
	char statement[24];
	const char *params[] = { version, statement, sum };
	char *sql = xasprintf("INSERT INTO %s (version, statement, checksum) VALUES ($1, $2, $3)",
			      h->progress);
	struct db_error err;
	int rc;

	snprintf(statement, sizeof(statement), "%zu", index + 1);
	rc = db_exec(conn, sql, 3, params, &err);
	free(sql);
	return rc < 0 ? db_report(&err, "record the migration progress") : ST_OK;
}

enum status history_progress_clear(const struct history *h, PGconn *conn, const char *version)
{
	char *sql = xasprintf("DELETE FROM %s WHERE version = $1", h->progress);
	enum status st = exec_version(conn, sql, version, NULL, "clear the migration progress");

	free(sql);
	return st;
}

void history_progress_counts(const struct history *h, PGconn *conn, struct progress_counts *out)
{
	char *sql = xasprintf("SELECT version, count(*) FROM %s GROUP BY version", h->progress);
	struct db_error err;
	PGresult *res = db_query(conn, sql, 0, NULL, &err);

	free(sql);
	memset(out, 0, sizeof(*out));
	if (!res || PQresultStatus(res) != PGRES_TUPLES_OK) {
		PQclear(res); /* no progress table yet: nothing is partly applied */
		return;
	}
	out->n = (size_t)PQntuples(res);
	out->versions = xcalloc(out->n + 1, sizeof(*out->versions));
	out->done = xcalloc(out->n + 1, sizeof(*out->done));
	for (size_t i = 0; i < out->n; i++) {
		out->versions[i] = read_key(PQgetvalue(res, (int)i, 0));
		out->done[i] = strtol(PQgetvalue(res, (int)i, 1), NULL, 10);
	}
	PQclear(res);
}

long progress_count(const struct progress_counts *pc, const char *version)
{
	for (size_t i = 0; version && i < pc->n; i++)
		if (mig_version_cmp(pc->versions[i], version) == 0)
			return pc->done[i];
	return 0;
}

void progress_counts_release(struct progress_counts *pc)
{
	for (size_t i = 0; i < pc->n; i++)
		free(pc->versions[i]);
	free(pc->versions);
	free(pc->done);
	memset(pc, 0, sizeof(*pc));
}
