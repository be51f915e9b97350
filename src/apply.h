/*
 * apply: running one migration file. By default every statement runs in one transaction
 * together with the history row. A file whose first line is "-- pgboot:no-transaction"
 * runs statement by statement outside a transaction, with each completed statement
 * recorded, so a failed or killed run resumes where it stopped.
 */
#ifndef PGBOOT_APPLY_H
#define PGBOOT_APPLY_H

#include <libpq-fe.h>

#include "config.h"
#include "history.h"
#include "lock.h"
#include "migfile.h"
#include "status.h"

/* What applying needs besides the file: the connection, the settings, the history, and
 * the migration lock with the mode in effect. */
struct apply_ctx {
	PGconn *conn;
	const struct config *cfg;
	const struct history *h;
	const struct mig_lock *lock;
};

/*
 * Applies the pending files in order until one fails; *applied counts those applied, and
 * each file's progress line is labelled "[i/n]". In LOCK_SESSION mode the caller holds
 * the migration lock, and the run stops (ST_UNAVAILABLE) as soon as it is found lost; in
 * LOCK_TRANSACTION, each file's transaction takes it, reads the history again and skips
 * the file when another runner applied it meanwhile. migrate.lock_timeout and
 * statement_timeout hold for the statements; a lock timeout is retried lock_retries
 * times. Errors are logged with the file's line and column. Consecutive transactional
 * files that fit a pipeline (pipeline.c) go in one, each in its own transaction: a batch
 * costs about one round trip, a failing file commits nothing, and nothing after it runs.
 */
enum status apply_pending(const struct apply_ctx *ctx, const struct migration *const *files,
			  size_t n, size_t *applied);
/*
 * Runs the down part of m, held in sql (taken over: sql is left empty), and removes its
 * history row in the same transaction (after it, for a no-transaction down part). m is a
 * view whose path and line_offset name where the down part was read.
 */
enum status apply_down(const struct apply_ctx *ctx, const struct migration *m, struct buf *sql,
		       const char *label);

/*
 * migrate.transaction = all: every file of files in one transaction, each with its
 * history row; a failure anywhere leaves none of them. No-transaction files must have
 * been refused by the caller. *applied counts the files applied.
 */
enum status apply_all(const struct apply_ctx *ctx, const struct migration *const *files, size_t n,
		      size_t *applied);

/*
 * The one transaction helper: begin_sql (NULL when body begins the transaction itself),
 * then body(arg), then COMMIT, which also resets the session (as psql's next file would
 * start afresh) but keeps the migration lock; ROLLBACK instead when anything failed. what
 * names the work in errors ("the migration"). With lock (may be NULL), the migration lock
 * must still be held before COMMIT (lock_check), or nothing is committed.
 */
enum status apply_transaction(PGconn *conn, const struct mig_lock *lock, const char *begin_sql,
			      enum status (*body)(void *arg), void *arg, const char *what);

#endif
