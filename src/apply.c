#include "apply.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "log.h"
#include "orphan.h"
#include "pipeline.h"
#include "preflight.h"
#include "sig.h"
#include "split.h"

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

/* One file's run: what every step needs. */
struct run {
	PGconn *conn;
	const struct config *cfg;
	const struct history *h;
	const struct mig_lock *lock;
	const struct migration *m;
	struct buf sql;
	struct preflight plan;
	char checksum[65];
	int64_t start;        /* clock_ms() when the attempt began */
	bool lock_timed_out;  /* the last failure was lock_not_available (55P03) */
	bool skipped;         /* another runner applied (or rolled back) the file meanwhile */
	bool down;            /* rolling back: the down part runs, the history row goes */
	bool outer;           /* inside the one transaction of migrate.transaction = all */
	bool no_pipeline;     /* a batch's pipeline found the file busy: the usual way only */
	bool announced;       /* its "applying" line was logged */
	size_t ran;           /* statements this process ran to completion, over all attempts */
	size_t resumed_at;    /* no-transaction: the first statement this process ran, or 0 */
	struct progress done; /* no-transaction: the statements done, with their checksums */
	size_t recorded;      /* no-transaction: how many of them the progress table holds */
};

/* What a no-transaction file leaves when it stops early, and what the next run does. */
static void log_stopped(const struct run *r, size_t index, const char *how)
{
	size_t k = r->recorded;
	char done[96] = "none of its statements was committed";

	if (k == 1)
		snprintf(done, sizeof(done), "statement 1 was committed and recorded");
	else if (k > 1)
		snprintf(done, sizeof(done), "statements 1 to %zu were committed and recorded", k);
	log_error("migration \"%s\" was stopped %s statement %zu of %zu; it runs without a "
		  "transaction: %s, and the next run %s", r->m->path, how, index + 1,
		  r->plan.count, done, k ? "resumes after them" : "starts it again");
}

