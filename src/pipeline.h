/*
 * pipeline: transactional migration files in about one round trip, with libpq's pipeline
 * mode (the protocol of PostgreSQL 14 and later, which poolers such as PgBouncer pass on).
 * For each file of a batch, in order: BEGIN, the timeouts, the file's statements, its
 * history row, the session reset, a check that the migration lock is still held, COMMIT
 * and a flush request (the server sends the file's results as soon as it ends); one sync
 * ends the batch, and the results are read in order. Each file is a transaction of its
 * own. The server skips everything after the first error up to the
 * sync, and the failing file's transaction is rolled back: the files before it are
 * committed, it and the files after it are not, as on the path that waits for each
 * statement.
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

/*
 * libpq keeps a copy of each queued query until its result is read, so a batch holds its
 * files twice: at most this many bytes of files go in one batch, and a larger file goes
 * statement by statement, where a round trip per statement costs little beside its size.
 */
#define PIPELINE_MAX_BYTES ((size_t)1024 * 1024)

/* One file of a batch. */
struct pipeline_file {
	const struct migration *m;
	struct buf *sql;      /* the file's text; each statement is NUL-terminated in place
			       * while it is queued, then restored */
	const char *checksum; /* the file's, for its history row */
};

/* Files to send together, in order. */
struct pipeline_batch {
	PGconn *conn;
	const struct config *cfg;
	const struct history *h;
	const struct mig_lock *lock;
	const struct pipeline_file *files;
	size_t n;
	/* Called, when not NULL, as soon as file i's COMMIT succeeded. */
	void (*committed)(void *arg, size_t i);
	void *arg;
};

struct pipeline_result {
	enum status st;     /* ST_OK: every file applied and committed (unless again) */
	size_t committed;   /* the first files of the batch that were committed */
	size_t at;          /* when not every file was: the file that failed (committed) */
	bool again;         /* migrate.lock = transaction: for file at the lock was busy or
			     * the file was applied meanwhile; it was rolled back and nothing
			     * after it ran: apply it the usual way */
	bool in_statement;  /* st is ST_MIGRATION because statement failed (0-based) of file
			     * at failed, and err says why: not logged, the caller names the
			     * line */
	size_t failed;
	struct db_error err; /* the first error, whatever failed */
};

/*
 * Whether the file in sql can be sent in a pipeline on conn: a server of PostgreSQL 14 or
 * later, a file of at most PIPELINE_MAX_BYTES, statements that are all plain SQL (no COPY,
 * no transaction control of the file's own, no goose StatementBegin block: the extended
 * protocol a pipeline uses takes one command per query), and with the session lock, its
 * server process known.
 */
bool pipeline_fits(PGconn *conn, const struct mig_lock *lock, const struct buf *sql);
/*
 * Applies the batch b in one pipeline and fills out. Failures other than a statement's
 * are logged; after any failure the failing file's transaction is rolled back. A lost
 * migration lock is ST_UNAVAILABLE (logged as lock_check does), and a termination signal
 * cancels the running statement.
 */
void pipeline_apply(const struct pipeline_batch *b, struct pipeline_result *out);

#endif
