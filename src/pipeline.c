#include "pipeline.h"

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"
#include "sig.h"
#include "split.h"

/* What each query sent is for, so that its error means the right thing. */
enum role {
	Q_BEGIN,     /* BEGIN and the timeouts */
	Q_CLAIM,     /* migrate.lock = transaction: the lock and the history, guarded */
	Q_STATEMENT, /* one of the file's statements */
	Q_RECORD,    /* the history row */
	Q_HELD,      /* migrate.lock = session: the lock's backend still holds it, guarded */
	Q_COMMIT,
	Q_RESET, /* after COMMIT: the session reset of apply.c's COMMIT_AND_RESET */
};

/*
 * After COMMIT, the session goes back to its defaults as DISCARD ALL would, but keeps the
 * migration lock (apply.c resets the same way), so one file's SET or temporary tables do
 * not leak into the next. The extended protocol takes one command per query.
 */
static const char *const reset_sql[] = {
	"CLOSE ALL", "RESET ALL", "RESET SESSION AUTHORIZATION", "DEALLOCATE ALL",
	"UNLISTEN *", "DISCARD PLANS", "DISCARD TEMP", "DISCARD SEQUENCES",
};

#define RESET_COUNT (sizeof(reset_sql) / sizeof(reset_sql[0]))
#define GUARD_ERROR "22012" /* division_by_zero: how a guard says no */
/*
 * libpq keeps a copy of each queued query until its result is read, so a pipeline holds the
 * file twice: larger files go statement by statement, where a round trip per statement
 * costs little beside their size.
 */
#define PIPELINE_MAX_BYTES ((size_t)1024 * 1024)

/* The queries of one pipeline, in the order sent. */
struct pipe {
	const struct pipeline_file *f;
	enum role *roles;
	size_t *stmts; /* the file's statement index of each Q_STATEMENT */
	size_t n, cap;
	bool send_failed;
};

/* Queues one query (params may be NULL); a failure to queue is remembered. */
static void send_one(struct pipe *p, enum role role, size_t stmt, const char *sql, int nparams,
		     const char *const *params)
{
	if (p->send_failed)
		return;
	if (p->n == p->cap) {
		p->cap = p->cap ? p->cap * 2 : 64;
		p->roles = xrealloc(p->roles, p->cap * sizeof(*p->roles));
		p->stmts = xrealloc(p->stmts, p->cap * sizeof(*p->stmts));
	}
	if (!PQsendQueryParams(p->f->conn, sql, nparams, NULL, params, NULL, NULL, 0)) {
		p->send_failed = true;
		return;
	}
	p->roles[p->n] = role;
	p->stmts[p->n++] = stmt;
}

static bool copy_word(const char *s, size_t len)
{
	for (size_t i = 0; i + 4 <= len; i++)
		if (strncasecmp(s + i, "copy", 4) == 0)
			return true;
	return false;
}

bool pipeline_fits(PGconn *conn, const struct mig_lock *lock, const struct buf *sql)
{
	struct splitter sp;
	struct stmt st;
	int rc;

	if (PQserverVersion(conn) < 140000 || PQpipelineStatus(conn) != PQ_PIPELINE_OFF ||
	    sql->len > PIPELINE_MAX_BYTES)
		return false;
	if (lock->mode == LOCK_SESSION && (!lock->conn || lock->backend_pid <= 0))
		return false;
	split_init(&sp, sql->data, sql->len);
	while ((rc = split_next(&sp, &st)) == 1)
		/* anything that might be a COPY keeps the path that feeds and reads COPY data */
		if (st.kind != STMT_SQL || copy_word(sql->data + st.start, st.end - st.start))
			return false;
	return rc == 0;
}

