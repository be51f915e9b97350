/*
 * apply: running one migration file. By default every statement runs in one transaction
 * together with the history row. A file whose first line is "-- pgboot:no-transaction"
 * runs statement by statement outside a transaction, with each completed statement
 * recorded, so a failed or killed run resumes where it stopped.
 */
#ifndef PGBOOT_APPLY_H
#define PGBOOT_APPLY_H

#include <libpq-fe.h>

#include "migfile.h"
#include "status.h"

struct mig_tables {
	char *schema;   /* quoted */
	char *history;  /* "schema"."table" */
	char *progress; /* "schema"."table_progress": statements of partly applied files */
};

/*
 * Applies m; label is the "[3/12]" of the progress line. The caller holds the migration
 * lock. Errors are logged with the file's line and column.
 */
enum status apply_file(PGconn *conn, const struct mig_tables *t, const struct migration *m,
		       const char *label);

#endif
