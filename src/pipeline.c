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
	Q_RESET,     /* the session reset of apply.c's COMMIT_AND_RESET, before COMMIT */
	Q_HELD,      /* migrate.lock = session: the lock's backend still holds it, guarded */
	Q_COMMIT,
};

/*
 * Before COMMIT, the session goes back to its defaults as DISCARD ALL would, but keeps the
 * migration lock (apply.c resets the same way after its COMMIT), so one file's SET or
 * temporary tables do not leak into the next. Inside the file's transaction, the reset
 * commits with the file: a later file of the batch that fails and is rolled back cannot
 * take it back. The extended protocol takes one command per query.
 */
static const char *const reset_sql[] = {
	"CLOSE ALL", "RESET ALL", "RESET SESSION AUTHORIZATION", "DEALLOCATE ALL",
	"UNLISTEN *", "DISCARD PLANS", "DISCARD TEMP", "DISCARD SEQUENCES",
};

#define RESET_COUNT (sizeof(reset_sql) / sizeof(reset_sql[0]))
#define GUARD_ERROR "22012" /* division_by_zero: how a guard says no */

/* One query sent: what it is for, and for which file (and statement of it). */
struct query {
	enum role role;
	size_t file;
	size_t stmt;
};

/* The queries of one pipeline, in the order sent. */
struct pipe {
	const struct pipeline_batch *b;
	struct query *q;
	size_t n, cap;
	bool send_failed;
};

/* Queues one query for file (params may be NULL); a failure to queue is remembered. */
static void send_one(struct pipe *p, enum role role, size_t file, size_t stmt, const char *sql,
		     int nparams, const char *const *params)
{
	if (p->send_failed)
		return;
	if (p->n == p->cap) {
		p->cap = p->cap ? p->cap * 2 : 64;
		p->q = xrealloc(p->q, p->cap * sizeof(*p->q));
	}
	if (!PQsendQueryParams(p->b->conn, sql, nparams, NULL, params, NULL, NULL, 0)) {
		p->send_failed = true;
		return;
	}
	p->q[p->n++] = (struct query){ role, file, stmt };
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
		/*
		 * Anything that might be a COPY keeps the path that feeds and reads COPY data; a
		 * goose block may hold several commands, which only the simple protocol takes.
		 */
		if (st.kind != STMT_SQL || st.block ||
		    copy_word(sql->data + st.start, st.end - st.start))
			return false;
	return rc == 0;
}


/* File i's BEGIN with the timeouts, and with migrate.lock = transaction the guarded claim. */
static void send_begin(struct pipe *p, size_t i)
{
	const struct pipeline_batch *b = p->b;
	const struct pipeline_file *f = &b->files[i];
	char *lock_timeout = xasprintf("SET LOCAL lock_timeout = '%" PRId64 "ms'",
				       b->cfg->lock_timeout_ms);
	char *stmt_timeout = xasprintf("SET LOCAL statement_timeout = '%" PRId64 "ms'",
				       b->cfg->statement_timeout_ms);

	send_one(p, Q_BEGIN, i, 0, "BEGIN", 0, NULL);
	send_one(p, Q_BEGIN, i, 0, lock_timeout, 0, NULL);
	send_one(p, Q_BEGIN, i, 0, stmt_timeout, 0, NULL);
	if (b->lock->mode == LOCK_TRANSACTION) {
		/* Busy lock or a row already there: a division by zero aborts the pipeline. */
		char *take = xasprintf("SELECT 1 / pg_catalog.pg_try_advisory_xact_lock(%s::bigint)::int",
				       b->lock->key);
		char *absent = history_absent_guard(b->h);
		struct history_insert ins;

		history_insert_init(&ins, b->h, f->m, f->checksum, -1);
		send_one(p, Q_CLAIM, i, 0, take, 0, NULL);
		send_one(p, Q_CLAIM, i, 0, absent, 1, ins.params);
		history_insert_release(&ins);
		free(take);
		free(absent);
	}
	free(lock_timeout);
	free(stmt_timeout);
}

/* File i's statements, each NUL-terminated in place while libpq copies it. */
static void send_statements(struct pipe *p, size_t i)
{
	struct buf *sql = p->b->files[i].sql;
	struct splitter sp;
	struct stmt st;

	split_init(&sp, sql->data, sql->len);
	for (size_t k = 0; split_next(&sp, &st) == 1; k++) {
		char saved = sql->data[st.end];

		sql->data[st.end] = '\0';
		send_one(p, Q_STATEMENT, i, k, sql->data + st.start, 0, NULL);
		sql->data[st.end] = saved;
	}
}

/* File i's history row, the reset, the lock still held, and COMMIT. */
static void send_end(struct pipe *p, size_t i)
{
	const struct pipeline_batch *b = p->b;
	struct history_insert ins;

	history_insert_init(&ins, b->h, b->files[i].m, b->files[i].checksum, -1);
	send_one(p, Q_RECORD, i, 0, ins.sql, 5, ins.params);
	history_insert_release(&ins);
	for (size_t k = 0; k < RESET_COUNT; k++)
		send_one(p, Q_RESET, i, 0, reset_sql[k], 0, NULL);
	if (b->lock->mode == LOCK_SESSION) {
		/* Committing after the lock was lost could apply what another runner applies too. */
		char *rows = lock_rows_sql(b->lock->key);
		char *held = xasprintf("SELECT 1 / count(*) %s AND l.pid = %d", rows,
				       b->lock->backend_pid);

		send_one(p, Q_HELD, i, 0, held, 0, NULL);
		free(held);
		free(rows);
	}
	send_one(p, Q_COMMIT, i, 0, "COMMIT", 0, NULL);
	/* The server sends the file's results as soon as it ends, not at the sync. */
	if (!p->send_failed && !PQsendFlushRequest(b->conn))
		p->send_failed = true;
}