/* "dir/0003_x.sql:3:8: ERROR: message (SQLSTATE 42601)", with detail, hint and context. */
static enum status statement_failure(const struct run *r, const struct splitter *sp,
				     const struct stmt *st, size_t index, const struct db_error *err)
{
	char line_s[16], col_s[16];
	int line = st->line, col = st->column;
	const struct log_field fields[] = {
		{ "detail", err->detail[0] ? err->detail : NULL },
		{ "hint", err->hint[0] ? err->hint : NULL },
		{ "context", err->context[0] ? err->context : NULL },
		{ "sqlstate", err->sqlstate },
		{ "file", r->m->path },
		{ "line", line_s },
		{ "column", col_s },
		{ NULL, NULL },
	};

	if ((err->interrupted || sig_caught()) && r->plan.no_transaction && !r->down) {
		log_stopped(r, index, "by a signal, which cancelled");
		return ST_SIGNAL;
	}
	if (err->interrupted || sig_caught()) {
		log_error("migration \"%s\" was cancelled; its transaction was rolled back", r->m->path);
		return ST_SIGNAL;
	}
	if (err->connection_lost || !err->sqlstate[0]) {
		log_error("lost the connection while applying \"%s\": %s", r->m->path, err->message);
		return ST_UNAVAILABLE;
	}
	if (err->position > 0)
		split_position(sp, st, err->position, &line, &col);
	line += r->m->line_offset;
	snprintf(line_s, sizeof(line_s), "%d", line);
	snprintf(col_s, sizeof(col_s), "%d", col);
	log_event(LOG_ERROR, fields, "%s:%d:%d: ERROR: %s (SQLSTATE %s)", r->m->path, line, col,
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

/* The history row, in the migration's transaction: written going up, removed going down. */
static enum status record(struct run *r)
{
	if (r->down)
		return history_remove(r->h, r->conn, mig_history_key(r->m));
	return history_record(r->h, r->conn, r->m, r->checksum, clock_ms() - r->start);
}

static void rollback(PGconn *conn)
{
	struct db_error err;

	if (PQstatus(conn) == CONNECTION_OK && PQtransactionStatus(conn) != PQTRANS_IDLE)
		db_exec(conn, "ROLLBACK", 0, NULL, &err);
}

/*
 * migrate.lock_timeout and statement_timeout, server-side: LOCAL inside a transaction,
 * after a BEGIN in the same round trip with begin. The caller frees the text.
 */
static char *timeouts_sql(const struct config *cfg, bool local, bool begin)
{
	const char *scope = local ? "LOCAL" : "SESSION";

	return xasprintf("%sSET %s lock_timeout = '%" PRId64 "ms'; SET %s statement_timeout = '%"
			 PRId64 "ms'", begin ? "BEGIN; " : "", scope, cfg->lock_timeout_ms, scope,
			 cfg->statement_timeout_ms);
}

/* Runs sql, whose result does not matter; a failure is reported as "could not WHAT". */
static enum status exec_sql(PGconn *conn, const char *sql, const char *what)
{
	struct db_error err;

	return db_exec(conn, sql, 0, NULL, &err) < 0 ? db_report(&err, what) : ST_OK;
}

enum status apply_transaction(PGconn *conn, const struct mig_lock *lock, const char *begin_sql,
			      enum status (*body)(void *arg), void *arg, const char *what)
{
	struct db_error err;
	enum status st = ST_OK;
	char *commit_what = xasprintf("commit %s", what);

	if (begin_sql && db_exec(conn, begin_sql, 0, NULL, &err) < 0)
		st = db_report(&err, "begin a transaction");
	if (st == ST_OK)
		st = body(arg);
	/* Committing after the lock was lost could apply what another runner applies too. */
	if (st == ST_OK && lock)
		st = lock_check(lock, true, commit_what);
	if (st == ST_OK && db_exec(conn, COMMIT_AND_RESET, 0, NULL, &err) < 0)
		st = db_report(&err, commit_what);
	if (st != ST_OK)
		rollback(conn);
	free(commit_what);
	return st;
}

/*
 * In LOCK_TRANSACTION mode (poolers that do not keep sessions), the lock is taken inside
 * the file's transaction and the history is checked again under it.
 */
static enum status claim(struct run *r)
{
	enum status st = lock_in_transaction(r->lock, r->conn, r->cfg);
	bool found = false;

	if (st == ST_OK)
		st = history_has(r->h, r->conn, mig_history_key(r->m),
				 r->m->version ? NULL : r->checksum, &found);
	if (st == ST_OK)
		r->skipped = r->down ? !found : found;
	return st;
}

/* What a statement runner calls around each statement; either may be NULL. */
struct stmt_hooks {
	/*
	 * Before statement index runs: anything but ST_OK stops the run without running it;
	 * *done set means it ran to completion elsewhere, and is counted without running.
	 */
	enum status (*before)(struct run *r, const struct stmt *st, size_t index, bool *done);
	/* After it ran, with its status (failures logged already); returns the run's status. */
	enum status (*after)(struct run *r, const struct stmt *st, size_t index, enum status rc);
};

/* Before a statement: the lock still held, no signal, the hook's say. 1: run it. */
static int may_run(struct run *r, const struct stmt *st, size_t i, const struct stmt_hooks *hooks,
		   enum status *rc)
{
	char what[64];
	bool done = false;

	snprintf(what, sizeof(what), "statement %zu of \"%s\"", i + 1, r->m->file);
	if (hooks && hooks->before && (*rc = hooks->before(r, st, i, &done)) != ST_OK)
		return 0;
	if (done)
		return 0;
	if (sig_caught()) {
		/* a query sent now could no longer be cancelled */
		if (r->plan.no_transaction && !r->down)
			log_stopped(r, i, "by a signal before");
		*rc = ST_SIGNAL;
		return 0;
	}
	return (*rc = lock_check(r->lock, false, what)) == ST_OK;
}

/*
 * The one statement runner: statements [from, to) of the file, in order, until one fails
 * (logged with its line and column), a termination signal comes or the lock is lost.
 */
static enum status run_statements(struct run *r, size_t from, size_t to,
				  const struct stmt_hooks *hooks)
{
	struct splitter sp;
	struct stmt st;
	struct db_error err;
	enum status rc = ST_OK;

	split_init(&sp, r->sql.data, r->sql.len);
	for (size_t i = 0; rc == ST_OK && i < to && split_next(&sp, &st) == 1; i++) {
		int run;

		if (i < from)
			continue;
		if ((run = may_run(r, &st, i, hooks, &rc)) == 0 && rc != ST_OK)
			break;
		if (run && run_statement(r->conn, &r->sql, &st, &err) < 0) {
			r->lock_timed_out = db_is(&err, SQLSTATE_LOCK_NOT_AVAILABLE);
			rc = statement_failure(r, &sp, &st, i, &err);
		}
		r->ran += run && rc == ST_OK;
		if (hooks && hooks->after)
			rc = hooks->after(r, &st, i, rc);
	}
	return rc;
}

/* Inside the transaction: with LOCK_TRANSACTION, the lock and the history again (claim);
 * the file's statements (not a wrapper's BEGIN and COMMIT); the history row. */
static enum status transaction_body(void *arg)
{
	struct run *r = arg;
	size_t wrap = r->plan.wrapped ? 1 : 0;
	enum status rc = ST_OK;
	char *timeouts;

	r->ran = 0;
	if (r->plan.wrapped && !r->outer) {
		/* The file's own BEGIN opens the transaction, with its options. */
		rc = run_statements(r, 0, 1, NULL);
		timeouts = timeouts_sql(r->cfg, true, false);
		if (rc == ST_OK)
			rc = exec_sql(r->conn, timeouts, "begin the migration's transaction");
		free(timeouts);
	}
	if (rc == ST_OK && r->lock->mode == LOCK_TRANSACTION)
		rc = claim(r);
	if (rc == ST_OK && !r->skipped)
		rc = run_statements(r, wrap, r->plan.count - wrap, NULL);
	if (rc == ST_OK && !r->skipped)
		rc = record(r);
	return rc;
}

/* Every statement and the history row in one transaction; a failure leaves neither. */
static enum status apply_in_transaction(struct run *r)
{
	char *begin_sql;
	enum status rc;

	r->start = clock_ms();
	r->lock_timed_out = false;
	if (r->outer)
		return transaction_body(r); /* the caller commits or rolls back everything */
	begin_sql = r->plan.wrapped ? NULL : timeouts_sql(r->cfg, true, true);
	rc = apply_transaction(r->conn, r->lock, begin_sql, transaction_body, r, "the migration");
	free(begin_sql);
	return rc;
}

/* The end of a no-transaction file: its history row replaces its progress, atomically. */
static enum status finish_body(void *arg)
{
	struct run *r = arg;
	enum status st = record(r);

	return st == ST_OK ? history_progress_clear(r->h, r->conn, mig_history_key(r->m)) : st;
}

/* After waiting for an earlier runner's backend: the statements it recorded meanwhile. */
static enum status progress_again(struct run *r, size_t index, const char *pid, bool *done)
{
	struct progress pr;
	enum status rc = history_progress_read(r->h, r->conn, mig_history_key(r->m), &pr);

	if (rc == ST_OK && pr.n > index) {
		log_info("statement %zu of \"%s\" was completed by the runner of backend pid %s; "
			 "going on after it", index + 1, r->m->file, pid);
		r->recorded = pr.n > r->recorded ? pr.n : r->recorded;
		*done = true;
	}
	progress_release(&pr);
	return rc;
}

/*
 * The index of a CREATE INDEX CONCURRENTLY about to run: one left INVALID by an earlier
 * run goes first, so the statement builds it again; one that the earlier runner's backend
 * (waited for) completed means the statement is done.
 */
static enum status leftover_index(struct run *r, const char *name, size_t index,
				  const char *pid, bool *done)
{
	enum orphan_index state;
	char *qualified;
	enum status rc = orphan_index_state(r->conn, name, &state, &qualified);

	if (rc == ST_OK && state == INDEX_INVALID) {
		log_warn("dropping index %s, left INVALID by an earlier CREATE INDEX CONCURRENTLY of "
			 "\"%s\", to build it again", qualified, r->m->file);
		rc = orphan_index_drop(r->conn, qualified);
	} else if (rc == ST_OK && state == INDEX_VALID && pid[0]) {
		log_info("index %s was completed by backend pid %s of an earlier run: statement %zu "
			 "of \"%s\" is counted as done", qualified, pid, index + 1, r->m->file);
		*done = true;
	}
	free(qualified);
	return rc;
}

/*
 * Before a statement of a no-transaction file: done already when another runner recorded
 * it meanwhile; otherwise an earlier runner's backend still running it is waited for
 * (within migrate.lock_wait), so no statement runs twice, then a CREATE INDEX
 * CONCURRENTLY's leftover INVALID index goes.
 */
static enum status before_recorded(struct run *r, const struct stmt *st, size_t index,
				   bool *done)
{
	char what[64], pid[16] = "", name[64];
	char *text;
	enum status rc = ST_OK;

	if (index < r->recorded) {
		*done = true;
		return ST_OK;
	}
	if (PQtransactionStatus(r->conn) != PQTRANS_IDLE)
		return ST_OK; /* inside the file's own transaction */
	text = xstrndup(r->sql.data + st->start, st->end - st->start);
	snprintf(what, sizeof(what), "statement %zu of \"%s\"", index + 1, r->m->file);
	rc = orphan_wait(r->conn, text, r->cfg->lock_wait_ms, what, pid);
	if (rc == ST_OK && pid[0])
		rc = progress_again(r, index, pid, done);
	if (rc == ST_OK && !*done && orphan_index_name(text, name, sizeof(name)))
		rc = leftover_index(r, name, index, pid, done);
	free(text);
	return rc;
}

/* A CREATE INDEX CONCURRENTLY that failed or was cancelled names the index it left. */
static void report_invalid_index(const struct run *r, const struct stmt *st)
{
	enum orphan_index state;
	char name[64], *qualified = NULL;

	if (!orphan_index_name(r->sql.data + st->start, name, sizeof(name)) ||
	    PQstatus(r->conn) != CONNECTION_OK ||
	    orphan_index_state(r->conn, name, &state, &qualified) != ST_OK)
		return;
	if (state == INDEX_INVALID)
		log_warn("index %s is left INVALID by the failed CREATE INDEX CONCURRENTLY of \"%s\"; "
			 "the next run drops it and builds it again", qualified, r->m->file);
	free(qualified);
}

/*
 * After a statement of a no-transaction file. Completed statements are recorded once the
 * session is outside any transaction the file opened itself, so what is recorded is what
 * the server committed.
 */
static enum status after_recorded(struct run *r, const struct stmt *st, size_t index,
				  enum status rc)
{
	(void)index;
	if (rc != ST_OK) {
		rollback(r->conn);
		if (rc == ST_MIGRATION || rc == ST_SIGNAL)
			report_invalid_index(r, st);
		return rc;
	}
	statement_checksum(&r->sql, st, r->done.sums[r->done.n++]);
	if (PQtransactionStatus(r->conn) != PQTRANS_IDLE)
		return ST_OK;
	for (; rc == ST_OK && r->recorded < r->done.n; r->recorded++)
		rc = history_progress_add(r->h, r->conn, mig_history_key(r->m), r->recorded,
					  r->done.sums[r->recorded]);
	return rc;
}

/* A down part's statement: a failure rolls back what the part left open. */
static enum status after_down(struct run *r, const struct stmt *st, size_t index, enum status rc)
{
	(void)st;
	(void)index;
	if (rc != ST_OK)
		rollback(r->conn);
	return rc;
}

/*
 * A resumed file must begin with the statements recorded as done: their checksums are
 * compared, and any that changed stop the run before anything more runs.
 */
static enum status check_resumed(struct run *r, const struct progress *before)
{
	struct splitter sp;
	struct stmt st;
	struct buf changed;
	size_t i = 0;
	enum status rc = ST_OK;

	buf_init(&changed);
	split_init(&sp, r->sql.data, r->sql.len);
	for (; i < before->n && split_next(&sp, &st) == 1; i++) {
		statement_checksum(&r->sql, &st, r->done.sums[r->done.n++]);
		if (strcmp(r->done.sums[i], before->sums[i]) != 0)
			buf_printf(&changed, "%s%zu", changed.len ? ", " : "", i + 1);
	}
	if (changed.len || i < before->n) {
		log_error("\"%s\" was partly applied (%zu statement%s) and has changed since: "
			  "statement%s %s", r->m->path, before->n, before->n == 1 ? "" : "s",
			  changed.len && !strchr(changed.data, ',') ? "" : "s",
			  changed.len ? changed.data : "beyond the end of the file");
		rc = ST_MIGRATION;
	}
	buf_release(&changed);
	return rc;
}

/* A no-transaction file must not end inside a transaction it began. */
static enum status check_closed(struct run *r)
{
	if (PQtransactionStatus(r->conn) == PQTRANS_IDLE)
		return ST_OK;
	log_error("\"%s\" ends inside a transaction it began: add its COMMIT", r->m->path);
	rollback(r->conn);
	return ST_MIGRATION;
}

/* Runs a no-transaction file statement by statement, resuming after those done before. */
static enum status apply_statements(struct run *r)
{
	static const struct stmt_hooks hooks = { before_recorded, after_recorded };
	struct progress before;
	char *timeouts = timeouts_sql(r->cfg, false, false);
	enum status rc = history_progress_read(r->h, r->conn, mig_history_key(r->m), &before);

	r->start = clock_ms();
	r->lock_timed_out = false;
	r->done = (struct progress){ xcalloc(r->plan.count + before.n + 1, 65), 0 };
	r->recorded = before.n;
	if (rc == ST_OK)
		rc = exec_sql(r->conn, timeouts, "set the migration's timeouts");
	if (rc == ST_OK)
		rc = check_resumed(r, &before);
	if (rc == ST_OK && before.n && !r->resumed_at)
		log_info("resuming %s at statement %zu of %zu", r->m->file, before.n + 1, r->plan.count);
	if (!r->resumed_at)
		r->resumed_at = before.n + 1;
	if (rc == ST_OK)
		rc = run_statements(r, before.n, r->plan.count, &hooks);
	if (rc == ST_OK)
		rc = check_closed(r);
	if (rc == ST_OK)
		rc = apply_transaction(r->conn, r->lock, "BEGIN", finish_body, r, "the migration");
	progress_release(&before);
	progress_release(&r->done);
	free(timeouts);
	return rc;
}

/* A no-transaction down part: its statements, then the history row goes. No progress is
 * kept: a down part that fails midway is finished by hand, as the message says. */
static enum status down_statements(struct run *r)
{
	static const struct stmt_hooks hooks = { NULL, after_down };
	char *timeouts = timeouts_sql(r->cfg, false, false);
	enum status rc = exec_sql(r->conn, timeouts, "set the migration's timeouts");

	r->lock_timed_out = false;
	free(timeouts);
	if (rc == ST_OK)
		rc = run_statements(r, 0, r->plan.count, &hooks);
	if (rc == ST_OK)
		rc = check_closed(r);
	if (rc != ST_OK)
		return rc;
	return apply_transaction(r->conn, r->lock, "BEGIN", finish_body, r, "the migration");
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

/*
 * The one lock-timeout retry loop: attempt runs until it succeeds, fails for another
 * reason, or migrate.lock_retries retries are used up; before each retry the sessions
 * holding locks are logged and the delay waited out.
 */
static enum status with_retries(PGconn *conn, const struct config *cfg,
				const struct migration *m,
				enum status (*attempt)(void *arg, bool *lock_timed_out), void *arg,
				bool timed_out_once)
{
	struct db_backoff backoff;

	/* Retries after a lock timeout wait 1 s, 2 s, 4 s ... (at most 30 s), half jittered. */
	db_backoff_init(&backoff, 500, 30000, true);
	for (int64_t n = 1;; n++) {
		/* timed_out_once: the first attempt was made already (in a batch) and timed out */
		bool lock_timed_out = timed_out_once && n == 1;
		enum status st = ST_MIGRATION;
		int64_t delay;

		if (!lock_timed_out) {
			if (sig_caught())
				return ST_SIGNAL;
			st = attempt(arg, &lock_timed_out);
		}
		if (st != ST_MIGRATION || !lock_timed_out || n > cfg->lock_retries)
			return st;
		delay = db_backoff_next(&backoff);
		log_blockers(conn, m, n, cfg->lock_retries, delay);
		if (db_sleep(delay) < 0)
			return ST_SIGNAL;
	}
}

/* Statement index of the file failed in a pipeline: logged as run_statements logs it. */
static enum status pipeline_failure(struct run *r, size_t index, const struct db_error *err)
{
	struct splitter sp;
	struct stmt st;
	size_t i = 0;

	split_init(&sp, r->sql.data, r->sql.len);
	while (split_next(&sp, &st) == 1 && i++ < index)
		;
	return statement_failure(r, &sp, &st, index, err);
}

/* A transactional file in one round trip (pipeline.c); false: apply it the usual way. */
static bool pipelined(struct run *r, enum status *st)
{
	struct pipeline_file f = { r->m, &r->sql, r->checksum };
	struct pipeline_batch b = { r->conn, r->cfg, r->h, r->lock, &f, 1, NULL, NULL };
	struct pipeline_result res;

	if (r->plan.no_transaction || r->plan.wrapped || r->down || r->outer || r->no_pipeline ||
	    !pipeline_fits(r->conn, r->lock, &r->sql))
		return false;
	r->start = clock_ms();
	pipeline_apply(&b, &res);
	r->lock_timed_out = res.st == ST_MIGRATION && db_is(&res.err, SQLSTATE_LOCK_NOT_AVAILABLE);
	*st = res.in_statement ? pipeline_failure(r, res.failed, &res.err) : res.st;
	return !res.again;
}

static enum status attempt_file(void *arg, bool *lock_timed_out)
{
	struct run *r = arg;
	char what[300];
	enum status st;

	if (pipelined(r, &st)) {
		*lock_timed_out = r->lock_timed_out;
		return st;
	}
	/* At each file: the lock's connection is asked whether it still holds it. */
	snprintf(what, sizeof(what), "\"%s\"", r->m->file);
	if ((st = lock_check(r->lock, true, what)) != ST_OK)
		return st;
	st = !r->plan.no_transaction ? apply_in_transaction(r)
	     : r->down		 ? down_statements(r)
				 : apply_statements(r);
	*lock_timed_out = r->lock_timed_out;
	return st;
}

/* "applied x.sql in 12ms (5 statements)", or what ran of it when it resumed. */
static void log_applied(const struct run *r, int64_t ms)
{
	size_t n = r->plan.no_transaction ? r->ran : r->plan.count;

	if (r->plan.no_transaction && r->resumed_at > 1)
		log_info("applied %s in %" PRId64 "ms (%zu statement%s, resumed at statement %zu of "
			 "%zu)", r->m->file, ms, n, n == 1 ? "" : "s", r->resumed_at, r->plan.count);
	else
		log_info("applied %s in %" PRId64 "ms (%zu statement%s)", r->m->file, ms, n,
			 n == 1 ? "" : "s");
}

/* Reads m into r, checked, with its checksum; -1 when preflight refused it (logged). */
static int run_read(struct run *r, const struct apply_ctx *ctx, const struct migration *m)
{
	*r = (struct run){ .conn = ctx->conn, .cfg = ctx->cfg, .h = ctx->h, .lock = ctx->lock, .m = m };
	buf_init(&r->sql);
	if (preflight_read(m, ctx->cfg, ctx->lock->mode, &r->sql, &r->plan) < 0)
		return -1;
	mig_checksum(r->sql.data, r->sql.len, r->checksum);
	return 0;
}

/* "applying x.sql [3/12]", once per file. */
static void log_applying(struct run *r, const char *label)
{
	if (!r->announced)
		log_info("applying %s %s%s", r->m->file, label, r->plan.no_transaction ? " (no transaction)" : "");
	r->announced = true;
}

/*
 * The usual way for a file read into r: its attempts, with the lock-timeout retries (the
 * first attempt made already when timed_out_once), and what came of it.
 */
static enum status apply_run(struct run *r, bool timed_out_once)
{
	int64_t start = clock_ms();
	enum status st = with_retries(r->conn, r->cfg, r->m, attempt_file, r, timed_out_once);

	if (st == ST_OK && r->skipped)
		log_info("%s was applied by another runner meanwhile", r->m->file);
	else if (st == ST_OK)
		log_applied(r, clock_ms() - start);
	return st;
}

/* apply_pending: the files, each read at most once, and how far they are done. */
struct pending {
	const struct apply_ctx *ctx;
	const struct migration *const *files;
	size_t n;
	struct run *runs; /* runs[i].m is NULL until files[i] is read */
	size_t *applied;
	size_t batch;     /* the first file of the batch in flight */
	size_t batch_n;   /* and how many it holds */
	size_t refused;   /* the file whose preflight failed, or SIZE_MAX */
};

/* Reads files[i] unless read already; -1 when preflight refused it (logged once). */
static int pending_read(struct pending *pd, size_t i)
{
	if (i == pd->refused)
		return -1;
	if (pd->runs[i].m)
		return 0;
	if (run_read(&pd->runs[i], pd->ctx, pd->files[i]) == 0)
		return 0;
	buf_release(&pd->runs[i].sql);
	pd->refused = i;
	return -1;
}

static void pending_label(const struct pending *pd, size_t i, char *label, size_t size)
{
	snprintf(label, size, "[%zu/%zu]", i + 1, pd->n);
}

/* Announces file i, which the server runs from now on. */
static void pending_start(struct pending *pd, size_t i)
{
	char label[48];

	pd->runs[i].start = clock_ms();
	pending_label(pd, i, label, sizeof(label));
	log_applying(&pd->runs[i], label);
}

/*
 * File k of the batch in flight was committed: the server goes on with the next one, which
 * is announced now (a flush request after each COMMIT brings each file's results as soon
 * as it ends), so the log says which file runs, and names none that a failure skipped.
 */
static void batch_committed(void *arg, size_t k)
{
	struct pending *pd = arg;
	struct run *r = &pd->runs[pd->batch + k];

	log_applied(r, clock_ms() - r->start);
	(*pd->applied)++;
	if (k + 1 < pd->batch_n)
		pending_start(pd, pd->batch + k + 1);
}

/*
 * The files from pd->batch on that go in one pipeline: read, transactional, plain SQL,
 * together at most PIPELINE_MAX_BYTES. Returns how many (0: the first one does not fit,
 * or its preflight failed).
 */
static size_t batch_collect(struct pending *pd)
{
	size_t k = 0, bytes = 0;

	for (size_t i = pd->batch; i < pd->n; i++, k++) {
		struct run *r = &pd->runs[i];

		if (pending_read(pd, i) < 0)
			break;
		if (r->plan.no_transaction || r->plan.wrapped || bytes + r->sql.len > PIPELINE_MAX_BYTES ||
		    !pipeline_fits(r->conn, r->lock, &r->sql))
			break;
		bytes += r->sql.len;
	}
	return k;
}

/* Sends files [pd->batch, pd->batch + k) in one pipeline; *next: the first file left. */
static enum status batch_apply(struct pending *pd, size_t k, size_t *next)
{
	const struct apply_ctx *ctx = pd->ctx;
	struct pipeline_file *pf = xcalloc(k, sizeof(*pf));
	struct pipeline_batch b = { ctx->conn, ctx->cfg, ctx->h, ctx->lock, pf, k, batch_committed, pd };
	struct pipeline_result res;
	struct run *r;
	enum status st;

	for (size_t j = 0; j < k; j++) {
		r = &pd->runs[pd->batch + j];
		pf[j] = (struct pipeline_file){ r->m, &r->sql, r->checksum };
	}
	pd->batch_n = k;
	pending_start(pd, pd->batch);
	pipeline_apply(&b, &res);
	free(pf);
	*next = pd->batch + k;
	if (res.committed == k && res.st == ST_OK)
		return ST_OK;
	r = &pd->runs[pd->batch + res.at];
	*next = pd->batch + res.at + 1;
	if (res.again) {
		/* migrate.lock = transaction: the lock was busy or the file applied meanwhile */
		r->no_pipeline = true;
		st = apply_run(r, false);
		*pd->applied += st == ST_OK && !r->skipped;
		return st;
	}
	if (!res.in_statement)
		return res.st; /* logged */
	st = pipeline_failure(r, res.failed, &res.err);
	if (st != ST_MIGRATION || !db_is(&res.err, SQLSTATE_LOCK_NOT_AVAILABLE))
		return st;
	/* A lock timeout: retried as a file of its own, after the delay the first retry waits. */
	st = apply_run(r, true);
	*pd->applied += st == ST_OK && !r->skipped;
	return st;
}

enum status apply_pending(const struct apply_ctx *ctx, const struct migration *const *files,
			  size_t n, size_t *applied)
{
	struct pending pd = { ctx, files, n, xcalloc(n + 1, sizeof(struct run)), applied, 0, 0,
			      SIZE_MAX };
	enum status st = ST_OK;

	*applied = 0;
	while (st == ST_OK && pd.batch < n) {
		size_t k = batch_collect(&pd), next = pd.batch + 1;
		struct run *r = &pd.runs[pd.batch];

		if (sig_caught()) {
			st = ST_SIGNAL;
		} else if (k > 0) {
			st = batch_apply(&pd, k, &next);
		} else if (pd.batch == pd.refused) {
			st = ST_MIGRATION; /* logged by preflight */
		} else {
			pending_start(&pd, pd.batch);
			st = apply_run(r, false);
			*applied += st == ST_OK && !r->skipped;
		}
		for (size_t i = pd.batch; i < next; i++)
			buf_release(&pd.runs[i].sql);
		pd.batch = next;
	}
	for (size_t i = 0; i < n; i++)
		buf_release(&pd.runs[i].sql);
	free(pd.runs);
	return st;
}

enum status apply_down(const struct apply_ctx *ctx, const struct migration *m, struct buf *sql,
		       const char *label)
{
	struct run r = { .conn = ctx->conn, .cfg = ctx->cfg, .h = ctx->h, .lock = ctx->lock,
			 .m = m, .down = true };
	enum status st = ST_MIGRATION;

	r.sql = *sql;
	buf_init(sql);
	if (preflight_check(m, &r.sql, ctx->cfg, ctx->lock->mode, true, &r.plan) < 0)
		goto out;
	log_info("rolling back %s %s%s", m->file, label, r.plan.no_transaction ? " (no transaction)" : "");
	st = with_retries(r.conn, r.cfg, m, attempt_file, &r, false);
	if (st == ST_OK && r.skipped)
		log_info("%s was rolled back by another runner meanwhile", m->file);
	else if (st == ST_OK)
		log_info("rolled back %s", m->file);
	else if (r.plan.no_transaction && r.ran)
		log_error("the down part of \"%s\" ran outside a transaction and stopped midway "
			  "(%zu statement%s of %zu done): finish or undo its statements by hand; its "
			  "history row is kept", m->file, r.ran, r.ran == 1 ? "" : "s", r.plan.count);
out:
	buf_release(&r.sql);
	return st;
}

/* migrate.transaction = all: what one attempt needs. */
struct all {
	const struct apply_ctx *ctx;
	const struct migration *const *files;
	size_t n;
	size_t *applied;
	bool lock_timed_out;
};

/* The files, in the one transaction that apply_transaction opened. */
static enum status all_body(void *arg)
{
	struct all *a = arg;
	const struct apply_ctx *ctx = a->ctx;
	enum status st = ST_OK;

	for (size_t i = 0; st == ST_OK && i < a->n; i++) {
		struct run r = { .conn = ctx->conn, .cfg = ctx->cfg, .h = ctx->h,
				 .lock = ctx->lock, .m = a->files[i], .outer = true };

		buf_init(&r.sql);
		if (preflight_read(r.m, ctx->cfg, ctx->lock->mode, &r.sql, &r.plan) < 0) {
			st = ST_MIGRATION;
		} else {
			mig_checksum(r.sql.data, r.sql.len, r.checksum);
			log_info("applying %s [%zu/%zu] (one transaction for all)", r.m->file, i + 1,
				 a->n);
			st = sig_caught() ? ST_SIGNAL : apply_in_transaction(&r);
			a->lock_timed_out = r.lock_timed_out;
			*a->applied += st == ST_OK && !r.skipped;
		}
		buf_release(&r.sql);
	}
	return st;
}

static enum status attempt_all(void *arg, bool *lock_timed_out)
{
	struct all *a = arg;
	char *begin_sql = timeouts_sql(a->ctx->cfg, true, true);
	enum status st;

	*a->applied = 0;
	a->lock_timed_out = false;
	st = apply_transaction(a->ctx->conn, a->ctx->lock, begin_sql, all_body, a, "the migrations");
	free(begin_sql);
	if (st != ST_OK)
		*a->applied = 0;
	*lock_timed_out = a->lock_timed_out;
	return st;
}

enum status apply_all(const struct apply_ctx *ctx, const struct migration *const *files, size_t n,
		      size_t *applied)
{
	struct all a = { ctx, files, n, applied, false };

	return with_retries(ctx->conn, ctx->cfg, files[0], attempt_all, &a, false);
}
