#include "apply.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "db.h"
#include "log.h"
#include "sig.h"
#include "split.h"

/* What a first pass over a file found. */
struct plan {
	bool no_transaction;
	bool wrapped;   /* BEGIN ... COMMIT around the whole file */
	size_t count;   /* statements */
};

/* "dir/0003_x.sql:3:8: ERROR: message (SQLSTATE 42601)", with detail, hint and context. */
static enum status statement_failure(const struct migration *m, const struct splitter *sp,
				     const struct stmt *st, const struct db_error *err)
{
	char line_s[16], col_s[16];
	int line = st->line, col = st->column;
	const struct log_field fields[] = {
		{ "detail", err->detail[0] ? err->detail : NULL },
		{ "hint", err->hint[0] ? err->hint : NULL },
		{ "context", err->context[0] ? err->context : NULL },
		{ "sqlstate", err->sqlstate },
		{ "file", m->path },
		{ "line", line_s },
		{ "column", col_s },
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
	if (err->position > 0)
		split_position(sp, st, err->position, &line, &col);
	snprintf(line_s, sizeof(line_s), "%d", line);
	snprintf(col_s, sizeof(col_s), "%d", col);
	log_event(LOG_ERROR, fields, "%s:%d:%d: ERROR: %s (SQLSTATE %s)", m->path, line, col,
		  err->message, err->sqlstate);
	return ST_MIGRATION;
}

/* Runs one statement of sql, whose text is NUL-terminated in place for the call. */
static int run_statement(PGconn *conn, struct buf *sql, const struct stmt *st,
			 struct db_error *err)
{
	char saved = sql->data[st->end];
	PGresult *res;
	int ok;

	sql->data[st->end] = '\0';
	if (st->kind == STMT_COPY_IN)
		res = db_copy_in(conn, sql->data + st->start, sql->data + st->data_start,
				 st->data_end - st->data_start, err);
	else
		res = db_query(conn, sql->data + st->start, 0, NULL, err);
	sql->data[st->end] = saved;
	ok = res && PQresultStatus(res) != PGRES_FATAL_ERROR && PQresultStatus(res) != PGRES_BAD_RESPONSE;
	PQclear(res);
	return ok ? 0 : -1;
}

/* The checksum of one statement, with its COPY data: what no-transaction progress records. */
static void statement_checksum(const struct buf *sql, const struct stmt *st, char out[65])
{
	size_t end = st->kind == STMT_COPY_IN ? st->data_end : st->end;

	mig_checksum(sql->data + st->start, end - st->start, out);
}

/*
 * The first line may hold a directive: "-- pgboot:no-transaction". Any other "pgboot:"
 * word there is a mistake worth stopping for (a typo would silently change how it runs).
 */
static int read_directive(const struct migration *m, const struct buf *sql, bool *no_txn)
{
	const char *p = sql->data;
	size_t n = strcspn(p, "\n");

	*no_txn = false;
	while (n && (p[n - 1] == '\r' || p[n - 1] == ' ' || p[n - 1] == '\t'))
		n--;
	if (n < 2 || strncmp(p, "--", 2) != 0)
		return 0;
	for (p += 2, n -= 2; n && (*p == ' ' || *p == '\t'); p++, n--)
		;
	if (n < 7 || strncmp(p, "pgboot:", 7) != 0)
		return 0;
	if (n == strlen("pgboot:no-transaction") && strncmp(p, "pgboot:no-transaction", n) == 0) {
		*no_txn = true;
		return 0;
	}
	log_error("%s:1: unknown directive \"%.*s\" (pgboot knows \"pgboot:no-transaction\")",
		  m->path, (int)n, p);
	return -1;
}

static const char *kind_name(enum stmt_kind kind)
{
	switch (kind) {
	case STMT_BEGIN:
		return "BEGIN";
	case STMT_COMMIT:
		return "COMMIT";
	case STMT_ROLLBACK:
		return "ROLLBACK";
	default:
		return "a prepared transaction";
	}
}

/*
 * Checks the whole file before anything runs: meta-commands, and transaction control in
 * a transactional file, where only a BEGIN ... COMMIT around everything is accepted.
 */
static int make_plan(const struct migration *m, const struct buf *sql, struct plan *pl)
{
	struct stmt st, first = { 0 }, bad = { 0 };
	struct splitter sp;
	size_t txn = 0;
	bool last_commit = false;
	int rc;

	memset(pl, 0, sizeof(*pl));
	if (read_directive(m, sql, &pl->no_transaction) < 0)
		return -1;
	split_init(&sp, sql->data, sql->len);
	while ((rc = split_next(&sp, &st)) == 1) {
		bool control = st.kind != STMT_SQL && st.kind != STMT_COPY_IN;

		if (pl->count++ == 0)
			first = st;
		if (control && txn++ == (first.kind == STMT_BEGIN ? 1 : 0))
			bad = st;
		last_commit = st.kind == STMT_COMMIT;
	}
	if (rc < 0) {
		log_error("%s:%d: %s", m->path, sp.error_line, sp.error);
		return -1;
	}
	if (pl->no_transaction || txn == 0)
		return 0;
	pl->wrapped = txn == 2 && first.kind == STMT_BEGIN && last_commit;
	if (pl->wrapped)
		return 0;
	if (!bad.line)
		bad = first;
	log_error("%s:%d:%d: %s is not allowed here: pgboot runs this migration in one transaction "
		  "with its history row; to control transactions yourself, make "
		  "\"-- pgboot:no-transaction\" the file's first line", m->path, bad.line, bad.column,
		  kind_name(bad.kind));
	return -1;
}

/* The history row, in the migration's transaction. */
static enum status record(PGconn *conn, const struct mig_tables *t, const struct migration *m,
			  const char *checksum, int64_t ms)
{
	char version[24], duration[24], host[256];
	const char *params[] = { version, m->file, checksum, duration, host };
	char *sql = xasprintf("INSERT INTO %s (version, name, checksum, duration_ms, applied_by) "
			      "VALUES ($1, $2, $3, $4, session_user || coalesce('@' || nullif($5, ''), ''))",
			      t->history);
	struct db_error err;
	int rc;

	snprintf(version, sizeof(version), "%" PRId64, m->version);
	snprintf(duration, sizeof(duration), "%" PRId64, ms);
	/* A truncated name may lack its NUL; a failure leaves the buffer empty. */
	memset(host, 0, sizeof(host));
	if (gethostname(host, sizeof(host) - 1) < 0)
		memset(host, 0, sizeof(host));
	rc = db_exec(conn, sql, 5, params, &err);
	free(sql);
	return rc < 0 ? db_report(&err, "record the migration in the history") : ST_OK;
}

static void rollback(PGconn *conn)
{
	struct db_error err;

	if (PQstatus(conn) == CONNECTION_OK && PQtransactionStatus(conn) != PQTRANS_IDLE)
		db_exec(conn, "ROLLBACK", 0, NULL, &err);
}

/* BEGIN (the file's own, when it wraps itself); every statement; the history row; COMMIT. */
static enum status apply_in_transaction(PGconn *conn, const struct mig_tables *t,
					const struct migration *m, struct buf *sql,
					const struct plan *pl, const char *checksum)
{
	int64_t start = clock_ms();
	struct splitter sp;
	struct db_error err;
	struct stmt st;
	enum status st_ = ST_OK;
	size_t i = 0;

	if (!pl->wrapped && db_exec(conn, "BEGIN", 0, NULL, &err) < 0)
		return db_report(&err, "begin a transaction");
	split_init(&sp, sql->data, sql->len);
	while (st_ == ST_OK && split_next(&sp, &st) == 1) {
		if (pl->wrapped && ++i == pl->count)
			break; /* the file's COMMIT: pgboot commits after the history row */
		if (sig_caught())
			st_ = ST_SIGNAL; /* a query sent now could no longer be cancelled */
		else if (run_statement(conn, sql, &st, &err) < 0)
			st_ = statement_failure(m, &sp, &st, &err);
	}
	if (st_ == ST_OK)
		st_ = record(conn, t, m, checksum, clock_ms() - start);
	if (st_ == ST_OK && db_exec(conn, "COMMIT", 0, NULL, &err) < 0)
		st_ = db_report(&err, "commit the migration");
	if (st_ != ST_OK)
		rollback(conn);
	return st_;
}

/* The statements a failed run of this file completed: their checksums, in order. */
struct progress {
	char (*sums)[65];
	size_t n;
};

static enum status progress_read(PGconn *conn, const struct mig_tables *t,
				 const struct migration *m, struct progress *pr)
{
	char version[24];
	const char *params[] = { version };
	/* Quietly: "already exists, skipping" is not news to anyone. */
	char *sql = xasprintf("SET client_min_messages = warning; "
			      "CREATE TABLE IF NOT EXISTS %s (version bigint NOT NULL, "
			      "statement integer NOT NULL, checksum text NOT NULL, "
			      "applied_at timestamptz NOT NULL DEFAULT now(), "
			      "PRIMARY KEY (version, statement)); RESET client_min_messages",
			      t->progress);
	struct db_error err;
	PGresult *res;

	memset(pr, 0, sizeof(*pr));
	if (db_exec(conn, sql, 0, NULL, &err) < 0) {
		free(sql);
		return db_report(&err, "create the migration progress table");
	}
	free(sql);
	snprintf(version, sizeof(version), "%" PRId64, m->version);
	sql = xasprintf("SELECT checksum FROM %s WHERE version = $1 ORDER BY statement", t->progress);
	res = db_query(conn, sql, 1, params, &err);
	free(sql);
	if (!res || PQresultStatus(res) != PGRES_TUPLES_OK) {
		PQclear(res);
		return db_report(&err, "read the migration progress");
	}
	pr->n = (size_t)PQntuples(res);
	pr->sums = xcalloc(pr->n, sizeof(*pr->sums));
	for (size_t i = 0; i < pr->n; i++)
		snprintf(pr->sums[i], sizeof(pr->sums[i]), "%s", PQgetvalue(res, (int)i, 0));
	PQclear(res);
	return ST_OK;
}

static enum status progress_add(PGconn *conn, const struct mig_tables *t,
				const struct migration *m, size_t index, const char *sum)
{
	char version[24], statement[24];
	const char *params[] = { version, statement, sum };
	char *sql = xasprintf("INSERT INTO %s (version, statement, checksum) VALUES ($1, $2, $3)",
			      t->progress);
	struct db_error err;
	int rc;

	snprintf(version, sizeof(version), "%" PRId64, m->version);
	snprintf(statement, sizeof(statement), "%zu", index + 1);
	rc = db_exec(conn, sql, 3, params, &err);
	free(sql);
	return rc < 0 ? db_report(&err, "record the migration progress") : ST_OK;
}

/* Reads the next word or "quoted identifier" of s into out; returns false at the end. */
static bool next_token(const char **s, char *out, size_t size, bool *quoted)
{
	const char *p = *s;
	size_t n;

	while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
		p++;
	*quoted = *p == '"';
	if (*quoted) {
		const char *end = strchr(p + 1, '"');

		if (!end || end[1] == '"')
			return false; /* no name with doubled quotes: pgboot leaves those alone */
		n = (size_t)(end - p - 1);
		*s = end + 1;
		p++;
	} else {
		n = strcspn(p, " \t\r\n(;");
		*s = p + n;
	}
	if (!n || n >= size)
		return false;
	memcpy(out, p, n);
	out[n] = '\0';
	return true;
}

/*
 * The index named by CREATE [UNIQUE] INDEX CONCURRENTLY [IF NOT EXISTS] name, as stored
 * (unquoted names fold to lower case). Returns false for other statements or no name.
 */
static bool concurrent_index_name(const char *s, char *name, size_t size)
{
	char tok[64];
	bool quoted;

	if (!next_token(&s, tok, sizeof(tok), &quoted) || strcasecmp(tok, "create") != 0 ||
	    !next_token(&s, tok, sizeof(tok), &quoted))
		return false;
	if (!strcasecmp(tok, "unique") && !next_token(&s, tok, sizeof(tok), &quoted))
		return false;
	if (strcasecmp(tok, "index") != 0 || !next_token(&s, tok, sizeof(tok), &quoted) ||
	    strcasecmp(tok, "concurrently") != 0 || !next_token(&s, name, size, &quoted))
		return false;
	if (!quoted && !strcasecmp(name, "if")) {
		if (!next_token(&s, tok, sizeof(tok), &quoted) || strcasecmp(tok, "not") != 0 ||
		    !next_token(&s, tok, sizeof(tok), &quoted) || strcasecmp(tok, "exists") != 0 ||
		    !next_token(&s, name, size, &quoted))
			return false;
	}
	if (quoted)
		return true;
	if (!strcasecmp(name, "on"))
		return false;
	for (char *p = name; *p; p++)
		*p = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
	return true;
}

/*
 * An index that a failed CREATE INDEX CONCURRENTLY left INVALID makes its retry fail with
 * "already exists". After a failure it is reported; before a retry it is dropped
 * (concurrently) so the statement builds it again.
 */
static enum status invalid_index(PGconn *conn, const struct migration *m, const char *name,
				 bool drop)
{
	static const char sql[] =
		"SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname) "
		"FROM pg_catalog.pg_class c JOIN pg_catalog.pg_index i ON i.indexrelid = c.oid "
		"JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
		"WHERE c.relname = $1 AND NOT i.indisvalid AND pg_catalog.pg_table_is_visible(c.oid)";
	const char *params[] = { name };
	struct db_error err;
	PGresult *res = db_query(conn, sql, 1, params, &err);
	enum status st = ST_OK;
	char *drop_sql;

	if (!res || PQresultStatus(res) != PGRES_TUPLES_OK) {
		PQclear(res);
		return db_report(&err, "look for an invalid index");
	}
	if (PQntuples(res) == 1 && !drop) {
		log_warn("index %s is left INVALID by the failed CREATE INDEX CONCURRENTLY of \"%s\"; "
			 "the next run drops it and builds it again", PQgetvalue(res, 0, 0), m->file);
	} else if (PQntuples(res) == 1) {
		log_warn("dropping index %s, left INVALID by an earlier CREATE INDEX CONCURRENTLY of "
			 "\"%s\", to build it again", PQgetvalue(res, 0, 0), m->file);
		drop_sql = xasprintf("DROP INDEX CONCURRENTLY IF EXISTS %s", PQgetvalue(res, 0, 0));
		if (db_exec(conn, drop_sql, 0, NULL, &err) < 0)
			st = db_report(&err, "drop the invalid index");
		free(drop_sql);
	}
	PQclear(res);
	return st;
}

/* The end of a no-transaction file: its history row replaces its progress, atomically. */
static enum status finish_statements(PGconn *conn, const struct mig_tables *t,
				     const struct migration *m, const char *checksum, int64_t ms)
{
	char version[24];
	const char *params[] = { version };
	char *sql = xasprintf("DELETE FROM %s WHERE version = $1", t->progress);
	struct db_error err;
	enum status st = ST_OK;

	snprintf(version, sizeof(version), "%" PRId64, m->version);
	if (db_exec(conn, "BEGIN", 0, NULL, &err) < 0)
		st = db_report(&err, "begin a transaction");
	if (st == ST_OK)
		st = record(conn, t, m, checksum, ms);
	if (st == ST_OK && db_exec(conn, sql, 1, params, &err) < 0)
		st = db_report(&err, "clear the migration progress");
	if (st == ST_OK && db_exec(conn, "COMMIT", 0, NULL, &err) < 0)
		st = db_report(&err, "commit the migration");
	if (st != ST_OK)
		rollback(conn);
	free(sql);
	return st;
}

/*
 * Runs one statement of a no-transaction file. Completed statements are recorded once the
 * session is outside any transaction the file opened itself, so what is recorded is what
 * the server committed.
 */
static enum status run_recorded(PGconn *conn, const struct mig_tables *t,
				const struct migration *m, struct buf *sql, struct splitter *sp,
				const struct stmt *st, struct progress *done, size_t *recorded)
{
	char name[64];
	bool concurrent = concurrent_index_name(sql->data + st->start, name, sizeof(name));
	struct db_error err;
	enum status rc = ST_OK;

	if (concurrent && (rc = invalid_index(conn, m, name, true)) != ST_OK)
		return rc;
	if (run_statement(conn, sql, st, &err) < 0) {
		rc = statement_failure(m, sp, st, &err);
		rollback(conn);
		if (concurrent && rc == ST_MIGRATION)
			invalid_index(conn, m, name, false);
		return rc;
	}
	statement_checksum(sql, st, done->sums[done->n++]);
	if (PQtransactionStatus(conn) != PQTRANS_IDLE)
		return ST_OK;
	for (; rc == ST_OK && *recorded < done->n; (*recorded)++)
		rc = progress_add(conn, t, m, *recorded, done->sums[*recorded]);
	return rc;
}

static enum status apply_statements(PGconn *conn, const struct mig_tables *t,
				    const struct migration *m, struct buf *sql,
				    const struct plan *pl, const char *checksum)
{
	int64_t start = clock_ms();
	struct progress before, done = { xcalloc(pl->count + 1, 65), 0 };
	struct splitter sp;
	struct stmt st;
	struct buf changed;
	size_t i = 0, recorded;
	enum status rc = progress_read(conn, t, m, &before);

	buf_init(&changed);
	recorded = before.n;
	if (rc == ST_OK && before.n)
		log_info("resuming %s at statement %zu of %zu", m->file, before.n + 1, pl->count);
	split_init(&sp, sql->data, sql->len);
	for (; rc == ST_OK && split_next(&sp, &st) == 1; i++) {
		if (i < before.n) {
			char sum[65];

			statement_checksum(sql, &st, sum);
			if (strcmp(sum, before.sums[i]) != 0)
				buf_printf(&changed, "%s%zu", changed.len ? ", " : "", i + 1);
			memcpy(done.sums[done.n++], sum, 65);
			continue;
		}
		if (changed.len || sig_caught())
			break;
		rc = run_recorded(conn, t, m, sql, &sp, &st, &done, &recorded);
	}
	if (rc == ST_OK && (changed.len || i < before.n)) {
		log_error("\"%s\" was partly applied (%zu statements) and has changed since: "
			  "statement%s %s", m->path, before.n, changed.len && !strchr(changed.data, ',')
			  ? "" : "s", changed.len ? changed.data : "beyond the end of the file");
		rc = ST_MIGRATION;
	} else if (rc == ST_OK && sig_caught()) {
		rc = ST_SIGNAL;
	} else if (rc == ST_OK && PQtransactionStatus(conn) != PQTRANS_IDLE) {
		log_error("\"%s\" ends inside a transaction it began: add its COMMIT", m->path);
		rollback(conn);
		rc = ST_MIGRATION;
	}
	if (rc == ST_OK)
		rc = finish_statements(conn, t, m, checksum, clock_ms() - start);
	free(before.sums);
	free(done.sums);
	buf_release(&changed);
	return rc;
}

/*
 * psql runs each file in a session of its own; pgboot runs them all in one. So that a
 * migration's SET search_path, SET ROLE, temporary tables or prepared statements do not
 * leak into the next, the session is reset as DISCARD ALL would, except for advisory
 * locks: DISCARD ALL would release the migration lock.
 */
static enum status reset_session(PGconn *conn)
{
	static const char sql[] = "CLOSE ALL; RESET ALL; RESET SESSION AUTHORIZATION; "
				  "DEALLOCATE ALL; UNLISTEN *; DISCARD PLANS; DISCARD TEMP; "
				  "DISCARD SEQUENCES";
	struct db_error err;

	return db_exec(conn, sql, 0, NULL, &err) < 0 ? db_report(&err, "reset the session") : ST_OK;
}

enum status apply_file(PGconn *conn, const struct mig_tables *t, const struct migration *m,
		       const char *label)
{
	int64_t start = clock_ms();
	enum status st = ST_MIGRATION;
	struct plan pl;
	struct buf sql;
	char sum[65];

	buf_init(&sql);
	if (mig_read(m, &sql) < 0 || make_plan(m, &sql, &pl) < 0)
		goto out;
	mig_checksum(sql.data, sql.len, sum);
	log_info("applying %s %s%s", m->file, label, pl.no_transaction ? " (no transaction)" : "");
	if (sig_caught())
		st = ST_SIGNAL;
	else if (pl.no_transaction)
		st = apply_statements(conn, t, m, &sql, &pl, sum);
	else
		st = apply_in_transaction(conn, t, m, &sql, &pl, sum);
	if (st == ST_OK)
		log_info("applied %s in %" PRId64 "ms (%zu statement%s)", m->file, clock_ms() - start,
			 pl.count, pl.count == 1 ? "" : "s");
	if (st == ST_OK)
		st = reset_session(conn);
out:
	buf_release(&sql);
	return st;
}
