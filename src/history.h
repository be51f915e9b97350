/*
 * history: pgboot's own history table (one row per applied migration) and its progress
 * table (the statements done of a no-transaction file that stopped midway). This is the
 * only module that holds SQL on them; other tools' history tables go beside it.
 */
#ifndef PGBOOT_HISTORY_H
#define PGBOOT_HISTORY_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "migfile.h"
#include "status.h"

struct history_row {
	char *version; /* canonical (mig_version_canon), or a repeatable's key (mig_history_key) */
	char *name;
	char *checksum;
	char *applied_at;
	char *duration_ms;
	bool stale; /* a repeatable file's row whose checksum no longer matches (history_check) */
	bool listed; /* a file of the list has its version (history_check) */
};

/*
 * pgboot's history as read, sorted by mig_version_cmp, and where its tables are. Its
 * version column is text; a table made by an earlier pgboot holds bigint, which keeps
 * working for whole-number versions (read as text, written as text parameters).
 */
struct history {
	char *schema_name;  /* migrate.table's schema, unquoted */
	char *schema;       /* quoted */
	char *table;        /* "schema"."table" */
	char *progress;     /* "schema"."table_progress" */
	struct history_row *rows;
	size_t n;
	bool table_missing; /* set by history_read: no table (or schema) yet */
	bool version_bigint; /* set by history_read: the version column is bigint (older pgboot) */
};

/* Names the tables of migrate.table, quoted for conn; reads nothing. history_release frees. */
void history_init(struct history *h, PGconn *conn, const struct config *cfg);
void history_release(struct history *h);

/* Reads every row (replacing those read before). A missing table is not an error. */
enum status history_read(struct history *h, PGconn *conn);
/* The row of version (a history key: mig_history_key), or NULL. */
const struct history_row *history_find(const struct history *h, const char *version);
/*
 * m's row when m counts as applied: it has one and, for a repeatable file, its checksum
 * matched when history_check last ran (a changed repeatable file is pending again).
 */
const struct history_row *history_applied(const struct history *h, const struct migration *m);
/* The newest row of a versioned migration (not a repeatable), or NULL. */
const struct history_row *history_newest(const struct history *h);
/*
 * Whether m can be recorded in the table as read: always, unless its version column is
 * bigint and m's key is not a whole number that fits. Logs why not (naming the file).
 */
bool history_fits(const struct history *h, const struct migration *m);
/*
 * Creates the history table, and its schema when missing. The caller serialises this
 * (the migration lock). The schema is looked up first: CREATE SCHEMA IF NOT EXISTS needs
 * the CREATE privilege on the database, which production roles often lack.
 */
enum status history_create(const struct history *h, PGconn *conn);
/*
 * Compares the files with the rows read: an applied file whose checksum changed, or a
 * pending one older than the newest applied one (unless migrate.out_of_order = allow),
 * stops everything (logged); a repeatable file whose checksum changed is pending again
 * (its row marked stale). Counts what is pending; with warn, warns about rows without a
 * file (once per run: the check is made again under the lock).
 */
enum status history_check(struct history *h, const struct config *cfg,
			  const struct mig_list *list, size_t *pending, bool warn);
/*
 * Hashes m's file into sum and compares it with row a: 1 when it matches, 0 when the
 * file was edited since, -1 when it cannot be read (logged).
 */
int history_matches(const struct history_row *a, const struct migration *m, char sum[65]);
/*
 * Whether version has a row now (read inside the caller's transaction); with checksum
 * (a repeatable file's), only a row of that checksum counts.
 */
enum status history_has(const struct history *h, PGconn *conn, const char *version,
			const char *checksum, bool *found);

/*
 * Adds m's row: applied now with checksum, in duration_ms, by session_user@this host; a
 * repeatable file's row is replaced.
 */
enum status history_record(const struct history *h, PGconn *conn, const struct migration *m,
			   const char *checksum, int64_t duration_ms);
/*
 * history_record's INSERT and its parameters, for a caller that sends it itself (a
 * pipeline); duration_ms < 0 records the server's time since the transaction began.
 * history_insert_release frees it.
 */
struct history_insert {
	char *sql;
	char duration[24], host[256];
	const char *params[5];
};
void history_insert_init(struct history_insert *ins, const struct history *h,
			 const struct migration *m, const char *checksum, int64_t duration_ms);
void history_insert_release(struct history_insert *ins);
/* A query, with the version as $1, that fails (division by zero) when the version has a row:
 * a pipeline's guard. The caller frees it. */
char *history_absent_guard(const struct history *h);
/* Removes version's row (a rollback). */
enum status history_remove(const struct history *h, PGconn *conn, const char *version);
/* Adds m's row without running it (baseline), with the file's checksum. */
enum status history_baseline(const struct history *h, PGconn *conn, const struct migration *m);
/*
 * Adds m's row as another tool applied it (adopt.c): with checksum, at applied_at (text,
 * NULL: now), applied_by "<tool> (adopted by <session_user>)".
 */
enum status history_adopt(const struct history *h, PGconn *conn, const struct migration *m,
			  const char *checksum, const char *applied_at, const char *tool);
/* Re-records the checksum of m, an applied file edited since (repair), with a warning. */
enum status history_repair(const struct history *h, PGconn *conn, const struct migration *m);

/* The statements a stopped no-transaction file completed: their checksums, in order. */
struct progress {
	char (*sums)[65];
	size_t n;
};
void progress_release(struct progress *pr);
/* Creates the progress table when missing, then reads version's statements done. */
enum status history_progress_read(const struct history *h, PGconn *conn, const char *version,
				  struct progress *pr);
/* Records statement index (0-based) of version as done, with its checksum. */
enum status history_progress_add(const struct history *h, PGconn *conn, const char *version,
				 size_t index, const char *sum);
/* Forgets version's progress: its history row replaces it, in the caller's transaction. */
enum status history_progress_clear(const struct history *h, PGconn *conn, const char *version);

/* The statements done of every partly applied file, for status and plan. */
struct progress_counts {
	char **versions;
	long *done;
	size_t n;
};
/* Reads them; no progress table means nothing partial (not an error). */
void history_progress_counts(const struct history *h, PGconn *conn, struct progress_counts *out);
/* The statements done of version, or 0. */
long progress_count(const struct progress_counts *pc, const char *version);
void progress_counts_release(struct progress_counts *pc);

#endif
