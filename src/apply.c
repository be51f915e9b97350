#include "apply.h"

#include <inttypes.h>
#include <poll.h>
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
 * Polls instead of blocking in pg_advisory_lock: a session blocked there keeps a snapshot
 * open, which makes CREATE INDEX CONCURRENTLY in the holder wait for it forever. Between
 * polls a read-committed transaction holds no snapshot either.
 */
/*
 * Sleeps up to ms, waking early when conn (listening) receives a notification. Returns -1
 * when a termination signal came.
 */
static int wait_notified(PGconn *conn, bool listening, int64_t ms)
{
	int64_t until = clock_ms() + ms;

	if (!listening)
		return db_sleep(ms);
	for (;;) {
		int64_t left = until - clock_ms();

		if (sig_caught())
			return -1;
		if (left <= 0 || sig_wait(PQsocket(conn), POLLIN, left) < 0)
			return 0;
		PGnotify *n;

		if (!PQconsumeInput(conn))
			return 0;
		if ((n = PQnotifies(conn))) {
			do
				PQfreemem(n);
			while ((n = PQnotifies(conn)));
			return 0;
		}
	}
}

enum status apply_lock(PGconn *conn, const struct config *cfg, const char *key, bool own)
{
	/*
	 * The simple protocol, with the key (a number pgboot formatted) in the text: a query
	 * with parameters leaves its unnamed portal, and that portal's snapshot, open in the
	 * transaction until the next query, which would make CREATE INDEX CONCURRENTLY in
	 * the runner holding the lock wait for the runners that poll for it. With its own
	 * transaction, each poll begins one and a miss rolls it back: a waiter then holds no
	 * server connection of a pooler between polls.
	 */
	char *sql = xasprintf("%sSELECT pg_catalog.pg_try_advisory_xact_lock(%s::bigint)",
			      own ? "BEGIN; SET LOCAL idle_in_transaction_session_timeout = 0; " : "",
			      key);
	int64_t deadline = clock_ms() + cfg->lock_wait_ms;
	struct db_backoff backoff;
	enum status st = ST_OK;
	struct db_error listen_err;

	db_backoff_init(&backoff, cfg->initial_delay_ms, cfg->max_delay_ms, false);

	/* The holder notifies when it lets go, so a waiter need not sleep out its backoff. */
	if (own && db_exec(conn, "LISTEN " APPLY_LOCK_CHANNEL, 0, NULL, &listen_err) < 0)
		log_debug("could not listen for the migration lock: %s", listen_err.message);
	for (int attempt = 1;; attempt++) {
		struct db_error err;
		PGresult *res = db_query(conn, sql, 0, NULL, &err);
		bool got = res && PQresultStatus(res) == PGRES_TUPLES_OK &&
			   strcmp(PQgetvalue(res, 0, 0), "t") == 0;
		bool failed = !res || PQresultStatus(res) != PGRES_TUPLES_OK;

		PQclear(res);
		if (failed) {
			st = db_report(&err, "take the migration lock");
			break;
		}
		if (got)
			break;
		if (own && db_exec(conn, "ROLLBACK", 0, NULL, &err) < 0) {
			st = db_report(&err, "end a poll for the migration lock");
			break;
		}
		if (attempt == 1)
			log_info("waiting for another pgboot to finish migrating");
		if (clock_ms() >= deadline) {
			log_error("could not take the migration lock within %s (migrate.lock_wait)",
				  cfg_get(cfg, CFG_MIGRATE_LOCK_WAIT));
			log_lock_holder(conn, key);
			st = ST_UNAVAILABLE;
			break;
		}
		if (wait_notified(conn, own, db_backoff_next(&backoff)) < 0) {
			st = ST_SIGNAL;
			break;
		}
	}
	free(sql);
	return st;
}

/*
 * psql runs each file in a session of its own; pgboot runs them all in one. So that a
 * migration's SET search_path, SET ROLE, temporary tables or prepared statements do not
 * leak into the next, each COMMIT resets the session as DISCARD ALL would, except for
 * advisory locks: DISCARD ALL would release the migration lock. Sent with the COMMIT, in
 * one round trip.
 */
