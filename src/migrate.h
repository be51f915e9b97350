/* migrate: applying pending migrations, each in one transaction with its history row. */
#ifndef PGBOOT_MIGRATE_H
#define PGBOOT_MIGRATE_H

#include <libpq-fe.h>

#include "config.h"
#include "migfile.h"
#include "status.h"

/*
 * Applies the files in list that the history table does not record, in version order.
 * Checks every applied file's checksum first; takes the advisory lock only when something
 * is pending, and re-reads the history under it. conn stays open; errors are logged.
 */
enum status mig_apply(const struct config *cfg, PGconn *conn, const struct mig_list *list);
/*
 * Prints one line per migration to stdout (or one JSON document): applied, changed
 * (checksum differs), pending, out-of-order, partial (a no-transaction file stopped
 * midway) or missing (applied, no file). conn is NULL when the database does not exist
 * yet. With check, returns ST_PENDING unless every migration is applied and unchanged.
 */
enum status mig_status(const struct config *cfg, PGconn *conn, const struct mig_list *list,
		       bool json, bool check);

/*
 * Prints what mig_apply would do, in order: each pending file with its transaction mode
 * and statement count, after the same checks (edited files, order). Changes nothing.
 */
enum status mig_plan(const struct config *cfg, PGconn *conn, const struct mig_list *list);

/*
 * pgboot lint: lints the named files (nfiles of them), or else list's pending files (conn
 * NULL when there is no database: every file), in order, as one set under migrate.lint,
 * and prints the findings to stdout (json: one document). Returns ST_FINDINGS when one is
 * an error, ST_MIGRATION when a file cannot be read or split (logged). Changes nothing.
 */
enum status mig_lint(const struct config *cfg, PGconn *conn, const struct mig_list *list,
		     char *const *files, int nfiles, bool json);

/*
 * Rolls back the newest applied migrations, newest first: steps of them, or all above
 * version to (when to is not NULL; "0": all of them). Every one needs its file, unchanged, with a down part; this
 * is checked for all before any runs. Each down part runs in a transaction with the
 * removal of its history row.
 */
enum status mig_rollback(const struct config *cfg, PGconn *conn, const struct mig_list *list,
			 int64_t steps, const char *to);
/* Records every file up to version (any form mig_version_canon accepts) as applied without
 * running it, to adopt a database that already has that schema. */
enum status mig_baseline(const struct config *cfg, PGconn *conn, const struct mig_list *list,
			 const char *version);
/* Re-records the checksums of applied files that were edited since (logged loudly). */
enum status mig_repair(const struct config *cfg, PGconn *conn, const struct mig_list *list);

#endif