/* BEGIN with the timeouts, and with migrate.lock = transaction the guarded claim. */
static void send_begin(struct pipe *p)
{
	const struct pipeline_file *f = p->f;
	char *lock_timeout = xasprintf("SET LOCAL lock_timeout = '%" PRId64 "ms'",
				       f->cfg->lock_timeout_ms);
	char *stmt_timeout = xasprintf("SET LOCAL statement_timeout = '%" PRId64 "ms'",
				       f->cfg->statement_timeout_ms);

	send_one(p, Q_BEGIN, 0, "BEGIN", 0, NULL);
	send_one(p, Q_BEGIN, 0, lock_timeout, 0, NULL);
	send_one(p, Q_BEGIN, 0, stmt_timeout, 0, NULL);
	if (f->lock->mode == LOCK_TRANSACTION) {
		/* Busy lock or a row already there: a division by zero aborts the pipeline. */
		char *take = xasprintf("SELECT 1 / pg_catalog.pg_try_advisory_xact_lock(%s::bigint)::int",
				       f->lock->key);
		char *absent = history_absent_guard(f->h);
		struct history_insert ins;

		history_insert_init(&ins, f->h, f->m, f->checksum, -1);
		send_one(p, Q_CLAIM, 0, take, 0, NULL);
		send_one(p, Q_CLAIM, 0, absent, 1, ins.params);
		history_insert_release(&ins);
		free(take);
		free(absent);
	}
	free(lock_timeout);
	free(stmt_timeout);
}

/* The file's statements, each NUL-terminated in place while libpq copies it. */
static void send_statements(struct pipe *p)
{
	struct buf *sql = p->f->sql;
	struct splitter sp;
	struct stmt st;

	split_init(&sp, sql->data, sql->len);
	for (size_t i = 0; split_next(&sp, &st) == 1; i++) {
		char saved = sql->data[st.end];

		sql->data[st.end] = '\0';
		send_one(p, Q_STATEMENT, i, sql->data + st.start, 0, NULL);
		sql->data[st.end] = saved;
	}
}

/* The history row, the lock still held, COMMIT and the reset; then the sync. */
static void send_end(struct pipe *p)
{
	const struct pipeline_file *f = p->f;
	struct history_insert ins;

	history_insert_init(&ins, f->h, f->m, f->checksum, -1);
	send_one(p, Q_RECORD, 0, ins.sql, 5, ins.params);
	history_insert_release(&ins);
	if (f->lock->mode == LOCK_SESSION) {
		/* Committing after the lock was lost could apply what another runner applies too. */
		char *held = xasprintf(
			"SELECT 1 / count(*) FROM pg_catalog.pg_locks WHERE locktype = 'advisory' "
			"AND granted AND objsubid = 1 AND pid = %d "
			"AND classid::bigint = ((%s::bigint >> 32) & 4294967295) "
			"AND objid::bigint = (%s::bigint & 4294967295)",
			f->lock->backend_pid, f->lock->key, f->lock->key);

		send_one(p, Q_HELD, 0, held, 0, NULL);
		free(held);
	}
	send_one(p, Q_COMMIT, 0, "COMMIT", 0, NULL);
	for (size_t i = 0; i < RESET_COUNT; i++)
		send_one(p, Q_RESET, 0, reset_sql[i], 0, NULL);
	if (!p->send_failed && !PQpipelineSync(f->conn))
		p->send_failed = true;
}

/*
 * Reads every query's results and the sync. Returns the index of the first query that
 * failed (its error in err), p->n when none did, or p->n + 1 when the connection failed
 * (err says why) and nothing more can be read.
 */
static size_t read_results(struct pipe *p, bool cancellable, struct db_error *err)
{
	PGconn *conn = p->f->conn;
	size_t first = p->n;

	for (size_t i = 0;; i++) {
		PGresult *res;

		for (;;) {
			struct db_error werr;

			memset(&werr, 0, sizeof(werr));
			if (db_wait(conn, cancellable, &werr) < 0) {
				*err = werr;
				return p->n + 1;
			}
			if (werr.interrupted)
				cancellable = false; /* cancelled once: the results follow */
			if (!(res = PQgetResult(conn)))
				break; /* the end of query i */
			if (PQresultStatus(res) == PGRES_PIPELINE_SYNC) {
				PQclear(res);
				return first;
			}
			if (PQresultStatus(res) == PGRES_FATAL_ERROR && first == p->n && i < p->n) {
				first = i;
				db_result_error(conn, res, err);
			}
			PQclear(res);
		}
	}
}