#define COMMIT_AND_RESET                                                               \
	"COMMIT; CLOSE ALL; RESET ALL; RESET SESSION AUTHORIZATION; DEALLOCATE ALL; "      \
	"UNLISTEN *; DISCARD PLANS; DISCARD TEMP; DISCARD SEQUENCES"

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
	line += m->line_offset;
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
	log_error("%s:%d: unknown directive \"%.*s\" (pgboot knows \"pgboot:no-transaction\")",
		  m->path, m->line_offset + 1, (int)n, p);
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
		log_error("%s:%d: %s", m->path, sp.error_line + m->line_offset, sp.error);
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
		  "\"-- pgboot:no-transaction\" the file's first line", m->path,
		  bad.line + m->line_offset, bad.column,
		  kind_name(bad.kind));
	return -1;
}

/* One file's run: what every step needs. */
struct run {
	PGconn *conn;
	const struct config *cfg;
	const struct mig_tables *t;
	const struct migration *m;
	struct buf sql;
	struct plan plan;
	char checksum[65];
	bool lock_timed_out; /* the last failure was lock_not_available (55P03) */
	bool skipped;        /* another runner applied (or rolled back) the file meanwhile */
	bool down;           /* rolling back: the down part runs, the history row goes */
	bool outer;          /* inside the one transaction of migrate.transaction = all */
};

/* The history row, in the migration's transaction: written going up, removed going down. */
static enum status record(struct run *r, int64_t ms)
{
	char version[24], duration[24], host[256];
	const char *params[] = { version, r->m->file, r->checksum, duration, host };
	char *sql = r->down ? xasprintf("DELETE FROM %s WHERE version = $1", r->t->history)
			    : xasprintf("INSERT INTO %s (version, name, checksum, duration_ms, "
					"applied_by) VALUES ($1, $2, $3, $4, session_user || "
					"coalesce('@' || nullif($5, ''), ''))", r->t->history);
	struct db_error err;
	int rc;

	snprintf(version, sizeof(version), "%" PRId64, r->m->version);
	snprintf(duration, sizeof(duration), "%" PRId64, ms);
	/* A truncated name may lack its NUL; a failure leaves the buffer empty. */
	memset(host, 0, sizeof(host));
	if (gethostname(host, sizeof(host) - 1) < 0)
		memset(host, 0, sizeof(host));
	rc = db_exec(r->conn, sql, r->down ? 1 : 5, params, &err);
	free(sql);
	return rc < 0 ? db_report(&err, "record the migration in the history") : ST_OK;
}

static void rollback(PGconn *conn)
{
	struct db_error err;

	if (PQstatus(conn) == CONNECTION_OK && PQtransactionStatus(conn) != PQTRANS_IDLE)
		db_exec(conn, "ROLLBACK", 0, NULL, &err);
}

/*
 * migrate.lock_timeout and statement_timeout, server-side; LOCAL inside a transaction.
 * With begin, the transaction starts in the same round trip.
 */
static int set_timeouts(struct run *r, bool local, bool begin, struct db_error *err)
{
	char *sql = xasprintf("%sSET %s lock_timeout = '%" PRId64 "ms'; SET %s statement_timeout = '%"
			      PRId64 "ms'", begin ? "BEGIN; " : "", local ? "LOCAL" : "SESSION",
			      r->cfg->lock_timeout_ms, local ? "LOCAL" : "SESSION",
			      r->cfg->statement_timeout_ms);
	int rc = db_exec(r->conn, sql, 0, NULL, err);

	free(sql);
	return rc;
}

/*
 * With migrate.lock = transaction (poolers that do not keep sessions), the lock is taken
 * inside the file's transaction and the history is checked again under it.
 */
static enum status claim(struct run *r)
{
	enum status st = apply_lock(r->conn, r->cfg, r->t->lock_key, false);
	char version[24];
	const char *params[] = { version };
	struct db_error err;
	PGresult *res;
	char *sql;

	if (st != ST_OK)
		return st;
	snprintf(version, sizeof(version), "%" PRId64, r->m->version);
	sql = xasprintf("SELECT 1 FROM %s WHERE version = $1", r->t->history);
	res = db_query(r->conn, sql, 1, params, &err);
	if (!res || PQresultStatus(res) != PGRES_TUPLES_OK)
		st = db_report(&err, "read the migration history");
	else
		r->skipped = r->down ? PQntuples(res) == 0 : PQntuples(res) > 0;
	PQclear(res);
	free(sql);
	return st;
}

