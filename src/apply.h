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
#include "migfile.h"
#include "status.h"

/* Waiters listen here; the holder notifies when it lets the migration lock go. */
#define APPLY_LOCK_CHANNEL "pgboot_migration_lock"

struct mig_tables {
	const struct history *h;
	char lock_key[24]; /* the advisory lock's key, a bigint in decimal */
};

/*
 * Applies m; label is the "[3/12]" of the progress line. With migrate.lock = session the
 * caller holds the migration lock; with transaction, the file's transaction takes it and
 * sets *skipped when another runner applied the file meanwhile. migrate.lock_timeout and
 * statement_timeout hold for its statements; a lock timeout is retried lock_retries
 * times. Errors are logged with the file's line and column.
 */
enum status apply_file(PGconn *conn, const struct config *cfg, const struct mig_tables *t,
		       const struct migration *m, const char *label, bool *skipped);
/*
 * Runs the down part of m, held in sql (taken over: sql is left empty), and removes its
 * history row in the same transaction (after it, for a no-transaction down part). m is a
 * view whose path and line_offset name where the down part was read.
 */
enum status apply_down(PGconn *conn, const struct config *cfg, const struct mig_tables *t,
		       const struct migration *m, struct buf *sql, const char *label);

/*
 * migrate.transaction = all: every file of files in one transaction, each with its
 * history row; a failure anywhere leaves none of them. No-transaction files must have
 * been refused by the caller. *applied counts the files applied.
 */
enum status apply_all(PGconn *conn, const struct config *cfg, const struct mig_tables *t,
		      const struct migration *const *files, size_t n, size_t *applied);

struct apply_info {
	size_t statements;
	bool no_transaction;
	bool wrapped;
};

/* Reads and checks m as apply_file would, running nothing. Returns 0, or -1 (logged). */
int apply_describe(const struct migration *m, struct apply_info *out);
/*
 * Polls pg_try_advisory_xact_lock with backoff until migrate.lock_wait, then names the
 * holder. Either in the caller's open transaction, or (own) in a transaction of its own
 * that stays open once the lock is taken. Waiting holds no snapshot.
 */
enum status apply_lock(PGconn *conn, const struct config *cfg, const char *key, bool own);

#endif