/* The lock's backend no longer holds it: as lock_check says it, with the cause it finds. */
static enum status lock_lost(const struct pipeline_file *f)
{
	const struct log_field fields[] = {
		{ "hint", "another runner may hold the lock now; nothing more was applied by this one, "
			  "and the next run goes on where this one stopped" },
		{ NULL, NULL },
	};
	char what[300];
	enum status st;

	snprintf(what, sizeof(what), "committing \"%s\"", f->m->file);
	if ((st = lock_check(f->lock, true, what)) != ST_OK)
		return st;
	log_event(LOG_ERROR, fields, "lost the migration lock before %s: backend pid %d no "
		  "longer holds it", what, f->lock->backend_pid);
	return ST_UNAVAILABLE;
}

/* What the first failure, by query index, means; the transaction is rolled back first. */
static void judge(const struct pipe *p, size_t first, struct pipeline_result *out)
{
	const struct pipeline_file *f = p->f;
	enum role role = first < p->n ? p->roles[first] : Q_COMMIT;
	struct db_error err;
	bool guard = db_is(&out->err, GUARD_ERROR);

	if (PQstatus(f->conn) == CONNECTION_OK && PQtransactionStatus(f->conn) != PQTRANS_IDLE)
		db_exec(f->conn, "ROLLBACK", 0, NULL, &err);
	if (role == Q_STATEMENT) {
		out->in_statement = true;
		out->failed = p->stmts[first];
		out->st = ST_MIGRATION;
	} else if (out->err.interrupted || sig_caught()) {
		log_error("migration \"%s\" was cancelled; its transaction was rolled back", f->m->path);
		out->st = ST_SIGNAL;
	} else if (role == Q_CLAIM && guard) {
		out->again = true;
		out->st = ST_OK;
	} else if (role == Q_HELD && guard) {
		out->st = lock_lost(f);
	} else {
		out->st = db_report(&out->err, role == Q_BEGIN	? "begin a transaction"
					       : role == Q_RECORD ? "record the migration in the history"
								  : "commit the migration");
	}
}

void pipeline_apply(const struct pipeline_file *f, struct pipeline_result *out)
{
	struct pipe p = { .f = f };
	char what[300];
	bool cancellable = !sig_caught();
	size_t first;

	memset(out, 0, sizeof(*out));
	snprintf(what, sizeof(what), "\"%s\"", f->m->file);
	/* Only what the lock's socket holds already: the guard before COMMIT asks the server. */
	if (!cancellable || (out->st = lock_check(f->lock, false, what)) != ST_OK) {
		out->st = cancellable ? out->st : ST_SIGNAL;
		return;
	}
	if (!PQenterPipelineMode(f->conn)) {
		p.send_failed = true;
	} else {
		send_begin(&p);
		send_statements(&p);
		send_end(&p);
	}
	if (p.send_failed) {
		log_error("lost the connection while applying \"%s\": %s", f->m->path,
			  PQerrorMessage(f->conn));
		out->st = ST_UNAVAILABLE;
		goto out;
	}
	first = read_results(&p, cancellable, &out->err);
	if (first > p.n) {
		log_error("lost the connection while applying \"%s\": %s", f->m->path, out->err.message);
		out->st = out->err.interrupted ? ST_SIGNAL : ST_UNAVAILABLE;
		goto out;
	}
	PQexitPipelineMode(f->conn);
	if (first < p.n)
		judge(&p, first, out);
out:
	free(p.roles);
	free(p.stmts);
}