/* BEGIN (ours, or the file's own when it wraps itself), then the timeouts and, with
 * migrate.lock = transaction, the lock. */
static enum status begin(struct run *r, struct splitter *sp, size_t *done)
{
	struct db_error err;
	struct stmt st;

	*done = 0;
	split_init(sp, r->sql.data, r->sql.len);
	if (r->outer) {
		/* The transaction is open already: a wrapper's BEGIN is skipped like its COMMIT. */
		if (r->plan.wrapped && split_next(sp, &st) == 1)
			*done = 1;
		return r->cfg->lock_per_transaction ? claim(r) : ST_OK;
	}
	if (r->plan.wrapped) {
		*done = 1;
		if (split_next(sp, &st) == 1 && run_statement(r->conn, &r->sql, &st, &err) < 0)
			return statement_failure(r->m, sp, &st, &err);
	}
	if (set_timeouts(r, true, !r->plan.wrapped, &err) < 0)
		return db_report(&err, "begin the migration's transaction");
	return r->cfg->lock_per_transaction ? claim(r) : ST_OK;
}

/* Every statement; the history row; COMMIT. Anything failing rolls all of it back. */
static enum status apply_in_transaction(struct run *r)
{
	int64_t start = clock_ms();
	struct splitter sp;
	struct db_error err;
	struct stmt st;
	size_t done;
	enum status rc = begin(r, &sp, &done);

	r->lock_timed_out = false;
	while (rc == ST_OK && !r->skipped && split_next(&sp, &st) == 1) {
		if (r->plan.wrapped && ++done == r->plan.count)
			break; /* the file's COMMIT: pgboot commits after the history row */
		if (sig_caught()) {
			rc = ST_SIGNAL; /* a query sent now could no longer be cancelled */
		} else if (run_statement(r->conn, &r->sql, &st, &err) < 0) {
			r->lock_timed_out = db_is(&err, SQLSTATE_LOCK_NOT_AVAILABLE);
			rc = statement_failure(r->m, &sp, &st, &err);
		}
	}
	if (rc == ST_OK && !r->skipped)
		rc = record(r, clock_ms() - start);
	if (r->outer)
		return rc; /* the caller commits or rolls back everything */
	if (rc == ST_OK && !r->skipped && db_exec(r->conn, COMMIT_AND_RESET, 0, NULL, &err) < 0)
		rc = db_report(&err, "commit the migration");
	if (rc != ST_OK || r->skipped)
		rollback(r->conn);
	return rc;
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
static enum status finish_statements(struct run *r, int64_t ms)
{
	PGconn *conn = r->conn;
	const struct mig_tables *t = r->t;
	const struct migration *m = r->m;
	char version[24];
	const char *params[] = { version };
	char *sql = xasprintf("DELETE FROM %s WHERE version = $1", t->progress);
	struct db_error err;
	enum status st = ST_OK;

	snprintf(version, sizeof(version), "%" PRId64, m->version);
	if (db_exec(conn, "BEGIN", 0, NULL, &err) < 0)
		st = db_report(&err, "begin a transaction");
	if (st == ST_OK)
		st = record(r, ms);
	if (st == ST_OK && db_exec(conn, sql, 1, params, &err) < 0)
		st = db_report(&err, "clear the migration progress");
	if (st == ST_OK && db_exec(conn, COMMIT_AND_RESET, 0, NULL, &err) < 0)
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
static enum status run_recorded(struct run *r, struct splitter *sp, const struct stmt *st,
				struct progress *done, size_t *recorded)
{
	char name[64];
	bool concurrent = concurrent_index_name(r->sql.data + st->start, name, sizeof(name));
	struct db_error err;
	enum status rc = ST_OK;