/*
 * Reads every query's results and the sync; out->committed counts the files whose COMMIT
 * succeeded, each announced as it is read. Returns the index of the first query that
 * failed (its error in out->err), p->n when none did, or p->n + 1 when the connection
 * failed (out->err says why) and nothing more can be read.
 */
static size_t read_results(struct pipe *p, bool cancellable, struct pipeline_result *out)
{
	const struct pipeline_batch *b = p->b;
	size_t first = p->n;

	for (size_t i = 0;; i++) {
		PGresult *res;

		for (;;) {
			struct db_error werr;
			ExecStatusType rs;

			memset(&werr, 0, sizeof(werr));
			if (db_wait(b->conn, cancellable, &werr) < 0) {
				out->err = werr;
				return p->n + 1;
			}
			if (werr.interrupted)
				cancellable = false; /* cancelled once: the results follow */
			if (!(res = PQgetResult(b->conn)))
				break; /* the end of query i */
			rs = PQresultStatus(res);
			if (rs == PGRES_PIPELINE_SYNC) {
				PQclear(res);
				return first;
			}
			if (rs == PGRES_FATAL_ERROR && first == p->n && i < p->n) {
				first = i;
				db_result_error(b->conn, res, &out->err);
			} else if (rs == PGRES_COMMAND_OK && i < p->n && p->q[i].role == Q_COMMIT &&
				   first == p->n) {
				out->committed = p->q[i].file + 1;
				if (b->committed)
					b->committed(b->arg, p->q[i].file);
			}
			PQclear(res);
		}
	}
}

/* The lock's backend no longer holds it: as lock_check says it, with the cause it finds. */
static enum status lock_lost(const struct pipeline_batch *b, const struct migration *m)
{
	const struct log_field fields[] = {
		{ "hint", "another runner may hold the lock now; nothing more was applied by this one, "
			  "and the next run goes on where this one stopped" },
		{ NULL, NULL },
	};
	char what[300];
	enum status st;

	snprintf(what, sizeof(what), "committing \"%s\"", m->file);
	if ((st = lock_check(b->lock, true, what)) != ST_OK)
		return st;
	log_event(LOG_ERROR, fields, "lost the migration lock before %s: backend pid %d no "
		  "longer holds it", what, b->lock->backend_pid);
	return ST_UNAVAILABLE;
}

/* What the first failure, by query index, means; the transaction is rolled back first. */
static void judge(const struct pipe *p, size_t first, struct pipeline_result *out)
{
	const struct pipeline_batch *b = p->b;
	enum role role = first < p->n ? p->q[first].role : Q_COMMIT;
	const struct migration *m;
	struct db_error err;
	bool guard = db_is(&out->err, GUARD_ERROR);

	out->at = first < p->n ? p->q[first].file : out->committed;
	m = b->files[out->at].m;
	if (PQstatus(b->conn) == CONNECTION_OK && PQtransactionStatus(b->conn) != PQTRANS_IDLE)
		db_exec(b->conn, "ROLLBACK", 0, NULL, &err);
	if (role == Q_STATEMENT) {
		out->in_statement = true;
		out->failed = p->q[first].stmt;
		out->st = ST_MIGRATION;
	} else if (out->err.interrupted || sig_caught()) {
		log_error("migration \"%s\" was cancelled; its transaction was rolled back", m->path);
		out->st = ST_SIGNAL;
	} else if (role == Q_CLAIM && guard) {
		out->again = true;
		out->st = ST_OK;
	} else if (role == Q_HELD && guard) {
		out->st = lock_lost(b, m);
	} else {
		out->st = db_report(&out->err, role == Q_BEGIN	? "begin a transaction"
					       : role == Q_RECORD ? "record the migration in the history"
								  : "commit the migration");
	}
}

void pipeline_apply(const struct pipeline_batch *b, struct pipeline_result *out)
{
	struct pipe p = { .b = b };
	char what[300];
	bool cancellable = !sig_caught();
	size_t first;

	memset(out, 0, sizeof(*out));
	snprintf(what, sizeof(what), "\"%s\"", b->files[0].m->file);
	/* Only what the lock's socket holds already: the guard before each COMMIT asks the server. */
	if (!cancellable || (out->st = lock_check(b->lock, false, what)) != ST_OK) {
		out->st = cancellable ? out->st : ST_SIGNAL;
		return;
	}
	if (!PQenterPipelineMode(b->conn)) {
		p.send_failed = true;
	} else {
		for (size_t i = 0; i < b->n; i++) {
			send_begin(&p, i);
			send_statements(&p, i);
			send_end(&p, i);
		}
		if (!p.send_failed && !PQpipelineSync(b->conn))
			p.send_failed = true;
	}
	if (p.send_failed) {
		out->at = 0;
		log_error("lost the connection while applying \"%s\": %s", b->files[0].m->path,
			  PQerrorMessage(b->conn));
		out->st = ST_UNAVAILABLE;
		goto out;
	}
	first = read_results(&p, cancellable, out);
	if (first > p.n) {
		out->at = out->committed < b->n ? out->committed : b->n - 1;
		log_error("lost the connection while applying \"%s\": %s",
			  b->files[out->at].m->path, out->err.message);
		out->st = out->err.interrupted ? ST_SIGNAL : ST_UNAVAILABLE;
		goto out;
	}
	PQexitPipelineMode(b->conn);
	if (first < p.n)
		judge(&p, first, out);
out:
	free(p.q);
}
