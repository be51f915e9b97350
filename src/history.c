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

enum status history_read(struct history *h, PGconn *conn)
{
	struct db_error err;
	char *sql = xasprintf("SELECT version, name, checksum, applied_at, duration_ms FROM %s "
			      "ORDER BY version", h->table);
	PGresult *res = db_query(conn, sql, 0, NULL, &err);
	enum status st = ST_OK;

	rows_release(h);
	free(sql);
	h->table_missing = false;
	if (res && PQresultStatus(res) == PGRES_TUPLES_OK) {
		h->n = (size_t)PQntuples(res);
		h->rows = xcalloc(h->n, sizeof(*h->rows));
		for (size_t i = 0; i < h->n; i++) {
			struct history_row *a = &h->rows[i];

			a->version = strtoll(PQgetvalue(res, (int)i, 0), NULL, 10);
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
	return st;
}

const struct history_row *history_find(const struct history *h, int64_t version)
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
			"version bigint PRIMARY KEY, name text NOT NULL, checksum text NOT NULL, "
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

/* Reads and hashes one file. Returns 0, or -1 after logging. */
static int file_checksum(const struct migration *m, char out[65])
{
	struct buf sql;
	int rc;

	if (m->sum_ahead) {
		memcpy(out, m->sum_ahead, 65);
		return 0;
	}
	buf_init(&sql);
	rc = mig_read(m, &sql);
	if (rc == 0)
		mig_checksum(sql.data, sql.len, out);
	buf_release(&sql);
	return rc;
}

int history_matches(const struct history_row *a, const struct migration *m, char sum[65])
{
	if (file_checksum(m, sum) < 0)
		return -1;
	return strcmp(sum, a->checksum) == 0;
}

static bool in_list(const struct mig_list *list, int64_t version)
{
	for (size_t i = 0; i < list->n; i++)
		if (list->items[i].version == version)
			return true;
	return false;
}

static void log_out_of_order(const struct migration *m, const struct history_row *newest)
{
	const struct log_field fields[] = {
		{ "hint", "give it a version above the newest, or set migrate.out_of_order "
			  "= allow to apply it anyway" },
		{ NULL, NULL },
	};

	log_event(LOG_ERROR, fields, "migration \"%s\" is older than the newest applied "
		  "one, \"%s\" (version %" PRId64 ")", m->file, newest->name, newest->version);
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

enum status history_check(const struct history *h, const struct config *cfg,
			  const struct mig_list *list, size_t *pending, bool warn)
{
	const struct history_row *newest = h->n ? &h->rows[h->n - 1] : NULL;

	*pending = 0;
	for (size_t i = 0; i < list->n; i++) {
		const struct migration *m = &list->items[i];
		const struct history_row *a = history_find(h, m->version);
		char sum[65];
		int same;

		if (!a && newest && m->version < newest->version && !cfg->out_of_order) {
			log_out_of_order(m, newest);
			return ST_MIGRATION;
		}
		if (!a) {
			(*pending)++;
			continue;
		}
		if ((same = history_matches(a, m, sum)) < 0)
			return ST_MIGRATION;
		if (!same) {
			log_changed(m, a, sum);
			return ST_MIGRATION;
		}
	}
	for (size_t i = 0; warn && i < h->n; i++)
		/* NOLINTNEXTLINE(clang-analyzer-core.NullDereference): rows holds n entries */
		if (!in_list(list, h->rows[i].version))
			log_warn("applied migration %" PRId64 " (\"%s\") has no file in the directory",
				 h->rows[i].version, h->rows[i].name);
	return ST_OK;
}

enum status history_has(const struct history *h, PGconn *conn, int64_t version, bool *found)
{
	char v[24];
	const char *params[] = { v };
	char *sql = xasprintf("SELECT 1 FROM %s WHERE version = $1", h->table);
	struct db_error err;
	PGresult *res;
	enum status st = ST_OK;

	snprintf(v, sizeof(v), "%" PRId64, version);
	res = db_query(conn, sql, 1, params, &err);
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
	ins->sql = xasprintf("INSERT INTO %s (version, name, checksum, duration_ms, applied_by) "
			     "VALUES ($1, $2, $3, coalesce($4::bigint, (extract(epoch FROM "
			     "clock_timestamp() - now()) * 1000)::bigint), session_user || "
			     "coalesce('@' || nullif($5, ''), ''))", h->table);
	snprintf(ins->version, sizeof(ins->version), "%" PRId64, m->version);
	snprintf(ins->duration, sizeof(ins->duration), "%" PRId64, duration_ms);
	/* A truncated name may lack its NUL; a failure leaves the buffer empty. */
	memset(ins->host, 0, sizeof(ins->host));
	if (gethostname(ins->host, sizeof(ins->host) - 1) < 0)
		memset(ins->host, 0, sizeof(ins->host));
	ins->params[0] = ins->version;
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
static enum status exec_version(PGconn *conn, const char *sql, int64_t version,
				const char *extra, const char *what)
{
	char v[24];
	const char *params[] = { v, extra };
	struct db_error err;

	snprintf(v, sizeof(v), "%" PRId64, version);
	if (db_exec(conn, sql, extra ? 2 : 1, params, &err) < 0)
		return db_report(&err, what);
	return ST_OK;
}

enum status history_remove(const struct history *h, PGconn *conn, int64_t version)
{
	char *sql = xasprintf("DELETE FROM %s WHERE version = $1", h->table);
	enum status st = exec_version(conn, sql, version, NULL,
				      "record the migration in the history");

	free(sql);
	return st;
}

enum status history_baseline(const struct history *h, PGconn *conn, const struct migration *m)
{
	char version[24], sum[65];
	const char *params[] = { version, m->file, sum };
	char *sql;
	struct db_error err;
	int rc;

	if (file_checksum(m, sum) < 0)
		return ST_MIGRATION;
	snprintf(version, sizeof(version), "%" PRId64, m->version);
	sql = xasprintf("INSERT INTO %s (version, name, checksum, duration_ms, applied_by) "
			"VALUES ($1, $2, $3, 0, session_user || ' (baseline)')", h->table);
	rc = db_exec(conn, sql, 3, params, &err);
	free(sql);
	if (rc < 0)
		return db_report(&err, "record the baseline");
	log_info("recorded %s as applied (baseline: not run)", m->file);
	return ST_OK;
}

enum status history_repair(const struct history *h, PGconn *conn, const struct migration *m)
{
	const struct history_row *a = history_find(h, m->version);
	char sum[65];
	char *sql;
	enum status st;

	if (!a || file_checksum(m, sum) < 0)
		return ST_MIGRATION;
	sql = xasprintf("UPDATE %s SET checksum = $2 WHERE version = $1", h->table);
	st = exec_version(conn, sql, m->version, sum, "re-record the checksum");
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
			      "CREATE TABLE IF NOT EXISTS %s (version bigint NOT NULL, "
			      "statement integer NOT NULL, checksum text NOT NULL, "
			      "applied_at timestamptz NOT NULL DEFAULT now(), "
			      "PRIMARY KEY (version, statement)); RESET client_min_messages",
			      h->progress);
	struct db_error err;
	int rc = db_exec(conn, sql, 0, NULL, &err);

	free(sql);
	return rc < 0 ? db_report(&err, "create the migration progress table") : ST_OK;
}

enum status history_progress_read(const struct history *h, PGconn *conn, int64_t version,
				  struct progress *pr)
{
	char v[24];
	const char *params[] = { v };
	struct db_error err;
	enum status st;
	PGresult *res;
	char *sql;

	memset(pr, 0, sizeof(*pr));
	if ((st = progress_create(h, conn)) != ST_OK)
		return st;
	snprintf(v, sizeof(v), "%" PRId64, version);
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

enum status history_progress_add(const struct history *h, PGconn *conn, int64_t version,
				 size_t index, const char *sum)
{
	char v[24], statement[24];
	const char *params[] = { v, statement, sum };
	char *sql = xasprintf("INSERT INTO %s (version, statement, checksum) VALUES ($1, $2, $3)",
			      h->progress);
	struct db_error err;
	int rc;

	snprintf(v, sizeof(v), "%" PRId64, version);
	snprintf(statement, sizeof(statement), "%zu", index + 1);
	rc = db_exec(conn, sql, 3, params, &err);
	free(sql);
	return rc < 0 ? db_report(&err, "record the migration progress") : ST_OK;
}

enum status history_progress_clear(const struct history *h, PGconn *conn, int64_t version)
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
		out->versions[i] = strtoll(PQgetvalue(res, (int)i, 0), NULL, 10);
		out->done[i] = strtol(PQgetvalue(res, (int)i, 1), NULL, 10);
	}
	PQclear(res);
}

long progress_count(const struct progress_counts *pc, int64_t version)
{
	for (size_t i = 0; i < pc->n; i++)
		if (pc->versions[i] == version)
			return pc->done[i];
	return 0;
}

void progress_counts_release(struct progress_counts *pc)
{
	free(pc->versions);
	free(pc->done);
	memset(pc, 0, sizeof(*pc));
}