	if (concurrent && (rc = invalid_index(r->conn, r->m, name, true)) != ST_OK)
		return rc;
	if (run_statement(r->conn, &r->sql, st, &err) < 0) {
		r->lock_timed_out = db_is(&err, SQLSTATE_LOCK_NOT_AVAILABLE);
		rc = statement_failure(r->m, sp, st, &err);
		rollback(r->conn);
		if (concurrent && rc == ST_MIGRATION)
			invalid_index(r->conn, r->m, name, false);
		return rc;
	}
	statement_checksum(&r->sql, st, done->sums[done->n++]);
	if (PQtransactionStatus(r->conn) != PQTRANS_IDLE)
		return ST_OK;
	for (; rc == ST_OK && *recorded < done->n; (*recorded)++)
		rc = progress_add(r->conn, r->t, r->m, *recorded, done->sums[*recorded]);
	return rc;
}

static enum status apply_statements(struct run *r)
{
	int64_t start = clock_ms();
	struct progress before, done = { xcalloc(r->plan.count + 1, 65), 0 };
	struct splitter sp;
	struct stmt st;
	struct buf changed;
	struct db_error err;
	size_t i = 0, recorded;
	enum status rc = progress_read(r->conn, r->t, r->m, &before);

	buf_init(&changed);
	recorded = before.n;
	r->lock_timed_out = false;
	if (rc == ST_OK && set_timeouts(r, false, false, &err) < 0)
		rc = db_report(&err, "set the migration's timeouts");
	if (rc == ST_OK && before.n)
		log_info("resuming %s at statement %zu of %zu", r->m->file, before.n + 1, r->plan.count);
	split_init(&sp, r->sql.data, r->sql.len);
	for (; rc == ST_OK && split_next(&sp, &st) == 1; i++) {
		if (i < before.n) {
			char sum[65];

			statement_checksum(&r->sql, &st, sum);
			if (strcmp(sum, before.sums[i]) != 0)
				buf_printf(&changed, "%s%zu", changed.len ? ", " : "", i + 1);
			memcpy(done.sums[done.n++], sum, 65);
			continue;
		}
		if (changed.len || sig_caught())
			break;
		rc = run_recorded(r, &sp, &st, &done, &recorded);
	}
	if (rc == ST_OK && (changed.len || i < before.n)) {
		log_error("\"%s\" was partly applied (%zu statements) and has changed since: "
			  "statement%s %s", r->m->path, before.n, changed.len && !strchr(changed.data, ',')
			  ? "" : "s", changed.len ? changed.data : "beyond the end of the file");
		rc = ST_MIGRATION;
	} else if (rc == ST_OK && sig_caught()) {
		rc = ST_SIGNAL;
	} else if (rc == ST_OK && PQtransactionStatus(r->conn) != PQTRANS_IDLE) {
		log_error("\"%s\" ends inside a transaction it began: add its COMMIT", r->m->path);
		rollback(r->conn);
		rc = ST_MIGRATION;
	}
	if (rc == ST_OK)
		rc = finish_statements(r, clock_ms() - start);
	free(before.sums);
	free(done.sums);
	buf_release(&changed);
	return rc;
}


/* A no-transaction down part: its statements, then the history row goes. No progress is
 * kept: a down part that fails midway is finished by hand, as the message says. */
static enum status down_statements(struct run *r)
{
	struct splitter sp;
	struct stmt st;
	struct db_error err;
	enum status rc = ST_OK;

