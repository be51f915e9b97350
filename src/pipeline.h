/*
 * pipeline: a transactional migration file in about one round trip, with libpq's pipeline
 * mode (the protocol of PostgreSQL 14 and later, which poolers such as PgBouncer pass on).
 * BEGIN, the timeouts, the file's statements, its history row, a check that the migration
 * lock is still held, COMMIT and the session reset are sent together, then their results are
 * read in order. The server skips everything after the first error up to the sync, COMMIT
 * included, and the transaction is rolled back: what fails commits nothing, as on the path
 * that waits for each statement.
 */
#ifndef PGBOOT_PIPELINE_H
#define PGBOOT_PIPELINE_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "db.h"
#include "history.h"
#include "lock.h"
#include "migfile.h"
#include "status.h"
#include "util.h"

/* One file to send. */
struct pipeline_file {
	PGconn *conn;
	const struct config *cfg;
	const struct history *h;
	const struct mig_lock *lock;
	const struct migration *m;
	struct buf *sql;      /* the file's text; each statement is NUL-terminated in place
			       * while it is queued, then restored */
	const char *checksum; /* the file's, for its history row */
};

struct pipeline_result {
	enum status st;     /* ST_OK: applied and committed (unless again) */
	bool again;         /* migrate.lock = transaction: the lock was busy or the file was
			     * applied meanwhile; rolled back, nothing done: apply it the usual way */
	bool in_statement;  /* st is ST_MIGRATION because statement failed (0-based) of the file
			     * failed, and err says why: not logged, the caller names the line */
	size_t failed;
	struct db_error err; /* the first error, whatever failed */
};

/*
 * Whether the file in sql can be sent in one pipeline on conn: a server of PostgreSQL 14
 * or later, a file of at most 1 MiB, statements that are all plain SQL (no COPY, no
 * transaction control of the file's own, no goose StatementBegin block: the extended
 * protocol a pipeline uses takes one command per query), and with the session lock, its
 * server process known.
 */
bool pipeline_fits(PGconn *conn, const struct mig_lock *lock, const struct buf *sql);
/*
 * Applies f in one pipeline and fills out. Failures other than a statement's are logged;
 * after any failure the transaction is rolled back. A lost migration lock is ST_UNAVAILABLE
 * (logged as lock_check does), and a termination signal cancels the running statement.
 */
void pipeline_apply(const struct pipeline_file *f, struct pipeline_result *out);

#endif