	r->lock_timed_out = false;
	if (set_timeouts(r, false, false, &err) < 0)
		return db_report(&err, "set the migration's timeouts");
	split_init(&sp, r->sql.data, r->sql.len);
	while (rc == ST_OK && split_next(&sp, &st) == 1) {
		if (sig_caught()) {
			rc = ST_SIGNAL;
		} else if (run_statement(r->conn, &r->sql, &st, &err) < 0) {
			r->lock_timed_out = db_is(&err, SQLSTATE_LOCK_NOT_AVAILABLE);
			rc = statement_failure(r->m, &sp, &st, &err);
			rollback(r->conn);
		}
	}
	if (rc == ST_OK && PQtransactionStatus(r->conn) != PQTRANS_IDLE) {
		log_error("\"%s\" ends inside a transaction it began: add its COMMIT", r->m->path);
		rollback(r->conn);
		rc = ST_MIGRATION;
	}
	return rc == ST_OK ? finish_statements(r, 0) : rc;
}

/*
 * After a lock timeout: the other sessions that hold locks on tables of this database,
 * oldest transaction first, which is what the migration waited for. pg_locks is readable
 * by every role; pg_stat_activity shows other roles' queries only to privileged ones.
 */
static void log_blockers(PGconn *conn, const struct migration *m, int64_t attempt,
			 int64_t retries, int64_t delay_ms)
{
	static const char sql[] =
		"SELECT l.pid, coalesce(nullif(a.application_name, ''), '-'), "
		"coalesce(a.state, 'state hidden'), "
		"string_agg(DISTINCT l.mode || ' on ' || l.relation::regclass::text, ', '), "
		"coalesce(left(regexp_replace(a.query, '\\s+', ' ', 'g'), 120), '') "
		"FROM pg_catalog.pg_locks l LEFT JOIN pg_catalog.pg_stat_activity a ON a.pid = l.pid "
		"WHERE l.locktype = 'relation' AND l.granted AND l.pid <> pg_backend_pid() "
		"AND l.relation >= 16384 AND l.database = (SELECT oid FROM pg_catalog.pg_database "
		"WHERE datname = current_database()) "
		"GROUP BY l.pid, a.application_name, a.state, a.query, a.xact_start "
		"ORDER BY a.xact_start NULLS LAST LIMIT 3";
	struct db_error err;
	PGresult *res = db_query(conn, sql, 0, NULL, &err);
	struct log_field fields[] = { { "detail", NULL }, { NULL, NULL } };
	struct buf who;

	buf_init(&who);
	for (int i = 0; res && PQresultStatus(res) == PGRES_TUPLES_OK && i < PQntuples(res); i++)
		buf_printf(&who, "%spid %s (%s, %s; holds %s): %s", i ? "; " : "sessions holding locks: ",
			   PQgetvalue(res, i, 0), PQgetvalue(res, i, 1), PQgetvalue(res, i, 2),
			   PQgetvalue(res, i, 3), PQgetvalue(res, i, 4));
	fields[0].value = who.data;
	log_event(LOG_WARN, fields, "lock timeout in \"%s\": retry %" PRId64 " of %" PRId64
		  " in %" PRId64 "ms", m->file, attempt, retries, delay_ms);
	buf_release(&who);
	PQclear(res);
}

/* Retries after a lock timeout wait 1 s, 2 s, 4 s ... (at most 30 s), half of it jittered. */
static void retry_backoff_init(struct db_backoff *b)
{
	db_backoff_init(b, 500, 30000, true);
}

static enum status run_with_retries(struct run *r)
{
	struct db_backoff backoff;

	retry_backoff_init(&backoff);
	for (int64_t attempt = 1;; attempt++) {
		enum status st;
		int64_t delay;

		if (sig_caught())
			return ST_SIGNAL;
		st = !r->plan.no_transaction ? apply_in_transaction(r)
		     : r->down		 ? down_statements(r)
					 : apply_statements(r);
		if (st != ST_MIGRATION || !r->lock_timed_out || attempt > r->cfg->lock_retries)
			return st;
		delay = db_backoff_next(&backoff);
		log_blockers(r->conn, r->m, attempt, r->cfg->lock_retries, delay);
		if (db_sleep(delay) < 0)
			return ST_SIGNAL;
	}
}

enum status apply_file(PGconn *conn, const struct config *cfg, const struct mig_tables *t,
		       const struct migration *m, const char *label, bool *skipped)
{
	struct run r = { .conn = conn, .cfg = cfg, .t = t, .m = m };
	int64_t start = clock_ms();
	enum status st = ST_MIGRATION;

	buf_init(&r.sql);
	if (mig_read(m, &r.sql) < 0 || make_plan(m, &r.sql, &r.plan) < 0)
		goto out;
	if (r.plan.no_transaction && cfg->lock_per_transaction) {
		log_error("\"%s\" runs without a transaction, which migrate.lock = transaction cannot "
			  "protect: apply it through a direct connection with migrate.lock = session",
			  m->path);
		goto out;
	}
	mig_checksum(r.sql.data, r.sql.len, r.checksum);
	log_info("applying %s %s%s", m->file, label, r.plan.no_transaction ? " (no transaction)" : "");
	st = run_with_retries(&r);
	if (st == ST_OK && r.skipped)
		log_info("%s was applied by another runner meanwhile", m->file);
	else if (st == ST_OK)
		log_info("applied %s in %" PRId64 "ms (%zu statement%s)", m->file, clock_ms() - start,
			 r.plan.count, r.plan.count == 1 ? "" : "s");
out:
	*skipped = r.skipped;
	buf_release(&r.sql);
	return st;
}

int apply_describe(const struct migration *m, struct apply_info *out)
{
	struct plan pl;
	struct buf sql;
	int rc;

	buf_init(&sql);
	rc = mig_read(m, &sql) < 0 || make_plan(m, &sql, &pl) < 0 ? -1 : 0;
	if (rc == 0)
		*out = (struct apply_info){ pl.count, pl.no_transaction, pl.wrapped };
	buf_release(&sql);
	return rc;
}

enum status apply_down(PGconn *conn, const struct config *cfg, const struct mig_tables *t,
		       const struct migration *m, struct buf *sql, const char *label)
{
	struct run r = { .conn = conn, .cfg = cfg, .t = t, .m = m, .down = true };
	enum status st = ST_MIGRATION;

	r.sql = *sql;
	buf_init(sql);
	if (make_plan(m, &r.sql, &r.plan) < 0)
		goto out;
	if (r.plan.no_transaction && cfg->lock_per_transaction) {
		log_error("the down part of \"%s\" runs without a transaction, which migrate.lock = "
			  "transaction cannot protect", m->path);
		goto out;
	}
	log_info("rolling back %s %s%s", m->file, label, r.plan.no_transaction ? " (no transaction)" : "");
	st = run_with_retries(&r);
	if (st == ST_OK && r.skipped)
		log_info("%s was rolled back by another runner meanwhile", m->file);
	else if (st == ST_OK)
		log_info("rolled back %s", m->file);
	else if (st == ST_MIGRATION && r.plan.no_transaction)
		log_error("the down part of \"%s\" ran outside a transaction and stopped midway: "
			  "finish or undo its statements by hand; its history row is kept", m->file);
out:
	buf_release(&r.sql);
	return st;
}

/* The files of migrate.transaction = all, in the caller's open transaction. */
static enum status apply_each(PGconn *conn, const struct config *cfg, const struct mig_tables *t,
			      const struct migration *const *files, size_t n, size_t *applied,
			      bool *lock_timed_out)
{
	enum status st = ST_OK;

	*applied = 0;
	for (size_t i = 0; st == ST_OK && i < n; i++) {
		struct run r = { .conn = conn, .cfg = cfg, .t = t, .m = files[i], .outer = true };

		buf_init(&r.sql);
		if (mig_read(files[i], &r.sql) < 0 || make_plan(files[i], &r.sql, &r.plan) < 0) {
			st = ST_MIGRATION;
		} else {
			mig_checksum(r.sql.data, r.sql.len, r.checksum);
			log_info("applying %s [%zu/%zu] (one transaction for all)", files[i]->file, i + 1, n);
			st = sig_caught() ? ST_SIGNAL : apply_in_transaction(&r);
			*lock_timed_out = r.lock_timed_out;
			*applied += st == ST_OK && !r.skipped;
		}
		buf_release(&r.sql);
	}
	return st;
}

enum status apply_all(PGconn *conn, const struct config *cfg, const struct mig_tables *t,
		      const struct migration *const *files, size_t n, size_t *applied)
{
	struct db_backoff backoff;
	struct run timeouts = { .conn = conn, .cfg = cfg };
	struct db_error err;

	retry_backoff_init(&backoff);
	for (int64_t attempt = 1;; attempt++) {
		bool lock_timed_out = false;
		enum status st = ST_OK;
		int64_t delay;

		if (db_exec(conn, "BEGIN", 0, NULL, &err) < 0)
			return db_report(&err, "begin a transaction");
		if (set_timeouts(&timeouts, true, false, &err) < 0)
			st = db_report(&err, "set the migration's timeouts");
		if (st == ST_OK)
			st = apply_each(conn, cfg, t, files, n, applied, &lock_timed_out);
		if (st == ST_OK && db_exec(conn, COMMIT_AND_RESET, 0, NULL, &err) < 0)
			st = db_report(&err, "commit the migrations");
		if (st == ST_OK)
			return ST_OK;
		rollback(conn);
		*applied = 0;
		if (st != ST_MIGRATION || !lock_timed_out || attempt > cfg->lock_retries)
			return st;
		delay = db_backoff_next(&backoff);
		log_blockers(conn, files[0], attempt, cfg->lock_retries, delay);
		if (db_sleep(delay) < 0)
			return ST_SIGNAL;
	}
}
